use std::fmt::Write as _;
use std::io::Write;

use anyhow::Result;
use ferry_ir::{output_columns, Cmp, Estimator, Model, Node, Precision, Task, Test, Transform};

use crate::cli::InspectArgs;
use crate::model;

pub fn inspect(args: &InspectArgs) -> Result<()> {
    let model = model::load(&args.model)?;
    let text = if args.json {
        model.to_json() + "\n"
    } else {
        describe(&model)
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(())
}

fn precision(p: Precision) -> &'static str {
    match p {
        Precision::F32 => "float32",
        Precision::F64 => "float64",
    }
}

fn describe(model: &Model) -> String {
    let mut out = String::new();
    let source = &model.source;
    let version = source
        .library_version
        .as_deref()
        .map(|v| format!(" {v}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "format:     {} ({}{version})",
        source.format, source.library
    );
    if let Some(objective) = &source.objective {
        let _ = writeln!(out, "objective:  {objective}");
    }
    let task = match &model.task {
        Task::Regression => match model.estimator.n_outputs() {
            1 => "regression".to_string(),
            n => format!("regression ({n} targets)"),
        },
        Task::Classification { classes, .. } => {
            format!(
                "classification ({} classes: {})",
                classes.len(),
                classes.join(", ")
            )
        }
    };
    let _ = writeln!(out, "task:       {task}");
    let _ = writeln!(out, "estimator:  {}", model.estimator.summary());
    if let Estimator::Trees(t) = &model.estimator {
        let cmps: Vec<&str> = {
            let mut seen = Vec::new();
            for tree in &t.trees {
                for node in &tree.nodes {
                    if let Node::Split(s) = node {
                        let symbol = match &s.test {
                            Test::Numeric { cmp: Cmp::Lt, .. } => "x < t",
                            Test::Numeric { cmp: Cmp::Le, .. } => "x <= t",
                            Test::Categorical { .. } => "category sets",
                        };
                        if !seen.contains(&symbol) {
                            seen.push(symbol);
                        }
                    }
                }
            }
            seen
        };
        let _ = writeln!(
            out,
            "arithmetic: features {}, splits {}, scores {}",
            precision(t.feature_precision),
            if cmps.is_empty() {
                "none".into()
            } else {
                cmps.join(" and ")
            },
            precision(t.score_precision)
        );
        if t.base_score.iter().any(|b| *b != 0.0) {
            let base: Vec<String> = t.base_score.iter().map(|b| b.to_string()).collect();
            let _ = writeln!(out, "base score: {} (margin)", base.join(", "));
        }
    }
    let transform = match model.transform {
        Transform::Logistic { scale } if scale != 1.0 => format!("logistic (scale {scale})"),
        other => other.name().to_string(),
    };
    let _ = writeln!(out, "transform:  {transform}");
    let _ = writeln!(out, "inputs ({}):", model.inputs.len());
    let width = model
        .inputs
        .iter()
        .map(|i| i.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    for input in &model.inputs {
        let levels = match &input.levels {
            Some(levels) if levels.len() > 8 => {
                format!(
                    "  levels: {}, … ({} in all)",
                    levels[..8].join(", "),
                    levels.len()
                )
            }
            Some(levels) => format!("  levels: {}", levels.join(", ")),
            None => String::new(),
        };
        let range = match input.range {
            Some([low, high]) => format!("  trained on [{low}, {high}]"),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "  {:width$}  {:11}  {}{levels}{range}",
            input.name,
            input.dtype.name(),
            if input.nullable {
                "nullable"
            } else {
                "never missing in training"
            },
        );
    }
    if !model.derived.is_empty() {
        let names: Vec<&str> = model
            .derived
            .iter()
            .take(6)
            .map(|d| d.name.as_str())
            .collect();
        let more = if model.derived.len() > 6 { ", …" } else { "" };
        let _ = writeln!(
            out,
            "preprocessing: {} derived column(s): {}{more}; the estimator reads {} feature(s)",
            model.derived.len(),
            names.join(", "),
            model.n_features()
        );
    }
    let columns: Vec<String> = output_columns(model, false)
        .into_iter()
        .map(|c| c.name)
        .collect();
    let _ = writeln!(out, "outputs:    {}", columns.join(", "));
    out
}
