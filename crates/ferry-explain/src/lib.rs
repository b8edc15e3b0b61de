//! `ferry explain`: a model as people read it. Linear models and GLMs become an
//! equation with the link written out and a coefficient table grouped by source column;
//! a single tree becomes nested if/else rules and a flat list of rules, one per leaf,
//! with each feature's conditions merged into one interval; an ensemble becomes a
//! summary with gain, cover (where the file records them) and split-count importance.
//! Preprocessing is listed as formulas. [`distill`] fits readable surrogate trees.
//!
//! [`explain`] builds an [`Explanation`] (serialisable: `--format json`);
//! [`text`] and [`markdown`] render it.

pub mod distill;
mod render;
mod rules;

use ferry_ir::{Estimator, Expr, Model, Precision, Task, Transform};
use serde::Serialize;

pub use render::{markdown, text};
pub use rules::{Bound, Condition, Rule};

#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub library: String,
    pub format: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objective: Option<String>,
    pub task: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<String>>,
    /// How the label is chosen, where it is not the first most probable class in class
    /// order (PMML's own rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub inputs: Vec<String>,
    /// Derived columns, in the order they are computed.
    pub preprocessing: Vec<Step>,
    /// How raw scores become predictions.
    pub link: String,
    pub estimator: Body,
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub name: String,
    pub formula: String,
    /// The step in words, for the shapes preprocessing usually has (imputation,
    /// scaling, one-hot encoding, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub words: Option<String>,
    /// The input columns it is computed from.
    pub from: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    Linear {
        equations: Vec<Equation>,
        /// Coefficients grouped by the input column they come from (a one-hot
        /// encoder's columns under their source), largest effect first.
        groups: Vec<Group>,
    },
    Tree {
        /// Values compared in float32 (XGBoost, LightGBM, ONNX) or float64.
        precision: String,
        /// One rule per leaf, in depth-first order (left before right).
        rules: Vec<Rule>,
        /// The tree as nested if/else, as text.
        nested: String,
    },
    Ensemble {
        trees: usize,
        outputs: usize,
        aggregation: String,
        max_depth: usize,
        leaves: usize,
        /// Features by total gain where the file records it, else by the number of
        /// splits on them.
        importance: Vec<Importance>,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Equation {
    /// What the score is for: `score`, or `score[class]`.
    pub output: String,
    pub intercept: f64,
    /// Non-zero terms, largest |coefficient| first.
    pub terms: Vec<Term>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Term {
    pub feature: String,
    pub coefficient: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub source: String,
    pub features: Vec<String>,
    /// The largest |coefficient| among them, over every output.
    pub max_abs: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Importance {
    pub feature: String,
    pub splits: usize,
    /// Share of all splits.
    pub share: f64,
    /// Total loss reduction of the feature's splits, where the file records it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gain: Option<f64>,
    /// Total training weight (XGBoost hessian sum, LightGBM rows) through its splits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cover: Option<f64>,
}

/// Deeper trees are summarised, not printed as rules (which grow with the depth).
const MAX_RULE_DEPTH: usize = 64;

/// The tree to print as rules: a single tree (see [`rules::single_tree`]) no deeper
/// than [`MAX_RULE_DEPTH`].
fn printable_tree(ensemble: &ferry_ir::TreeEnsemble) -> Option<Vec<&ferry_ir::Tree>> {
    rules::single_tree(ensemble).filter(|trees| trees.iter().all(|t| depth(t) <= MAX_RULE_DEPTH))
}

/// A tree's depth, without recursion (a model file's tree may be a chain of any
/// length); a node reached twice (a malformed file) is not followed again.
fn depth(tree: &ferry_ir::Tree) -> usize {
    let mut deepest = 0;
    let mut seen = vec![false; tree.nodes.len()];
    let mut stack = vec![(0usize, 0usize)];
    while let Some((at, d)) = stack.pop() {
        if let Some(ferry_ir::Node::Split(split)) = tree.nodes.get(at) {
            if std::mem::replace(&mut seen[at], true) {
                continue;
            }
            deepest = deepest.max(d + 1);
            stack.push((split.left as usize, d + 1));
            stack.push((split.right as usize, d + 1));
        }
    }
    deepest
}

/// The name of column `c` of the model's column space.
pub(crate) fn column_name(model: &Model, c: usize) -> String {
    match model.inputs.get(c) {
        Some(input) => input.name.clone(),
        None => model
            .derived
            .get(c - model.inputs.len())
            .map_or_else(|| format!("column {c}"), |d| d.name.clone()),
    }
}

/// The name of estimator feature `j`.
pub(crate) fn feature_name(model: &Model, j: usize) -> String {
    column_name(model, model.feature_column(j))
}

/// The input columns column `c` is computed from.
fn sources(model: &Model, c: usize, out: &mut Vec<usize>) {
    if c < model.inputs.len() {
        if !out.contains(&c) {
            out.push(c);
        }
        return;
    }
    if let Some(d) = model.derived.get(c - model.inputs.len()) {
        expr_columns(&d.expr, &mut |column| sources(model, column, out));
    }
}

fn expr_columns(expr: &Expr, f: &mut dyn FnMut(usize)) {
    match expr {
        Expr::Column { index } => f(*index),
        Expr::Const { .. } => {}
        Expr::Unary { x, .. } | Expr::IsMissing { x } | Expr::Lookup { x, .. } => {
            expr_columns(x, f)
        }
        Expr::Binary { a, b, .. } | Expr::Compare { a, b, .. } => {
            expr_columns(a, f);
            expr_columns(b, f);
        }
        Expr::If {
            cond,
            then,
            otherwise,
        } => {
            expr_columns(cond, f);
            expr_columns(then, f);
            expr_columns(otherwise, f);
        }
        Expr::Dot { columns, .. } => columns.iter().for_each(|c| f(*c)),
    }
}

fn source_names(model: &Model, c: usize) -> Vec<String> {
    let mut found = Vec::new();
    sources(model, c, &mut found);
    found.sort_unstable();
    found
        .iter()
        .map(|i| model.inputs[*i].name.clone())
        .collect()
}

/// The link from raw scores to predictions, in words.
fn link(model: &Model) -> String {
    let classes = match &model.task {
        Task::Classification { classes, .. } => Some(classes),
        Task::Regression => None,
    };
    let binary_single = classes.is_some_and(|c| c.len() == 2) && model.estimator.n_outputs() == 1;
    match (model.transform, classes) {
        (Transform::Identity, None) => "prediction = score".into(),
        (Transform::Identity, Some(_)) => "probability of each class = its score".into(),
        (Transform::Exp, _) => "prediction = exp(score)  (log link)".into(),
        (Transform::Sort, _) => {
            "predictions = the scores in ascending order  (quantiles that never cross)".into()
        }
        (Transform::Logistic { scale }, Some(c)) if binary_single => {
            let s = if scale == 1.0 {
                String::new()
            } else {
                format!("{scale} * ")
            };
            format!(
                "P({}) = 1 / (1 + exp(-{s}score)), P({}) = 1 - P({})  (logit link)",
                c[1], c[0], c[1]
            )
        }
        (Transform::Logistic { scale }, _) => {
            let s = if scale == 1.0 {
                String::new()
            } else {
                format!("{scale} * ")
            };
            format!("value = 1 / (1 + exp(-{s}score)) for each score")
        }
        (Transform::Softmax, _) => {
            "P(class k) = exp(score[k]) / sum over j of exp(score[j])  (softmax)".into()
        }
        (Transform::Link { link, complement }, classes) => {
            let f = match link {
                ferry_ir::Link::Probit => "Phi(score), the standard normal distribution".into(),
                ferry_ir::Link::Cloglog => "1 - exp(-exp(score))".into(),
                ferry_ir::Link::Loglog => "exp(-exp(-score))".into(),
                ferry_ir::Link::Cauchit => "0.5 + atan(score) / pi".into(),
                ferry_ir::Link::Power { exponent } => format!("score^{exponent}"),
                ferry_ir::Link::SignedSquare => "sign(score) * score^2 (reg_sqrt)".into(),
                ferry_ir::Link::Softplus => "ln(1 + exp(score)) (cross_entropy_lambda)".into(),
                ferry_ir::Link::Step => "1 if score > 0, else 0 (hinge)".into(),
                ferry_ir::Link::Float32Logit => {
                    "1 / (1 + 2.7182817^(-score)) in float32 (JPMML)".into()
                }
            };
            match classes {
                Some(c) if binary_single && complement => format!(
                    "P({}) = {f}, P({}) = 1 - P({})  ({} link)",
                    c[0],
                    c[1],
                    c[0],
                    link.name()
                ),
                Some(c) if binary_single => format!(
                    "P({}) = {f}, P({}) = 1 - P({})  ({} link)",
                    c[1],
                    c[0],
                    c[1],
                    link.name()
                ),
                _ => format!("value = {f} for each score  ({} link)", link.name()),
            }
        }
    }
}

/// The label rule in words, where it is not the first most probable class.
fn label_rule(model: &Model) -> Option<String> {
    let Task::Classification {
        classes,
        label_order,
        label_column,
    } = &model.task
    else {
        return None;
    };
    match (label_column, label_order) {
        (Some(c), _) => Some(format!(
            "the class whose index `{}` holds (the model's own rule: a PMML tree node's \
             score, a vote, an SVM's one-against-one votes), not necessarily the one with \
             the highest score",
            column_name(model, *c)
        )),
        (None, Some(order)) => Some(format!(
            "the most probable class; on a tie the first in the order {}",
            order
                .iter()
                .map(|&k| classes[k].as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        (None, None) => None,
    }
}

pub fn explain(model: &Model) -> Explanation {
    let classes = match &model.task {
        Task::Classification { classes, .. } => Some(classes.clone()),
        Task::Regression => None,
    };
    let n_inputs = model.inputs.len();
    let preprocessing = model
        .derived
        .iter()
        .enumerate()
        .map(|(d, derived)| Step {
            name: derived.name.clone(),
            formula: render::formula(model, &derived.expr),
            words: render::words(model, &derived.expr),
            from: source_names(model, n_inputs + d),
        })
        .collect();
    let output_name = |k: usize, n: usize| -> String {
        match &classes {
            Some(c) if n == c.len() && n > 1 => format!("score[{}]", c[k]),
            Some(c) if n == 1 && c.len() == 2 => format!("score (log-odds of {})", c[1]),
            _ if n == 1 => "score".into(),
            _ => format!("score[{k}]"),
        }
    };
    let printable = match &model.estimator {
        Estimator::Trees(ensemble) => printable_tree(ensemble),
        Estimator::Linear(_) => None,
    };
    let estimator = match (&model.estimator, printable) {
        (Estimator::Linear(linear), _) => {
            let n = linear.intercepts.len();
            let equations = (0..n)
                .map(|k| {
                    let mut terms: Vec<Term> = linear.coefficients[k]
                        .iter()
                        .enumerate()
                        .filter(|(_, w)| **w != 0.0)
                        .map(|(j, w)| Term {
                            feature: feature_name(model, j),
                            coefficient: *w,
                        })
                        .collect();
                    terms.sort_by(|a, b| b.coefficient.abs().total_cmp(&a.coefficient.abs()));
                    Equation {
                        output: output_name(k, n),
                        intercept: linear.intercepts[k],
                        terms,
                    }
                })
                .collect();
            let mut groups: Vec<Group> = Vec::new();
            for j in 0..model.n_features() {
                let source = source_names(model, model.feature_column(j)).join(", ");
                let max_abs = linear
                    .coefficients
                    .iter()
                    .map(|row| row[j].abs())
                    .fold(0.0, f64::max);
                let feature = feature_name(model, j);
                match groups.iter_mut().find(|g| g.source == source) {
                    Some(g) => {
                        g.features.push(feature);
                        g.max_abs = g.max_abs.max(max_abs);
                    }
                    None => groups.push(Group {
                        source,
                        features: vec![feature],
                        max_abs,
                    }),
                }
            }
            groups.sort_by(|a, b| b.max_abs.total_cmp(&a.max_abs));
            Body::Linear { equations, groups }
        }
        (Estimator::Trees(ensemble), Some(trees)) => {
            let rules = rules::rules(model, ensemble, &trees);
            Body::Tree {
                precision: match ensemble.feature_precision {
                    Precision::F32 => "float32".into(),
                    Precision::F64 => "float64".into(),
                },
                nested: render::nested(model, trees[0], &rules),
                rules,
            }
        }
        (Estimator::Trees(ensemble), None) => {
            let mut counts = vec![0usize; model.n_features()];
            // Gain and cover summed per feature, when every tree records them (XGBoost's
            // `total_gain`/`total_cover`, LightGBM's `feature_importance("gain")`).
            let with_stats = ensemble.trees.iter().all(|t| t.stats.is_some());
            let mut gains = vec![0.0f64; model.n_features()];
            let mut covers = vec![0.0f64; model.n_features()];
            let mut leaves = 0;
            let mut linear = 0;
            for tree in &ensemble.trees {
                for (i, node) in tree.nodes.iter().enumerate() {
                    match node {
                        ferry_ir::Node::Split(s) => {
                            if let Some(c) = counts.get_mut(s.feature) {
                                *c += 1;
                            }
                            if let (Some(stats), true) = (&tree.stats, s.feature < gains.len()) {
                                let (g, c) = (stats.gain[i], stats.cover[i]);
                                gains[s.feature] += if g.is_finite() { g } else { 0.0 };
                                covers[s.feature] += if c.is_finite() { c } else { 0.0 };
                            }
                        }
                        ferry_ir::Node::Leaf { .. } => leaves += 1,
                        ferry_ir::Node::LinearLeaf(_) => {
                            leaves += 1;
                            linear += 1;
                        }
                    }
                }
            }
            let total: usize = counts.iter().sum();
            let mut importance: Vec<Importance> = counts
                .iter()
                .enumerate()
                .filter(|(_, c)| **c > 0)
                .map(|(j, c)| Importance {
                    feature: feature_name(model, j),
                    splits: *c,
                    share: *c as f64 / total.max(1) as f64,
                    gain: with_stats.then_some(gains[j]),
                    cover: with_stats.then_some(covers[j]),
                })
                .collect();
            if with_stats {
                importance.sort_by(|a, b| {
                    b.gain
                        .unwrap_or(0.0)
                        .total_cmp(&a.gain.unwrap_or(0.0))
                        .then(a.feature.cmp(&b.feature))
                });
            } else {
                importance.sort_by(|a, b| b.splits.cmp(&a.splits).then(a.feature.cmp(&b.feature)));
            }
            Body::Ensemble {
                trees: ensemble.trees.len(),
                outputs: ensemble.n_outputs,
                aggregation: {
                    let how = match ensemble.aggregation {
                        ferry_ir::Aggregation::Sum => "sum of the trees' leaves (boosting)",
                        ferry_ir::Aggregation::Average => "average of the trees' leaves (forest)",
                    };
                    if linear > 0 {
                        format!(
                            "{how}; {linear} leaves are linear in the features (LightGBM linear trees)"
                        )
                    } else {
                        how.into()
                    }
                },
                max_depth: ensemble
                    .trees
                    .iter()
                    .map(ferry_ir::Tree::depth)
                    .max()
                    .unwrap_or(0),
                leaves,
                importance,
            }
        }
    };
    Explanation {
        library: model.source.library.clone(),
        format: model.source.format.clone(),
        objective: model.source.objective.clone(),
        task: match &model.task {
            Task::Regression => match model.estimator.n_outputs() {
                1 => "regression".into(),
                n => format!("regression ({n} targets)"),
            },
            Task::Classification { .. } => "classification".into(),
        },
        label: label_rule(model),
        classes,
        inputs: model.inputs.iter().map(|i| i.name.clone()).collect(),
        preprocessing,
        link: link(model),
        estimator,
    }
}
