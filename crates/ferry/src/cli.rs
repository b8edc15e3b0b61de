//! The command line: clap types only. Doc comments become `--help`.

use std::path::PathBuf;

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
    /// Explain a model: its equation, its decision rules, or a summary with feature
    /// importance, in words.
    Explain(ExplainArgs),
    /// Fit a small decision tree (or a fast-and-frugal tree) to a model's own predictions
    /// on a table, print its rules and how often it agrees with the model on held-out
    /// rows.
    Distill(DistillArgs),
    /// Score a table with a model: CSV, Parquet, JSON Lines or Arrow in and out.
    Predict(PredictArgs),
    /// Compile a model into one SQL query that scores a table inside the database.
    Sql(SqlArgs),
    /// Store a file or folder as a new version of a pin on the board.
    Push(PushArgs),
    /// Download a version's files from the board, verified.
    Pull(PullArgs),
    /// List the pins on the board.
    List(ListArgs),
    /// List the versions of a pin, oldest first.
    Versions(VersionsArgs),
    /// Show a version's metadata.
    Show(ShowArgs),
    /// Show, move or remove a pin's aliases (`prod`, `staging`), or their history.
    Alias(AliasArgs),
    /// Delete a version, or a whole pin.
    Delete(DeleteArgs),
    /// Delete old versions by count or age, or clean up after crashed pushes.
    Prune(PruneArgs),
    /// Write a model's card: schema, metadata, metrics, versions and aliases, how it
    /// predicts, feature importance and how to use it (HTML or Markdown).
    Card(CardArgs),
    /// Publish a report (Jupyter notebook, HTML, Markdown or PDF) as a new version on the
    /// board; notebooks and Markdown are also rendered to a self-contained HTML page.
    Publish(PublishArgs),
    /// Write the board as a static site: an index of every model and report with search
    /// and filters, a card per model, a page per report. Works from file:// and any web
    /// server.
    Site(SiteArgs),
    /// Mail a report from the board (its PDF or HTML page attached) over SMTP.
    Send(SendArgs),
    /// Serve models over HTTP: Open Inference Protocol v2 (KServe, Triton), MLflow's
    /// scoring protocol and vetiver's API, all at once.
    Serve(ServeArgs),
    /// Build a container image that serves the models: one OCI archive for `docker load`,
    /// `podman load` or `skopeo copy`, written without a container daemon.
    Image(ImageArgs),
    /// Write a Dockerfile and its build context that serve the models.
    Dockerfile(DockerfileArgs),
    /// Print Kubernetes manifests (Deployment and Service, or a KServe
    /// InferenceService) that run an image of the models.
    K8s(K8sArgs),
}

/// Which board: a folder, `file://`, `s3://bucket/prefix` (S3 or any S3-compatible
/// server), `gs://bucket/prefix`, `az://container/prefix`.
#[derive(Debug, Args)]
pub struct BoardArgs {
    /// The board (default: $FERRY_BOARD, else ~/.local/share/ferry/board). Cloud
    /// credentials and endpoints come from the usual environment variables
    /// (AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL, AZURE_STORAGE_ACCOUNT_NAME, …).
    #[arg(long, value_name = "URL", env = "FERRY_BOARD", hide_env_values = true)]
    pub board: Option<String>,
}

#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Model file: XGBoost JSON/UBJSON, LightGBM text, ONNX, PMML or ferry IR JSON
    /// (detected from the content).
    ///
    /// When no such file exists, MODEL is a board reference: NAME (the latest
    /// version), NAME@VERSION or NAME@ALIAS.
    #[arg(value_name = "MODEL")]
    pub model: String,

    #[command(flatten)]
    pub board: BoardArgs,

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
    /// (`SELECT * FROM NAME('table')`); a SQL function of one row's input values in
    /// PostgreSQL (`FROM t CROSS JOIN LATERAL NAME(t.x1, …)`), BigQuery
    /// (`SELECT NAME(t.x1, …).* FROM t`) and Snowflake
    /// (`FROM t, TABLE(NAME(t.x1, …))`).
    #[arg(long, value_name = "NAME", conflicts_with = "view")]
    pub function: Option<String>,

    /// Write the SQL to this file instead of stdout.
    #[arg(long, short, value_name = "FILE", default_value = "-")]
    pub output: String,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// A file, or a folder (every file in it, recursively), stored as it is. A model
    /// file ferry reads also gets its schema, task and classes recorded.
    #[arg(value_name = "PATH")]
    pub path: std::path::PathBuf,

    /// Pin name: letters, digits, '.', '_' and '-'.
    #[arg(long, short, value_name = "NAME")]
    pub name: String,

    #[command(flatten)]
    pub version: NewVersionArgs,
}

/// What `push` and `publish` record about a new version.
#[derive(Debug, Args)]
pub struct NewVersionArgs {
    /// Title (default for a report: its own, from the notebook's metadata or first `#`
    /// heading, or the HTML <title>).
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,

    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,

    /// Metadata stored under `user` in data.txt (repeatable); numbers stay numbers.
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    pub meta: Vec<String>,

    /// A tag (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,

    /// Point this alias at the new version.
    #[arg(long, value_name = "ALIAS")]
    pub alias: Option<String>,

    /// Store a new version even when the content equals the latest version.
    #[arg(long)]
    pub force: bool,

    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,

    /// Never show a progress bar.
    #[arg(long, short)]
    pub quiet: bool,

    #[command(flatten)]
    pub board: BoardArgs,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// NAME (the latest version), NAME@VERSION or NAME@ALIAS.
    #[arg(value_name = "REF")]
    pub reference: String,

    /// Folder to write the files into (created if needed).
    #[arg(long, short, value_name = "DIR", default_value = ".")]
    pub output: std::path::PathBuf,

    /// Never show a progress bar.
    #[arg(long, short)]
    pub quiet: bool,

    #[command(flatten)]
    pub board: BoardArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub board: BoardArgs,
}

#[derive(Debug, Args)]
pub struct VersionsArgs {
    #[arg(value_name = "NAME")]
    pub name: String,

    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub board: BoardArgs,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// NAME (the latest version), NAME@VERSION or NAME@ALIAS.
    #[arg(value_name = "REF")]
    pub reference: String,

    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub board: BoardArgs,
}

#[derive(Debug, Args)]
pub struct AliasArgs {
    #[arg(value_name = "NAME")]
    pub name: String,

    /// The alias to move or remove; without it, the current aliases are listed.
    #[arg(value_name = "ALIAS")]
    pub alias: Option<String>,

    /// The version to point the alias at (a version name, another alias, or `latest`).
    #[arg(value_name = "VERSION", requires = "alias")]
    pub version: Option<String>,

    /// Remove the alias (its history stays).
    #[arg(long, requires = "alias", conflicts_with_all = ["version", "history"])]
    pub remove: bool,

    /// Every move of the pin's aliases: when, who, from which version to which.
    #[arg(long, conflicts_with = "version")]
    pub history: bool,

    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub board: BoardArgs,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// NAME@VERSION or NAME@ALIAS to delete one version; NAME with --all for the pin.
    #[arg(value_name = "REF")]
    pub reference: String,

    /// Delete every version of the pin, its aliases and their history.
    #[arg(long)]
    pub all: bool,

    /// Delete a version even when an alias points to it.
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub board: BoardArgs,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).multiple(true).args(["keep", "older_than", "orphans"])))]
pub struct PruneArgs {
    /// The pin to prune (not with --orphans).
    #[arg(
        value_name = "NAME",
        required_unless_present = "orphans",
        conflicts_with = "orphans"
    )]
    pub name: Option<String>,

    /// Keep the newest N versions. The newest and every aliased version are always kept.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub keep: Option<u64>,

    /// Delete versions older than this (`30d`, `12h`, `2weeks`).
    #[arg(long, value_name = "AGE", value_parser = humantime::parse_duration)]
    pub older_than: Option<std::time::Duration>,

    /// Remove what crashed pushes left behind: staging uploads whose process is gone,
    /// version folders without data.txt.
    #[arg(long)]
    pub orphans: bool,

    /// With --orphans: uploads from other hosts (or of unknown process) count as gone
    /// once started this long ago.
    #[arg(long, value_name = "AGE", value_parser = humantime::parse_duration, default_value = "24h")]
    pub grace: std::time::Duration,

    /// Say what would be deleted, delete nothing.
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub board: BoardArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The models: a file (served under its file stem), NAME=PATH, or a board
    /// reference NAME, NAME@VERSION or NAME@ALIAS (served under NAME). The first is
    /// also served at the unprefixed /invocations and /predict.
    #[arg(value_name = "MODEL", required = true)]
    pub models: Vec<String>,

    #[command(flatten)]
    pub board: BoardArgs,

    /// Address to listen on (0.0.0.0 for every interface, as in a container).
    #[arg(long, env = "FERRY_HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// Port to listen on; 0 picks a free one (default: $FERRY_PORT, else $PORT, else 8080).
    #[arg(long, env = "FERRY_PORT")]
    pub port: Option<u16>,

    /// How often a model served by alias or as its latest version checks the board for
    /// a new version, which is then loaded and swapped in without dropping requests.
    /// 0 never checks.
    #[arg(long, value_name = "DURATION", value_parser = parse_seconds, default_value = "30s")]
    pub poll: std::time::Duration,

    /// File holding the bearer token every request must carry (except the health
    /// checks). $FERRY_TOKEN also sets it. Without either, no token is needed.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<std::path::PathBuf>,

    /// Largest request body accepted: bytes, or with a unit (16MiB, 500KB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "64MiB")]
    pub max_body: usize,

    /// Longest a request may take before it is answered 503.
    #[arg(long, value_name = "DURATION", value_parser = parse_seconds, default_value = "60s")]
    pub timeout: std::time::Duration,

    /// Allow browser calls from this origin (CORS), e.g. https://app.example.com;
    /// repeat for several. Off by default.
    #[arg(long, value_name = "ORIGIN")]
    pub cors: Vec<String>,

    /// One line per request on stderr: text, json, or off.
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json", "off"])]
    pub access_log: String,

    /// Threads answering requests (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub workers: Option<u64>,

    /// Use every tree, even when the file records a best iteration from early stopping.
    #[arg(long)]
    pub all_trees: bool,
}

/// A duration: plain seconds (`30`, `0.5`) or with units (`30s`, `500ms`, `2m`).
fn parse_seconds(text: &str) -> Result<std::time::Duration, String> {
    if let Ok(seconds) = text.trim().parse::<f64>() {
        return std::time::Duration::try_from_secs_f64(seconds)
            .map_err(|_| format!("{text:?} is not a duration in seconds"));
    }
    humantime::parse_duration(text).map_err(|e| format!("{text:?}: {e}"))
}

/// `65536`, `64KiB`, `16MiB`, `1GB`.
fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number.parse().map_err(|_| {
        format!(
            "{text:?} is not a size: expected bytes, or a number with KiB, MiB, GiB, KB, MB or GB"
        )
    })?;
    let factor: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "kib" | "k" => 1 << 10,
        "mb" => 1_000_000,
        "mib" | "m" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" | "g" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit {other:?}: use KiB, MiB, GiB, KB, MB or GB"
            ))
        }
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("{text:?} is too large"))
}

#[derive(Debug, Args)]
pub struct ImageArgs {
    /// The models, as for `ferry serve`: files, NAME=PATH, or board references (the
    /// version a reference points to now is built in).
    #[arg(value_name = "MODEL", required = true)]
    pub models: Vec<String>,

    #[command(flatten)]
    pub board: BoardArgs,

    /// The image's name and tag (NAME:TAG, e.g. churn:1.0 or ghcr.io/acme/churn:1.0).
    #[arg(long, value_name = "NAME:TAG")]
    pub tag: String,

    /// The archive to write (an OCI image layout with Docker's manifest.json, as tar).
    #[arg(long, short, value_name = "FILE.tar")]
    pub output: PathBuf,

    /// The platform, checked against the server binary (linux/amd64 or linux/arm64).
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,

    /// The ferry executable to put in the image (default: this one). It must be
    /// statically linked: `bash scripts/build-static.sh` builds one.
    #[arg(long, value_name = "PATH")]
    pub server: Option<PathBuf>,

    /// The port the server listens on inside the container.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,

    /// An extra image label KEY=VALUE (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,

    /// Use every tree, even when the file records a best iteration from early stopping.
    #[arg(long)]
    pub all_trees: bool,
}

#[derive(Debug, Args)]
pub struct DockerfileArgs {
    /// The models, as for `ferry serve`.
    #[arg(value_name = "MODEL", required = true)]
    pub models: Vec<String>,

    #[command(flatten)]
    pub board: BoardArgs,

    /// The folder to write (must not exist, or be empty).
    #[arg(long, short, value_name = "DIR")]
    pub output: PathBuf,

    /// The ferry executable to copy into the context (default: this one; it must be
    /// statically linked for `FROM scratch`).
    #[arg(long, value_name = "PATH")]
    pub server: Option<PathBuf>,

    /// The port the server listens on inside the container.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
}

#[derive(Debug, Args)]
pub struct K8sArgs {
    /// The models the image serves (their names and sizes set the manifests' name and
    /// memory requests).
    #[arg(value_name = "MODEL", required = true)]
    pub models: Vec<String>,

    #[command(flatten)]
    pub board: BoardArgs,

    /// The image to run (as pushed to a registry).
    #[arg(long, value_name = "REF")]
    pub image: String,

    /// The name of the Deployment and Service (default: the first model's name).
    #[arg(long)]
    pub name: Option<String>,

    #[arg(long, default_value_t = 2)]
    pub replicas: u32,

    /// The container port.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,

    /// A Secret (key `token`) whose value becomes the server's bearer token.
    #[arg(long, value_name = "SECRET")]
    pub token_secret: Option<String>,

    /// A KServe InferenceService instead of a Deployment and Service.
    #[arg(long)]
    pub kserve: bool,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub model: ModelArgs,

    /// text (a terminal), markdown (a model card, a README) or json (the rules and
    /// coefficients as data).
    #[arg(long, default_value = "text", value_parser = ["text", "markdown", "json"])]
    pub format: String,
}

#[derive(Debug, Args)]
pub struct DistillArgs {
    #[command(flatten)]
    pub model: ModelArgs,

    /// Rows to fit on and to measure fidelity on: .csv, .parquet, .jsonl or .arrow with
    /// the model's input columns. Every 4th row is held out.
    #[arg(long, short, value_name = "FILE")]
    pub data: String,

    /// Depth of the surrogate decision tree.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 3,
        conflicts_with = "fast_frugal"
    )]
    pub max_depth: usize,

    /// Fit a fast-and-frugal tree instead: one cue per level, each level but the last
    /// decides one class (binary classifiers).
    #[arg(long)]
    pub fast_frugal: bool,

    /// Levels (cues) of the fast-and-frugal tree.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub max_cues: usize,

    /// Fewest training rows in a leaf (default: 1% of the training rows, at least 5).
    #[arg(long, value_name = "N")]
    pub min_leaf: Option<usize>,

    /// Read at most this many rows.
    #[arg(long, value_name = "N", default_value_t = 200_000)]
    pub max_rows: usize,

    /// text, markdown or json.
    #[arg(long, default_value = "text", value_parser = ["text", "markdown", "json"])]
    pub format: String,

    /// Also write the surrogate as a model file (ferry IR JSON), which `ferry predict`,
    /// `ferry sql` and `ferry serve` take.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The report: .ipynb (rendered to HTML, nothing executed), .html, .md or .pdf.
    /// R Markdown and Quarto documents are published as the HTML or PDF they render to.
    #[arg(value_name = "REPORT")]
    pub path: std::path::PathBuf,

    /// Pin name: letters, digits, '.', '_' and '-'.
    #[arg(long, short, value_name = "NAME")]
    pub name: String,

    #[command(flatten)]
    pub version: NewVersionArgs,
}

#[derive(Debug, Args)]
pub struct CardArgs {
    /// The model on the board: NAME (the latest version), NAME@VERSION or NAME@ALIAS.
    #[arg(value_name = "REF")]
    pub reference: String,

    /// Where to write the card: FILE.html or FILE.md; `-` prints Markdown.
    #[arg(long, short, value_name = "FILE", default_value = "-")]
    pub output: String,

    /// The SQL dialect of the card's query snippet.
    #[arg(long, value_name = "D", default_value = "duckdb")]
    pub dialect: String,

    #[command(flatten)]
    pub board: BoardArgs,
}

#[derive(Debug, Args)]
pub struct SiteArgs {
    /// The folder to write the site into. Replaced as a whole when it holds an earlier
    /// ferry site; any other non-empty folder is refused.
    #[arg(long, short, value_name = "DIR")]
    pub output: std::path::PathBuf,

    /// The SQL dialect of the model cards' query snippets.
    #[arg(long, value_name = "D", default_value = "duckdb")]
    pub dialect: String,

    /// Never show a progress bar.
    #[arg(long, short)]
    pub quiet: bool,

    #[command(flatten)]
    pub board: BoardArgs,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// The report on the board: NAME (the latest version), NAME@VERSION or NAME@ALIAS.
    #[arg(value_name = "REF")]
    pub reference: String,

    /// Recipient (repeatable or comma-separated).
    #[arg(long, value_name = "ADDR", value_delimiter = ',', required = true)]
    pub to: Vec<String>,

    /// The SMTP server: `smtps://user@host` (TLS), `smtp://user@host?tls=required`
    /// (STARTTLS), `smtp://host:port` (no TLS, a local relay). The password comes from
    /// the URL or from $FERRY_SMTP_PASSWORD.
    #[arg(
        long,
        value_name = "URL",
        env = "FERRY_SMTP_URL",
        hide_env_values = true
    )]
    pub smtp: String,

    /// Sender (default: ferry@<this host>).
    #[arg(long, value_name = "ADDR")]
    pub from: Option<String>,

    /// Subject (default: the report's title and version).
    #[arg(long, value_name = "TEXT")]
    pub subject: Option<String>,

    #[command(flatten)]
    pub board: BoardArgs,
}
