//! Tree ensembles → one CASE expression per tree.
//!
//! Every split becomes a routing rule that sends each row exactly where the source
//! library sends it, NULL included: missing values follow the IR's `Missing` rule,
//! float32 comparisons use float64 rounding boundaries ([`crate::boundary`]), categorical
//! names are compared as strings (an unseen name is missing, as in `ferry predict`).
//! A tree is a nested CASE (one comparison per level), or, where the dialect limits CASE
//! nesting below the tree's depth, CASEs over the paths several levels down ("hops").

use std::collections::HashSet;

use ferry_ir::{
    Cmp, Direction, Input, LinearLeaf, Missing, Node, Precision, Split, Test, Tree, TreeEnsemble,
    Unseen,
};

use crate::boundary::float32_boundary;
use crate::dialect::Math;
use crate::expr::{all_of, bin, Expr, Op};

/// Where a split sends a row, as rules for a non-NULL value tried in order.
struct Route {
    /// Where NULL goes (and, for named categories, an unseen name).
    null: Direction,
    rules: Vec<(Expr, Direction)>,
    /// Where a non-NULL value matching no rule goes.
    otherwise: Direction,
}

pub(crate) struct TreeLowering<'a> {
    pub(crate) ensemble: &'a TreeEnsemble,
    pub(crate) inputs: &'a [Input],
    /// Column expressions of the inputs, in input order.
    pub(crate) features: &'a [Expr],
    pub(crate) max_case_nesting: usize,
    /// The thresholds written as literals (by their bits), where not all are; the
    /// others are written as a value the engine computes per row ([`hoisted`]).
    pub(crate) hoisted: Option<HashSet<u64>>,
}

impl TreeLowering<'_> {
    /// The leaf value of `tree` for a row, in the score precision (with any DART weight).
    /// A tree deeper than the dialect nests CASE is written in hops
    /// ([`Expr::within_case_nesting`]): SQLite's parser nests CASE about 20 deep, and a
    /// scikit-learn forest with default settings reaches depth 34. (Written one WHEN per
    /// leaf below depth 12, its 100 trees took 591 s for 2,000 rows in SQLite; in hops,
    /// see docs/sql.md.)
    pub(crate) fn tree(&self, tree: &Tree) -> Expr {
        self.nested(tree, 0)
            .within_case_nesting(self.max_case_nesting.max(1))
    }

    fn leaf(&self, tree: &Tree, value: f64) -> Expr {
        let v = match self.ensemble.score_precision {
            Precision::F32 => {
                let v = value as f32;
                f64::from(if tree.weight == 1.0 {
                    v
                } else {
                    tree.weight as f32 * v
                })
            }
            Precision::F64 => {
                if tree.weight == 1.0 {
                    value
                } else {
                    tree.weight * value
                }
            }
        };
        if v.is_nan() {
            // A PMML tree's null prediction.
            Expr::Null
        } else {
            Expr::Float(v)
        }
    }

    /// A linear leaf: `CASE WHEN x1 IS NULL OR … THEN value ELSE c0 + c1 * x1 + … END`,
    /// the products and their sum in float64, left to right, as LightGBM computes them.
    fn linear_leaf(&self, tree: &Tree, leaf: &LinearLeaf) -> Expr {
        let mut missing = Vec::with_capacity(leaf.features.len());
        let mut sum = Expr::Float(leaf.constant);
        for (f, c) in leaf.features.iter().zip(&leaf.coefficients) {
            let x = self.features[*f].clone();
            missing.push(Expr::IsNull(Box::new(x.clone())));
            let x = crate::f32_if(self.ensemble.feature_precision, x);
            sum = crate::add(Precision::F64, sum, bin(Expr::Float(*c), Op::Mul, x));
        }
        let value = Expr::Case(
            vec![(Expr::Or(missing), Expr::Float(leaf.value))],
            Box::new(sum),
        );
        if tree.weight == 1.0 {
            return value;
        }
        let p = self.ensemble.score_precision;
        crate::f32_if(
            p,
            bin(
                Expr::Float(ferry_ir::round_to(p, tree.weight)),
                Op::Mul,
                crate::f32_if(p, value),
            ),
        )
    }

    /// The subtree at `at` as nested CASEs, one comparison per level.
    fn nested(&self, tree: &Tree, at: u32) -> Expr {
        let split = match &tree.nodes[at as usize] {
            Node::Leaf { value } => return self.leaf(tree, *value),
            Node::LinearLeaf(leaf) => return self.linear_leaf(tree, leaf),
            Node::Split(split) => split,
        };
        let child = |d: Direction| match d {
            Direction::Left => self.nested(tree, split.left),
            Direction::Right => self.nested(tree, split.right),
        };
        let route = self.route(split);
        let x = &self.features[split.feature];
        let case = |cond: Expr, then: Direction, otherwise: Direction| {
            Expr::Case(vec![(cond, child(then))], Box::new(child(otherwise)))
        };
        // Every child is written once: repeating one under several WHENs would make the
        // text grow exponentially with depth.
        match route.rules.as_slice() {
            [] if route.null == route.otherwise => child(route.otherwise),
            [] => case(
                Expr::IsNull(Box::new(x.clone())),
                route.null,
                route.otherwise,
            ),
            // NULL makes the rule unknown and so falls to ELSE.
            [(rule, d)] if route.null == route.otherwise => {
                if *d == route.otherwise {
                    child(*d)
                } else {
                    case(rule.clone(), *d, route.otherwise)
                }
            }
            // NULL goes the rule's way: test the opposite comparison instead.
            [(rule, d)] if route.null == *d && *d != route.otherwise && negate(rule).is_some() => {
                case(negate(rule).expect("checked"), route.otherwise, *d)
            }
            _ => case(
                goes(&route, x, Direction::Left),
                Direction::Left,
                Direction::Right,
            ),
        }
    }

    fn route(&self, split: &Split) -> Route {
        let x = self.features[split.feature].clone();
        let input = &self.inputs[split.feature];
        match (&split.test, &input.levels) {
            (Test::Categorical { categories, listed }, Some(levels)) => {
                named_categories(x, levels, categories, *listed, split.missing, input.unseen)
            }
            (Test::Categorical { categories, listed }, None) => {
                coded_categories(x, categories, *listed, split.missing)
            }
            (Test::Numeric { cmp, threshold }, _) => {
                let lowered = match self.ensemble.feature_precision {
                    Precision::F64 => Some((*cmp, *threshold)),
                    Precision::F32 => float32_boundary(*cmp, *threshold),
                };
                let zero_left = match cmp {
                    Cmp::Lt => 0.0 < *threshold,
                    Cmp::Le => 0.0 <= *threshold,
                };
                let mut rules = Vec::new();
                let null = match split.missing {
                    Missing::To(d) => d,
                    Missing::AsZero => side(zero_left),
                    Missing::ZeroTo(d) => {
                        rules.push((zero_band(&x), d));
                        d
                    }
                };
                match lowered {
                    // An infinite threshold (HistGradientBoosting's PMML writes `<= INF`):
                    // every value a table holds is below +inf and above -inf. `x <= x`
                    // is TRUE for those and NULL for NULL, as a rule must be.
                    Some((_, b)) if b == f64::INFINITY => {
                        rules.push((bin(x.clone(), Op::Le, x), Direction::Left));
                    }
                    Some((_, b)) if b == f64::NEG_INFINITY => {}
                    Some((cmp, b)) => {
                        let op = match cmp {
                            Cmp::Lt => Op::Lt,
                            Cmp::Le => Op::Le,
                        };
                        let hoisted = self.hoisted.as_ref();
                        let threshold = if hoisted.is_none_or(|h| h.contains(&threshold.to_bits()))
                        {
                            Expr::Float(b)
                        } else {
                            // The same value, but not a constant to the engine.
                            Expr::Math(Math::Coalesce, vec![Expr::Float(b), x.clone()])
                        };
                        rules.push((bin(x, op, threshold), Direction::Left));
                    }
                    None => {}
                }
                Route {
                    null,
                    rules,
                    otherwise: Direction::Right,
                }
            }
        }
    }
}

/// Splits above each node (the root's is 0). Children come after their parent in a
/// depth-first walk from the root.
fn depths(tree: &Tree) -> Vec<usize> {
    let mut depth = vec![0; tree.nodes.len()];
    let mut order = vec![0u32];
    while let Some(at) = order.pop() {
        if let Node::Split(s) = &tree.nodes[at as usize] {
            let below = depth[at as usize] + 1;
            depth[s.left as usize] = below;
            depth[s.right as usize] = below;
            order.extend([s.left, s.right]);
        }
    }
    depth
}

/// The `limit` distinct thresholds of the ensemble's numeric splits that the shallowest
/// splits test (those every row reaches), by their bits; `None` when all are within the
/// limit ([`crate::dialect::Dialect::hoisted_thresholds`]).
pub(crate) fn hoisted(ensemble: &TreeEnsemble, limit: Option<usize>) -> Option<HashSet<u64>> {
    let limit = limit?;
    let mut by_depth: Vec<(usize, u64)> = Vec::new();
    for tree in &ensemble.trees {
        for (node, depth) in tree.nodes.iter().zip(depths(tree)) {
            if let Node::Split(Split {
                test: Test::Numeric { threshold, .. },
                ..
            }) = node
            {
                by_depth.push((depth, threshold.to_bits()));
            }
        }
    }
    by_depth.sort_by_key(|&(depth, _)| depth);
    let mut hoisted = HashSet::with_capacity(limit);
    for (_, t) in by_depth {
        if !hoisted.contains(&t) {
            if hoisted.len() == limit {
                return Some(hoisted);
            }
            hoisted.insert(t);
        }
    }
    None
}

fn side(left: bool) -> Direction {
    if left {
        Direction::Left
    } else {
        Direction::Right
    }
}

/// `-z <= x <= z` for LightGBM's zero band (`kZeroThreshold`).
fn zero_band(x: &Expr) -> Expr {
    let z = ferry_ir::LIGHTGBM_ZERO_THRESHOLD;
    Expr::And(vec![
        bin(x.clone(), Op::Ge, Expr::Float(-z)),
        bin(x.clone(), Op::Le, Expr::Float(z)),
    ])
}

/// Categories given by name: each known name has one direction; NULL is missing, and
/// so is an unseen name unless the input reads it as a value of its own (then it goes
/// the unlisted way). One `IN` list of the names that do not go the unseen way.
fn named_categories(
    x: Expr,
    levels: &[String],
    categories: &[u32],
    listed: Direction,
    missing: Missing,
    unseen: Unseen,
) -> Route {
    let code_dir = |code: usize| match missing {
        Missing::ZeroTo(d) if code == 0 => d,
        _ => {
            if categories.contains(&(code as u32)) {
                listed
            } else {
                listed.flip()
            }
        }
    };
    let null = match missing {
        Missing::To(d) | Missing::ZeroTo(d) => d,
        Missing::AsZero => code_dir(0),
    };
    let other = match unseen {
        Unseen::Missing => null,
        Unseen::Other => listed.flip(),
    };
    let names: Vec<Expr> = levels
        .iter()
        .enumerate()
        .filter(|(code, _)| code_dir(*code) != other)
        .map(|(_, name)| Expr::Str(name.clone()))
        .collect();
    let rules = if names.is_empty() {
        Vec::new()
    } else {
        vec![(Expr::In(Box::new(x), names), other.flip())]
    };
    Route {
        null,
        rules,
        otherwise: other,
    }
}

/// Categories given as numeric codes: the code is the value truncated towards zero.
fn coded_categories(x: Expr, categories: &[u32], listed: Direction, missing: Missing) -> Route {
    let mut codes = categories.to_vec();
    codes.sort_unstable();
    codes.dedup();
    let mut rules = Vec::new();
    let null = match missing {
        Missing::To(d) => d,
        Missing::AsZero => {
            if codes.first() == Some(&0) {
                listed
            } else {
                listed.flip()
            }
        }
        Missing::ZeroTo(d) => {
            rules.push((zero_band(&x), d));
            d
        }
    };
    // Runs of consecutive codes a..=b become `a <= x < b + 1` (`-1 < x` for code 0,
    // since every value in (-1, 1) truncates to 0).
    let mut ranges = Vec::new();
    let mut i = 0;
    while i < codes.len() {
        let start = codes[i];
        let mut end = start;
        while i + 1 < codes.len() && codes[i + 1] == end + 1 {
            i += 1;
            end += 1;
        }
        i += 1;
        let low = if start == 0 {
            bin(x.clone(), Op::Gt, Expr::Int(-1))
        } else {
            bin(x.clone(), Op::Ge, Expr::Int(i64::from(start)))
        };
        let high = bin(x.clone(), Op::Lt, Expr::Int(i64::from(end) + 1));
        ranges.push(Expr::And(vec![low, high]));
    }
    if !ranges.is_empty() {
        let cond = if ranges.len() == 1 {
            ranges.pop().expect("one range")
        } else {
            Expr::Or(ranges)
        };
        rules.push((cond, listed));
    }
    Route {
        null,
        rules,
        otherwise: listed.flip(),
    }
}

/// The comparison that holds for exactly the non-NULL values the rule rejects.
fn negate(rule: &Expr) -> Option<Expr> {
    match rule {
        Expr::Bin(a, op, b) => {
            let op = match op {
                Op::Lt => Op::Ge,
                Op::Le => Op::Gt,
                Op::Gt => Op::Le,
                Op::Ge => Op::Lt,
                _ => return None,
            };
            Some(Expr::Bin(a.clone(), op, b.clone()))
        }
        _ => None,
    }
}

/// A predicate that is TRUE exactly for the rows `route` sends to `d` (and FALSE or
/// NULL, both "not taken" in a WHEN, otherwise).
fn goes(route: &Route, x: &Expr, d: Direction) -> Expr {
    let mut any = Vec::new();
    if route.null == d {
        any.push(Expr::IsNull(Box::new(x.clone())));
    }
    // For a non-NULL value every rule is TRUE or FALSE, so NOT is safe.
    let mut earlier: Vec<Expr> = Vec::new();
    for (rule, to) in &route.rules {
        if *to == d {
            let mut all: Vec<Expr> = earlier.iter().map(not).collect();
            all.push(rule.clone());
            any.push(all_of(all));
        }
        earlier.push(rule.clone());
    }
    if route.otherwise == d {
        if earlier.is_empty() {
            // Every non-NULL value.
            any.push(Expr::Not(Box::new(Expr::IsNull(Box::new(x.clone())))));
        } else {
            any.push(all_of(earlier.iter().map(not).collect()));
        }
    }
    match any.len() {
        0 => bin(Expr::Int(1), Op::Lt, Expr::Int(1)),
        1 => any.pop().expect("one"),
        _ => Expr::Or(any),
    }
}

fn not(e: &Expr) -> Expr {
    negate(e).unwrap_or_else(|| Expr::Not(Box::new(e.clone())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::{Dialect, Sqlite};
    use ferry_ir::{Aggregation, DType};

    /// A full tree of depth 2 whose splits test `x <= t[i]` in breadth-first order.
    fn tree(t: [f64; 3]) -> Tree {
        let split = |i: usize, left, right| {
            Node::Split(Split {
                feature: 0,
                test: Test::Numeric {
                    cmp: Cmp::Le,
                    threshold: t[i],
                },
                missing: Missing::To(Direction::Left),
                left,
                right,
            })
        };
        let leaf = |value| Node::Leaf { value };
        Tree {
            output: 0,
            weight: 1.0,
            nodes: vec![
                split(0, 1, 2),
                split(1, 3, 4),
                split(2, 5, 6),
                leaf(1.0),
                leaf(2.0),
                leaf(3.0),
                leaf(4.0),
            ],
            stats: None,
        }
    }

    fn ensemble() -> TreeEnsemble {
        TreeEnsemble {
            n_outputs: 1,
            base_score: vec![0.0],
            feature_precision: Precision::F64,
            score_precision: Precision::F64,
            aggregation: Aggregation::Sum,
            tiny_as_zero: None,
            trees: vec![tree([0.5, 0.25, 0.75]), tree([1.5, 1.25, 1.75])],
        }
    }

    #[test]
    fn the_thresholds_hoisted_are_those_of_the_shallowest_splits() {
        let e = ensemble();
        assert_eq!(hoisted(&e, None), None);
        // Six distinct thresholds: all fit.
        assert_eq!(hoisted(&e, Some(6)), None);
        let h = hoisted(&e, Some(3)).expect("over the limit");
        assert_eq!(h.len(), 3);
        assert!(h.contains(&0.5f64.to_bits()) && h.contains(&1.5f64.to_bits()));
    }

    #[test]
    fn a_threshold_not_hoisted_is_the_same_value_behind_coalesce() {
        let e = ensemble();
        let input = Input {
            name: "x".into(),
            dtype: DType::Float64,
            nullable: true,
            levels: None,
            unseen: Default::default(),
            range: None,
        };
        let lowering = TreeLowering {
            ensemble: &e,
            inputs: std::slice::from_ref(&input),
            features: &[Expr::Column("x".into())],
            max_case_nesting: usize::MAX,
            hoisted: hoisted(&e, Some(2)),
        };
        let mut sql = String::new();
        lowering.tree(&e.trees[0]).render(&Sqlite, &mut sql);
        let t = |x: f64| {
            let mut s = String::new();
            Sqlite.float(x, &mut s);
            s
        };
        assert!(sql.contains(&format!("`x` > {}", t(0.5))), "{sql}");
        for deep in [0.25, 0.75] {
            let wrapped = format!("`x` > COALESCE({}, `x`)", t(deep));
            assert!(sql.contains(&wrapped), "{wrapped} in {sql}");
        }
    }
}
