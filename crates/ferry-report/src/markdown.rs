//! Markdown to HTML (CommonMark with the GitHub extensions Jupyter renders: tables,
//! strikethrough, task lists, footnotes).

use pulldown_cmark::{html, Options, Parser};

pub fn to_html(markdown: &str) -> String {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_TASKLISTS);
    options.insert(Options::ENABLE_FOOTNOTES);
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, Parser::new_ext(markdown, options));
    out
}

/// The text of the first level-1 heading (`# Title`), if the document starts with one
/// before any other heading.
pub fn first_heading(markdown: &str) -> Option<String> {
    let mut in_fence = false;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        if let Some(title) = trimmed.strip_prefix("# ") {
            let title = title.trim().trim_end_matches('#').trim();
            return (!title.is_empty()).then(|| title.to_string());
        }
        if trimmed.starts_with("##") {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_tables_and_code() {
        let html = to_html("| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\nx < 1\n```\n");
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains("<td>1</td>"), "{html}");
        assert!(html.contains("x &lt; 1"), "{html}");
    }

    #[test]
    fn finds_the_title() {
        assert_eq!(
            first_heading("```\n# not this\n```\n# Churn model, Q3\n").as_deref(),
            Some("Churn model, Q3")
        );
        assert_eq!(first_heading("## Sub\n# Late"), None);
    }
}
