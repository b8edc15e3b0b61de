use crate::Precision;

/// A linear model: raw score `k` is `intercepts[k] + sum_j coefficients[k][j] * x_j`,
/// summed in input order in `score_precision`. The link is the model's transform.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Linear {
    /// One row per raw score, one coefficient per input.
    #[cfg_attr(feature = "serde", serde(with = "crate::float_serde::matrix"))]
    pub coefficients: Vec<Vec<f64>>,
    #[cfg_attr(feature = "serde", serde(with = "crate::float_serde::vec"))]
    pub intercepts: Vec<f64>,
    /// Precision of features, products and sums.
    pub score_precision: Precision,
}

impl Linear {
    /// Whether raw score `k` is feature `k` (rounded to `score_precision`): what
    /// importers write for an estimator made of columns a graph computed already. It
    /// is evaluated as that selection, not as products with 0 and 1: `0 * x` is NaN
    /// for an infinite or missing `x`, which would leak one column's NaN into every
    /// score, where the graph has no arithmetic at all.
    pub fn is_identity(&self) -> bool {
        let n = self.intercepts.len();
        self.coefficients.len() == n
            && self.intercepts.iter().all(|b| *b == 0.0)
            && self.coefficients.iter().enumerate().all(|(k, row)| {
                row.len() == n
                    && row
                        .iter()
                        .enumerate()
                        .all(|(j, w)| *w == if j == k { 1.0 } else { 0.0 })
            })
    }

    /// The earlier score that raw score `k` negates exactly (every coefficient and the
    /// intercept), itself computed rather than negating another. skl2onnx writes a
    /// binary classifier's two scores that way. Rounding to nearest is symmetric, so
    /// each product and partial sum of the negated row is the negation of the
    /// original's: `-score_j` is score `k` bit for bit (an exact zero aside: `+0`
    /// computed, `-0` negated).
    pub fn negation_of(&self, k: usize) -> Option<usize> {
        let row = |j: usize| (self.coefficients[j].as_slice(), self.intercepts[j]);
        (0..k).find(|&j| negates(row(k), row(j)) && self.negation_of(j).is_none())
    }
}

/// Whether weights and bias `a` are exactly those of `b`, negated (-0 and +0 alike; a
/// NaN negates nothing). The bias first: it differs in all but true negations.
pub(crate) fn negates(a: (&[f64], f64), b: (&[f64], f64)) -> bool {
    a.1 == -b.1 && a.0.len() == b.0.len() && a.0.iter().zip(b.0).all(|(x, y)| *x == -*y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_negated_row_is_found() {
        let linear = Linear {
            coefficients: vec![vec![0.5, -0.0], vec![-0.5, 0.0], vec![-0.5, 0.0]],
            intercepts: vec![0.25, -0.25, 0.25],
            score_precision: Precision::F64,
        };
        assert_eq!(linear.negation_of(0), None);
        assert_eq!(linear.negation_of(1), Some(0));
        assert_eq!(linear.negation_of(2), None, "the intercept is not negated");
    }

    #[test]
    fn identity_is_recognised() {
        let linear = |coefficients: Vec<Vec<f64>>, intercepts: Vec<f64>| Linear {
            coefficients,
            intercepts,
            score_precision: Precision::F64,
        };
        assert!(linear(vec![vec![1.0, 0.0], vec![0.0, 1.0]], vec![0.0, 0.0]).is_identity());
        assert!(linear(vec![vec![1.0]], vec![0.0]).is_identity());
        assert!(!linear(vec![vec![1.0, 0.0], vec![0.0, 1.0]], vec![0.0, 0.5]).is_identity());
        assert!(!linear(vec![vec![0.0, 1.0], vec![1.0, 0.0]], vec![0.0, 0.0]).is_identity());
        assert!(!linear(vec![vec![1.0, 0.0]], vec![0.0]).is_identity());
    }
}
