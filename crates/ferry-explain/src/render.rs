//! Text and Markdown renderings of an [`Explanation`], and formulas of expressions.

use std::fmt::Write;

use ferry_ir::{BinaryFn, CompareOp, Direction, Expr, Missing, Model, Node, Test, Tree, UnaryFn};

use crate::{Body, Condition, Explanation, Rule};

/// Shortest text that reads back as the same float64.
fn num(x: f64) -> String {
    format!("{x}")
}

/// Looks through float32 casts, which change nothing a reader needs.
fn bare(e: &Expr) -> &Expr {
    match e {
        Expr::Unary {
            f: UnaryFn::Cast,
            x,
            ..
        } => bare(x),
        other => other,
    }
}

/// The step in words, for the shapes preprocessing usually has (imputers, scalers,
/// one-hot and label encoders, casts, dense units); `None` for anything else, which is
/// then read from its formula.
pub(crate) fn words(model: &Model, expr: &Expr) -> Option<String> {
    let name = |e: &Expr| match e {
        Expr::Column { index } => Some(crate::column_name(model, *index)),
        _ => None,
    };
    let constant = |e: &Expr| match e {
        Expr::Const { value } => Some(*value),
        _ => None,
    };
    match bare(expr) {
        // Imputation: `if missing(x) then v else x`.
        Expr::If {
            cond,
            then,
            otherwise,
        } => {
            let Expr::IsMissing { x } = bare(cond) else {
                return Some(format!("1 when {}, else 0", indicator(model, expr)?));
            };
            let Expr::Column { index } = bare(x) else {
                // `if (a or b) then 1 else 0`: an indicator.
                return Some(format!("1 when {}, else 0", indicator(model, expr)?));
            };
            let column = name(bare(x))?;
            (name(bare(otherwise)).as_deref() == Some(column.as_str())).then_some(())?;
            Some(format!(
                "{column}, with a missing value replaced by {}",
                shown(model, *index, constant(bare(then))?)
            ))
        }
        // Scaling: `(x - m) * s`, `(x - m) / s`, `x * s + b`.
        Expr::Binary {
            f: f @ (BinaryFn::Mul | BinaryFn::Div),
            a,
            b,
            ..
        } => {
            let scale = constant(bare(b))?;
            let (column, centre) = match bare(a) {
                Expr::Binary {
                    f: BinaryFn::Sub,
                    a,
                    b,
                    ..
                } => (name(bare(a))?, constant(bare(b))?),
                other => (name(other)?, 0.0),
            };
            let divisor = if *f == BinaryFn::Mul {
                1.0 / scale
            } else {
                scale
            };
            Some(if centre == 0.0 {
                format!("{column} divided by {}", approx(divisor))
            } else {
                format!(
                    "{column} centred on {} and divided by {}",
                    approx(centre),
                    approx(divisor)
                )
            })
        }
        // One-hot columns, missing-value indicators and their combinations.
        Expr::Compare { .. } | Expr::IsMissing { .. } => {
            Some(format!("1 when {}, else 0", indicator(model, expr)?))
        }
        Expr::Lookup { x, table, .. } => Some(format!(
            "{} mapped through a table of {} values",
            name(bare(x))?,
            table.len()
        )),
        Expr::Dot { columns, .. } => Some(format!(
            "a weighted sum of {} columns plus a bias",
            columns.len()
        )),
        Expr::Unary { f, x, .. } => match (f, bare(x)) {
            (UnaryFn::Relu | UnaryFn::Tanh | UnaryFn::Logistic, Expr::Dot { columns, .. }) => {
                Some(format!(
                    "{} of a weighted sum of {} columns (a dense layer's unit)",
                    format!("{f:?}").to_lowercase(),
                    columns.len()
                ))
            }
            _ => None,
        },
        Expr::Column { .. } if !matches!(expr, Expr::Column { .. }) => {
            Some(format!("{} rounded to float32", name(bare(expr))?))
        }
        _ => None,
    }
}

/// The quoted name of category code `value` of column `index`, where it has levels.
fn level_name(model: &Model, index: usize, value: f64) -> Option<String> {
    let levels = model.inputs.get(index)?.levels.as_ref()?;
    let name = levels.get(usize::try_from(value as i64).ok()?)?;
    Some(format!("{name:?}"))
}

/// A value of column `index` for words: the category's name where the column has
/// levels, else the number.
fn shown(model: &Model, index: usize, value: f64) -> String {
    level_name(model, index, value).unwrap_or_else(|| approx(value))
}

/// The condition of a 0/1 indicator in words, e.g. `sex is missing, "" or "missing"`:
/// equality with a constant, a missing test, and the shapes exporters use to OR them
/// (`a + b > 0`, `if c then 1 else 0`, `c != 0`). `None` for anything else.
fn indicator(model: &Model, expr: &Expr) -> Option<String> {
    // Each disjunct as (column, Some(value) | None for "is missing").
    fn disjuncts(model: &Model, e: &Expr, out: &mut Vec<(String, Option<String>)>) -> Option<()> {
        match bare(e) {
            Expr::IsMissing { x } => {
                let Expr::Column { index } = bare(x) else {
                    return None;
                };
                out.push((crate::column_name(model, *index), None));
            }
            Expr::Compare {
                cmp: CompareOp::Eq,
                a,
                b,
            } => {
                let (Expr::Column { index }, Expr::Const { value }) = (bare(a), bare(b)) else {
                    return None;
                };
                out.push((
                    crate::column_name(model, *index),
                    Some(shown(model, *index, *value)),
                ));
            }
            // `indicator != 0` and `sum of indicators > 0` are the indicator itself.
            Expr::Compare {
                cmp: CompareOp::Ne | CompareOp::Gt,
                a,
                b,
            } if matches!(bare(b), Expr::Const { value } if *value == 0.0) => match bare(a) {
                Expr::Column { index } => {
                    out.push((crate::column_name(model, *index), Some("not 0".into())))
                }
                other => disjuncts(model, other, out)?,
            },
            Expr::Binary {
                f: BinaryFn::Add,
                a,
                b,
                ..
            } => {
                disjuncts(model, a, out)?;
                disjuncts(model, b, out)?;
            }
            Expr::If {
                cond,
                then,
                otherwise,
            } if matches!(bare(then), Expr::Const { value } if *value == 1.0)
                && matches!(bare(otherwise), Expr::Const { value } if *value == 0.0) =>
            {
                disjuncts(model, cond, out)?
            }
            _ => return None,
        }
        Some(())
    }
    let mut parts = Vec::new();
    disjuncts(model, expr, &mut parts)?;
    // One clause per column, in order of first appearance: `x is missing, 1 or 2`.
    let mut columns: Vec<(String, Vec<String>)> = Vec::new();
    for (column, value) in parts {
        let value = value.unwrap_or_else(|| "missing".into());
        match columns.iter_mut().find(|(c, _)| *c == column) {
            Some((_, values)) => values.push(value),
            None => columns.push((column, vec![value])),
        }
    }
    let clauses: Vec<String> = columns
        .into_iter()
        .map(|(column, mut values)| {
            // "missing" first reads best.
            values.sort_by_key(|v| v != "missing");
            format!("{column} is {}", or_list(&values))
        })
        .collect();
    Some(or_list(&clauses))
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// A number for words: 6 significant digits, no trailing zeros (the formula beside it
/// has the exact value).
fn approx(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return num(v);
    }
    let text = six_digits(v, 15);
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

pub(crate) fn formula(model: &Model, expr: &Expr) -> String {
    match expr {
        Expr::Column { index } => crate::column_name(model, *index),
        Expr::Const { value } => num(*value),
        Expr::Unary { f, x, .. } => {
            let x = formula(model, x);
            match f {
                UnaryFn::Cast => x,
                UnaryFn::Neg => format!("-({x})"),
                other => format!("{}({x})", format!("{other:?}").to_lowercase()),
            }
        }
        Expr::Binary { f, a, b, .. } => {
            let (a, b) = (formula(model, a), formula(model, b));
            match f {
                BinaryFn::Add => format!("({a} + {b})"),
                BinaryFn::Sub => format!("({a} - {b})"),
                BinaryFn::Mul => format!("({a} * {b})"),
                BinaryFn::Div => format!("({a} / {b})"),
                other => format!("{}({a}, {b})", format!("{other:?}").to_lowercase()),
            }
        }
        Expr::Compare { cmp, a, b } => {
            let op = match cmp {
                CompareOp::Eq => "==",
                CompareOp::Ne => "!=",
                CompareOp::Lt => "<",
                CompareOp::Le => "<=",
                CompareOp::Gt => ">",
                CompareOp::Ge => ">=",
            };
            // A category code compared with a constant: name the category.
            let level = match (&**a, &**b) {
                (Expr::Column { index }, Expr::Const { value }) => {
                    level_name(model, *index, *value)
                }
                _ => None,
            };
            let b_text = level.unwrap_or_else(|| formula(model, b));
            format!("({} {op} {b_text} ? 1 : 0)", formula(model, a))
        }
        Expr::IsMissing { x } => format!("(is missing({}) ? 1 : 0)", formula(model, x)),
        Expr::If {
            cond,
            then,
            otherwise,
        } => format!(
            "(if {} then {} else {})",
            formula(model, cond),
            formula(model, then),
            formula(model, otherwise)
        ),
        Expr::Dot {
            columns,
            weights,
            bias,
            ..
        } => {
            let mut text = num(*bias);
            for (c, w) in columns.iter().zip(weights) {
                let _ = write!(text, " + {} * {}", num(*w), crate::column_name(model, *c));
            }
            format!("({text})")
        }
        Expr::Lookup { x, table, default } => format!(
            "(lookup {} in [{}], else {})",
            formula(model, x),
            table.iter().map(|v| num(*v)).collect::<Vec<_>>().join(", "),
            num(*default)
        ),
    }
}

fn leaf_text(rule: &Rule) -> String {
    if rule.probabilities.is_empty() {
        format!("predict {}", rule.prediction)
    } else {
        format!(
            "predict {} (probabilities {})",
            rule.prediction,
            rule.probabilities
                .iter()
                .map(|p| format!("{p:.3}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// The tree as nested if/else; leaves are labelled with their rule's prediction.
pub(crate) fn nested(model: &Model, tree: &Tree, rules: &[Rule]) -> String {
    let mut out = String::new();
    let mut leaf = 0;
    fn walk(
        model: &Model,
        tree: &Tree,
        at: usize,
        depth: usize,
        rules: &[Rule],
        leaf: &mut usize,
        out: &mut String,
    ) {
        let pad = "  ".repeat(depth);
        match tree.nodes.get(at) {
            Some(Node::Leaf { .. }) => {
                let text = rules.get(*leaf).map(leaf_text).unwrap_or_default();
                *leaf += 1;
                let _ = writeln!(out, "{pad}{text}");
            }
            Some(Node::Split(split)) if depth <= tree.nodes.len() => {
                let name = crate::feature_name(model, split.feature);
                let test = match &split.test {
                    Test::Numeric { cmp, threshold } => {
                        format!("{name} {} {}", cmp.symbol(), num(*threshold))
                    }
                    Test::Categorical { categories, listed } => {
                        let levels = model
                            .inputs
                            .get(model.feature_column(split.feature))
                            .and_then(|i| i.levels.as_ref());
                        let names: Vec<String> = categories
                            .iter()
                            .map(|c| {
                                levels
                                    .and_then(|l| l.get(*c as usize).cloned())
                                    .unwrap_or_else(|| c.to_string())
                            })
                            .collect();
                        let op = if *listed == Direction::Left {
                            "in"
                        } else {
                            "not in"
                        };
                        format!("{name} {op} {{{}}}", names.join(", "))
                    }
                };
                let missing = match split.missing {
                    Missing::To(Direction::Left) => " or missing",
                    Missing::ZeroTo(Direction::Left) => " or missing or 0",
                    Missing::AsZero => " (missing as 0)",
                    _ => "",
                };
                let _ = writeln!(out, "{pad}if {test}{missing}:");
                walk(
                    model,
                    tree,
                    split.left as usize,
                    depth + 1,
                    rules,
                    leaf,
                    out,
                );
                let _ = writeln!(out, "{pad}else:");
                walk(
                    model,
                    tree,
                    split.right as usize,
                    depth + 1,
                    rules,
                    leaf,
                    out,
                );
            }
            _ => {}
        }
    }
    walk(model, tree, 0, 0, rules, &mut leaf, &mut out);
    out
}

/// One condition in words: `3.5 <= x < 7`, `island in {Dream}`, `or missing`.
pub fn condition(c: &Condition) -> String {
    let mut parts = Vec::new();
    match (c.lower, c.upper) {
        (Some(l), Some(u)) => parts.push(format!(
            "{} {} {} {} {}",
            num(l.value),
            if l.inclusive { "<=" } else { "<" },
            c.feature,
            if u.inclusive { "<=" } else { "<" },
            num(u.value)
        )),
        (Some(l), None) => parts.push(format!(
            "{} {} {}",
            c.feature,
            if l.inclusive { ">=" } else { ">" },
            num(l.value)
        )),
        (None, Some(u)) => parts.push(format!(
            "{} {} {}",
            c.feature,
            if u.inclusive { "<=" } else { "<" },
            num(u.value)
        )),
        (None, None) => {}
    }
    if let Some(one_of) = &c.one_of {
        parts.push(format!("{} in {{{}}}", c.feature, one_of.join(", ")));
    }
    if !c.none_of.is_empty() {
        parts.push(format!("{} not in {{{}}}", c.feature, c.none_of.join(", ")));
    }
    let mut text = parts.join(" and ");
    if text.is_empty() {
        text = if c.or_missing {
            String::new()
        } else {
            format!("{} is present", c.feature)
        };
    } else if c.or_missing {
        text = format!("({text} or {} missing)", c.feature);
    }
    text
}

/// A rule's conditions joined with "and" (empty when the rule always holds).
fn when(rule: &Rule) -> String {
    rule.conditions
        .iter()
        .map(condition)
        .filter(|c| !c.is_empty())
        .collect::<Vec<_>>()
        .join(" and ")
}

fn cmp_note(precision: &str) -> String {
    format!("(feature values are compared as {precision}; thresholds are shown as float64)")
}

/// Plain text for a terminal.
pub fn text(e: &Explanation) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} model ({}), {}{}",
        e.library,
        e.format,
        e.task,
        e.objective
            .as_ref()
            .map(|o| format!(", objective {o}"))
            .unwrap_or_default()
    );
    if let Some(classes) = &e.classes {
        let _ = writeln!(out, "classes: {}", classes.join(", "));
    }
    if let Some(label) = &e.label {
        let _ = writeln!(out, "label: {label}");
    }
    if !e.preprocessing.is_empty() {
        let _ = writeln!(out, "\npreprocessing:");
        for step in &e.preprocessing {
            let _ = writeln!(out, "  {} = {}", step.name, step.formula);
            if let Some(words) = &step.words {
                let _ = writeln!(out, "      ({words})");
            }
        }
    }
    let _ = writeln!(out, "\nlink: {}", e.link);
    match &e.estimator {
        Body::Linear { equations, groups } => {
            for eq in equations {
                let mut line = format!("{} = {}", eq.output, num(eq.intercept));
                for t in &eq.terms {
                    let sign = if t.coefficient < 0.0 { "-" } else { "+" };
                    let _ = write!(
                        line,
                        "\n    {sign} {} * {}",
                        num(t.coefficient.abs()),
                        t.feature
                    );
                }
                let _ = writeln!(out, "\n{line}");
            }
            let _ = writeln!(
                out,
                "\ncoefficients by source column (largest |coefficient| first):"
            );
            for g in groups {
                let _ = writeln!(
                    out,
                    "  {:<24} max |coef| {:<12.6} {}",
                    g.source,
                    g.max_abs,
                    g.features.join(", ")
                );
            }
        }
        Body::Tree {
            precision,
            rules,
            nested,
        } => {
            let _ = writeln!(
                out,
                "\none decision tree, {} leaves {}\n\n{nested}",
                rules.len(),
                cmp_note(precision)
            );
            let _ = writeln!(out, "rules (one per leaf):");
            for (i, rule) in rules.iter().enumerate() {
                let when = match when(rule) {
                    w if w.is_empty() => "always".to_string(),
                    w => w,
                };
                let _ = writeln!(out, "  {:>3}. if {when}: {}", i + 1, leaf_text(rule));
            }
        }
        Body::Ensemble {
            trees,
            outputs,
            aggregation,
            max_depth,
            leaves,
            importance,
        } => {
            let _ = writeln!(
                out,
                "\n{trees} trees ({outputs} output{}), {aggregation}; depth up to {max_depth}, {leaves} leaves",
                if *outputs == 1 { "" } else { "s" }
            );
            let with_gain = importance.iter().any(|i| i.gain.is_some());
            if with_gain {
                let _ = writeln!(out, "\nfeature importance (total gain and cover of each feature's splits, as the model file records them; number of splits):");
            } else {
                let _ = writeln!(out, "\nfeature importance (number of splits; this model file records no gain or cover):");
            }
            for i in importance {
                let stats = match (i.gain, i.cover) {
                    (Some(g), Some(c)) => {
                        format!("  gain {:>12}  cover {:>12}", short(g), short(c))
                    }
                    _ => String::new(),
                };
                let _ = writeln!(
                    out,
                    "  {:<24} {:>6} splits  {:>5.1}%{stats}",
                    i.feature,
                    i.splits,
                    100.0 * i.share
                );
            }
        }
    }
    out
}

/// Markdown (for model cards and READMEs).
pub fn markdown(e: &Explanation) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "**{}** model (`{}`), {}{}",
        e.library,
        e.format,
        e.task,
        e.objective
            .as_ref()
            .map(|o| format!(", objective `{o}`"))
            .unwrap_or_default()
    );
    if let Some(classes) = &e.classes {
        let _ = writeln!(
            out,
            "\nClasses: {}",
            classes
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if let Some(label) = &e.label {
        let _ = writeln!(out, "\nLabel: {label}.");
    }
    if !e.preprocessing.is_empty() {
        let _ = writeln!(
            out,
            "\n### Preprocessing\n\n| column | in words | formula |\n|---|---|---|"
        );
        for step in &e.preprocessing {
            let _ = writeln!(
                out,
                "| `{}` | {} | `{}` |",
                step.name,
                step.words.as_deref().unwrap_or("").replace('|', "\\|"),
                step.formula.replace('|', "\\|")
            );
        }
    }
    let _ = writeln!(out, "\nLink: `{}`", e.link);
    match &e.estimator {
        Body::Linear { equations, groups } => {
            let _ = writeln!(
                out,
                "\n### Coefficients\n\n| source | feature | {} |\n|---|---|{}",
                equations
                    .iter()
                    .map(|q| q.output.clone())
                    .collect::<Vec<_>>()
                    .join(" | "),
                "---:|".repeat(equations.len())
            );
            let _ = writeln!(
                out,
                "| | (intercept) | {} |",
                equations
                    .iter()
                    .map(|q| num(q.intercept))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
            for g in groups {
                for f in &g.features {
                    let values: Vec<String> = equations
                        .iter()
                        .map(|q| {
                            q.terms
                                .iter()
                                .find(|t| &t.feature == f)
                                .map_or("0".into(), |t| num(t.coefficient))
                        })
                        .collect();
                    let _ = writeln!(out, "| {} | `{f}` | {} |", g.source, values.join(" | "));
                }
            }
        }
        Body::Tree {
            precision,
            rules,
            nested,
        } => {
            let _ = writeln!(
                out,
                "\n### Rules ({} leaves)\n\n{}\n\n| # | when | prediction |\n|---:|---|---|",
                rules.len(),
                cmp_note(precision)
            );
            for (i, rule) in rules.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} |",
                    i + 1,
                    when(rule).replace('|', "\\|"),
                    leaf_text(rule)
                );
            }
            let _ = writeln!(out, "\n```text\n{nested}```");
        }
        Body::Ensemble {
            trees,
            outputs,
            aggregation,
            max_depth,
            leaves,
            importance,
        } => {
            let with_gain = importance.iter().any(|i| i.gain.is_some());
            let _ = writeln!(out, "\n{trees} trees ({outputs} outputs), {aggregation}; depth up to {max_depth}, {leaves} leaves.\n");
            if with_gain {
                let _ = writeln!(out, "| feature | total gain | total cover | splits | share of splits |\n|---|---:|---:|---:|---:|");
            } else {
                let _ = writeln!(out, "| feature | splits | share |\n|---|---:|---:|");
            }
            for i in importance {
                match (i.gain, i.cover) {
                    (Some(g), Some(c)) => {
                        let _ = writeln!(
                            out,
                            "| `{}` | {} | {} | {} | {:.1}% |",
                            i.feature,
                            short(g),
                            short(c),
                            i.splits,
                            100.0 * i.share
                        );
                    }
                    _ => {
                        let _ = writeln!(
                            out,
                            "| `{}` | {} | {:.1}% |",
                            i.feature,
                            i.splits,
                            100.0 * i.share
                        );
                    }
                }
            }
        }
    }
    out
}

/// A statistic to 6 significant digits.
fn short(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e7 || v.abs() < 1e-3) {
        format!("{v:.5e}")
    } else {
        six_digits(v, 8)
    }
}

/// `v` with 6 significant digits (at most `max_decimals` after the point).
fn six_digits(v: f64, max_decimals: i32) -> String {
    let digits = (5 - v.abs().max(1e-300).log10().floor() as i32).clamp(0, max_decimals) as usize;
    format!("{v:.digits$}")
}
