//! HTML building blocks: escaping and the page shell every page shares (one inline
//! stylesheet, no external resource).

use std::fmt::Write as _;

/// Escapes text for element content and double-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes a path or file name for an `href`/`src`: percent-encodes what is not safe
/// in a URL path segment, keeps `/` between segments.
pub fn url_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// JSON for a `<script type="application/json">` block: `<` is escaped so that no
/// string in the data can close the element.
pub fn script_json(value: &serde_json::Value) -> String {
    serde_json::to_string(value)
        .expect("JSON values serialise")
        .replace('<', "\\u003c")
}

/// A complete page: `title` in the tab, `nav` (already HTML) above `body` (HTML).
pub fn page(title: &str, nav: &str, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + STYLE.len() + 512);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<meta name=\"generator\" content=\"ferry\">\n");
    let _ = writeln!(out, "<title>{}</title>", escape(title));
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>");
    if !nav.is_empty() {
        let _ = writeln!(out, "<nav>{nav}</nav>");
    }
    let _ = writeln!(out, "<main>\n{body}\n</main>\n</body>\n</html>");
    out
}

/// One stylesheet for every page: readable type, tables, code, and the site's index.
pub const STYLE: &str = r#"
:root { --fg: #1d2329; --muted: #5b6670; --line: #d8dee4; --accent: #1f6feb; --bg-code: #f5f7f9; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
nav { padding: .6rem 1.5rem; border-bottom: 1px solid var(--line); background: #fafbfc; }
nav a { color: var(--accent); text-decoration: none; margin-right: 1rem; }
main { max-width: 70rem; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
h1 { font-size: 1.7rem; margin: .8rem 0 .3rem; }
h2 { font-size: 1.25rem; margin: 1.8rem 0 .6rem; border-bottom: 1px solid var(--line); padding-bottom: .2rem; }
h3 { font-size: 1.05rem; margin: 1.2rem 0 .4rem; }
a { color: var(--accent); }
.muted, .meta { color: var(--muted); }
.tag { display: inline-block; font-size: .8rem; padding: 0 .45rem; margin: 0 .25rem .2rem 0; border: 1px solid var(--line); border-radius: 1rem; background: #f0f4f8; }
.kind { font-size: .75rem; text-transform: uppercase; letter-spacing: .04em; color: #fff; background: #57606a; border-radius: .25rem; padding: .05rem .4rem; }
.kind-model { background: #1a7f37; } .kind-report { background: #8250df; } .kind-file { background: #57606a; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .92rem; }
th, td { border: 1px solid var(--line); padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .86rem; }
pre { background: var(--bg-code); padding: .7rem .9rem; overflow-x: auto; border-radius: .3rem; }
pre.snippet { white-space: pre-wrap; word-break: break-all; }
.filters { display: flex; flex-wrap: wrap; gap: .6rem; margin: 1rem 0; }
.filters input, .filters select { font: inherit; padding: .35rem .5rem; border: 1px solid var(--line); border-radius: .3rem; }
.filters input { flex: 1 1 18rem; }
.entry { padding: .7rem 0; border-bottom: 1px solid var(--line); }
.entry h3 { margin: 0 0 .2rem; }
.entry p { margin: .2rem 0; }
iframe.report { width: 100%; height: 80vh; border: 1px solid var(--line); border-radius: .3rem; }
.cell { margin: 1rem 0; }
.cell .prompt { color: var(--muted); font-family: ui-monospace, monospace; font-size: .8rem; }
.output { margin: .3rem 0 .3rem 1rem; }
.output pre { background: #fff; border-left: 3px solid var(--line); border-radius: 0; }
.output pre.stderr { background: #fff5f5; }
.output pre.error { background: #fff0f0; border-left-color: #cf222e; }
.output img { max-width: 100%; }
svg text { font: 12px system-ui, sans-serif; fill: var(--fg); }
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn url_paths_keep_slashes_and_encode_the_rest() {
        assert_eq!(
            url_path("reports/q3 plan/#1.html"),
            "reports/q3%20plan/%231.html"
        );
        assert_eq!(url_path("ü"), "%C3%BC");
    }

    #[test]
    fn script_json_cannot_close_the_script_element() {
        let v = serde_json::json!({"t": "</script><script>alert(1)</script>"});
        assert!(!script_json(&v).contains("</script"));
    }
}
