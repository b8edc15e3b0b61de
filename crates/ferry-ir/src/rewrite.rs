//! Exact rewrites: the same model, cheaper to evaluate, with bit-identical results.

use crate::linear::negates;
use crate::{Expr, Model, UnaryFn};

impl Model {
    /// Rewrites each derived dot product that is the exact negation of an earlier one
    /// (the same columns and precision, every weight and the bias negated) as that
    /// column negated, so it is computed once.
    ///
    /// Binary classifiers exported by skl2onnx score both classes, the second with
    /// the first's weights negated. Rounding to nearest is symmetric, so each product
    /// and each partial sum of `(-b) + (-w)·x` is the negation of the same step of
    /// `b + w·x`, and the results agree bit for bit (a sum that cancels to zero
    /// exactly gives +0 both ways, its negation -0; the two compare equal).
    pub fn share_negated_dots(&mut self) {
        let n_inputs = self.inputs.len();
        for k in 0..self.derived.len() {
            let Expr::Dot {
                columns,
                weights,
                bias,
                precision,
            } = &self.derived[k].expr
            else {
                continue;
            };
            // A column rewritten already is a negation, no dot product: never matched.
            let first = self.derived[..k].iter().position(|d| {
                matches!(&d.expr, Expr::Dot { columns: c, weights: w, bias: b, precision: p }
                    if p == precision && negates((weights, *bias), (w, *b)) && c == columns)
            });
            if let Some(j) = first {
                let precision = *precision;
                self.derived[k].expr =
                    Expr::unary(UnaryFn::Neg, Expr::column(n_inputs + j), precision);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Derived, Estimator, Linear, Precision, Source, Task, Transform};

    #[test]
    fn a_negated_dot_product_reads_the_first() {
        let dot = |weights: Vec<f64>, bias: f64| Expr::Dot {
            columns: vec![0, 1],
            weights,
            bias,
            precision: Precision::F64,
        };
        let derived = vec![
            dot(vec![0.5, -0.0], 0.25),
            dot(vec![-0.5, 0.0], -0.25), // the first negated (-0 and +0 alike)
            dot(vec![-0.5, 0.0], 0.25),  // the bias not negated
        ];
        let mut model = Model {
            ir_version: crate::IR_VERSION,
            source: Source::default(),
            inputs: vec![],
            derived: derived
                .into_iter()
                .enumerate()
                .map(|(k, expr)| Derived {
                    name: format!("d{k}"),
                    expr,
                })
                .collect(),
            features: None,
            estimator: Estimator::Linear(Linear {
                coefficients: vec![vec![]],
                intercepts: vec![0.0],
                score_precision: Precision::F64,
            }),
            transform: Transform::Identity,
            task: Task::Regression,
        };
        model.share_negated_dots();
        assert!(matches!(model.derived[0].expr, Expr::Dot { .. }));
        assert_eq!(
            model.derived[1].expr,
            Expr::unary(UnaryFn::Neg, Expr::column(0), Precision::F64)
        );
        assert!(matches!(model.derived[2].expr, Expr::Dot { .. }));
    }
}
