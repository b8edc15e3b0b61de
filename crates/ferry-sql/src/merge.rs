//! Merging each step into the step that reads it, where that repeats no work.
//!
//! Lowering writes one step per operation of the model (a scaler's subtraction, its
//! division, the dot product, the intercept, the logistic…), each carrying what later
//! steps read. A column that its reader uses once costs the same computed in place:
//! `(x - m) / s` instead of `d0 / s` over a step computing `d0 = x - m`. Engines plan
//! and run every step as an operator of its own, so fewer steps are faster (DuckDB,
//! StandardScaler + LogisticRegression on 1,000,000 rows) and the SQL is shorter.
//!
//! A step is merged only when every column of it is a plain column, or
//! is read once in the text the reader renders to, and small: no expression is
//! computed twice, and expressions stay within the engines' depth and CASE-nesting
//! limits, which the steps of big ensembles exist to respect.

use std::collections::HashMap;

use crate::dialect::{Dialect, Float32};
use crate::expr::Expr;
use crate::{Alias, From, Select};

/// Largest expression (in nodes) moved into its reader.
const MAX_MOVED: usize = 256;
/// Deepest expression a merge may produce (SQLite and ClickHouse stop at 1000).
const MAX_DEPTH: usize = 100;

/// Merges steps into their readers, from the final SELECT back to the first step.
pub(crate) fn merge_steps(
    ctes: Vec<(String, Select)>,
    last: Select,
    d: &dyn Dialect,
) -> (Vec<(String, Select)>, Select) {
    let mut steps = ctes;
    steps.push((String::new(), last));
    let mut i = steps.len() - 1;
    while i > 0 {
        let source = &steps[i - 1].0;
        let reads_source = |s: &Select| matches!(&s.from, From::Cte(name) if name == source);
        // Only a step that its reader alone reads can give its columns away.
        if !reads_source(&steps[i].1) || steps[i + 1..].iter().any(|(_, s)| reads_source(s)) {
            i -= 1;
            continue;
        }
        let (before, after) = steps.split_at_mut(i);
        let (source, reader) = (&mut before[i - 1].1, &mut after[0].1);
        match merged_items(source, &reader.items, d) {
            Some(items) => {
                reader.items = items;
                reader.from = std::mem::replace(&mut source.from, From::Table);
                steps.remove(i - 1);
            }
            None => sink(source, reader, d),
        }
        i -= 1;
    }
    let (_, last) = steps.pop().expect("the final SELECT");
    (steps, last)
}

/// The reader's items computed from the source's source, if the source's columns
/// can move into them.
fn merged_items(
    source: &Select,
    items: &[(Expr, Alias)],
    d: &dyn Dialect,
) -> Option<Vec<(Expr, Alias)>> {
    let mut defined: HashMap<&str, &Expr> = HashMap::new();
    for (e, alias) in &source.items {
        match alias {
            Alias::Internal(name) => defined.insert(name.as_str(), e),
            Alias::User(_) => return None,
        };
    }
    for (name, uses) in &uses_in(items, d) {
        let e = defined.get(name.as_str())?;
        if !e.is_column() && (*uses > 1 || e.size() > MAX_MOVED) {
            return None;
        }
    }
    let mut merged = Vec::with_capacity(items.len());
    for (e, alias) in items {
        let new = substituted(e, &|name| defined.get(name).copied(), d)?;
        merged.push((new, alias.clone()));
    }
    Some(merged)
}

/// Moves the source's columns that the reader uses once into the reader, where the
/// source passes on what they read already: the source only gets smaller, and can
/// then often merge into its own source. (In a softmax or a normalisation the
/// reader's columns are read twice and stay; the terms around them need not.)
fn sink(source: &mut Select, reader: &mut Select, d: &dyn Dialect) {
    let uses = uses_in(&reader.items, d);
    let passed = |source: &Select, c: &str| {
        source.items.iter().any(
            |(e, a)| matches!((e, a), (Expr::Internal(e), Alias::Internal(a)) if e == c && a == c),
        )
    };
    let mut k = 0;
    while k < source.items.len() {
        let (e, alias) = &source.items[k];
        let movable = match alias {
            Alias::Internal(name) => {
                !e.is_column()
                    && uses.get(name) == Some(&1)
                    && e.size() <= MAX_MOVED
                    && !reads_table(e)
                    && source.items.len() > 1
                    && {
                        let mut all_passed = true;
                        e.for_each_internal(&mut |c| all_passed &= passed(source, c));
                        all_passed
                    }
            }
            Alias::User(_) => false,
        };
        let reader_item = movable
            .then(|| {
                reader.items.iter().position(|(re, _)| {
                    let mut found = false;
                    re.for_each_internal(&mut |c| {
                        found |= matches!(alias, Alias::Internal(n) if n == c)
                    });
                    found
                })
            })
            .flatten();
        let Some(r) = reader_item else {
            k += 1;
            continue;
        };
        let moved = |c: &str| matches!(alias, Alias::Internal(n) if n == c).then_some(e);
        let Some(new) = substituted(&reader.items[r].0, &moved, d) else {
            k += 1;
            continue;
        };
        reader.items[r].0 = new;
        source.items.remove(k);
    }
}

/// How often each column is read by `items`, as the dialect writes them.
fn uses_in(items: &[(Expr, Alias)], d: &dyn Dialect) -> HashMap<String, usize> {
    let mut uses = HashMap::new();
    for (e, _) in items {
        count_uses(e, d, 1, &mut uses);
    }
    uses
}

/// `e` with the columns `value` gives an expression for replaced by it, if the result
/// stays within the depth and CASE-nesting limits (or no deeper than `e` was).
fn substituted<'a>(
    e: &Expr,
    value: &dyn Fn(&str) -> Option<&'a Expr>,
    d: &dyn Dialect,
) -> Option<Expr> {
    let new = e.clone().map_bottom_up(&mut |node| match node {
        Expr::Internal(c) => value(&c).cloned().unwrap_or(Expr::Internal(c)),
        other => other,
    });
    let within = new.depth() <= MAX_DEPTH.max(e.depth())
        && new.case_nesting() <= d.max_case_nesting().max(e.case_nesting());
    within.then_some(new)
}

/// Whether the expression reads a column of the input table.
fn reads_table(e: &Expr) -> bool {
    let mut found = matches!(e, Expr::Column(_));
    e.for_each_child(&mut |c| found |= reads_table(c));
    found
}

/// Counts the references to each column as the dialect renders them: some forms
/// write their operand more than once.
fn count_uses(e: &Expr, d: &dyn Dialect, times: usize, uses: &mut HashMap<String, usize>) {
    let inner = match e {
        Expr::Internal(name) => {
            *uses.entry(name.clone()).or_default() += times;
            return;
        }
        // `CASE WHEN x < floor THEN floor ELSE x END`.
        Expr::Exp(..) if d.exp_floor().is_some() => times * 2,
        Expr::Float32(x) => match d.float32() {
            // Veltkamp's split writes x three times.
            Some(Float32::Emulated) => times * 3,
            // A column is clamped to float32's range: written three times, and an
            // expression put in its place would lose the clamp.
            Some(Float32::Cast(_)) if x.is_column() => times * 3,
            _ => times,
        },
        // Written as a CASE comparing the values pairwise.
        Expr::Greatest(v) if d.greatest().is_none() => times * v.len(),
        _ => times,
    };
    e.for_each_child(&mut |c| count_uses(c, d, inner, uses));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::dialect;
    use crate::expr::{bin, internal, Op};

    fn step(items: Vec<(Expr, &str)>, from: Option<&str>) -> Select {
        Select {
            items: items
                .into_iter()
                .map(|(e, a)| (e, Alias::Internal(a.into())))
                .collect(),
            from: from.map_or(From::Table, |f| From::Cte(f.into())),
            suffix: "",
        }
    }

    fn names(ctes: &[(String, Select)]) -> Vec<&str> {
        ctes.iter().map(|(n, _)| n.as_str()).collect()
    }

    fn column(e: &Expr) -> String {
        let mut out = String::new();
        e.render(dialect("duckdb").unwrap(), &mut out);
        out
    }

    #[test]
    fn columns_read_once_move_into_their_reader() {
        let minus_one = |c: &str| bin(internal(c), Op::Sub, Expr::Float(1.0));
        let ctes = vec![
            (
                "a".to_string(),
                step(
                    vec![
                        (Expr::Column("x".into()), "f0"),
                        (Expr::Column("y".into()), "f1"),
                    ],
                    None,
                ),
            ),
            (
                "b".to_string(),
                step(
                    vec![(minus_one("f0"), "d0"), (minus_one("f1"), "d1")],
                    Some("a"),
                ),
            ),
        ];
        // d0 is read once, d1 twice: b stays a step, a (plain columns) merges into it.
        // d0 stays in b: the final SELECT would need f0 passed on for it.
        let last = step(
            vec![
                (bin(internal("d0"), Op::Mul, Expr::Float(2.0)), "p"),
                (bin(internal("d1"), Op::Mul, internal("d1")), "q"),
            ],
            Some("b"),
        );
        let (ctes, last) = merge_steps(ctes, last, dialect("duckdb").unwrap());
        assert_eq!(names(&ctes), ["b"]);
        assert!(matches!(ctes[0].1.from, From::Table));
        let b: Vec<String> = ctes[0].1.items.iter().map(|(e, _)| column(e)).collect();
        assert_eq!(b, ["(\"x\" - 1e0)", "(\"y\" - 1e0)"]);
        assert_eq!(column(&last.items[1].0), "(d1 * d1)");
    }

    #[test]
    fn a_column_read_once_sinks_so_that_its_step_can_merge() {
        // c computes e0 (read twice by the final SELECT) and e1 (read once) from d0,
        // which it passes on too: e1 moves into the final SELECT.
        let ctes = vec![
            (
                "b".to_string(),
                step(vec![(Expr::Column("x".into()), "d0")], None),
            ),
            (
                "c".to_string(),
                step(
                    vec![
                        (bin(internal("d0"), Op::Mul, Expr::Float(2.0)), "e0"),
                        (internal("d0"), "d0"),
                        (bin(internal("d0"), Op::Mul, Expr::Float(3.0)), "e1"),
                    ],
                    Some("b"),
                ),
            ),
        ];
        let last = step(
            vec![
                (bin(internal("e0"), Op::Sub, internal("e0")), "p"),
                (bin(internal("e1"), Op::Sub, internal("d0")), "q"),
            ],
            Some("c"),
        );
        let (ctes, last) = merge_steps(ctes, last, dialect("duckdb").unwrap());
        assert_eq!(names(&ctes), ["c"]);
        assert_eq!(column(&last.items[1].0), "((d0 * 3e0) - d0)");
        let c: Vec<String> = ctes[0].1.items.iter().map(|(e, _)| column(e)).collect();
        assert_eq!(c, ["(\"x\" * 2e0)", "\"x\""]);
    }

    #[test]
    fn a_clamped_float32_operand_stays_a_column() {
        // `x * 2` read as float32 by the final SELECT.
        let merged = |dialect: &dyn Dialect| {
            let twice = bin(Expr::Column("x".into()), Op::Mul, Expr::Float(2.0));
            let ctes = vec![("a".to_string(), step(vec![(twice, "d0")], None))];
            let last = step(
                vec![(Expr::Float32(Box::new(internal("d0"))), "p")],
                Some("a"),
            );
            merge_steps(ctes, last, dialect).0.is_empty()
        };
        // DuckDB clamps a column to float32's range before a CAST; an expression in
        // its place would be cast unclamped (and raise on overflow).
        assert!(!merged(dialect("duckdb").unwrap()));
        // Where float32 is a function call, the step merges.
        assert!(merged(dialect("clickhouse").unwrap()));
    }

    #[test]
    fn merges_stop_at_the_depth_limit() {
        // A 60-term sum read once by a 60-term sum: 120 deep merged, over the limit.
        let sum = |c: &str| {
            Expr::Sum(
                (0..60)
                    .map(|_| internal(c))
                    .take(1)
                    .chain((0..59).map(|k| Expr::Float(k as f64)))
                    .collect(),
            )
        };
        let ctes = vec![("a".to_string(), step(vec![(sum("f"), "d0")], None))];
        let last = step(vec![(sum("d0"), "p")], Some("a"));
        let (ctes, _) = merge_steps(ctes, last, dialect("duckdb").unwrap());
        assert_eq!(names(&ctes), ["a"]);
    }
}
