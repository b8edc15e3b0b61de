//! Model elements into an IR estimator: RegressionModel, GeneralRegressionModel (see
//! [`super::glm`]), TreeModel and the MiningModel shapes exporters write for forests and
//! boosted trees (segments summed or averaged, and boosted classifiers as a model chain
//! of per-class sums into a RegressionModel that normalises them).

use std::collections::HashMap;

use ferry_ir::{
    Aggregation, BinaryFn, CompareOp, Estimator, Expr, Linear, Model, Node, Precision, Source,
    Split, Task, Transform, Tree, TreeEnsemble, IR_VERSION,
};

use super::fields::{data_dictionary, Builder, DataField, Field, Kind};
use super::tree::{Shape, TreeOptions};
use super::xml::{parse_number, El};
use crate::ImportError;

/// Model elements of PMML 4.4 that ferry does not read, for a clear refusal.
const OTHER_MODELS: &[&str] = &[
    "AnomalyDetectionModel",
    "AssociationModel",
    "BayesianNetworkModel",
    "BaselineModel",
    "ClusteringModel",
    "GaussianProcessModel",
    "NearestNeighborModel",
    "RuleSetModel",
    "SequenceModel",
    "Scorecard",
    "TextModel",
    "TimeSeriesModel",
];

pub(crate) const MODELS: &[&str] = &[
    "NaiveBayesModel",
    "NeuralNetwork",
    "RegressionModel",
    "GeneralRegressionModel",
    "SupportVectorMachineModel",
    "TreeModel",
    "MiningModel",
];

pub(crate) fn translate(root: El<'_, '_>) -> Result<Model, ImportError> {
    if root.name() != "PMML" {
        return Err(root.error("the root element must be <PMML>"));
    }
    let version = root.attr("version").unwrap_or("");
    if !(version.starts_with("4.") || version.starts_with("3.")) {
        return Err(root.unsupported(format!(
            "PMML version `{version}` (ferry reads 3.x and 4.x)"
        )));
    }
    let dictionary = data_dictionary(root)?;
    let model = root
        .elements()
        .find(|e| MODELS.contains(&e.name()) || OTHER_MODELS.contains(&e.name()))
        .ok_or_else(|| root.error("the document holds no model element"))?;
    if OTHER_MODELS.contains(&model.name()) {
        return Err(model.unsupported(format!(
            "the model type {} (ferry reads RegressionModel, GeneralRegressionModel, TreeModel, NeuralNetwork, NaiveBayesModel, SupportVectorMachineModel and MiningModel)",
            model.name()
        )));
    }
    if model.attr("isScorable") == Some("false") {
        return Err(model.error("the model is marked isScorable=\"false\""));
    }
    let schema = model.req_child("MiningSchema")?;
    let mut b = Builder::new(root)?;
    b.add_inputs(&dictionary, schema)?;
    let target = target_field(&dictionary, schema)?;
    let classes = match model.req("functionName")? {
        "regression" => None,
        "classification" => Some(classes(target, model)?),
        other => return Err(model.unsupported(format!("functionName `{other}`"))),
    };
    b.push_scope(model)?;
    let scored = b.model(model, classes.as_deref())?;
    b.pop_scope();
    let order = match &classes {
        Some(classes) => label_order(model, classes)?,
        None => None,
    };
    let label = label_expr(&mut b, model, &scored, classes.as_deref(), order.as_deref())?;
    // JPMML checks a value when the model reads it: a regression reads every field,
    // a tree only those on the row's path (there an invalid value is read as missing,
    // and the prediction differs from JPMML only on rows JPMML refuses).
    let reads_every_field = matches!(scored, Scored::Linear { .. });
    let (mut estimator, mut features, transform) = scored.into_estimator(&mut b)?;
    if reads_every_field {
        refuse_rows(&mut b, &mut estimator, &mut features);
    }
    let label_column = label.map(|e| b.column("label", e));
    let header = root.child("Header");
    let application = header.and_then(|h| h.child("Application"));
    let source = Source {
        format: "pmml".to_string(),
        library: application
            .and_then(|a| a.attr("name"))
            .unwrap_or("pmml")
            .to_string(),
        library_version: application
            .and_then(|a| a.attr("version"))
            .map(String::from),
        objective: Some(format!("{} ({})", model.name(), model.req("functionName")?)),
    };
    Ok(Model {
        ir_version: IR_VERSION,
        source,
        inputs: b.inputs,
        derived: b.derived,
        features: Some(features),
        estimator,
        transform,
        task: match classes {
            None => Task::Regression,
            Some(classes) => Task::Classification {
                classes,
                label_order: order,
                label_column,
            },
        },
    })
}

/// The label JPMML gives a row where it is not the first most probable class in the
/// label order: a tree's node `score` (where some leaf's score is not its most probable
/// class), a segmentation's own rule (votes). `None` where the probabilities decide.
fn label_expr<'a, 'i>(
    b: &mut Builder<'a, 'i>,
    model: El<'a, 'i>,
    scored: &Scored<'a, 'i>,
    classes: Option<&[String]>,
    order: Option<&[usize]>,
) -> Result<Option<Expr>, ImportError> {
    let Some(classes) = classes else {
        return Ok(None);
    };
    match scored {
        Scored::Values { label, .. } => Ok(label.clone()),
        Scored::Trees { outputs, .. } if model.name() == "TreeModel" => {
            let order = order.map_or_else(|| (0..classes.len()).collect(), <[usize]>::to_vec);
            let shape = &outputs[0].trees[0].0;
            let by_score = Leaf::Label(classes.to_vec().into());
            let mut agree = true;
            for node in shape {
                let Shape::Leaf(el) = node else { continue };
                let score = leaf_value(*el, &by_score)?;
                if score.is_nan() {
                    // A leaf without a score (or one that is no class) is labelled by
                    // its probabilities: keep that rule for the whole tree.
                    return Ok(None);
                }
                let mut probabilities = Vec::with_capacity(classes.len());
                for class in classes {
                    probabilities.push(leaf_value(*el, &Leaf::Probability(class.as_str().into()))?);
                }
                let best = ferry_ir::first_max(&probabilities, &order);
                if best.map(|k| k as f64) != Some(score) {
                    agree = false;
                    break;
                }
            }
            if agree {
                return Ok(None);
            }
            Ok(Some(b.tree_expr(shape, &by_score, 1.0, model)?))
        }
        _ => Ok(None),
    }
}

/// The order in which JPMML-Evaluator scans the classes for the label: the first
/// maximum in the order the model produced its probabilities (a `LinkedHashMap` in
/// JPMML). `None` where that is the class order, or where it depends on the row (then
/// the class order is kept).
pub(crate) fn label_order(
    model: El<'_, '_>,
    classes: &[String],
) -> Result<Option<Vec<usize>>, ImportError> {
    let Some(listed) = own_order(model, classes)? else {
        return Ok(None);
    };
    // Classes the model does not list come last, in class order.
    let mut order: Vec<usize> = Vec::with_capacity(classes.len());
    for k in listed.into_iter().chain(0..classes.len()) {
        if k < classes.len() && !order.contains(&k) {
            order.push(k);
        }
    }
    Ok((order != (0..classes.len()).collect::<Vec<_>>()).then_some(order))
}

/// The classes in the order a model element lists its probabilities (possibly not all
/// of them); `None` where the order is not fixed by the file.
fn own_order(model: El<'_, '_>, classes: &[String]) -> Result<Option<Vec<usize>>, ImportError> {
    let index = |c: &str| classes.iter().position(|k| k == c);
    Ok(match model.name() {
        // The tables in document order.
        "RegressionModel" => Some(
            model
                .children_named("RegressionTable")
                .filter_map(|t| t.attr("targetCategory").and_then(index))
                .collect(),
        ),
        // The priors' order.
        "NaiveBayesModel" => model
            .child("BayesOutput")
            .and_then(|o| o.child("TargetValueCounts"))
            .map(|t| {
                t.children_named("TargetValueCount")
                    .filter_map(|c| c.attr("value").and_then(index))
                    .collect()
            }),
        // The target's values with the reference category last.
        "GeneralRegressionModel" => {
            let reference = super::glm::reference_category(model, classes)?;
            Some(
                (0..classes.len())
                    .filter(|&k| classes[k] != reference)
                    .chain(index(&reference))
                    .collect(),
            )
        }
        // The leaf's ScoreDistributions in document order: fixed when every node lists
        // them in the same order.
        "TreeModel" => {
            let mut seen: Option<Vec<usize>> = None;
            for node in model.0.descendants().filter(|n| n.has_tag_name("Node")) {
                let node = El(node);
                let order: Vec<usize> = node
                    .children_named("ScoreDistribution")
                    .filter_map(|d| d.attr("value").and_then(index))
                    .collect();
                if order.is_empty() {
                    continue;
                }
                match &seen {
                    None => seen = Some(order),
                    Some(first) if *first == order => {}
                    Some(_) => return Ok(None),
                }
            }
            seen
        }
        "MiningModel" => {
            let Some(seg) = model.child("Segmentation") else {
                return Ok(None);
            };
            let mut models = Vec::new();
            for s in seg.children_named("Segment") {
                let Some(predicate) = s.elements().next() else {
                    return Ok(None);
                };
                let m = s.elements().find(|e| MODELS.contains(&e.name()));
                models.push((predicate.name() == "True", m));
            }
            match seg.attr("multipleModelMethod") {
                // The result is the last segment's.
                Some("modelChain") => match models.last() {
                    Some((_, Some(m))) => own_order(*m, classes)?,
                    _ => None,
                },
                // Classes in order of first appearance over the segments, each in its
                // own order: fixed when every segment always takes part.
                Some("average" | "weightedAverage") => {
                    let mut order = Vec::new();
                    for (always, m) in models {
                        let (true, Some(m)) = (always, m) else {
                            return Ok(None);
                        };
                        let Some(own) = own_order(m, classes)? else {
                            return Ok(None);
                        };
                        for k in own {
                            if !order.contains(&k) {
                                order.push(k);
                            }
                        }
                    }
                    Some(order)
                }
                _ => None,
            }
        }
        _ => None,
    })
}

/// Rows JPMML refuses (`returnInvalid`) get no prediction: a column that is 0, or
/// missing for such a row, added to every raw score as a last linear term.
fn refuse_rows(b: &mut Builder<'_, '_>, estimator: &mut Estimator, features: &mut Vec<usize>) {
    let Estimator::Linear(linear) = estimator else {
        return;
    };
    let Some(any) = b
        .refused
        .clone()
        .into_iter()
        .reduce(|x, y| Expr::binary(BinaryFn::Max, x, y, Precision::F64))
    else {
        return;
    };
    let poison = b.column(
        "refused",
        Expr::if_else(any, Expr::constant(f64::NAN), Expr::constant(0.0)),
    );
    features.push(poison);
    for row in &mut linear.coefficients {
        row.push(1.0);
    }
}

fn target_field<'d, 'a, 'i>(
    dictionary: &'d [DataField<'a, 'i>],
    schema: El<'a, 'i>,
) -> Result<Option<&'d DataField<'a, 'i>>, ImportError> {
    let Some(mf) = schema
        .children_named("MiningField")
        .find(|m| matches!(m.attr("usageType"), Some("predicted" | "target")))
    else {
        return Ok(None);
    };
    let name = mf.req("name")?;
    Ok(dictionary.iter().find(|d| d.name == name))
}

/// The class labels, in the order of the target field's values (else as the model
/// lists them).
pub(crate) fn classes(
    target: Option<&DataField<'_, '_>>,
    model: El<'_, '_>,
) -> Result<Vec<String>, ImportError> {
    if let Some(t) = target {
        if !t.valid.is_empty() {
            return Ok(t.valid.clone());
        }
    }
    let mut out: Vec<String> = Vec::new();
    for el in model.0.descendants().filter(roxmltree::Node::is_element) {
        let el = El(el);
        // The attributes that name classes, by element.
        let names: &[&str] = match el.name() {
            "RegressionTable" => &["targetCategory"],
            "ScoreDistribution" => &["value"],
            "SupportVectorMachine" => &["targetCategory", "alternateTargetCategory"],
            // The priors of a NaiveBayesModel (BayesOutput/TargetValueCounts).
            "TargetValueCount"
                if el
                    .0
                    .parent()
                    .and_then(|p| p.parent())
                    .is_some_and(|g| g.has_tag_name("BayesOutput")) =>
            {
                &["value"]
            }
            _ => &[],
        };
        for v in names.iter().filter_map(|n| el.attr(n)) {
            if !out.iter().any(|o| o == v) {
                out.push(v.to_string());
            }
        }
    }
    if out.len() < 2 {
        return Err(model.error("a classification model needs two or more target categories"));
    }
    Ok(out)
}

/// What a model element computes, before it is laid out as one IR estimator.
pub(crate) enum Scored<'a, 'i> {
    /// Raw scores `intercept[k] + Σ coef[k][j] * column[j]` and a transform.
    Linear {
        columns: Vec<usize>,
        coefficients: Vec<Vec<f64>>,
        intercepts: Vec<f64>,
        transform: Transform,
    },
    /// Per raw score: trees whose leaf values (`leaf(el, k)`) are summed or averaged,
    /// times `scale`, plus `base`; then a transform.
    Trees {
        outputs: Vec<OutputTrees<'a, 'i>>,
        transform: Transform,
    },
    /// The outputs themselves (the prediction, or each class's probability), as
    /// expressions over the column space ([`super::compose`]); with `label`, the class
    /// index JPMML labels a row with where that is not the most probable class.
    Values {
        values: Vec<Expr>,
        label: Option<Expr>,
    },
}

pub(crate) struct OutputTrees<'a, 'i> {
    /// Whether JPMML computes this sum in float32 (`x-mathContext="float"`, XGBoost).
    pub float: bool,
    pub base: f64,
    pub scale: f64,
    pub aggregation: Aggregation,
    /// Each tree with the output index of the PMML leaves it reads (a class index for
    /// probability trees, `None` for a regression score).
    pub trees: Vec<(Vec<Shape<'a, 'i>>, Leaf)>,
}

#[derive(Clone)]
pub(crate) enum Leaf {
    Score,
    /// The probability of the class with this label.
    Probability(std::rc::Rc<str>),
    /// The index of the node's `score` among these classes (a tree's vote).
    Label(std::rc::Rc<[String]>),
}

impl<'a, 'i> Builder<'a, 'i> {
    pub fn model(
        &mut self,
        model: El<'a, 'i>,
        classes: Option<&[String]>,
    ) -> Result<Scored<'a, 'i>, ImportError> {
        let scored = self.model_only(model, classes)?;
        if complex_targets(model) {
            if classes.is_some() {
                return Err(model.unsupported("Targets on a classification model"));
            }
            return self.post_targets(model, scored);
        }
        Ok(scored)
    }

    /// The model without the Targets that `post_targets` applies.
    fn model_only(
        &mut self,
        model: El<'a, 'i>,
        classes: Option<&[String]>,
    ) -> Result<Scored<'a, 'i>, ImportError> {
        match model.name() {
            "RegressionModel" => self.regression_model(model, classes),
            "GeneralRegressionModel" => self.general_regression(model, classes),
            "NeuralNetwork" => self.neural_network(model, classes),
            "NaiveBayesModel" => self.naive_bayes(model, classes),
            "SupportVectorMachineModel" => self.support_vector_machine(model, classes),
            "TreeModel" => {
                let options = TreeOptions::of(model)?;
                let root = model.req_child("Node")?;
                let shape = self.tree_shape(root, &options)?;
                let (base, scale) = rescale(model)?;
                Ok(match classes {
                    None => Scored::Trees {
                        outputs: vec![OutputTrees {
                            float: float_math(model),
                            base,
                            scale,
                            aggregation: Aggregation::Sum,
                            trees: vec![(shape, Leaf::Score)],
                        }],
                        transform: Transform::Identity,
                    },
                    Some(classes) => Scored::Trees {
                        outputs: (0..classes.len())
                            .map(|k| OutputTrees {
                                float: float_math(model),
                                base: 0.0,
                                scale: 1.0,
                                aggregation: Aggregation::Sum,
                                trees: vec![(
                                    shape.clone(),
                                    Leaf::Probability(classes[k].as_str().into()),
                                )],
                            })
                            .collect(),
                        transform: Transform::Identity,
                    },
                })
            }
            "MiningModel" => self.mining_model(model, classes),
            other => Err(model.unsupported(format!("<{other}> here"))),
        }
    }

    fn regression_model(
        &mut self,
        model: El<'a, 'i>,
        classes: Option<&[String]>,
    ) -> Result<Scored<'a, 'i>, ImportError> {
        let method = model.attr("normalizationMethod").unwrap_or("none");
        let tables: Vec<El<'a, 'i>> = model.children_named("RegressionTable").collect();
        let mut columns: Vec<usize> = Vec::new();
        let mut rows: Vec<(Option<&str>, f64, HashMap<usize, f64>)> = Vec::new();
        for table in &tables {
            let mut terms: HashMap<usize, f64> = HashMap::new();
            let mut add = |c: usize, w: f64, columns: &mut Vec<usize>| {
                if !columns.contains(&c) {
                    columns.push(c);
                }
                *terms.entry(c).or_insert(0.0) += w;
            };
            for p in table.elements() {
                match p.name() {
                    "NumericPredictor" => {
                        let field = self.resolve(p.req("name")?, p)?;
                        number_field(&field, p)?;
                        let exponent = p.f64_or("exponent", 1.0)?;
                        let c = if exponent == 1.0 {
                            field.column
                        } else {
                            self.column(
                                p.req("name")?,
                                Expr::binary(
                                    BinaryFn::Pow,
                                    Expr::column(field.column),
                                    Expr::constant(exponent),
                                    Precision::F64,
                                ),
                            )
                        };
                        add(c, p.f64_req("coefficient")?, &mut columns);
                    }
                    "CategoricalPredictor" => {
                        let field = self.resolve(p.req("name")?, p)?;
                        let value = field.value_of(p.req("value")?, p)?;
                        let Some(value) = value else { continue };
                        let name = format!("{}={}", p.req("name")?, p.req("value")?);
                        // JPMML: a missing value matches no category (the term is 0).
                        let c = self.column(
                            &name,
                            Expr::compare(
                                CompareOp::Eq,
                                Expr::column(field.column),
                                Expr::constant(value),
                            ),
                        );
                        add(c, p.f64_req("coefficient")?, &mut columns);
                    }
                    "PredictorTerm" => {
                        let mut product: Option<Expr> = None;
                        let mut names = Vec::new();
                        for f in p.children_named("FieldRef") {
                            let field = self.resolve(f.req("field")?, f)?;
                            number_field(&field, f)?;
                            names.push(f.req("field")?);
                            let x = Expr::column(field.column);
                            product = Some(match product {
                                None => x,
                                Some(acc) => Expr::binary(BinaryFn::Mul, acc, x, Precision::F64),
                            });
                        }
                        let product =
                            product.ok_or_else(|| p.error("a PredictorTerm needs FieldRefs"))?;
                        let c = self.column(&names.join("*"), product);
                        add(c, p.f64_req("coefficient")?, &mut columns);
                    }
                    other => return Err(p.unsupported(format!("<{other}> in a RegressionTable"))),
                }
            }
            rows.push((
                table.attr("targetCategory"),
                table.f64_or("intercept", 0.0)?,
                terms,
            ));
        }
        let row = |(_, intercept, terms): &(Option<&str>, f64, HashMap<usize, f64>)| {
            (
                columns
                    .iter()
                    .map(|c| terms.get(c).copied().unwrap_or(0.0))
                    .collect::<Vec<f64>>(),
                *intercept,
            )
        };
        match classes {
            None => {
                if rows.len() != 1 {
                    return Err(model.error("a regression needs exactly one RegressionTable"));
                }
                let (coef, intercept) = row(&rows[0]);
                let transform = match method {
                    "none" => Transform::Identity,
                    "exp" => Transform::Exp,
                    "logit" => Transform::Logistic { scale: 1.0 },
                    other => {
                        return Err(model.unsupported(format!(
                            "normalizationMethod `{other}` for a regression"
                        )))
                    }
                };
                let (base, scale) = rescale(model)?;
                if (base, scale) != (0.0, 1.0) && transform != Transform::Identity {
                    return Err(model.unsupported("Targets rescaling after a link function"));
                }
                Ok(Scored::Linear {
                    columns,
                    coefficients: vec![coef.iter().map(|w| w * scale).collect()],
                    intercepts: vec![intercept * scale + base],
                    transform,
                })
            }
            Some(classes) => {
                let by_class = |c: &str| rows.iter().find(|r| r.0 == Some(c));
                for r in &rows {
                    let cat =
                        r.0.ok_or_else(|| model.error("a RegressionTable has no targetCategory"))?;
                    if !classes.iter().any(|c| c == cat) {
                        return Err(model.error(format!("targetCategory `{cat}` is not a class")));
                    }
                }
                match (method, classes.len(), rows.len()) {
                    ("softmax", k, n) if k == n => {
                        let (coefficients, intercepts) = classes
                            .iter()
                            .map(|c| row(by_class(c).expect("checked above")))
                            .unzip();
                        Ok(Scored::Linear {
                            columns,
                            coefficients,
                            intercepts,
                            transform: Transform::Softmax,
                        })
                    }
                    ("logit", 2, 1 | 2) => {
                        // The first table's category gets logistic(y), the other the rest.
                        let first = &rows[0];
                        let (coef, intercept) = row(first);
                        let sign = if first.0 == Some(classes[1].as_str()) {
                            1.0
                        } else {
                            -1.0
                        };
                        Ok(Scored::Linear {
                            columns,
                            coefficients: vec![coef.iter().map(|w| sign * w).collect()],
                            intercepts: vec![sign * intercept],
                            transform: Transform::Logistic { scale: 1.0 },
                        })
                    }
                    ("probit" | "cloglog" | "loglog" | "cauchit", 2, 1 | 2) => {
                        let first = &rows[0];
                        let (coef, intercept) = row(first);
                        let link = match method {
                            "probit" => ferry_ir::Link::Probit,
                            "cloglog" => ferry_ir::Link::Cloglog,
                            "loglog" => ferry_ir::Link::Loglog,
                            _ => ferry_ir::Link::Cauchit,
                        };
                        Ok(Scored::Linear {
                            columns,
                            coefficients: vec![coef],
                            intercepts: vec![intercept],
                            transform: Transform::Link {
                                link,
                                complement: first.0 != Some(classes[1].as_str()),
                            },
                        })
                    }
                    // none: the tables' values in document order, the last class
                    // getting 1 - Σ of the others (with two classes the first value is
                    // clamped to [0, 1], as JPMML does).
                    ("none", k, n) if n == k || n + 1 == k => {
                        let mut ys: Vec<(usize, Expr)> = Vec::new();
                        for r in rows.iter().take(k - 1) {
                            let class = classes
                                .iter()
                                .position(|c| Some(c.as_str()) == r.0)
                                .expect("checked above");
                            let (weights, bias) = row(r);
                            let mut y = Expr::Dot {
                                columns: columns.clone(),
                                weights,
                                bias,
                                precision: Precision::F64,
                            };
                            if k == 2 {
                                y = Expr::binary(
                                    BinaryFn::Max,
                                    Expr::constant(0.0),
                                    Expr::binary(
                                        BinaryFn::Min,
                                        Expr::constant(1.0),
                                        y,
                                        Precision::F64,
                                    ),
                                    Precision::F64,
                                );
                            }
                            ys.push((class, Expr::column(self.column("score", y))));
                        }
                        let rest = ys
                            .iter()
                            .map(|y| y.1.clone())
                            .fold(Expr::constant(1.0), |acc, y| {
                                Expr::binary(BinaryFn::Sub, acc, y, Precision::F64)
                            });
                        let mut values = vec![Expr::constant(f64::NAN); k];
                        for (class, y) in &ys {
                            values[*class] = y.clone();
                        }
                        let last = (0..k)
                            .find(|c| ys.iter().all(|y| y.0 != *c))
                            .expect("one class left");
                        values[last] = rest;
                        Ok(Scored::Values {
                            values,
                            label: None,
                        })
                    }
                    // simplemax: y_j / Σ y; logit: the same over 1/(1+exp(-y_j)).
                    ("simplemax" | "logit", k, n) if n == k => {
                        let mut ys: Vec<Expr> = Vec::new();
                        for c in classes {
                            let (weights, bias) = row(by_class(c).ok_or_else(|| {
                                model.error(format!("no RegressionTable for class `{c}`"))
                            })?);
                            let y = Expr::Dot {
                                columns: columns.clone(),
                                weights,
                                bias,
                                precision: Precision::F64,
                            };
                            let y = match method {
                                "logit" => {
                                    Expr::unary(ferry_ir::UnaryFn::Logistic, y, Precision::F64)
                                }
                                _ => y,
                            };
                            ys.push(Expr::column(self.column("score", y)));
                        }
                        let total = ys
                            .iter()
                            .cloned()
                            .reduce(|a, b| Expr::binary(BinaryFn::Add, a, b, Precision::F64))
                            .expect("classes");
                        let total = Expr::column(self.column("sum", total));
                        let values = ys.iter().map(|y| share(y.clone(), &total)).collect();
                        Ok(Scored::Values {
                            values,
                            label: None,
                        })
                    }
                    (method, k, n) => Err(model.unsupported(format!(
                        "normalizationMethod `{method}` with {k} classes and {n} RegressionTables"
                    ))),
                }
            }
        }
    }

    /// A MiningModel: one tree ensemble when its segments are trees combined the way
    /// ensembles are, else expressions ([`super::compose`]).
    fn mining_model(
        &mut self,
        model: El<'a, 'i>,
        classes: Option<&[String]>,
    ) -> Result<Scored<'a, 'i>, ImportError> {
        let mark = self.checkpoint();
        match self.mining_ensemble(model, classes) {
            Err(_) => {
                self.rollback(mark);
                self.segmentation_values(model, classes)
            }
            ok => ok,
        }
    }

    fn mining_ensemble(
        &mut self,
        model: El<'a, 'i>,
        classes: Option<&[String]>,
    ) -> Result<Scored<'a, 'i>, ImportError> {
        let seg = model.req_child("Segmentation")?;
        let method = seg.req("multipleModelMethod")?;
        let segments: Vec<El<'a, 'i>> = seg.children_named("Segment").collect();
        if segments.is_empty() {
            return Err(seg.error("a Segmentation needs segments"));
        }
        for s in &segments {
            let p = s
                .elements()
                .next()
                .ok_or_else(|| s.error("a Segment needs a predicate and a model"))?;
            if p.name() != "True" && method != "modelChain" {
                return Err(p.unsupported("segments selected by a predicate other than <True/>"));
            }
        }
        let inner = |s: &El<'a, 'i>| -> Result<El<'a, 'i>, ImportError> {
            s.elements()
                .find(|e| MODELS.contains(&e.name()) || OTHER_MODELS.contains(&e.name()))
                .ok_or_else(|| s.error("a Segment needs a model"))
        };
        let (base, scale) = rescale(model)?;
        match (method, classes) {
            ("sum" | "average" | "weightedAverage", None) => {
                let aggregation = if method == "sum" {
                    Aggregation::Sum
                } else {
                    Aggregation::Average
                };
                let mut trees = Vec::new();
                let mut inner_base = 0.0;
                let mut float = float_math(model);
                for s in &segments {
                    if method == "weightedAverage" && s.f64_or("weight", 1.0)? != 1.0 {
                        return Err(s.unsupported("weighted segments with unequal weights"));
                    }
                    let m = inner(s)?;
                    self.push_scope(m)?;
                    let scored = self.model(m, None);
                    self.pop_scope();
                    match scored? {
                        Scored::Trees {
                            outputs,
                            transform: Transform::Identity,
                        } if outputs.len() == 1 => {
                            let o = outputs.into_iter().next().expect("one output");
                            if o.scale != 1.0
                                || (o.aggregation != Aggregation::Sum && o.trees.len() > 1)
                            {
                                return Err(m.unsupported(
                                    "a rescaled or averaged ensemble inside a segment",
                                ));
                            }
                            if method != "sum" && o.base != 0.0 {
                                return Err(
                                    m.unsupported("an averaged segment with a constant term")
                                );
                            }
                            inner_base += o.base;
                            float |= o.float;
                            trees.extend(o.trees);
                        }
                        _ => return Err(m.unsupported("a segment that is not a regression tree")),
                    }
                }
                Ok(Scored::Trees {
                    outputs: vec![OutputTrees {
                        float,
                        base: base + scale * inner_base,
                        scale,
                        aggregation,
                        trees,
                    }],
                    transform: Transform::Identity,
                })
            }
            ("average" | "weightedAverage" | "majorityVote", Some(classes))
                if method != "majorityVote" =>
            {
                let mut outputs: Vec<OutputTrees<'a, 'i>> = (0..classes.len())
                    .map(|_| OutputTrees {
                        float: float_math(model),
                        base: 0.0,
                        scale: 1.0,
                        aggregation: Aggregation::Average,
                        trees: Vec::new(),
                    })
                    .collect();
                for s in &segments {
                    if method == "weightedAverage" && s.f64_or("weight", 1.0)? != 1.0 {
                        return Err(s.unsupported("weighted segments with unequal weights"));
                    }
                    let m = inner(s)?;
                    if m.name() != "TreeModel" {
                        return Err(m.unsupported("averaged classifiers other than trees"));
                    }
                    self.push_scope(m)?;
                    let scored = self.model(m, Some(classes));
                    self.pop_scope();
                    let Scored::Trees { outputs: o, .. } = scored? else {
                        unreachable!("a TreeModel is trees")
                    };
                    for (k, out) in o.into_iter().enumerate() {
                        outputs[k].trees.extend(out.trees);
                    }
                }
                Ok(Scored::Trees {
                    outputs,
                    transform: Transform::Identity,
                })
            }
            ("modelChain", Some(classes)) => self.boosted_classifier(model, &segments, classes),
            (method, _) => Err(seg.unsupported(format!(
                "multipleModelMethod `{method}` for a {}",
                if classes.is_some() {
                    "classification"
                } else {
                    "regression"
                }
            ))),
        }
    }

    /// The chain boosted classifiers are written as: per class a regression (a sum of
    /// trees) whose result is an output field, then a RegressionModel that normalises
    /// those fields (logit for two classes, softmax for more).
    fn boosted_classifier(
        &mut self,
        model: El<'a, 'i>,
        segments: &[El<'a, 'i>],
        classes: &[String],
    ) -> Result<Scored<'a, 'i>, ImportError> {
        let (last, sums) = segments.split_last().expect("not empty");
        let mut outputs = Vec::new();
        // Output field name → (output index).
        let mut fields: HashMap<String, usize> = HashMap::new();
        for s in sums {
            let m = s
                .elements()
                .find(|e| MODELS.contains(&e.name()))
                .ok_or_else(|| s.error("a Segment needs a model"))?;
            if s.elements().next().map(|p| p.name()) != Some("True") {
                return Err(s.unsupported("a chained segment selected by a predicate"));
            }
            self.push_scope(m)?;
            let scored = self.model(m, None);
            self.pop_scope();
            let Scored::Trees {
                outputs: o,
                transform: Transform::Identity,
            } = scored?
            else {
                return Err(m.unsupported("a chained segment that is not a sum of trees"));
            };
            let [o] =
                <[OutputTrees; 1]>::try_from(o).map_err(|_| m.error("one output expected"))?;
            let field = m
                .child("Output")
                .and_then(|out| {
                    out.children_named("OutputField")
                        .find(|f| f.attr("feature").unwrap_or("predictedValue") == "predictedValue")
                })
                .ok_or_else(|| m.error("a chained segment must output its predicted value"))?;
            // A float64 sum handed on as float32 (nyoka) is rounded once, at the end,
            // which one tree ensemble cannot say: the expressions do it.
            if field.attr("dataType") == Some("float") && !o.float {
                return Err(field.unsupported("a float64 sum rounded to float32"));
            }
            let name = field.req("name")?;
            fields.insert(name.to_string(), outputs.len());
            outputs.push(o);
        }
        let m = last
            .elements()
            .find(|e| e.name() == "RegressionModel")
            .ok_or_else(|| last.unsupported("a chain that does not end in a RegressionModel"))?;
        let method = m.attr("normalizationMethod").unwrap_or("none");
        // Each table: intercept + coefficient × one output field.
        let mut tables = Vec::new();
        for table in m.children_named("RegressionTable") {
            let cat = table.req("targetCategory")?;
            let class = classes
                .iter()
                .position(|c| c == cat)
                .ok_or_else(|| table.error(format!("targetCategory `{cat}` is not a class")))?;
            let predictors: Vec<El<'a, 'i>> = table.elements().collect();
            let term = match predictors.as_slice() {
                [] => None,
                [p] if p.name() == "NumericPredictor" && p.f64_or("exponent", 1.0)? == 1.0 => {
                    let name = p.req("name")?;
                    let k = *fields
                        .get(name)
                        .ok_or_else(|| p.unsupported(format!("a chain reading `{name}`")))?;
                    Some((k, p.f64_req("coefficient")?))
                }
                _ => {
                    return Err(
                        table.unsupported("a chain table that is not one output × a coefficient")
                    )
                }
            };
            tables.push((class, table.f64_or("intercept", 0.0)?, term));
        }
        let fold = |o: &mut OutputTrees<'a, 'i>, coefficient: f64, intercept: f64| {
            o.base = o.base * coefficient + intercept;
            o.scale *= coefficient;
        };
        match (method, classes.len()) {
            ("logit", 2) => {
                let (class, intercept, term) = tables
                    .first()
                    .copied()
                    .ok_or_else(|| m.error("no RegressionTable"))?;
                let (k, coefficient) =
                    term.ok_or_else(|| m.error("the first table reads no output"))?;
                let mut o = outputs.swap_remove(k);
                // logistic(y) is the probability of the first table's class; the IR's
                // single score is the second class's.
                if o.float {
                    // JPMML's own float32 logit (XGBoost): the sign goes in `complement`,
                    // so the score keeps its float32 sum.
                    fold(&mut o, coefficient, intercept);
                    return Ok(Scored::Trees {
                        outputs: vec![o],
                        transform: Transform::Link {
                            link: ferry_ir::Link::Float32Logit,
                            complement: class != 1,
                        },
                    });
                }
                let sign = if class == 1 { 1.0 } else { -1.0 };
                fold(&mut o, sign * coefficient, sign * intercept);
                Ok(Scored::Trees {
                    outputs: vec![o],
                    transform: Transform::Logistic { scale: 1.0 },
                })
            }
            ("softmax", k) if tables.len() == k && outputs.len() == k => {
                let mut by_class: Vec<Option<OutputTrees<'a, 'i>>> =
                    outputs.into_iter().map(Some).collect();
                let mut ordered = Vec::new();
                let mut sorted = tables.clone();
                sorted.sort_by_key(|t| t.0);
                for (i, (class, intercept, term)) in sorted.into_iter().enumerate() {
                    debug_assert_eq!(class, i);
                    let (k, coefficient) =
                        term.ok_or_else(|| m.error("a table reads no output"))?;
                    let mut o = by_class[k]
                        .take()
                        .ok_or_else(|| m.unsupported("two classes reading one output"))?;
                    fold(&mut o, coefficient, intercept);
                    ordered.push(o);
                }
                Ok(Scored::Trees {
                    outputs: ordered,
                    transform: Transform::Softmax,
                })
            }
            (method, k) => Err(model.unsupported(format!(
                "a model chain ending in normalizationMethod `{method}` with {k} classes"
            ))),
        }
    }
}

/// Whether JPMML evaluates `model` in float32 (`x-mathContext="float"`, written for
/// XGBoost models).
fn float_math(model: El<'_, '_>) -> bool {
    model.attr("x-mathContext") == Some("float")
}

fn number_field(field: &Field, at: El<'_, '_>) -> Result<(), ImportError> {
    match field.kind {
        Kind::Number => Ok(()),
        Kind::Text(_) => Err(at.error("this field holds strings, a number is needed")),
    }
}

/// Whether the model's Targets clamp, round or default its prediction: then they are
/// applied to the prediction afterwards (`post_targets`) rather than folded in.
fn complex_targets(model: El<'_, '_>) -> bool {
    model.child("Targets").is_some_and(|targets| {
        targets.children_named("Target").any(|t| {
            ["castInteger", "min", "max"]
                .iter()
                .any(|a| t.attr(a).is_some())
                || t.children_named("TargetValue")
                    .any(|v| v.attr("defaultValue").is_some())
        })
    })
}

/// `(rescaleConstant, rescaleFactor)` of the model's Targets, folded into the estimator
/// (none when `post_targets` applies them).
fn rescale(model: El<'_, '_>) -> Result<(f64, f64), ImportError> {
    let Some(targets) = model.child("Targets") else {
        return Ok((0.0, 1.0));
    };
    if complex_targets(model) {
        return Ok((0.0, 1.0));
    }
    let mut out = (0.0, 1.0);
    for t in targets.children_named("Target") {
        out = (
            t.f64_or("rescaleConstant", 0.0)?,
            t.f64_or("rescaleFactor", 1.0)?,
        );
    }
    Ok(out)
}

impl<'a, 'i> Scored<'a, 'i> {
    /// One IR estimator over the columns the model reads.
    pub fn into_estimator(
        self,
        b: &mut Builder<'a, 'i>,
    ) -> Result<(Estimator, Vec<usize>, Transform), ImportError> {
        match self {
            // The outputs are columns; the estimator passes each through (0 + 1·x is x).
            Scored::Values { values, .. } => {
                let columns: Vec<usize> =
                    values.into_iter().map(|v| b.column("output", v)).collect();
                let n = columns.len();
                let coefficients = (0..n)
                    .map(|k| (0..n).map(|j| f64::from(u8::from(j == k))).collect())
                    .collect();
                Ok((
                    Estimator::Linear(Linear {
                        coefficients,
                        intercepts: vec![0.0; n],
                        score_precision: Precision::F64,
                    }),
                    columns,
                    Transform::Identity,
                ))
            }
            Scored::Linear {
                columns,
                coefficients,
                intercepts,
                transform,
            } => Ok((
                Estimator::Linear(Linear {
                    coefficients,
                    intercepts,
                    score_precision: Precision::F64,
                }),
                columns,
                transform,
            )),
            Scored::Trees { outputs, transform } => {
                let mut features: Vec<usize> = Vec::new();
                let mut index: HashMap<usize, usize> = HashMap::new();
                let mut trees = Vec::new();
                let aggregation = outputs.first().map_or(Aggregation::Sum, |o| o.aggregation);
                let float = outputs.iter().any(|o| o.float);
                let mut base_score = Vec::new();
                for (k, o) in outputs.iter().enumerate() {
                    if o.aggregation != aggregation {
                        return Err(ImportError::Unsupported {
                            format: super::FORMAT,
                            what: "summed and averaged outputs in one model".into(),
                            hint: String::new(),
                        });
                    }
                    // JPMML adds the constant after the trees' sum; in float32 the order
                    // shows, so the constant becomes a last one-leaf tree there.
                    let trailing = float && o.base != 0.0 && aggregation == Aggregation::Sum;
                    base_score.push(if trailing { 0.0 } else { o.base });
                    for (shape, leaf) in &o.trees {
                        let mut nodes = Vec::with_capacity(shape.len());
                        for s in shape {
                            nodes.push(match s {
                                Shape::Split {
                                    column,
                                    test,
                                    missing,
                                    left,
                                    right,
                                } => {
                                    let feature = *index.entry(*column).or_insert_with(|| {
                                        features.push(*column);
                                        features.len() - 1
                                    });
                                    Node::Split(Split {
                                        feature,
                                        test: test.clone(),
                                        missing: *missing,
                                        left: *left,
                                        right: *right,
                                    })
                                }
                                Shape::Null => Node::Leaf { value: f64::NAN },
                                Shape::Leaf(el) => Node::Leaf {
                                    value: leaf_value(*el, leaf)? * o.scale,
                                },
                            });
                        }
                        trees.push(Tree {
                            stats: None,
                            output: k,
                            weight: 1.0,
                            nodes,
                        });
                    }
                    if trailing {
                        trees.push(Tree {
                            stats: None,
                            output: k,
                            weight: 1.0,
                            nodes: vec![Node::Leaf { value: o.base }],
                        });
                    }
                }
                let precision = if float {
                    Precision::F32
                } else {
                    Precision::F64
                };
                Ok((
                    Estimator::Trees(TreeEnsemble {
                        n_outputs: outputs.len(),
                        base_score,
                        feature_precision: Precision::F64,
                        score_precision: precision,
                        aggregation,
                        tiny_as_zero: None,
                        trees,
                    }),
                    features,
                    transform,
                ))
            }
        }
    }
}

/// The value a leaf contributes: its score, or the probability of a class (from its
/// ScoreDistribution: the `probability` given, else the record count's share).
pub(crate) fn leaf_value(node: El<'_, '_>, leaf: &Leaf) -> Result<f64, ImportError> {
    match leaf {
        // A node without a score (reached by returnLastPrediction) predicts nothing.
        Leaf::Score => {
            let Some(score) = node.attr("score") else {
                return Ok(f64::NAN);
            };
            parse_number(score)
                .ok_or_else(|| node.error(format!("the score `{score}` is not a number")))
        }
        Leaf::Label(classes) => Ok(node
            .attr("score")
            .and_then(|s| classes.iter().position(|c| c == s))
            .map_or(f64::NAN, |i| i as f64)),
        Leaf::Probability(class) => {
            let dist: Vec<El<'_, '_>> = node.children_named("ScoreDistribution").collect();
            if dist.is_empty() {
                return Ok(match node.attr("score") {
                    None => f64::NAN,
                    Some(score) => f64::from(u8::from(score == &**class)),
                });
            }
            let mine = dist.iter().find(|d| d.attr("value") == Some(class));
            if dist.iter().any(|d| d.attr("probability").is_some()) {
                // Probabilities that do not add up to one are scaled so they do, as
                // JPMML does.
                let mut total = 0.0;
                for d in &dist {
                    total += d.f64_or("probability", 0.0)?;
                }
                return match mine {
                    Some(d) => Ok(d.f64_or("probability", 0.0)? / total),
                    None => Ok(0.0),
                };
            }
            let mut total = 0.0;
            for d in &dist {
                total += d.f64_req("recordCount")?;
            }
            match mine {
                Some(d) => Ok(d.f64_req("recordCount")? / total),
                None => Ok(0.0),
            }
        }
    }
}

/// `y / total` for simplemax normalisation, missing where the total is 0: JPMML refuses
/// such a row (an undefined result), where IEEE division would give ±inf "probabilities".
pub(super) fn share(y: Expr, total: &Expr) -> Expr {
    Expr::if_else(
        Expr::compare(CompareOp::Ne, total.clone(), Expr::constant(0.0)),
        Expr::binary(BinaryFn::Div, y, total.clone(), Precision::F64),
        Expr::constant(f64::NAN),
    )
}
