//! The knowledge repo: a static, self-contained site of everything on a board. An
//! index of models, reports and other artefacts with search and filters (a small
//! inline script over a list rendered in the page, so it also reads without
//! JavaScript), a page per model (its card), a page per report (shown in a frame, with
//! its versions), and a page per other artefact. No CDN and no fetch: every page works
//! from `file://` and from any web server.
//!
//! [`render`] returns the pages; the report files themselves are copied by the caller
//! to [`report_file_path`], where the pages link to them.

use std::fmt::Write as _;

use serde::Serialize;

use crate::card::{self, Card};
use crate::html::{escape, page, script_json, url_path};
use crate::report::ReportKind;

#[derive(Debug, Clone, Serialize)]
pub struct Site {
    /// Where the board is, as given.
    pub board: String,
    /// When the site was generated (`YYYY-MM-DD HH:MM UTC`).
    pub generated: String,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    Model,
    Report,
    File,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Model => "model",
            EntryKind::Report => "report",
            EntryKind::File => "file",
        }
    }

    fn folder(self) -> &'static str {
        match self {
            EntryKind::Model => "models",
            EntryKind::Report => "reports",
            EntryKind::File => "files",
        }
    }
}

/// One pin on the board, described by its latest version.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub name: String,
    pub kind: EntryKind,
    pub title: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<String>,
    /// Who pushed the latest version (`user@host`), when ferry pushed it.
    pub author: Option<String>,
    /// The latest version's creation time (`YYYY-MM-DD HH:MM:SS UTC`), sorts as text.
    pub created: String,
    /// Newest first.
    pub versions: Vec<SiteVersion>,
    /// For models.
    #[serde(skip)]
    pub card: Option<Card>,
    /// For reports.
    pub report_kind: Option<ReportKind>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SiteVersion {
    pub version: String,
    pub created: String,
    pub aliases: Vec<String>,
    pub files: Vec<String>,
    /// For reports: the file to show (the rendered HTML, the HTML or the PDF).
    pub display: Option<String>,
}

impl Entry {
    pub fn heading(&self) -> &str {
        card::heading(&self.name, self.title.as_deref())
    }

    /// The entry's page, relative to the site root.
    pub fn page_path(&self) -> String {
        format!("{}/{}.html", self.kind.folder(), self.name)
    }
}

/// Where a report's file is copied, relative to the site root.
pub fn report_file_path(name: &str, version: &str, file: &str) -> String {
    format!("reports/{name}/{version}/{file}")
}

/// Every page of the site, as `(path relative to the root, content)`; also
/// `ferry-site.json`, the machine-readable index (and the mark of a ferry site, which
/// `ferry site` checks before replacing a folder).
pub fn render(site: &Site) -> Vec<(String, String)> {
    let mut entries: Vec<&Entry> = site.entries.iter().collect();
    entries.sort_by(|a, b| b.created.cmp(&a.created).then(a.name.cmp(&b.name)));
    let mut pages = vec![("index.html".to_string(), index(site, &entries))];
    for entry in &entries {
        let html = match entry.kind {
            EntryKind::Model => model_page(site, entry),
            EntryKind::Report => report_page(site, entry),
            EntryKind::File => file_page(site, entry),
        };
        pages.push((entry.page_path(), html));
    }
    let manifest = serde_json::json!({
        "generator": "ferry",
        "ferry_version": env!("CARGO_PKG_VERSION"),
        "board": site.board,
        "generated": site.generated,
        "entries": entries,
    });
    pages.push((
        MANIFEST.to_string(),
        serde_json::to_string_pretty(&manifest).expect("serialises") + "\n",
    ));
    pages
}

/// The file that marks a folder as a ferry site.
pub const MANIFEST: &str = "ferry-site.json";

/// Navigation for a page one folder below the root.
fn nav(board: &str) -> String {
    format!(
        "<a href=\"../index.html\">← All models and reports</a><span class=\"muted\">{}</span>",
        escape(board)
    )
}

fn index(site: &Site, entries: &[&Entry]) -> String {
    let mut tags: Vec<&str> = entries
        .iter()
        .flat_map(|e| e.tags.iter().map(String::as_str))
        .collect();
    tags.sort_unstable();
    tags.dedup();
    let count = |k: EntryKind| entries.iter().filter(|e| e.kind == k).count();

    let mut body = String::new();
    let _ = writeln!(
        body,
        "<h1>Models and reports</h1>\n<p class=\"muted\">{} models, {} reports, {} other artefacts \
         on <code>{}</code>; generated {}.</p>",
        count(EntryKind::Model),
        count(EntryKind::Report),
        count(EntryKind::File),
        escape(&site.board),
        escape(&site.generated)
    );
    body.push_str(
        "<form class=\"filters\" role=\"search\" onsubmit=\"return false\">\n\
         <input id=\"q\" type=\"search\" placeholder=\"Search titles, names, descriptions, tags, authors\" \
         aria-label=\"Search\" autofocus>\n\
         <select id=\"kind\" aria-label=\"Type\"><option value=\"\">All types</option>\
         <option value=\"model\">Models</option><option value=\"report\">Reports</option>\
         <option value=\"file\">Other artefacts</option></select>\n\
         <select id=\"tag\" aria-label=\"Tag\"><option value=\"\">All tags</option>",
    );
    for tag in &tags {
        let _ = write!(body, "<option>{}</option>", escape(tag));
    }
    body.push_str("</select>\n</form>\n<p id=\"shown\" class=\"muted\"></p>\n");
    if entries.is_empty() {
        body.push_str("<p>The board holds no pins yet: <code>ferry push</code> a model or <code>ferry publish</code> a report.</p>\n");
    }
    body.push_str("<div id=\"entries\">\n");
    for e in entries {
        let search = [
            e.name.as_str(),
            e.heading(),
            e.description.as_deref().unwrap_or(""),
            e.author.as_deref().unwrap_or(""),
            &e.tags.join(" "),
        ]
        .join(" ")
        .to_lowercase();
        let _ = write!(
            body,
            "<div class=\"entry\" data-kind=\"{}\" data-tags=\"{}\" data-search=\"{}\">\n\
             <h3><a href=\"{}\">{}</a> <span class=\"kind kind-{}\">{}</span></h3>\n",
            e.kind.as_str(),
            escape(&script_json(&serde_json::json!(e.tags))),
            escape(&search),
            url_path(&e.page_path()),
            escape(e.heading()),
            e.kind.as_str(),
            e.kind.as_str(),
        );
        if let Some(d) = &e.description {
            let _ = writeln!(body, "<p>{}</p>", escape(d));
        }
        let _ = write!(
            body,
            "<p class=\"meta\"><code>{}</code> · {} · {} version{}",
            escape(&e.name),
            escape(&e.created),
            e.versions.len(),
            if e.versions.len() == 1 { "" } else { "s" }
        );
        if let Some(a) = &e.author {
            let _ = write!(body, " · {}", escape(a));
        }
        body.push_str("</p>\n");
        if !e.tags.is_empty() {
            body.push_str("<p>");
            for t in &e.tags {
                let _ = write!(body, "<span class=\"tag\">{}</span>", escape(t));
            }
            body.push_str("</p>\n");
        }
        body.push_str("</div>\n");
    }
    body.push_str("</div>\n");
    let _ = writeln!(body, "<script>{SEARCH_JS}</script>");
    page("Models and reports", "", &body)
}

/// Filters the rendered list: text search, type and tag. The query string
/// (`?q=…&kind=…&tag=…`) sets the filters on load, so a filtered view can be linked.
const SEARCH_JS: &str = r#"
(function () {
  var q = document.getElementById('q'), kind = document.getElementById('kind'),
      tag = document.getElementById('tag'), shown = document.getElementById('shown');
  var entries = Array.prototype.slice.call(document.querySelectorAll('#entries .entry'));
  var params = new URLSearchParams(window.location.search);
  q.value = params.get('q') || ''; kind.value = params.get('kind') || ''; tag.value = params.get('tag') || '';
  function apply() {
    var words = q.value.toLowerCase().split(/\s+/).filter(Boolean), n = 0;
    entries.forEach(function (e) {
      var text = e.getAttribute('data-search'), tags = JSON.parse(e.getAttribute('data-tags'));
      var ok = words.every(function (w) { return text.indexOf(w) >= 0; })
        && (!kind.value || e.getAttribute('data-kind') === kind.value)
        && (!tag.value || tags.indexOf(tag.value) >= 0);
      e.hidden = !ok; if (ok) n++;
    });
    shown.textContent = n + ' of ' + entries.length + ' shown';
  }
  [q, kind, tag].forEach(function (el) { el.addEventListener('input', apply); el.addEventListener('change', apply); });
  apply();
})();
"#;

fn model_page(site: &Site, entry: &Entry) -> String {
    match &entry.card {
        Some(card) => page(&card.heading(), &nav(&site.board), &card::body_html(card)),
        None => file_page(site, entry),
    }
}

fn header(entry: &Entry) -> String {
    let mut out = format!(
        "<h1>{}</h1>\n<p><span class=\"kind kind-{}\">{}</span> <code>{}</code>",
        escape(entry.heading()),
        entry.kind.as_str(),
        entry
            .report_kind
            .map(|k| format!("{} {}", entry.kind.as_str(), k.as_str()))
            .unwrap_or_else(|| entry.kind.as_str().to_string()),
        escape(&entry.name)
    );
    if let Some(a) = &entry.author {
        let _ = write!(out, " · {}", escape(a));
    }
    let _ = writeln!(out, " · {}</p>", escape(&entry.created));
    if let Some(d) = &entry.description {
        let _ = writeln!(out, "<p>{}</p>", escape(d));
    }
    if !entry.tags.is_empty() {
        out.push_str("<p>");
        for t in &entry.tags {
            let _ = write!(out, "<span class=\"tag\">{}</span>", escape(t));
        }
        out.push_str("</p>\n");
    }
    out
}

fn report_page(site: &Site, entry: &Entry) -> String {
    let mut body = header(entry);
    // Links from reports/<name>.html to reports/<name>/<version>/<file>.
    let link = |v: &SiteVersion, file: &str| {
        url_path(&report_file_path(&entry.name, &v.version, file)["reports/".len()..])
    };
    if let Some(latest) = entry.versions.first() {
        if let Some(display) = &latest.display {
            let src = link(latest, display);
            let _ = writeln!(
                body,
                "<p><a href=\"{src}\">Open the report on its own page</a></p>"
            );
            if display.to_ascii_lowercase().ends_with(".pdf") {
                // Chromium's PDF viewer does not run in a sandboxed frame.
                let _ = writeln!(
                    body,
                    "<iframe class=\"report\" title=\"{}\" src=\"{src}\"></iframe>",
                    escape(entry.heading())
                );
            } else {
                // The report's own scripts (plots) run, but cannot reach this page.
                let _ = writeln!(
                    body,
                    "<iframe class=\"report\" title=\"{}\" sandbox=\"allow-scripts allow-popups\" \
                     src=\"{src}\"></iframe>",
                    escape(entry.heading())
                );
            }
        }
    }
    body.push_str(&versions_table(entry, Some(&link)));
    let _ = writeln!(
        body,
        "<h2>Get it</h2>\n<pre class=\"snippet\">ferry pull {} --output {}</pre>",
        escape(&entry.name),
        escape(&entry.name)
    );
    page(entry.heading(), &nav(&site.board), &body)
}

fn file_page(site: &Site, entry: &Entry) -> String {
    let mut body = header(entry);
    body.push_str(&versions_table(entry, None));
    let _ = writeln!(
        body,
        "<h2>Get it</h2>\n<pre class=\"snippet\">ferry pull {} --output {}</pre>",
        escape(&entry.name),
        escape(&entry.name)
    );
    page(entry.heading(), &nav(&site.board), &body)
}

type Link<'a> = &'a dyn Fn(&SiteVersion, &str) -> String;

fn versions_table(entry: &Entry, link: Option<Link>) -> String {
    let mut out = format!(
        "<h2>Versions ({})</h2>\n<table><tr><th>version</th><th>created</th><th>aliases</th><th>files</th></tr>\n",
        entry.versions.len()
    );
    for v in &entry.versions {
        let files: Vec<String> = v
            .files
            .iter()
            .map(|f| match link {
                Some(link) => format!("<a href=\"{}\">{}</a>", link(v, f), escape(f)),
                None => format!("<code>{}</code>", escape(f)),
            })
            .collect();
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&v.version),
            escape(&v.created),
            escape(&v.aliases.join(", ")),
            files.join("<br>")
        );
    }
    out.push_str("</table>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, kind: EntryKind, created: &str) -> Entry {
        Entry {
            name: name.into(),
            kind,
            title: None,
            description: Some(format!("about {name}")),
            tags: vec!["team-a".into()],
            author: Some("ana@host".into()),
            created: created.into(),
            versions: vec![SiteVersion {
                version: "20261128T080000Z-abcde".into(),
                created: created.into(),
                aliases: vec![],
                files: vec!["r.ipynb".into(), "r.html".into()],
                display: Some("r.html".into()),
            }],
            card: None,
            report_kind: (kind == EntryKind::Report).then_some(ReportKind::Notebook),
        }
    }

    #[test]
    fn pages_for_every_entry_newest_first() {
        let site = Site {
            board: "/b".into(),
            generated: "2026-11-28 08:00 UTC".into(),
            entries: vec![
                entry("old", EntryKind::File, "2026-01-01 00:00:00 UTC"),
                entry("q3", EntryKind::Report, "2026-11-01 00:00:00 UTC"),
            ],
        };
        let pages = render(&site);
        let paths: Vec<&str> = pages.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "index.html",
                "reports/q3.html",
                "files/old.html",
                "ferry-site.json"
            ]
        );
        let index = &pages[0].1;
        assert!(index.find("reports/q3.html").unwrap() < index.find("files/old.html").unwrap());
        let report = &pages[1].1;
        assert!(
            report.contains("src=\"q3/20261128T080000Z-abcde/r.html\""),
            "{report}"
        );
        assert!(report.contains("sandbox=\"allow-scripts allow-popups\""));
        assert!(report.contains("href=\"../index.html\""));
    }

    #[test]
    fn user_text_cannot_break_out() {
        let mut e = entry("x", EntryKind::File, "2026");
        e.title = Some("<img src=x onerror=alert(1)>".into());
        e.tags = vec!["\"'><script>".into()];
        let site = Site {
            board: "b".into(),
            generated: "g".into(),
            entries: vec![e],
        };
        for (_, html) in render(&site).iter().filter(|(p, _)| p.ends_with(".html")) {
            assert!(!html.contains("<img src=x"));
            assert!(!html.contains("'><script>"));
        }
    }
}
