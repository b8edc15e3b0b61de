//! Graphs with more than one estimator (VotingRegressor, StackingClassifier,
//! CalibratedClassifierCV) or arithmetic after the estimator (XGBoost's
//! `count:poisson` scaling): an estimator whose scores feed another node is turned
//! into derived columns — a linear model into dot products, a tree ensemble into
//! nested conditions summed in the ensemble's precision — so that the graph's last
//! estimator, or the identity over its final columns, is the model's estimator.
//!
//! The expressions compute what the evaluator computes for the estimator (the same
//! roundings, the same order of the sums), so nothing changes but speed: a tree is
//! evaluated as a whole expression rather than by walking it.

use ferry_ir::{
    Aggregation, BinaryFn, Cmp, CompareOp, Direction, Estimator, Expr, Missing, Node, Precision,
    Test, Transform, Tree, TreeEnsemble, UnaryFn,
};

use super::proto::NodeProto;
use super::{Ctx, Elem, Value};
use crate::ImportError;

/// Most tree nodes an estimator may have to be turned into expressions.
const MAX_NODES: usize = 200_000;

/// Turns the current estimator into derived columns: every value holding its scores
/// becomes those columns (after the value's transform, and its column pick). Labels
/// stay labels: the class of the highest score of the model's final scores, which is
/// what the graphs that compute further from scores (calibration, normalisation,
/// stacking) label with.
pub(crate) fn demote(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let Some((estimator, features)) = ctx.estimator.take() else {
        return Ok(());
    };
    let (raw, precision) = raw_scores(ctx, node, &estimator, &features)?;
    let elem = match precision {
        Precision::F32 => Elem::F32,
        Precision::F64 => Elem::F64,
    };
    let n = raw.len();
    // Sorted: the names decide the numbering of derived columns, and the same model
    // must give the same IR (and SQL) on every run.
    let mut names: Vec<String> = ctx.values.keys().cloned().collect();
    names.sort_unstable();
    for name in names {
        let value = match ctx.values.get(&name) {
            Some(Value::Scores(s)) => Some((s.clone(), None, false)),
            Some(Value::Picked { scores, columns }) => {
                Some((scores.clone(), Some(columns.clone()), false))
            }
            Some(Value::Complement(s)) => Some((s.clone(), None, true)),
            _ => None,
        };
        let Some((scores, pick, complement)) = value else {
            continue;
        };
        let mut cols = transformed(&raw, scores.transform, elem, &name)?;
        // One score for two classes: the probabilities are [1 - p, p].
        if n == 1 && scores.classes.as_ref().is_some_and(|c| c.len() == 2) {
            let p = cols[0].clone();
            cols = vec![one_minus(p.clone(), precision), p];
        }
        if complement {
            cols = vec![one_minus(cols[0].clone(), precision)];
        }
        if let Some(pick) = pick {
            cols = pick
                .iter()
                .map(|k| {
                    cols.get(*k).cloned().ok_or_else(|| {
                        ctx.node_error(node, format!("score column {k} of {}", cols.len()))
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        let cols = ctx.columns(cols, &name);
        ctx.values.insert(name, Value::Num { cols, elem });
    }
    Ok(())
}

fn one_minus(p: Expr, precision: Precision) -> Expr {
    Expr::binary(BinaryFn::Sub, Expr::constant(1.0), p, precision)
}

/// The estimator's raw scores as derived columns, and their precision.
fn raw_scores(
    ctx: &mut Ctx,
    node: &NodeProto,
    estimator: &Estimator,
    features: &[usize],
) -> Result<(Vec<Expr>, Precision), ImportError> {
    let name = node.output.first().cloned().unwrap_or_default();
    let (exprs, precision) = match estimator {
        // Columns a graph computed already: each score is its column (rounded to the
        // score precision), not a product with a row of the identity.
        Estimator::Linear(linear) if linear.is_identity() => (
            features
                .iter()
                .map(|&c| match linear.score_precision {
                    Precision::F64 => Expr::column(c),
                    Precision::F32 => Expr::Dot {
                        columns: vec![c],
                        weights: vec![1.0],
                        bias: 0.0,
                        precision: Precision::F32,
                    },
                })
                .collect::<Vec<_>>(),
            linear.score_precision,
        ),
        Estimator::Linear(linear) => (
            linear
                .coefficients
                .iter()
                .zip(&linear.intercepts)
                .map(|(row, intercept)| Expr::Dot {
                    columns: features.to_vec(),
                    weights: row.clone(),
                    bias: *intercept,
                    precision: linear.score_precision,
                })
                .collect::<Vec<_>>(),
            linear.score_precision,
        ),
        Estimator::Trees(ensemble) => (
            trees(ctx, node, ensemble, features)?,
            ensemble.score_precision,
        ),
    };
    let cols = exprs
        .into_iter()
        .enumerate()
        .map(|(k, e)| Expr::column(ctx.column_of(e, &format!("{name}~raw{k}"))))
        .collect();
    Ok((cols, precision))
}

/// Each output's sum of trees, as the evaluator adds them: from the base score (from
/// zero, then divided by the tree count and the base added, when averaged).
fn trees(
    ctx: &Ctx,
    node: &NodeProto,
    ensemble: &TreeEnsemble,
    features: &[usize],
) -> Result<Vec<Expr>, ImportError> {
    let total: usize = ensemble.trees.iter().map(|t| t.nodes.len()).sum();
    if total > MAX_NODES || ensemble.tiny_as_zero.is_some() {
        return Err(ctx.unsupported(
            node,
            &format!(
                "a tree ensemble of {total} nodes whose scores feed another node (ferry turns \
                 at most {MAX_NODES} into expressions)"
            ),
        ));
    }
    let p = ensemble.score_precision;
    let average = ensemble.aggregation == Aggregation::Average;
    let mut out = Vec::with_capacity(ensemble.n_outputs);
    for k in 0..ensemble.n_outputs {
        let base = ensemble.base_score.get(k).copied().unwrap_or(0.0);
        let base = ferry_ir::round_to(p, base);
        let mut acc = Expr::constant(if average { 0.0 } else { base });
        let mut count = 0usize;
        for tree in ensemble.trees.iter().filter(|t| t.output == k) {
            let t = tree_expr(ctx, node, tree, features, ensemble.feature_precision, p)?;
            acc = Expr::binary(BinaryFn::Add, acc, t, p);
            count += 1;
        }
        if average && count > 0 {
            acc = Expr::binary(
                BinaryFn::Add,
                Expr::binary(BinaryFn::Div, acc, Expr::constant(count as f64), p),
                Expr::constant(base),
                p,
            );
        }
        out.push(acc);
    }
    Ok(out)
}

/// One tree as nested conditions on its features.
fn tree_expr(
    ctx: &Ctx,
    node: &NodeProto,
    tree: &Tree,
    features: &[usize],
    feature_precision: Precision,
    p: Precision,
) -> Result<Expr, ImportError> {
    fn walk(
        tree: &Tree,
        at: usize,
        features: &[usize],
        fp: Precision,
        p: Precision,
        depth: usize,
    ) -> Option<Expr> {
        if depth > 256 {
            return None;
        }
        match tree.nodes.get(at)? {
            Node::Leaf { value } => Some(Expr::constant(ferry_ir::round_to(
                p,
                if tree.weight == 1.0 {
                    *value
                } else {
                    ferry_ir::round_to(p, tree.weight) * ferry_ir::round_to(p, *value)
                },
            ))),
            // ONNX trees have constant leaves only.
            Node::LinearLeaf(_) => None,
            Node::Split(split) => {
                let column = *features.get(split.feature)?;
                let x = match fp {
                    Precision::F32 => Expr::unary(UnaryFn::Cast, Expr::column(column), fp),
                    Precision::F64 => Expr::column(column),
                };
                let goes_left = match &split.test {
                    Test::Numeric { cmp, threshold } => {
                        let op = match cmp {
                            Cmp::Lt => CompareOp::Lt,
                            Cmp::Le => CompareOp::Le,
                        };
                        Expr::compare(op, x, Expr::constant(*threshold))
                    }
                    Test::Categorical { categories, listed } => {
                        let any = categories
                            .iter()
                            .map(|c| {
                                Expr::compare(
                                    CompareOp::Eq,
                                    x.clone(),
                                    Expr::constant(f64::from(*c)),
                                )
                            })
                            .reduce(|a, b| Expr::binary(BinaryFn::Max, a, b, Precision::F64))
                            .unwrap_or(Expr::constant(0.0));
                        if *listed == Direction::Left {
                            any
                        } else {
                            one_minus(any, Precision::F64)
                        }
                    }
                };
                let Missing::To(missing) = split.missing else {
                    return None;
                };
                let left = walk(tree, split.left as usize, features, fp, p, depth + 1)?;
                let right = walk(tree, split.right as usize, features, fp, p, depth + 1)?;
                // The missing value's direction in the condition, so that neither
                // subtree is written twice.
                let goes_left = Expr::if_else(
                    Expr::IsMissing {
                        x: Box::new(Expr::column(column)),
                    },
                    Expr::constant(if missing == Direction::Left { 1.0 } else { 0.0 }),
                    goes_left,
                );
                Some(Expr::if_else(goes_left, left, right))
            }
        }
    }
    walk(tree, 0, features, feature_precision, p, 0).ok_or_else(|| {
        ctx.unsupported(
            node,
            "a tree deeper than 256 levels, or with LightGBM's zero handling, whose scores feed another node",
        )
    })
}

/// `transform` applied to raw score columns, in `elem`'s precision.
fn transformed(
    raw: &[Expr],
    transform: Transform,
    elem: Elem,
    name: &str,
) -> Result<Vec<Expr>, ImportError> {
    Ok(match transform {
        Transform::Identity => raw.to_vec(),
        Transform::Logistic { scale: 1.0 } | Transform::Softmax => {
            super::ops::lazy_columns(raw, transform, elem)
        }
        Transform::Exp => raw
            .iter()
            .map(|r| Expr::unary(UnaryFn::Exp, r.clone(), elem.precision()))
            .collect(),
        other => {
            return Err(ImportError::Unsupported {
                format: super::FORMAT,
                what: format!("the transform {other:?} of `{name}` inside a graph"),
                hint: String::new(),
            })
        }
    })
}
