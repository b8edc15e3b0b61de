//! `ferry send`: a report from the board by email. The attachment is read from the
//! board and verified before the SMTP conversation starts; a refused recipient or a
//! failed login is one error, and nothing is sent.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{Message, SmtpTransport, Transport};

use super::board;
use crate::cli::SendArgs;

/// Mail servers commonly refuse messages above 25 MB; base64 adds a third.
const MAX_ATTACHMENT: u64 = 18 << 20;

pub fn send(args: &SendArgs) -> Result<()> {
    let from: Mailbox = match &args.from {
        Some(from) => from
            .parse()
            .with_context(|| format!("--from {from:?}: not an email address"))?,
        None => format!("ferry <ferry@{}>", host())
            .parse()
            .context("the default sender ferry@<host>; pass --from")?,
    };
    let to: Vec<Mailbox> = args
        .to
        .iter()
        .map(|a| {
            a.trim()
                .parse()
                .with_context(|| format!("--to {a:?}: not an email address"))
        })
        .collect::<Result<_>>()?;
    let url = smtp_url(&args.smtp)?;

    let board = board::open(&args.board)?;
    let (version, file, bytes) = board::block_on(async {
        board.check().await?;
        let version = board::resolve(&board, &args.reference).await?;
        if version.meta.kind != "report" {
            bail!(
                "{}@{} is a pin of type {}, not a report: `ferry send` mails reports (`ferry publish` one first)",
                version.name,
                version.version,
                version.meta.kind
            );
        }
        // The page `ferry publish` recorded to show: the PDF or the HTML page.
        let file = super::site::display_file(&version);
        let bytes = board.read_file(&version, &file, MAX_ATTACHMENT).await?;
        anyhow::Ok((version, file, bytes))
    })?;

    let meta = &version.meta;
    let title = meta.title.clone().unwrap_or_else(|| version.name.clone());
    let reference = format!("{}@{}", version.name, version.version);
    let subject = args
        .subject
        .clone()
        .unwrap_or_else(|| format!("{title} ({reference})"));
    let mut body = format!("{title}\n\n");
    if let Some(description) = &meta.description {
        body.push_str(description);
        body.push_str("\n\n");
    }
    body.push_str(&format!(
        "Version {reference}, published {}.\nAttached: {file} ({}).\nOn the board: {}\nGet it: ferry pull {reference}\n",
        version.created_at.format("%Y-%m-%d %H:%M UTC"),
        board::bytes(bytes.len() as u64),
        board.location()
    ));
    let content_type = if file.to_ascii_lowercase().ends_with(".pdf") {
        ContentType::parse("application/pdf")
    } else {
        ContentType::parse("text/html; charset=utf-8")
    }
    .expect("valid content types");
    let mut message = Message::builder().from(from).subject(subject);
    for mailbox in to {
        message = message.to(mailbox);
    }
    let message = message
        .multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain(body))
                .singlepart(Attachment::new(file.clone()).body(bytes, content_type)),
        )
        .context("building the message")?;

    let transport = SmtpTransport::from_url(url.as_str())
        .with_context(|| format!("--smtp {}: not an SMTP URL", redacted(&url)))?
        .timeout(Some(Duration::from_secs(30)))
        .build();
    transport
        .send(&message)
        .with_context(|| format!("sending through {}", redacted(&url)))?;
    eprintln!("sent {reference} ({file}) to {}", args.to.join(", "));
    Ok(())
}

/// The SMTP URL, with the password from $FERRY_SMTP_PASSWORD when the URL names a
/// user and no password.
fn smtp_url(text: &str) -> Result<url::Url> {
    let mut url = url::Url::parse(text).with_context(|| format!("--smtp {text:?}: not a URL"))?;
    if !matches!(url.scheme(), "smtp" | "smtps") {
        bail!("--smtp {}: the scheme is `smtp` or `smtps`", redacted(&url));
    }
    if !url.username().is_empty() && url.password().is_none() {
        if let Ok(password) = std::env::var("FERRY_SMTP_PASSWORD") {
            url.set_password(Some(&password))
                .map_err(|()| anyhow::anyhow!("--smtp: cannot carry a password"))?;
        }
    }
    Ok(url)
}

/// The URL without its password, for messages.
fn redacted(url: &url::Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    shown.to_string()
}

fn host() -> String {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        "localhost".into()
    } else {
        host
    }
}
