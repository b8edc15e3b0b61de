//! Models that are not one estimator: segmentations mixing model types, medians, votes,
//! segments chosen by predicates, model chains, and Targets that clamp or round.
//!
//! Each segment's outputs become expressions over the column space (a tree as nested
//! conditions, a regression as a dot product and its link), and the segmentation
//! combines them as JPMML-Evaluator does. The model's outputs are then derived columns,
//! and the estimator passes them through unchanged.

use std::rc::Rc;

use ferry_ir::{
    Aggregation, BinaryFn, CompareOp, Direction, Expr, Link, Missing, Precision, Test, Transform,
    UnaryFn,
};

use super::fields::{Builder, Field, Kind};
use super::models::{Leaf, OutputTrees, Scored, MODELS};
use super::tree::Shape;
use super::xml::{parse_number, El};
use crate::ImportError;

pub(super) const F64: Precision = Precision::F64;

/// Largest tree (in nodes) written as one expression.
const MAX_TREE_EXPR_NODES: usize = 4_096;

pub(super) fn c(v: f64) -> Expr {
    Expr::constant(v)
}

pub(super) fn add(a: Expr, b: Expr) -> Expr {
    Expr::binary(BinaryFn::Add, a, b, F64)
}

pub(super) fn mul(a: Expr, b: Expr) -> Expr {
    Expr::binary(BinaryFn::Mul, a, b, F64)
}

pub(super) fn div(a: Expr, b: Expr) -> Expr {
    Expr::binary(BinaryFn::Div, a, b, F64)
}

pub(super) fn sub(a: Expr, b: Expr) -> Expr {
    Expr::binary(BinaryFn::Sub, a, b, F64)
}

pub(super) fn is_missing(x: Expr) -> Expr {
    Expr::IsMissing { x: Box::new(x) }
}

/// A segment's predicate as 1 (selected) or 0 (false or unknown: skipped).
fn selected(p: Expr) -> Expr {
    Expr::if_else(p, c(1.0), c(0.0))
}

impl<'a, 'i> Builder<'a, 'i> {
    /// The outputs of a scored model, after its transform: the prediction, or one
    /// probability per class.
    pub fn values(
        &mut self,
        scored: Scored<'a, 'i>,
        n_classes: Option<usize>,
        at: El<'a, 'i>,
    ) -> Result<Vec<Expr>, ImportError> {
        let (raw, transform) = match scored {
            Scored::Values { values, .. } => return Ok(values),
            Scored::Linear {
                columns,
                coefficients,
                intercepts,
                transform,
            } => {
                let raw = coefficients
                    .into_iter()
                    .zip(intercepts)
                    .map(|(weights, bias)| Expr::Dot {
                        columns: columns.clone(),
                        weights,
                        bias,
                        precision: F64,
                    })
                    .collect::<Vec<_>>();
                (raw, transform)
            }
            Scored::Trees { outputs, transform } => {
                let mut raw = Vec::new();
                for o in &outputs {
                    raw.push(self.trees_expr(o, at)?);
                }
                (raw, transform)
            }
        };
        // Each raw score once, as a column: the link reads it several times.
        let raw: Vec<Expr> = raw
            .into_iter()
            .map(|e| Expr::column(self.column("score", e)))
            .collect();
        let transformed: Vec<Expr> = match transform {
            Transform::Identity => raw,
            Transform::Exp => raw
                .into_iter()
                .map(|x| Expr::unary(UnaryFn::Exp, x, F64))
                .collect(),
            Transform::Logistic { scale } => raw
                .into_iter()
                .map(|x| {
                    let x = if scale == 1.0 { x } else { mul(c(scale), x) };
                    Expr::unary(UnaryFn::Logistic, x, F64)
                })
                .collect(),
            Transform::Softmax => self.softmax(raw),
            Transform::Sort => return Err(at.unsupported("a sort of the scores")),
            Transform::Link { link, complement } => {
                let f = |x: Expr| -> Result<Expr, ImportError> {
                    let exp = |x| Expr::unary(UnaryFn::Exp, x, F64);
                    let neg = |x| Expr::unary(UnaryFn::Neg, x, F64);
                    Ok(match link {
                        Link::Cloglog => sub(c(1.0), exp(neg(exp(x)))),
                        Link::Loglog => exp(neg(exp(neg(x)))),
                        Link::Power { exponent } => {
                            Expr::binary(BinaryFn::Pow, x, c(exponent), F64)
                        }
                        Link::SignedSquare => {
                            let abs = Expr::unary(UnaryFn::Abs, x.clone(), F64);
                            Expr::binary(BinaryFn::Mul, abs, x, F64)
                        }
                        Link::Float32Logit => {
                            let f = |x| Expr::unary(UnaryFn::Cast, x, Precision::F32);
                            let e = f(Expr::binary(BinaryFn::Pow, c(2.718_281_7), neg(x), F64));
                            f(div(c(1.0), f(add(c(1.0), e))))
                        }
                        Link::Probit | Link::Cauchit | Link::Softplus | Link::Step => {
                            return Err(at.unsupported(format!(
                                "the {} link inside a segmentation or with Targets",
                                link.name()
                            )))
                        }
                    })
                };
                raw.into_iter()
                    .map(|x| f(x).map(|p| if complement { sub(c(1.0), p) } else { p }))
                    .collect::<Result<_, _>>()?
            }
        };
        // One score for two classes: the second class's probability.
        Ok(match (n_classes, transformed.len()) {
            (Some(2), 1) => {
                let p = Expr::column(self.column("p", transformed[0].clone()));
                vec![sub(c(1.0), p.clone()), p]
            }
            _ => transformed,
        })
    }

    /// The raw score of one output of a tree ensemble: base plus the trees in order
    /// (their sum divided by their number when averaged).
    fn trees_expr(&mut self, o: &OutputTrees<'a, 'i>, at: El<'a, 'i>) -> Result<Expr, ImportError> {
        let p = if o.float { Precision::F32 } else { F64 };
        let mut sum: Option<Expr> = None;
        for (shape, leaf) in &o.trees {
            let t = self.tree_expr(shape, leaf, o.scale, at)?;
            sum = Some(match sum {
                None => t,
                Some(s) => Expr::binary(BinaryFn::Add, s, t, p),
            });
        }
        let mut sum = sum.unwrap_or(c(0.0));
        if o.aggregation == Aggregation::Average {
            sum = Expr::binary(BinaryFn::Div, sum, c(o.trees.len() as f64), p);
        }
        Ok(if o.base == 0.0 {
            sum
        } else {
            Expr::binary(BinaryFn::Add, sum, c(o.base), p)
        })
    }

    /// A tree as nested conditions, leaves valued by `leaf` (times `scale`).
    pub fn tree_expr(
        &mut self,
        shape: &[Shape<'a, 'i>],
        leaf: &Leaf,
        scale: f64,
        at: El<'a, 'i>,
    ) -> Result<Expr, ImportError> {
        if shape.len() > MAX_TREE_EXPR_NODES {
            return Err(at.unsupported(format!(
                "a tree of more than {MAX_TREE_EXPR_NODES} nodes inside this kind of segmentation"
            )));
        }
        fn walk(
            shape: &[Shape<'_, '_>],
            at: usize,
            value: &dyn Fn(&Shape<'_, '_>) -> Result<f64, ImportError>,
            depth: usize,
        ) -> Result<Expr, ImportError> {
            match &shape[at] {
                Shape::Split {
                    column,
                    test,
                    missing,
                    left,
                    right,
                } => {
                    if depth > 256 {
                        return Err(ImportError::Unsupported {
                            format: super::FORMAT,
                            what: "a tree deeper than 256 levels inside this kind of segmentation"
                                .into(),
                            hint: String::new(),
                        });
                    }
                    let x = Expr::column(*column);
                    let goes_left = match test {
                        Test::Numeric { cmp, threshold } => {
                            let op = match cmp {
                                ferry_ir::Cmp::Lt => CompareOp::Lt,
                                ferry_ir::Cmp::Le => CompareOp::Le,
                            };
                            Expr::compare(op, x.clone(), c(*threshold))
                        }
                        Test::Categorical { categories, listed } => {
                            let any = categories
                                .iter()
                                .map(|k| Expr::compare(CompareOp::Eq, x.clone(), c(f64::from(*k))))
                                .reduce(|a, b| Expr::binary(BinaryFn::Max, a, b, F64))
                                .unwrap_or(c(0.0));
                            if *listed == Direction::Left {
                                any
                            } else {
                                sub(c(1.0), any)
                            }
                        }
                    };
                    let missing_left = match missing {
                        Missing::To(d) => *d == Direction::Left,
                        Missing::AsZero | Missing::ZeroTo(_) => {
                            return Err(ImportError::Unsupported {
                                format: super::FORMAT,
                                what: "LightGBM zero handling in a PMML tree".into(),
                                hint: String::new(),
                            })
                        }
                    };
                    let cond = Expr::if_else(
                        is_missing(x),
                        c(f64::from(u8::from(missing_left))),
                        goes_left,
                    );
                    Ok(Expr::if_else(
                        cond,
                        walk(shape, *left as usize, value, depth + 1)?,
                        walk(shape, *right as usize, value, depth + 1)?,
                    ))
                }
                other => Ok(c(value(other)?)),
            }
        }
        let value = |s: &Shape<'_, '_>| -> Result<f64, ImportError> {
            match s {
                Shape::Null => Ok(f64::NAN),
                Shape::Leaf(el) => Ok(super::models::leaf_value(*el, leaf)? * scale),
                Shape::Split { .. } => unreachable!("leaves only"),
            }
        };
        walk(shape, 0, &value, 0)
    }

    /// A segmentation whose segments cannot be one tree ensemble, as expressions.
    pub fn segmentation_values(
        &mut self,
        model: El<'a, 'i>,
        classes: Option<&[String]>,
    ) -> Result<Scored<'a, 'i>, ImportError> {
        let seg = model.req_child("Segmentation")?;
        let method = seg.req("multipleModelMethod")?;
        let n_classes = classes.map(<[String]>::len);
        let mut outputs: Vec<(Expr, f64, Vec<Expr>, Option<Expr>)> = Vec::new();
        let segments: Vec<El<'a, 'i>> = seg.children_named("Segment").collect();
        for (i, s) in segments.iter().enumerate() {
            let mut parts = s.elements();
            let predicate = parts
                .next()
                .ok_or_else(|| s.error("a Segment needs a predicate and a model"))?;
            let m = parts
                .find(|e| MODELS.contains(&e.name()))
                .ok_or_else(|| s.unsupported("a Segment without a model ferry reads"))?;
            let p = self.predicate_expr(predicate)?;
            let weight = s.f64_or("weight", 1.0)?;
            let last = i + 1 == segments.len();
            // In a chain only the last segment's function matters; the others are
            // whatever they declare.
            let own_classes: Option<Vec<String>> = if method == "modelChain" && !last {
                match m.req("functionName")? {
                    "classification" => Some(super::models::classes(None, m)?),
                    _ => None,
                }
            } else {
                classes.map(<[String]>::to_vec)
            };
            self.push_scope(m)?;
            let scored = self.model(m, own_classes.as_deref());
            self.pop_scope();
            let scored = scored?;
            // The label of a tree segment is its node's score, for votes.
            let label = match (&scored, own_classes.as_deref()) {
                (Scored::Trees { outputs, .. }, Some(cls)) if m.name() == "TreeModel" => {
                    let shape = outputs[0].trees[0].0.clone();
                    Some(self.tree_expr(&shape, &Leaf::Label(cls.to_vec().into()), 1.0, m)?)
                }
                (Scored::Values { label, .. }, Some(_)) => label.clone(),
                _ => None,
            };
            let values = self.values(scored, own_classes.as_ref().map(Vec::len), m)?;
            let values: Vec<Expr> = values
                .into_iter()
                .map(|v| Expr::column(self.column("segment", v)))
                .collect();
            // Other classifiers vote for their most probable class (on ties the first in
            // the order the model lists its classes).
            let label = match (label, &own_classes) {
                (None, Some(cls)) => {
                    let order = super::models::label_order(m, cls)?;
                    Some(self.first_max(&values, order.as_deref()))
                }
                (label, _) => label,
            };
            if method == "modelChain" {
                self.chain_outputs(m, &values, own_classes.as_deref(), label.clone())?;
            }
            outputs.push((p, weight, values, label));
        }
        let sel = |p: &Expr| selected(p.clone());
        // The label where it is not the first most probable class.
        let mut label: Option<Expr> = None;
        let values: Vec<Expr> = match (method, n_classes) {
            // The result is the last segment whose predicate holds (every chained
            // segment still feeds the later ones).
            ("modelChain", _) => {
                let k = outputs.last().expect("segments").2.len();
                (0..k)
                    .map(|j| {
                        // Only segments with the model's outputs can be its result.
                        let same = outputs.iter().filter(|o| o.2.len() == k);
                        same.fold(c(f64::NAN), |earlier, (p, _, v, _)| {
                            if matches!(p, Expr::Const { value } if *value == 1.0) {
                                v[j].clone()
                            } else {
                                Expr::if_else(p.clone(), v[j].clone(), earlier)
                            }
                        })
                    })
                    .collect()
            }
            ("sum" | "average" | "weightedAverage", None)
            | ("average" | "weightedAverage", Some(_)) => {
                let k = outputs[0].2.len();
                let weighted = method == "weightedAverage";
                // skipSegment: a segment predicting nothing is left out, unless more
                // than `missingThreshold` of the selected weight predicts nothing.
                let skip = seg.attr("missingPredictionTreatment") == Some("skipSegment");
                let threshold = seg.f64_or("missingThreshold", 1.0)?;
                let mut out = Vec::new();
                for j in 0..k {
                    let mut total: Option<Expr> = None;
                    let mut count: Option<Expr> = None;
                    let mut lost: Option<Expr> = None;
                    let mut chosen: Option<Expr> = None;
                    for (p, w, v, _) in &outputs {
                        let w = if weighted { *w } else { 1.0 };
                        let value = if w != 1.0 {
                            mul(c(w), v[j].clone())
                        } else {
                            v[j].clone()
                        };
                        let used = if skip {
                            Expr::binary(
                                BinaryFn::Mul,
                                sel(p),
                                sub(c(1.0), is_missing(v[j].clone())),
                                F64,
                            )
                        } else {
                            sel(p)
                        };
                        let term = Expr::if_else(used.clone(), value, c(0.0));
                        total = Some(total.map_or(term.clone(), |t| add(t, term)));
                        let n = mul(c(w), used);
                        count = Some(count.map_or(n.clone(), |t| add(t, n)));
                        if skip {
                            let gone = mul(c(w), mul(sel(p), is_missing(v[j].clone())));
                            lost = Some(lost.map_or(gone.clone(), |t| add(t, gone)));
                            let all = mul(c(w), sel(p));
                            chosen = Some(chosen.map_or(all.clone(), |t| add(t, all)));
                        }
                    }
                    let total = total.expect("segments");
                    let mut value = if method == "sum" {
                        total
                    } else {
                        div(total, count.expect("segments"))
                    };
                    if let (Some(lost), Some(chosen)) = (lost, chosen) {
                        value = Expr::if_else(
                            Expr::compare(CompareOp::Gt, div(lost, chosen), c(threshold)),
                            c(f64::NAN),
                            value,
                        );
                    }
                    out.push(value);
                }
                out
            }
            ("median", None) => {
                if outputs
                    .iter()
                    .any(|(p, ..)| !matches!(p, Expr::Const { value } if *value == 1.0))
                {
                    return Err(seg.unsupported("a median over segments chosen by predicates"));
                }
                let xs: Vec<Expr> = outputs.iter().map(|o| o.2[0].clone()).collect();
                vec![self.median(xs)]
            }
            ("selectFirst", _) => {
                let k = outputs[0].2.len();
                (0..k)
                    .map(|j| {
                        outputs
                            .iter()
                            .rev()
                            .fold(c(f64::NAN), |rest, (p, _, v, _)| {
                                Expr::if_else(p.clone(), v[j].clone(), rest)
                            })
                    })
                    .collect()
            }
            ("majorityVote" | "weightedMajorityVote", Some(k)) => {
                let weighted = method == "weightedMajorityVote";
                let mut votes: Vec<Option<Expr>> = vec![None; k];
                let mut total: Option<Expr> = None;
                let mut missing: Option<Expr> = None;
                let mut ballots: Vec<(Expr, Expr)> = Vec::new();
                for (p, w, _, label) in &outputs {
                    let label = label.clone().ok_or_else(|| {
                        seg.unsupported("votes of segments that are not classification trees")
                    })?;
                    let label = Expr::column(self.column("vote", label));
                    ballots.push((p.clone(), label.clone()));
                    let w = if weighted { *w } else { 1.0 };
                    for (j, slot) in votes.iter_mut().enumerate() {
                        let v = Expr::if_else(
                            p.clone(),
                            mul(
                                c(w),
                                Expr::compare(CompareOp::Eq, label.clone(), c(j as f64)),
                            ),
                            c(0.0),
                        );
                        *slot = Some(slot.take().map_or(v.clone(), |s| add(s, v)));
                    }
                    let counted = Expr::if_else(
                        p.clone(),
                        Expr::if_else(is_missing(label.clone()), c(0.0), c(w)),
                        c(0.0),
                    );
                    total = Some(total.map_or(counted.clone(), |t| add(t, counted)));
                    let none = Expr::if_else(
                        p.clone(),
                        Expr::if_else(is_missing(label.clone()), c(w), c(0.0)),
                        c(0.0),
                    );
                    missing = Some(missing.map_or(none.clone(), |t| add(t, none)));
                }
                let total = Expr::column(self.column("votes", total.expect("segments")));
                let votes: Vec<Expr> = votes
                    .into_iter()
                    .map(|v| Expr::column(self.column("votes", v.expect("segments"))))
                    .collect();
                // Segments predicting nothing vote for "missing": when that has more
                // votes than every class the result is missing (JPMML).
                let missing = Expr::column(self.column("votes", missing.expect("segments")));
                let most = votes
                    .iter()
                    .cloned()
                    .reduce(|a, b| Expr::binary(BinaryFn::Max, a, b, F64))
                    .expect("classes");
                let lost = Expr::compare(CompareOp::Gt, missing, most);
                label = Some(self.vote_winner(&votes, &ballots));
                votes
                    .into_iter()
                    .map(|v| Expr::if_else(lost.clone(), c(f64::NAN), div(v, total.clone())))
                    .collect()
            }
            // Per class the largest probability over the segments; the class with the
            // largest wins, and the result is the mean distribution of the segments
            // that reach it for that class.
            ("max", Some(k)) => {
                if outputs
                    .iter()
                    .any(|(p, ..)| !matches!(p, Expr::Const { value } if *value == 1.0))
                {
                    return Err(seg.unsupported("`max` over segments chosen by predicates"));
                }
                let maxes: Vec<Expr> = (0..k)
                    .map(|j| {
                        let m = outputs
                            .iter()
                            .map(|o| o.2[j].clone())
                            .reduce(|a, b| Expr::binary(BinaryFn::Max, a, b, F64))
                            .expect("segments");
                        Expr::column(self.column("max", m))
                    })
                    .collect();
                let winner = self.first_max(&maxes, None);
                let winner = Expr::column(self.column("winner", winner));
                let at_winner = |v: &[Expr]| -> Expr {
                    (0..k)
                        .map(|j| {
                            Expr::if_else(
                                Expr::compare(CompareOp::Eq, winner.clone(), c(j as f64)),
                                v[j].clone(),
                                c(0.0),
                            )
                        })
                        .reduce(add)
                        .expect("classes")
                };
                let best = at_winner(&maxes);
                let best = Expr::column(self.column("best", best));
                let mut reach = Vec::new();
                for o in &outputs {
                    let r = Expr::compare(CompareOp::Eq, at_winner(&o.2), best.clone());
                    reach.push(Expr::column(self.column("reach", r)));
                }
                let n = reach.iter().cloned().reduce(add).expect("segments");
                let n = Expr::column(self.column("reach", n));
                (0..k)
                    .map(|j| {
                        let sum = outputs
                            .iter()
                            .zip(&reach)
                            .map(|(o, r)| mul(r.clone(), o.2[j].clone()))
                            .reduce(add)
                            .expect("segments");
                        let p = div(sum, n.clone());
                        Expr::if_else(is_missing(winner.clone()), c(f64::NAN), p)
                    })
                    .collect()
            }
            (method, _) => {
                return Err(seg.unsupported(format!(
                    "multipleModelMethod `{method}` for a {}",
                    if classes.is_some() {
                        "classification"
                    } else {
                        "regression"
                    }
                )))
            }
        };
        Ok(Scored::Values { values, label })
    }

    /// The class with the most votes; on a tie the one voted for first, in segment
    /// order, as JPMML counts votes in the order they come.
    pub(crate) fn vote_winner(&mut self, votes: &[Expr], ballots: &[(Expr, Expr)]) -> Expr {
        let never = c(ballots.len() as f64);
        // The first segment (by position) that votes for class j.
        let first: Vec<Expr> = (0..votes.len())
            .map(|j| {
                let at = ballots.iter().enumerate().rev().fold(
                    never.clone(),
                    |later, (s, (p, label))| {
                        let votes_j = Expr::binary(
                            BinaryFn::Min,
                            selected(p.clone()),
                            Expr::compare(CompareOp::Eq, label.clone(), c(j as f64)),
                            F64,
                        );
                        Expr::if_else(votes_j, c(s as f64), later)
                    },
                );
                Expr::column(self.column("first_vote", at))
            })
            .collect();
        let mut index = c(0.0);
        let mut most = votes[0].clone();
        let mut earliest = first[0].clone();
        for j in 1..votes.len() {
            let more = Expr::compare(CompareOp::Gt, votes[j].clone(), most.clone());
            let as_many_sooner = Expr::binary(
                BinaryFn::Min,
                Expr::compare(CompareOp::Eq, votes[j].clone(), most.clone()),
                Expr::compare(CompareOp::Lt, first[j].clone(), earliest.clone()),
                F64,
            );
            let better = Expr::column(self.column(
                "better",
                Expr::binary(BinaryFn::Max, more, as_many_sooner, F64),
            ));
            index = Expr::column(
                self.column("winner", Expr::if_else(better.clone(), c(j as f64), index)),
            );
            most = Expr::column(self.column(
                "most",
                Expr::if_else(better.clone(), votes[j].clone(), most),
            ));
            earliest = Expr::column(self.column(
                "earliest",
                Expr::if_else(better, first[j].clone(), earliest),
            ));
        }
        index
    }

    /// The index of the first largest value scanned in `order` (by default in index
    /// order); missing when any value is.
    fn first_max(&mut self, values: &[Expr], order: Option<&[usize]>) -> Expr {
        let natural: Vec<usize> = (0..values.len()).collect();
        let order = order.unwrap_or(&natural);
        let mut index = c(order[0] as f64);
        let mut best = values[order[0]].clone();
        for &j in &order[1..] {
            let v = &values[j];
            let better = Expr::column(self.column(
                "better",
                Expr::compare(CompareOp::Gt, v.clone(), best.clone()),
            ));
            index = Expr::column(
                self.column("argmax", Expr::if_else(better.clone(), c(j as f64), index)),
            );
            best = Expr::column(self.column("max", Expr::if_else(better, v.clone(), best)));
        }
        let any_missing = values
            .iter()
            .map(|v| is_missing(v.clone()))
            .reduce(|a, b| Expr::binary(BinaryFn::Max, a, b, F64))
            .expect("values");
        Expr::if_else(any_missing, c(f64::NAN), index)
    }

    /// The median of `xs` as JPMML computes it: the middle value, or for an even count
    /// `lower + 0.5 * (upper - lower)` of the two middle ones. Sorted with a network of
    /// min/max pairs (odd–even transposition), each stage a column.
    fn median(&mut self, mut xs: Vec<Expr>) -> Expr {
        let n = xs.len();
        for round in 0..n {
            let mut i = round % 2;
            while i + 1 < n {
                let (a, b) = (xs[i].clone(), xs[i + 1].clone());
                xs[i] = Expr::column(self.column(
                    "sorted",
                    Expr::binary(BinaryFn::Min, a.clone(), b.clone(), F64),
                ));
                xs[i + 1] =
                    Expr::column(self.column("sorted", Expr::binary(BinaryFn::Max, a, b, F64)));
                i += 2;
            }
        }
        if n % 2 == 1 {
            xs[n / 2].clone()
        } else {
            let (lo, hi) = (xs[n / 2 - 1].clone(), xs[n / 2].clone());
            add(lo.clone(), mul(c(0.5), sub(hi, lo)))
        }
    }

    /// A chained segment's OutputFields, as fields the later segments read.
    fn chain_outputs(
        &mut self,
        m: El<'a, 'i>,
        values: &[Expr],
        classes: Option<&[String]>,
        label: Option<Expr>,
    ) -> Result<(), ImportError> {
        let Some(output) = m.child("Output") else {
            return Ok(());
        };
        for f in output.children_named("OutputField") {
            let name = f.req("name")?;
            let feature = f.attr("feature").unwrap_or("predictedValue");
            let (expr, kind) = match (feature, classes) {
                ("predictedValue", None) => (values[0].clone(), Kind::Number),
                ("predictedValue", Some(cls)) => {
                    let label = label.clone().ok_or_else(|| {
                        f.unsupported("the predicted label of a chained segment that is not a tree")
                    })?;
                    (label, Kind::Text(Rc::new(cls.to_vec())))
                }
                ("probability", Some(cls)) => {
                    let value = f.req("value")?;
                    let k = cls
                        .iter()
                        .position(|c| c == value)
                        .ok_or_else(|| f.error(format!("`{value}` is not a class")))?;
                    (values[k].clone(), Kind::Number)
                }
                // An expression over the outputs before it (a calibration, an inverse
                // target transformation).
                ("transformedValue", _) => {
                    let body = f
                        .elements()
                        .next()
                        .ok_or_else(|| f.error("a transformedValue needs an expression"))?;
                    let upto = self.scopes.len();
                    let v = self.expression(body, upto)?;
                    (v.expr, v.kind)
                }
                (other, _) => {
                    return Err(f.unsupported(format!("an OutputField with feature `{other}`")))
                }
            };
            // A `float` output is rounded to float32 before later segments read it
            // (nyoka's XGBoost and LightGBM chains), as JPMML does.
            let float = f.attr("dataType") == Some("float") && kind == Kind::Number;
            let expr = if float {
                Expr::unary(UnaryFn::Cast, expr, Precision::F32)
            } else {
                expr
            };
            let column = self.column(name, expr);
            // Visible to the later segments: the segmentation's scope is the innermost
            // open one while segments are converted.
            self.define(
                name,
                Field {
                    column,
                    kind,
                    float,
                    integer: false,
                },
            );
        }
        Ok(())
    }

    /// Targets that clamp, round or default a regression: applied to its prediction in
    /// JPMML's order (clamp, × rescaleFactor, + rescaleConstant, castInteger); a
    /// missing prediction becomes TargetValue's defaultValue, run through the same.
    pub fn post_targets(
        &mut self,
        model: El<'a, 'i>,
        scored: Scored<'a, 'i>,
    ) -> Result<Scored<'a, 'i>, ImportError> {
        let targets = model.req_child("Targets")?;
        let t = targets
            .children_named("Target")
            .next()
            .ok_or_else(|| targets.error("no <Target>"))?;
        let values = self.values(scored, None, model)?;
        let x = Expr::column(self.column("prediction", values[0].clone()));
        let (min, max) = (t.f64_opt("min")?, t.f64_opt("max")?);
        let (factor, constant) = (
            t.f64_or("rescaleFactor", 1.0)?,
            t.f64_or("rescaleConstant", 0.0)?,
        );
        let cast = t.attr("castInteger");
        let pipeline = |mut v: Expr| -> Result<Expr, ImportError> {
            if let Some(lo) = min {
                v = Expr::binary(BinaryFn::Max, v, c(lo), F64);
            }
            if let Some(hi) = max {
                v = Expr::binary(BinaryFn::Min, v, c(hi), F64);
            }
            if factor != 1.0 {
                v = mul(v, c(factor));
            }
            if constant != 0.0 {
                v = add(v, c(constant));
            }
            Ok(match cast {
                None => v,
                Some("round") => Expr::unary(UnaryFn::Floor, add(v, c(0.5)), F64),
                Some("floor") => Expr::unary(UnaryFn::Floor, v, F64),
                Some("ceiling") => Expr::unary(UnaryFn::Ceil, v, F64),
                Some(other) => return Err(t.error(format!("unknown castInteger `{other}`"))),
            })
        };
        let mut out = pipeline(x.clone())?;
        let default = t
            .children_named("TargetValue")
            .find_map(|tv| tv.attr("defaultValue"))
            .map(|d| {
                parse_number(d)
                    .ok_or_else(|| t.error(format!("defaultValue `{d}` is not a number")))
            })
            .transpose()?;
        if let Some(d) = default {
            out = Expr::if_else(is_missing(x), pipeline(c(d))?, out);
        }
        Ok(Scored::Values {
            values: vec![out],
            label: None,
        })
    }
}
