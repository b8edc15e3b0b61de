//! `ferry serve`: loads the models, starts the HTTP server, and keeps models served
//! by alias (or as a pin's latest version) current by polling the board.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use ferry_import::ImportOptions;
use ferry_registry::{Board, PinRef, Selector};
use ferry_server::{AppState, Config, Served, Slot};

use crate::cli::ServeArgs;
use crate::commands::board;
use crate::model::{self, Spec};

pub fn serve(args: &ServeArgs) -> Result<()> {
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = args.workers {
        runtime.worker_threads(workers as usize);
    }
    let runtime = runtime
        .enable_all()
        .build()
        .context("starting the server's threads")?;
    let _log = init_log(&args.access_log);
    runtime.block_on(run(args))
}

async fn run(args: &ServeArgs) -> Result<()> {
    let options = ImportOptions {
        all_trees: args.all_trees,
    };
    let specs: Vec<Spec> = args
        .models
        .iter()
        .map(|m| model::parse_spec(m))
        .collect::<Result<_>>()?;
    let board = if specs.iter().any(|s| matches!(s, Spec::Board { .. })) {
        Some(Arc::new(board::open(&args.board)?))
    } else {
        None
    };

    let mut models = Vec::new();
    let mut follow = Vec::new();
    for (spec, arg) in specs.iter().zip(&args.models) {
        match spec {
            Spec::File { name, path } => {
                let bytes = model::read_file(Path::new(path), path)?;
                let scorer = model::scorer(&bytes, &options).with_context(|| path.clone())?;
                models.push((
                    name.clone(),
                    Served {
                        scorer,
                        version: "1".into(),
                        source: path.clone(),
                        board: serde_json::Value::Null,
                    },
                ));
            }
            Spec::Board { name, pin } => {
                let board = board.as_ref().expect("opened for board references");
                let served = load_ref(board, pin, &options)
                    .await
                    .with_context(|| arg.clone())?;
                if !matches!(pin.selector, Selector::Version(_)) {
                    follow.push((models.len(), pin.clone()));
                }
                models.push((name.clone(), served));
            }
        }
    }

    let token = token(args)?;
    let config = Config {
        max_body: args.max_body,
        timeout: args.timeout,
        token,
        cors: args.cors.clone(),
        access_log: args.access_log != "off",
    };
    let state = Arc::new(AppState::new(models, config).map_err(anyhow::Error::msg)?);

    if let (Some(board), false) = (&board, args.poll.is_zero()) {
        for (index, pin) in follow {
            let slot = state.slots()[index].clone();
            tokio::spawn(follow_ref(
                board.clone(),
                pin,
                slot,
                args.poll,
                options.clone(),
            ));
        }
    }

    let port = match args.port {
        Some(port) => port,
        None => match std::env::var("PORT") {
            Ok(port) => port
                .parse()
                .with_context(|| format!("PORT={port:?} is not a port number"))?,
            Err(_) => 8080,
        },
    };
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), port))
        .await
        .with_context(|| format!("listening on {}:{port}", args.host))?;
    let address = listener.local_addr()?;
    let names: Vec<&str> = state.slots().iter().map(|s| s.name.as_str()).collect();
    eprintln!(
        "ferry: serving {} on http://{address} (docs at /docs)",
        names.join(", ")
    );
    eprintln!("ferry: listening on http://{address}");
    ferry_server::serve(listener, state, ferry_server::shutdown_signal())
        .await
        .context("serving")?;
    eprintln!("ferry: stopped");
    Ok(())
}

/// The token from --token-file, else $FERRY_TOKEN.
fn token(args: &ServeArgs) -> Result<Option<String>> {
    let token = match &args.token_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("--token-file {}", path.display()))?,
        ),
        None => std::env::var("FERRY_TOKEN").ok(),
    };
    match token.map(|t| t.trim().to_string()) {
        Some(t) if t.is_empty() => {
            bail!("the bearer token is empty (check --token-file or FERRY_TOKEN)")
        }
        other => Ok(other),
    }
}

/// Loads the version `pin` points to now.
async fn load_ref(board: &Board, pin: &PinRef, options: &ImportOptions) -> Result<Served> {
    let (version, bytes) = model::read_ref(board, pin).await?;
    let options = options.clone();
    // Importing and compiling a large model is CPU work: keep it off the event loop.
    let scorer = tokio::task::spawn_blocking(move || model::scorer(&bytes, &options)).await??;
    let mut pin_meta = serde_json::to_value(&version.meta).unwrap_or_default();
    pin_meta["name"] = version.name.clone().into();
    pin_meta["version"] = version.version.to_string().into();
    Ok(Served {
        scorer,
        version: version.version.to_string(),
        source: format!("{}@{}", version.name, version.version),
        board: pin_meta,
    })
}

/// Every `every`, checks where `pin` points; when it moved, loads that version and
/// swaps it in. Requests keep being answered by the old version until the swap, and
/// those in flight finish on it. A failed check or load is logged and retried.
async fn follow_ref(
    board: Arc<Board>,
    pin: PinRef,
    slot: Arc<Slot>,
    every: Duration,
    options: ImportOptions,
) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let current = slot.version();
        match board.resolve(&pin).await {
            Ok(info) if info.version.to_string() == current => {}
            Ok(_) => match load_ref(&board, &pin, &options).await {
                Ok(served) => {
                    let version = served.version.clone();
                    slot.replace(served);
                    tracing::info!(target: "ferry::serve", model = %slot.name, from = %current, to = %version, "now serving a new version");
                }
                Err(error) => {
                    tracing::warn!(target: "ferry::serve", model = %slot.name, error = %format!("{error:#}"), "could not load the new version; still serving {current}")
                }
            },
            Err(error) => {
                tracing::warn!(target: "ferry::serve", model = %slot.name, error = %error, "could not check the board; still serving {current}")
            }
        }
    }
}

/// Logs (the access log and the server's own events) go to stderr through a
/// background writer, so a slow terminal or pipe does not slow requests down.
fn init_log(format: &str) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::prelude::*;
    let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
    let filter = tracing_subscriber::filter::Targets::new()
        .with_target("ferry", tracing::Level::INFO)
        .with_default(tracing::Level::WARN);
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(false);
    let result = if format == "json" {
        tracing_subscriber::registry()
            .with(layer.json().flatten_event(true).with_filter(filter))
            .try_init()
    } else {
        tracing_subscriber::registry()
            .with(layer.with_filter(filter))
            .try_init()
    };
    result.ok().map(|_| guard)
}
