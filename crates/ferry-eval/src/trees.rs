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

// The innermost traversal loop indexes without bounds checks; each use states why the
// index is in range.
#![allow(unsafe_code)]

use ferry_ir::{Aggregation, Cmp, Direction, LinearLeaf, Missing, Node, Test, TreeEnsemble};

use crate::float::Float;

const LEAF: u32 = 1 << 31;
/// In a leaf reference: the index is into `Compiled::linear`, not `Compiled::leaves`.
const LINEAR_LEAF: u32 = 1 << 30;
const NAN_LEFT: u32 = 1 << 31;
const SPECIAL: u32 = 1 << 30;
const INDEX_MASK: u32 = SPECIAL - 1;

/// Rows evaluated together against one tree, so that tree stays in cache.
pub(crate) const BLOCK: usize = 64;

/// What a split tests: go left when `row[feature] < threshold`. `feature` holds the
/// feature index (or, for SPECIAL nodes, the index into `specials`) and the flags.
#[derive(Clone, Copy)]
#[repr(C)]
struct Decision<T> {
    threshold: T,
    feature: u32,
}

/// An internal node of the pointer layout; `left`/`right` are node indices or
/// `LEAF | leaf index`.
#[derive(Clone, Copy)]
#[repr(C)]
struct FlatNode<T> {
    decision: Decision<T>,
    left: u32,
    right: u32,
}

struct FlatTree {
    /// Root node index, or `LEAF | leaf index` for a single-leaf tree.
    root: u32,
    output: usize,
    /// The top levels of the tree as a complete binary tree.
    perfect: Option<Perfect>,
}

/// The complete top of a tree has at most this many levels (4095 nodes, 32 KiB in
/// float32).
const MAX_PERFECT_DEPTH: u32 = 12;

/// Rows traversed together through a complete tree, to overlap their memory latency.
const LANES: usize = 16;

/// The top `depth` levels of a tree as a complete binary tree: node `i` has children
/// `2i + 1` (left) and `2i + 2` (right). A leaf above the last level is pushed down
/// through padding nodes that always go right (threshold NaN), so every row takes
/// exactly `depth` steps without data-dependent branches. Below them, `refs` holds for
/// each position the leaf reached or, for paths longer than `depth`, the node where the
/// ordinary pointer walk continues. Balanced trees (XGBoost's depth-wise growth) fit
/// whole; lopsided ones (LightGBM's leaf-wise growth) keep only their dense top here.
struct Perfect {
    depth: u32,
    /// Into `Compiled::perfect_nodes`, `2^depth - 1` nodes.
    nodes: usize,
    /// Into `Compiled::perfect_refs`, `2^depth` references (node or `LEAF | leaf`).
    refs: usize,
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

/// A linear leaf with its tree's weight.
struct Linear {
    leaf: LinearLeaf,
    weight: f64,
}

impl Linear {
    /// The IR's arithmetic: float64 products summed left to right, the missing
    /// fallback, then the tree weight in the score precision.
    fn value<T: Float, S: Float>(&self, row: &[T]) -> S {
        let leaf = &self.leaf;
        let mut sum = leaf.constant;
        for (f, c) in leaf.features.iter().zip(&leaf.coefficients) {
            let x = row[*f].to_f64();
            if x.is_nan() {
                sum = leaf.value;
                break;
            }
            sum += c * x;
        }
        if self.weight == 1.0 {
            S::from_f64(sum)
        } else {
            S::from_f64(self.weight) * S::from_f64(sum)
        }
    }
}

/// A compiled ensemble: features in precision `T`, scores in precision `S`.
pub(crate) struct Compiled<T: Float, S: Float> {
    nodes: Vec<FlatNode<T>>,
    leaves: Vec<S>,
    /// Linear leaves (LightGBM linear trees), computed from the row at the leaf.
    linear: Vec<Linear>,
    trees: Vec<FlatTree>,
    perfect_nodes: Vec<Decision<T>>,
    perfect_refs: Vec<u32>,
    /// One more than the largest feature index a simple node reads.
    row_len: usize,
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
        let mut linear = Vec::new();
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
                    Node::LinearLeaf(leaf) => {
                        linear.push(Linear {
                            leaf: leaf.clone(),
                            weight: tree.weight,
                        });
                        LEAF | LINEAR_LEAF | (linear.len() as u32 - 1)
                    }
                    Node::Split(_) => {
                        nodes.push(FlatNode {
                            decision: Decision {
                                threshold: T::from_f64(0.0),
                                feature: 0,
                            },
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
                        flat.decision = Decision {
                            threshold: t,
                            feature: split.feature as u32 | if nan_left { NAN_LEFT } else { 0 },
                        };
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
                        flat.decision.feature = SPECIAL | (specials.len() as u32 - 1);
                    }
                }
            }
            trees.push(FlatTree {
                root: ids[0],
                output: tree.output,
                perfect: None,
            });
        }
        let mut compiled = Compiled {
            nodes,
            leaves,
            linear,
            trees,
            perfect_nodes: Vec::new(),
            perfect_refs: Vec::new(),
            row_len: ensemble
                .trees
                .iter()
                .flat_map(|t| &t.nodes)
                .flat_map(Node::features)
                .map(|f| f + 1)
                .max()
                .unwrap_or(0),
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
        };
        compiled.lay_out_perfect();
        compiled
    }

    fn depth_of(&self, at: u32) -> u32 {
        if at & LEAF != 0 {
            return 0;
        }
        let node = &self.nodes[at as usize];
        1 + self.depth_of(node.left).max(self.depth_of(node.right))
    }

    fn leaves_of(&self, at: u32) -> u32 {
        if at & LEAF != 0 {
            return 1;
        }
        let node = &self.nodes[at as usize];
        self.leaves_of(node.left) + self.leaves_of(node.right)
    }

    /// Lays out the complete top of every tree with at least one split. Its depth is the
    /// tree's depth, capped at one level more than a balanced tree with the same number
    /// of leaves needs: deeper padding would cost every row more steps than the few long
    /// paths save.
    fn lay_out_perfect(&mut self) {
        for t in 0..self.trees.len() {
            let root = self.trees[t].root;
            let depth = self.depth_of(root);
            if depth == 0 {
                continue;
            }
            let balanced = self.leaves_of(root).next_power_of_two().trailing_zeros();
            let depth = depth.min(balanced + 1).min(MAX_PERFECT_DEPTH);
            let padding = Decision {
                threshold: T::from_f64(f64::NAN),
                feature: 0,
            };
            let nodes = self.perfect_nodes.len();
            let refs = self.perfect_refs.len();
            self.perfect_nodes
                .extend(std::iter::repeat_n(padding, (1 << depth) - 1));
            // Positions no row can reach (left of a padding node) keep a valid leaf.
            self.perfect_refs
                .extend(std::iter::repeat_n(LEAF, 1 << depth));
            self.fill(root, 0, depth, nodes, refs);
            self.trees[t].perfect = Some(Perfect { depth, nodes, refs });
        }
    }

    fn fill(&mut self, at: u32, position: usize, depth: u32, nodes: usize, refs: usize) {
        let internal = (1usize << depth) - 1;
        if position >= internal {
            self.perfect_refs[refs + position - internal] = at;
            return;
        }
        if at & LEAF != 0 {
            // The padding node already in place goes right: follow the leaf down.
            self.fill(at, 2 * position + 2, depth, nodes, refs);
            return;
        }
        let node = self.nodes[at as usize];
        self.perfect_nodes[nodes + position] = node.decision;
        self.fill(node.left, 2 * position + 1, depth, nodes, refs);
        self.fill(node.right, 2 * position + 2, depth, nodes, refs);
    }

    /// Finishes a walk from `at` (a node or `LEAF | leaf`) with the pointer layout.
    ///
    /// # Safety
    /// As [`Self::goes_left`].
    #[inline(always)]
    unsafe fn walk<const SPECIALS: bool>(&self, mut at: u32, row: &[T]) -> S {
        while at & LEAF == 0 {
            let node = &self.nodes[at as usize];
            // SAFETY: forwarded from the caller.
            let left = unsafe { self.goes_left::<SPECIALS, true>(node.decision, row) };
            at = if left { node.left } else { node.right };
        }
        self.leaf(at, row)
    }

    /// The value of leaf reference `at` for `row` (a whole row).
    #[inline(always)]
    fn leaf(&self, at: u32, row: &[T]) -> S {
        let index = at & !(LEAF | LINEAR_LEAF);
        // Constant leaves are the common case: one predictable test for linear ones.
        if at & LINEAR_LEAF != 0 {
            self.linear[index as usize].value(row)
        } else {
            self.leaves[index as usize]
        }
    }

    /// The one decision procedure of compiled splits. `SPECIALS` is false when the
    /// ensemble has no special nodes and `NANS` when the row holds no NaN, each removing
    /// work from the innermost loop.
    ///
    /// # Safety
    /// `row` must start at a row and hold at least `self.row_len` values, so that every
    /// feature index of the compiled nodes is in bounds.
    #[inline(always)]
    unsafe fn goes_left<const SPECIALS: bool, const NANS: bool>(
        &self,
        decision: Decision<T>,
        row: &[T],
    ) -> bool {
        if SPECIALS && decision.feature & SPECIAL != 0 {
            return self.specials[(decision.feature & INDEX_MASK) as usize].go_left(row);
        }
        let index = (decision.feature & INDEX_MASK) as usize;
        debug_assert!(index < row.len());
        // SAFETY: the caller guarantees `row` covers every feature index.
        let x = unsafe { *row.get_unchecked(index) };
        if NANS {
            (x < decision.threshold) | (x.is_nan() & (decision.feature & NAN_LEFT != 0))
        } else {
            x < decision.threshold
        }
    }

    /// Adds the leaf of every row of the block to its output, for a complete tree.
    ///
    /// # Safety
    /// `n_features >= self.row_len` and `rows` holds whole rows of `n_features` values.
    #[inline]
    unsafe fn add_perfect<const SPECIALS: bool, const NANS: bool>(
        &self,
        (perfect, output, rows, n_features, out): (&Perfect, usize, &[T], usize, &mut [S]),
    ) {
        let n = self.n_outputs;
        let internal = (1usize << perfect.depth) - 1;
        let nodes = &self.perfect_nodes[perfect.nodes..perfect.nodes + internal];
        let refs = &self.perfect_refs[perfect.refs..perfect.refs + internal + 1];
        let n_rows = out.len() / n;
        let mut r = 0;
        while r + LANES <= n_rows {
            let block = &rows[r * n_features..(r + LANES) * n_features];
            let mut at = [0usize; LANES];
            for _ in 0..perfect.depth {
                for (lane, position) in at.iter_mut().enumerate() {
                    // SAFETY: after k < depth steps from the root, `position` is below
                    // 2^(k+1) - 1 <= internal = nodes.len(); `block` holds LANES rows
                    // of `n_features >= row_len` values.
                    let (node, row) = unsafe {
                        (
                            *nodes.get_unchecked(*position),
                            block.get_unchecked(lane * n_features..),
                        )
                    };
                    // SAFETY: `row` starts at a row of `n_features >= row_len` values.
                    let left = unsafe { self.goes_left::<SPECIALS, NANS>(node, row) };
                    *position = 2 * *position + 2 - usize::from(left);
                }
            }
            for (lane, position) in at.iter().enumerate() {
                let row = &block[lane * n_features..(lane + 1) * n_features];
                // SAFETY: a whole row.
                let value = unsafe { self.walk::<SPECIALS>(refs[position - internal], row) };
                let slot = &mut out[(r + lane) * n + output];
                *slot = *slot + value;
            }
            r += LANES;
        }
        for r in r..n_rows {
            let row = &rows[r * n_features..(r + 1) * n_features];
            let mut position = 0;
            for _ in 0..perfect.depth {
                // SAFETY: a whole row.
                let left = unsafe { self.goes_left::<SPECIALS, NANS>(nodes[position], row) };
                position = 2 * position + 2 - usize::from(left);
            }
            // SAFETY: a whole row.
            let value = unsafe { self.walk::<SPECIALS>(refs[position - internal], row) };
            let slot = &mut out[r * n + output];
            *slot = *slot + value;
        }
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
        // The traversal indexes rows without bounds checks; this makes it sound.
        assert!(n_features >= self.row_len && rows.len() == out.len() / n * n_features);
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
            // Most blocks hold no missing value: their splits need no NaN test.
            let nans = block_rows.iter().any(|x| x.is_nan());
            let specials = !self.specials.is_empty();
            for tree in &self.trees {
                if let Some(perfect) = &tree.perfect {
                    let args = (
                        perfect,
                        tree.output,
                        block_rows,
                        n_features,
                        &mut *block_out,
                    );
                    // SAFETY: `n_features >= row_len` was checked above, and the block
                    // holds whole rows.
                    unsafe {
                        match (specials, nans) {
                            (false, false) => self.add_perfect::<false, false>(args),
                            (false, true) => self.add_perfect::<false, true>(args),
                            (true, false) => self.add_perfect::<true, false>(args),
                            (true, true) => self.add_perfect::<true, true>(args),
                        }
                    }
                    continue;
                }
                for r in 0..n_rows {
                    let row = &block_rows[r * n_features..(r + 1) * n_features];
                    // SAFETY: a whole row of `n_features >= row_len` values.
                    let value = unsafe { self.walk::<true>(tree.root, row) };
                    let slot = &mut block_out[r * n + tree.output];
                    *slot = *slot + value;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `x < normalise(cmp, t)` in float32 must equal the IR comparison of the float32
    /// value with the float64 threshold, for every float32 x.
    fn agrees_f32(cmp: Cmp, t: f64, x: f32) -> bool {
        let source = match cmp {
            Cmp::Lt => f64::from(x) < t,
            Cmp::Le => f64::from(x) <= t,
        };
        match normalise::<f32>(cmp, t) {
            Some(n) => (x < n) == source,
            None => source, // only `<= +inf`, which holds for every non-NaN x
        }
    }

    proptest! {
        #[test]
        fn float32_thresholds_keep_the_comparison(t in any::<f64>(), x in any::<f32>()) {
            prop_assume!(!t.is_nan() && !x.is_nan());
            prop_assert!(agrees_f32(Cmp::Lt, t, x));
            prop_assert!(agrees_f32(Cmp::Le, t, x));
        }

        #[test]
        fn neighbours_of_the_threshold(t in any::<f32>()) {
            prop_assume!(t.is_finite());
            let t64 = f64::from(t);
            for x in [t, t.next_up(), t.next_down()] {
                for threshold in [t64, t64.next_up(), t64.next_down()] {
                    prop_assert!(agrees_f32(Cmp::Lt, threshold, x));
                    prop_assert!(agrees_f32(Cmp::Le, threshold, x));
                }
            }
        }

        #[test]
        fn float64_le_becomes_lt(t in any::<f64>(), x in any::<f64>()) {
            prop_assume!(!t.is_nan() && !x.is_nan() && t != f64::INFINITY);
            let n = normalise::<f64>(Cmp::Le, t).unwrap();
            prop_assert_eq!(x < n, x <= t);
        }
    }
}

/// The compiled layouts (complete top, pointer tail, lanes, remainders) against a direct
/// reading of the IR's semantics on random, lopsided trees and rows with NaN.
#[cfg(test)]
mod layout_tests {
    use super::*;
    use ferry_ir::{Split, Tree};
    use proptest::prelude::*;

    const FEATURES: usize = 3;

    /// A random tree: each node splits with a probability that falls with depth, so
    /// shapes range from stumps to long chains.
    fn tree(seed: &[u32], depth_limit: u32) -> Vec<Node> {
        fn grow(
            nodes: &mut Vec<Node>,
            seed: &[u32],
            next: &mut usize,
            depth: u32,
            limit: u32,
        ) -> u32 {
            let mut draw = || {
                *next += 1;
                seed[*next % seed.len()]
            };
            let id = nodes.len() as u32;
            if depth >= limit || draw() % 4 == 0 {
                let value = f64::from(draw() % 1000) / 8.0 - 60.0;
                if draw() % 3 == 0 {
                    nodes.push(Node::LinearLeaf(LinearLeaf {
                        value,
                        constant: value / 3.0,
                        features: vec![draw() as usize % FEATURES, draw() as usize % FEATURES],
                        coefficients: vec![0.5, -1.25],
                    }));
                } else {
                    nodes.push(Node::Leaf { value });
                }
                return id;
            }
            let feature = draw() as usize % FEATURES;
            let kind = draw() % 6;
            let test = if kind == 0 {
                Test::Categorical {
                    categories: vec![draw() % 4, draw() % 4],
                    listed: if draw() % 2 == 0 {
                        Direction::Left
                    } else {
                        Direction::Right
                    },
                }
            } else {
                Test::Numeric {
                    cmp: if kind % 2 == 0 { Cmp::Lt } else { Cmp::Le },
                    threshold: f64::from(draw() % 9) / 2.0 - 2.0,
                }
            };
            let missing = match draw() % 4 {
                0 => Missing::AsZero,
                1 => Missing::ZeroTo(Direction::Left),
                2 => Missing::To(Direction::Left),
                _ => Missing::To(Direction::Right),
            };
            nodes.push(Node::Leaf { value: 0.0 });
            let left = grow(nodes, seed, next, depth + 1, limit);
            let right = grow(nodes, seed, next, depth + 1, limit);
            nodes[id as usize] = Node::Split(Split {
                feature,
                test,
                missing,
                left,
                right,
            });
            id
        }
        let mut nodes = Vec::new();
        let mut next = 0;
        grow(&mut nodes, seed, &mut next, 0, depth_limit);
        nodes
    }

    /// The IR's decision, read literally.
    fn reference(nodes: &[Node], row: &[f64]) -> f64 {
        let mut at = 0usize;
        loop {
            match &nodes[at] {
                Node::Leaf { value } => return *value,
                Node::LinearLeaf(leaf) => {
                    let mut sum = leaf.constant;
                    for (f, c) in leaf.features.iter().zip(&leaf.coefficients) {
                        if row[*f].is_nan() {
                            return leaf.value;
                        }
                        sum += c * row[*f];
                    }
                    return sum;
                }
                Node::Split(s) => {
                    let mut x = row[s.feature];
                    let mut decided = None;
                    if x.is_nan() {
                        match s.missing {
                            Missing::To(d) | Missing::ZeroTo(d) => decided = Some(d),
                            Missing::AsZero => x = 0.0,
                        }
                    }
                    if decided.is_none() {
                        if let Missing::ZeroTo(d) = s.missing {
                            if x.abs() <= ferry_ir::LIGHTGBM_ZERO_THRESHOLD {
                                decided = Some(d);
                            }
                        }
                    }
                    let d = decided.unwrap_or_else(|| match &s.test {
                        Test::Numeric {
                            cmp: Cmp::Lt,
                            threshold,
                        } => {
                            if x < *threshold {
                                Direction::Left
                            } else {
                                Direction::Right
                            }
                        }
                        Test::Numeric {
                            cmp: Cmp::Le,
                            threshold,
                        } => {
                            if x <= *threshold {
                                Direction::Left
                            } else {
                                Direction::Right
                            }
                        }
                        Test::Categorical { categories, listed } => {
                            let c = x.trunc();
                            if c >= 0.0 && categories.contains(&(c as u32)) {
                                *listed
                            } else {
                                listed.flip()
                            }
                        }
                    });
                    at = match d {
                        Direction::Left => s.left,
                        Direction::Right => s.right,
                    } as usize;
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn compiled_trees_agree_with_the_ir(
            seeds in proptest::collection::vec(proptest::collection::vec(any::<u32>(), 64), 1..6),
            limit in 1u32..16,
            cells in proptest::collection::vec(0u8..12, FEATURES * 37),
        ) {
            let trees: Vec<Tree> = seeds
                .iter()
                .map(|seed| Tree { output: 0, weight: 1.0, nodes: tree(seed, limit), stats: None })
                .collect();
            let ensemble = TreeEnsemble {
                n_outputs: 1,
                base_score: vec![0.0],
                feature_precision: ferry_ir::Precision::F64,
                score_precision: ferry_ir::Precision::F64,
                aggregation: Aggregation::Sum,
                tiny_as_zero: None,
                trees: trees.clone(),
            };
            // Values on and around the thresholds, zero, tiny values and NaN.
            let palette = [f64::NAN, 0.0, -0.0, 1e-36, -2.0, -1.5, -0.5, 0.5, 1.0, 1.5, 2.0, 3.7];
            let rows: Vec<f64> = cells.iter().map(|c| palette[*c as usize]).collect();
            let compiled = Compiled::<f64, f64>::new(&ensemble);
            let n_rows = rows.len() / FEATURES;
            let mut out = vec![0.0; n_rows];
            compiled.raw_scores(&rows, FEATURES, &mut out);
            for (r, got) in out.iter().enumerate() {
                let row = &rows[r * FEATURES..(r + 1) * FEATURES];
                let want: f64 = trees.iter().map(|t| reference(&t.nodes, row)).fold(0.0, |a, b| a + b);
                prop_assert_eq!(*got, want, "row {}", r);
            }
        }
    }
}
