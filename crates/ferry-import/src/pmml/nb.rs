//! NaiveBayesModel (scikit-learn's GaussianNB through sklearn2pmml, R's e1071 and
//! naivebayes): per class the log prior plus the log likelihood of each input, then a
//! softmax, the way JPMML-Evaluator computes it.
//!
//! * The prior of a class is its `TargetValueCount` (its log is added).
//! * A continuous input adds `ln(max(density, threshold))` with the Gaussian density
//!   written as commons-math computes it, `exp(-0.5·z·z - (ln σ + ½ ln 2π))` with
//!   `z = (x - μ) / σ`: here `max(-0.5·z·z - (ln σ + ½ ln 2π), ln threshold)`.
//! * A discrete input adds `ln(count / class total)` of its value, the threshold for a
//!   count of zero, nothing for a value without counts.
//! * A missing input adds nothing.
//!
//! The scores and their softmax (the largest score subtracted first, as JPMML does) are
//! derived columns.

use ferry_ir::{BinaryFn, CompareOp, Expr};

use super::compose::{add, c, is_missing, F64};
use super::fields::{Builder, Kind};
use super::models::Scored;
use super::xml::El;
use crate::ImportError;

impl<'a, 'i> Builder<'a, 'i> {
    pub fn naive_bayes(
        &mut self,
        model: El<'a, 'i>,
        classes: Option<&[String]>,
    ) -> Result<Scored<'a, 'i>, ImportError> {
        let classes = classes
            .ok_or_else(|| model.unsupported("a NaiveBayesModel that is not a classifier"))?;
        let threshold = model.f64_req("threshold")?;
        let class_of = |el: El<'a, 'i>| -> Result<usize, ImportError> {
            let value = el.req("value")?;
            classes
                .iter()
                .position(|c| c == value)
                .ok_or_else(|| el.error(format!("`{value}` is not a class of the target")))
        };
        // Log priors.
        let mut scores: Vec<Option<Expr>> = vec![None; classes.len()];
        let counts = model
            .req_child("BayesOutput")?
            .req_child("TargetValueCounts")?;
        for tvc in counts.children_named("TargetValueCount") {
            let k = class_of(tvc)?;
            scores[k] = Some(c(tvc.f64_req("count")?.ln()));
        }
        let mut scores: Vec<Expr> = scores
            .into_iter()
            .zip(classes)
            .map(|(s, class)| {
                s.ok_or_else(|| counts.error(format!("no TargetValueCount for class `{class}`")))
            })
            .collect::<Result<_, _>>()?;

        let bayes_inputs = model.req_child("BayesInputs")?;
        // R's pmml package wraps continuous inputs in an Extension (before PMML 4.2).
        let extended = bayes_inputs
            .0
            .children()
            .filter(|n| n.has_tag_name("Extension"))
            .flat_map(|e| e.children().filter(|n| n.has_tag_name("BayesInput")))
            .map(El);
        for input in bayes_inputs.children_named("BayesInput").chain(extended) {
            let name = input.req("fieldName")?;
            let field = self.resolve(name, input)?;
            let x = Expr::column(field.column);
            let mut terms: Vec<Option<Expr>> = vec![None; classes.len()];
            if let Some(stats) = input.child("TargetValueStats") {
                if field.kind != Kind::Number {
                    return Err(
                        input.error(format!("`{name}` has TargetValueStats but is not a number"))
                    );
                }
                for stat in stats.children_named("TargetValueStat") {
                    let k = class_of(stat)?;
                    let Some(gauss) = stat.child("GaussianDistribution") else {
                        let other = stat.elements().next().map_or("nothing", |e| e.name());
                        return Err(stat.unsupported(format!(
                            "a {other} in a NaiveBayesModel (ferry reads GaussianDistribution)"
                        )));
                    };
                    let mean = gauss.f64_req("mean")?;
                    let variance = gauss.f64_req("variance")?;
                    if variance.is_nan() || variance <= 0.0 {
                        return Err(
                            gauss.error(format!("the variance must be positive, found {variance}"))
                        );
                    }
                    let sd = variance.sqrt();
                    let offset = sd.ln() + 0.5 * (2.0 * std::f64::consts::PI).ln();
                    let z = Expr::binary(
                        BinaryFn::Div,
                        Expr::binary(BinaryFn::Sub, x.clone(), c(mean), F64),
                        c(sd),
                        F64,
                    );
                    let z = Expr::column(self.column("z", z));
                    let exponent = Expr::binary(
                        BinaryFn::Sub,
                        Expr::binary(
                            BinaryFn::Mul,
                            Expr::binary(BinaryFn::Mul, c(-0.5), z.clone(), F64),
                            z,
                            F64,
                        ),
                        c(offset),
                        F64,
                    );
                    // ln(max(exp(e), t)) = max(e, ln t), without the underflow of
                    // exp(e) to 0 far from the mean (there JPMML's scores become -inf
                    // and its probabilities NaN; scikit-learn's stay finite, as here).
                    terms[k] = Some(if threshold > 0.0 {
                        Expr::binary(BinaryFn::Max, exponent, c(threshold.ln()), F64)
                    } else {
                        exponent
                    });
                }
            } else {
                // Discrete: the value's counts per class over the class totals.
                let pairs: Vec<El<'a, 'i>> = input.children_named("PairCounts").collect();
                if pairs.is_empty() {
                    return Err(input.error("a BayesInput needs TargetValueStats or PairCounts"));
                }
                let mut totals = vec![0.0; classes.len()];
                let mut cells: Vec<(El<'a, 'i>, Option<f64>, Vec<Option<f64>>)> = Vec::new();
                for pair in &pairs {
                    let value = field.value_of(pair.req("value")?, *pair)?;
                    let mut per_class = vec![None; classes.len()];
                    let tvcs = pair.req_child("TargetValueCounts")?;
                    for tvc in tvcs.children_named("TargetValueCount") {
                        let k = class_of(tvc)?;
                        let count = tvc.f64_req("count")?;
                        totals[k] += count;
                        per_class[k] = Some(count);
                    }
                    cells.push((*pair, value, per_class));
                }
                for (k, term) in terms.iter_mut().enumerate() {
                    // `if x == v1 then t1 else if x == v2 then t2 … else 0`.
                    let mut expr = c(0.0);
                    for (pair, value, per_class) in cells.iter().rev() {
                        let (Some(value), Some(count)) = (value, per_class[k]) else {
                            continue;
                        };
                        // JPMML takes a count within machine epsilon of zero as zero.
                        let p = if count.abs() <= f64::EPSILON {
                            threshold
                        } else {
                            count / totals[k]
                        };
                        if p <= 0.0 {
                            return Err(pair.unsupported(
                                "a count of zero with threshold 0 (a likelihood of 0)",
                            ));
                        }
                        expr = Expr::if_else(
                            Expr::compare(CompareOp::Eq, x.clone(), c(*value)),
                            c(p.ln()),
                            expr,
                        );
                    }
                    *term = Some(expr);
                }
            }
            for (score, term) in scores.iter_mut().zip(terms) {
                let Some(term) = term else { continue };
                // "Missing values are ignored".
                let term = Expr::if_else(is_missing(x.clone()), c(0.0), term);
                let sum = add(score.clone(), term);
                *score = Expr::column(self.column("log likelihood", sum));
            }
        }
        let values = self.softmax(scores);
        Ok(Scored::Values {
            values,
            label: None,
        })
    }
}
