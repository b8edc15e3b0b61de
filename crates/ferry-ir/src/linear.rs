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
