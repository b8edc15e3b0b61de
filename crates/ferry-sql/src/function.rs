//! `--function`: the query packaged as a macro or function the engine stores.

use std::fmt::Write;

use ferry_ir::{output_columns, DType, Model, OutputKind, Task};

use crate::dialect::{quote_path, FunctionStyle};
use crate::{check, Compiler, Dialect, Options, SqlError, VALIDITY_COLUMN};

/// A `CREATE` statement for a function called `name` that scores rows with `model`.
/// DuckDB gets a table macro over a table named at call time; PostgreSQL a SQL function
/// of the input values returning one row (kept columns do not apply: select them
/// beside the call).
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
            quote_path(dialect, name, &mut out);
            out.push_str("(input_table) AS TABLE\n");
            out.push_str(&query);
        }
        FunctionStyle::PostgresSqlFunction => {
            let options = Options {
                keep: Vec::new(),
                ..options.clone()
            };
            let mut args = String::from("(SELECT ");
            for (i, input) in model.inputs.iter().enumerate() {
                if i > 0 {
                    args.push_str(", ");
                }
                let _ = write!(args, "${} AS ", i + 1);
                dialect.quote_ident(&input.name, &mut args);
            }
            args.push_str(") AS ferry_args");
            let query = Compiler::new(model, dialect, &options, Some(args)).query()?;
            // A dollar-quote tag that the body does not contain.
            let mut tag = String::from("$ferry$");
            let mut n = 0;
            while query.contains(&tag) {
                n += 1;
                tag = format!("$ferry{n}$");
            }
            out.push_str("CREATE OR REPLACE FUNCTION ");
            quote_path(dialect, name, &mut out);
            out.push('(');
            for (i, input) in model.inputs.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(match (input.dtype, &input.levels) {
                    (DType::Categorical, Some(_)) => "text",
                    _ => "double precision",
                });
            }
            out.push_str(")\nRETURNS TABLE(");
            let integer_labels = match &model.task {
                Task::Classification { classes, .. } => {
                    classes.iter().all(|c| c.parse::<i64>().is_ok())
                }
                Task::Regression => false,
            };
            let mut columns: Vec<(String, &str)> = output_columns(model, options.raw)
                .into_iter()
                .map(|c| {
                    let ty = match c.kind {
                        OutputKind::Label if integer_labels => "bigint",
                        OutputKind::Label => "text",
                        _ => "double precision",
                    };
                    (c.name, ty)
                })
                .collect();
            if options.validity {
                columns.push((VALIDITY_COLUMN.into(), "text"));
            }
            for (i, (column, ty)) in columns.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                dialect.quote_ident(column, &mut out);
                out.push(' ');
                out.push_str(ty);
            }
            let _ = write!(
                out,
                ")\nLANGUAGE sql IMMUTABLE PARALLEL SAFE\nAS {tag}\n{query}\n{tag}"
            );
        }
    }
    Ok(out)
}
