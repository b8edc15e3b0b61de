use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::Field;
use ferry_eval::Evaluator;
use ferry_io::{BatchWriter, ReadOptions};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::PredictArgs;
use crate::model;

pub fn predict(args: &PredictArgs) -> Result<()> {
    if let Some(threads) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .build_global()
            .context("starting the worker threads")?;
    }
    let scorer = Scorer::load(args)?;
    let model = scorer.model().clone();
    let columns = ferry_ir::output_columns(&model, args.columns.raw);
    for keep in &args.columns.keep {
        if columns.iter().any(|c| &c.name == keep)
            || (args.columns.validity && keep == ferry_ir::VALIDITY_COLUMN)
        {
            return Err(anyhow!(
                "--keep {keep}: the output already has a column `{keep}`"
            ));
        }
    }

    let options = ReadOptions {
        batch_size: args.batch_size.max(1),
        keep: args.columns.keep.clone(),
    };
    let reader = ferry_io::open_reader(&args.input, &model, &options)?;
    let total = reader.total_bytes;

    // Parsing runs on its own thread, one batch ahead of scoring.
    let bytes_read = reader.bytes_counter();
    let (sender, receiver) = mpsc::sync_channel(2);
    let parse = std::thread::spawn(move || {
        for batch in reader {
            let failed = batch.is_err();
            if sender.send(batch).is_err() || failed {
                break;
            }
        }
    });

    let progress = progress_bar(args, total);
    let mut writer: Option<Box<dyn BatchWriter>> = None;
    let mut rows = 0u64;
    let result = (|| -> Result<()> {
        for batch in receiver {
            let batch = batch?;
            let predictions = scorer.predict(&batch).with_context(|| args.input.clone())?;
            let kept = kept_columns(&batch, &args.columns.keep);
            let mut out = ferry_eval::to_record_batch(&model, &predictions, &columns, kept)?;
            if args.columns.validity {
                let reasons = scorer
                    .validity(&batch)
                    .with_context(|| args.input.clone())?;
                let mut fields: Vec<Field> = out
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| (**f).clone())
                    .collect();
                fields.push(Field::new(
                    ferry_ir::VALIDITY_COLUMN,
                    arrow_schema::DataType::Utf8,
                    true,
                ));
                let mut arrays = out.columns().to_vec();
                arrays.push(std::sync::Arc::new(reasons));
                out = RecordBatch::try_new(
                    std::sync::Arc::new(arrow_schema::Schema::new(fields)),
                    arrays,
                )?;
            }
            let writer = match &mut writer {
                Some(w) => w,
                None => writer.insert(ferry_io::create_writer(&args.output, out.schema())?),
            };
            writer.write(&out)?;
            rows += batch.num_rows() as u64;
            if let Some(bar) = &progress {
                bar.set_position(match total {
                    Some(_) => bytes_read.load(Ordering::Relaxed),
                    None => rows,
                });
            }
        }
        Ok(())
    })();
    parse
        .join()
        .map_err(|_| anyhow!("the input reader thread panicked"))?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    result?;
    match writer {
        Some(writer) => writer.finish()?,
        None => return Err(anyhow!("{}: no rows were read", args.input)),
    }
    Ok(())
}

/// What scores the batches: ferry's evaluator for IR models, or (with the `tract`
/// feature) tract for ONNX graphs the IR cannot express.
enum Scorer {
    Ir(Box<Evaluator>),
    #[cfg(feature = "tract")]
    Tract(Box<ferry_tract::TractModel>),
}

impl Scorer {
    fn load(args: &PredictArgs) -> Result<Scorer> {
        match model::load(&args.model) {
            Ok(model) => Ok(Scorer::Ir(Box::new(
                Evaluator::new(&model).with_context(|| args.model.model.clone())?,
            ))),
            #[cfg(feature = "tract")]
            Err(error) if model::unsupported_onnx(&error) => {
                let tract = model::load_tract(&args.model)
                    .with_context(|| format!("{error:#}; running it through tract failed too"))?;
                if args.columns.validity {
                    return Err(anyhow!(
                        "--validity: {} runs through tract, which records no training data to check rows against",
                        args.model.model
                    ));
                }
                Ok(Scorer::Tract(Box::new(tract)))
            }
            Err(error) => Err(error),
        }
    }

    fn model(&self) -> &ferry_ir::Model {
        match self {
            Scorer::Ir(evaluator) => evaluator.model(),
            #[cfg(feature = "tract")]
            Scorer::Tract(tract) => tract.model(),
        }
    }

    fn predict(&self, batch: &RecordBatch) -> Result<ferry_eval::Predictions> {
        match self {
            Scorer::Ir(evaluator) => Ok(evaluator.predict(batch)?),
            #[cfg(feature = "tract")]
            Scorer::Tract(tract) => model::tract_predictions(tract, batch),
        }
    }

    fn validity(&self, batch: &RecordBatch) -> Result<arrow_array::StringArray> {
        match self {
            Scorer::Ir(evaluator) => Ok(evaluator.validity(batch)?),
            #[cfg(feature = "tract")]
            Scorer::Tract(_) => Ok(arrow_array::StringArray::new_null(batch.num_rows())),
        }
    }
}

fn kept_columns(batch: &RecordBatch, keep: &[String]) -> Vec<(Field, ArrayRef)> {
    keep.iter()
        .filter_map(|name| {
            let index = batch.schema().index_of(name).ok()?;
            let field = batch.schema().field(index).clone();
            Some((field, batch.column(index).clone()))
        })
        .collect()
}

/// A progress bar on stderr for interactive runs; appears only after two seconds so quick
/// runs stay quiet.
fn progress_bar(args: &PredictArgs, total: Option<u64>) -> Option<ProgressBar> {
    if args.quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = match total {
        Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden())
            .with_style(
                ProgressStyle::with_template(
                    "{spinner} scoring {bytes}/{total_bytes} [{bar:30}] {bytes_per_sec}, eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            ),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden()).with_style(
            ProgressStyle::with_template("{spinner} scored {pos} rows ({per_sec})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    let shown = bar.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(2));
        if !shown.is_finished() {
            shown.set_draw_target(ProgressDrawTarget::stderr());
            shown.enable_steady_tick(Duration::from_millis(200));
        }
    });
    Some(bar)
}
