//! `ferry distill`: a surrogate people can read, fitted to the model's own predictions,
//! with its measured price: how often it agrees with the model on rows it was not
//! fitted on.

use std::io::Write as _;

use anyhow::{bail, Context, Result};
use arrow_array::RecordBatch;
use ferry_eval::Evaluator;
use ferry_explain::distill::{self, Target, TreeOptions};
use ferry_io::ReadOptions;
use ferry_ir::Task;

use crate::cli::DistillArgs;
use crate::model;

/// Every `HOLDOUT`-th row (the last of each group) is held out for the fidelity.
const HOLDOUT: usize = 4;

pub fn distill(args: &DistillArgs) -> Result<()> {
    let model = model::load(&args.model)?;
    if matches!(model.task, Task::Regression) && model.estimator.n_outputs() > 1 {
        bail!(
            "{}: a regressor with {} targets; distilling fits one tree to one target",
            args.model.model,
            model.estimator.n_outputs()
        );
    }
    let evaluator = Evaluator::new(&model)?;
    let options = ReadOptions {
        batch_size: 65536,
        keep: Vec::new(),
    };
    let reader = ferry_io::open_reader(&args.data, &model, &options)?;

    // The rows, their input columns as the model sees them, and its predictions.
    let mut batches: Vec<RecordBatch> = Vec::new();
    let mut columns: Vec<Vec<f64>> = vec![Vec::new(); model.inputs.len()];
    let mut labels: Vec<u32> = Vec::new();
    let mut values: Vec<f64> = Vec::new();
    let mut rows = 0usize;
    for batch in reader {
        let batch = batch.with_context(|| args.data.clone())?;
        let take = batch.num_rows().min(args.max_rows - rows);
        let batch = batch.slice(0, take);
        for (all, part) in columns.iter_mut().zip(evaluator.input_columns(&batch)?) {
            all.extend(part);
        }
        let predictions = evaluator.predict(&batch)?;
        match &predictions.labels {
            Some(l) => labels.extend(l),
            None => values.extend(&predictions.values),
        }
        rows += take;
        batches.push(batch);
        if rows >= args.max_rows {
            break;
        }
    }
    if rows < 2 * HOLDOUT {
        bail!(
            "{}: {rows} rows; distilling needs at least {} (every {HOLDOUT}th row is held out)",
            args.data,
            2 * HOLDOUT
        );
    }
    let target = match &model.task {
        Task::Classification { classes, .. } => Target::Classes {
            labels: labels.clone(),
            classes: classes.clone(),
        },
        Task::Regression => {
            if let Some(r) = values.iter().position(|v| !v.is_finite()) {
                bail!(
                    "{}: the model's prediction for row {} is {}: nothing to fit",
                    args.data,
                    r + 1,
                    values[r]
                );
            }
            Target::Values(values.clone())
        }
    };
    let (train, held): (Vec<usize>, Vec<usize>) =
        (0..rows).partition(|r| r % HOLDOUT != HOLDOUT - 1);
    let min_leaf = args.min_leaf.unwrap_or((train.len() / 100).max(5)).max(1);

    let surrogate = if args.fast_frugal {
        let Task::Classification { classes, .. } = &model.task else {
            bail!("--fast-frugal: a fast-and-frugal tree decides between two classes; this model is a regression");
        };
        distill::fit_fast_frugal(
            &model.inputs,
            &columns,
            &labels,
            classes,
            &train,
            args.max_cues.max(1),
            min_leaf,
        )
        .map_err(|e| anyhow::anyhow!("--fast-frugal: {e}"))?
    } else {
        if args.max_depth == 0 || args.max_depth > 12 {
            bail!(
                "--max-depth {}: between 1 and 12 (a tree people read)",
                args.max_depth
            );
        }
        distill::fit_tree(
            &model.inputs,
            &columns,
            &target,
            &train,
            TreeOptions {
                max_depth: args.max_depth,
                min_leaf,
            },
        )
    };

    // The surrogate is scored by the same evaluator as any model: what is measured is
    // what `ferry predict` would give.
    let scorer = Evaluator::new(&surrogate).context("the surrogate model")?;
    let mut s_labels: Vec<u32> = Vec::new();
    let mut s_values: Vec<f64> = Vec::new();
    for batch in &batches {
        let p = scorer.predict(batch)?;
        match &p.labels {
            Some(l) => s_labels.extend(l),
            None => s_values.extend(&p.values),
        }
    }
    let fidelity = match &target {
        Target::Classes { .. } => Fidelity::Agreement {
            train: agreement(&labels, &s_labels, &train),
            held_out: agreement(&labels, &s_labels, &held),
        },
        Target::Values(_) => Fidelity::R2 {
            train: r2(&values, &s_values, &train),
            held_out: r2(&values, &s_values, &held),
            mae_held_out: held
                .iter()
                .map(|&r| (values[r] - s_values[r]).abs())
                .sum::<f64>()
                / held.len() as f64,
        },
    };

    if let Some(path) = &args.output {
        super::sql::write_atomically(path, (surrogate.to_json() + "\n").as_bytes())?;
    }

    let explanation = ferry_explain::explain(&surrogate);
    let kind = if args.fast_frugal {
        format!("fast-and-frugal tree ({} cues at most)", args.max_cues)
    } else {
        format!(
            "decision tree (depth {} at most, {min_leaf}+ rows per leaf)",
            args.max_depth
        )
    };
    let summary = fidelity.describe();
    let out = match args.format.as_str() {
        "json" => {
            let json = serde_json::json!({
                "model": args.model.model,
                "surrogate": kind,
                "rows": {"train": train.len(), "held_out": held.len()},
                "fidelity": fidelity.to_json(),
                "explanation": explanation,
            });
            serde_json::to_string_pretty(&json)? + "\n"
        }
        "markdown" => format!(
            "**Surrogate**: a {kind} fitted to the predictions of `{}` on {} rows of `{}`.\n\n\
             **Fidelity**: {summary}\n\n{}",
            args.model.model,
            train.len(),
            args.data,
            ferry_explain::markdown(&explanation)
        ),
        _ => format!(
            "Surrogate: a {kind} fitted to the predictions of {} on {} rows of {}.\n\
             Fidelity: {summary}\n\n{}",
            args.model.model,
            train.len(),
            args.data,
            ferry_explain::text(&explanation)
        ),
    };
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(())
}

enum Fidelity {
    Agreement {
        train: f64,
        held_out: f64,
    },
    R2 {
        train: f64,
        held_out: f64,
        mae_held_out: f64,
    },
}

impl Fidelity {
    fn describe(&self) -> String {
        match self {
            Fidelity::Agreement { train, held_out } => format!(
                "agrees with the model's label on {:.1}% of the held-out rows ({:.1}% of the rows it was fitted on)",
                100.0 * held_out,
                100.0 * train
            ),
            Fidelity::R2 { train, held_out, mae_held_out } => format!(
                "R² {held_out:.3} against the model's predictions on the held-out rows (mean absolute difference {mae_held_out:.4}; R² {train:.3} on the rows it was fitted on)"
            ),
        }
    }

    fn to_json(&self) -> serde_json::Value {
        match self {
            Fidelity::Agreement { train, held_out } => {
                serde_json::json!({"measure": "label agreement", "held_out": held_out, "train": train})
            }
            Fidelity::R2 {
                train,
                held_out,
                mae_held_out,
            } => serde_json::json!({
                "measure": "R² against the model's predictions",
                "held_out": held_out, "train": train, "mean_absolute_difference_held_out": mae_held_out,
            }),
        }
    }
}

fn agreement(a: &[u32], b: &[u32], rows: &[usize]) -> f64 {
    rows.iter().filter(|&&r| a[r] == b[r]).count() as f64 / rows.len().max(1) as f64
}

/// 1 − SSE / SST of the surrogate `s` against the model's predictions `y`.
fn r2(y: &[f64], s: &[f64], rows: &[usize]) -> f64 {
    let n = rows.len().max(1) as f64;
    let mean = rows.iter().map(|&r| y[r]).sum::<f64>() / n;
    let sst: f64 = rows.iter().map(|&r| (y[r] - mean).powi(2)).sum();
    let sse: f64 = rows.iter().map(|&r| (y[r] - s[r]).powi(2)).sum();
    if sst == 0.0 {
        if sse == 0.0 {
            1.0
        } else {
            0.0
        }
    } else {
        1.0 - sse / sst
    }
}
