//! ferry IR → one SQL query that scores a table exactly as `ferry predict` does.
//!
//! The query is a chain of CTEs over the input table:
//!
//! ```text
//! ferry_in   keep columns (k0…) and inputs (f0…), renamed once, user column names
//!            always quoted
//! ferry_s1…  raw scores s0…: the base score plus the trees, added in the source's
//!            order and precision, a bounded number of trees per step
//! ferry_exp  (softmax only) the shifted exponentials
//! ferry_t    transformed scores t0… and raw scores r0…
//! SELECT     keep columns, label, prediction / proba_<class>, raw — named as in the
//!            output contract
//! ```
//!
//! Lowering writes a step per operation; `merge` then moves every column read only
//! once into its reader, and a step left with nothing else to compute into the next,
//! so the query has about one step per value read more than once.
//!
//! Every difference between engines lives in [`Dialect`]. Lowering is linear in the
//! size of the model.

mod boundary;
mod derived;
mod dialect;
mod error;
mod expr;
mod function;
mod merge;
mod normal;
mod stage;
mod trees;

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use ferry_ir::{output_columns, Estimator, Model, OutputKind, Precision, Task, Transform};

pub use dialect::{dialect, Dialect, Float32, Fold, DIALECT_NAMES};
pub use error::SqlError;
pub use function::compile_function;

use crate::dialect::quote_path;
use crate::expr::{bin, internal, pick_first, Expr, Float32Types, Op};
use crate::trees::TreeLowering;

/// What to compile.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The table to score: a name, or a dotted path (`schema.table`) whose parts are
    /// quoted one by one.
    pub table: String,
    /// Input-table columns copied to the result first, in this order.
    pub keep: Vec<String>,
    /// Also return the untransformed scores.
    pub raw: bool,
    /// Add a last column, [`VALIDITY_COLUMN`], saying why a row's prediction cannot be
    /// trusted (NULL when nothing is wrong).
    pub validity: bool,
}

pub use ferry_ir::VALIDITY_COLUMN;

/// Compiles `model` into one `SELECT` statement (with CTEs) for `dialect`. The result
/// has exactly the columns `ferry predict` writes with the same options.
pub fn compile(
    model: &Model,
    dialect: &dyn Dialect,
    options: &Options,
) -> Result<String, SqlError> {
    check(model, options)?;
    let model = derived::split_long_dots(model);
    Compiler::new(&model, dialect, options, None).query()
}

/// One `SELECT items FROM source`.
struct Select {
    items: Vec<(Expr, Alias)>,
    from: From,
    /// After the FROM clause (a barrier against subquery merging).
    suffix: &'static str,
}

#[derive(Clone)]
enum Alias {
    Internal(String),
    User(String),
}

enum From {
    Table,
    Cte(String),
}

struct Compiler<'a> {
    model: &'a Model,
    d: &'a dyn Dialect,
    options: &'a Options,
    ctes: Vec<(String, Select)>,
    /// SQL text that replaces the input table in the FROM clause (function bodies).
    source: Option<String>,
    /// The columns of each step that hold float32 values (their roundings need not
    /// be repeated by the steps that read them).
    float32_columns: HashMap<String, HashSet<String>>,
}

impl<'a> Compiler<'a> {
    /// `source`, when given, replaces the input table in the FROM clause.
    fn new(
        model: &'a Model,
        d: &'a dyn Dialect,
        options: &'a Options,
        source: Option<String>,
    ) -> Compiler<'a> {
        Compiler {
            model,
            d,
            options,
            ctes: Vec::new(),
            source,
            float32_columns: HashMap::new(),
        }
    }

    fn query(mut self) -> Result<String, SqlError> {
        // Arithmetic in the source's precision where the engine has float32; literals
        // are rounded to the source's precision either way.
        let literal = self.model.estimator.score_precision();
        let precision = match self.d.float32() {
            Some(_) => literal,
            None => Precision::F64,
        };
        let n_keep = self.options.keep.len();
        // Kept columns (and the validity reason) travel through every step.
        let mut keep = named("k", refs("k", n_keep));
        if self.options.validity {
            keep.push((internal("kv"), Alias::Internal("kv".into())));
        }

        // ferry_in: user names → internal names.
        let mut items = named("k", self.options.keep.iter().cloned().map(Expr::Column));
        let banded = tiny_band_features(self.model);
        for (j, input) in self.model.inputs.iter().enumerate() {
            let column = Expr::Column(input.name.clone());
            let value = match banded[j] {
                // LightGBM reads |x| <= 1e-35 as 0 before any split.
                Some(z) => Expr::Case(
                    vec![(
                        Expr::And(vec![
                            bin(column.clone(), Op::Ge, Expr::Float(-z)),
                            bin(column.clone(), Op::Le, Expr::Float(z)),
                        ]),
                        Expr::Float(0.0),
                    )],
                    Box::new(column),
                ),
                None => column,
            };
            items.push((value, Alias::Internal(format!("f{j}"))));
        }
        if self.options.validity {
            items.push((validity(self.model), Alias::Internal("kv".into())));
        }
        let mut from = self.push("ferry_in", items, From::Table);

        // Preprocessing: one step per dependency level of the derived columns, every
        // earlier column carried along.
        let mut carried: Vec<String> = (0..self.model.inputs.len())
            .map(|i| format!("f{i}"))
            .collect();
        if !self.model.derived.is_empty() {
            // Level codes of categorical inputs, computed once for every step to read.
            let mut items = keep.clone();
            items.extend(
                carried
                    .iter()
                    .map(|c| (internal(c.clone()), Alias::Internal(c.clone()))),
            );
            for (i, input) in self.model.inputs.iter().enumerate() {
                if let Some(levels) = &input.levels {
                    let name = format!("c{i}");
                    items.push((
                        derived::level_codes(internal(format!("f{i}")), levels, input.unseen),
                        Alias::Internal(name.clone()),
                    ));
                    carried.push(name);
                }
            }
            from = self.push("ferry_codes", items, from);
            let levels = derived::levels(self.model);
            let lowering = derived::Lowering {
                model: self.model,
                float32: self.d.float32().is_some(),
            };
            let n_levels = levels.iter().max().map_or(0, |m| m + 1);
            for level in 0..n_levels {
                let mut outputs = Vec::new();
                for (k, d) in self.model.derived.iter().enumerate() {
                    if levels[k] == level {
                        outputs.push((lowering.lower(&d.expr)?, format!("d{k}")));
                    }
                }
                from = self.emit(
                    &format!("ferry_p{}", level + 1),
                    &keep,
                    &mut carried,
                    outputs,
                    from,
                );
            }
        }
        // A label column (a PMML node score or vote) travels to the last step too.
        let label_column = match &self.model.task {
            Task::Classification {
                label_column: Some(c),
                ..
            } => {
                let column = internal(derived::column_name(self.model, *c));
                from = self.emit(
                    "ferry_label",
                    &keep,
                    &mut carried,
                    vec![(column, "kl".into())],
                    from,
                );
                carried.retain(|c| c != "kl");
                keep.push((internal("kl"), Alias::Internal("kl".into())));
                true
            }
            _ => false,
        };
        // The estimator's features: columns of the column space, with the input each
        // reads directly (for category names and missing-value handling).
        let features: Vec<Expr> = (0..self.model.n_features())
            .map(|j| {
                internal(derived::column_name(
                    self.model,
                    self.model.feature_column(j),
                ))
            })
            .collect();
        let feature_inputs: Vec<ferry_ir::Input> = (0..self.model.n_features())
            .map(|j| {
                let c = self.model.feature_column(j);
                self.model
                    .inputs
                    .get(c)
                    .cloned()
                    .unwrap_or_else(|| ferry_ir::Input {
                        name: self.model.column_name(c).to_string(),
                        dtype: ferry_ir::DType::Float64,
                        nullable: true,
                        levels: None,
                        unseen: ferry_ir::Unseen::Missing,
                        range: None,
                    })
            })
            .collect();
        let mut feature_columns: Vec<String> = (0..self.model.n_features())
            .map(|j| derived::column_name(self.model, self.model.feature_column(j)))
            .collect();
        feature_columns.sort();
        feature_columns.dedup();
        let feature_items: Vec<(Expr, Alias)> = feature_columns
            .into_iter()
            .map(|c| (internal(c.clone()), Alias::Internal(c)))
            .collect();

        // Raw scores.
        let scores: Vec<Expr> = match &self.model.estimator {
            Estimator::Trees(ensemble) => {
                let lowering = TreeLowering {
                    ensemble,
                    inputs: &feature_inputs,
                    features: &features,
                    max_case_nesting: self.d.max_case_nesting(),
                    hoisted: trees::hoisted(ensemble, self.d.hoisted_thresholds()),
                };
                let averaged = ensemble.aggregation == ferry_ir::Aggregation::Average;
                let mut scores: Vec<Expr> = (0..ensemble.n_outputs)
                    .map(|k| {
                        if averaged {
                            Expr::Float(0.0)
                        } else {
                            Expr::Float(in_precision(literal, ensemble.base_score[k]))
                        }
                    })
                    .collect();
                // Engines without float32 get it from float64 arithmetic, which needs the
                // running sum as a column at every tree: one step per tree.
                let emulated =
                    precision == Precision::F32 && self.d.float32() == Some(Float32::Emulated);
                let fold = self.d.fold().is_some() && !emulated && !ensemble.trees.is_empty();
                if fold {
                    let mut terms: Vec<Vec<Expr>> = vec![Vec::new(); ensemble.n_outputs];
                    for tree in &ensemble.trees {
                        terms[tree.output].push(lowering.tree(tree));
                    }
                    for (score, terms) in scores.iter_mut().zip(terms) {
                        let init = std::mem::replace(score, Expr::Int(0));
                        *score = Expr::Fold {
                            init: Box::new(init),
                            terms,
                            float32: precision == Precision::F32,
                        };
                    }
                }
                let step = if fold {
                    usize::MAX
                } else if emulated {
                    1
                } else {
                    self.d.trees_per_step().max(1)
                };
                let mut chunks: Vec<&[ferry_ir::Tree]> = ensemble.trees.chunks(step).collect();
                if chunks.is_empty() {
                    // No trees: one step still names the scores.
                    chunks.push(&[]);
                }
                let n_steps = chunks.len();
                let mut touched = vec![false; ensemble.n_outputs];
                for (c, chunk) in chunks.into_iter().enumerate() {
                    for tree in chunk.iter().filter(|_| !fold) {
                        let score = &mut scores[tree.output];
                        let acc = std::mem::replace(score, Expr::Int(0));
                        *score = if emulated {
                            // Columns hold the unrounded sum; round it when reading.
                            let acc = if touched[tree.output] {
                                Expr::Float32(Box::new(acc))
                            } else {
                                acc
                            };
                            Expr::Sum(vec![acc, lowering.tree(tree)])
                        } else {
                            add(precision, acc, lowering.tree(tree))
                        };
                        touched[tree.output] = true;
                    }
                    let mut items = keep.clone();
                    if c + 1 < n_steps {
                        items.extend(feature_items.iter().cloned());
                    }
                    let n = scores.len();
                    items.extend(named("s", std::mem::replace(&mut scores, refs("s", n))));
                    let barrier = self.d.subquery_barrier();
                    from = self.push_with(&format!("ferry_s{}", c + 1), items, from, barrier);
                }
                if emulated {
                    let mut items = keep.clone();
                    items.extend(named(
                        "s",
                        scores.iter().zip(&touched).map(|(s, touched)| {
                            if *touched {
                                Expr::Float32(Box::new(s.clone()))
                            } else {
                                s.clone()
                            }
                        }),
                    ));
                    from = self.push("ferry_sum", items, from);
                }
                if averaged {
                    let counts = (0..ensemble.n_outputs).map(|k| {
                        ensemble
                            .trees
                            .iter()
                            .filter(|t| t.output == k)
                            .count()
                            .max(1) as f64
                    });
                    scores
                        .into_iter()
                        .zip(counts)
                        .zip(&ensemble.base_score)
                        .map(|((s, n), base)| {
                            let mean = f32_if(precision, bin(s, Op::Div, Expr::Float(n)));
                            f32_if(
                                precision,
                                Expr::Sum(vec![mean, Expr::Float(in_precision(literal, *base))]),
                            )
                        })
                        .collect()
                } else {
                    scores
                }
            }
            Estimator::Linear(linear) => {
                let feature = |j: usize| {
                    let input = &feature_inputs[j];
                    match &input.levels {
                        Some(levels) => {
                            derived::level_codes(features[j].clone(), levels, input.unseen)
                        }
                        None => features[j].clone(),
                    }
                };
                let n = linear.intercepts.len();
                let identity = linear.is_identity();
                // Scores computed in the first step, and those that negate one of them,
                // read from it in a second (exact: rounding to nearest is symmetric, see
                // `Linear::negation_of`).
                let mut outputs = Vec::new();
                let mut negated = Vec::new();
                for (k, (row, intercept)) in linear
                    .coefficients
                    .iter()
                    .zip(&linear.intercepts)
                    .enumerate()
                {
                    let name = format!("s{k}");
                    // Columns computed already: each score is its column.
                    if identity {
                        outputs.push((f32_if(precision, feature(k)), name));
                        continue;
                    }
                    if let Some(j) = linear.negation_of(k) {
                        let minus = bin(Expr::Float(0.0), Op::Sub, internal(format!("s{j}")));
                        negated.push((f32_if(precision, minus), name));
                        continue;
                    }
                    let mut score = Expr::Float(in_precision(literal, *intercept));
                    for (j, c) in row.iter().enumerate() {
                        let term = f32_if(
                            precision,
                            bin(
                                Expr::Float(in_precision(literal, *c)),
                                Op::Mul,
                                f32_if(precision, feature(j)),
                            ),
                        );
                        score = add(precision, score, term);
                    }
                    outputs.push((score, name));
                }
                let mut carried = carried.clone();
                from = self.emit("ferry_s1", &keep, &mut carried, outputs, from);
                if !negated.is_empty() {
                    from = self.emit("ferry_s2", &keep, &mut carried, negated, from);
                }
                refs("s", n)
            }
        };
        // Raw scores as the contract reports them: for averaged ensembles the plain sum.
        let raw_columns = refs("s", scores.len());

        // Transform. Its steps carry the kept and raw-score columns along.
        let carried = || {
            let mut items = keep.clone();
            items.extend(named("s", raw_columns.clone()));
            items
        };
        let transformed: Vec<Expr> = match self.model.transform {
            Transform::Link { link, complement } => {
                let mut scores = scores;
                let mut ratios = Vec::new();
                if link == ferry_ir::Link::Probit {
                    // Φ in two steps of columns (the score, then the four rational
                    // functions of it), so that no expression nests deeply (SQLite's
                    // parser stack) or repeats a long one.
                    let n = raw_columns.len();
                    let barrier = self.d.subquery_barrier();
                    let mut items = carried();
                    items.extend(named("n", scores));
                    from = self.push_with("ferry_n", items, from, barrier);
                    scores = refs("n", n);
                    let mut items = carried();
                    items.extend(named("n", scores.clone()));
                    for (k, a) in scores.iter().enumerate() {
                        let r = normal::ratios(a);
                        let names: Vec<String> =
                            (0..r.len()).map(|i| format!("n{k}r{i}")).collect();
                        items.extend(
                            r.into_iter()
                                .zip(&names)
                                .map(|(e, name)| (e, Alias::Internal(name.clone()))),
                        );
                        ratios.push(names.into_iter().map(internal).collect::<Vec<_>>());
                    }
                    from = self.push_with("ferry_nr", items, from, barrier);
                }
                let exp = |x: Expr| Expr::Exp(Box::new(x), false);
                let neg = |x: Expr| bin(Expr::Float(0.0), Op::Sub, x);
                let one_minus = |x: Expr| bin(Expr::Float(1.0), Op::Sub, x);
                let mut out = Vec::new();
                for (k, a) in scores.into_iter().enumerate() {
                    let p = match link {
                        ferry_ir::Link::Cloglog => one_minus(exp(neg(exp(a)))),
                        ferry_ir::Link::Loglog => exp(neg(exp(neg(a)))),
                        ferry_ir::Link::Cauchit => Expr::Sum(vec![
                            Expr::Float(0.5),
                            bin(
                                Expr::Math(dialect::Math::Atan, vec![a]),
                                Op::Div,
                                Expr::Float(std::f64::consts::PI),
                            ),
                        ]),
                        ferry_ir::Link::Power { exponent } => {
                            derived::power(a, Expr::Float(exponent))
                        }
                        // LightGBM's `Sign(x) * x * x`, of which `Sign(x) * x` is |x|.
                        ferry_ir::Link::SignedSquare => {
                            bin(Expr::Math(dialect::Math::Abs, vec![a.clone()]), Op::Mul, a)
                        }
                        ferry_ir::Link::Softplus => Expr::Math(
                            dialect::Math::Ln,
                            vec![Expr::Sum(vec![Expr::Float(1.0), exp(a)])],
                        ),
                        ferry_ir::Link::Step => Expr::Case(
                            vec![(bin(a, Op::Gt, Expr::Float(0.0)), Expr::Float(1.0))],
                            Box::new(Expr::Float(0.0)),
                        ),
                        // Every step rounded to float32, as JPMML computes it.
                        ferry_ir::Link::Float32Logit => {
                            let f32r = |e| f32_if(Precision::F32, e);
                            let e = f32r(Expr::Math(
                                dialect::Math::Power,
                                vec![Expr::Float(2.718_281_7), neg(a)],
                            ));
                            f32r(bin(
                                Expr::Float(1.0),
                                Op::Div,
                                f32r(Expr::Sum(vec![Expr::Float(1.0), e])),
                            ))
                        }
                        ferry_ir::Link::Probit => normal::cdf(&a, &ratios[k]),
                    };
                    out.push(if complement { one_minus(p) } else { p });
                }
                out
            }
            Transform::Identity => scores,
            Transform::Exp => scores
                .into_iter()
                .map(|a| {
                    f32_if(
                        precision,
                        Expr::Exp(Box::new(a), precision == Precision::F32),
                    )
                })
                .collect(),
            Transform::Logistic { scale } => scores
                .into_iter()
                .map(|a| logistic(precision, scale, a))
                .collect(),
            // The j-th smallest score: the one whose rank is j, a score's rank being the
            // number of scores before it in ascending order (an equal one earlier in the
            // row counts as before it). Only comparisons: the values are the scores.
            Transform::Sort => {
                let n = scores.len();
                let barrier = self.d.subquery_barrier();
                let mut items = carried();
                items.extend(named("q", scores));
                from = self.push_with("ferry_q", items, from, barrier);
                let q = refs("q", n);
                let mut items = carried();
                items.extend(named("q", q.clone()));
                for i in 0..n {
                    let before: Vec<Expr> = (0..n)
                        .filter(|l| *l != i)
                        .map(|l| {
                            let op = if l < i { Op::Le } else { Op::Lt };
                            let cond = bin(q[l].clone(), op, q[i].clone());
                            Expr::Case(vec![(cond, Expr::Int(1))], Box::new(Expr::Int(0)))
                        })
                        .collect();
                    let rank = if before.is_empty() {
                        Expr::Int(0)
                    } else {
                        Expr::Sum(before)
                    };
                    items.push((rank, Alias::Internal(format!("o{i}"))));
                }
                from = self.push_with("ferry_rank", items, from, barrier);
                let o = refs("o", n);
                (0..n)
                    .map(|j| {
                        let whens = (0..n - 1)
                            .map(|i| (bin(o[i].clone(), Op::Eq, Expr::Int(j as i64)), q[i].clone()))
                            .collect();
                        Expr::Case(whens, Box::new(q[n - 1].clone()))
                    })
                    .collect()
            }
            Transform::Softmax => {
                // exp(a_k - max) per class in a step of its own, so each is written once.
                let max = Expr::Greatest(scores.clone());
                let mut items = carried();
                for (k, a) in scores.iter().enumerate() {
                    let shifted = f32_if(precision, bin(a.clone(), Op::Sub, max.clone()));
                    items.push((
                        f32_if(
                            precision,
                            Expr::Exp(Box::new(shifted), precision == Precision::F32),
                        ),
                        Alias::Internal(format!("e{k}")),
                    ));
                }
                let barrier = self.d.subquery_barrier();
                from = self.push_with("ferry_exp", items, from, barrier);
                let exps = refs("e", scores.len());
                // The sum is float64 in both precisions, as XGBoost and LightGBM do.
                let sum = f32_if(
                    precision,
                    Expr::Sum(exps.iter().map(|e| self.float64(e.clone())).collect()),
                );
                exps.into_iter()
                    .map(|e| f32_if(precision, bin(e, Op::Div, sum.clone())))
                    .collect()
            }
        };
        let mut items = keep.clone();
        items.extend(named("r", raw_columns.clone()));
        items.extend(named("t", transformed));
        // Later steps read each column several times (GREATEST, the softmax sum, the
        // label): a barrier keeps engines from copying the expressions behind them.
        let barrier = self.d.subquery_barrier();
        from = self.push_with("ferry_t", items, from, barrier);

        // The contract's columns.
        let n_outputs = self.model.estimator.n_outputs();
        let t = refs("t", n_outputs);
        let values: Vec<Expr> = match &self.model.task {
            Task::Classification { classes, .. } if n_outputs == 1 && classes.len() == 2 => {
                let one = Expr::Float(1.0);
                vec![
                    f32_if(precision, bin(one, Op::Sub, t[0].clone())),
                    t[0].clone(),
                ]
            }
            _ => t,
        };
        let mut items: Vec<(Expr, Alias)> = self
            .options
            .keep
            .iter()
            .enumerate()
            .map(|(i, k)| (internal(format!("k{i}")), Alias::User(k.clone())))
            .collect();
        for column in output_columns(self.model, self.options.raw) {
            let value = match column.kind {
                OutputKind::Prediction(i) => values[i].clone(),
                OutputKind::Probability(i) => values[i].clone(),
                OutputKind::Raw(i) => internal(format!("r{i}")),
                OutputKind::Label => {
                    let Task::Classification { classes, .. } = &self.model.task else {
                        unreachable!("a label column only exists for classification")
                    };
                    let order = self.model.task.label_order().expect("a classifier");
                    let integers: Option<Vec<i64>> =
                        classes.iter().map(|c| c.parse().ok()).collect();
                    let literals: Vec<Expr> = match integers {
                        Some(ints) => ints.into_iter().map(Expr::Int).collect(),
                        None => classes.iter().cloned().map(Expr::Str).collect(),
                    };
                    if literals.len() == 1 {
                        literals[0].clone()
                    } else {
                        // No label where a probability is missing (a PMML null
                        // prediction), as `ferry predict`.
                        Expr::Case(
                            vec![(
                                Expr::Or(
                                    values
                                        .iter()
                                        .map(|v| Expr::IsNull(Box::new(v.clone())))
                                        .collect(),
                                ),
                                Expr::Null,
                            )],
                            Box::new(if label_column {
                                // The class whose index the label column holds.
                                Expr::Case(
                                    literals
                                        .iter()
                                        .enumerate()
                                        .map(|(k, l)| {
                                            (
                                                bin(internal("kl"), Op::Eq, Expr::Int(k as i64)),
                                                l.clone(),
                                            )
                                        })
                                        .collect(),
                                    Box::new(Expr::Null),
                                )
                            } else {
                                // Ties go to the first class in the label order.
                                pick_first(
                                    &order.iter().map(|&k| values[k].clone()).collect::<Vec<_>>(),
                                    &order
                                        .iter()
                                        .map(|&k| literals[k].clone())
                                        .collect::<Vec<_>>(),
                                    Op::Ge,
                                )
                            }),
                        )
                    }
                }
            };
            // Engines hand float32 columns to clients in short decimal forms (MariaDB:
            // 6 digits); results are returned as float64, as `ferry predict` writes them.
            let value = match column.kind {
                OutputKind::Label => value,
                _ if precision == Precision::F32 => self.float64(value),
                _ => value,
            };
            items.push((value, Alias::User(column.name)));
        }
        if self.options.validity {
            items.push((internal("kv"), Alias::User(VALIDITY_COLUMN.into())));
        }
        let items = self.without_double_roundings(&from, items);
        let last = Select {
            items,
            from,
            suffix: "",
        };
        drop_unread_columns(&mut self.ctes, &last);
        let (ctes, last) = merge::merge_steps(std::mem::take(&mut self.ctes), last, self.d);
        self.ctes = ctes;
        Ok(self.render(last))
    }

    /// Adds a CTE and returns it as the next step's source.
    /// A step computing `outputs` (expression, column name) next to the kept and the
    /// `carried` columns, which then carry the outputs too. With emulated float32 the
    /// roundings are staged first (see [`stage`]), in steps `<name>_t1`, `<name>_t2`….
    fn emit(
        &mut self,
        name: &str,
        keep: &[(Expr, Alias)],
        carried: &mut Vec<String>,
        outputs: Vec<(Expr, String)>,
        mut from: From,
    ) -> From {
        // A derived column can hold a whole tree (an ONNX ensemble member).
        let max = self.d.max_case_nesting();
        let outputs: Vec<(Expr, String)> = outputs
            .into_iter()
            .map(|(e, n)| (e.within_case_nesting(max), n))
            .collect();
        let carry = |carried: &[String]| {
            let mut items = keep.to_vec();
            items.extend(
                carried
                    .iter()
                    .map(|c| (internal(c.clone()), Alias::Internal(c.clone()))),
            );
            items
        };
        let outputs = if self.d.float32() == Some(Float32::Emulated) {
            let mut stager =
                stage::Stager::new(&format!("{}_t", name.trim_start_matches("ferry_")));
            // Before staging, which would give each redundant rounding a column (other
            // steps lose theirs in `push_with`).
            let outputs: Vec<(Expr, String)> = self
                .without_double_roundings(&from, outputs)
                .into_iter()
                .map(|(e, n)| (stager.stage(e).0, n))
                .collect();
            for (s, step) in std::mem::take(&mut stager.steps).into_iter().enumerate() {
                let mut items = carry(carried);
                for (e, n) in step {
                    items.push((e, Alias::Internal(n.clone())));
                    carried.push(n);
                }
                // The barrier keeps the engine from inlining the step into its reader,
                // which would repeat the expressions again.
                let barrier = self.d.subquery_barrier();
                from = self.push_with(&format!("{name}_t{}", s + 1), items, from, barrier);
            }
            outputs
        } else {
            outputs
        };
        let mut items = carry(carried);
        for (e, n) in outputs {
            items.push((e, Alias::Internal(n.clone())));
            carried.push(n);
        }
        let barrier = self.d.subquery_barrier();
        self.push_with(name, items, from, barrier)
    }

    fn push(&mut self, name: &str, items: Vec<(Expr, Alias)>, from: From) -> From {
        self.push_with(name, items, from, "")
    }

    /// Adds a CTE ending in `suffix`.
    fn push_with(
        &mut self,
        name: &str,
        items: Vec<(Expr, Alias)>,
        from: From,
        suffix: &'static str,
    ) -> From {
        // The step's float32 columns, found with what its source step holds.
        let (items, float32) = {
            let known = self.float32_in(&from);
            let items: Vec<(Expr, Alias)> = items
                .into_iter()
                .map(|(e, a)| (e.without_double_roundings(&known), a))
                .collect();
            let float32: HashSet<String> = items
                .iter()
                .filter(|(e, _)| e.is_float32(&known))
                .filter_map(|(_, alias)| match alias {
                    Alias::Internal(name) => Some(name.clone()),
                    Alias::User(_) => None,
                })
                .collect();
            (items, float32)
        };
        self.float32_columns.insert(name.to_string(), float32);
        self.ctes.push((
            name.to_string(),
            Select {
                items,
                from,
                suffix,
            },
        ));
        From::Cte(name.to_string())
    }

    /// Whether a column of step `from` holds float32 values.
    fn float32_in<'s>(&'s self, from: &From) -> Float32Types<impl Fn(&str) -> bool + 's> {
        let columns = match from {
            From::Cte(name) => self.float32_columns.get(name),
            From::Table => None,
        };
        Float32Types {
            column: move |c: &str| columns.is_some_and(|s| s.contains(c)),
            closed: self.d.float32_closed(),
            closed_division: self.d.float32_division_closed(),
        }
    }

    /// Drops the roundings of float32 values in expressions that read step `from`.
    fn without_double_roundings<A>(&self, from: &From, items: Vec<(Expr, A)>) -> Vec<(Expr, A)> {
        let known = self.float32_in(from);
        items
            .into_iter()
            .map(|(e, a)| (e.without_double_roundings(&known), a))
            .collect()
    }

    fn float64(&self, e: Expr) -> Expr {
        match self.d.float32() {
            Some(Float32::Cast(_) | Float32::Function(_)) => Expr::Float64(Box::new(e)),
            Some(Float32::Emulated) | None => e,
        }
    }

    fn render(&self, last: Select) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "-- ferry {}: {} {} model ({}), {} dialect",
            env!("CARGO_PKG_VERSION"),
            one_line(&self.model.source.library),
            one_line(self.model.source.objective.as_deref().unwrap_or("")),
            self.model.estimator.summary(),
            self.d.name()
        );
        for (i, (name, select)) in self.ctes.iter().enumerate() {
            out.push_str(if i == 0 { "WITH " } else { ",\n" });
            out.push_str(name);
            out.push_str(" AS (\n");
            self.render_select(select, &mut out);
            out.push_str("\n)");
        }
        out.push('\n');
        self.render_select(&last, &mut out);
        out.push_str(self.d.statement_suffix());
        out
    }

    fn render_select(&self, select: &Select, out: &mut String) {
        out.push_str("SELECT");
        for (i, (expr, alias)) in select.items.iter().enumerate() {
            out.push_str(if i == 0 { "\n  " } else { ",\n  " });
            expr.render(self.d, out);
            out.push_str(" AS ");
            match alias {
                Alias::Internal(name) => out.push_str(name),
                Alias::User(name) => self.d.quote_ident(name, out),
            }
        }
        out.push_str("\nFROM ");
        match &select.from {
            From::Table => match &self.source {
                Some(source) => out.push_str(source),
                None => quote_path(self.d, &self.options.table, out),
            },
            From::Cte(name) => out.push_str(name),
        }
        out.push_str(select.suffix);
    }
}

/// `(value, kN)` items naming `values` `<prefix>0`, `<prefix>1`, … in a step.
fn named(prefix: &str, values: impl IntoIterator<Item = Expr>) -> Vec<(Expr, Alias)> {
    values
        .into_iter()
        .enumerate()
        .map(|(k, v)| (v, Alias::Internal(format!("{prefix}{k}"))))
        .collect()
}

/// References to the columns `<prefix>0` … `<prefix>{n-1}` of the previous step.
fn refs(prefix: &str, n: usize) -> Vec<Expr> {
    (0..n).map(|k| internal(format!("{prefix}{k}"))).collect()
}

/// Comments must stay on their line whatever a model file says.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn in_precision(precision: Precision, x: f64) -> f64 {
    match precision {
        Precision::F32 => f64::from(x as f32),
        Precision::F64 => x,
    }
}

fn f32_if(precision: Precision, e: Expr) -> Expr {
    match precision {
        Precision::F32 => Expr::Float32(Box::new(e)),
        Precision::F64 => e,
    }
}

/// `acc + term` in the score precision. float64 sums stay one flat `a + b + c` (left to
/// right, shallow for the parser); float32 sums round after every addition, which is
/// exact: float64 has more than twice float32's precision, so rounding the exact
/// float64 sum once gives float32 addition's result.
fn add(precision: Precision, acc: Expr, term: Expr) -> Expr {
    match (precision, acc) {
        (Precision::F64, Expr::Sum(mut terms)) => {
            terms.push(term);
            Expr::Sum(terms)
        }
        (Precision::F64, acc) => Expr::Sum(vec![acc, term]),
        (Precision::F32, acc) => Expr::Float32(Box::new(Expr::Sum(vec![acc, term]))),
    }
}

/// `1 / (1 + exp(-scale * a))`; in float32 XGBoost clamps the exponent at 88.7.
fn logistic(precision: Precision, scale: f64, a: Expr) -> Expr {
    let z = if scale == 1.0 {
        a
    } else {
        f32_if(
            precision,
            bin(Expr::Float(in_precision(precision, scale)), Op::Mul, a),
        )
    };
    let neg = match precision {
        Precision::F64 => bin(Expr::Float(0.0), Op::Sub, z),
        Precision::F32 => {
            let clamp = f64::from(88.7f32);
            Expr::Case(
                vec![(
                    bin(z.clone(), Op::Lt, Expr::Float(-clamp)),
                    Expr::Float(clamp),
                )],
                Box::new(bin(Expr::Float(0.0), Op::Sub, z)),
            )
        }
    };
    let e = f32_if(
        precision,
        Expr::Exp(Box::new(neg), precision == Precision::F32),
    );
    let denominator = f32_if(precision, Expr::Sum(vec![Expr::Float(1.0), e]));
    f32_if(precision, bin(Expr::Float(1.0), Op::Div, denominator))
}

/// Per input, the band `|x| <= z` read as 0 where that can change a split: only a
/// numeric threshold inside the band can tell a tiny value from 0 (zero-as-missing
/// splits test the band themselves, and category codes truncate tiny values to 0).
fn tiny_band_features(model: &Model) -> Vec<Option<f64>> {
    let mut banded = vec![None; model.inputs.len()];
    if model.features.is_some() {
        // Splits index features, not inputs; no importer bands such models.
        return banded;
    }
    if let Estimator::Trees(ensemble) = &model.estimator {
        if let Some(z) = ensemble.tiny_as_zero {
            for node in ensemble.trees.iter().flat_map(|t| &t.nodes) {
                if let ferry_ir::Node::Split(ferry_ir::Split {
                    feature,
                    test: ferry_ir::Test::Numeric { threshold, .. },
                    ..
                }) = node
                {
                    if threshold.abs() <= z {
                        banded[*feature] = Some(z);
                    }
                }
                // A linear leaf multiplies the value itself.
                if let ferry_ir::Node::LinearLeaf(leaf) = node {
                    for f in &leaf.features {
                        banded[*f] = Some(z);
                    }
                }
            }
        }
    }
    banded
}

/// The first reason, in input order, that a row is outside what the model was trained
/// on: a NULL where training had no missing value, an unseen category name, a value
/// outside the recorded training range. NULL when there is none.
fn validity(model: &Model) -> Expr {
    let mut whens = Vec::new();
    for input in &model.inputs {
        let x = Expr::Column(input.name.clone());
        if !input.nullable {
            whens.push((
                Expr::IsNull(Box::new(x.clone())),
                Expr::Str(format!(
                    "{}: missing (never missing in training)",
                    input.name
                )),
            ));
        }
        if let Some(levels) = input.levels.as_ref().filter(|l| !l.is_empty()) {
            let known = levels.iter().cloned().map(Expr::Str).collect();
            whens.push((
                Expr::Not(Box::new(Expr::In(Box::new(x.clone()), known))),
                Expr::Str(format!("{}: unseen category", input.name)),
            ));
        }
        if let Some([low, high]) = input.range {
            whens.push((
                Expr::Or(vec![
                    bin(x.clone(), Op::Lt, Expr::Float(low)),
                    bin(x, Op::Gt, Expr::Float(high)),
                ]),
                Expr::Str(format!(
                    "{}: outside the training range [{low}, {high}]",
                    input.name
                )),
            ));
        }
    }
    if whens.is_empty() {
        return Expr::Case(
            vec![(
                bin(Expr::Int(1), Op::Lt, Expr::Int(0)),
                Expr::Str(String::new()),
            )],
            Box::new(Expr::Null),
        );
    }
    Expr::Case(whens, Box::new(Expr::Null))
}

/// The model must be valid, names that reach the SQL quotable, and `--keep` must
/// neither repeat nor clash with an output column.
pub(crate) fn check(model: &Model, options: &Options) -> Result<(), SqlError> {
    model
        .validate()
        .map_err(|e| SqlError::Model(e.to_string()))?;
    let nul = |what: &'static str, value: &str| {
        if value.contains('\0') {
            Err(SqlError::Nul {
                what,
                value: value.replace('\0', "\\0"),
            })
        } else {
            Ok(())
        }
    };
    if options.table.is_empty() || options.table.split('.').any(str::is_empty) {
        return Err(SqlError::Empty {
            what: "a part of the table name",
        });
    }
    nul("the table name", &options.table)?;
    let outputs = output_columns(model, options.raw);
    for (i, k) in options.keep.iter().enumerate() {
        nul("a --keep column", k)?;
        if outputs.iter().any(|c| &c.name == k) || (options.validity && k == VALIDITY_COLUMN) {
            return Err(SqlError::KeepClash(k.clone()));
        }
        if options.keep[..i].contains(k) {
            return Err(SqlError::DuplicateKeep(k.clone()));
        }
    }
    for input in &model.inputs {
        nul("an input name", &input.name)?;
        for level in input.levels.iter().flatten() {
            nul("a category name", level)?;
        }
    }
    if let Task::Classification { classes, .. } = &model.task {
        for class in classes {
            nul("a class name", class)?;
        }
    }
    Ok(())
}

/// Removes from every step the columns no later step reads. Steps carry every
/// earlier column along (any later step may need one); most are read by none, and
/// the engine would still plan each of them (DuckDB, StandardScaler +
/// LogisticRegression on 1,000,000 rows: 10% faster without, and 2.6x shorter SQL).
fn drop_unread_columns(ctes: &mut [(String, Select)], last: &Select) {
    fn note(read: &mut HashMap<String, HashSet<String>>, from: &From, items: &[(Expr, Alias)]) {
        if let From::Cte(source) = from {
            let columns = read.entry(source.clone()).or_default();
            for (e, _) in items {
                e.for_each_internal(&mut |c| {
                    columns.insert(c.to_string());
                });
            }
        }
    }
    let mut read: HashMap<String, HashSet<String>> = HashMap::new();
    note(&mut read, &last.from, &last.items);
    for (name, select) in ctes.iter_mut().rev() {
        let wanted = read.remove(name.as_str()).unwrap_or_default();
        let read_later = |(_, alias): &(Expr, Alias)| match alias {
            Alias::Internal(column) => wanted.contains(column),
            Alias::User(_) => true,
        };
        // A SELECT needs a column; a step nothing reads keeps its first.
        if select.items.iter().any(read_later) {
            select.items.retain(read_later);
        } else {
            select.items.truncate(1);
        }
        note(&mut read, &select.from, &select.items);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{bin, internal, Op};

    fn item(e: Expr, alias: &str) -> (Expr, Alias) {
        (e, Alias::Internal(alias.into()))
    }

    fn aliases(select: &Select) -> Vec<String> {
        select
            .items
            .iter()
            .map(|(_, a)| match a {
                Alias::Internal(n) | Alias::User(n) => n.clone(),
            })
            .collect()
    }

    #[test]
    fn columns_no_later_step_reads_are_dropped() {
        let table = |items| Select {
            items,
            from: From::Table,
            suffix: "",
        };
        let step = |items, source: &str| Select {
            items,
            from: From::Cte(source.into()),
            suffix: "",
        };
        let mut ctes = vec![
            (
                "a".to_string(),
                table(vec![
                    item(Expr::Column("x".into()), "f0"),
                    item(Expr::Column("y".into()), "f1"),
                    item(Expr::Column("z".into()), "f2"),
                ]),
            ),
            (
                "b".to_string(),
                step(
                    vec![
                        item(internal("f0"), "f0"),
                        item(internal("f2"), "f2"),
                        item(bin(internal("f1"), Op::Mul, Expr::Float(2.0)), "d0"),
                    ],
                    "a",
                ),
            ),
            // Read by nothing: keeps one column to stay a SELECT.
            ("c".to_string(), step(vec![item(internal("d0"), "e0")], "b")),
        ];
        let last = step(
            vec![
                (internal("d0"), Alias::User("prediction".into())),
                (internal("f2"), Alias::User("kept".into())),
            ],
            "b",
        );
        drop_unread_columns(&mut ctes, &last);
        assert_eq!(aliases(&ctes[0].1), ["f1", "f2"]);
        assert_eq!(aliases(&ctes[1].1), ["f2", "d0"]);
        assert_eq!(aliases(&ctes[2].1), ["e0"]);
    }
}
