//! Reports, model cards and the knowledge-repo site through the `ferry` binary:
//! `ferry publish` (real notebooks executed by Jupyter, nbconvert HTML, Markdown, a
//! matplotlib PDF: tests/fixtures/reports), `ferry card`, `ferry site` (every link
//! checked, and the pages opened in headless Chromium when it is installed; CI installs
//! it and sets FERRY_TEST_CHROMIUM=1 so that a missing browser fails instead of
//! skipping).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_ferry");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn reports() -> PathBuf {
    repo().join("tests/fixtures/reports")
}

fn ferry(board: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--board")
        .arg(board)
        .output()
        .unwrap()
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fails(out: Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected exit 1\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stderr).unwrap()
}

fn expected() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(reports().join("expected.json")).unwrap()).unwrap()
}

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_published_notebook_is_stored_with_its_rendered_page() {
    let board = tempfile::tempdir().unwrap();
    let nb = reports().join("analysis.ipynb");
    let out = ok(ferry(
        board.path(),
        &[
            "publish",
            arg(&nb),
            "--name",
            "q3-bills",
            "--tag",
            "penguins",
            "--json",
        ],
    ));
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["kind"], "notebook");
    assert_eq!(json["display"], "analysis.html");

    let show: serde_json::Value =
        serde_json::from_str(&ok(ferry(board.path(), &["show", "q3-bills", "--json"]))).unwrap();
    let meta = &show["meta"];
    assert_eq!(meta["type"], "report");
    assert_eq!(
        meta["file"],
        serde_json::json!(["analysis.ipynb", "analysis.html"])
    );
    let exp = expected();
    // The title comes from the notebook's first heading.
    assert_eq!(meta["title"], exp["title"]);
    assert_eq!(meta["user"]["ferry"]["report"]["kind"], "notebook");
    assert_eq!(
        meta["user"]["ferry"]["tags"],
        serde_json::json!(["penguins"])
    );

    // What Jupyter stored is what the page shows: the stdout, the stderr, the error,
    // the pandas table as HTML, the plot as a PNG data URI.
    let pulled = tempfile::tempdir().unwrap();
    ok(ferry(
        board.path(),
        &["pull", "q3-bills", "--output", arg(pulled.path())],
    ));
    let original = std::fs::read(pulled.path().join("analysis.ipynb")).unwrap();
    assert_eq!(
        original,
        std::fs::read(&nb).unwrap(),
        "the notebook is stored as is"
    );
    let html = std::fs::read_to_string(pulled.path().join("analysis.html")).unwrap();
    let text = |k: &str| exp[k].as_str().unwrap().to_string();
    assert!(html.contains(&format!("<title>{}</title>", text("title"))));
    for key in ["stdout", "stderr"] {
        let want = ferry_escape(&text(key));
        assert!(html.contains(&want), "{key} {want:?} not in the page");
    }
    assert!(
        html.contains(&text("groupby_html")),
        "the DataFrame's HTML is not in the page"
    );
    assert!(html.contains(&format!("data:image/png;base64,{}", text("png_prefix"))));
    assert!(html.contains(&ferry_escape(&format!(
        "{}: {}",
        text("ename"),
        text("evalue")
    ))));
    assert!(!html.contains('\u{1b}'), "ANSI colour codes are stripped");
}

/// The escaping of text in the rendered page (the five HTML specials).
fn ferry_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[test]
fn broken_and_unsupported_reports_publish_nothing() {
    let board = tempfile::tempdir().unwrap();
    let cases: [(&str, &[&str]); 5] = [
        (
            "broken.ipynb",
            &[
                "broken.ipynb",
                "not a Jupyter notebook: invalid JSON",
                "line",
            ],
        ),
        ("old_v3.ipynb", &["nbformat 3", "nbconvert"]),
        (
            "analysis.Rmd",
            &["analysis.Rmd", "render it first", ".html or .pdf"],
        ),
        (
            "expected.json",
            &["not a report type ferry publishes", "ferry push"],
        ),
        (".", &["a report is one file"]),
    ];
    for (file, needles) in cases {
        let path = reports().join(file);
        let err = fails(ferry(board.path(), &["publish", arg(&path), "--name", "r"]));
        for needle in needles {
            assert!(err.contains(needle), "{file}: {needle:?} not in {err}");
        }
        assert!(err.starts_with("error: "), "{err}");
    }
    // A PDF that is not one.
    let fake = tempfile::Builder::new().suffix(".pdf").tempfile().unwrap();
    std::fs::write(fake.path(), "<html>").unwrap();
    let err = fails(ferry(
        board.path(),
        &["publish", arg(fake.path()), "--name", "r"],
    ));
    assert!(err.contains("not a PDF file"), "{err}");
    // Nothing reached the board.
    assert_eq!(ok(ferry(board.path(), &["list", "--json"])).trim(), "[]");
}

#[test]
fn html_markdown_and_pdf_reports() {
    let board = tempfile::tempdir().unwrap();
    for (file, kind, files) in [
        ("analysis.html", "html", vec!["analysis.html"]),
        ("summary.md", "markdown", vec!["summary.md", "summary.html"]),
        ("figure.pdf", "pdf", vec!["figure.pdf"]),
    ] {
        let name = file.replace('.', "-");
        let out = ok(ferry(
            board.path(),
            &[
                "publish",
                arg(&reports().join(file)),
                "--name",
                &name,
                "--json",
            ],
        ));
        let json: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(json["kind"], kind, "{file}");
        let show: serde_json::Value =
            serde_json::from_str(&ok(ferry(board.path(), &["show", &name, "--json"]))).unwrap();
        let stored: Vec<String> = match &show["meta"]["file"] {
            serde_json::Value::String(s) => vec![s.clone()],
            v => serde_json::from_value(v.clone()).unwrap(),
        };
        assert_eq!(stored, files, "{file}");
    }
    // Publishing the same report again stores nothing new.
    let out = Command::new(BIN)
        .args([
            "publish",
            arg(&reports().join("summary.md")),
            "--name",
            "summary-md",
        ])
        .arg("--board")
        .arg(board.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unchanged"));
}

fn push_models(board: &Path) {
    let xgb = repo().join("tests/fixtures/xgboost/xgb_multi_softprob/model.json");
    ok(ferry(
        board,
        &[
            "push",
            arg(&xgb),
            "--name",
            "iris-xgb",
            "--title",
            "Iris <species>",
            "--description",
            "Which iris, from petals",
            "--meta",
            "owner=ana",
            "--tag",
            "iris",
            "--alias",
            "prod",
            "--quiet",
        ],
    ));
    let penguins = repo().join("tests/fixtures/onnx/skl_pipeline_penguins/model.onnx");
    ok(ferry(
        board,
        &[
            "push",
            arg(&penguins),
            "--name",
            "penguins",
            "--tag",
            "penguins",
            "--quiet",
        ],
    ));
}

#[test]
fn model_cards_in_html_and_markdown() {
    let board = tempfile::tempdir().unwrap();
    push_models(board.path());
    let dir = tempfile::tempdir().unwrap();
    let html_path = dir.path().join("card.html");
    ok(ferry(
        board.path(),
        &[
            "card",
            "iris-xgb@prod",
            "--output",
            arg(&html_path),
            "--dialect",
            "postgres",
        ],
    ));
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.contains("<title>Iris &lt;species&gt;</title>"));
    assert!(html.contains("<svg"), "an importance chart");
    assert!(html.contains("petal_length_cm"));
    assert!(html.contains("Which iris, from petals"));
    assert!(html.contains("owner"));
    assert!(html.contains("(postgres)"), "the SQL snippet's dialect");
    assert!(html.contains("/models/iris-xgb/predict"), "a curl call");
    assert!(html.contains("ferry pull iris-xgb@"), "a pull command");
    assert!(html.contains("Alias history"));

    let md = ok(ferry(board.path(), &["card", "penguins"]));
    assert!(md.starts_with("# penguins\n"), "{md}");
    for needle in [
        "## Inputs",
        "`island`",
        "Adelie",
        "```sql",
        "## Versions (1)",
    ] {
        assert!(md.contains(needle), "{needle} not in\n{md}");
    }
    let md_path = dir.path().join("card.md");
    ok(ferry(
        board.path(),
        &["card", "penguins", "--output", arg(&md_path)],
    ));
    assert_eq!(std::fs::read_to_string(&md_path).unwrap(), md);

    // Not a model, an unknown output type, an unknown dialect: clear errors, no file.
    ok(ferry(
        board.path(),
        &[
            "publish",
            arg(&reports().join("summary.md")),
            "--name",
            "weekly",
        ],
    ));
    let err = fails(ferry(board.path(), &["card", "weekly"]));
    assert!(
        err.contains("type report") && err.contains("describes models"),
        "{err}"
    );
    let err = fails(ferry(
        board.path(),
        &[
            "card",
            "penguins",
            "--output",
            arg(&dir.path().join("c.pdf")),
        ],
    ));
    assert!(err.contains("FILE.html or FILE.md"), "{err}");
    let err = fails(ferry(
        board.path(),
        &["card", "penguins", "--dialect", "excel"],
    ));
    assert!(err.contains("excel"), "{err}");
    assert!(!dir.path().join("c.pdf").exists());
}

/// Builds a board with every kind of entry and writes its site.
fn site_fixture() -> (tempfile::TempDir, tempfile::TempDir) {
    let board = tempfile::tempdir().unwrap();
    push_models(board.path());
    let nb = reports().join("analysis.ipynb");
    ok(ferry(
        board.path(),
        &[
            "publish",
            arg(&nb),
            "--name",
            "q3-bills",
            "--tag",
            "penguins",
            "--description",
            "Bill lengths by species",
            "--quiet",
        ],
    ));
    // A second version of the same report, and a PDF report, and a plain file.
    ok(ferry(
        board.path(),
        &[
            "publish",
            arg(&nb),
            "--name",
            "q3-bills",
            "--force",
            "--quiet",
        ],
    ));
    ok(ferry(
        board.path(),
        &[
            "publish",
            arg(&reports().join("figure.pdf")),
            "--name",
            "figure",
            "--title",
            "Bill length histogram",
            "--quiet",
        ],
    ));
    ok(ferry(
        board.path(),
        &[
            "push",
            arg(&reports().join("summary.md")),
            "--name",
            "notes",
            "--quiet",
        ],
    ));
    let out = tempfile::tempdir().unwrap();
    (board, out)
}

#[test]
fn the_site_links_every_page_and_file() {
    let (board, out) = site_fixture();
    let site = out.path().join("site");
    let printed = ok(ferry(board.path(), &["site", "--output", arg(&site)]));
    assert_eq!(printed.trim(), site.join("index.html").to_str().unwrap());
    for page in [
        "index.html",
        "models/iris-xgb.html",
        "models/penguins.html",
        "reports/q3-bills.html",
        "reports/figure.html",
        "files/notes.html",
        "ferry-site.json",
    ] {
        assert!(site.join(page).is_file(), "{page} missing");
    }
    let index = std::fs::read_to_string(site.join("index.html")).unwrap();
    assert!(
        index.contains("2 models, 2 reports, 1 other artefacts"),
        "{index}"
    );
    assert!(index.contains("Iris &lt;species&gt;"));
    assert!(
        !index.contains("http://") && !index.contains("https://"),
        "no external resource"
    );

    // Every href and src of every page points at a file of the site.
    let (pages, links) = check_links(&site);
    assert!(pages >= 6, "{pages} pages");
    assert!(links >= 10, "only {links} links checked");

    // Both versions of the report are on its page and in the site, verified copies.
    let report = std::fs::read_to_string(site.join("reports/q3-bills.html")).unwrap();
    assert!(report.contains("Versions (2)"), "{report}");
    assert!(report.contains("sandbox=\"allow-scripts allow-popups\""));
    let copies: Vec<_> = std::fs::read_dir(site.join("reports/q3-bills"))
        .unwrap()
        .collect();
    assert_eq!(copies.len(), 2);

    // Writing again replaces the site; a folder that is not a site is left alone.
    ok(ferry(
        board.path(),
        &["site", "--output", arg(&site), "--dialect", "sqlite"],
    ));
    let foreign = out.path().join("mine");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("thesis.tex"), "x").unwrap();
    let err = fails(ferry(board.path(), &["site", "--output", arg(&foreign)]));
    assert!(
        err.contains("not empty") && err.contains("ferry-site.json"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&foreign).unwrap().count(), 1);
    // No staging folder is left behind.
    let left: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".ferry-site-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_board_without_pins_makes_no_site() {
    let board = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let site = out.path().join("site");
    let err = fails(ferry(board.path(), &["site", "--output", arg(&site)]));
    assert!(err.contains("holds no pins"), "{err}");
    assert!(!site.exists());
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

/// Follows every `href="…"` and `src="…"` of every HTML page under `root` (except
/// in-page anchors and data: URIs) and asserts the file exists. Returns (pages, links).
fn check_links(root: &Path) -> (usize, usize) {
    let mut pages = 0;
    let mut links = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("html") {
                continue;
            }
            // Reports' own pages (nbconvert's) are the author's; the site's pages are
            // what is checked.
            if path.strip_prefix(root).unwrap().components().count() > 2 {
                continue;
            }
            pages += 1;
            let html = std::fs::read_to_string(&path).unwrap();
            for attr in ["href=\"", "src=\""] {
                for (at, _) in html.match_indices(attr) {
                    let rest = &html[at + attr.len()..];
                    let target = &rest[..rest.find('"').unwrap()];
                    if target.starts_with('#') || target.starts_with("data:") {
                        continue;
                    }
                    assert!(
                        !target.contains("://"),
                        "{}: external link {target}",
                        path.display()
                    );
                    let file = target.split(['#', '?']).next().unwrap();
                    let decoded = percent_decode(file);
                    let resolved = path.parent().unwrap().join(&decoded);
                    assert!(
                        resolved.is_file(),
                        "{}: broken link {target} ({})",
                        path.display(),
                        resolved.display()
                    );
                    links.insert(resolved);
                }
            }
        }
    }
    (pages, links.len())
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn chromium() -> Option<PathBuf> {
    for candidate in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = Command::new("which").arg(candidate).output() {
            if out.status.success() {
                return Some(PathBuf::from(String::from_utf8(out.stdout).unwrap().trim()));
            }
        }
    }
    None
}

fn headless(browser: &Path, args: &[&str]) -> Output {
    Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--no-first-run",
            "--allow-file-access-from-files",
        ])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_site_in_headless_chromium() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("FERRY_TEST_CHROMIUM").is_none(),
            "FERRY_TEST_CHROMIUM is set but no chromium is installed"
        );
        eprintln!("skipped: no chromium (apt-get install chromium)");
        return;
    };
    let (board, out) = site_fixture();
    let site = out.path().join("site");
    ok(ferry(
        board.path(),
        &["site", "--output", arg(&site), "--quiet"],
    ));
    let url = |page: &str| format!("file://{}", site.join(page).display());

    // The search runs in the page: `?q=` filters the list on load.
    let dom = headless(
        &browser,
        &[
            "--virtual-time-budget=3000",
            "--dump-dom",
            &format!("{}?q=iris", url("index.html")),
        ],
    );
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
    assert!(
        dom.contains("1 of 5 shown"),
        "the filter did not run:\n{dom}"
    );
    let visible: Vec<&str> = dom
        .split("<div class=\"entry\"")
        .skip(1)
        .filter(|e| !e.split('>').next().unwrap().contains("hidden"))
        .collect();
    assert_eq!(visible.len(), 1);
    assert!(visible[0].contains("iris-xgb"));
    let dom = headless(
        &browser,
        &[
            "--virtual-time-budget=3000",
            "--dump-dom",
            &format!("{}?kind=report", url("index.html")),
        ],
    );
    assert!(String::from_utf8_lossy(&dom.stdout).contains("2 of 5 shown"));

    // A screenshot per page type, kept for people to look at.
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("site-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    for (page, shot) in [
        ("index.html", "index.png"),
        ("models/iris-xgb.html", "model-card.png"),
        ("reports/q3-bills.html", "report.png"),
        ("files/notes.html", "file.png"),
    ] {
        let png = shots.join(shot);
        let _ = std::fs::remove_file(&png);
        let run = headless(
            &browser,
            &[
                "--window-size=1280,1000",
                "--virtual-time-budget=3000",
                &format!("--screenshot={}", png.display()),
                &url(page),
            ],
        );
        assert!(
            png.is_file(),
            "no screenshot of {page}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let bytes = std::fs::read(&png).unwrap();
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 2_000,
            "{page}: {} bytes",
            bytes.len()
        );
        eprintln!("screenshot: {}", png.display());
    }
}

/// The SMTP sink of tests/mail/sink.py (aiosmtpd), started on 127.0.0.1 for one test.
struct Sink {
    child: std::process::Child,
    port: u16,
    out: tempfile::TempDir,
}

impl Sink {
    fn start(extra: &[&str]) -> Option<Sink> {
        let Some(python) = std::env::var_os("FERRY_TEST_SMTP_PYTHON") else {
            eprintln!("skipped: FERRY_TEST_SMTP_PYTHON is not set (tests/run sets it: tests/mail/setup.sh)");
            return None;
        };
        use std::io::BufRead;
        let out = tempfile::tempdir().unwrap();
        let mut child = Command::new(python)
            .arg(repo().join("tests/mail/sink.py"))
            .arg("--out")
            .arg(out.path())
            .args(extra)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the sink prints its port");
        Some(Sink { child, port, out })
    }

    fn messages(&self) -> Vec<(String, serde_json::Value)> {
        let mut found = Vec::new();
        for n in 1.. {
            let eml = self.out.path().join(format!("{n}.eml"));
            if !eml.exists() {
                break;
            }
            let envelope = std::fs::read(self.out.path().join(format!("{n}.json"))).unwrap();
            found.push((
                std::fs::read_to_string(eml).unwrap(),
                serde_json::from_slice(&envelope).unwrap(),
            ));
        }
        found
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_report_is_mailed_with_its_page_attached() {
    let Some(sink) = Sink::start(&["--refuse", "nobody@example.com", "--auth", "ana:s3cret"])
    else {
        return;
    };
    let board = tempfile::tempdir().unwrap();
    ok(ferry(
        board.path(),
        &[
            "publish",
            arg(&reports().join("figure.pdf")),
            "--name",
            "figure",
            "--title",
            "Bill length histogram",
            "--description",
            "For the Monday meeting",
            "--quiet",
        ],
    ));
    ok(ferry(
        board.path(),
        &[
            "publish",
            arg(&reports().join("analysis.ipynb")),
            "--name",
            "q3",
            "--quiet",
        ],
    ));
    let url = format!("smtp://ana@127.0.0.1:{}", sink.port);
    let send = |args: &[&str], password: &str| {
        Command::new(BIN)
            .arg("send")
            .args(args)
            .args(["--smtp", &url, "--board", board.path().to_str().unwrap()])
            .env("FERRY_SMTP_PASSWORD", password)
            .output()
            .unwrap()
    };
    ok(send(
        &[
            "figure",
            "--to",
            "bo@example.com,cy@example.com",
            "--from",
            "ml@example.com",
        ],
        "s3cret",
    ));
    ok(send(&["q3", "--to", "bo@example.com"], "s3cret"));
    let messages = sink.messages();
    assert_eq!(messages.len(), 2);
    let (pdf_mail, envelope) = &messages[0];
    assert_eq!(envelope["from"], "ml@example.com");
    assert_eq!(
        envelope["to"],
        serde_json::json!(["bo@example.com", "cy@example.com"])
    );
    assert!(
        pdf_mail.contains("Subject: Bill length histogram (figure@"),
        "{pdf_mail}"
    );
    assert!(pdf_mail.contains("For the Monday meeting"));
    assert!(pdf_mail.contains("Content-Type: application/pdf"));
    assert!(pdf_mail.contains("filename=\"figure.pdf\""));
    // The PDF arrives whole: its base64 body decodes to the published file.
    let pdf = std::fs::read(reports().join("figure.pdf")).unwrap();
    assert!(decoded_attachment(pdf_mail).starts_with(b"%PDF-"));
    assert_eq!(decoded_attachment(pdf_mail), pdf);
    let (nb_mail, _) = &messages[1];
    assert!(
        nb_mail.contains("filename=\"analysis.html\""),
        "the rendered page, not the notebook"
    );

    // A refused recipient, a wrong password, a pin that is not a report: clear errors.
    let err = fails(send(&["figure", "--to", "nobody@example.com"], "s3cret"));
    assert!(
        err.contains("550") || err.contains("mailbox unavailable"),
        "{err}"
    );
    let err = fails(send(&["figure", "--to", "bo@example.com"], "wrong"));
    assert!(
        err.contains("sending through smtp://ana:***@127.0.0.1"),
        "{err}"
    );
    assert!(
        err.contains("535") || err.to_lowercase().contains("authentication"),
        "{err}"
    );
    assert!(!err.contains("wrong"), "the password is not printed: {err}");
    ok(ferry(
        board.path(),
        &[
            "push",
            arg(&reports().join("summary.md")),
            "--name",
            "notes",
            "--quiet",
        ],
    ));
    let err = fails(send(&["notes", "--to", "bo@example.com"], "s3cret"));
    assert!(err.contains("not a report"), "{err}");
    assert_eq!(sink.messages().len(), 2, "nothing more was delivered");
}

/// The base64 body of the last MIME part with a `filename=`.
fn decoded_attachment(mail: &str) -> Vec<u8> {
    let at = mail.rfind("filename=").unwrap();
    let rest = &mail[at..];
    let body_start = rest
        .find("\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| rest.find("\n\n").map(|i| i + 2))
        .unwrap();
    let body = &rest[body_start..];
    let end = body.find("\n--").unwrap_or(body.len());
    let text: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}
