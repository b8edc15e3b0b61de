//! Tree ensembles compiled to flat node arrays for fast traversal.
//!
//! Every numeric split is normalised at compile time to `x < t` in the feature
//! precision, with a per-node flag for where NaN goes:
//! * `x <= t` becomes `x < next_up(t)`;
//! * float32 features against a float64 threshold become a float32 threshold rounded
//!   in the direction that keeps the comparison exact;
//! * LightGBM's "NaN is 0.0" becomes a fixed NaN direction (`0 < t`).
//!
//! Nodes that need more (categorical sets, LightGBM's zero-as-missing, `<= +inf`) are
//! flagged SPECIAL and decided by [`Special::go_left`] from the IR's own semantics.

use ferry_ir::{Aggregation, Cmp, Direction, Missing, Node, Test, TreeEnsemble};

use crate::float::Float;

const LEAF: u32 = 1 << 31;
const NAN_LEFT: u32 = 1 << 31;
const SPECIAL: u32 = 1 << 30;
const INDEX_MASK: u32 = SPECIAL - 1;

/// Rows evaluated together against one tree, so that tree stays in cache.
const BLOCK: usize = 64;

/// An internal node. `feature` holds the feature index (or, for SPECIAL nodes, the index
/// into `specials`) and the flags; `left`/`right` are node indices or `LEAF | leaf index`.
#[derive(Clone, Copy)]
#[repr(C)]
struct FlatNode<T> {
    threshold: T,
    feature: u32,
    left: u32,
    right: u32,
}

struct FlatTree {
    /// Root node index, or `LEAF | leaf index` for a single-leaf tree.
    root: u32,
    output: usize,
}

struct Special {
    feature: usize,
    test: Test,
    missing: Missing,
}

impl Special {
    fn go_left<T: Float>(&self, row: &[T]) -> bool {
        let mut x = row[self.feature].to_f64();
        if x.is_nan() {
            match self.missing {
                Missing::To(d) | Missing::ZeroTo(d) => return d == Direction::Left,
                Missing::AsZero => x = 0.0,
            }
        }
        if let Missing::ZeroTo(d) = self.missing {
            if (-ferry_ir::LIGHTGBM_ZERO_THRESHOLD..=ferry_ir::LIGHTGBM_ZERO_THRESHOLD).contains(&x)
            {
                return d == Direction::Left;
            }
        }
        match &self.test {
            // The row holds x already rounded to the feature precision; the IR compares
            // that value with the float64 threshold.
            Test::Numeric { cmp, threshold } => match cmp {
                Cmp::Lt => x < *threshold,
                Cmp::Le => x <= *threshold,
            },
            Test::Categorical { categories, listed } => {
                let code = x.trunc();
                let in_set = code >= 0.0
                    && code < f64::from(u32::MAX)
                    && categories.binary_search(&(code as u32)).is_ok();
                (in_set && *listed == Direction::Left) || (!in_set && *listed == Direction::Right)
            }
        }
    }
}

/// A compiled ensemble: features in precision `T`, scores in precision `S`.
pub(crate) struct Compiled<T: Float, S: Float> {
    nodes: Vec<FlatNode<T>>,
    leaves: Vec<S>,
    trees: Vec<FlatTree>,
    specials: Vec<Special>,
    n_outputs: usize,
    base: Vec<S>,
    /// `Aggregation::Average`: raw scores start at zero (the base is added after the
    /// average, see [`Averaging`]).
    divisors: Option<Vec<S>>,
}

/// Averaged ensembles (random forests): the raw score is the plain sum of the trees, as
/// LightGBM reports it with `raw_score=True`; the transform sees `sum / n_trees + base`.
pub(crate) struct Averaging {
    pub(crate) divisors: Vec<f64>,
    pub(crate) base: Vec<f64>,
}

/// Rounds a float64 threshold to the feature precision so that `x < result` equals the
/// source comparison `x <cmp> threshold` for every non-NaN `x` in that precision.
/// `None` when no such threshold exists (`x <= +inf`).
fn normalise<T: Float>(cmp: Cmp, threshold: f64) -> Option<T> {
    let t = T::from_f64(threshold);
    match cmp {
        // smallest T >= threshold
        Cmp::Lt => Some(if t.to_f64() < threshold {
            t.next_up()
        } else {
            t
        }),
        // largest T <= threshold, then its successor
        Cmp::Le => {
            if threshold == f64::INFINITY {
                return None;
            }
            let floor = if t.to_f64() > threshold {
                t.next_down()
            } else {
                t
            };
            Some(floor.next_up())
        }
    }
}

impl<T: Float, S: Float> Compiled<T, S> {
    pub(crate) fn new(ensemble: &TreeEnsemble) -> Compiled<T, S> {
        let mut nodes = Vec::new();
        let mut leaves = Vec::new();
        let mut specials = Vec::new();
        let mut trees = Vec::with_capacity(ensemble.trees.len());
        let mut counts = vec![0usize; ensemble.n_outputs];
        for tree in &ensemble.trees {
            counts[tree.output] += 1;
            // Map IR node ids to flat references in depth-first order, so that a row's
            // path through a tree touches nearby memory.
            let mut ids = vec![0u32; tree.nodes.len()];
            let mut order = vec![0usize];
            let mut visit = Vec::with_capacity(tree.nodes.len());
            while let Some(at) = order.pop() {
                visit.push(at);
                if let Node::Split(s) = &tree.nodes[at] {
                    order.push(s.right as usize);
                    order.push(s.left as usize);
                }
            }
            for &at in &visit {
                ids[at] = match &tree.nodes[at] {
                    Node::Leaf { value } => {
                        // DART weights scale each leaf in the score precision.
                        let v = S::from_f64(*value);
                        let v = if tree.weight == 1.0 {
                            v
                        } else {
                            S::from_f64(tree.weight) * v
                        };
                        leaves.push(v);
                        LEAF | (leaves.len() as u32 - 1)
                    }
                    Node::Split(_) => {
                        nodes.push(FlatNode {
                            threshold: T::from_f64(0.0),
                            feature: 0,
                            left: 0,
                            right: 0,
                        });
                        nodes.len() as u32 - 1
                    }
                };
            }
            for &at in &visit {
                let Node::Split(split) = &tree.nodes[at] else {
                    continue;
                };
                let flat = &mut nodes[ids[at] as usize];
                flat.left = ids[split.left as usize];
                flat.right = ids[split.right as usize];
                let simple = match (&split.test, split.missing) {
                    (Test::Numeric { cmp, threshold }, Missing::To(d)) => {
                        normalise::<T>(*cmp, *threshold).map(|t| (t, d == Direction::Left))
                    }
                    (Test::Numeric { cmp, threshold }, Missing::AsZero) => {
                        normalise::<T>(*cmp, *threshold).map(|t| (t, T::from_f64(0.0) < t))
                    }
                    _ => None,
                };
                match simple {
                    Some((t, nan_left)) => {
                        flat.threshold = t;
                        flat.feature = split.feature as u32 | if nan_left { NAN_LEFT } else { 0 };
                    }
                    None => {
                        let mut test = split.test.clone();
                        if let Test::Categorical { categories, .. } = &mut test {
                            categories.sort_unstable();
                        }
                        specials.push(Special {
                            feature: split.feature,
                            test,
                            missing: split.missing,
                        });
                        flat.feature = SPECIAL | (specials.len() as u32 - 1);
                    }
                }
            }
            trees.push(FlatTree {
                root: ids[0],
                output: tree.output,
            });
        }
        Compiled {
            nodes,
            leaves,
            trees,
            specials,
            n_outputs: ensemble.n_outputs,
            base: ensemble
                .base_score
                .iter()
                .map(|b| S::from_f64(*b))
                .collect(),
            divisors: match ensemble.aggregation {
                Aggregation::Sum => None,
                Aggregation::Average => Some(
                    counts
                        .iter()
                        .map(|c| S::from_f64((*c).max(1) as f64))
                        .collect(),
                ),
            },
        }
    }

    #[inline]
    fn leaf(&self, tree: &FlatTree, row: &[T]) -> S {
        let mut at = tree.root;
        while at & LEAF == 0 {
            let node = &self.nodes[at as usize];
            let f = node.feature;
            let left = if f & SPECIAL == 0 {
                let x = row[(f & INDEX_MASK) as usize];
                x < node.threshold || (x.is_nan() && f & NAN_LEFT != 0)
            } else {
                self.specials[(f & INDEX_MASK) as usize].go_left(row)
            };
            at = if left { node.left } else { node.right };
        }
        self.leaves[(at & !LEAF) as usize]
    }

    /// For an averaged ensemble, how raw scores become the transform's input.
    pub(crate) fn averaging(&self) -> Option<Averaging> {
        self.divisors.as_ref().map(|d| Averaging {
            divisors: d.iter().map(|x| x.to_f64()).collect(),
            base: self.base.iter().map(|x| x.to_f64()).collect(),
        })
    }

    /// Raw scores of `rows` (row-major, `n_features` per row) into `out`
    /// (row-major, `n_outputs` per row).
    pub(crate) fn raw_scores(&self, rows: &[T], n_features: usize, out: &mut [S]) {
        let n = self.n_outputs;
        for (block_rows, block_out) in rows
            .chunks(BLOCK * n_features)
            .zip(out.chunks_mut(BLOCK * n))
        {
            let n_rows = block_out.len() / n;
            for scores in block_out.chunks_mut(n) {
                if self.divisors.is_some() {
                    scores.fill(S::from_f64(0.0));
                } else {
                    scores.copy_from_slice(&self.base);
                }
            }
            for tree in &self.trees {
                for r in 0..n_rows {
                    let row = &block_rows[r * n_features..(r + 1) * n_features];
                    let value = self.leaf(tree, row);
                    let slot = &mut block_out[r * n + tree.output];
                    *slot = *slot + value;
                }
            }
        }
    }
}
