//! Preprocessing: columns computed row by row from the inputs before the estimator reads
//! them (scalers, imputers, one-hot encoders, dense layers of small networks…).
//!
//! The *column space* of a model is its inputs followed by its derived columns; an
//! [`Expr`] reads earlier columns by index. The estimator reads the columns listed in
//! [`crate::Model::features`].
//!
//! Values are float64. A missing value is NaN; it propagates through arithmetic, and a
//! comparison involving it is false. Categorical inputs appear as their level codes.
//! Every arithmetic node names the precision it computes in: its operands are rounded to
//! that precision, the operation is done there and the result widened back, exactly as a
//! float32 graph (ONNX) or a float64 pipeline (scikit-learn) computes it.

use crate::Precision;

/// A column computed from the inputs and earlier derived columns.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Derived {
    /// A readable name (shown by `inspect`, used as the SQL column alias's suffix).
    pub name: String,
    pub expr: Expr,
}

/// An expression over one row.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case", tag = "op"))]
pub enum Expr {
    /// Column `index` of the column space (inputs first, then derived columns).
    Column { index: usize },
    Const {
        #[cfg_attr(feature = "serde", serde(with = "crate::float_serde::scalar"))]
        value: f64,
    },
    Unary {
        f: UnaryFn,
        x: Box<Expr>,
        precision: Precision,
    },
    Binary {
        f: BinaryFn,
        a: Box<Expr>,
        b: Box<Expr>,
        precision: Precision,
    },
    /// 1.0 when `a <cmp> b` holds, else 0.0 (also when either side is missing). Both
    /// sides are compared as float64.
    Compare {
        cmp: CompareOp,
        a: Box<Expr>,
        b: Box<Expr>,
    },
    /// 1.0 when `x` is missing, else 0.0.
    IsMissing { x: Box<Expr> },
    /// `then` where `cond` is non-zero and not missing, else `otherwise`.
    If {
        cond: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    /// `bias + w[0]*c[0] + w[1]*c[1] + …`, each product rounded to `precision` and the
    /// sum accumulated left to right in `precision` (one unit of a dense layer, or a
    /// matrix product with a constant matrix).
    Dot {
        columns: Vec<usize>,
        #[cfg_attr(feature = "serde", serde(with = "crate::float_serde::vec"))]
        weights: Vec<f64>,
        #[cfg_attr(feature = "serde", serde(with = "crate::float_serde::scalar"))]
        bias: f64,
        precision: Precision,
    },
    /// `table[code]` where `x` is an integer code inside the table, else `default`
    /// (also for a missing `x`). Label encoders and value maps of categorical inputs.
    Lookup {
        x: Box<Expr>,
        #[cfg_attr(feature = "serde", serde(with = "crate::float_serde::vec"))]
        table: Vec<f64>,
        #[cfg_attr(feature = "serde", serde(with = "crate::float_serde::scalar"))]
        default: f64,
    },
}

/// One-argument functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum UnaryFn {
    /// Rounds to the node's precision and nothing else (ONNX `Cast` to float).
    Cast,
    Neg,
    Abs,
    Exp,
    Ln,
    Sqrt,
    Tanh,
    /// `1 / (1 + exp(-x))`.
    Logistic,
    /// `max(x, 0)`; missing stays missing.
    Relu,
    Floor,
    Ceil,
}

/// Two-argument functions. `Min`/`Max` are missing when either side is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum BinaryFn {
    Add,
    Sub,
    Mul,
    Div,
    Min,
    Max,
    Pow,
}

/// Comparisons of [`Expr::Compare`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Rounds `x` to precision `p` (and widens it back).
#[inline]
pub fn round_to(p: Precision, x: f64) -> f64 {
    match p {
        Precision::F32 => f64::from(x as f32),
        Precision::F64 => x,
    }
}

/// One body for both float widths, so the two precisions cannot drift apart.
macro_rules! unary_body {
    ($f:expr, $x:expr, $t:ty) => {{
        let x: $t = $x;
        match $f {
            UnaryFn::Cast => x,
            UnaryFn::Neg => -x,
            UnaryFn::Abs => x.abs(),
            UnaryFn::Exp => x.exp(),
            UnaryFn::Ln => x.ln(),
            UnaryFn::Sqrt => x.sqrt(),
            UnaryFn::Tanh => x.tanh(),
            UnaryFn::Logistic => 1.0 / (1.0 + (-x).exp()),
            UnaryFn::Relu if x < 0.0 => 0.0,
            UnaryFn::Relu => x,
            UnaryFn::Floor => x.floor(),
            UnaryFn::Ceil => x.ceil(),
        }
    }};
}

impl UnaryFn {
    /// The function in precision `p`: the argument is rounded to `p` first, the result
    /// is exact in `p`. This is the reference every evaluator and compiler follows.
    #[inline]
    pub fn apply(self, x: f64, p: Precision) -> f64 {
        match p {
            Precision::F32 => f64::from(self.apply_f32(x as f32)),
            Precision::F64 => self.apply_f64(x),
        }
    }

    #[inline]
    fn apply_f64(self, x: f64) -> f64 {
        unary_body!(self, x, f64)
    }

    #[inline]
    fn apply_f32(self, x: f32) -> f32 {
        unary_body!(self, x, f32)
    }
}

macro_rules! binary_body {
    ($f:expr, $a:expr, $b:expr) => {{
        let (a, b) = ($a, $b);
        match $f {
            BinaryFn::Add => a + b,
            BinaryFn::Sub => a - b,
            BinaryFn::Mul => a * b,
            BinaryFn::Div => a / b,
            BinaryFn::Min => a.min(b),
            BinaryFn::Max => a.max(b),
            BinaryFn::Pow => a.powf(b),
        }
    }};
}

impl BinaryFn {
    /// The function in precision `p` (operands rounded to `p` first).
    #[inline]
    pub fn apply(self, a: f64, b: f64, p: Precision) -> f64 {
        if matches!(self, BinaryFn::Min | BinaryFn::Max) && (a.is_nan() || b.is_nan()) {
            return f64::NAN;
        }
        let (a, b) = (round_to(p, a), round_to(p, b));
        match p {
            Precision::F32 => f64::from(binary_body!(self, a as f32, b as f32)),
            Precision::F64 => binary_body!(self, a, b),
        }
    }
}

impl CompareOp {
    /// The same comparison with its operands swapped: `a < b` is `b > a`.
    pub fn flipped(self) -> Self {
        match self {
            CompareOp::Eq | CompareOp::Ne => self,
            CompareOp::Lt => CompareOp::Gt,
            CompareOp::Le => CompareOp::Ge,
            CompareOp::Gt => CompareOp::Lt,
            CompareOp::Ge => CompareOp::Le,
        }
    }

    /// Whether `a <op> b` holds; false whenever either side is missing (NaN), `Ne`
    /// included, as in SQL.
    #[inline]
    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            CompareOp::Eq => a == b,
            CompareOp::Ne => a != b && !a.is_nan() && !b.is_nan(),
            CompareOp::Lt => a < b,
            CompareOp::Le => a <= b,
            CompareOp::Gt => a > b,
            CompareOp::Ge => a >= b,
        }
    }
}

/// `table[x]` when `x` is an integer code inside the table, else `default`.
#[inline]
pub fn lookup(table: &[f64], default: f64, x: f64) -> f64 {
    if x >= 0.0 && x < table.len() as f64 && x.fract() == 0.0 {
        table[x as usize]
    } else {
        default
    }
}

impl Expr {
    /// Evaluates the expression for one row; `column(i)` gives the value of column `i`,
    /// or `None` to give up (the result is then `None`). A reference implementation for
    /// importers that need a value at a few points; batch evaluation lives in ferry-eval.
    pub fn eval_row(&self, column: &impl Fn(usize) -> Option<f64>) -> Option<f64> {
        Some(match self {
            Expr::Column { index } => column(*index)?,
            Expr::Const { value } => *value,
            Expr::Unary { f, x, precision } => f.apply(x.eval_row(column)?, *precision),
            Expr::Binary { f, a, b, precision } => {
                f.apply(a.eval_row(column)?, b.eval_row(column)?, *precision)
            }
            Expr::Compare { cmp, a, b } => f64::from(u8::from(
                cmp.holds(a.eval_row(column)?, b.eval_row(column)?),
            )),
            Expr::IsMissing { x } => f64::from(u8::from(x.eval_row(column)?.is_nan())),
            Expr::If {
                cond,
                then,
                otherwise,
            } => {
                let c = cond.eval_row(column)?;
                if c != 0.0 && !c.is_nan() {
                    then.eval_row(column)?
                } else {
                    otherwise.eval_row(column)?
                }
            }
            Expr::Dot {
                columns,
                weights,
                bias,
                precision,
            } => {
                let mut acc = round_to(*precision, *bias);
                for (c, w) in columns.iter().zip(weights) {
                    let term = BinaryFn::Mul.apply(*w, column(*c)?, *precision);
                    acc = BinaryFn::Add.apply(acc, term, *precision);
                }
                acc
            }
            Expr::Lookup { x, table, default } => lookup(table, *default, x.eval_row(column)?),
        })
    }

    pub fn column(index: usize) -> Expr {
        Expr::Column { index }
    }

    pub fn constant(value: f64) -> Expr {
        Expr::Const { value }
    }

    /// `f(x)` in `precision`. A float32 cast of the operand is dropped under float32
    /// arithmetic, which rounds its operand anyway.
    pub fn unary(f: UnaryFn, x: Expr, precision: Precision) -> Expr {
        Expr::Unary {
            f,
            x: Box::new(x.without_cast_under(precision)),
            precision,
        }
    }

    /// `f(a, b)` in `precision` (float32 casts of the operands dropped, as for `unary`).
    pub fn binary(f: BinaryFn, a: Expr, b: Expr, precision: Precision) -> Expr {
        Expr::Binary {
            f,
            a: Box::new(a.without_cast_under(precision)),
            b: Box::new(b.without_cast_under(precision)),
            precision,
        }
    }

    fn without_cast_under(self, precision: Precision) -> Expr {
        match self {
            Expr::Unary {
                f: UnaryFn::Cast,
                x,
                precision: Precision::F32,
            } if precision == Precision::F32 => *x,
            other => other,
        }
    }

    pub fn compare(cmp: CompareOp, a: Expr, b: Expr) -> Expr {
        Expr::Compare {
            cmp,
            a: Box::new(a),
            b: Box::new(b),
        }
    }

    pub fn if_else(cond: Expr, then: Expr, otherwise: Expr) -> Expr {
        Expr::If {
            cond: Box::new(cond),
            then: Box::new(then),
            otherwise: Box::new(otherwise),
        }
    }

    /// The expressions this one is computed from.
    pub fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Column { .. } | Expr::Const { .. } | Expr::Dot { .. } => Vec::new(),
            Expr::Unary { x, .. } | Expr::IsMissing { x } | Expr::Lookup { x, .. } => vec![x],
            Expr::Binary { a, b, .. } | Expr::Compare { a, b, .. } => vec![a, b],
            Expr::If {
                cond,
                then,
                otherwise,
            } => vec![cond, then, otherwise],
        }
    }

    /// [`Expr::children`], to change them.
    pub fn children_mut(&mut self) -> Vec<&mut Expr> {
        match self {
            Expr::Column { .. } | Expr::Const { .. } | Expr::Dot { .. } => Vec::new(),
            Expr::Unary { x, .. } | Expr::IsMissing { x } | Expr::Lookup { x, .. } => vec![x],
            Expr::Binary { a, b, .. } | Expr::Compare { a, b, .. } => vec![a, b],
            Expr::If {
                cond,
                then,
                otherwise,
            } => vec![cond, then, otherwise],
        }
    }

    /// Calls `f` on every column index this expression reads.
    pub fn for_each_column(&self, f: &mut impl FnMut(usize)) {
        match self {
            Expr::Column { index } => f(*index),
            Expr::Dot { columns, .. } => columns.iter().for_each(|c| f(*c)),
            e => e.children().into_iter().for_each(|x| x.for_each_column(f)),
        }
    }

    /// Replaces every column index `c` this expression reads by `f(c)`.
    pub fn map_columns(&mut self, f: &impl Fn(usize) -> usize) {
        match self {
            Expr::Column { index } => *index = f(*index),
            Expr::Dot { columns, .. } => columns.iter_mut().for_each(|c| *c = f(*c)),
            e => e.children_mut().into_iter().for_each(|x| x.map_columns(f)),
        }
    }

    /// Number of nodes (a `Dot` counts one per term); bounds evaluation and SQL size.
    pub fn size(&self) -> usize {
        match self {
            Expr::Column { .. } | Expr::Const { .. } => 1,
            Expr::Unary { x, .. } | Expr::IsMissing { x } | Expr::Lookup { x, .. } => 1 + x.size(),
            Expr::Binary { a, b, .. } | Expr::Compare { a, b, .. } => 1 + a.size() + b.size(),
            Expr::If {
                cond,
                then,
                otherwise,
            } => 1 + cond.size() + then.size() + otherwise.size(),
            Expr::Dot { columns, .. } => 1 + columns.len(),
        }
    }

    /// Nesting depth.
    pub fn depth(&self) -> usize {
        match self {
            Expr::Column { .. } | Expr::Const { .. } | Expr::Dot { .. } => 1,
            Expr::Unary { x, .. } | Expr::IsMissing { x } | Expr::Lookup { x, .. } => 1 + x.depth(),
            Expr::Binary { a, b, .. } | Expr::Compare { a, b, .. } => 1 + a.depth().max(b.depth()),
            Expr::If {
                cond,
                then,
                otherwise,
            } => 1 + cond.depth().max(then.depth()).max(otherwise.depth()),
        }
    }

    /// Whether the expression can be missing when no column it reads is missing and
    /// every column it reads is in `missing_free` — conservative: `true` when unsure.
    pub fn may_be_missing(&self, column_may_be_missing: &impl Fn(usize) -> bool) -> bool {
        match self {
            Expr::Column { index } => column_may_be_missing(*index),
            Expr::Const { value } => value.is_nan(),
            Expr::IsMissing { .. } | Expr::Compare { .. } => false,
            Expr::Lookup { table, default, .. } => {
                default.is_nan() || table.iter().any(|v| v.is_nan())
            }
            Expr::If {
                then, otherwise, ..
            } => {
                then.may_be_missing(column_may_be_missing)
                    || otherwise.may_be_missing(column_may_be_missing)
            }
            // Arithmetic can make NaN from finite values (0/0, ln(-1), inf - inf).
            Expr::Unary { .. } | Expr::Binary { .. } | Expr::Dot { .. } => true,
        }
    }
}
