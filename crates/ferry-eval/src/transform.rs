//! Raw scores → predictions or class probabilities, in the model's score precision.

use ferry_ir::Transform;

use crate::float::Float;

/// Applies `transform` to one row of raw scores (`raw`, already in precision `S`) and
/// writes the transformed values to `out` (same length).
pub(crate) fn apply<S: Float>(transform: Transform, raw: &[f64], out: &mut [f64]) {
    match transform {
        Transform::Identity => out.copy_from_slice(raw),
        Transform::Logistic { scale } => {
            for (o, r) in out.iter_mut().zip(raw) {
                *o = logistic::<S>(scale, *r);
            }
        }
        Transform::Exp => {
            for (o, r) in out.iter_mut().zip(raw) {
                *o = S::from_f64(*r).exp().to_f64();
            }
        }
        Transform::Softmax => softmax::<S>(raw, out),
        Transform::Sort => {
            out.copy_from_slice(raw);
            out.sort_by(f64::total_cmp);
        }
        // GLM links (PMML) are computed in float64, as JPMML does.
        Transform::Link { link, complement } => {
            for (o, r) in out.iter_mut().zip(raw) {
                let p = link.apply(*r);
                *o = S::from_f64(if complement { 1.0 - p } else { p }).to_f64();
            }
        }
    }
}

/// `1 / (1 + exp(-scale * x))`. In float32 this follows XGBoost, which clamps the
/// exponent at 88.7 so that `expf` cannot overflow.
fn logistic<S: Float>(scale: f64, x: f64) -> f64 {
    let one = S::from_f64(1.0);
    let z = S::from_f64(scale) * S::from_f64(x);
    let neg = S::from_f64(0.0) - z;
    let neg = if S::IS_F32 && neg > S::from_f64(88.7_f32 as f64) {
        S::from_f64(88.7_f32 as f64)
    } else {
        neg
    };
    (one / (one + neg.exp())).to_f64()
}

/// Softmax with the maximum subtracted. The sum of the exponentials is accumulated in
/// float64 in both precisions, as XGBoost (float32 terms, double sum) and LightGBM do.
fn softmax<S: Float>(raw: &[f64], out: &mut [f64]) {
    let max = raw
        .iter()
        .map(|r| S::from_f64(*r))
        .fold(
            S::from_f64(f64::NEG_INFINITY),
            |m, x| if x > m { x } else { m },
        );
    let mut sum = 0.0f64;
    for (o, r) in out.iter_mut().zip(raw) {
        let e = (S::from_f64(*r) - max).exp();
        *o = e.to_f64();
        sum += e.to_f64();
    }
    let sum = S::from_f64(sum);
    for o in out.iter_mut() {
        *o = (S::from_f64(*o) / sum).to_f64();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_f32_matches_xgboost_formula() {
        let x = 0.3_f32;
        let expected = 1.0f32 / (1.0f32 + (-x).exp());
        assert_eq!(logistic::<f32>(1.0, f64::from(x)), f64::from(expected));
    }

    #[test]
    fn softmax_sums_to_one() {
        let mut out = [0.0; 3];
        softmax::<f64>(&[1.0, 2.0, 3.0], &mut out);
        assert!((out.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert!(out[2] > out[1] && out[1] > out[0]);
    }
}
