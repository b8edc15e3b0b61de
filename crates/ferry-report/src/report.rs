//! Reports as `ferry publish` stores them: the file as given, plus a rendered HTML page
//! for notebooks and Markdown. R Markdown and Quarto are published as what they
//! render to (HTML or PDF): ferry runs no R, Python or Quarto.

use serde::{Deserialize, Serialize};

use crate::html::page;
use crate::{markdown, notebook, ReportError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportKind {
    Notebook,
    Markdown,
    Html,
    Pdf,
}

impl ReportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Notebook => "notebook",
            ReportKind::Markdown => "markdown",
            ReportKind::Html => "html",
            ReportKind::Pdf => "pdf",
        }
    }
}

/// What `ferry publish` records about a report (under `user.ferry.report`), and what
/// `ferry site` and `ferry send` read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportMeta {
    pub kind: ReportKind,
    /// The file as published.
    pub source: String,
    /// The file to show: the rendered page, or the source itself.
    pub display: String,
}

/// What to store for one report.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub kind: ReportKind,
    /// The title the report gives itself (notebook metadata or first heading, HTML
    /// `<title>`, Markdown `# heading`).
    pub title: Option<String>,
    /// A rendered page to store beside the source: `(file name, HTML)`.
    pub rendered: Option<(String, String)>,
}

/// The extensions `ferry publish` takes, for messages.
pub const SUPPORTED: &str = ".ipynb, .html, .htm, .md, .markdown, .pdf";

/// Checks and prepares the report file `name` with content `bytes`.
pub fn prepare(name: &str, bytes: &[u8]) -> Result<Prepared> {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let stem = name.rsplit_once('.').map(|(s, _)| s).unwrap_or(name);
    let unsupported = |message: String| ReportError::Unsupported {
        file: name.to_string(),
        message,
    };
    let invalid = |message: &str| ReportError::Invalid {
        file: name.to_string(),
        message: message.to_string(),
    };
    match ext.as_str() {
        "ipynb" => {
            let r = notebook::render(bytes, name)?;
            Ok(Prepared {
                kind: ReportKind::Notebook,
                title: r.title,
                rendered: Some((format!("{stem}.html"), r.html)),
            })
        }
        "md" | "markdown" => {
            let text = std::str::from_utf8(bytes)
                .map_err(|e| invalid(&format!("a Markdown report must be UTF-8 text: {e}")))?;
            let title = markdown::first_heading(text);
            let page_title = title.clone().unwrap_or_else(|| stem.to_string());
            let html = page(&page_title, "", &markdown::to_html(text));
            Ok(Prepared {
                kind: ReportKind::Markdown,
                title,
                rendered: Some((format!("{stem}.html"), html)),
            })
        }
        "html" | "htm" => {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(64 << 10)]);
            Ok(Prepared {
                kind: ReportKind::Html,
                title: html_title(&text),
                rendered: None,
            })
        }
        "pdf" => {
            if !bytes.starts_with(b"%PDF-") {
                return Err(invalid(
                    "not a PDF file: it does not start with the `%PDF-` header",
                ));
            }
            Ok(Prepared {
                kind: ReportKind::Pdf,
                title: None,
                rendered: None,
            })
        }
        "rmd" | "qmd" | "rmarkdown" => Err(unsupported(format!(
            "an R Markdown / Quarto source: render it first (rmarkdown::render() or \
             `quarto render`) and publish the .html or .pdf it makes (ferry runs no R or \
             Quarto); reports ferry publishes: {SUPPORTED}"
        ))),
        _ => Err(unsupported(format!(
            "not a report type ferry publishes (it takes {SUPPORTED}); \
             `ferry push` stores any other file as it is"
        ))),
    }
}

/// The text of an HTML document's `<title>`, entities left as written.
fn html_title(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let open = lower.find("<title")?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find("</title")?;
    let title = text[start..end]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (!title.is_empty()).then_some(title)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_extension() {
        let p = prepare("q3.md", b"# Q3 review\n\ntext").unwrap();
        assert_eq!(p.kind, ReportKind::Markdown);
        assert_eq!(p.title.as_deref(), Some("Q3 review"));
        let (file, html) = p.rendered.unwrap();
        assert_eq!(file, "q3.html");
        assert!(html.contains("<h1>Q3 review</h1>"));

        let p = prepare("r.HTML", b"<html><head><TITLE> Sales\n report </title>").unwrap();
        assert_eq!(
            (p.kind, p.title.as_deref()),
            (ReportKind::Html, Some("Sales report"))
        );
        assert!(p.rendered.is_none());

        assert_eq!(
            prepare("a.pdf", b"%PDF-1.7\n").unwrap().kind,
            ReportKind::Pdf
        );
    }

    #[test]
    fn refusals_say_what_to_do() {
        let e = prepare("a.pdf", b"<html>").unwrap_err().to_string();
        assert!(e.starts_with("a.pdf: not a PDF file"), "{e}");
        let e = prepare("analysis.Rmd", b"---").unwrap_err().to_string();
        assert!(
            e.contains("render it first") && e.contains(".html or .pdf"),
            "{e}"
        );
        let e = prepare("model.pkl", b"\x80").unwrap_err().to_string();
        assert!(e.contains("ferry push"), "{e}");
        let e = prepare("x.md", b"\xff\xfe").unwrap_err().to_string();
        assert!(e.contains("UTF-8"), "{e}");
    }
}
