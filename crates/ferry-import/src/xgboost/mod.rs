//! XGBoost models saved with `save_model("m.json")` (JSON) or `save_model("m.ubj")`
//! (UBJSON). Both decode to the same document, translated here.
//!
//! XGBoost arithmetic recorded in the IR: features are rounded to float32, splits are
//! `x < threshold` on float32 values, a missing value follows `default_left`, leaf values
//! are float32 and summed in float32 starting from the base margin, and the objective's
//! transform runs in float32.

mod ubjson;

use ferry_ir::{
    Aggregation, Cmp, DType, Derived, Direction, Estimator, Expr, Input, Linear, Link, Missing,
    Model, Node as IrNode, NodeStats, Precision, Source, Split, Task, Test, Transform, Tree,
    TreeEnsemble, IR_VERSION,
};
use serde_json::Value;

use crate::json::Node;
use crate::{trim_start, Format, ImportError, ImportOptions};

pub(crate) struct XgboostJson;
pub(crate) struct XgboostUbjson;

impl Format for XgboostJson {
    fn name(&self) -> &'static str {
        "xgboost-json"
    }

    fn sniff(&self, bytes: &[u8]) -> bool {
        let head = trim_start(&bytes[..bytes.len().min(4096)]);
        head.starts_with(b"{") && trim_start(&head[1..]).starts_with(b"\"")
    }

    fn import(&self, bytes: &[u8], options: &ImportOptions) -> Result<Model, ImportError> {
        let doc: Value = match serde_json::from_slice(bytes) {
            Ok(doc) => doc,
            // XGBoost writes non-finite floats as bare `NaN` / `Infinity` (not JSON). They
            // only occur in statistics ferry does not read (`loss_changes`,
            // `sum_hessian`, …); read them as null, so a field ferry does use still fails
            // with its name.
            Err(first) => match replace_non_finite(bytes) {
                Some(cleaned) => serde_json::from_slice(&cleaned),
                None => Err(first),
            }
            .map_err(|e| ImportError::Parse {
                format: self.name(),
                message: format!("invalid JSON: {e}"),
            })?,
        };
        translate(self.name(), &doc, options)
    }
}

impl Format for XgboostUbjson {
    fn name(&self) -> &'static str {
        "xgboost-ubjson"
    }

    fn sniff(&self, bytes: &[u8]) -> bool {
        // A UBJSON object starts with `{` followed by the length marker of its first key.
        bytes.first() == Some(&b'{')
            && matches!(bytes.get(1), Some(b'i' | b'U' | b'I' | b'l' | b'L'))
    }

    fn import(&self, bytes: &[u8], options: &ImportOptions) -> Result<Model, ImportError> {
        let doc = ubjson::parse(bytes).map_err(|message| ImportError::Parse {
            format: self.name(),
            message: format!("invalid UBJSON: {message}"),
        })?;
        translate(self.name(), &doc, options)
    }
}

/// Replaces the bare tokens `NaN`, `Infinity` and `-Infinity` outside strings by `null`;
/// `None` when there are none.
fn replace_non_finite(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    let (mut in_string, mut escaped, mut changed) = (false, false, false);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            out.push(b);
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        let rest = &bytes[i..];
        let token = [&b"-Infinity"[..], b"Infinity", b"NaN"]
            .into_iter()
            .find(|t| rest.starts_with(t));
        match token {
            Some(t) => {
                out.extend_from_slice(b"null");
                i += t.len();
                changed = true;
            }
            None => {
                in_string = b == b'"';
                out.push(b);
                i += 1;
            }
        }
    }
    changed.then_some(out)
}

/// How an objective maps to the IR.
struct Objective {
    task: TaskKind,
    transform: Transform,
    /// Converts the stored `base_score` to margin space (`ProbToMargin`).
    margin: fn(f32) -> f32,
}

enum TaskKind {
    Regression,
    Binary,
    Multiclass,
}

fn identity(x: f32) -> f32 {
    x
}

/// XGBoost's `ProbToMargin` for logistic objectives: clamp to [1e-6, 1 - 1e-6], then logit.
fn logit(x: f32) -> f32 {
    let x = x.clamp(1e-6, 1.0 - 1e-6);
    -(1.0f32 / x - 1.0f32).ln()
}

fn log(x: f32) -> f32 {
    x.ln()
}

fn objective(name: &str) -> Option<Objective> {
    use TaskKind::*;
    let o = |task, transform, margin| {
        Some(Objective {
            task,
            transform,
            margin,
        })
    };
    let logistic = Transform::Logistic { scale: 1.0 };
    match name {
        "reg:squarederror"
        | "reg:linear"
        | "reg:squaredlogerror"
        | "reg:absoluteerror"
        | "reg:pseudohubererror"
        | "reg:quantileerror"
        | "rank:pairwise"
        | "rank:ndcg"
        | "rank:map" => o(Regression, Transform::Identity, identity),
        "reg:logistic" => o(Regression, logistic, logit),
        // Booster.predict returns the margin itself; ferry reports it as a score.
        "binary:logitraw" => o(Regression, Transform::Identity, identity),
        "binary:logistic" => o(Binary, logistic, logit),
        // Predicts 1 where the margin is above 0, else 0; XGBClassifier reads that as
        // the probability of class 1. The base score is a margin.
        "binary:hinge" => o(
            Binary,
            Transform::Link {
                link: Link::Step,
                complement: false,
            },
            identity,
        ),
        "multi:softprob" | "multi:softmax" => o(Multiclass, Transform::Softmax, identity),
        "count:poisson" | "reg:gamma" | "reg:tweedie" | "survival:cox" | "survival:aft" => {
            o(Regression, Transform::Exp, log)
        }
        _ => None,
    }
}

const SUPPORTED: &str = "reg:squarederror, reg:squaredlogerror, reg:absoluteerror, \
    reg:pseudohubererror, reg:quantileerror, reg:logistic, binary:logistic, binary:logitraw, binary:hinge, \
    multi:softprob, multi:softmax, count:poisson, reg:gamma, reg:tweedie, survival:cox, survival:aft, \
    rank:*";

fn translate(
    format: &'static str,
    doc: &Value,
    options: &ImportOptions,
) -> Result<Model, ImportError> {
    let root = Node::root(format, doc);
    let learner = root.get("learner")?;
    let params = learner.get("learner_model_param")?;

    let objective_name = learner.get("objective")?.get("name")?.as_str()?.to_string();
    let objective = objective(&objective_name).ok_or_else(|| ImportError::Unsupported {
        format,
        what: format!("objective `{objective_name}`"),
        hint: format!(" (supported: {SUPPORTED})"),
    })?;

    let num_feature = params.get("num_feature")?.as_usize()?;
    let num_class = match params.opt("num_class")? {
        Some(n) => n.as_usize()?,
        None => 0,
    };
    let num_target = match params.opt("num_target")? {
        Some(n) => n.as_usize()?.max(1),
        None => 1,
    };
    if num_target > 1 && (num_class > 1 || !matches!(objective.task, TaskKind::Regression)) {
        return Err(ImportError::Unsupported {
            format,
            what: format!("a multi-target classifier ({num_target} targets)"),
            hint: String::new(),
        });
    }
    // Several quantiles: XGBoost sorts each row's predictions (not its margins), so
    // that the quantiles never cross.
    let transform = if num_target > 1 && objective_name == "reg:quantileerror" {
        Transform::Sort
    } else {
        objective.transform
    };
    // A multi-target regressor (XGBRegressor fitted on a matrix of targets, a list
    // of quantile_alpha) has one raw score per target, as a multiclass model has
    // one per class.
    let n_outputs = num_class.max(num_target);

    let base_node = params.get("base_score")?;
    let base_scores = parse_base_score(&base_node)?;
    let base_score: Vec<f64> = match base_scores.len() {
        1 => vec![f64::from((objective.margin)(base_scores[0])); n_outputs],
        n if n == n_outputs => base_scores
            .iter()
            .map(|b| f64::from((objective.margin)(*b)))
            .collect(),
        n => {
            return Err(base_node.error(format!(
                "{n} base scores for a model with {n_outputs} outputs"
            )))
        }
    };
    if base_score.iter().any(|b| !b.is_finite()) {
        return Err(base_node.error(format!(
            "base score {base_scores:?} has no finite margin under `{objective_name}`"
        )));
    }

    let mut inputs = read_inputs(&learner, num_feature)?;

    let task = match objective.task {
        TaskKind::Regression => Task::Regression,
        TaskKind::Binary => Task::classification(vec!["0".into(), "1".into()]),
        TaskKind::Multiclass => {
            Task::classification((0..n_outputs).map(|c| c.to_string()).collect())
        }
    };
    if matches!(objective.task, TaskKind::Multiclass) && n_outputs < 2 {
        return Err(params.error(format!("`{objective_name}` needs num_class >= 2")));
    }
    let ir_model = |inputs, derived, features, estimator| Model {
        ir_version: IR_VERSION,
        source: Source {
            format: format.into(),
            library: "xgboost".into(),
            library_version: read_version(&root),
            objective: Some(objective_name.clone()),
        },
        inputs,
        derived,
        features,
        estimator,
        transform,
        task: task.clone(),
    };

    let booster = learner.get("gradient_booster")?;
    let booster_name = booster.get("name")?.as_str()?;
    if booster_name == "gblinear" {
        // gblinear adds the first base score to every output (`BaseScore(ctx)(0)`),
        // whatever a multiclass model records for the others.
        let (derived, features, linear) =
            gblinear(&booster.get("model")?, &inputs, n_outputs, base_score[0])?;
        return Ok(ir_model(inputs, derived, Some(features), linear));
    }
    // DART: up to 3.2 `{name: dart, gbtree: {model}, weight_drop}`; 3.3 puts
    // `weight_drop` beside `model`; 3.4 saves `name: gbtree` with it inside `model`.
    let gbtree = match booster_name {
        "gbtree" => booster.clone(),
        "dart" => booster.get("gbtree")?,
        other => {
            return Err(ImportError::Unsupported {
                format,
                what: format!("booster `{other}`"),
                hint: " (supported: gbtree, dart, gblinear)".into(),
            })
        }
    };
    let model = gbtree.get("model")?;
    let weight_drop = match (
        model.opt("weight_drop")?,
        gbtree.opt("weight_drop")?,
        booster.opt("weight_drop")?,
    ) {
        (Some(w), _, _) | (None, Some(w), _) | (None, None, Some(w)) => {
            let weights = w.f64_array()?;
            (!weights.is_empty()).then_some((weights, w.path.clone()))
        }
        _ => None,
    };
    let tree_nodes = model.get("trees")?.items()?;
    let tree_info = model.get("tree_info")?.i64_array()?;
    if tree_info.len() != tree_nodes.len() {
        return Err(model.get("tree_info")?.error(format!(
            "{} entries for {} trees",
            tree_info.len(),
            tree_nodes.len()
        )));
    }
    if let Some((weights, path)) = &weight_drop {
        if weights.len() != tree_nodes.len() {
            return Err(ImportError::Field {
                format,
                field: path.clone(),
                message: format!("{} weights for {} trees", weights.len(), tree_nodes.len()),
            });
        }
    }

    let n_trees = if options.all_trees {
        tree_nodes.len()
    } else {
        best_iteration_trees(&learner, &model, n_outputs, tree_nodes.len())?
    };

    let mut trees = Vec::with_capacity(n_trees);
    for (index, node) in tree_nodes.iter().take(n_trees).enumerate() {
        let output = usize::try_from(tree_info[index])
            .ok()
            .filter(|g| *g < n_outputs)
            .ok_or_else(|| {
                model.error(format!(
                    "tree_info[{index}] = {} is not an output of this model ({n_outputs})",
                    tree_info[index]
                ))
            })?;
        let components = read_tree(node, num_feature)?;
        if components.len() > 1 && components.len() != n_outputs {
            return Err(node.error(format!(
                "leaves of {} values in a model with {n_outputs} outputs",
                components.len()
            )));
        }
        let vector = components.len() > 1;
        for (k, mut tree) in components.into_iter().enumerate() {
            tree.output = if vector { k } else { output };
            if let Some((weights, _)) = &weight_drop {
                // DART scales each tree in float32, like its leaf values.
                tree.weight = f64::from(weights[index] as f32);
            }
            trees.push(tree);
        }
    }

    if let Some(cats) = model.opt("cats")? {
        read_categories(&cats, &mut inputs)?;
    }

    let trees = Estimator::Trees(TreeEnsemble {
        n_outputs,
        base_score,
        feature_precision: Precision::F32,
        score_precision: Precision::F32,
        aggregation: Aggregation::Sum,
        tiny_as_zero: None,
        trees,
    });
    Ok(ir_model(inputs, Vec::new(), None, trees))
}

/// A linear booster: `weights` holds one row of `n_outputs` per feature, then the
/// biases. XGBoost scores a row in float32 as `(bias + base_margin) + x_0 * w_0 + …`
/// over the features present, so a missing feature adds nothing: each feature is read
/// through a derived column that is 0 where it is missing.
fn gblinear(
    model: &Node,
    inputs: &[Input],
    n_outputs: usize,
    base_margin: f64,
) -> Result<(Vec<Derived>, Vec<usize>, Estimator), ImportError> {
    let weights_node = model.get("weights")?;
    let weights = weights_node.f64_array()?;
    let n_features = inputs.len();
    if weights.len() != (n_features + 1) * n_outputs {
        return Err(weights_node.error(format!(
            "{} weights for {n_features} features and {n_outputs} outputs (expected {})",
            weights.len(),
            (n_features + 1) * n_outputs
        )));
    }
    let f32_of = |w: f64| f64::from(w as f32);
    let coefficients = (0..n_outputs)
        .map(|g| {
            (0..n_features)
                .map(|i| f32_of(weights[i * n_outputs + g]))
                .collect()
        })
        .collect();
    let intercepts = (0..n_outputs)
        .map(|g| f64::from(weights[n_features * n_outputs + g] as f32 + base_margin as f32))
        .collect();
    let derived = inputs
        .iter()
        .enumerate()
        .map(|(i, input)| Derived {
            name: format!("{} (missing as 0)", input.name),
            expr: Expr::if_else(
                Expr::IsMissing {
                    x: Box::new(Expr::column(i)),
                },
                Expr::constant(0.0),
                Expr::column(i),
            ),
        })
        .collect();
    let features = (n_features..2 * n_features).collect();
    let linear = Estimator::Linear(Linear {
        coefficients,
        intercepts,
        score_precision: Precision::F32,
    });
    Ok((derived, features, linear))
}

/// `base_score` is `"5E-1"` in older files and `"[5E-1]"` (one per output) in XGBoost 3.
/// Stored in the objective's output space; converted to a margin by the caller.
fn parse_base_score(node: &Node) -> Result<Vec<f32>, ImportError> {
    let parse = |s: &str| {
        s.trim()
            .parse::<f32>()
            .map_err(|_| node.error(format!("expected a number, found \"{s}\"")))
    };
    match node.value {
        Value::String(s) => {
            let s = s.trim();
            if let Some(inner) = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                inner.split(',').map(parse).collect()
            } else {
                Ok(vec![parse(s)?])
            }
        }
        Value::Array(_) => Ok(node.f64_array()?.into_iter().map(|x| x as f32).collect()),
        _ => Ok(vec![node.as_f64()? as f32]),
    }
}

fn read_version(root: &Node) -> Option<String> {
    let version = root.opt("version").ok()??.i64_array().ok()?;
    Some(
        version
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join("."),
    )
}

fn read_inputs(learner: &Node, num_feature: usize) -> Result<Vec<Input>, ImportError> {
    let names = match learner.opt("feature_names")? {
        Some(n) => n.string_array()?,
        None => Vec::new(),
    };
    let types = match learner.opt("feature_types")? {
        Some(t) => t.string_array()?,
        None => Vec::new(),
    };
    if !names.is_empty() && names.len() != num_feature {
        return Err(learner
            .get("feature_names")?
            .error(format!("{} names for {num_feature} features", names.len())));
    }
    if !types.is_empty() && types.len() != num_feature {
        return Err(learner
            .get("feature_types")?
            .error(format!("{} types for {num_feature} features", types.len())));
    }
    Ok((0..num_feature)
        .map(|i| {
            let name = names.get(i).cloned().unwrap_or_else(|| format!("f{i}"));
            let dtype = match types.get(i).map(String::as_str) {
                Some("c") => DType::Categorical,
                Some("int" | "i") => DType::Int64,
                Some("float") => DType::Float32,
                _ => DType::Float64,
            };
            Input {
                name,
                dtype,
                nullable: true,
                levels: None,
                range: None,
                unseen: Default::default(),
            }
        })
        .collect())
}

/// Number of trees to use: all, or those up to `best_iteration` when early stopping
/// recorded one.
fn best_iteration_trees(
    learner: &Node,
    model: &Node,
    n_outputs: usize,
    n_trees: usize,
) -> Result<usize, ImportError> {
    let Some(attributes) = learner.opt("attributes")? else {
        return Ok(n_trees);
    };
    let Some(best) = attributes.opt("best_iteration")? else {
        return Ok(n_trees);
    };
    let best = best.as_usize()?;
    // Trees per boosting round, from `iteration_indptr` when present (XGBoost >= 2),
    // else from num_parallel_tree × outputs.
    if let Some(indptr) = model.opt("iteration_indptr")? {
        let indptr = indptr.i64_array()?;
        if let Some(end) = indptr.get(best + 1) {
            return usize::try_from(*end)
                .ok()
                .filter(|end| *end <= n_trees)
                .ok_or_else(|| {
                    model.error(format!(
                        "iteration_indptr[{}] = {end} is out of range",
                        best + 1
                    ))
                });
        }
        return Ok(n_trees);
    }
    let parallel = match model.opt("gbtree_model_param")? {
        Some(p) => match p.opt("num_parallel_tree")? {
            Some(n) => n.as_usize()?.max(1),
            None => 1,
        },
        None => 1,
    };
    Ok(((best + 1) * parallel * n_outputs).min(n_trees))
}

/// One tree, or for a tree with vector leaves (`multi_strategy="multi_output_tree"`)
/// one tree per component: the same splits, each with that component of every leaf,
/// which XGBoost adds to that target's score.
fn read_tree(node: &Node, num_feature: usize) -> Result<Vec<Tree>, ImportError> {
    let size_leaf_vector = match node.opt("tree_param")? {
        Some(param) => match param.opt("size_leaf_vector")? {
            Some(size) => size.as_usize()?.max(1),
            None => 1,
        },
        None => 1,
    };
    let left = node.get("left_children")?.i64_array()?;
    let right = node.get("right_children")?.i64_array()?;
    let feature = node.get("split_indices")?.i64_array()?;
    let condition_node = node.get("split_conditions")?;
    let condition = condition_node.f64_array()?;
    let default_left = node.get("default_left")?.i64_array()?;
    let split_type = match node.opt("split_type")? {
        Some(t) => t.i64_array()?,
        None => vec![0; left.len()],
    };
    let n = left.len();
    for (key, len) in [
        ("right_children", right.len()),
        ("split_indices", feature.len()),
        ("split_conditions", condition.len()),
        ("default_left", default_left.len()),
        ("split_type", split_type.len()),
    ] {
        if len != n {
            return Err(node.error(format!(
                "`{key}` has {len} entries but `left_children` has {n}"
            )));
        }
    }
    if n == 0 {
        return Err(node.error("the tree has no nodes"));
    }
    // Vector leaves: component k of node i's value is base_weights[i * size + k].
    let leaf_vectors = if size_leaf_vector > 1 {
        let weights = node.get("base_weights")?.f64_array()?;
        if weights.len() != n * size_leaf_vector {
            return Err(node.error(format!(
                "`base_weights` has {} entries for {n} nodes of {size_leaf_vector} values",
                weights.len()
            )));
        }
        Some(weights)
    } else {
        None
    };

    // Categorical splits: the categories of node `categories_nodes[k]` are
    // `categories[segments[k] .. segments[k] + sizes[k]]`; listed categories go right.
    let mut categorical: std::collections::HashMap<usize, Vec<u32>> = Default::default();
    if split_type.contains(&1) {
        let cats = node.get("categories")?.i64_array()?;
        let nodes = node.get("categories_nodes")?.i64_array()?;
        let segments = node.get("categories_segments")?.i64_array()?;
        let sizes = node.get("categories_sizes")?.i64_array()?;
        if nodes.len() != segments.len() || nodes.len() != sizes.len() {
            return Err(node.error(
                "`categories_nodes`, `categories_segments` and `categories_sizes` differ in length",
            ));
        }
        for k in 0..nodes.len() {
            let (start, size) = (segments[k], sizes[k]);
            let range = usize::try_from(start)
                .ok()
                .zip(usize::try_from(size).ok())
                .and_then(|(s, z)| Some(s..s.checked_add(z)?))
                .filter(|r| r.end <= cats.len())
                .ok_or_else(|| {
                    node.error(format!(
                        "category segment {k} ({start}, {size}) is out of range"
                    ))
                })?;
            let set = cats[range]
                .iter()
                .map(|c| {
                    u32::try_from(*c).map_err(|_| node.error(format!("category {c} is negative")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            categorical.insert(nodes[k] as usize, set);
        }
    }

    // Walk from the root so that deleted (pruned, unreachable) nodes are dropped. IR
    // node ids are positions in the visiting order.
    let mut new_id: Vec<Option<u32>> = vec![None; n];
    let mut visit = Vec::with_capacity(n);
    let mut stack = vec![0usize];
    new_id[0] = Some(0);
    while let Some(i) = stack.pop() {
        new_id[i] = Some(visit.len() as u32);
        visit.push(i);
        if left[i] == -1 {
            continue;
        }
        for (c, side) in [(right[i], "right"), (left[i], "left")] {
            let c = usize::try_from(c).ok().filter(|c| *c < n).ok_or_else(|| {
                node.error(format!(
                    "node {i}: {side} child {c} is out of range ({n} nodes)"
                ))
            })?;
            if new_id[c].is_some() {
                return Err(
                    node.error(format!("node {i}: child {c} is reached twice (not a tree)"))
                );
            }
            new_id[c] = Some(u32::MAX);
            stack.push(c);
        }
    }
    let id = |c: i64| new_id[c as usize].unwrap_or(u32::MAX);

    let mut nodes = Vec::with_capacity(visit.len());
    for &i in &visit {
        if left[i] == -1 {
            // A leaf: XGBoost keeps its (float32) value in split_conditions.
            nodes.push(IrNode::Leaf {
                value: f64::from(condition[i] as f32),
            });
            continue;
        }
        let f = usize::try_from(feature[i])
            .ok()
            .filter(|f| *f < num_feature)
            .ok_or_else(|| {
                node.error(format!(
                    "node {i}: split feature {} is out of range ({num_feature} features)",
                    feature[i]
                ))
            })?;
        let test = match split_type[i] {
            0 => Test::Numeric {
                cmp: Cmp::Lt,
                threshold: f64::from(condition[i] as f32),
            },
            1 => Test::Categorical {
                categories: categorical.remove(&i).ok_or_else(|| {
                    node.error(format!("node {i} is categorical but has no categories"))
                })?,
                listed: Direction::Right,
            },
            other => return Err(node.error(format!("node {i}: unknown split_type {other}"))),
        };
        let missing = if default_left[i] != 0 {
            Direction::Left
        } else {
            Direction::Right
        };
        nodes.push(IrNode::Split(Split {
            feature: f,
            test,
            missing: Missing::To(missing),
            left: id(left[i]),
            right: id(right[i]),
        }));
    }
    // Statistics for `ferry explain`, in the new node order; they never fail an import.
    let stats = stat(node, "loss_changes", n)
        .zip(stat(node, "sum_hessian", n))
        .map(|(gain, cover)| NodeStats {
            gain: visit.iter().map(|&i| gain[i]).collect(),
            cover: visit.iter().map(|&i| cover[i]).collect(),
        });
    let tree = |nodes| Tree {
        output: 0,
        weight: 1.0,
        nodes,
        stats: stats.clone(),
    };
    let Some(weights) = leaf_vectors else {
        return Ok(vec![tree(nodes)]);
    };
    Ok((0..size_leaf_vector)
        .map(|k| {
            let nodes = nodes
                .iter()
                .zip(&visit)
                .map(|(n, &i)| match n {
                    IrNode::Leaf { .. } => IrNode::Leaf {
                        value: f64::from(weights[i * size_leaf_vector + k] as f32),
                    },
                    split => split.clone(),
                })
                .collect();
            tree(nodes)
        })
        .collect())
}

/// A per-node statistic (`loss_changes`, `sum_hessian`), nulls (XGBoost's bare `NaN`)
/// as NaN; `None` when it is missing or malformed.
fn stat(node: &Node, key: &str, n: usize) -> Option<Vec<f64>> {
    let items = node.opt(key).ok()??.items().ok()?;
    let values: Vec<f64> = items
        .iter()
        .map(|v| match v.value {
            Value::Null => Some(f64::NAN),
            other => other.as_f64(),
        })
        .collect::<Option<_>>()?;
    (values.len() == n).then_some(values)
}

/// XGBoost >= 3.1 stores the training categories of DataFrame inputs under
/// `gradient_booster.model.cats.enc`: one entry per feature, empty for numeric ones,
/// `{offsets, values}` (UTF-8 bytes) for strings or `{type, values}` for integers.
/// A tree's category code is the position in that list.
fn read_categories(cats: &Node, inputs: &mut [Input]) -> Result<(), ImportError> {
    let Some(enc) = cats.opt("enc")? else {
        return Ok(());
    };
    let entries = enc.items()?;
    if entries.is_empty() {
        return Ok(());
    }
    if entries.len() != inputs.len() {
        return Err(enc.error(format!(
            "{} entries for {} features",
            entries.len(),
            inputs.len()
        )));
    }
    for (entry, input) in entries.iter().zip(inputs.iter_mut()) {
        let levels: Vec<String> = match entry.value {
            Value::Object(map) if map.is_empty() => continue,
            Value::Array(items) if items.is_empty() => continue,
            Value::Object(_) => {
                let values = entry.get("values")?;
                if let Some(offsets) = entry.opt("offsets")? {
                    let offsets = offsets.i64_array()?;
                    let bytes: Vec<u8> = values.i64_array()?.into_iter().map(|b| b as u8).collect();
                    offsets
                        .windows(2)
                        .map(|w| {
                            let range = usize::try_from(w[0])
                                .ok()
                                .zip(usize::try_from(w[1]).ok())
                                .filter(|(a, b)| a <= b && *b <= bytes.len())
                                .ok_or_else(|| entry.error("category offsets are out of range"))?;
                            String::from_utf8(bytes[range.0..range.1].to_vec())
                                .map_err(|_| entry.error("a category name is not UTF-8"))
                        })
                        .collect::<Result<_, _>>()?
                } else {
                    values.i64_array()?.iter().map(i64::to_string).collect()
                }
            }
            _ => return Err(entry.error("expected an object")),
        };
        if levels.is_empty() {
            continue;
        }
        input.dtype = DType::Categorical;
        input.levels = Some(levels);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::replace_non_finite;
    use crate::{import, ImportOptions};

    #[test]
    fn several_quantiles_are_sorted_per_row() {
        // The two-target fixture, relabelled as a two-quantile model: XGBoost sorts each
        // row's predictions, a two-target squared-error model does not.
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/xgboost/xgb_multi_target/model.json"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let plain = import(text.as_bytes(), &ImportOptions::default()).unwrap();
        assert_eq!(plain.transform, ferry_ir::Transform::Identity);
        let text = text.replacen(
            r#""name":"reg:squarederror""#,
            r#""name":"reg:quantileerror""#,
            1,
        );
        assert!(text.contains("reg:quantileerror"));
        let model = import(text.as_bytes(), &ImportOptions::default()).unwrap();
        assert_eq!(model.transform, ferry_ir::Transform::Sort);
    }

    #[test]
    fn bare_non_finite_tokens_become_null_outside_strings() {
        let text = br#"{"a":[NaN,-Infinity,Infinity,1E0],"b":"NaN \"Infinity\""}"#;
        let cleaned = replace_non_finite(text).unwrap();
        assert_eq!(
            String::from_utf8(cleaned).unwrap(),
            r#"{"a":[null,null,null,1E0],"b":"NaN \"Infinity\""}"#
        );
        assert!(replace_non_finite(br#"{"a":"NaN"}"#).is_none());
    }
}
