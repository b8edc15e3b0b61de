//! Derived columns (preprocessing), evaluated a block of rows at a time: every node of an
//! expression produces a short vector, so the inner loops are plain slices.

use std::borrow::Cow;

use ferry_ir::{round_to, Expr, Precision};

/// Rows per block: temporaries stay in cache.
const BLOCK: usize = 1024;

/// Appends the derived columns of `model` to `columns` (which holds the inputs).
pub(crate) fn derive(
    derived: &[ferry_ir::Derived],
    columns: &mut Vec<Cow<'_, [f64]>>,
    n_rows: usize,
) {
    use rayon::prelude::*;
    for d in derived {
        let mut out = vec![0.0; n_rows];
        out.par_chunks_mut(BLOCK)
            .enumerate()
            .for_each(|(block, out)| {
                let start = block * BLOCK;
                let values = eval(&d.expr, columns, start, out.len());
                out.copy_from_slice(&values);
            });
        columns.push(Cow::Owned(out));
    }
}

fn eval(expr: &Expr, columns: &[Cow<'_, [f64]>], start: usize, len: usize) -> Vec<f64> {
    match expr {
        Expr::Column { index } => columns[*index][start..start + len].to_vec(),
        Expr::Const { value } => vec![*value; len],
        Expr::Unary { f, x, precision } => {
            let mut v = eval(x, columns, start, len);
            v.iter_mut().for_each(|x| *x = f.apply(*x, *precision));
            v
        }
        Expr::Binary { f, a, b, precision } => {
            let mut a = eval(a, columns, start, len);
            let b = eval(b, columns, start, len);
            a.iter_mut()
                .zip(&b)
                .for_each(|(a, b)| *a = f.apply(*a, *b, *precision));
            a
        }
        Expr::Compare { cmp, a, b } => {
            let mut a = eval(a, columns, start, len);
            let b = eval(b, columns, start, len);
            a.iter_mut()
                .zip(&b)
                .for_each(|(a, b)| *a = f64::from(u8::from(cmp.holds(*a, *b))));
            a
        }
        Expr::IsMissing { x } => {
            let mut v = eval(x, columns, start, len);
            v.iter_mut()
                .for_each(|x| *x = if x.is_nan() { 1.0 } else { 0.0 });
            v
        }
        Expr::If {
            cond,
            then,
            otherwise,
        } => {
            let cond = eval(cond, columns, start, len);
            let mut then = eval(then, columns, start, len);
            let otherwise = eval(otherwise, columns, start, len);
            for ((t, o), c) in then.iter_mut().zip(&otherwise).zip(&cond) {
                if *c == 0.0 || c.is_nan() {
                    *t = *o;
                }
            }
            then
        }
        Expr::Dot {
            columns: inputs,
            weights,
            bias,
            precision,
        } => {
            let mut acc = vec![round_to(*precision, *bias); len];
            for (c, w) in inputs.iter().zip(weights) {
                let x = &columns[*c][start..start + len];
                match precision {
                    Precision::F32 => {
                        let w = *w as f32;
                        for (a, x) in acc.iter_mut().zip(x) {
                            *a = f64::from(*a as f32 + w * *x as f32);
                        }
                    }
                    Precision::F64 => {
                        for (a, x) in acc.iter_mut().zip(x) {
                            *a += *w * *x;
                        }
                    }
                }
            }
            acc
        }
        Expr::Lookup { x, table, default } => {
            let mut v = eval(x, columns, start, len);
            v.iter_mut()
                .for_each(|x| *x = ferry_ir::lookup(table, *default, *x));
            v
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_ir::{BinaryFn, CompareOp, UnaryFn};

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
