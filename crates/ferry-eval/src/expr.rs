//! Derived columns (preprocessing), evaluated a block of rows at a time: every node of an
//! expression works on a short slice, so the inner loops are plain and in cache.

use std::borrow::Cow;

use ferry_ir::{round_to, BinaryFn, Expr, Precision, UnaryFn};

/// Rows per block: temporaries stay in cache.
const BLOCK: usize = 1024;

/// Appends the derived columns to `columns` (the inputs, or a chunk of them), a block
/// of rows at a time.
pub(crate) fn derive(
    derived: &[ferry_ir::Derived],
    columns: &mut Vec<Cow<'_, [f64]>>,
    n_rows: usize,
) {
    for d in derived {
        let mut out = vec![0.0; n_rows];
        for (b, block) in out.chunks_mut(BLOCK).enumerate() {
            eval_into(&d.expr, columns, b * BLOCK, block);
        }
        columns.push(Cow::Owned(out));
    }
}

/// A fresh block holding `expr` for rows `start..start + len`.
fn eval(expr: &Expr, columns: &[Cow<'_, [f64]>], start: usize, len: usize) -> Vec<f64> {
    let mut out = vec![0.0; len];
    eval_into(expr, columns, start, &mut out);
    out
}

/// Writes `expr` for rows `start..start + out.len()` into `out`. The first operand of an
/// operation is computed in `out` itself and the operation applied in place, so a chain
/// like a scaler's `(x - offset) * scale` allocates nothing.
fn eval_into(expr: &Expr, columns: &[Cow<'_, [f64]>], start: usize, out: &mut [f64]) {
    let len = out.len();
    match expr {
        Expr::Column { index } => out.copy_from_slice(&columns[*index][start..start + len]),
        Expr::Const { value } => out.fill(*value),
        Expr::Unary { f, x, precision } => {
            eval_into(x, columns, start, out);
            match (f, precision) {
                (UnaryFn::Cast, Precision::F32) => {
                    out.iter_mut().for_each(|x| *x = f64::from(*x as f32));
                }
                _ => out.iter_mut().for_each(|x| *x = f.apply(*x, *precision)),
            }
        }
        Expr::Binary { f, a, b, precision } => {
            eval_into(a, columns, start, out);
            match **b {
                Expr::Const { value } => with_constant(out, *f, value, *precision),
                Expr::Column { index } => out
                    .iter_mut()
                    .zip(&columns[index][start..start + len])
                    .for_each(|(a, b)| *a = f.apply(*a, *b, *precision)),
                _ => {
                    let b = eval(b, columns, start, len);
                    out.iter_mut()
                        .zip(&b)
                        .for_each(|(a, b)| *a = f.apply(*a, *b, *precision));
                }
            }
        }
        Expr::Compare { cmp, a, b } => {
            eval_into(a, columns, start, out);
            let b = eval(b, columns, start, len);
            out.iter_mut()
                .zip(&b)
                .for_each(|(a, b)| *a = f64::from(u8::from(cmp.holds(*a, *b))));
        }
        Expr::IsMissing { x } => {
            eval_into(x, columns, start, out);
            out.iter_mut()
                .for_each(|x| *x = if x.is_nan() { 1.0 } else { 0.0 });
        }
        Expr::If {
            cond,
            then,
            otherwise,
        } => {
            let cond = eval(cond, columns, start, len);
            eval_into(then, columns, start, out);
            let otherwise = eval(otherwise, columns, start, len);
            for ((t, o), c) in out.iter_mut().zip(&otherwise).zip(&cond) {
                if *c == 0.0 || c.is_nan() {
                    *t = *o;
                }
            }
        }
        Expr::Dot {
            columns: inputs,
            weights,
            bias,
            precision,
        } => {
            out.fill(round_to(*precision, *bias));
            for (c, w) in inputs.iter().zip(weights) {
                let x = &columns[*c][start..start + len];
                match precision {
                    Precision::F32 => {
                        let w = *w as f32;
                        for (a, x) in out.iter_mut().zip(x) {
                            *a = f64::from(*a as f32 + w * *x as f32);
                        }
                    }
                    Precision::F64 => {
                        for (a, x) in out.iter_mut().zip(x) {
                            *a += *w * *x;
                        }
                    }
                }
            }
        }
        Expr::Lookup { x, table, default } => {
            eval_into(x, columns, start, out);
            out.iter_mut()
                .for_each(|x| *x = ferry_ir::lookup(table, *default, *x));
        }
    }
}

/// `a op c` for a constant `c`: the common scaler/shift steps get loops of their own
/// (the operation chosen once, not per element), the rest goes through `apply`.
fn with_constant(a: &mut [f64], f: BinaryFn, c: f64, p: Precision) {
    let c32 = c as f32;
    match (f, p) {
        (BinaryFn::Add, Precision::F32) => {
            a.iter_mut().for_each(|a| *a = f64::from(*a as f32 + c32))
        }
        (BinaryFn::Sub, Precision::F32) => {
            a.iter_mut().for_each(|a| *a = f64::from(*a as f32 - c32))
        }
        (BinaryFn::Mul, Precision::F32) => {
            a.iter_mut().for_each(|a| *a = f64::from(*a as f32 * c32))
        }
        (BinaryFn::Div, Precision::F32) => {
            a.iter_mut().for_each(|a| *a = f64::from(*a as f32 / c32))
        }
        (BinaryFn::Add, Precision::F64) => a.iter_mut().for_each(|a| *a += c),
        (BinaryFn::Sub, Precision::F64) => a.iter_mut().for_each(|a| *a -= c),
        (BinaryFn::Mul, Precision::F64) => a.iter_mut().for_each(|a| *a *= c),
        (BinaryFn::Div, Precision::F64) => a.iter_mut().for_each(|a| *a /= c),
        _ => a.iter_mut().for_each(|a| *a = f.apply(*a, c, p)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_ir::CompareOp;

    fn run(expr: Expr, column: Vec<f64>) -> Vec<f64> {
        let n = column.len();
        let mut columns = vec![Cow::Owned(column)];
        derive(
            &[ferry_ir::Derived {
                name: "d".into(),
                expr,
            }],
            &mut columns,
            n,
        );
        columns.pop().unwrap().into_owned()
    }

    #[test]
    fn float32_scaler_rounds_like_float32_hardware() {
        // (x - offset) * scale in float32, as ONNX's Scaler computes it.
        let x = 0.1_f64;
        let expr = Expr::binary(
            BinaryFn::Mul,
            Expr::binary(
                BinaryFn::Sub,
                Expr::column(0),
                Expr::constant(0.3),
                Precision::F32,
            ),
            Expr::constant(3.0),
            Precision::F32,
        );
        let want = (0.1_f32 - 0.3_f32) * 3.0_f32;
        assert_eq!(run(expr, vec![x]), vec![f64::from(want)]);
    }

    #[test]
    fn missing_values_propagate_and_compare_false() {
        let nan = f64::NAN;
        let relu = Expr::unary(UnaryFn::Relu, Expr::column(0), Precision::F64);
        let out = run(relu, vec![-1.0, nan, 2.0]);
        assert_eq!(out[0], 0.0);
        assert!(out[1].is_nan());
        assert_eq!(out[2], 2.0);
        let ne = Expr::compare(CompareOp::Ne, Expr::column(0), Expr::constant(1.0));
        assert_eq!(run(ne, vec![nan, 1.0, 2.0]), vec![0.0, 0.0, 1.0]);
        let imputed = Expr::if_else(
            Expr::IsMissing {
                x: Box::new(Expr::column(0)),
            },
            Expr::constant(7.0),
            Expr::column(0),
        );
        assert_eq!(run(imputed, vec![nan, 1.0]), vec![7.0, 1.0]);
    }

    #[test]
    fn lookup_uses_default_outside_the_table() {
        let expr = Expr::Lookup {
            x: Box::new(Expr::column(0)),
            table: vec![10.0, 20.0],
            default: -1.0,
        };
        assert_eq!(
            run(expr, vec![0.0, 1.0, 2.0, f64::NAN, 0.5, -1.0]),
            vec![10.0, 20.0, -1.0, -1.0, -1.0, -1.0]
        );
    }

    #[test]
    fn blocks_cover_every_row() {
        let n = BLOCK * 2 + 7;
        let column: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let expr = Expr::binary(
            BinaryFn::Add,
            Expr::column(0),
            Expr::constant(1.0),
            Precision::F64,
        );
        let out = run(expr, column);
        assert!(out.iter().enumerate().all(|(i, v)| *v == i as f64 + 1.0));
    }
}
