//! The ai.onnx.ml estimators: tree ensembles (opsets 1/3 `TreeEnsembleRegressor` and
//! `TreeEnsembleClassifier`, opset 5 `TreeEnsemble`) and linear models.
//!
//! onnxruntime's arithmetic, which ferry records: a float input is compared as float32
//! against the float32 thresholds; leaf weights are summed per target in float32 with
//! the base values added last; the binary classifier with one score column reports
//! `[1 - p, p]`.

use std::collections::{BTreeMap, HashMap};

use ferry_ir::{
    Aggregation, Cmp, Direction, Estimator, Expr, Linear, Missing, Node, Split, Test, Transform,
    Tree, TreeEnsemble,
};

use super::proto::NodeProto;
use super::tensor::{Attrs, Data};
use super::{Ctx, Elem, Scores, Value};
use crate::ImportError;

/// The numeric feature columns an estimator node reads, as column indices.
fn features(
    ctx: &mut Ctx,
    node: &NodeProto,
    rounds_to_f32: bool,
) -> Result<(Vec<usize>, Elem), ImportError> {
    let (cols, elem) = match ctx.input(node, 0)? {
        Value::Num { cols, elem } => (cols.clone(), *elem),
        _ => return Err(ctx.unsupported(node, "its input is not a numeric tensor")),
    };
    let name = node.input[0].clone();
    let n = cols.len();
    let columns = cols
        .into_iter()
        .enumerate()
        .map(|(j, e)| {
            let label = if n == 1 {
                name.clone()
            } else {
                format!("{name}[{j}]")
            };
            ctx.feature(e, rounds_to_f32, &label)
        })
        .collect();
    Ok((columns, elem))
}

fn set_estimator(
    ctx: &mut Ctx,
    node: &NodeProto,
    estimator: Estimator,
    features: Vec<usize>,
) -> Result<(), ImportError> {
    // A second estimator: the first one's scores feed it (stacking) or are combined
    // with its scores (voting) as columns.
    super::demote::demote(ctx, node)?;
    ctx.estimator = Some((estimator, features));
    Ok(())
}

/// `post_transform` of the ai.onnx.ml estimators.
fn post_transform(
    ctx: &Ctx,
    node: &NodeProto,
    attrs: &Attrs<'_>,
) -> Result<Transform, ImportError> {
    match attrs.string_or("post_transform", "NONE")?.as_str() {
        "NONE" => Ok(Transform::Identity),
        "LOGISTIC" => Ok(Transform::Logistic { scale: 1.0 }),
        "SOFTMAX" => Ok(Transform::Softmax),
        other => Err(ctx.unsupported(node, &format!("post_transform {other}"))),
    }
}

/// Class labels as strings: `classlabels_strings`, or the integers as decimal text.
pub(crate) fn class_labels(
    attrs: &Attrs<'_>,
    ints: &str,
    strings: &str,
) -> Result<Vec<String>, ImportError> {
    let names = attrs.strings(strings)?;
    if !names.is_empty() {
        return Ok(names);
    }
    Ok(attrs.ints(ints).iter().map(i64::to_string).collect())
}

pub(crate) fn linear_regressor(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let (features, elem) = features(ctx, node, true)?;
    let attrs = Attrs::new(node, ctx);
    let transform = post_transform(ctx, node, &attrs)?;
    let targets = attrs.int_or("targets", 1)?;
    let targets = usize::try_from(targets)
        .ok()
        .filter(|t| (1..=super::MAX_COLUMNS).contains(t))
        .ok_or_else(|| attrs.error("targets", format!("{targets} targets")))?;
    let coefficients = attrs.floats("coefficients");
    let n = features.len();
    if n == 0 || coefficients.len() != n * targets {
        return Err(attrs.error(
            "coefficients",
            format!(
                "{} values for {n} features and {targets} targets",
                coefficients.len()
            ),
        ));
    }
    let intercepts = attrs.floats("intercepts");
    let intercepts = match intercepts.len() {
        0 => vec![0.0; targets],
        b if b == targets => intercepts,
        b => return Err(attrs.error("intercepts", format!("{b} values for {targets} targets"))),
    };
    if transform != Transform::Identity {
        return Err(ctx.unsupported(node, "a post_transform on a regressor"));
    }
    // One row of coefficients per target, as onnxruntime reads them.
    let linear = Linear {
        coefficients: coefficients.chunks(n).map(<[f64]>::to_vec).collect(),
        intercepts,
        score_precision: elem.precision(),
    };
    set_estimator(ctx, node, Estimator::Linear(linear), features)?;
    ctx.set_output(
        node,
        0,
        Value::Scores(Scores {
            transform,
            classes: None,
        }),
    );
    Ok(())
}

/// A classifier node's outputs: the label, then the probabilities (or scores).
fn classifier_outputs(ctx: &mut Ctx, node: &NodeProto, classes: Vec<String>, transform: Transform) {
    ctx.set_output(
        node,
        0,
        Value::Label {
            classes: classes.clone(),
            column: None,
        },
    );
    ctx.set_output(
        node,
        1,
        Value::Scores(Scores {
            transform,
            classes: Some(classes),
        }),
    );
}

pub(crate) fn linear_classifier(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let (features, elem) = features(ctx, node, true)?;
    let attrs = Attrs::new(node, ctx);
    let transform = post_transform(ctx, node, &attrs)?;
    let classes = class_labels(&attrs, "classlabels_ints", "classlabels_strings")?;
    let coefficients = attrs.floats("coefficients");
    let intercepts = attrs.floats("intercepts");
    let n = features.len();
    if n == 0 || !coefficients.len().is_multiple_of(n) {
        return Err(attrs.error(
            "coefficients",
            format!("{} values for {n} features", coefficients.len()),
        ));
    }
    let rows = coefficients.len() / n;
    if intercepts.len() != rows {
        return Err(attrs.error(
            "intercepts",
            format!("{} values for {rows} coefficient rows", intercepts.len()),
        ));
    }
    if rows != classes.len() {
        // One row for two classes: onnxruntime's binary case, scores [-s, s] before the
        // transform. Not what skl2onnx writes; refuse rather than guess.
        return Err(attrs.error(
            "coefficients",
            format!(
                "{rows} coefficient rows for {} classes; ferry reads one row per class",
                classes.len()
            ),
        ));
    }
    if classes.len() < 2 {
        return Err(attrs.error("classlabels", "a classifier needs at least two classes"));
    }
    let linear = Linear {
        coefficients: coefficients.chunks(n).map(<[f64]>::to_vec).collect(),
        intercepts,
        score_precision: elem.precision(),
    };
    set_estimator(ctx, node, Estimator::Linear(linear), features)?;
    classifier_outputs(ctx, node, classes, transform);
    Ok(())
}

/// One node of an ONNX tree before translation.
#[derive(Clone)]
struct OnnxNode {
    mode: Mode,
    feature: usize,
    value: f64,
    true_id: i64,
    false_id: i64,
    missing_tracks_true: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Leq,
    Lt,
    Gte,
    Gt,
    /// `x == value`: a category test (onnxmltools writes LightGBM's categorical splits
    /// as chains of them).
    Eq,
    Neq,
    Leaf,
}

fn mode(ctx: &Ctx, node: &NodeProto, name: &str) -> Result<Mode, ImportError> {
    Ok(match name {
        "BRANCH_LEQ" => Mode::Leq,
        "BRANCH_LT" => Mode::Lt,
        "BRANCH_GTE" => Mode::Gte,
        "BRANCH_GT" => Mode::Gt,
        "BRANCH_EQ" => Mode::Eq,
        "BRANCH_NEQ" => Mode::Neq,
        "LEAF" => Mode::Leaf,
        other => {
            return Err(ctx.unsupported(
                node,
                &format!("tree node mode {other} (ferry reads BRANCH_LEQ, BRANCH_LT, BRANCH_GTE, BRANCH_GT, BRANCH_EQ, BRANCH_NEQ and LEAF)"),
            ))
        }
    })
}

/// The per-node attribute lists must all have the reference's length; the optional
/// `nodes_missing_value_tracks_true` may also be empty.
fn same_lengths(
    attrs: &Attrs<'_>,
    (reference, n): (&str, usize),
    lists: &[(&str, usize)],
    tracks: usize,
) -> Result<(), ImportError> {
    let tracks = (tracks != 0).then_some(("nodes_missing_value_tracks_true", tracks));
    for (name, len) in lists.iter().copied().chain(tracks) {
        if len != n {
            return Err(attrs.error(name, format!("has {len} entries; {reference} has {n}")));
        }
    }
    Ok(())
}

/// Translates the opset 1/3 tree attributes (shared by the regressor and the
/// classifier) into IR trees, one per (tree, target) that has any weight.
fn ensemble(
    ctx: &Ctx,
    node: &NodeProto,
    weight_prefix: &str,
    n_targets: usize,
    average: bool,
) -> Result<(Vec<Tree>, bool), ImportError> {
    let attrs = Attrs::new(node, ctx);
    let tree_ids = attrs.ints("nodes_treeids");
    let node_ids = attrs.ints("nodes_nodeids");
    let feature_ids = attrs.ints("nodes_featureids");
    let modes = attrs.strings("nodes_modes")?;
    let (values, float32) = attrs.floats_or_tensor("nodes_values")?;
    let true_ids = attrs.ints("nodes_truenodeids");
    let false_ids = attrs.ints("nodes_falsenodeids");
    let tracks = attrs.ints("nodes_missing_value_tracks_true");
    let n = tree_ids.len();
    same_lengths(
        &attrs,
        ("nodes_treeids", n),
        &[
            ("nodes_nodeids", node_ids.len()),
            ("nodes_featureids", feature_ids.len()),
            ("nodes_modes", modes.len()),
            ("nodes_values", values.len()),
            ("nodes_truenodeids", true_ids.len()),
            ("nodes_falsenodeids", false_ids.len()),
        ],
        tracks.len(),
    )?;
    let n_features = match ctx.input(node, 0)? {
        Value::Num { cols, .. } => cols.len(),
        _ => 0,
    };
    // Nodes of each tree by node id.
    let mut trees: BTreeMap<i64, HashMap<i64, OnnxNode>> = BTreeMap::new();
    for i in 0..n {
        let m = mode(ctx, node, &modes[i])?;
        let feature = if m == Mode::Leaf {
            0
        } else {
            attrs.index("nodes_featureids", feature_ids[i], n_features)?
        };
        if m != Mode::Leaf && values[i].is_nan() {
            return Err(attrs.error("nodes_values", format!("node {i} has threshold NaN")));
        }
        let slot = trees.entry(tree_ids[i]).or_default();
        let previous = slot.insert(
            node_ids[i],
            OnnxNode {
                mode: m,
                feature,
                value: values[i],
                true_id: true_ids[i],
                false_id: false_ids[i],
                missing_tracks_true: tracks.get(i).is_some_and(|t| *t != 0),
            },
        );
        if previous.is_some() {
            return Err(attrs.error(
                "nodes_nodeids",
                format!("tree {} lists node {} twice", tree_ids[i], node_ids[i]),
            ));
        }
    }
    // Leaf weights per (tree, node): target → weight (summed if listed twice, as
    // onnxruntime adds every entry).
    let w_tree = attrs.ints(&format!("{weight_prefix}_treeids"));
    let w_node = attrs.ints(&format!("{weight_prefix}_nodeids"));
    let w_id = attrs.ints(&format!("{weight_prefix}_ids"));
    let (w_value, _) = attrs.floats_or_tensor(&format!("{weight_prefix}_weights"))?;
    let m = w_tree.len();
    if w_node.len() != m || w_id.len() != m || w_value.len() != m {
        return Err(attrs.error(
            &format!("{weight_prefix}_weights"),
            "the leaf weight lists have different lengths",
        ));
    }
    let mut weights: HashMap<(i64, i64), Vec<(usize, f64)>> = HashMap::new();
    for i in 0..m {
        let target = attrs.index(&format!("{weight_prefix}_ids"), w_id[i], n_targets)?;
        weights
            .entry((w_tree[i], w_node[i]))
            .or_default()
            .push((target, w_value[i]));
    }
    let mut used = vec![false; n_targets];
    for list in weights.values() {
        for (t, _) in list {
            used[*t] = true;
        }
    }
    let mut out = Vec::new();
    for (tree_id, nodes) in &trees {
        for (target, used) in used.iter().enumerate() {
            // Averaged ensembles need every (tree, target) so the divisor is the tree
            // count; summed ones only the targets with weights.
            if !average && !used {
                continue;
            }
            let mut ir = Vec::new();
            build(ctx, node, nodes, *tree_id, target, &weights, &mut ir)?;
            out.push(Tree {
                stats: None,
                output: target,
                weight: 1.0,
                nodes: ir,
            });
        }
    }
    Ok((out, float32))
}

/// Builds the IR nodes of one tree for one target, depth first from the root (node id
/// 0, or the node no other node points to).
fn build(
    ctx: &Ctx,
    node: &NodeProto,
    nodes: &HashMap<i64, OnnxNode>,
    tree_id: i64,
    target: usize,
    weights: &HashMap<(i64, i64), Vec<(usize, f64)>>,
    out: &mut Vec<Node>,
) -> Result<(), ImportError> {
    let root = if nodes.contains_key(&0) {
        0
    } else {
        let children: std::collections::HashSet<i64> = nodes
            .values()
            .filter(|n| n.mode != Mode::Leaf)
            .flat_map(|n| [n.true_id, n.false_id])
            .collect();
        *nodes
            .keys()
            .filter(|k| !children.contains(k))
            .min()
            .ok_or_else(|| ctx.node_error(node, format!("tree {tree_id} has no root")))?
    };
    // Iterative: (onnx id, IR slot to fill, depth).
    out.push(Node::Leaf { value: 0.0 });
    let mut stack = vec![(root, 0usize, 0usize)];
    while let Some((id, slot, depth)) = stack.pop() {
        if depth > nodes.len() {
            return Err(ctx.node_error(node, format!("tree {tree_id} has a cycle")));
        }
        let n = nodes.get(&id).ok_or_else(|| {
            ctx.node_error(
                node,
                format!("tree {tree_id} points to node {id}, which it does not have"),
            )
        })?;
        if n.mode == Mode::Leaf {
            let value = weights.get(&(tree_id, id)).map_or(0.0, |list| {
                list.iter()
                    .filter(|(t, _)| *t == target)
                    .map(|(_, w)| *w)
                    .sum()
            });
            out[slot] = Node::Leaf { value };
            continue;
        }
        // IR: left when `x <cmp> t`. GTE/GT are the negations of LT/LEQ with the
        // children swapped.
        let numeric = |cmp, threshold| Test::Numeric { cmp, threshold };
        let (test, left_id, right_id, missing_left) = match n.mode {
            Mode::Leq => (
                numeric(Cmp::Le, n.value),
                n.true_id,
                n.false_id,
                n.missing_tracks_true,
            ),
            Mode::Lt => (
                numeric(Cmp::Lt, n.value),
                n.true_id,
                n.false_id,
                n.missing_tracks_true,
            ),
            Mode::Gte => (
                numeric(Cmp::Lt, n.value),
                n.false_id,
                n.true_id,
                !n.missing_tracks_true,
            ),
            Mode::Gt => (
                numeric(Cmp::Le, n.value),
                n.false_id,
                n.true_id,
                !n.missing_tracks_true,
            ),
            // A chain of equality tests on one feature that share their true child is
            // one set test: `x in {v1, v2, …}`. A missing value fails `==` (unless it
            // tracks true).
            Mode::Eq => {
                let mut categories = vec![category(ctx, node, n.value)?];
                let mut other = n.false_id;
                while let Some(next) = nodes.get(&other).filter(|m| {
                    m.mode == Mode::Eq
                        && m.feature == n.feature
                        && m.true_id == n.true_id
                        && m.missing_tracks_true == n.missing_tracks_true
                }) {
                    if categories.len() > nodes.len() {
                        return Err(ctx.node_error(node, format!("tree {tree_id} has a cycle")));
                    }
                    categories.push(category(ctx, node, next.value)?);
                    other = next.false_id;
                }
                let test = Test::Categorical {
                    categories,
                    listed: Direction::Left,
                };
                (test, n.true_id, other, n.missing_tracks_true)
            }
            // `x != v`: the equal value goes to the false child; a missing value
            // passes `!=`.
            Mode::Neq => (
                equality(ctx, node, n.value, Direction::Right)?,
                n.true_id,
                n.false_id,
                true,
            ),
            Mode::Leaf => unreachable!("handled above"),
        };
        let (left, right) = split(out, slot, n.feature, test, missing_left);
        stack.push((right_id, right, depth + 1));
        stack.push((left_id, left, depth + 1));
    }
    Ok(())
}

/// The category an equality test compares with. The IR reads a value as a category
/// code (truncated), as LightGBM does; onnxruntime compares floats, which agrees on the
/// integer codes these tests are written for.
fn category(ctx: &Ctx, node: &NodeProto, value: f64) -> Result<u32, ImportError> {
    if value.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&value) {
        Ok(value as u32)
    } else {
        Err(ctx.unsupported(
            node,
            &format!("an equality test with {value} (ferry reads tests against category codes 0, 1, 2, …)"),
        ))
    }
}

/// `x == value` as a category test: the equal value goes to `equal` (the true child
/// of BRANCH_EQ, the false child of BRANCH_NEQ).
fn equality(
    ctx: &Ctx,
    node: &NodeProto,
    value: f64,
    equal: Direction,
) -> Result<Test, ImportError> {
    Ok(Test::Categorical {
        categories: vec![category(ctx, node, value)?],
        listed: equal,
    })
}

/// Turns IR node `slot` into a split (left when `test` holds, missing values left when
/// `missing_left`) with two placeholder children appended; returns the children's
/// slots.
fn split(
    out: &mut Vec<Node>,
    slot: usize,
    feature: usize,
    test: Test,
    missing_left: bool,
) -> (usize, usize) {
    let (left, right) = (out.len(), out.len() + 1);
    out.push(Node::Leaf { value: 0.0 });
    out.push(Node::Leaf { value: 0.0 });
    out[slot] = Node::Split(Split {
        feature,
        test,
        missing: Missing::To(if missing_left {
            Direction::Left
        } else {
            Direction::Right
        }),
        left: left as u32,
        right: right as u32,
    });
    (left, right)
}

/// `aggregate_function` of opsets 1/3.
fn aggregate(ctx: &Ctx, node: &NodeProto, attrs: &Attrs<'_>) -> Result<bool, ImportError> {
    match attrs.string_or("aggregate_function", "SUM")?.as_str() {
        "SUM" => Ok(false),
        "AVERAGE" => Ok(true),
        other => Err(ctx.unsupported(node, &format!("aggregate_function {other}"))),
    }
}

/// The precision a tree ensemble compares its features in. onnxruntime compares a
/// double input in float64, but it refuses the graphs skl2onnx writes for a double
/// input (a double output where the operator promises float); scikit-learn's trees
/// cast every input to float32 and skl2onnx chose the float32 thresholds for that
/// comparison, so a double input is rounded to float32 as scikit-learn does.
fn comparison_elem(ctx: &Ctx, elem: Elem, float32_thresholds: bool) -> Elem {
    if elem == Elem::F64 && float32_thresholds && ctx.producer == "skl2onnx" {
        Elem::F32
    } else {
        elem
    }
}

fn tree_ensemble(
    trees: Vec<Tree>,
    n_outputs: usize,
    base: Vec<f64>,
    average: bool,
    (compare, elem): (Elem, Elem),
) -> TreeEnsemble {
    TreeEnsemble {
        n_outputs,
        base_score: base,
        feature_precision: compare.precision(),
        score_precision: elem.precision(),
        aggregation: if average {
            Aggregation::Average
        } else {
            Aggregation::Sum
        },
        tiny_as_zero: None,
        trees,
    }
}

pub(crate) fn tree_regressor(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let attrs = Attrs::new(node, ctx);
    let transform = post_transform(ctx, node, &attrs)?;
    let n_targets = attrs.int_or("n_targets", 1)?;
    let n_targets = usize::try_from(n_targets)
        .ok()
        .filter(|t| (1..=super::MAX_COLUMNS).contains(t))
        .ok_or_else(|| attrs.error("n_targets", format!("{n_targets} targets")))?;
    let average = aggregate(ctx, node, &attrs)?;
    let (base, _) = attrs.floats_or_tensor("base_values")?;
    let base = match base.len() {
        0 => vec![0.0; n_targets],
        b if b == n_targets => base,
        b => return Err(attrs.error("base_values", format!("{b} values for {n_targets} targets"))),
    };
    let (trees, float32) = ensemble(ctx, node, "target", n_targets, average)?;
    let (features, elem) = features(ctx, node, true)?;
    let compare = comparison_elem(ctx, elem, float32);
    let ensemble = tree_ensemble(trees, n_targets, base, average, (compare, elem));
    set_estimator(ctx, node, Estimator::Trees(ensemble), features)?;
    ctx.set_output(
        node,
        0,
        Value::Scores(Scores {
            transform,
            classes: None,
        }),
    );
    Ok(())
}

pub(crate) fn tree_classifier(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let attrs = Attrs::new(node, ctx);
    let transform = post_transform(ctx, node, &attrs)?;
    let classes = class_labels(&attrs, "classlabels_int64s", "classlabels_strings")?;
    if classes.len() < 2 {
        return Err(attrs.error("classlabels", "a classifier needs at least two classes"));
    }
    let average = aggregate(ctx, node, &attrs)?;
    let (base, _) = attrs.floats_or_tensor("base_values")?;
    let class_ids = attrs.ints("class_ids");
    let only_first = class_ids.iter().all(|c| *c == 0);
    // onnxruntime's binary case: two classes and every weight on class 0: that score is
    // the positive class's, and the probabilities are [1 - p, p].
    let binary_single = classes.len() == 2 && only_first;
    let n_outputs = if binary_single { 1 } else { classes.len() };
    let base = match (base.len(), n_outputs) {
        (0, n) => vec![0.0; n],
        (b, n) if b == n => base,
        (b, n) => return Err(attrs.error("base_values", format!("{b} values for {n} scores"))),
    };
    let (trees, float32) = ensemble(ctx, node, "class", n_outputs, average)?;
    let (features, elem) = features(ctx, node, true)?;
    let compare = comparison_elem(ctx, elem, float32);
    let ensemble = tree_ensemble(trees, n_outputs, base, average, (compare, elem));
    set_estimator(ctx, node, Estimator::Trees(ensemble), features)?;
    classifier_outputs(ctx, node, classes, transform);
    Ok(())
}

/// ai.onnx.ml opset 5 `TreeEnsemble`: nodes and leaves in separate arrays, splits as a
/// tensor (float or double), modes as uint8 codes.
pub(crate) fn tree_ensemble_v5(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let attrs = Attrs::new(node, ctx);
    let ints = |name: &str| attrs.ints(name).to_vec();
    let tensor_numbers = |name: &str| -> Result<Vec<f64>, ImportError> {
        match attrs.tensor(name)? {
            Some(t) => match t.data {
                Data::Num(v) => Ok(v),
                Data::Str(_) => Err(attrs.error(name, "expected numbers")),
            },
            None => Ok(Vec::new()),
        }
    };
    let splits = tensor_numbers("nodes_splits")?;
    let modes = tensor_numbers("nodes_modes")?;
    let features_ids = ints("nodes_featureids");
    let true_ids = ints("nodes_truenodeids");
    let true_leaf = ints("nodes_trueleafs");
    let false_ids = ints("nodes_falsenodeids");
    let false_leaf = ints("nodes_falseleafs");
    let tracks = ints("nodes_missing_value_tracks_true");
    let roots = ints("tree_roots");
    let leaf_targets = ints("leaf_targetids");
    let leaf_weights = tensor_numbers("leaf_weights")?;
    let n_targets = attrs.int_or("n_targets", 1)?;
    let n = splits.len();
    same_lengths(
        &attrs,
        ("nodes_splits", n),
        &[
            ("nodes_modes", modes.len()),
            ("nodes_featureids", features_ids.len()),
            ("nodes_truenodeids", true_ids.len()),
            ("nodes_trueleafs", true_leaf.len()),
            ("nodes_falsenodeids", false_ids.len()),
            ("nodes_falseleafs", false_leaf.len()),
        ],
        tracks.len(),
    )?;
    if leaf_targets.len() != leaf_weights.len() {
        return Err(attrs.error("leaf_weights", "length differs from leaf_targetids"));
    }
    let n_targets = usize::try_from(n_targets)
        .ok()
        .filter(|t| (1..=super::MAX_COLUMNS).contains(t))
        .ok_or_else(|| attrs.error("n_targets", format!("{n_targets} targets")))?;
    let average = match attrs.int_or("aggregate_function", 1)? {
        1 => false,
        0 => true,
        other => {
            return Err(ctx.unsupported(
                node,
                &format!("aggregate_function {other} (SUM=1 and AVERAGE=0 are supported)"),
            ))
        }
    };
    let transform = match attrs.int_or("post_transform", 0)? {
        0 => Transform::Identity,
        1 => Transform::Softmax,
        2 => Transform::Logistic { scale: 1.0 },
        other => return Err(ctx.unsupported(node, &format!("post_transform {other}"))),
    };
    let n_features = match ctx.input(node, 0)? {
        Value::Num { cols, .. } => cols.len(),
        _ => 0,
    };
    // BRANCH_MEMBER sets: `membership_values` lists them in node order, each ended by
    // a NaN.
    let mut members: Vec<Option<Vec<f64>>> = vec![None; n];
    if modes.iter().any(|m| *m as i64 == 6) {
        let values = tensor_numbers("membership_values")?;
        let mut sets = values.split(|v| v.is_nan());
        for (i, m) in modes.iter().enumerate() {
            if *m as i64 == 6 {
                let set = sets.next().ok_or_else(|| {
                    attrs.error(
                        "membership_values",
                        "has fewer sets than BRANCH_MEMBER nodes",
                    )
                })?;
                members[i] = Some(set.to_vec());
            }
        }
    }
    let mut trees = Vec::with_capacity(roots.len());
    for (t, root) in roots.iter().enumerate() {
        let mut out = vec![Node::Leaf { value: 0.0 }];
        // (id, is_leaf, slot)
        let root_is_leaf = false;
        let mut stack = vec![(*root, root_is_leaf, 0usize, 0usize)];
        while let Some((id, is_leaf, slot, depth)) = stack.pop() {
            if depth > n + 1 {
                return Err(ctx.node_error(node, format!("tree {t} has a cycle")));
            }
            if is_leaf {
                // The leaf's index for now; its weight per target below.
                let i = attrs.index("leaf_weights", id, leaf_weights.len())?;
                attrs.index("leaf_targetids", leaf_targets[i], n_targets)?;
                out[slot] = Node::Leaf { value: i as f64 };
                continue;
            }
            let i = attrs.index("nodes_splits", id, n)?;
            let numeric = |cmp| Test::Numeric {
                cmp,
                threshold: splits[i],
            };
            let tracks_true = tracks.get(i).is_some_and(|v| *v != 0);
            // (test, true child goes left, missing value goes to the true child)
            let (test, true_left, missing_true) = match modes[i] as i64 {
                0 => (numeric(Cmp::Le), true, tracks_true),
                1 => (numeric(Cmp::Lt), true, tracks_true),
                2 => (numeric(Cmp::Lt), false, tracks_true),
                3 => (numeric(Cmp::Le), false, tracks_true),
                4 => (
                    equality(ctx, node, splits[i], Direction::Left)?,
                    true,
                    tracks_true,
                ),
                // `x != v`: a missing value passes.
                5 => (
                    equality(ctx, node, splits[i], Direction::Right)?,
                    true,
                    true,
                ),
                6 => {
                    let set = members.get(i).and_then(|m| m.as_ref()).ok_or_else(|| {
                        attrs.error("membership_values", "has no set for a BRANCH_MEMBER node")
                    })?;
                    let categories = set
                        .iter()
                        .map(|v| category(ctx, node, *v))
                        .collect::<Result<Vec<u32>, _>>()?;
                    let test = Test::Categorical {
                        categories,
                        listed: Direction::Left,
                    };
                    (test, true, tracks_true)
                }
                other => {
                    return Err(ctx.unsupported(
                        node,
                        &format!(
                            "node mode {other} (BRANCH_LEQ/LT/GTE/GT/EQ/NEQ/MEMBER are supported)"
                        ),
                    ))
                }
            };
            let feature = attrs.index("nodes_featureids", features_ids[i], n_features)?;
            let t_child = (true_ids[i], true_leaf[i] != 0);
            let f_child = (false_ids[i], false_leaf[i] != 0);
            let (l, r, missing_left) = if true_left {
                (t_child, f_child, missing_true)
            } else {
                (f_child, t_child, !missing_true)
            };
            let (left, right) = split(&mut out, slot, feature, test, missing_left);
            stack.push((r.0, r.1, right, depth + 1));
            stack.push((l.0, l.1, left, depth + 1));
        }
        // One IR tree per target the tree's leaves add to (per target when averaged,
        // so that the divisor is the tree count): a leaf adds to its own target only.
        let leaf_target = |v: f64| leaf_targets[v as usize] as usize;
        let leaves = || {
            out.iter().filter_map(|n| match n {
                Node::Leaf { value } => Some(*value),
                Node::Split(_) | Node::LinearLeaf(_) => None,
            })
        };
        for target in 0..n_targets {
            if !average && !leaves().any(|v| leaf_target(v) == target) {
                continue;
            }
            let nodes = out
                .iter()
                .map(|n| match n {
                    Node::Leaf { value } => Node::Leaf {
                        value: if leaf_target(*value) == target {
                            leaf_weights[*value as usize]
                        } else {
                            0.0
                        },
                    },
                    split => split.clone(),
                })
                .collect();
            trees.push(Tree {
                stats: None,
                output: target,
                weight: 1.0,
                nodes,
            });
        }
    }
    let (features, elem) = features(ctx, node, true)?;
    let ensemble = tree_ensemble(
        trees,
        n_targets,
        vec![0.0; n_targets],
        average,
        (elem, elem),
    );
    set_estimator(ctx, node, Estimator::Trees(ensemble), features)?;
    ctx.set_output(
        node,
        0,
        Value::Scores(Scores {
            transform,
            classes: None,
        }),
    );
    Ok(())
}

/// An estimator made of columns already computed (a network's last layer): the identity
/// over them, with `transform` applied by the caller.
pub(crate) fn commit_columns(
    ctx: &mut Ctx,
    node: &NodeProto,
    cols: Vec<Expr>,
    elem: Elem,
    tensor: &str,
) -> Result<(), ImportError> {
    let (estimator, columns) = ctx.identity_over(cols, elem, |j| format!("{tensor}[{j}]"));
    set_estimator(ctx, node, estimator, columns)
}
