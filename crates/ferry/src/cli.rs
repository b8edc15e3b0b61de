//! The command line: clap types only. Doc comments become `--help`.

use clap::{Args, Parser, Subcommand};

/// ferry takes a trained model to production: exact batch predictions today; SQL,
/// registries, APIs and containers as they land.
#[derive(Debug, Parser)]
#[command(name = "ferry", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show a model's format, task, inputs, outputs and structure.
    Inspect(InspectArgs),
    /// Score a table with a model: CSV, Parquet, JSON Lines or Arrow in and out.
    Predict(PredictArgs),
    /// Compile a model into one SQL query that scores a table inside the database.
    Sql(SqlArgs),
}

#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Model file: XGBoost JSON/UBJSON, LightGBM text or ferry IR JSON (detected from
    /// the content).
    #[arg(value_name = "MODEL")]
    pub model: String,

    /// Use every tree, even when the file records a best iteration from early stopping
    /// (by default ferry stops there, as the scikit-learn and R wrappers do).
    #[arg(long)]
    pub all_trees: bool,
}

/// The output columns beyond the predictions, the same for `predict` and `sql`.
#[derive(Debug, Args)]
pub struct ColumnArgs {
    /// Input columns to copy to the output, before the predictions (comma-separated or
    /// repeated).
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    pub keep: Vec<String>,

    /// Also output the untransformed scores (margins): `raw`, or `raw_<class>` per class.
    #[arg(long)]
    pub raw: bool,

    /// Add a last column, `validity`, naming the first reason a row's prediction cannot
    /// be trusted: a missing value where training had none, an unseen category, a value
    /// outside the recorded training range. Empty (NULL) when there is none.
    #[arg(long)]
    pub validity: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    pub model: ModelArgs,

    /// Print the model as ferry IR JSON (which `ferry predict` also accepts as a model).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PredictArgs {
    #[command(flatten)]
    pub model: ModelArgs,

    /// Input table: .csv (header row; empty cell = missing), .parquet, .jsonl or .arrow;
    /// `-` reads CSV from stdin.
    #[arg(long, short, value_name = "FILE")]
    pub input: String,

    /// Output table, format by extension; CSV on stdout when omitted or `-`.
    #[arg(long, short, value_name = "FILE", default_value = "-")]
    pub output: String,

    #[command(flatten)]
    pub columns: ColumnArgs,

    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// Rows per batch.
    #[arg(long, value_name = "ROWS", default_value_t = 65536, hide = true)]
    pub batch_size: usize,

    /// Never show a progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    #[command(flatten)]
    pub model: ModelArgs,

    /// SQL dialect.
    #[arg(long, short, value_name = "DIALECT", value_parser = clap::builder::PossibleValuesParser::new(ferry_sql::DIALECT_NAMES))]
    pub dialect: String,

    /// Table to score (`schema.table` quotes each part).
    #[arg(long, short, value_name = "TABLE", default_value = "input")]
    pub table: String,

    #[command(flatten)]
    pub columns: ColumnArgs,

    /// Wrap the query as `CREATE VIEW NAME AS …`.
    #[arg(long, value_name = "NAME")]
    pub view: Option<String>,

    /// Emit a stored function instead of a query: a DuckDB table macro
    /// (`SELECT * FROM NAME('table')`) or a PostgreSQL SQL function of the input values
    /// (`FROM t CROSS JOIN LATERAL NAME(t.x1, …)`).
    #[arg(long, value_name = "NAME", conflicts_with = "view")]
    pub function: Option<String>,

    /// Write the SQL to this file instead of stdout.
    #[arg(long, short, value_name = "FILE", default_value = "-")]
    pub output: String,
}
