//! `--function`: the query packaged as a macro or function the engine stores.

use std::fmt::Write;

use ferry_ir::{output_columns, DType, Model, OutputKind, Task};

use crate::dialect::FunctionStyle;
use crate::{check, Compiler, Dialect, Options, SqlError, VALIDITY_COLUMN};

/// A `CREATE` statement for a function called `name` that scores rows with `model`.
/// DuckDB gets a table macro over a table named at call time; PostgreSQL, BigQuery and
/// Snowflake a SQL function of one row's input values returning its outputs (kept
/// columns do not apply: select them beside the call).
pub fn compile_function(
    model: &Model,
    dialect: &dyn Dialect,
    options: &Options,
    name: &str,
) -> Result<String, SqlError> {
    check(model, options)?;
    if name.is_empty() || name.split('.').any(str::is_empty) {
        return Err(SqlError::Empty {
            what: "a part of the function name",
        });
    }
    let style = dialect.function_style().ok_or(SqlError::Unsupported {
        dialect: dialect.name(),
        feature: "function form in ferry yet (use --view)",
    })?;
    let model = &*crate::derived::split_long_dots(model);
    let mut out = String::new();
    match style {
        FunctionStyle::DuckDbTableMacro => {
            let query = Compiler::new(
                model,
                dialect,
                options,
                Some("query_table(input_table)".into()),
            )
            .query()?;
            out.push_str("CREATE OR REPLACE MACRO ");
            dialect.quote_object_name(name, &mut out);
            out.push_str("(input_table) AS TABLE\n");
            out.push_str(&query);
        }
        FunctionStyle::PostgresSqlFunction
        | FunctionStyle::BigQueryStructFunction
        | FunctionStyle::SnowflakeTableFunction => {
            row_function(model, dialect, options, name, style, &mut out)?;
        }
    }
    Ok(out)
}

/// SQL types of a row function's arguments and results.
struct Types {
    float: &'static str,
    text: &'static str,
    integer: &'static str,
}

/// A function of one row's input values: the query runs over a one-row derived table
/// of the arguments. Arguments are named `ferry_arg_<i>` (or `$i`), never after the
/// inputs, whose names may be anything.
fn row_function(
    model: &Model,
    dialect: &dyn Dialect,
    options: &Options,
    name: &str,
    style: FunctionStyle,
    out: &mut String,
) -> Result<(), SqlError> {
    let options = Options {
        keep: Vec::new(),
        ..options.clone()
    };
    let types = match style {
        FunctionStyle::BigQueryStructFunction => Types {
            float: "FLOAT64",
            text: "STRING",
            integer: "INT64",
        },
        FunctionStyle::SnowflakeTableFunction => Types {
            float: "FLOAT",
            text: "VARCHAR",
            integer: "NUMBER",
        },
        _ => Types {
            float: "double precision",
            text: "text",
            integer: "bigint",
        },
    };
    let arg = |i: usize| match style {
        FunctionStyle::PostgresSqlFunction => format!("${}", i + 1),
        _ => format!("ferry_arg_{}", i + 1),
    };
    let mut args = String::from("(SELECT ");
    for (i, input) in model.inputs.iter().enumerate() {
        if i > 0 {
            args.push_str(", ");
        }
        let _ = write!(args, "{} AS ", arg(i));
        dialect.quote_ident(&input.name, &mut args);
    }
    args.push_str(") AS ferry_args");
    let query = Compiler::new(model, dialect, &options, Some(args)).query()?;

    let mut params = String::new();
    for (i, input) in model.inputs.iter().enumerate() {
        if i > 0 {
            params.push_str(", ");
        }
        if style != FunctionStyle::PostgresSqlFunction {
            params.push_str(&arg(i));
            params.push(' ');
        }
        params.push_str(match (input.dtype, &input.levels) {
            (DType::Categorical, Some(_)) => types.text,
            _ => types.float,
        });
    }
    let integer_labels = match &model.task {
        Task::Classification { classes, .. } => classes.iter().all(|c| c.parse::<i64>().is_ok()),
        Task::Regression => false,
    };
    let mut columns: Vec<(String, &str)> = output_columns(model, options.raw)
        .into_iter()
        .map(|c| {
            let ty = match c.kind {
                OutputKind::Label if integer_labels => types.integer,
                OutputKind::Label => types.text,
                _ => types.float,
            };
            (c.name, ty)
        })
        .collect();
    if options.validity {
        columns.push((VALIDITY_COLUMN.into(), types.text));
    }
    let mut results = String::new();
    for (i, (column, ty)) in columns.iter().enumerate() {
        if i > 0 {
            results.push_str(", ");
        }
        dialect.quote_ident(column, &mut results);
        results.push(' ');
        results.push_str(ty);
    }

    out.push_str("CREATE OR REPLACE FUNCTION ");
    dialect.quote_object_name(name, out);
    let _ = writeln!(out, "({params})");
    match style {
        FunctionStyle::PostgresSqlFunction => {
            let tag = dollar_tag(&query);
            let _ = write!(
                out,
                "RETURNS TABLE({results})\nLANGUAGE sql IMMUTABLE PARALLEL SAFE\nAS {tag}\n{query}\n{tag}"
            );
        }
        // A scalar function returning a STRUCT, called as `name(t.x1, …).*`: BigQuery's
        // table functions cannot be called once per row of another table.
        FunctionStyle::BigQueryStructFunction => {
            let _ = write!(
                out,
                "RETURNS STRUCT<{results}>\nAS ((SELECT AS STRUCT * FROM (\n{query}\n)))"
            );
        }
        // A table function, called as `FROM t, TABLE(name(t.x1, …))`.
        _ => {
            let _ = write!(out, "RETURNS TABLE ({results})\nAS ");
            if query.contains("$$") {
                // A category name holds `$$`: a quoted string body instead.
                dialect.quote_str(&query, out);
            } else {
                let _ = write!(out, "$$\n{query}\n$$");
            }
        }
    }
    Ok(())
}

/// A dollar-quote tag (`$ferry$`, `$ferry1$`, …) that `body` does not contain.
fn dollar_tag(body: &str) -> String {
    let mut tag = String::from("$ferry$");
    let mut n = 0;
    while body.contains(&tag) {
        n += 1;
        tag = format!("$ferry{n}$");
    }
    tag
}
