//! Expressions: DerivedField, Constant, FieldRef, NormContinuous, NormDiscrete,
//! Discretize, MapValues and Apply over the built-in functions, into IR expressions.
//!
//! PMML's missing value is the IR's NaN. Arithmetic propagates it; comparisons and
//! boolean functions are made to propagate it too, where the IR's comparisons would
//! read it as false. Booleans are 1 and 0.

use std::rc::Rc;

use ferry_ir::{BinaryFn, CompareOp, Expr, Precision, UnaryFn};

use super::fields::{Builder, Field, Kind, MAX_EXPR_DEPTH};
use super::xml::{closure, parse_number, El};
use crate::ImportError;

/// The value of an expression.
#[derive(Debug, Clone)]
pub(crate) struct Val {
    pub expr: Expr,
    pub kind: Kind,
    /// The text of a `<Constant>`, interpreted against the other operand's kind.
    pub literal: Option<String>,
    /// Whether the value is a PMML integer: JPMML divides two integers as Java does,
    /// truncating (`1 / 3` is 0).
    pub integer: bool,
}

impl Val {
    fn number(expr: Expr) -> Val {
        Val {
            expr,
            kind: Kind::Number,
            literal: None,
            integer: false,
        }
    }
}

const F64: Precision = Precision::F64;
const MISSING: f64 = f64::NAN;

fn nan() -> Expr {
    Expr::constant(MISSING)
}

fn is_missing(x: &Expr) -> Expr {
    Expr::IsMissing {
        x: Box::new(x.clone()),
    }
}

/// `body`, or missing when any of `args` is missing.
fn strict(args: &[&Expr], body: Expr) -> Expr {
    args.iter().rev().fold(body, |acc, a| {
        if a.may_be_missing(&|_| true) {
            Expr::if_else(is_missing(a), nan(), acc)
        } else {
            acc
        }
    })
}

fn or(a: Expr, b: Expr) -> Expr {
    Expr::binary(BinaryFn::Max, a, b, F64)
}

impl<'a, 'i> Builder<'a, 'i> {
    /// The field called `name`, seen from scope `upto` (exclusive) down to the global
    /// one, converting a pending DerivedField on first use.
    pub fn resolve(&mut self, name: &str, at: El<'a, 'i>) -> Result<Field, ImportError> {
        let upto = self.scopes.len();
        self.resolve_upto(name, upto, at)
    }

    fn resolve_upto(
        &mut self,
        name: &str,
        upto: usize,
        at: El<'a, 'i>,
    ) -> Result<Field, ImportError> {
        for level in (0..upto).rev() {
            if let Some(f) = self.scopes[level].fields.get(name) {
                return Ok(f.clone());
            }
            if let Some(df) = self.scopes[level].pending.get(name).copied() {
                if self.resolving.iter().any(|n| n == name) {
                    return Err(df.error(format!("`{name}` is defined in terms of itself")));
                }
                self.resolving.push(name.to_string());
                let field = self.derived_field(df, level + 1);
                self.resolving.pop();
                let field = field?;
                self.scopes[level]
                    .fields
                    .insert(name.to_string(), field.clone());
                return Ok(field);
            }
        }
        Err(at.error(format!("no field `{name}` is defined")))
    }

    fn derived_field(&mut self, df: El<'a, 'i>, upto: usize) -> Result<Field, ImportError> {
        let name = df.req("name")?;
        let body = df
            .elements()
            .next()
            .ok_or_else(|| df.error("a DerivedField needs an expression"))?;
        let mut val = self.expression(body, upto)?;
        let data_type = df.attr("dataType").unwrap_or("double");
        let float = data_type == "float";
        if let (Some(text), Kind::Number) = (&val.literal, &val.kind) {
            if data_type == "string" {
                val.kind = Kind::Text(Rc::new(vec![text.clone()]));
                val.expr = Expr::constant(0.0);
            }
        }
        if float && val.kind == Kind::Number {
            val.expr = Expr::unary(UnaryFn::Cast, val.expr, Precision::F32);
        }
        if matches!(data_type, "integer") && val.kind == Kind::Number {
            // JPMML casts a double to an integer field by truncation.
            val.expr = trunc(val.expr);
        }
        let column = self.column(name, val.expr);
        Ok(Field {
            column,
            kind: val.kind,
            float,
            integer: data_type == "integer",
        })
    }

    /// Converts one expression element.
    pub fn expression(&mut self, el: El<'a, 'i>, upto: usize) -> Result<Val, ImportError> {
        if self.depth >= MAX_EXPR_DEPTH {
            return Err(el.error(format!(
                "expressions are nested more than {MAX_EXPR_DEPTH} levels deep"
            )));
        }
        self.depth += 1;
        let out = self.expression_inner(el, upto);
        self.depth -= 1;
        out
    }

    fn expression_inner(&mut self, el: El<'a, 'i>, upto: usize) -> Result<Val, ImportError> {
        match el.name() {
            "Constant" => {
                if el.attr("missing") == Some("true") {
                    return Ok(Val::number(nan()));
                }
                let text = el.text();
                let data_type = el.attr("dataType");
                match parse_number(text) {
                    Some(v) if data_type != Some("string") => {
                        let v = if data_type == Some("float") {
                            f64::from(v as f32)
                        } else {
                            v
                        };
                        // Without a dataType JPMML types "1" as an integer, "1.0" as a double.
                        let integer = data_type == Some("integer")
                            || (data_type.is_none()
                                && !text.contains(['.', 'e', 'E', 'I', 'N', 'n']));
                        Ok(Val {
                            expr: Expr::constant(v),
                            kind: Kind::Number,
                            literal: Some(text.to_string()),
                            integer,
                        })
                    }
                    _ => Ok(Val {
                        expr: Expr::constant(0.0),
                        kind: Kind::Text(Rc::new(vec![text.to_string()])),
                        literal: Some(text.to_string()),
                        integer: false,
                    }),
                }
            }
            "FieldRef" => {
                let field = self.resolve_upto(el.req("field")?, upto, el)?;
                let mut expr = Expr::column(field.column);
                if let Some(m) = el.attr("mapMissingTo") {
                    let v = field.value_of(m, el)?.unwrap_or(MISSING);
                    expr = Expr::if_else(is_missing(&expr), Expr::constant(v), expr);
                }
                Ok(Val {
                    expr,
                    kind: field.kind,
                    literal: None,
                    integer: field.integer,
                })
            }
            "NormContinuous" => self.norm_continuous(el, upto),
            "NormDiscrete" => {
                let field = self.resolve_upto(el.req("field")?, upto, el)?;
                let x = Expr::column(field.column);
                let eq = match field.value_of(el.req("value")?, el)? {
                    Some(v) => Expr::compare(CompareOp::Eq, x.clone(), Expr::constant(v)),
                    None => Expr::constant(0.0),
                };
                let missing = el.f64_opt("mapMissingTo")?.unwrap_or(MISSING);
                Ok(Val::number(Expr::if_else(
                    is_missing(&x),
                    Expr::constant(missing),
                    eq,
                )))
            }
            "Discretize" => self.discretize(el, upto),
            "MapValues" => self.map_values(el, upto),
            "Apply" => self.apply(el, upto),
            other => Err(el.unsupported(format!("the expression <{other}>"))),
        }
    }

    fn norm_continuous(&mut self, el: El<'a, 'i>, upto: usize) -> Result<Val, ImportError> {
        let field = self.resolve_upto(el.req("field")?, upto, el)?;
        let x = Expr::column(field.column);
        let mut points = Vec::new();
        for ln in el.children_named("LinearNorm") {
            points.push((ln.f64_req("orig")?, ln.f64_req("norm")?));
        }
        if points.len() < 2 || points.windows(2).any(|w| w[1].0 <= w[0].0) {
            return Err(el.error("needs two or more LinearNorm points with increasing `orig`"));
        }
        let segment = |(x0, y0): (f64, f64), (x1, y1): (f64, f64), x: Expr| {
            // y0 + (x - x0) * (y1 - y0) / (x1 - x0)
            let slope = (y1 - y0) / (x1 - x0);
            Expr::binary(
                BinaryFn::Add,
                Expr::constant(y0),
                Expr::binary(
                    BinaryFn::Mul,
                    Expr::binary(BinaryFn::Sub, x, Expr::constant(x0), F64),
                    Expr::constant(slope),
                    F64,
                ),
                F64,
            )
        };
        let n = points.len();
        let (first, last) = (points[0], points[n - 1]);
        // Inside: the segment whose right end is the first one at or above x.
        let mut inside = segment(points[n - 2], last, x.clone());
        for i in (0..n - 2).rev() {
            inside = Expr::if_else(
                Expr::compare(CompareOp::Le, x.clone(), Expr::constant(points[i + 1].0)),
                segment(points[i], points[i + 1], x.clone()),
                inside,
            );
        }
        let (below, above) = match el.attr("outliers").unwrap_or("asIs") {
            "asIs" => (
                segment(first, points[1], x.clone()),
                segment(points[n - 2], last, x.clone()),
            ),
            "asMissingValues" => (nan(), nan()),
            "asExtremeValues" => (Expr::constant(first.1), Expr::constant(last.1)),
            other => return Err(el.error(format!("unknown outliers `{other}`"))),
        };
        let mut expr = Expr::if_else(
            Expr::compare(CompareOp::Lt, x.clone(), Expr::constant(first.0)),
            below,
            Expr::if_else(
                Expr::compare(CompareOp::Gt, x.clone(), Expr::constant(last.0)),
                above,
                inside,
            ),
        );
        let missing = el.f64_opt("mapMissingTo")?.unwrap_or(MISSING);
        expr = Expr::if_else(is_missing(&x), Expr::constant(missing), expr);
        Ok(Val::number(expr))
    }

    fn discretize(&mut self, el: El<'a, 'i>, upto: usize) -> Result<Val, ImportError> {
        let field = self.resolve_upto(el.req("field")?, upto, el)?;
        let x = Expr::column(field.column);
        let mut bins = Vec::new();
        for bin in el.children_named("DiscretizeBin") {
            let interval = bin.req_child("Interval")?;
            let (lc, hc) = closure(interval)?;
            let low = interval.f64_opt("leftMargin")?;
            let high = interval.f64_opt("rightMargin")?;
            bins.push((bin.req("binValue")?, low, high, lc, hc));
        }
        let outputs = Outputs::new(
            bins.iter()
                .map(|b| b.0)
                .chain(el.attr("defaultValue"))
                .chain(el.attr("mapMissingTo")),
            el.attr("dataType"),
        );
        let mut expr = match el.attr("defaultValue") {
            Some(d) => outputs.value(d),
            None => nan(),
        };
        // Bins should not overlap; where they do, JPMML takes the last one that holds
        // the value, so the last bin is tested first.
        for &(value, low, high, lc, hc) in &bins {
            let mut cond: Option<Expr> = None;
            if let Some(l) = low {
                let op = if lc { CompareOp::Ge } else { CompareOp::Gt };
                cond = Some(Expr::compare(op, x.clone(), Expr::constant(l)));
            }
            if let Some(h) = high {
                let op = if hc { CompareOp::Le } else { CompareOp::Lt };
                let c = Expr::compare(op, x.clone(), Expr::constant(h));
                cond = Some(match cond {
                    Some(a) => Expr::binary(BinaryFn::Min, a, c, F64),
                    None => c,
                });
            }
            let cond = cond.unwrap_or(Expr::constant(1.0));
            expr = Expr::if_else(cond, outputs.value(value), expr);
        }
        let missing = el.attr("mapMissingTo").map_or(nan(), |m| outputs.value(m));
        Ok(outputs.val(Expr::if_else(is_missing(&x), missing, expr)))
    }

    fn map_values(&mut self, el: El<'a, 'i>, upto: usize) -> Result<Val, ImportError> {
        const MAX_ROWS: usize = 256;
        let output = el.req("outputColumn")?;
        let mut keys = Vec::new();
        for pair in el.children_named("FieldColumnPair") {
            let field = self.resolve_upto(pair.req("field")?, upto, pair)?;
            keys.push((field, pair.req("column")?, pair));
        }
        if keys.is_empty() {
            return Err(el.error("needs at least one FieldColumnPair"));
        }
        let table = el
            .child("InlineTable")
            .ok_or_else(|| el.unsupported("a MapValues without an InlineTable (TableLocator)"))?;
        let rows: Vec<El<'a, 'i>> = table.children_named("row").collect();
        if rows.len() > MAX_ROWS {
            return Err(el.unsupported(format!("a MapValues table of more than {MAX_ROWS} rows")));
        }
        let cell = |row: El<'a, 'i>, column: &str| -> Option<&'a str> {
            row.elements()
                .find(|c| super::xml::column_is(*c, column))
                .map(|c| c.text())
        };
        let mut entries = Vec::new();
        for row in &rows {
            let out = cell(*row, output)
                .ok_or_else(|| row.error(format!("no `{output}` cell in this row")))?;
            let mut conds = Vec::new();
            for (field, column, pair) in &keys {
                let text = cell(*row, column)
                    .ok_or_else(|| row.error(format!("no `{column}` cell in this row")))?;
                conds.push(match field.value_of(text, *pair)? {
                    Some(v) => {
                        Expr::compare(CompareOp::Eq, Expr::column(field.column), Expr::constant(v))
                    }
                    None => Expr::constant(0.0),
                });
            }
            entries.push((conds, out));
        }
        let outputs = Outputs::new(
            entries
                .iter()
                .map(|e| e.1)
                .chain(el.attr("defaultValue"))
                .chain(el.attr("mapMissingTo")),
            el.attr("dataType"),
        );
        let mut expr = el.attr("defaultValue").map_or(nan(), |d| outputs.value(d));
        for (conds, out) in entries.into_iter().rev() {
            let cond = conds
                .into_iter()
                .reduce(|a, b| Expr::binary(BinaryFn::Min, a, b, F64))
                .expect("at least one key");
            expr = Expr::if_else(cond, outputs.value(out), expr);
        }
        let any_missing = keys
            .iter()
            .map(|(f, _, _)| is_missing(&Expr::column(f.column)))
            .reduce(or)
            .expect("at least one key");
        let missing = el.attr("mapMissingTo").map_or(nan(), |m| outputs.value(m));
        Ok(outputs.val(Expr::if_else(any_missing, missing, expr)))
    }

    /// A DefineFunction applied to `args`: its body with each ParameterField bound to
    /// a column holding the argument.
    fn call(&mut self, f: El<'a, 'i>, args: &[Val], at: El<'a, 'i>) -> Result<Val, ImportError> {
        let params: Vec<El<'a, 'i>> = f.children_named("ParameterField").collect();
        if params.len() != args.len() {
            return Err(at.error(format!(
                "`{}` takes {} argument(s), {} given",
                f.req("name")?,
                params.len(),
                args.len()
            )));
        }
        let body = f
            .elements()
            .find(|e| e.name() != "ParameterField")
            .ok_or_else(|| f.error("a DefineFunction needs an expression"))?;
        let mut scope = super::fields::Scope::default();
        for (p, a) in params.iter().zip(args) {
            let column = self.column(p.req("name")?, a.expr.clone());
            scope.fields.insert(
                p.req("name")?.to_string(),
                Field {
                    column,
                    kind: a.kind.clone(),
                    float: false,
                    integer: a.integer,
                },
            );
        }
        self.scopes.push(scope);
        let upto = self.scopes.len();
        let out = self.expression(body, upto);
        self.scopes.pop();
        out
    }

    fn args(&mut self, el: El<'a, 'i>, upto: usize) -> Result<Vec<Val>, ImportError> {
        el.elements().map(|a| self.expression(a, upto)).collect()
    }

    fn apply(&mut self, el: El<'a, 'i>, upto: usize) -> Result<Val, ImportError> {
        let function = el.req("function")?;
        let args = self.args(el, upto)?;
        let arity = |n: usize| -> Result<(), ImportError> {
            if args.len() == n {
                Ok(())
            } else {
                Err(el.error(format!(
                    "`{function}` takes {n} argument(s), {} given",
                    args.len()
                )))
            }
        };
        let num = |i: usize| -> Result<Expr, ImportError> {
            match &args[i].kind {
                Kind::Number => Ok(args[i].expr.clone()),
                Kind::Text(_) => Err(el.error(format!(
                    "argument {} of `{function}` must be a number",
                    i + 1
                ))),
            }
        };
        let both_integers = args.len() == 2 && args.iter().all(|a| a.integer);
        let binary = |f: BinaryFn| -> Result<Val, ImportError> {
            arity(2)?;
            let mut e = Expr::binary(f, num(0)?, num(1)?, F64);
            let integer = both_integers && f != BinaryFn::Pow;
            if integer && f == BinaryFn::Div {
                e = trunc(e);
            }
            Ok(Val {
                integer,
                ..Val::number(e)
            })
        };
        let unary = |f: UnaryFn| -> Result<Val, ImportError> {
            arity(1)?;
            Ok(Val::number(Expr::unary(f, num(0)?, F64)))
        };
        let mut val = match function {
            "+" => binary(BinaryFn::Add)?,
            "-" => binary(BinaryFn::Sub)?,
            "*" => binary(BinaryFn::Mul)?,
            "/" => binary(BinaryFn::Div)?,
            "pow" | "x-pow" => binary(BinaryFn::Pow)?,
            "ln" | "x-ln" => unary(UnaryFn::Ln)?,
            "exp" | "x-exp" => unary(UnaryFn::Exp)?,
            "sqrt" | "x-sqrt" => unary(UnaryFn::Sqrt)?,
            "abs" | "x-abs" => unary(UnaryFn::Abs)?,
            "floor" | "x-floor" => Val {
                integer: true,
                ..unary(UnaryFn::Floor)?
            },
            "ceil" | "x-ceil" => Val {
                integer: true,
                ..unary(UnaryFn::Ceil)?
            },
            "x-tanh" | "tanh" => unary(UnaryFn::Tanh)?,
            "x-expit" | "x-sigmoid" => unary(UnaryFn::Logistic)?,
            "expm1" | "x-expm1" => {
                arity(1)?;
                Val::number(Expr::binary(
                    BinaryFn::Sub,
                    Expr::unary(UnaryFn::Exp, num(0)?, F64),
                    Expr::constant(1.0),
                    F64,
                ))
            }
            "ln1p" | "x-ln1p" => {
                arity(1)?;
                Val::number(Expr::unary(
                    UnaryFn::Ln,
                    Expr::binary(BinaryFn::Add, num(0)?, Expr::constant(1.0), F64),
                    F64,
                ))
            }
            "rint" | "x-rint" => {
                // Java's Math.rint: to the nearest integer, ties to the even one.
                arity(1)?;
                let x = num(0)?;
                let floor = Expr::unary(UnaryFn::Floor, x.clone(), F64);
                let frac = Expr::binary(BinaryFn::Sub, x, floor.clone(), F64);
                let up = Expr::binary(BinaryFn::Add, floor.clone(), Expr::constant(1.0), F64);
                let half = Expr::binary(BinaryFn::Mul, floor.clone(), Expr::constant(0.5), F64);
                let even = Expr::compare(
                    CompareOp::Eq,
                    Expr::unary(UnaryFn::Floor, half.clone(), F64),
                    half,
                );
                Val {
                    integer: true,
                    ..Val::number(Expr::if_else(
                        Expr::compare(CompareOp::Gt, frac.clone(), Expr::constant(0.5)),
                        up.clone(),
                        Expr::if_else(
                            Expr::compare(CompareOp::Lt, frac, Expr::constant(0.5)),
                            floor.clone(),
                            Expr::if_else(even, floor, up),
                        ),
                    ))
                }
            }
            "log10" | "x-log10" => {
                arity(1)?;
                let ln = Expr::unary(UnaryFn::Ln, num(0)?, F64);
                Val::number(Expr::binary(
                    BinaryFn::Div,
                    ln,
                    Expr::constant(std::f64::consts::LN_10),
                    F64,
                ))
            }
            "round" | "x-round" => {
                arity(1)?;
                // Java's Math.round: floor(x + 0.5).
                // Exactly floor(x + 0.5), as Java's Math.round: x - floor(x) is exact, where
                // x + 0.5 may round up (0.49999999999999994 + 0.5 == 1.0).
                let x = num(0)?;
                let floor = Expr::unary(UnaryFn::Floor, x.clone(), F64);
                let frac = Expr::binary(BinaryFn::Sub, x, floor.clone(), F64);
                Val {
                    integer: true,
                    ..Val::number(Expr::if_else(
                        Expr::compare(CompareOp::Ge, frac, Expr::constant(0.5)),
                        Expr::binary(BinaryFn::Add, floor.clone(), Expr::constant(1.0), F64),
                        floor,
                    ))
                }
            }
            "min" | "max" | "sum" | "product" | "avg" => {
                if args.is_empty() {
                    return Err(el.error(format!("`{function}` needs arguments")));
                }
                let xs: Vec<Expr> = (0..args.len()).map(num).collect::<Result<_, _>>()?;
                let f = match function {
                    "min" => BinaryFn::Min,
                    "max" => BinaryFn::Max,
                    "product" => BinaryFn::Mul,
                    _ => BinaryFn::Add,
                };
                // Missing arguments are skipped; all missing gives missing.
                let present =
                    |x: &Expr| Expr::binary(BinaryFn::Sub, Expr::constant(1.0), is_missing(x), F64);
                let all_missing = xs
                    .iter()
                    .map(is_missing)
                    .reduce(|a, b| Expr::binary(BinaryFn::Min, a, b, F64))
                    .expect("not empty");
                let body = match f {
                    BinaryFn::Min | BinaryFn::Max => xs
                        .iter()
                        .cloned()
                        .reduce(|a, b| {
                            Expr::if_else(
                                is_missing(&a),
                                b.clone(),
                                Expr::if_else(
                                    is_missing(&b),
                                    a.clone(),
                                    Expr::binary(f, a, b, F64),
                                ),
                            )
                        })
                        .expect("not empty"),
                    _ => {
                        let unit = if f == BinaryFn::Mul { 1.0 } else { 0.0 };
                        let folded = xs
                            .iter()
                            .map(|x| Expr::if_else(is_missing(x), Expr::constant(unit), x.clone()))
                            .reduce(|a, b| Expr::binary(f, a, b, F64))
                            .expect("not empty");
                        if function == "avg" {
                            let count = xs
                                .iter()
                                .map(present)
                                .reduce(|a, b| Expr::binary(BinaryFn::Add, a, b, F64))
                                .expect("not empty");
                            Expr::binary(BinaryFn::Div, folded, count, F64)
                        } else {
                            folded
                        }
                    }
                };
                Val::number(Expr::if_else(all_missing, nan(), body))
            }
            "threshold" => {
                arity(2)?;
                let (x, t) = (num(0)?, num(1)?);
                Val::number(strict(
                    &[&x, &t],
                    Expr::compare(CompareOp::Gt, x.clone(), t.clone()),
                ))
            }
            "isMissing" | "isNotMissing" => {
                arity(1)?;
                let m = is_missing(&args[0].expr);
                Val::number(if function == "isMissing" {
                    m
                } else {
                    Expr::binary(BinaryFn::Sub, Expr::constant(1.0), m, F64)
                })
            }
            "equal" | "notEqual" | "lessThan" | "lessOrEqual" | "greaterThan"
            | "greaterOrEqual" => {
                arity(2)?;
                let op = match function {
                    "equal" => CompareOp::Eq,
                    "notEqual" => CompareOp::Ne,
                    "lessThan" => CompareOp::Lt,
                    "lessOrEqual" => CompareOp::Le,
                    "greaterThan" => CompareOp::Gt,
                    _ => CompareOp::Ge,
                };
                Val::number(compare(op, &args[0], &args[1], el)?)
            }
            "and" | "or" => {
                if args.len() < 2 {
                    return Err(el.error(format!("`{function}` needs two or more arguments")));
                }
                let xs: Vec<Expr> = (0..args.len()).map(num).collect::<Result<_, _>>()?;
                Val::number(kleene(function == "and", &xs))
            }
            "not" => {
                arity(1)?;
                let x = num(0)?;
                Val::number(strict(
                    &[&x],
                    Expr::compare(CompareOp::Eq, x.clone(), Expr::constant(0.0)),
                ))
            }
            "isIn" | "isNotIn" => {
                if args.len() < 2 {
                    return Err(el.error(format!("`{function}` needs a value and a list")));
                }
                let x = &args[0];
                let mut any = Expr::constant(0.0);
                for v in &args[1..] {
                    any = or(any, compare(CompareOp::Eq, x, v, el)?);
                }
                // A missing value is in the list only if the list holds a missing
                // constant.
                let listed_missing = args[1..].iter().any(
                    |v| matches!(v.expr, Expr::Const { value } if value.is_nan() && v.literal.is_none()),
                );
                let any = Expr::if_else(
                    is_missing(&x.expr),
                    Expr::constant(f64::from(u8::from(listed_missing))),
                    any,
                );
                if function == "isIn" {
                    Val::number(any)
                } else {
                    Val::number(Expr::binary(BinaryFn::Sub, Expr::constant(1.0), any, F64))
                }
            }
            "if" => {
                if !(2..=3).contains(&args.len()) {
                    return Err(el.error("`if` takes a condition, a value and an optional else"));
                }
                let cond = num(0)?;
                let otherwise = args.get(2).cloned().unwrap_or(Val::number(nan()));
                let (then, otherwise, kind) = unify(&args[1], &otherwise, el)?;
                let body = Expr::if_else(cond.clone(), then, otherwise);
                Val {
                    expr: strict(&[&cond], body),
                    kind,
                    literal: None,
                    integer: false,
                }
            }
            other => match self.scopes[0].functions.get(other).copied() {
                Some(f) => self.call(f, &args, el)?,
                None => return Err(el.unsupported(format!("the function `{other}`"))),
            },
        };
        if let Some(m) = el.attr("mapMissingTo") {
            let v = boolean_or_number(m)
                .ok_or_else(|| el.error(format!("mapMissingTo `{m}` is not a number")))?;
            // Any missing argument gives the replacement; `if` evaluates only its
            // condition and the branch it takes.
            let any = if function == "if" {
                or(is_missing(&args[0].expr), is_missing(&val.expr))
            } else {
                args.iter()
                    .map(|a| is_missing(&a.expr))
                    .reduce(or)
                    .unwrap_or(Expr::constant(0.0))
            };
            val.expr = Expr::if_else(any, Expr::constant(v), val.expr);
        }
        if let Some(d) = el.attr("defaultValue") {
            let v = boolean_or_number(d)
                .ok_or_else(|| el.error(format!("defaultValue `{d}` is not a number")))?;
            val.expr = Expr::if_else(is_missing(&val.expr), Expr::constant(v), val.expr.clone());
        }
        Ok(val)
    }
}

/// A replacement value: a number, or a boolean (1 or 0).
fn boolean_or_number(text: &str) -> Option<f64> {
    match text {
        "true" => Some(1.0),
        "false" => Some(0.0),
        _ => parse_number(text),
    }
}

/// Truncation towards zero.
fn trunc(x: Expr) -> Expr {
    Expr::if_else(
        Expr::compare(CompareOp::Lt, x.clone(), Expr::constant(0.0)),
        Expr::unary(UnaryFn::Ceil, x.clone(), F64),
        Expr::unary(UnaryFn::Floor, x, F64),
    )
}

/// Kleene's three-valued `and`/`or`: a decisive operand (false for `and`, true for `or`)
/// decides even when another is missing.
fn kleene(and: bool, xs: &[Expr]) -> Expr {
    let decisive = if and { 0.0 } else { 1.0 };
    let any_decisive = xs
        .iter()
        .map(|x| {
            if and {
                Expr::compare(CompareOp::Eq, x.clone(), Expr::constant(0.0))
            } else {
                Expr::compare(CompareOp::Ne, x.clone(), Expr::constant(0.0))
            }
        })
        .reduce(or)
        .expect("two or more");
    let any_missing = xs.iter().map(is_missing).reduce(or).expect("two or more");
    Expr::if_else(
        any_decisive,
        Expr::constant(decisive),
        Expr::if_else(any_missing, nan(), Expr::constant(1.0 - decisive)),
    )
}

/// `a <op> b` as 1/0, missing when either side is.
pub(crate) fn compare(
    op: CompareOp,
    a: &Val,
    b: &Val,
    at: El<'_, '_>,
) -> Result<Expr, ImportError> {
    // A constant is read in the other side's type: "3" typed as a string still equals
    // the number 3 when compared with a numeric field.
    let as_number = |v: &Val| {
        v.literal
            .as_deref()
            .and_then(parse_number)
            .map(Expr::constant)
    };
    let (x, y) = match (&a.kind, &b.kind) {
        (Kind::Number, Kind::Number) => (a.expr.clone(), b.expr.clone()),
        (Kind::Number, Kind::Text(_)) if as_number(b).is_some() => {
            (a.expr.clone(), as_number(b).expect("checked"))
        }
        (Kind::Text(_), Kind::Number) if as_number(a).is_some() && a.literal.is_some() => {
            (as_number(a).expect("checked"), b.expr.clone())
        }
        (Kind::Text(levels), _) if b.literal.is_some() => (
            a.expr.clone(),
            code_in(levels, b.literal.as_deref().unwrap_or("")),
        ),
        (_, Kind::Text(levels)) if a.literal.is_some() => (
            code_in(levels, a.literal.as_deref().unwrap_or("")),
            b.expr.clone(),
        ),
        (Kind::Text(la), Kind::Text(lb)) if la == lb => (a.expr.clone(), b.expr.clone()),
        _ => return Err(at.unsupported("comparing two string fields with different value lists")),
    };
    if !matches!(op, CompareOp::Eq | CompareOp::Ne) && a.kind != Kind::Number {
        return Err(at.unsupported("ordering comparisons of strings"));
    }
    Ok(strict(&[&x, &y], Expr::compare(op, x.clone(), y.clone())))
}

/// The code of `text` among `levels`, or a code no value has.
fn code_in(levels: &[String], text: &str) -> Expr {
    Expr::constant(
        levels
            .iter()
            .position(|l| l == text)
            .map_or(-2.0, |i| i as f64),
    )
}

/// The two branches of an `if` in one kind: numbers, or codes into one level list.
fn unify(a: &Val, b: &Val, at: El<'_, '_>) -> Result<(Expr, Expr, Kind), ImportError> {
    let missing = |v: &Val| matches!(v.expr, Expr::Const { value } if value.is_nan());
    match (&a.kind, &b.kind) {
        (Kind::Number, Kind::Number) => Ok((a.expr.clone(), b.expr.clone(), Kind::Number)),
        (Kind::Text(la), Kind::Text(lb)) => {
            let mut levels: Vec<String> = la.to_vec();
            for l in lb.iter() {
                if !levels.contains(l) {
                    levels.push(l.clone());
                }
            }
            let recode = |v: &Val, own: &[String]| -> Expr {
                let table: Vec<f64> = own
                    .iter()
                    .map(|l| levels.iter().position(|m| m == l).unwrap_or(0) as f64)
                    .collect();
                Expr::Lookup {
                    x: Box::new(v.expr.clone()),
                    table,
                    default: MISSING,
                }
            };
            Ok((recode(a, la), recode(b, lb), Kind::Text(Rc::new(levels))))
        }
        (Kind::Text(l), _) if missing(b) => Ok((a.expr.clone(), nan(), Kind::Text(l.clone()))),
        (_, Kind::Text(l)) if missing(a) => Ok((nan(), b.expr.clone(), Kind::Text(l.clone()))),
        _ => Err(at.unsupported("an `if` whose branches are a number and a string")),
    }
}

/// The output values of a Discretize or MapValues: numbers, or strings as codes.
struct Outputs {
    levels: Option<Vec<String>>,
}

impl Outputs {
    fn new<'s>(values: impl Iterator<Item = &'s str>, data_type: Option<&str>) -> Outputs {
        let values: Vec<&str> = values.collect();
        let numeric = data_type != Some("string")
            && values
                .iter()
                .all(|v| parse_number(v).is_some_and(f64::is_finite));
        if numeric {
            return Outputs { levels: None };
        }
        let mut levels: Vec<String> = Vec::new();
        for v in values {
            if !levels.iter().any(|l| l == v) {
                levels.push(v.to_string());
            }
        }
        Outputs {
            levels: Some(levels),
        }
    }

    fn value(&self, text: &str) -> Expr {
        match &self.levels {
            None => Expr::constant(parse_number(text).unwrap_or(MISSING)),
            Some(levels) => code_in(levels, text),
        }
    }

    fn val(self, expr: Expr) -> Val {
        Val {
            expr,
            kind: match self.levels {
                None => Kind::Number,
                Some(l) => Kind::Text(Rc::new(l)),
            },
            literal: None,
            integer: false,
        }
    }
}
