//! `ferry serve` as a process: it starts on a free port, answers over plain HTTP/1.1,
//! follows a board alias under load without failing a request, finishes in-flight
//! requests on SIGTERM, and refuses bad arguments with one clear line.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ferry");

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(path)
}

/// A running server; killed when dropped.
struct Server {
    child: Child,
    address: String,
    stderr: Arc<std::sync::Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str], envs: &[(&str, &str)]) -> Server {
    let mut command = Command::new(BIN);
    command
        .arg("serve")
        .args(args)
        .args(["--port", "0", "--access-log", "off"])
        .env_remove("FERRY_TOKEN")
        .env_remove("FERRY_PORT")
        .env_remove("PORT")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let stderr = Arc::new(std::sync::Mutex::new(String::new()));
    let mut address = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        stderr.lock().unwrap().push_str(&line);
        stderr.lock().unwrap().push('\n');
        if let Some(url) = line.strip_prefix("ferry: listening on http://") {
            address = Some(url.to_string());
            break;
        }
    }
    let log = stderr.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            log.lock().unwrap().push_str(&line);
            log.lock().unwrap().push('\n');
        }
    });
    let address =
        address.unwrap_or_else(|| panic!("no listening line: {}", stderr.lock().unwrap()));
    Server {
        child,
        address,
        stderr,
    }
}

/// A minimal HTTP/1.1 client over one keep-alive connection.
struct Client {
    stream: BufReader<TcpStream>,
}

impl Client {
    fn connect(address: &str) -> Client {
        let stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        Client {
            stream: BufReader::new(stream),
        }
    }

    fn send(&mut self, method: &str, path: &str, body: &str) {
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.stream.get_mut().write_all(request.as_bytes()).unwrap();
    }

    fn receive(&mut self) -> (u16, String) {
        let mut status = String::new();
        self.stream.read_line(&mut status).unwrap();
        let code: u16 = status
            .split_whitespace()
            .nth(1)
            .unwrap_or_else(|| panic!("bad status line {status:?}"))
            .parse()
            .unwrap();
        let mut length = 0;
        loop {
            let mut line = String::new();
            self.stream.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).unwrap();
        (code, String::from_utf8(body).unwrap())
    }

    fn call(&mut self, method: &str, path: &str, body: &str) -> (u16, String) {
        self.send(method, path, body);
        self.receive()
    }
}

const ROW: &str = r#"[{"f0": 0.5, "f1": -1.0, "f2": 0.25, "f3": 1.5, "f4": 0.0, "f5": -0.5, "f6": 2.0, "f7": 0.1, "f8": -0.2, "f9": 0.3}]"#;

fn first_prediction(body: &str) -> f64 {
    let value: serde_json::Value = serde_json::from_str(body).unwrap();
    value["predict"][0].as_f64().unwrap()
}

#[test]
fn serves_files_under_their_names_and_stops_gracefully_on_sigterm() {
    let l1 = fixture("lightgbm/lgb_regression_l1/model.txt");
    let huber = fixture("lightgbm/lgb_regression_huber/model.txt");
    let server = start(
        &[l1.to_str().unwrap(), &format!("other={}", huber.display())],
        &[],
    );
    let mut client = Client::connect(&server.address);
    let (status, body) = client.call("GET", "/v2/models/model/ready", "");
    assert_eq!(status, 200, "{body}");
    let (status, body) = client.call("GET", "/v2/models/other", "");
    assert_eq!(status, 200, "{body}");
    let (status, a) = client.call("POST", "/predict", ROW);
    assert_eq!(status, 200, "{a}");
    let (status, b) = client.call("POST", "/models/other/predict", ROW);
    assert_eq!(status, 200, "{b}");
    assert_ne!(first_prediction(&a), first_prediction(&b));

    // A request whose body has not arrived yet when SIGTERM comes is still answered.
    let mut late = Client::connect(&server.address);
    let head = format!(
        "POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        ROW.len()
    );
    late.stream.get_mut().write_all(head.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_millis(300));
    late.stream.get_mut().write_all(ROW.as_bytes()).unwrap();
    let (status, body) = late.receive();
    assert_eq!(status, 200, "{body}");
    drop(late);
    drop(client);
    let mut server = server;
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    assert!(server.stderr.lock().unwrap().contains("ferry: stopped"));
}

fn ferry(board: &Path, args: &[&str]) -> String {
    let output = Command::new(BIN)
        .args(args)
        .arg("--board")
        .arg(board)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "ferry {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn latest_version(board: &Path, name: &str) -> String {
    let shown: serde_json::Value =
        serde_json::from_str(&ferry(board, &["show", name, "--json"])).unwrap();
    shown["version"].as_str().unwrap().to_string()
}

/// The alias moves while four clients keep calling: every request succeeds, and the
/// new version is served within a few poll intervals.
#[test]
fn follows_a_moved_alias_under_load_without_failing_a_request() {
    let dir = tempfile::tempdir().unwrap();
    let board = dir.path().join("board");
    std::fs::create_dir(&board).unwrap();
    let l1 = fixture("lightgbm/lgb_regression_l1/model.txt");
    let huber = fixture("lightgbm/lgb_regression_huber/model.txt");
    ferry(
        &board,
        &[
            "push",
            l1.to_str().unwrap(),
            "--name",
            "m",
            "--alias",
            "prod",
        ],
    );
    let first = latest_version(&board, "m");
    let server = start(
        &[
            "m@prod",
            "--board",
            board.to_str().unwrap(),
            "--poll",
            "100ms",
        ],
        &[],
    );
    let mut client = Client::connect(&server.address);
    let (_, body) = client.call("POST", "/predict", ROW);
    let old = first_prediction(&body);

    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let new_seen = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (stop, answered, new_seen) = (stop.clone(), answered.clone(), new_seen.clone());
        let address = server.address.clone();
        workers.push(std::thread::spawn(move || {
            let mut client = Client::connect(&address);
            while !stop.load(Ordering::Relaxed) {
                let (status, body) = client.call("POST", "/predict", ROW);
                assert_eq!(
                    status, 200,
                    "a request failed during the alias move: {body}"
                );
                if first_prediction(&body) != old {
                    new_seen.fetch_add(1, Ordering::Relaxed);
                }
                answered.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(300));
    ferry(&board, &["push", huber.to_str().unwrap(), "--name", "m"]);
    let second = latest_version(&board, "m");
    assert_ne!(first, second);
    ferry(&board, &["alias", "m", "prod", &second]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while new_seen.load(Ordering::Relaxed) < 100 {
        assert!(
            Instant::now() < deadline,
            "the new version was not served in time"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.join().expect("a client saw a failed request");
    }
    assert!(answered.load(Ordering::Relaxed) > 100);
    let (status, body) = client.call("GET", "/v2/models/m", "");
    assert_eq!(status, 200);
    let meta: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(meta["versions"][0], second.as_str());
    let (_, body) = client.call("GET", "/metadata", "");
    let meta: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(meta["version"], second.as_str());
    assert_eq!(meta["ferry"]["pin"]["name"], "m");
}

#[test]
fn bad_arguments_get_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let model = fixture("lightgbm/lgb_regression_l1/model.txt");
    let model = model.to_str().unwrap();
    let empty_token = dir.path().join("token");
    std::fs::write(&empty_token, "\n").unwrap();
    let board = dir.path().join("board");
    std::fs::create_dir(&board).unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["nope.onnx".into()], "nope.onnx: no such model file"),
        (
            vec![format!("a b={model}")],
            "cannot be a model name in a URL",
        ),
        (
            vec![format!("x={model}"), format!("x={model}")],
            "two models are named \"x\"",
        ),
        (
            vec![format!("x={}", dir.path().join("missing.json").display())],
            "no such model file",
        ),
        (
            vec![
                model.into(),
                "--token-file".into(),
                empty_token.to_str().unwrap().into(),
            ],
            "the bearer token is empty",
        ),
        (
            vec![model.into(), "--max-body".into(), "12 parsecs".into()],
            "unknown size unit",
        ),
        (
            vec![
                "churn@prod".into(),
                "--board".into(),
                board.to_str().unwrap().into(),
            ],
            "has no alias \"prod\"",
        ),
        (
            vec![fixture("xgboost/xgb_categorical_binary/input.csv")
                .to_str()
                .unwrap()
                .into()],
            "input.csv",
        ),
    ];
    for (args, message) in cases {
        let output = Command::new(BIN)
            .arg("serve")
            .args(&args)
            .args(["--port", "0"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} should fail");
        assert!(
            stderr.contains(message),
            "{args:?}: {stderr:?} should say {message:?}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// The token from the environment, as a container platform's secret sets it.
#[test]
fn a_token_from_the_environment_guards_the_api() {
    let model = fixture("lightgbm/lgb_regression_l1/model.txt");
    let server = start(&[model.to_str().unwrap()], &[("FERRY_TOKEN", "t0ken")]);
    let mut client = Client::connect(&server.address);
    let (status, _) = client.call("GET", "/ping", "");
    assert_eq!(status, 200);
    let (status, body) = client.call("POST", "/predict", ROW);
    assert_eq!(status, 401, "{body}");
}
