//! Jupyter notebooks (nbformat 4) to one self-contained HTML page: Markdown cells
//! rendered, code shown with its prompt, and the outputs as Jupyter shows them — the
//! richest representation of each (HTML, SVG, PNG/JPEG/GIF as data URIs, Markdown,
//! LaTeX and JSON as text, plain text), streams, and errors with their traceback.
//! Nothing is executed; JavaScript outputs are left out (they need the live page).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Deserialize;

use crate::html::{escape, page};
use crate::{markdown, ReportError, Result};

/// A rendered notebook.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// From the notebook's metadata, else its first `# ` heading.
    pub title: Option<String>,
    /// The kernel's language (`python`, `R`, …), when the notebook says.
    pub language: Option<String>,
    pub cells: usize,
    pub html: String,
}

#[derive(Deserialize)]
struct Notebook {
    nbformat: u32,
    #[serde(default)]
    metadata: Metadata,
    cells: Vec<Cell>,
}

#[derive(Deserialize, Default)]
struct Metadata {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    kernelspec: Option<Kernelspec>,
    #[serde(default)]
    language_info: Option<LanguageInfo>,
}

#[derive(Deserialize)]
struct Kernelspec {
    #[serde(default)]
    language: Option<String>,
}

#[derive(Deserialize)]
struct LanguageInfo {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "cell_type", rename_all = "lowercase")]
enum Cell {
    Markdown {
        source: MultiLine,
        #[serde(default)]
        attachments: BTreeMap<String, BTreeMap<String, MultiLine>>,
    },
    Code {
        source: MultiLine,
        #[serde(default)]
        execution_count: Option<u64>,
        #[serde(default)]
        outputs: Vec<Output>,
    },
    Raw {
        source: MultiLine,
        #[serde(default)]
        metadata: RawMetadata,
    },
}

#[derive(Deserialize, Default)]
struct RawMetadata {
    /// nbconvert's target format of a raw cell (`text/html`, `text/markdown`, …).
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    raw_mimetype: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "output_type", rename_all = "snake_case")]
enum Output {
    Stream {
        #[serde(default)]
        name: String,
        text: MultiLine,
    },
    DisplayData {
        #[serde(default)]
        data: BTreeMap<String, serde_json::Value>,
    },
    ExecuteResult {
        #[serde(default)]
        data: BTreeMap<String, serde_json::Value>,
    },
    Error {
        #[serde(default)]
        ename: String,
        #[serde(default)]
        evalue: String,
        #[serde(default)]
        traceback: Vec<String>,
    },
}

/// nbformat stores text as one string or as a list of lines.
#[derive(Deserialize)]
#[serde(untagged)]
enum MultiLine {
    One(String),
    Lines(Vec<String>),
}

impl MultiLine {
    fn text(&self) -> String {
        match self {
            MultiLine::One(s) => s.clone(),
            MultiLine::Lines(lines) => lines.concat(),
        }
    }
}

/// Output representations in the order Jupyter prefers them.
const PREFERRED: [&str; 9] = [
    "text/html",
    "image/svg+xml",
    "image/png",
    "image/jpeg",
    "image/gif",
    "text/markdown",
    "text/latex",
    "application/json",
    "text/plain",
];

/// Renders `bytes` (the notebook file named `file`, for messages) to one page.
pub fn render(bytes: &[u8], file: &str) -> Result<Rendered> {
    let invalid = |message: String| ReportError::Invalid {
        file: file.to_string(),
        message,
    };
    // The format is checked first, so an nbformat 3 file gets a message about that
    // rather than about a missing `cells` field.
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| invalid(format!("not a Jupyter notebook: invalid JSON: {e}")))?;
    match value.get("nbformat").and_then(|v| v.as_u64()) {
        Some(4) => {}
        Some(n) => {
            return Err(ReportError::Unsupported {
                file: file.to_string(),
                message: format!(
                    "nbformat {n}: ferry reads nbformat 4 notebooks \
                     (convert with `jupyter nbconvert --to notebook --nbformat 4`)"
                ),
            })
        }
        None => {
            return Err(invalid(
                "not a Jupyter notebook: no integer `nbformat` field at the top level".into(),
            ))
        }
    }
    let notebook: Notebook = serde_json::from_value(value)
        .map_err(|e| invalid(format!("not a valid nbformat 4 notebook: {e}")))?;
    debug_assert_eq!(notebook.nbformat, 4);

    let language = notebook
        .metadata
        .kernelspec
        .as_ref()
        .and_then(|k| k.language.clone())
        .or_else(|| {
            notebook
                .metadata
                .language_info
                .as_ref()
                .and_then(|l| l.name.clone())
        });
    let mut title = notebook.metadata.title.clone().filter(|t| !t.is_empty());
    let mut body = String::new();
    for (i, cell) in notebook.cells.iter().enumerate() {
        match cell {
            Cell::Markdown {
                source,
                attachments,
            } => {
                let mut text = source.text();
                if title.is_none() && i == 0 {
                    title = markdown::first_heading(&text);
                }
                for (name, bundle) in attachments {
                    if let Some(uri) = bundle.iter().find_map(|(mime, data)| {
                        image_data_uri(mime, &serde_json::Value::String(data.text()))
                    }) {
                        text = text.replace(&format!("attachment:{name}"), &uri);
                    }
                }
                let _ = writeln!(
                    body,
                    "<div class=\"cell markdown\">\n{}</div>",
                    markdown::to_html(&text)
                );
            }
            Cell::Code {
                source,
                execution_count,
                outputs,
            } => {
                let prompt = execution_count.map(|n| n.to_string()).unwrap_or_default();
                let lang = language.as_deref().unwrap_or("text");
                let _ = writeln!(
                    body,
                    "<div class=\"cell code\">\n<div class=\"prompt\">In [{prompt}]:</div>\n\
                     <pre><code class=\"language-{}\">{}</code></pre>",
                    escape(lang),
                    escape(&source.text())
                );
                for output in outputs {
                    render_output(output, &mut body);
                }
                body.push_str("</div>\n");
            }
            Cell::Raw { source, metadata } => {
                let format = metadata
                    .format
                    .as_deref()
                    .or(metadata.raw_mimetype.as_deref());
                match format {
                    Some("text/html") => {
                        let _ = writeln!(body, "<div class=\"cell raw\">{}</div>", source.text());
                    }
                    Some("text/markdown") => {
                        let _ = writeln!(
                            body,
                            "<div class=\"cell raw\">{}</div>",
                            markdown::to_html(&source.text())
                        );
                    }
                    // Raw cells for other targets (LaTeX, reST) are not shown in HTML,
                    // as in nbconvert.
                    _ => {}
                }
            }
        }
    }
    let page_title = title.clone().unwrap_or_else(|| stem(file).to_string());
    Ok(Rendered {
        title,
        language,
        cells: notebook.cells.len(),
        html: page(&page_title, "", &body),
    })
}

fn render_output(output: &Output, out: &mut String) {
    match output {
        Output::Stream { name, text } => {
            let class = if name == "stderr" { "stderr" } else { "stdout" };
            let _ = writeln!(
                out,
                "<div class=\"output\"><pre class=\"{class}\">{}</pre></div>",
                escape(&strip_ansi(&text.text()))
            );
        }
        Output::DisplayData { data } | Output::ExecuteResult { data } => {
            if let Some(html) = rich(data) {
                let _ = writeln!(out, "<div class=\"output\">{html}</div>");
            }
        }
        Output::Error {
            ename,
            evalue,
            traceback,
        } => {
            let text = if traceback.is_empty() {
                format!("{ename}: {evalue}")
            } else {
                traceback.join("\n")
            };
            let _ = writeln!(
                out,
                "<div class=\"output\"><pre class=\"error\">{}</pre></div>",
                escape(&strip_ansi(&text))
            );
        }
    }
}

/// The best representation of a display bundle, as HTML.
fn rich(data: &BTreeMap<String, serde_json::Value>) -> Option<String> {
    for mime in PREFERRED {
        let Some(value) = data.get(mime) else {
            continue;
        };
        let text = || multiline_value(value);
        let html = match mime {
            // Trusted like Jupyter trusts a notebook it renders: HTML (pandas tables,
            // plots) goes in as it is. The site shows reports in a sandboxed frame.
            "text/html" => text(),
            "image/svg+xml" | "image/png" | "image/jpeg" | "image/gif" => {
                let Some(uri) = image_data_uri(mime, value) else {
                    continue;
                };
                format!("<img src=\"{}\" alt=\"\">", escape(&uri))
            }
            "text/markdown" => markdown::to_html(&text()),
            "application/json" => format!(
                "<pre>{}</pre>",
                escape(&serde_json::to_string_pretty(value).unwrap_or_default())
            ),
            _ => format!("<pre>{}</pre>", escape(&strip_ansi(&text()))),
        };
        return Some(html);
    }
    None
}

fn multiline_value(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(lines) => lines.iter().filter_map(|l| l.as_str()).collect(),
        other => other.to_string(),
    }
}

/// A `data:` URI for an image output: base64 as stored for raster images (checked to
/// be base64), percent-encoded text for SVG.
fn image_data_uri(mime: &str, value: &serde_json::Value) -> Option<String> {
    let text = multiline_value(value);
    if mime == "image/svg+xml" {
        return Some(format!(
            "data:image/svg+xml,{}",
            crate::html::url_path(&text).replace('/', "%2F")
        ));
    }
    if !matches!(mime, "image/png" | "image/jpeg" | "image/gif") {
        return None;
    }
    let b64: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let valid = !b64.is_empty()
        && b64
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    valid.then(|| format!("data:{mime};base64,{b64}"))
}

/// Removes ANSI escape sequences (colours in IPython tracebacks).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                // Parameters and intermediates, up to the final byte (@ to ~).
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

fn stem(file: &str) -> &str {
    let name = file.rsplit('/').next().unwrap_or(file);
    name.rsplit_once('.').map(|(s, _)| s).unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTEBOOK: &str = r##"{
      "nbformat": 4, "nbformat_minor": 5,
      "metadata": {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}},
      "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Churn, Q3\n", "Some *analysis*."]},
        {"cell_type": "code", "execution_count": 3, "metadata": {},
         "source": "df[df.x < 3]",
         "outputs": [
           {"output_type": "stream", "name": "stdout", "text": ["rows: 10\n"]},
           {"output_type": "execute_result", "execution_count": 3, "metadata": {},
            "data": {"text/plain": ["   x\n0  1"], "text/html": "<table><tr><td>1</td></tr></table>"}},
           {"output_type": "display_data", "metadata": {},
            "data": {"image/png": "iVBORw0KGgo=\n", "text/plain": "<Figure>"}},
           {"output_type": "error", "ename": "ValueError", "evalue": "bad",
            "traceback": ["\u001b[0;31mValueError\u001b[0m: bad"]}
         ]},
        {"cell_type": "raw", "metadata": {"format": "text/latex"}, "source": "\\LaTeX"}
      ]
    }"##;

    #[test]
    fn renders_cells_and_outputs() {
        let r = render(NOTEBOOK.as_bytes(), "churn.ipynb").unwrap();
        assert_eq!(r.title.as_deref(), Some("Churn, Q3"));
        assert_eq!(r.language.as_deref(), Some("python"));
        assert_eq!(r.cells, 3);
        assert!(r.html.contains("<title>Churn, Q3</title>"));
        assert!(r.html.contains("<em>analysis</em>"));
        assert!(r.html.contains("In [3]:"));
        assert!(r.html.contains("df[df.x &lt; 3]"));
        assert!(r.html.contains("rows: 10"));
        // The HTML representation wins over text/plain.
        assert!(r.html.contains("<table><tr><td>1</td></tr></table>"));
        assert!(!r.html.contains("   x\n0  1"));
        assert!(r
            .html
            .contains("src=\"data:image/png;base64,iVBORw0KGgo=\""));
        assert!(r.html.contains("ValueError: bad") && !r.html.contains('\u{1b}'));
        assert!(!r.html.contains("LaTeX"), "raw LaTeX cells are not shown");
    }

    #[test]
    fn invalid_json_names_the_file_and_position() {
        let e = render(b"{\"cells\": [", "a.ipynb").unwrap_err().to_string();
        assert!(
            e.starts_with("a.ipynb: not a Jupyter notebook: invalid JSON"),
            "{e}"
        );
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn old_formats_and_other_json_are_refused() {
        let e = render(br#"{"nbformat": 3, "worksheets": []}"#, "old.ipynb")
            .unwrap_err()
            .to_string();
        assert!(e.contains("nbformat 3") && e.contains("nbconvert"), "{e}");
        let e = render(br#"{"a": 1}"#, "x.ipynb").unwrap_err().to_string();
        assert!(e.contains("no integer `nbformat`"), "{e}");
        let e = render(
            br#"{"nbformat": 4, "cells": [{"cell_type": "code"}]}"#,
            "y.ipynb",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("not a valid nbformat 4 notebook"), "{e}");
    }

    #[test]
    fn deep_json_is_an_error_not_a_stack_overflow() {
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        assert!(render(deep.as_bytes(), "deep.ipynb").is_err());
    }

    #[test]
    fn bad_base64_images_are_dropped() {
        let mut data = BTreeMap::new();
        data.insert(
            "image/png".to_string(),
            serde_json::json!("\"><script>alert(1)</script>"),
        );
        assert_eq!(rich(&data), None);
    }
}
