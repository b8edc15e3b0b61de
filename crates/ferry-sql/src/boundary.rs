//! Reproducing a float32 comparison with a float64 one.
//!
//! XGBoost and scikit-learn round a feature to float32 before comparing it with a
//! float32 threshold. A database holds the float64 value, and comparing it with the
//! threshold directly gets the rows between the threshold and the float32 rounding
//! boundary wrong (orbital's measured branch flips). Rounding to nearest is monotone, so
//! `fl32(x) < U` holds exactly for `x` below the midpoint between `U` and its float32
//! predecessor; at the midpoint itself, ties go to the even one of the two.

use ferry_ir::Cmp;

/// The float64 comparison `x <cmp'> b` that holds for exactly the non-NaN float64 `x`
/// with `fl32(x) <cmp> threshold`. `None` when no `x` satisfies it.
pub(crate) fn float32_boundary(cmp: Cmp, threshold: f64) -> Option<(Cmp, f64)> {
    // U: the smallest float32 with `fl32(x) <cmp> threshold` ⇔ `fl32(x) < U`.
    let rounded = threshold as f32;
    let upper = match cmp {
        Cmp::Lt if f64::from(rounded) < threshold => rounded.next_up(),
        Cmp::Lt => rounded,
        Cmp::Le => {
            let floor = if f64::from(rounded) > threshold {
                rounded.next_down()
            } else {
                rounded
            };
            floor.next_up()
        }
    };
    if upper == f32::NEG_INFINITY {
        return None;
    }
    let lower = upper.next_down();
    if lower == f32::NEG_INFINITY {
        // fl32(x) < -MAX ⇔ fl32(x) = -inf ⇔ x at or below the overflow midpoint (the
        // tie goes to -inf, whose significand counts as even).
        return Some((Cmp::Le, -overflow_midpoint()));
    }
    if upper == f32::INFINITY {
        return Some((Cmp::Lt, overflow_midpoint()));
    }
    // Exact: float64 has 29 more significand bits than float32.
    let mid = (f64::from(lower) + f64::from(upper)) / 2.0;
    let upper_is_even = upper.to_bits() & 1 == 0;
    // At the midpoint x rounds to the even neighbour: to `upper` (not below it), or to
    // `lower` (below it).
    Some(if upper_is_even {
        (Cmp::Lt, mid)
    } else {
        (Cmp::Le, mid)
    })
}

/// The float64 value halfway between `f32::MAX` and the next power of two: values from
/// here up round to infinity.
fn overflow_midpoint() -> f64 {
    f64::from(f32::MAX) + 2f64.powi(103)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn source(cmp: Cmp, threshold: f64, x: f64) -> bool {
        let x = f64::from(x as f32);
        match cmp {
            Cmp::Lt => x < threshold,
            Cmp::Le => x <= threshold,
        }
    }

    fn lowered(cmp: Cmp, threshold: f64, x: f64) -> bool {
        match float32_boundary(cmp, threshold) {
            None => false,
            Some((Cmp::Lt, b)) => x < b,
            Some((Cmp::Le, b)) => x <= b,
        }
    }

    /// Values at and one float64 step around the rounding boundaries near `t`.
    fn probes(t: f64) -> Vec<f64> {
        let t32 = t as f32;
        let mut out = vec![t, t.next_up(), t.next_down(), 0.0, -0.0];
        for f in [t32.next_down(), t32, t32.next_up()] {
            let g = f.next_up();
            for m in [(f64::from(f) + f64::from(g)) / 2.0, f64::from(f)] {
                if m.is_finite() {
                    out.extend([m, m.next_up(), m.next_down()]);
                }
            }
        }
        out
    }

    #[test]
    fn extremes() {
        for t in [
            0.0,
            -0.0,
            1e-45,
            -1e-45,
            f64::from(f32::MAX),
            -f64::from(f32::MAX),
            1e39,
            -1e39,
            f64::MAX,
            -f64::MAX,
        ] {
            for cmp in [Cmp::Lt, Cmp::Le] {
                for x in probes(t).into_iter().chain([
                    overflow_midpoint(),
                    overflow_midpoint().next_down(),
                    -overflow_midpoint(),
                    -overflow_midpoint().next_up(),
                    f64::MAX,
                    -f64::MAX,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                ]) {
                    assert_eq!(
                        lowered(cmp, t, x),
                        source(cmp, t, x),
                        "{cmp:?} t={t:e} x={x:e}"
                    );
                }
            }
        }
    }

    proptest! {
        #[test]
        fn agrees_with_float32_comparison(
            bits in any::<u64>(),
            scale in -60i32..60,
            le in any::<bool>(),
        ) {
            let cmp = if le { Cmp::Le } else { Cmp::Lt };
            // A threshold of any magnitude, float32-exact half the time (XGBoost's).
            let raw = (f64::from_bits(bits >> 12 | 0x3ff0_0000_0000_0000) - 1.5) * 2f64.powi(scale);
            let t = if bits & 1 == 0 { f64::from(raw as f32) } else { raw };
            for x in probes(t) {
                prop_assert_eq!(lowered(cmp, t, x), source(cmp, t, x), "{:?} t={:e} x={:e}", cmp, t, x);
            }
        }
    }
}
