//! Model cards: what a model is, what it takes, how it was made and how to use it, on
//! one page (HTML with an SVG importance chart, or Markdown). The `ferry` binary fills
//! a [`Card`] from the board and the model; this module only renders it.

use std::fmt::Write as _;

use serde::Serialize;

use crate::html::{escape, page};
use crate::{markdown, svg};

#[derive(Debug, Clone, Serialize, Default)]
pub struct Card {
    pub name: String,
    pub version: String,
    pub title: Option<String>,
    pub description: Option<String>,
    /// `YYYY-MM-DD HH:MM:SS UTC`.
    pub created: String,
    /// `user@host` of the pusher, when ferry pushed it.
    pub by: Option<String>,
    pub tags: Vec<String>,
    pub board: String,
    /// Aliases pointing at this version.
    pub aliases: Vec<String>,
    pub model: Option<ModelFacts>,
    /// User metadata (`--meta k=v`), as `(key, value)` with values in YAML.
    pub metadata: Vec<(String, String)>,
    /// Metrics: the entries of a `metrics` mapping in the user metadata.
    pub metrics: Vec<(String, String)>,
    pub files: Vec<FileRow>,
    /// Every version of the pin, newest first.
    pub versions: Vec<VersionRow>,
    /// Every alias move, oldest first.
    pub alias_history: Vec<AliasRow>,
    /// `ferry explain --format markdown`.
    pub explanation: Option<String>,
    /// Feature importance, largest first, and what it measures (`splits`, `|coefficient|`).
    pub importance: Vec<(String, f64)>,
    pub importance_measure: String,
    pub snippets: Vec<Snippet>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct ModelFacts {
    pub file: String,
    pub format: String,
    pub task: String,
    pub classes: Vec<String>,
    pub inputs: Vec<InputRow>,
    /// The prediction columns `ferry predict`, `ferry sql` and the API return.
    pub outputs: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InputRow {
    pub name: String,
    pub dtype: String,
    pub nullable: bool,
    pub levels: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileRow {
    pub name: String,
    pub size: u64,
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VersionRow {
    pub version: String,
    pub created: String,
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AliasRow {
    pub alias: String,
    pub at: String,
    pub by: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Snippet {
    pub title: String,
    /// For the code fence: `sql`, `sh`.
    pub language: String,
    pub code: String,
}

impl Card {
    pub fn heading(&self) -> String {
        heading(&self.name, self.title.as_deref()).to_string()
    }
}

/// What a pin is called on a page: its title, unless that is missing or the title pins
/// makes up when none is given (`NAME: a pinned file`), else its name.
pub fn heading<'a>(name: &'a str, title: Option<&'a str>) -> &'a str {
    match title {
        Some(t) if !t.is_empty() && !is_default_title(name, t) => t,
        _ => name,
    }
}

fn is_default_title(name: &str, title: &str) -> bool {
    title
        .strip_prefix(name)
        .and_then(|rest| rest.strip_prefix(": a pinned "))
        .is_some_and(|kind| !kind.contains(' '))
}

/// One section of a card, in Markdown; the HTML card renders the same sections and
/// adds the chart to the importance section.
struct Section {
    id: &'static str,
    title: String,
    markdown: String,
}

fn sections(card: &Card) -> Vec<Section> {
    let mut out = Vec::new();
    let mut overview = String::new();
    if let Some(description) = &card.description {
        let _ = writeln!(overview, "{}\n", md_text(description));
    }
    let mut facts = vec![
        ("Pin", format!("`{}@{}`", card.name, card.version)),
        ("Created", card.created.clone()),
    ];
    if let Some(by) = &card.by {
        facts.push(("By", md_text(by)));
    }
    if !card.aliases.is_empty() {
        facts.push(("Aliases", code_list(&card.aliases)));
    }
    if !card.tags.is_empty() {
        facts.push(("Tags", code_list(&card.tags)));
    }
    facts.push(("Board", format!("`{}`", card.board)));
    if let Some(model) = &card.model {
        facts.push(("Model file", format!("`{}` ({})", model.file, model.format)));
        facts.push(("Task", md_text(&model.task)));
        if !model.classes.is_empty() {
            facts.push(("Classes", code_list(&model.classes)));
        }
    }
    for (k, v) in facts {
        let _ = writeln!(overview, "- **{k}:** {v}");
    }
    out.push(Section {
        id: "overview",
        title: "Overview".into(),
        markdown: overview,
    });

    if let Some(model) = &card.model {
        let mut md = String::new();
        let rows: Vec<Vec<String>> = model
            .inputs
            .iter()
            .map(|i| {
                let levels = if i.levels.is_empty() {
                    String::new()
                } else {
                    code_list(&i.levels)
                };
                vec![
                    format!("`{}`", i.name),
                    i.dtype.clone(),
                    if i.nullable { "yes" } else { "no" }.into(),
                    levels,
                ]
            })
            .collect();
        md.push_str(&table(
            &["input", "type", "missing allowed", "levels"],
            &rows,
        ));
        if !model.outputs.is_empty() {
            let _ = writeln!(md, "\nPredictions: {}.", code_list(&model.outputs));
        }
        out.push(Section {
            id: "schema",
            title: format!("Inputs ({})", model.inputs.len()),
            markdown: md,
        });
    }

    if !card.metrics.is_empty() {
        out.push(Section {
            id: "metrics",
            title: "Metrics".into(),
            markdown: key_values(&card.metrics),
        });
    }
    if !card.metadata.is_empty() {
        out.push(Section {
            id: "metadata",
            title: "Metadata".into(),
            markdown: key_values(&card.metadata),
        });
    }
    if let Some(explanation) = &card.explanation {
        out.push(Section {
            id: "explain",
            title: "How it predicts".into(),
            markdown: explanation.clone(),
        });
    }
    if !card.importance.is_empty() {
        let rows: Vec<Vec<String>> = card
            .importance
            .iter()
            .map(|(f, v)| vec![format!("`{f}`"), svg::number(*v)])
            .collect();
        out.push(Section {
            id: "importance",
            title: "Feature importance".into(),
            markdown: table(&["feature", &card.importance_measure], &rows),
        });
    }
    if !card.snippets.is_empty() {
        let mut md = String::new();
        for s in &card.snippets {
            let fence = if s.code.contains("```") {
                "~~~~"
            } else {
                "```"
            };
            let _ = writeln!(
                md,
                "**{}**\n\n{fence}{}\n{}\n{fence}\n",
                s.title,
                s.language,
                s.code.trim_end()
            );
        }
        out.push(Section {
            id: "use",
            title: "Use it".into(),
            markdown: md,
        });
    }
    if !card.files.is_empty() {
        let rows: Vec<Vec<String>> = card
            .files
            .iter()
            .map(|f| {
                vec![
                    format!("`{}`", f.name),
                    f.size.to_string(),
                    f.sha256
                        .as_deref()
                        .map(|s| format!("`{s}`"))
                        .unwrap_or_default(),
                ]
            })
            .collect();
        out.push(Section {
            id: "files",
            title: "Files".into(),
            markdown: table(&["file", "bytes", "sha256"], &rows),
        });
    }
    if !card.versions.is_empty() {
        let rows: Vec<Vec<String>> = card
            .versions
            .iter()
            .map(|v| {
                let this = if v.version == card.version {
                    " (this card)"
                } else {
                    ""
                };
                vec![
                    format!("`{}`{this}", v.version),
                    v.created.clone(),
                    code_list(&v.aliases),
                ]
            })
            .collect();
        out.push(Section {
            id: "versions",
            title: format!("Versions ({})", card.versions.len()),
            markdown: table(&["version", "created", "aliases"], &rows),
        });
    }
    if !card.alias_history.is_empty() {
        let rows: Vec<Vec<String>> = card
            .alias_history
            .iter()
            .map(|a| {
                vec![
                    a.at.clone(),
                    format!("`{}`", a.alias),
                    a.from
                        .as_deref()
                        .map(|v| format!("`{v}`"))
                        .unwrap_or_else(|| "–".into()),
                    a.to.as_deref()
                        .map(|v| format!("`{v}`"))
                        .unwrap_or_else(|| "(removed)".into()),
                    md_text(&a.by),
                ]
            })
            .collect();
        out.push(Section {
            id: "aliases",
            title: "Alias history".into(),
            markdown: table(&["when", "alias", "from", "to", "by"], &rows),
        });
    }
    out
}

/// The card as Markdown.
pub fn to_markdown(card: &Card) -> String {
    let mut out = format!("# {}\n\n", md_text(&card.heading()));
    for s in sections(card) {
        let _ = writeln!(out, "## {}\n\n{}", s.title, s.markdown.trim_end());
        out.push('\n');
    }
    let _ = writeln!(out, "_Model card generated by ferry._");
    out
}

/// The card as one self-contained HTML page; `nav` is HTML put above it (the site's
/// links), empty for a standalone card.
pub fn to_html(card: &Card, nav: &str) -> String {
    page(&card.heading(), nav, &body_html(card))
}

/// The card's content, without the page shell.
pub fn body_html(card: &Card) -> String {
    let mut body = format!(
        "<h1>{}</h1>\n<p><span class=\"kind kind-model\">model</span> \
         <code>{}@{}</code></p>\n",
        escape(&card.heading()),
        escape(&card.name),
        escape(&card.version)
    );
    for s in sections(card) {
        let _ = writeln!(
            body,
            "<section id=\"{}\">\n<h2>{}</h2>",
            s.id,
            escape(&s.title)
        );
        if s.id == "importance" {
            body.push_str(&svg::bar_chart(&card.importance, &card.importance_measure));
            let _ = writeln!(
                body,
                "<details><summary>as a table</summary>\n{}</details>",
                markdown::to_html(&s.markdown)
            );
        } else if s.id == "use" {
            // Long snippets (a big ensemble's query) fold away.
            for snippet in &card.snippets {
                let lines = snippet.code.lines().count();
                let _ = writeln!(
                    body,
                    "<details{}><summary>{}{}</summary>\n<pre class=\"snippet\"><code class=\"language-{}\">{}</code></pre></details>",
                    if lines <= 40 { " open" } else { "" },
                    escape(&snippet.title),
                    if lines > 40 { format!(" ({lines} lines)") } else { String::new() },
                    escape(&snippet.language),
                    escape(snippet.code.trim_end())
                );
            }
        } else {
            body.push_str(&markdown::to_html(&s.markdown));
        }
        body.push_str("</section>\n");
    }
    body.push_str("<p class=\"muted\">Model card generated by ferry.</p>\n");
    body
}

/// Text from a user (titles, descriptions, metadata) is shown as text: Markdown and
/// HTML characters are escaped, line breaks kept as spaces inside table cells.
fn md_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '&' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn code_list(items: &[String]) -> String {
    items
        .iter()
        .map(|i| code_span(i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An inline code span that holds any text (backticks included) in a table cell.
fn code_span(text: &str) -> String {
    let text = text.replace('|', "\\|").replace(['\n', '\r'], " ");
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

fn key_values(pairs: &[(String, String)]) -> String {
    let rows: Vec<Vec<String>> = pairs
        .iter()
        .map(|(k, v)| vec![code_span(k), md_text(v)])
        .collect();
    table(&["key", "value"], &rows)
}

fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.replace('|', "\\|")).collect();
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card() -> Card {
        Card {
            name: "penguins".into(),
            version: "20261128T080000Z-abcde".into(),
            title: Some("Penguin <species>".into()),
            description: Some("Predicts | species *from* bills".into()),
            created: "2026-11-28 08:00:00 UTC".into(),
            tags: vec!["demo".into()],
            board: "/tmp/board".into(),
            aliases: vec!["prod".into()],
            model: Some(ModelFacts {
                file: "model.onnx".into(),
                format: "onnx".into(),
                task: "classification".into(),
                classes: vec!["Adelie".into(), "Gentoo".into()],
                inputs: vec![InputRow {
                    name: "bill_length_mm".into(),
                    dtype: "float64".into(),
                    nullable: true,
                    levels: vec![],
                }],
                outputs: vec!["label".into(), "proba_Adelie".into()],
            }),
            metrics: vec![("accuracy".into(), "0.97".into())],
            importance: vec![("bill_length_mm".into(), 12.0), ("island".into(), 3.0)],
            importance_measure: "splits".into(),
            snippets: vec![Snippet {
                title: "SQL".into(),
                language: "sql".into(),
                code: "SELECT 1 < 2".into(),
            }],
            ..Card::default()
        }
    }

    #[test]
    fn markdown_card_has_every_section() {
        let md = to_markdown(&card());
        for heading in [
            "# Penguin \\<species\\>",
            "## Overview",
            "## Inputs (1)",
            "## Metrics",
            "## Feature importance",
            "## Use it",
        ] {
            assert!(md.contains(heading), "{heading} missing in\n{md}");
        }
        assert!(md.contains("Predicts \\| species \\*from\\* bills"));
        assert!(md.contains("```sql\nSELECT 1 < 2\n```"));
    }

    #[test]
    fn html_card_escapes_user_text_and_draws_the_chart() {
        let html = to_html(&card(), "");
        assert!(html.contains("<title>Penguin &lt;species&gt;</title>"));
        assert!(!html.contains("<species>"));
        assert!(html.contains("<svg"));
        assert!(html.contains("SELECT 1 &lt; 2"));
        assert!(html.contains("<code>penguins@20261128T080000Z-abcde</code>"));
    }

    #[test]
    fn pins_default_titles_give_way_to_the_name() {
        assert_eq!(heading("iris", Some("iris: a pinned file")), "iris");
        assert_eq!(heading("iris", Some("iris: a pinned rds")), "iris");
        assert_eq!(
            heading("iris", Some("Iris: a pinned model for Q3")),
            "Iris: a pinned model for Q3"
        );
        assert_eq!(heading("iris", Some("")), "iris");
        assert_eq!(heading("iris", None), "iris");
    }

    #[test]
    fn code_spans_hold_backticks() {
        assert_eq!(code_span("a`b"), "``a`b``");
        assert_eq!(code_span("`x"), "`` `x ``");
    }
}
