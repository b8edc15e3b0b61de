//! Preprocessing (the IR's derived columns) as SQL expressions.
//!
//! Missing values are NULL, and the IR's rules for them carry over: arithmetic
//! propagates NULL, a comparison with NULL is false (`CASE WHEN … THEN 1 ELSE 0 END`),
//! `If` takes the `otherwise` branch on a NULL condition. Float32 steps round after every
//! operation, as the float32 graph does.

use std::borrow::Cow;

use ferry_ir::{BinaryFn, CompareOp, Derived, Expr as Ir, Model, Precision, Task, UnaryFn, Unseen};

use crate::dialect::Math;
use crate::expr::{bin, internal, pick_first, Expr, Op};
use crate::{f32_if, in_precision, SqlError};

/// The SQL column holding column `c` of the model's column space: `f<i>` for input `i`
/// (after level codes for categorical inputs), `d<k>` for derived column `k`.
pub(crate) fn column_name(model: &Model, c: usize) -> String {
    let n = model.inputs.len();
    if c < n {
        format!("f{c}")
    } else {
        format!("d{}", c - n)
    }
}

/// The step each derived column is computed in: one more than the latest derived
/// column it reads (SQL cannot read a sibling alias in the same SELECT).
pub(crate) fn levels(model: &Model) -> Vec<usize> {
    let n = model.inputs.len();
    let mut levels: Vec<usize> = Vec::with_capacity(model.derived.len());
    for d in &model.derived {
        let mut level = 0;
        d.expr.for_each_column(&mut |c| {
            if c >= n {
                level = level.max(levels[c - n] + 1);
            }
        });
        levels.push(level);
    }
    levels
}

/// Lowers one derived expression; `precision` is what the dialect can do (float32
/// steps become float64 where it has no float32).
pub(crate) struct Lowering<'a> {
    pub model: &'a Model,
    /// Whether the dialect rounds to float32.
    pub float32: bool,
}

impl Lowering<'_> {
    fn p(&self, p: Precision) -> Precision {
        if self.float32 {
            p
        } else {
            Precision::F64
        }
    }

    /// Column `c` as the IR sees it: categorical inputs as their level codes, which
    /// the first step computes once (`c<i>`, see [`level_codes`]).
    fn column(&self, c: usize) -> Expr {
        match self.model.inputs.get(c) {
            Some(input) if input.levels.is_some() => internal(format!("c{c}")),
            _ => internal(column_name(self.model, c)),
        }
    }

    pub(crate) fn lower(&self, e: &Ir) -> Result<Expr, SqlError> {
        Ok(match e {
            Ir::Column { index } => self.column(*index),
            Ir::Const { value } if value.is_nan() => Expr::Null,
            Ir::Const { value } if value.is_finite() => Expr::Float(*value),
            Ir::Const { value } => {
                return Err(SqlError::NotYet(format!(
                    "the constant {value} in a preprocessing step has no SQL literal"
                )))
            }
            Ir::Unary {
                f: UnaryFn::Cast,
                x,
                precision,
            } => f32_if(self.p(*precision), self.lower(x)?),
            Ir::Unary { f, x, precision } => {
                let p = self.p(*precision);
                let x = self.lower(x)?;
                let x = f32_if(p, x);
                f32_if(p, unary(*f, x, p)?)
            }
            // A chain of Min or Max (an ONNX ReduceMax, a PMML `max` over many inputs)
            // as one expression over its operands: nested pairwise, each level would
            // write its left operand three times, 3^n copies of the innermost.
            Ir::Binary {
                f: f @ (BinaryFn::Min | BinaryFn::Max),
                precision,
                ..
            } => {
                let p = self.p(*precision);
                let mut operands = Vec::new();
                chain_operands(e, *f, *precision, &mut operands);
                let operands = operands
                    .into_iter()
                    .map(|o| Ok(f32_if(p, self.lower(o)?)))
                    .collect::<Result<Vec<_>, SqlError>>()?;
                f32_if(p, extreme(*f, operands))
            }
            Ir::Binary { f, a, b, precision } => {
                let p = self.p(*precision);
                let a = f32_if(p, self.lower(a)?);
                let b = f32_if(p, self.lower(b)?);
                f32_if(p, binary(*f, a, b)?)
            }
            Ir::Compare { cmp, a, b } => {
                if let Some(e) = self.compare_with_infinity(*cmp, a, b)? {
                    return Ok(e);
                }
                let a = self.lower(a)?;
                let b = self.lower(b)?;
                let holds = match cmp {
                    CompareOp::Eq => Expr::In(Box::new(a), vec![b]),
                    CompareOp::Ne => Expr::Not(Box::new(Expr::In(Box::new(a), vec![b]))),
                    CompareOp::Lt => bin(a, Op::Lt, b),
                    CompareOp::Le => bin(a, Op::Le, b),
                    CompareOp::Gt => bin(a, Op::Gt, b),
                    CompareOp::Ge => bin(a, Op::Ge, b),
                };
                indicator(holds)
            }
            Ir::IsMissing { x } => indicator(Expr::IsNull(Box::new(self.lower(x)?))),
            Ir::If {
                cond,
                then,
                otherwise,
            } => Expr::Case(
                vec![(
                    Expr::Not(Box::new(Expr::In(
                        Box::new(self.lower(cond)?),
                        vec![Expr::Float(0.0)],
                    ))),
                    self.lower(then)?,
                )],
                Box::new(self.lower(otherwise)?),
            ),
            Ir::Dot {
                columns,
                weights,
                bias,
                precision,
            } => {
                let p = self.p(*precision);
                let mut acc = Expr::Float(in_precision(p, *bias));
                for (c, w) in columns.iter().zip(weights) {
                    let term = f32_if(
                        p,
                        bin(
                            Expr::Float(in_precision(p, *w)),
                            Op::Mul,
                            f32_if(p, self.column(*c)),
                        ),
                    );
                    acc = crate::add(p, acc, term);
                }
                acc
            }
            Ir::Lookup { x, table, default } => {
                let x = self.lower(x)?;
                let value = |v: f64| {
                    if v.is_nan() {
                        Expr::Null
                    } else {
                        Expr::Float(v)
                    }
                };
                Expr::Case(
                    table
                        .iter()
                        .enumerate()
                        .map(|(i, v)| {
                            (
                                Expr::In(Box::new(x.clone()), vec![Expr::Float(i as f64)]),
                                value(*v),
                            )
                        })
                        .collect(),
                    Box::new(value(*default)),
                )
            }
        })
    }

    /// `a <cmp> b` where one side is the constant ±inf (an Imputer that replaces
    /// infinities, a Clip with no upper bound). SQL has no infinity literal in most
    /// engines, and a value that would be infinite is NULL there, as NaN is: so the
    /// comparison holds exactly when the other side is a number (`x < inf`,
    /// `x != inf`, …) or never (`x = inf`, `x > inf`, …), as the IR's comparison does
    /// for every finite or missing x.
    fn compare_with_infinity(
        &self,
        cmp: CompareOp,
        a: &Ir,
        b: &Ir,
    ) -> Result<Option<Expr>, SqlError> {
        let infinite = |e: &Ir| match e {
            Ir::Const { value } if value.is_infinite() => Some(*value),
            _ => None,
        };
        // Oriented as `x <cmp> inf`.
        let (x, cmp, inf) = match (infinite(a), infinite(b)) {
            (Some(a), Some(b)) => {
                return Ok(Some(Expr::Float(f64::from(u8::from(cmp.holds(a, b))))))
            }
            (None, Some(inf)) => (a, cmp, inf),
            (Some(inf), None) => (b, cmp.flipped(), inf),
            (None, None) => return Ok(None),
        };
        let finite_holds = cmp.holds(0.0, inf);
        let x = self.lower(x)?;
        Ok(Some(if finite_holds {
            indicator(Expr::Not(Box::new(Expr::IsNull(Box::new(x)))))
        } else {
            Expr::Float(0.0)
        }))
    }
}

/// The level code of a categorical input `x` (NULL when missing; an unseen name is
/// NULL or -1 as the input's `unseen` says).
pub(crate) fn level_codes(x: Expr, levels: &[String], unseen: Unseen) -> Expr {
    let mut whens = vec![(Expr::IsNull(Box::new(x.clone())), Expr::Null)];
    whens.extend(levels.iter().enumerate().map(|(i, name)| {
        (
            Expr::In(Box::new(x.clone()), vec![Expr::Str(name.clone())]),
            Expr::Float(i as f64),
        )
    }));
    let unseen = match unseen {
        Unseen::Missing => Expr::Null,
        Unseen::Other => Expr::Float(-1.0),
    };
    Expr::Case(whens, Box::new(unseen))
}

/// `1` where `holds` is true, else `0` (also for NULL).
fn indicator(holds: Expr) -> Expr {
    Expr::Case(vec![(holds, Expr::Float(1.0))], Box::new(Expr::Float(0.0)))
}

fn unary(f: UnaryFn, x: Expr, p: Precision) -> Result<Expr, SqlError> {
    let float32 = p == Precision::F32;
    Ok(match f {
        UnaryFn::Cast => x,
        UnaryFn::Neg => bin(Expr::Float(0.0), Op::Sub, x),
        UnaryFn::Abs => Expr::Math(Math::Abs, vec![x]),
        UnaryFn::Exp => Expr::Exp(Box::new(x), float32),
        // max(x, 0) with NULL kept: `x < 0` is NULL for a NULL x, so ELSE x.
        UnaryFn::Relu => Expr::Case(
            vec![(bin(x.clone(), Op::Lt, Expr::Float(0.0)), Expr::Float(0.0))],
            Box::new(x),
        ),
        // Rounded after each operation, as `1 / (1 + exp(-x))` computes in float32.
        UnaryFn::Logistic => {
            let e = f32_if(
                p,
                Expr::Exp(Box::new(bin(Expr::Float(0.0), Op::Sub, x)), float32),
            );
            bin(
                Expr::Float(1.0),
                Op::Div,
                f32_if(p, Expr::Sum(vec![Expr::Float(1.0), e])),
            )
        }
        // tanh(x) = 1 - 2 / (exp(2x) + 1): every engine has EXP, not every one TANH.
        UnaryFn::Tanh => bin(
            Expr::Float(1.0),
            Op::Sub,
            bin(
                Expr::Float(2.0),
                Op::Div,
                Expr::Sum(vec![
                    Expr::Exp(Box::new(bin(Expr::Float(2.0), Op::Mul, x)), false),
                    Expr::Float(1.0),
                ]),
            ),
        ),
        // Outside their domain LN and SQRT raise in some engines (PostgreSQL) and give
        // NULL in others: NULL everywhere, the missing value the IR's NaN stands for.
        // (ln(0) is -inf in the IR and NULL here.)
        UnaryFn::Ln => Expr::Case(
            vec![(
                bin(x.clone(), Op::Gt, Expr::Float(0.0)),
                f32_if(p, Expr::Math(Math::Ln, vec![x])),
            )],
            Box::new(Expr::Null),
        ),
        UnaryFn::Sqrt => Expr::Case(
            vec![(
                bin(x.clone(), Op::Ge, Expr::Float(0.0)),
                f32_if(p, Expr::Math(Math::Sqrt, vec![x])),
            )],
            Box::new(Expr::Null),
        ),
        UnaryFn::Floor => Expr::Math(Math::Floor, vec![x]),
        UnaryFn::Ceil => Expr::Math(Math::Ceil, vec![x]),
    })
}

/// The value of a numeric literal, also one typed float32 (`Float32(Float(v))`, what
/// a float32 step's constants lower to).
fn literal(e: &Expr) -> Option<f64> {
    match e {
        Expr::Float(v) => Some(*v),
        Expr::Float32(x) => literal(x),
        _ => None,
    }
}

/// `a ^ b`: small whole constant exponents as products (exact for squares, within an
/// ulp otherwise); else POWER on a positive base, and 0 or 1 for a zero base. A
/// negative base with a computed exponent is NULL (NaN in the IR for fractional
/// exponents).
pub(crate) fn power(a: Expr, b: Expr) -> Expr {
    if let Some(n) = literal(&b) {
        if n.fract() == 0.0 && (1.0..=8.0).contains(&n.abs()) {
            let mut acc = a.clone();
            for _ in 1..(n.abs() as usize) {
                acc = bin(acc, Op::Mul, a.clone());
            }
            return if n > 0.0 {
                acc
            } else {
                // 1/0 would raise in PostgreSQL and Spark: NULL, as any non-finite value.
                Expr::Case(
                    vec![(
                        Expr::Or(vec![
                            bin(acc.clone(), Op::Lt, Expr::Float(0.0)),
                            bin(acc.clone(), Op::Gt, Expr::Float(0.0)),
                        ]),
                        bin(Expr::Float(1.0), Op::Div, acc),
                    )],
                    Box::new(Expr::Null),
                )
            };
        }
        if n == 0.0 {
            return Expr::Case(
                vec![(Expr::IsNull(Box::new(a)), Expr::Null)],
                Box::new(Expr::Float(1.0)),
            );
        }
    }
    Expr::Case(
        vec![
            (
                bin(a.clone(), Op::Gt, Expr::Float(0.0)),
                Expr::Math(Math::Power, vec![a.clone(), b.clone()]),
            ),
            (
                Expr::And(vec![
                    bin(a.clone(), Op::Le, Expr::Float(0.0)),
                    bin(a, Op::Ge, Expr::Float(0.0)),
                    bin(b.clone(), Op::Gt, Expr::Float(0.0)),
                ]),
                Expr::Float(0.0),
            ),
        ],
        Box::new(Expr::Null),
    )
}

fn binary(f: BinaryFn, a: Expr, b: Expr) -> Result<Expr, SqlError> {
    Ok(match f {
        BinaryFn::Add => Expr::Sum(vec![a, b]),
        BinaryFn::Sub => bin(a, Op::Sub, b),
        BinaryFn::Mul => bin(a, Op::Mul, b),
        // Division by zero raises in some engines (PostgreSQL) and gives NaN or NULL in
        // others: NULL everywhere (SQL has no infinities; the IR's ±inf and NaN are
        // NULL in SQL).
        BinaryFn::Div => match literal(&b) {
            Some(v) if v != 0.0 => bin(a, Op::Div, b),
            _ => Expr::Case(
                vec![(
                    Expr::Or(vec![
                        bin(b.clone(), Op::Lt, Expr::Float(0.0)),
                        bin(b.clone(), Op::Gt, Expr::Float(0.0)),
                    ]),
                    bin(a, Op::Div, b),
                )],
                Box::new(Expr::Null),
            ),
        },
        BinaryFn::Min | BinaryFn::Max => extreme(f, vec![a, b]),
        BinaryFn::Pow => power(a, b),
    })
}

/// The operands of `e`, a chain of `f` in `precision`, left to right.
fn chain_operands<'e>(e: &'e Ir, f: BinaryFn, precision: Precision, out: &mut Vec<&'e Ir>) {
    match e {
        Ir::Binary {
            f: g,
            a,
            b,
            precision: q,
        } if *g == f && *q == precision => {
            chain_operands(a, f, precision, out);
            chain_operands(b, f, precision, out);
        }
        other => out.push(other),
    }
}

/// The smallest or largest of the values, NULL when any is NULL, like the IR's
/// Min/Max; ties go to the first, as the pairwise IR operation does (`a <= b` / `a >=
/// b` keeps `a`).
fn extreme(f: BinaryFn, values: Vec<Expr>) -> Expr {
    let op = if f == BinaryFn::Min { Op::Le } else { Op::Ge };
    if let [a, b] = &values[..] {
        // `a` compared with NULL is NULL: ELSE b, which is then NULL too.
        return Expr::Case(
            vec![
                (Expr::IsNull(Box::new(a.clone())), Expr::Null),
                (bin(a.clone(), op, b.clone()), a.clone()),
            ],
            Box::new(b.clone()),
        );
    }
    let any_null = Expr::Or(
        values
            .iter()
            .map(|v| Expr::IsNull(Box::new(v.clone())))
            .collect(),
    );
    Expr::Case(
        vec![(any_null, Expr::Null)],
        Box::new(pick_first(&values, &values, op)),
    )
}

/// Most terms of one dot product in one SQL expression: each term nests the sum one
/// level deeper (two in float32, with its rounding), and ClickHouse stops at an AST
/// depth of 1000, MariaDB at its thread stack.
const MAX_DOT_TERMS: usize = 64;

/// `model` with every longer dot product (a kernel machine over hundreds of support
/// vectors) split into partial sums of at most [`MAX_DOT_TERMS`] terms, each a derived
/// column of its own placed just before the column that reads it. Exact in either
/// precision: a partial sum `s` enters the next one as the term `1·s` after a zero
/// bias, and `0 + 1·s = s`.
pub(crate) fn split_long_dots(model: &Model) -> Cow<'_, Model> {
    fn has_long(e: &Ir) -> bool {
        matches!(e, Ir::Dot { columns, .. } if columns.len() > MAX_DOT_TERMS)
            || e.children().into_iter().any(has_long)
    }
    /// Splits the long dot products in `e`, appending their partial sums to `out`.
    fn split(e: &mut Ir, out: &mut Vec<Derived>, n_inputs: usize, name: &str) {
        for child in e.children_mut() {
            split(child, out, n_inputs, name);
        }
        let Ir::Dot {
            columns,
            weights,
            bias,
            precision,
        } = e
        else {
            return;
        };
        while columns.len() > MAX_DOT_TERMS {
            // The first terms (with the bias) become a column; the rest follow it.
            let rest_columns = columns.split_off(MAX_DOT_TERMS);
            let rest_weights = weights.split_off(MAX_DOT_TERMS);
            out.push(Derived {
                name: format!("{name}~part{}", out.len()),
                expr: Ir::Dot {
                    columns: std::mem::replace(columns, rest_columns),
                    weights: std::mem::replace(weights, rest_weights),
                    bias: *bias,
                    precision: *precision,
                },
            });
            columns.insert(0, n_inputs + out.len() - 1);
            weights.insert(0, 1.0);
            *bias = 0.0;
        }
    }
    if !model.derived.iter().any(|d| has_long(&d.expr)) {
        return Cow::Borrowed(model);
    }
    let n_inputs = model.inputs.len();
    let mut derived: Vec<Derived> = Vec::with_capacity(model.derived.len());
    // New index of each old derived column.
    let mut moved: Vec<usize> = Vec::with_capacity(model.derived.len());
    for d in &model.derived {
        let mut expr = d.expr.clone();
        expr.map_columns(&|c| if c < n_inputs { c } else { moved[c - n_inputs] });
        split(&mut expr, &mut derived, n_inputs, &d.name);
        derived.push(Derived {
            name: d.name.clone(),
            expr,
        });
        moved.push(n_inputs + derived.len() - 1);
    }
    let column = |c: usize| if c < n_inputs { c } else { moved[c - n_inputs] };
    let mut out = model.clone();
    out.derived = derived;
    if let Some(features) = &mut out.features {
        features.iter_mut().for_each(|c| *c = column(*c));
    }
    if let Task::Classification {
        label_column: Some(c),
        ..
    } = &mut out.task
    {
        *c = column(*c);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::dialect;

    #[test]
    fn a_chain_of_max_is_one_expression_over_its_operands() {
        // max(max(max(x0, x1), x2), x3): each operand written a bounded number of times.
        let chain = (1..4).fold(Ir::column(0), |acc, c| {
            Ir::binary(BinaryFn::Max, acc, Ir::column(c), Precision::F64)
        });
        let mut operands = Vec::new();
        chain_operands(&chain, BinaryFn::Max, Precision::F64, &mut operands);
        assert_eq!(operands.len(), 4);
        let values = (0..4).map(|c| internal(format!("f{c}"))).collect();
        let mut sql = String::new();
        extreme(BinaryFn::Max, values).render(dialect("duckdb").unwrap(), &mut sql);
        assert_eq!(
            sql,
            "CASE WHEN ((f0 IS NULL) OR (f1 IS NULL) OR (f2 IS NULL) OR (f3 IS NULL)) THEN NULL \
             ELSE CASE WHEN ((f0 >= f1) AND (f0 >= f2) AND (f0 >= f3)) THEN f0 \
             WHEN ((f1 >= f2) AND (f1 >= f3)) THEN f1 WHEN ((f2 >= f3)) THEN f2 ELSE f3 END END"
        );
        // A min inside a max is an operand of its own.
        let mixed = Ir::binary(
            BinaryFn::Max,
            Ir::binary(BinaryFn::Min, Ir::column(0), Ir::column(1), Precision::F64),
            Ir::column(2),
            Precision::F64,
        );
        let mut operands = Vec::new();
        chain_operands(&mixed, BinaryFn::Max, Precision::F64, &mut operands);
        assert_eq!(operands.len(), 2);
    }
}
