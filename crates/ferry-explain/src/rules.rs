//! A tree as rules: one per leaf, each feature's tests along the path merged into one
//! condition (an interval, a set of categories, and whether a missing value gets there).

use std::collections::BTreeSet;

use ferry_ir::{Cmp, Direction, Missing, Model, Node, Task, Test, Transform, Tree, TreeEnsemble};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bound {
    pub value: f64,
    pub inclusive: bool,
}

/// What a row's value of one feature must be to reach the leaf.
#[derive(Debug, Clone, Serialize)]
pub struct Condition {
    pub feature: String,
    /// `x > value` (or `>=` when inclusive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lower: Option<Bound>,
    /// `x < value` (or `<=` when inclusive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upper: Option<Bound>,
    /// The category must be one of these.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Vec<String>>,
    /// The category must be none of these.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub none_of: Vec<String>,
    /// Whether a missing value also reaches the leaf (when false, the value must be
    /// present).
    pub or_missing: bool,
    /// A missing value counts as 0 (LightGBM `missing_type=None`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub missing_as_zero: bool,
    #[serde(skip)]
    pub(crate) one_of_codes: Option<BTreeSet<u32>>,
    #[serde(skip)]
    pub(crate) none_of_codes: BTreeSet<u32>,
    #[serde(skip)]
    pub(crate) index: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    pub conditions: Vec<Condition>,
    /// Raw scores at this leaf (base score included), one per output.
    pub scores: Vec<f64>,
    /// The prediction: the regression value, or the class label.
    pub prediction: String,
    /// For a classifier: the probability of each class.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub probabilities: Vec<f64>,
}

/// The trees that make up one tree of a model: the single tree, or one tree per output
/// with the same splits (how a multi-class decision tree is stored). Rules state a
/// constant prediction per leaf, so a tree with linear leaves has none.
pub(crate) fn single_tree(ensemble: &TreeEnsemble) -> Option<Vec<&Tree>> {
    let trees: Vec<&Tree> = ensemble.trees.iter().collect();
    if trees
        .iter()
        .flat_map(|t| &t.nodes)
        .any(|n| matches!(n, Node::LinearLeaf(_)))
    {
        return None;
    }
    if trees.len() == 1 {
        return Some(trees);
    }
    if trees.len() != ensemble.n_outputs {
        return None;
    }
    let same_shape = trees.iter().enumerate().all(|(k, t)| {
        t.output == k
            && t.nodes.len() == trees[0].nodes.len()
            && t.nodes
                .iter()
                .zip(&trees[0].nodes)
                .all(|(a, b)| match (a, b) {
                    (Node::Split(x), Node::Split(y)) => x == y,
                    (Node::Leaf { .. }, Node::Leaf { .. }) => true,
                    _ => false,
                })
    });
    same_shape.then_some(trees)
}

pub(crate) fn rules(model: &Model, ensemble: &TreeEnsemble, trees: &[&Tree]) -> Vec<Rule> {
    let mut out = Vec::new();
    walk(
        model,
        ensemble,
        trees,
        0,
        &mut Vec::new(),
        &mut out,
        trees[0].nodes.len(),
    );
    out
}

fn walk(
    model: &Model,
    ensemble: &TreeEnsemble,
    trees: &[&Tree],
    at: usize,
    path: &mut Vec<Condition>,
    out: &mut Vec<Rule>,
    budget: usize,
) {
    let Some(node) = trees[0].nodes.get(at) else {
        return;
    };
    match node {
        Node::Leaf { .. } | Node::LinearLeaf(_) => {
            out.push(leaf_rule(model, ensemble, trees, at, path));
        }
        Node::Split(split) if budget > 0 => {
            for (child, direction) in [
                (split.left, Direction::Left),
                (split.right, Direction::Right),
            ] {
                let saved = path.clone();
                narrow(
                    model,
                    path,
                    split.feature,
                    &split.test,
                    split.missing,
                    direction,
                );
                walk(
                    model,
                    ensemble,
                    trees,
                    child as usize,
                    path,
                    out,
                    budget - 1,
                );
                *path = saved;
            }
        }
        Node::Split(_) => {}
    }
}

/// Adds "the row went `direction` at this split" to the path's condition on `feature`.
fn narrow(
    model: &Model,
    path: &mut Vec<Condition>,
    feature: usize,
    test: &Test,
    missing: Missing,
    direction: Direction,
) {
    let position = match path.iter().position(|c| c.index == feature) {
        Some(p) => p,
        None => {
            path.push(Condition {
                feature: crate::feature_name(model, feature),
                lower: None,
                upper: None,
                one_of: None,
                none_of: Vec::new(),
                or_missing: true,
                missing_as_zero: false,
                one_of_codes: None,
                none_of_codes: BTreeSet::new(),
                index: feature,
            });
            path.len() - 1
        }
    };
    let condition = &mut path[position];
    match test {
        Test::Numeric { cmp, threshold } => {
            let goes_left = |x: f64| match cmp {
                Cmp::Lt => x < *threshold,
                Cmp::Le => x <= *threshold,
            };
            if direction == Direction::Left {
                let bound = Bound {
                    value: *threshold,
                    inclusive: *cmp == Cmp::Le,
                };
                condition.upper = Some(match condition.upper {
                    Some(b)
                        if b.value < bound.value || (b.value == bound.value && !b.inclusive) =>
                    {
                        b
                    }
                    _ => bound,
                });
            } else {
                let bound = Bound {
                    value: *threshold,
                    inclusive: *cmp == Cmp::Lt,
                };
                condition.lower = Some(match condition.lower {
                    Some(b)
                        if b.value > bound.value || (b.value == bound.value && !b.inclusive) =>
                    {
                        b
                    }
                    _ => bound,
                });
            }
            match missing {
                Missing::To(d) | Missing::ZeroTo(d) => condition.or_missing &= d == direction,
                Missing::AsZero => {
                    condition.missing_as_zero = true;
                    condition.or_missing &= goes_left(0.0) == (direction == Direction::Left);
                }
            }
        }
        Test::Categorical { categories, listed } => {
            let set: BTreeSet<u32> = categories.iter().copied().collect();
            if *listed == direction {
                condition.one_of_codes = Some(match condition.one_of_codes.take() {
                    Some(previous) => previous.intersection(&set).copied().collect(),
                    None => set.clone(),
                });
            } else {
                condition.none_of_codes.extend(set.iter().copied());
            }
            if let (Some(one_of), false) = (
                &mut condition.one_of_codes,
                condition.none_of_codes.is_empty(),
            ) {
                one_of.retain(|c| !condition.none_of_codes.contains(c));
                condition.none_of_codes.clear();
            }
            match missing {
                Missing::To(d) | Missing::ZeroTo(d) => condition.or_missing &= d == direction,
                Missing::AsZero => {
                    condition.or_missing &= set.contains(&0) == (*listed == direction)
                }
            }
            let names = |codes: &BTreeSet<u32>| -> Vec<String> {
                let levels = model
                    .inputs
                    .get(model.feature_column(feature))
                    .and_then(|i| i.levels.as_ref());
                codes
                    .iter()
                    .map(|c| {
                        levels
                            .and_then(|l| l.get(*c as usize).cloned())
                            .unwrap_or_else(|| c.to_string())
                    })
                    .collect()
            };
            condition.one_of = condition.one_of_codes.as_ref().map(names);
            condition.none_of = names(&condition.none_of_codes);
        }
    }
}

fn leaf_rule(
    model: &Model,
    ensemble: &TreeEnsemble,
    trees: &[&Tree],
    at: usize,
    path: &[Condition],
) -> Rule {
    let n = ensemble.n_outputs;
    let mut scores: Vec<f64> = (0..n)
        .map(|k| ensemble.base_score.get(k).copied().unwrap_or(0.0))
        .collect();
    for tree in trees {
        if let Some(Node::Leaf { value }) = tree.nodes.get(at) {
            scores[tree.output] += tree.weight * value;
        }
    }
    let values = transform(model.transform, &scores);
    let (prediction, probabilities) = match &model.task {
        Task::Regression => (
            values
                .iter()
                .map(f64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            Vec::new(),
        ),
        Task::Classification { classes, .. } => {
            let probabilities = if values.len() == 1 && classes.len() == 2 {
                vec![1.0 - values[0], values[0]]
            } else {
                values
            };
            let best = probabilities.iter().enumerate().fold(0, |best, (i, p)| {
                if *p > probabilities[best] {
                    i
                } else {
                    best
                }
            });
            (
                classes.get(best).cloned().unwrap_or_default(),
                probabilities,
            )
        }
    };
    let mut conditions = path.to_vec();
    conditions.sort_by_key(|c| c.index);
    Rule {
        conditions,
        scores,
        prediction,
        probabilities,
    }
}

fn transform(transform: Transform, scores: &[f64]) -> Vec<f64> {
    match transform {
        Transform::Identity => scores.to_vec(),
        Transform::Sort => {
            let mut sorted = scores.to_vec();
            sorted.sort_by(f64::total_cmp);
            sorted
        }
        Transform::Exp => scores.iter().map(|s| s.exp()).collect(),
        Transform::Link { link, complement } => scores
            .iter()
            .map(|s| {
                let p = link.apply(*s);
                if complement {
                    1.0 - p
                } else {
                    p
                }
            })
            .collect(),
        Transform::Logistic { scale } => scores
            .iter()
            .map(|s| 1.0 / (1.0 + (-scale * s).exp()))
            .collect(),
        Transform::Softmax => {
            let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
            let sum: f64 = e.iter().sum();
            e.iter().map(|x| x / sum).collect()
        }
    }
}
