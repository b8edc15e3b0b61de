//! A small SQL expression tree, rendered through a [`Dialect`].
//!
//! Lowering builds these; only rendering knows about quoting and literal syntax, so a
//! value from a model file can reach the SQL text only through [`Dialect::quote_ident`],
//! [`Dialect::quote_str`] or a number formatter.

use std::fmt::Write;

use crate::dialect::{Dialect, Float32, Math};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    /// A column ferry named itself (`f0`, `s1`): plain ASCII, never quoted.
    Internal(String),
    /// A user's column or table name: always quoted.
    Column(String),
    /// A float64 literal (finite).
    Float(f64),
    Int(i64),
    Str(String),
    Null,
    Bin(Box<Expr>, Op, Box<Expr>),
    /// `a + b + c`, left to right (the order of the sum is part of its value).
    Sum(Vec<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    IsNull(Box<Expr>),
    Not(Box<Expr>),
    /// `x IN (…)`; the list is never empty.
    In(Box<Expr>, Vec<Expr>),
    /// `CASE WHEN c THEN v … ELSE e END`.
    Case(Vec<(Expr, Expr)>, Box<Expr>),
    /// Round to the nearest float32 (ties to even), where the dialect has float32.
    Float32(Box<Expr>),
    /// Widen to float64 (in dialects with float32, whose REAL arithmetic stays REAL).
    Float64(Box<Expr>),
    /// `exp(x)`; `true` when the result is rounded to float32 next.
    Exp(Box<Expr>, bool),
    /// `init + terms[0] + terms[1] + …` left to right as a fold over an array, rounding
    /// to float32 after each addition when `float32`.
    Fold {
        init: Box<Expr>,
        terms: Vec<Expr>,
        float32: bool,
    },
    /// The largest of the values (none is NULL).
    Greatest(Vec<Expr>),
    /// A math function, spelled by the dialect.
    Math(Math, Vec<Expr>),
}

/// The largest float32 whose exp is below float32's largest value (ln of it is
/// 88.7228390…; the next float32 up is above).
const EXP_MAX_F32: f64 = 88.722_831_726_074_22;
/// Likewise for float64 (ln of its largest value is 709.7827…).
const EXP_MAX_F64: f64 = 709.78;

/// What is known about float32 values in the step an expression reads.
pub(crate) struct Float32Types<F> {
    /// Whether a column of that step holds float32 values.
    pub column: F,
    /// Whether the dialect's float32 arithmetic gives float32 ([`Dialect::float32_closed`]).
    pub closed: bool,
    /// Whether its float32 division does too ([`Dialect::float32_division_closed`]).
    pub closed_division: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Sub,
    Mul,
    Div,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Sub => "-",
            Op::Mul => "*",
            Op::Div => "/",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "=",
        }
    }
}

pub(crate) fn bin(a: Expr, op: Op, b: Expr) -> Expr {
    Expr::Bin(Box::new(a), op, Box::new(b))
}

/// `a AND b AND …`: TRUE for none, the condition itself for one.
pub(crate) fn all_of(mut all: Vec<Expr>) -> Expr {
    match all.len() {
        0 => bin(Expr::Int(1), Op::Le, Expr::Int(1)),
        1 => all.pop().expect("one"),
        _ => Expr::And(all),
    }
}

pub(crate) fn internal(name: impl Into<String>) -> Expr {
    Expr::Internal(name.into())
}

impl Expr {
    /// Calls `f` with each direct operand of the node.
    pub(crate) fn for_each_child<'e>(&'e self, f: &mut impl FnMut(&'e Expr)) {
        match self {
            Expr::Internal(_)
            | Expr::Column(_)
            | Expr::Float(_)
            | Expr::Int(_)
            | Expr::Str(_)
            | Expr::Null => {}
            Expr::Bin(a, _, b) => {
                f(a);
                f(b);
            }
            Expr::Sum(v) | Expr::And(v) | Expr::Or(v) | Expr::Greatest(v) | Expr::Math(_, v) => {
                v.iter().for_each(f)
            }
            Expr::IsNull(x)
            | Expr::Not(x)
            | Expr::Float32(x)
            | Expr::Float64(x)
            | Expr::Exp(x, _) => f(x),
            Expr::In(x, v) => {
                f(x);
                v.iter().for_each(f);
            }
            Expr::Case(whens, otherwise) => {
                for (c, v) in whens {
                    f(c);
                    f(v);
                }
                f(otherwise);
            }
            Expr::Fold { init, terms, .. } => {
                f(init);
                terms.iter().for_each(f);
            }
        }
    }

    /// Calls `f` with the name of every column ferry named that the tree reads.
    pub(crate) fn for_each_internal(&self, f: &mut impl FnMut(&str)) {
        match self {
            Expr::Internal(name) => f(name),
            e => e.for_each_child(&mut |c| c.for_each_internal(f)),
        }
    }

    /// The number of nodes.
    pub(crate) fn size(&self) -> usize {
        let mut n = 1;
        self.for_each_child(&mut |c| n += c.size());
        n
    }

    /// The depth of the expression as a parser sees it: an n-term sum or n-way AND/OR
    /// is n - 1 binary operators deep.
    pub(crate) fn depth(&self) -> usize {
        let mut deepest = 0;
        self.for_each_child(&mut |c| deepest = deepest.max(c.depth()));
        let own = match self {
            Expr::Sum(v) | Expr::And(v) | Expr::Or(v) => v.len().max(1),
            _ => 1,
        };
        own + deepest
    }

    /// How deeply CASE expressions nest in the tree (a GREATEST counts as one: some
    /// dialects write it as a CASE).
    pub(crate) fn case_nesting(&self) -> usize {
        let mut deepest = 0;
        self.for_each_child(&mut |c| deepest = deepest.max(c.case_nesting()));
        deepest + usize::from(matches!(self, Expr::Case(..) | Expr::Greatest(_)))
    }

    /// The expression with CASEs nested deeper than `max` (a derived column holding a
    /// whole tree: an ONNX ensemble member turned into expressions) written as CASEs
    /// over the paths several levels down, as [`crate::trees`] writes deep trees:
    /// `CASE WHEN c THEN t ELSE e END` over `t` and `e` becomes one CASE whose WHENs are
    /// `c AND <each path of t>` in order, then the paths of `e`. Every row where `c`
    /// holds meets one of the first (the last path of `t` is `c` alone), so the paths
    /// of `e` need not repeat that `c` does not hold, NULL included.
    pub(crate) fn within_case_nesting(self, max: usize) -> Expr {
        if self.case_nesting() <= max {
            return self;
        }
        match self {
            Expr::Case(..) => {
                // Each CASE level costs one, plus what its conditions nest.
                let conditions = self.condition_nesting();
                if max <= conditions {
                    return self;
                }
                // The fewest levels per CASE that let the levels left reach the deepest.
                let levels = self.branch_height().div_ceil(max - conditions);
                let mut whens = Vec::new();
                self.paths(levels, max - 1, &mut Vec::new(), &mut whens);
                let (_, last) = whens.pop().expect("a CASE has an ELSE");
                Expr::Case(whens, Box::new(last))
            }
            // A CASE below other operators: each operand within the limit.
            e => e.map_children(&mut |c| c.within_case_nesting(max)),
        }
    }

    /// CASEs nested through their results (not their conditions).
    fn branch_height(&self) -> usize {
        match self {
            Expr::Case(whens, otherwise) => {
                let below = whens.iter().map(|(_, v)| v).chain([&**otherwise]);
                1 + below.map(Expr::branch_height).max().unwrap_or(0)
            }
            _ => 0,
        }
    }

    /// The deepest CASE nesting within the conditions of a chain of CASEs.
    fn condition_nesting(&self) -> usize {
        match self {
            Expr::Case(whens, otherwise) => whens
                .iter()
                .map(|(c, v)| c.case_nesting().max(v.condition_nesting()))
                .chain([otherwise.condition_nesting()])
                .max()
                .unwrap_or(0),
            _ => 0,
        }
    }

    /// The paths `levels` CASE levels down from `self`, each with the conditions that
    /// lead to it (in WHEN order) and its value within `max` nesting.
    fn paths(self, levels: usize, max: usize, path: &mut Vec<Expr>, out: &mut Vec<(Expr, Expr)>) {
        match self {
            Expr::Case(whens, otherwise) if levels > 0 => {
                for (cond, value) in whens {
                    path.push(cond);
                    value.paths(levels - 1, max, path, out);
                    path.pop();
                }
                otherwise.paths(levels - 1, max, path, out);
            }
            e => {
                out.push((all_of(path.clone()), e.within_case_nesting(max)));
            }
        }
    }

    /// Rewrites each direct operand with `f`.
    fn map_children(self, f: &mut impl FnMut(Expr) -> Expr) -> Expr {
        let all = |v: Vec<Expr>, f: &mut dyn FnMut(Expr) -> Expr| -> Vec<Expr> {
            v.into_iter().map(f).collect()
        };
        match self {
            e @ (Expr::Internal(_)
            | Expr::Column(_)
            | Expr::Float(_)
            | Expr::Int(_)
            | Expr::Str(_)
            | Expr::Null) => e,
            Expr::Bin(a, op, b) => bin(f(*a), op, f(*b)),
            Expr::Sum(v) => Expr::Sum(all(v, f)),
            Expr::And(v) => Expr::And(all(v, f)),
            Expr::Or(v) => Expr::Or(all(v, f)),
            Expr::Greatest(v) => Expr::Greatest(all(v, f)),
            Expr::Math(m, v) => Expr::Math(m, all(v, f)),
            Expr::IsNull(x) => Expr::IsNull(Box::new(f(*x))),
            Expr::Not(x) => Expr::Not(Box::new(f(*x))),
            Expr::Float32(x) => Expr::Float32(Box::new(f(*x))),
            Expr::Float64(x) => Expr::Float64(Box::new(f(*x))),
            Expr::Exp(x, r) => Expr::Exp(Box::new(f(*x)), r),
            Expr::In(x, v) => Expr::In(Box::new(f(*x)), all(v, f)),
            Expr::Case(whens, otherwise) => Expr::Case(
                whens.into_iter().map(|(c, v)| (f(c), f(v))).collect(),
                Box::new(f(*otherwise)),
            ),
            Expr::Fold {
                init,
                terms,
                float32,
            } => Expr::Fold {
                init: Box::new(f(*init)),
                terms: all(terms, f),
                float32,
            },
        }
    }

    /// A column: costs nothing to repeat, and renders as any other column would
    /// (a literal would not: see the float32 clamp in [`Expr::render`]).
    pub(crate) fn is_column(&self) -> bool {
        matches!(self, Expr::Internal(_) | Expr::Column(_))
    }

    /// Rewrites the tree bottom-up: `f` sees each node after its children.
    pub(crate) fn map_bottom_up(self, f: &mut impl FnMut(Expr) -> Expr) -> Expr {
        let node = self.map_children(&mut |c| c.map_bottom_up(f));
        f(node)
    }

    /// Whether the value is a float32 already: a rounding, a column that holds one
    /// (`types.column`), or where float32 arithmetic stays float32 (`types.closed`),
    /// arithmetic on such values.
    pub(crate) fn is_float32(&self, types: &Float32Types<impl Fn(&str) -> bool>) -> bool {
        match self {
            Expr::Float32(_) => true,
            Expr::Internal(name) => (types.column)(name),
            // Exact: the same float32 value, its sign cleared.
            Expr::Math(Math::Abs, v) => v[0].is_float32(types),
            Expr::Bin(a, Op::Sub | Op::Mul, b) if types.closed => {
                a.is_float32(types) && b.is_float32(types)
            }
            Expr::Bin(a, Op::Div, b) if types.closed_division => {
                a.is_float32(types) && b.is_float32(types)
            }
            Expr::Sum(v) if types.closed => v.iter().all(|e| e.is_float32(types)),
            // Typed by its results: float32 when each is (NULLs aside).
            Expr::Case(whens, otherwise) => {
                let mut typed = false;
                let results = whens.iter().map(|(_, v)| v).chain([&**otherwise]);
                let all = results.into_iter().all(|v| {
                    matches!(v, Expr::Null) || {
                        typed = true;
                        v.is_float32(types)
                    }
                });
                all && typed
            }
            _ => false,
        }
    }

    /// Whether every result of the CASE (through nested CASEs) is float32 or a
    /// literal float32 holds exactly.
    fn results_fit_float32(&self, types: &Float32Types<impl Fn(&str) -> bool>) -> bool {
        match self {
            Expr::Case(whens, otherwise) => {
                whens.iter().all(|(_, v)| v.results_fit_float32(types))
                    && otherwise.results_fit_float32(types)
            }
            Expr::Float(c) => f64::from(*c as f32) == *c,
            Expr::Null => true,
            e => e.is_float32(types),
        }
    }

    /// The CASE with its literal results typed as float32.
    fn with_float32_results(self) -> Expr {
        match self {
            Expr::Case(whens, otherwise) => Expr::Case(
                whens
                    .into_iter()
                    .map(|(c, v)| (c, v.with_float32_results()))
                    .collect(),
                Box::new(otherwise.with_float32_results()),
            ),
            e @ Expr::Float(_) => Expr::Float32(Box::new(e)),
            e => e,
        }
    }

    /// Drops the roundings of values that are float32 already. Lowering rounds every
    /// operand of a float32 operation, so the next step reads `f32(f32(a) - b)` as
    /// `f32(f32(f32(a)) - b)`; each redundant CAST (and clamp, and in SQLite each
    /// three-fold emulation) costs per row. The value and the SQL type stay the same.
    ///
    /// Where float32 arithmetic stays float32, an operation on float32 values (or
    /// float32-exact literals, then typed as float32) needs no rounding either: float64
    /// has more than twice float32's precision, so rounding the float64 result of `+ - *
    /// /` once gives the float32 operation's result.
    pub(crate) fn without_double_roundings(
        self,
        types: &Float32Types<impl Fn(&str) -> bool>,
    ) -> Expr {
        let operand = |e: Expr| match e {
            Expr::Float(c) if types.closed && f64::from(c as f32) == c => {
                Expr::Float32(Box::new(e))
            }
            // A tree's leaf values, typed as float32: the sum of the trees then runs
            // in float32 with no rounding per tree (DuckDB, 100 trees: 1.4x faster).
            Expr::Case(..) if types.closed && e.results_fit_float32(types) => {
                e.with_float32_results()
            }
            e => e,
        };
        self.map_bottom_up(&mut |e| match e {
            Expr::Float32(x) if x.is_float32(types) => *x,
            Expr::Float32(x) if types.closed => {
                let x = match *x {
                    Expr::Bin(a, op @ (Op::Sub | Op::Mul | Op::Div), b) => {
                        bin(operand(*a), op, operand(*b))
                    }
                    Expr::Sum(v) => Expr::Sum(v.into_iter().map(operand).collect()),
                    x => x,
                };
                if x.is_float32(types) {
                    x
                } else {
                    Expr::Float32(Box::new(x))
                }
            }
            e => e,
        })
    }

    pub(crate) fn render(&self, d: &dyn Dialect, out: &mut String) {
        match self {
            Expr::Internal(name) => out.push_str(name),
            Expr::Column(name) => d.quote_ident(name, out),
            // A NaN leaf (a PMML null prediction) is NULL.
            Expr::Float(x) if x.is_nan() => out.push_str("NULL"),
            Expr::Float(x) => d.float(*x, out),
            Expr::Int(i) => {
                if *i < 0 {
                    // Parenthesised so that `a - -1` cannot become a `--` comment.
                    let _ = write!(out, "({i})");
                } else {
                    let _ = write!(out, "{i}");
                }
            }
            Expr::Str(s) => d.quote_str(s, out),
            Expr::Null => out.push_str("NULL"),
            Expr::Float64(x) => match d.float64_function() {
                Some(f) => {
                    out.push_str(f);
                    out.push('(');
                    x.render(d, out);
                    out.push(')');
                }
                None => {
                    out.push_str("CAST(");
                    x.render(d, out);
                    let _ = write!(out, " AS {})", d.float64_type());
                }
            },
            Expr::Bin(a, op, b) => {
                out.push('(');
                a.render(d, out);
                out.push(' ');
                out.push_str(op.symbol());
                out.push(' ');
                b.render(d, out);
                out.push(')');
            }
            Expr::Sum(terms) => join(d, out, terms, " + "),
            Expr::And(terms) => join(d, out, terms, " AND "),
            Expr::Or(terms) => join(d, out, terms, " OR "),
            Expr::IsNull(x) => {
                out.push('(');
                x.render(d, out);
                out.push_str(" IS NULL)");
            }
            Expr::Not(x) => {
                out.push_str("(NOT ");
                x.render(d, out);
                out.push(')');
            }
            Expr::In(x, list) => {
                out.push('(');
                // Category names compare byte for byte (MariaDB's default collation
                // ignores case and trailing spaces).
                if matches!(list.first(), Some(Expr::Str(_))) {
                    out.push_str(d.exact_text_prefix());
                }
                x.render(d, out);
                // One value: `=`, which compares -0.0 and 0.0 as equal everywhere
                // (ClickHouse's IN hashes them apart).
                if let [one] = list.as_slice() {
                    out.push_str(" = ");
                    one.render(d, out);
                } else {
                    out.push_str(" IN ");
                    join(d, out, list, ", ");
                }
                out.push(')');
            }
            Expr::Case(whens, otherwise) => match (d.if_function(), whens.as_slice()) {
                (Some(f), [(cond, value)]) => {
                    out.push_str(f);
                    join(d, out, [cond, value, &**otherwise], ", ");
                }
                _ => {
                    out.push_str("CASE");
                    for (cond, value) in whens {
                        out.push_str(" WHEN ");
                        cond.render(d, out);
                        out.push_str(" THEN ");
                        value.render(d, out);
                    }
                    out.push_str(" ELSE ");
                    otherwise.render(d, out);
                    out.push_str(" END");
                }
            },
            Expr::Float32(x) => match d.float32() {
                Some(Float32::Cast(ty)) => match &**x {
                    // `2.5e0::FLOAT`: a tree's leaves are written so, 8 bytes fewer each.
                    Expr::Float(c) if d.postfix_cast() => {
                        crate::dialect::float_literal(*c, "", &format!("::{ty}"), out);
                    }
                    // Engines raise on a value beyond float32's range (DuckDB,
                    // PostgreSQL): a column (an input's value) is held at the largest
                    // float32, which every comparison with a finite threshold treats as
                    // the infinity it would round to. Only columns: the value is written
                    // three times.
                    x if x.is_column() => {
                        let max = Expr::Float(f64::from(f32::MAX));
                        let min = Expr::Float(-f64::from(f32::MAX));
                        let clamped = Expr::Case(
                            vec![
                                (bin(x.clone(), Op::Gt, max.clone()), max),
                                (bin(x.clone(), Op::Lt, min.clone()), min),
                            ],
                            Box::new(x.clone()),
                        );
                        out.push_str("CAST(");
                        clamped.render(d, out);
                        let _ = write!(out, " AS {ty})");
                    }
                    x => {
                        out.push_str("CAST(");
                        x.render(d, out);
                        let _ = write!(out, " AS {ty})");
                    }
                },
                Some(Float32::Function(f)) => {
                    out.push_str(f);
                    out.push('(');
                    x.render(d, out);
                    out.push(')');
                }
                Some(Float32::Emulated) => {
                    const SPLIT: &str = "536870913e0";
                    out.push_str("((");
                    out.push_str(SPLIT);
                    out.push_str(" * ");
                    x.render(d, out);
                    out.push_str(") - ((");
                    out.push_str(SPLIT);
                    out.push_str(" * ");
                    x.render(d, out);
                    out.push_str(") - ");
                    x.render(d, out);
                    out.push_str("))");
                }
                None => x.render(d, out),
            },
            Expr::Math(f, args) => {
                out.push_str(d.math(*f));
                join(d, out, args, ", ");
            }
            Expr::Exp(x, float32) => {
                out.push_str("EXP(");
                // Keeps engines that raise on underflow (PostgreSQL, also when a
                // double too small for float32 is cast to REAL) from failing: exp(-700)
                // and exp(-103) are below every value the results are rounded to.
                let floor = d
                    .exp_floor()
                    .map(|f| if *float32 { f.max(-103.0) } else { f });
                // And on overflow: PostgreSQL's EXP beyond float64, DuckDB's and
                // PostgreSQL's cast of a value beyond float32 to FLOAT/REAL. Where the
                // source's exp gives infinity (which SQL has not), the query gives the
                // largest finite value instead of failing: 1 / (1 + exp(100)) is then
                // 3e-39 where float32 gives 0.
                let ceiling = match (*float32, d.float32()) {
                    (true, Some(Float32::Cast(_))) => Some(EXP_MAX_F32),
                    (false, _) if d.exp_overflow_fails() => Some(EXP_MAX_F64),
                    _ => None,
                };
                let mut bounds = Vec::new();
                if let Some(floor) = floor {
                    bounds.push((
                        bin((**x).clone(), Op::Lt, Expr::Float(floor)),
                        Expr::Float(floor),
                    ));
                }
                if let Some(ceiling) = ceiling {
                    bounds.push((
                        bin((**x).clone(), Op::Gt, Expr::Float(ceiling)),
                        Expr::Float(ceiling),
                    ));
                }
                if bounds.is_empty() {
                    x.render(d, out);
                } else {
                    // A CASE rather than GREATEST, which skips a NULL argument in
                    // PostgreSQL: a missing score must stay NULL.
                    Expr::Case(bounds, x.clone()).render(d, out);
                }
                out.push(')');
            }
            Expr::Fold {
                init,
                terms,
                float32,
            } => {
                // Only Spark's spelling exists so far (`Dialect::fold`).
                let round = |e: Expr| {
                    if *float32 {
                        Expr::Float32(Box::new(e))
                    } else {
                        e
                    }
                };
                out.push_str("aggregate(array");
                join(d, out, terms, ", ");
                out.push_str(", ");
                round((**init).clone()).render(d, out);
                out.push_str(", (acc, x) -> ");
                round(Expr::Sum(vec![internal("acc"), internal("x")])).render(d, out);
                out.push(')');
            }
            Expr::Greatest(values) => match d.greatest() {
                Some(f) => {
                    out.push_str(f);
                    join(d, out, values, ", ");
                }
                None => first_max(values).render(d, out),
            },
        }
    }
}

fn join<'a>(
    d: &dyn Dialect,
    out: &mut String,
    terms: impl IntoIterator<Item = &'a Expr>,
    sep: &str,
) {
    out.push('(');
    for (i, t) in terms.into_iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        t.render(d, out);
    }
    out.push(')');
}

/// `CASE WHEN v0 >= v1 AND v0 >= v2 THEN v0 WHEN v1 >= v2 THEN v1 ELSE v2 END`: the
/// first of the largest values, without nesting (SQL Server allows 10 nested CASEs).
pub(crate) fn first_max(values: &[Expr]) -> Expr {
    pick_first(values, values, Op::Ge)
}

/// The entry of `picks` at the position of the first value that holds `op` (`>=`: the
/// largest, `<=`: the smallest) against every value after it.
pub(crate) fn pick_first(values: &[Expr], picks: &[Expr], op: Op) -> Expr {
    let n = values.len();
    let whens = (0..n - 1)
        .map(|i| {
            let cond = Expr::And(
                (i + 1..n)
                    .map(|j| bin(values[i].clone(), op, values[j].clone()))
                    .collect(),
            );
            (cond, picks[i].clone())
        })
        .collect();
    Expr::Case(whens, Box::new(picks[n - 1].clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32(e: Expr) -> Expr {
        Expr::Float32(Box::new(e))
    }

    fn types(closed: bool) -> Float32Types<impl Fn(&str) -> bool> {
        Float32Types {
            column: |c: &str| c == "d0",
            closed,
            closed_division: closed,
        }
    }

    #[test]
    fn a_float32_value_is_not_rounded_again() {
        // f32(f32(f32(x) - f32(0.5))): the outer rounding is the inner one's value.
        let inner = f32(bin(f32(internal("x")), Op::Sub, f32(Expr::Float(0.5))));
        let e = f32(inner.clone()).without_double_roundings(&types(false));
        assert_eq!(e, inner);
        // A column known to hold float32 values needs no rounding; another does.
        assert_eq!(
            f32(internal("d0")).without_double_roundings(&types(false)),
            internal("d0")
        );
        assert_eq!(
            f32(internal("f0")).without_double_roundings(&types(false)),
            f32(internal("f0"))
        );
    }

    #[test]
    fn closed_float32_arithmetic_needs_no_rounding() {
        // f32(0.5 * d0) is float32 multiplication when REAL * REAL is REAL, the
        // float32-exact literal typed as float32.
        let e = f32(bin(Expr::Float(0.5), Op::Mul, internal("d0")));
        assert_eq!(
            e.clone().without_double_roundings(&types(true)),
            bin(f32(Expr::Float(0.5)), Op::Mul, internal("d0"))
        );
        // Not where the engine computes it in float64 (MySQL, ClickHouse).
        assert_eq!(e.clone().without_double_roundings(&types(false)), e);
        // 0.1 is no float32: the product must be rounded.
        let e = f32(bin(Expr::Float(0.1), Op::Mul, internal("d0")));
        assert_eq!(e.clone().without_double_roundings(&types(true)), e);
        // Sums of float32 values stay float32, step by step.
        let e = f32(Expr::Sum(vec![
            f32(Expr::Sum(vec![internal("d0"), Expr::Float(1.0)])),
            internal("d0"),
        ]));
        assert_eq!(
            e.without_double_roundings(&types(true)),
            Expr::Sum(vec![
                Expr::Sum(vec![internal("d0"), f32(Expr::Float(1.0))]),
                internal("d0"),
            ])
        );
        // A float32 function result is not assumed: exp() of a REAL is a float64.
        let e = f32(Expr::Exp(Box::new(internal("d0")), true));
        assert_eq!(e.clone().without_double_roundings(&types(true)), e);
        // Spark multiplies FLOATs in float32 but divides them in float64: the
        // quotient keeps its rounding.
        let spark = Float32Types {
            column: |c: &str| c == "d0",
            closed: true,
            closed_division: false,
        };
        let e = f32(bin(internal("d0"), Op::Div, f32(Expr::Float(0.5))));
        assert!(matches!(
            e.without_double_roundings(&spark),
            Expr::Float32(_)
        ));
    }

    #[test]
    fn deep_case_chains_are_written_within_the_nesting_limit() {
        // A right-leaning chain 20 CASEs deep: `x < 0 → 0, x < 1 → 1, …`.
        let x = || Expr::Column("x".into());
        let mut e = Expr::Float(20.0);
        for k in (0..20).rev() {
            let cond = bin(x(), Op::Lt, Expr::Float(k as f64));
            e = Expr::Case(vec![(cond, Expr::Float(k as f64))], Box::new(e));
        }
        assert_eq!(e.case_nesting(), 20);
        let flat = e.clone().within_case_nesting(5);
        assert!(flat.case_nesting() <= 5, "{}", flat.case_nesting());
        // Every value is still there once, in order.
        let mut values = Vec::new();
        flat.for_each_value(&mut values);
        assert_eq!(values, (0..=20).map(f64::from).collect::<Vec<_>>());
        // Within the limit, nothing changes.
        assert_eq!(e.clone().within_case_nesting(20), e);
    }

    impl Expr {
        /// The literal results of a CASE tree, left to right.
        fn for_each_value(&self, out: &mut Vec<f64>) {
            match self {
                Expr::Case(whens, otherwise) => {
                    whens.iter().for_each(|(_, v)| v.for_each_value(out));
                    otherwise.for_each_value(out);
                }
                Expr::Float(v) => out.push(*v),
                _ => {}
            }
        }
    }

    #[test]
    fn a_tree_of_float32_leaves_is_added_in_float32() {
        let tree = |leaf: f64| {
            Expr::Case(
                vec![(
                    bin(internal("f0"), Op::Lt, Expr::Float(0.1)),
                    Expr::Case(vec![(Expr::Null, Expr::Float(1.5))], Box::new(Expr::Null)),
                )],
                Box::new(Expr::Float(leaf)),
            )
        };
        let typed = Expr::Case(
            vec![(
                bin(internal("f0"), Op::Lt, Expr::Float(0.1)),
                Expr::Case(
                    vec![(Expr::Null, f32(Expr::Float(1.5)))],
                    Box::new(Expr::Null),
                ),
            )],
            Box::new(f32(Expr::Float(-2.0))),
        );
        // Leaves typed (thresholds are not), no rounding of the sum.
        let e = f32(Expr::Sum(vec![internal("d0"), tree(-2.0)]));
        assert_eq!(
            e.without_double_roundings(&types(true)),
            Expr::Sum(vec![internal("d0"), typed])
        );
        // A leaf float32 cannot hold: the sum is rounded as before.
        let e = f32(Expr::Sum(vec![internal("d0"), tree(0.1)]));
        assert_eq!(e.clone().without_double_roundings(&types(true)), e);
        // Where float32 arithmetic gives float64, nothing changes.
        let e = f32(Expr::Sum(vec![internal("d0"), tree(-2.0)]));
        assert_eq!(e.clone().without_double_roundings(&types(false)), e);
    }
}
