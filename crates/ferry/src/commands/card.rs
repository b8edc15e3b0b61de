//! `ferry card`: a model's card from the board. [`build`] gathers what the board and
//! the model file say into a [`Card`]; `ferry site` uses it for every model.

use std::io::Write as _;

use anyhow::{bail, Context, Result};
use ferry_explain::Body;
use ferry_import::ImportOptions;
use ferry_ir::{DType, Model, Task};
use ferry_registry::{Board, VersionInfo};
use ferry_report::card::{AliasRow, Card, FileRow, InputRow, ModelFacts, Snippet, VersionRow};
use serde_yaml_ng::Value;

use super::board;
use crate::cli::CardArgs;

/// A query longer than this is not put on the card; the card says how to make it.
const MAX_SQL_BYTES: usize = 64 << 10;

pub fn card(args: &CardArgs) -> Result<()> {
    let kind = if args.output == "-" {
        Kind::Markdown
    } else {
        match std::path::Path::new(&args.output)
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("html" | "htm") => Kind::Html,
            Some("md" | "markdown") => Kind::Markdown,
            _ => bail!(
                "--output {}: a card is written as FILE.html or FILE.md (or `-` for Markdown on stdout)",
                args.output
            ),
        }
    };
    let dialect = super::sql::dialect(&args.dialect)?;
    let board = board::open(&args.board)?;
    let card = board::block_on(async {
        board.check().await?;
        let version = board::resolve(&board, &args.reference).await?;
        let is_model = version
            .meta
            .ferry()
            .ok()
            .flatten()
            .is_some_and(|f| f.model.is_some());
        if !is_model {
            bail!(
                "{}@{} is a pin of type {} with no model ferry reads: `ferry card` describes \
                 models (`ferry show` shows any pin)",
                version.name,
                version.version,
                version.meta.kind
            );
        }
        build(&board, &version, dialect).await
    })?;
    let text = match kind {
        Kind::Html => ferry_report::card::to_html(&card, ""),
        Kind::Markdown => ferry_report::card::to_markdown(&card),
    };
    if args.output == "-" {
        std::io::stdout().lock().write_all(text.as_bytes())?;
        return Ok(());
    }
    super::sql::write_atomically(std::path::Path::new(&args.output), text.as_bytes())?;
    eprintln!(
        "wrote the card of {}@{} to {}",
        card.name, card.version, args.output
    );
    Ok(())
}

enum Kind {
    Html,
    Markdown,
}

/// The card of one version: what the board records (metadata, versions, aliases) and,
/// when the pin holds a model ferry reads, what the model says (schema, explanation,
/// importance, SQL).
pub(super) async fn build(
    board: &Board,
    version: &VersionInfo,
    dialect: &'static dyn ferry_sql::Dialect,
) -> Result<Card> {
    let name = &version.name;
    let meta = &version.meta;
    let ferry = meta.ferry().ok().flatten();
    let aliases = board.aliases(name).await?;
    let mut versions = board.versions(name).await?;
    versions.reverse();
    let history = board.alias_history(name).await?;

    let mut card = Card {
        name: name.clone(),
        version: version.version.name.clone(),
        title: meta.title.clone(),
        description: meta.description.clone(),
        created: board::timestamp(&version.created_at),
        by: ferry.as_ref().map(|f| f.by.clone()),
        tags: ferry.as_ref().map(|f| f.tags.clone()).unwrap_or_default(),
        board: board.location().to_string(),
        aliases: board::aliases_of(&aliases, &version.version.name),
        versions: versions
            .iter()
            .map(|v| VersionRow {
                version: v.version.name.clone(),
                created: board::timestamp(&v.created_at),
                aliases: board::aliases_of(&aliases, &v.version.name),
            })
            .collect(),
        alias_history: history
            .iter()
            .map(|e| AliasRow {
                alias: e.alias.clone(),
                at: e.at.clone(),
                by: e.by.clone(),
                from: e.previous.clone(),
                to: e.version.clone(),
            })
            .collect(),
        ..Card::default()
    };
    let sizes = meta
        .file_size
        .as_ref()
        .map(|s| s.to_vec())
        .unwrap_or_default();
    card.files = meta
        .files()
        .iter()
        .enumerate()
        .map(|(i, f)| FileRow {
            name: f.clone(),
            size: sizes.get(i).copied().unwrap_or(0),
            sha256: ferry
                .as_ref()
                .and_then(|m| m.files.iter().find(|x| &x.name == f))
                .map(|x| x.sha256.clone()),
        })
        .collect();
    for (key, value) in &meta.user {
        let Some(key) = key.as_str() else { continue };
        match (key, value) {
            ("ferry", _) => {}
            ("metrics", Value::Mapping(metrics)) => {
                for (k, v) in metrics {
                    card.metrics.push((yaml_scalar(k), yaml_scalar(v)));
                }
            }
            _ => card.metadata.push((key.to_string(), yaml_scalar(value))),
        }
    }

    if ferry.as_ref().is_some_and(|f| f.model.is_some()) {
        let (file, bytes) = crate::model::read_version(board, version).await?;
        let model = ferry_import::import(&bytes, &ImportOptions::default())
            .with_context(|| format!("{name}@{}: {file}", version.version))?;
        describe_model(&mut card, &model, &file, dialect);
    }
    Ok(card)
}

fn describe_model(
    card: &mut Card,
    model: &Model,
    file: &str,
    dialect: &'static dyn ferry_sql::Dialect,
) {
    let (task, classes) = match &model.task {
        Task::Regression => ("regression", Vec::new()),
        Task::Classification { classes, .. } => ("classification", classes.clone()),
    };
    card.model = Some(ModelFacts {
        file: file.to_string(),
        format: model.source.format.clone(),
        task: task.into(),
        classes,
        inputs: model
            .inputs
            .iter()
            .map(|i| InputRow {
                name: i.name.clone(),
                dtype: i.dtype.name().to_string(),
                nullable: i.nullable,
                levels: i.levels.clone().unwrap_or_default(),
            })
            .collect(),
        outputs: ferry_ir::output_columns(model, false)
            .into_iter()
            .map(|c| c.name)
            .collect(),
    });

    let explanation = ferry_explain::explain(model);
    card.explanation = Some(ferry_explain::markdown(&explanation));
    match &explanation.estimator {
        Body::Ensemble { importance, .. } => {
            if importance.iter().all(|i| i.gain.is_some()) {
                card.importance_measure = "total gain (as the model file records it)".into();
                card.importance = importance
                    .iter()
                    .map(|i| (i.feature.clone(), i.gain.unwrap_or(0.0)))
                    .collect();
            } else {
                card.importance_measure = "splits".into();
                card.importance = importance
                    .iter()
                    .map(|i| (i.feature.clone(), i.splits as f64))
                    .collect();
            }
        }
        Body::Linear { groups, .. } => {
            card.importance_measure = "largest |coefficient| of its columns".into();
            card.importance = groups
                .iter()
                .map(|g| (g.source.clone(), g.max_abs))
                .collect();
        }
        Body::Tree { .. } => {}
    }

    let pinned = format!("{}@{}", card.name, card.version);
    let options = ferry_sql::Options {
        table: "my_table".into(),
        keep: Vec::new(),
        raw: false,
        validity: false,
    };
    match ferry_sql::compile(model, dialect, &options) {
        Ok(sql) if sql.len() <= MAX_SQL_BYTES => card.snippets.push(Snippet {
            title: format!("Score a table inside the database ({})", dialect.name()),
            language: "sql".into(),
            code: sql,
        }),
        Ok(sql) => card.snippets.push(Snippet {
            title: format!(
                "Score a table inside the database ({}): the query is {} kB, so make it with",
                dialect.name(),
                sql.len() / 1000
            ),
            language: "sh".into(),
            code: format!(
                "ferry sql {pinned} --dialect {} --table my_table --output score.sql",
                dialect.name()
            ),
        }),
        Err(e) => card.snippets.push(Snippet {
            title: "SQL".into(),
            language: "text".into(),
            code: format!("This model has no SQL form: {e}"),
        }),
    }
    card.snippets.push(Snippet {
        title: "Serve it and call the API".into(),
        language: "sh".into(),
        code: format!(
            "ferry serve {pinned} --port 8080 &\n\
             curl -s -X POST http://127.0.0.1:8080/models/{}/predict \\\n  \
             -H 'Content-Type: application/json' \\\n  -d '{}'",
            card.name,
            shell_single_quoted(&example_rows(model))
        ),
    });
    card.snippets.push(Snippet {
        title: "Score a file, or get the model file".into(),
        language: "sh".into(),
        code: format!(
            "ferry predict {pinned} --input rows.csv --output predictions.csv\n\
             ferry pull {pinned} --output model/"
        ),
    });
}

/// One example row for the API: 0 for numbers, the first level of a category.
fn example_rows(model: &Model) -> String {
    let mut row = serde_json::Map::new();
    for input in &model.inputs {
        let value = match (&input.dtype, &input.levels) {
            (DType::Categorical, Some(levels)) if !levels.is_empty() => {
                serde_json::Value::from(levels[0].clone())
            }
            (DType::Bool, _) => serde_json::Value::from(false),
            _ => serde_json::Value::from(0),
        };
        row.insert(input.name.clone(), value);
    }
    serde_json::Value::Array(vec![serde_json::Value::Object(row)]).to_string()
}

/// Text inside '…' for a POSIX shell.
fn shell_single_quoted(text: &str) -> String {
    text.replace('\'', "'\\''")
}

fn yaml_scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => serde_yaml_ng::to_string(other)
            .unwrap_or_default()
            .trim_end()
            .to_string(),
    }
}
