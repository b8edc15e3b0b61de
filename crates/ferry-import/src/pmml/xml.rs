//! Reading the XML safely, and element helpers whose errors name the element and line.

use roxmltree::{Document, Node, ParsingOptions};

use super::FORMAT;
use crate::ImportError;

/// Largest PMML file ferry reads. A 500-tree depth-8 forest is about 60 MB of PMML.
pub(crate) const MAX_BYTES: usize = 512 << 20;
/// Most XML nodes (elements, attributes' text, comments) in one document.
const MAX_NODES: u32 = 50_000_000;
/// Deepest element nesting: trees nest a `Node` per level, and no real tree is this deep.
pub(crate) const MAX_DEPTH: usize = 4_096;

/// Parses `bytes` without any DTD (so no entity expansion, internal or external) and
/// checks the size and nesting limits.
pub(crate) fn parse(bytes: &[u8]) -> Result<Document<'_>, ImportError> {
    if bytes.len() > MAX_BYTES {
        return Err(parse_error(format!(
            "the file is {} bytes, more than the {} MiB limit for a PMML document",
            bytes.len(),
            MAX_BYTES >> 20
        )));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        parse_error(format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(text, options).map_err(|e| match e {
        roxmltree::Error::DtdDetected => parse_error(
            "the document declares a DTD (<!DOCTYPE>); ferry reads no DTDs, so no entity can be \
             expanded or fetched"
                .to_string(),
        ),
        roxmltree::Error::NodesLimitReached => {
            parse_error(format!("the document has more than {MAX_NODES} XML nodes"))
        }
        e => parse_error(format!("not well-formed XML: {e}")),
    })?;
    check_depth(&doc)?;
    Ok(doc)
}

/// Rejects documents nested deeper than [`MAX_DEPTH`], without recursion.
fn check_depth(doc: &Document<'_>) -> Result<(), ImportError> {
    let mut stack = vec![(doc.root_element(), 1usize)];
    while let Some((node, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(El(node).error(format!(
                "elements are nested more than {MAX_DEPTH} levels deep"
            )));
        }
        stack.extend(
            node.children()
                .filter(Node::is_element)
                .map(|c| (c, depth + 1)),
        );
    }
    Ok(())
}

fn parse_error(message: String) -> ImportError {
    ImportError::Parse {
        format: FORMAT,
        message,
    }
}

/// A PMML element. Namespaces are ignored: PMML 3.x and 4.x documents use different
/// ones, and some exporters write none.
#[derive(Clone, Copy, Debug)]
pub(crate) struct El<'a, 'i>(pub Node<'a, 'i>);

impl<'a, 'i> El<'a, 'i> {
    pub fn name(&self) -> &'a str {
        self.0.tag_name().name()
    }

    /// `<Name>` at line L — for messages.
    pub fn describe(&self) -> String {
        let pos = self.0.document().text_pos_at(self.0.range().start);
        format!("<{}> at line {}", self.name(), pos.row)
    }

    pub fn error(&self, message: impl Into<String>) -> ImportError {
        ImportError::Field {
            format: FORMAT,
            field: self.describe(),
            message: message.into(),
        }
    }

    pub fn unsupported(&self, why: impl Into<String>) -> ImportError {
        let why = why.into();
        ImportError::Unsupported {
            format: FORMAT,
            what: self.describe(),
            hint: if why.is_empty() {
                String::new()
            } else {
                format!(": {why}")
            },
        }
    }

    pub fn attr(&self, name: &str) -> Option<&'a str> {
        self.0.attribute(name)
    }

    pub fn req(&self, name: &str) -> Result<&'a str, ImportError> {
        self.attr(name)
            .ok_or_else(|| self.error(format!("the attribute `{name}` is required")))
    }

    /// An attribute that must be a number when present.
    pub fn f64_opt(&self, name: &str) -> Result<Option<f64>, ImportError> {
        self.attr(name)
            .map(|v| {
                parse_number(v)
                    .ok_or_else(|| self.error(format!("`{name}=\"{v}\"` is not a number")))
            })
            .transpose()
    }

    pub fn f64_or(&self, name: &str, default: f64) -> Result<f64, ImportError> {
        Ok(self.f64_opt(name)?.unwrap_or(default))
    }

    pub fn f64_req(&self, name: &str) -> Result<f64, ImportError> {
        self.f64_opt(name)?
            .ok_or_else(|| self.error(format!("the attribute `{name}` is required")))
    }

    /// Child elements, extensions skipped.
    pub fn elements(&self) -> impl Iterator<Item = El<'a, 'i>> + use<'a, 'i> {
        self.0
            .children()
            .filter(|c| c.is_element() && c.tag_name().name() != "Extension")
            .map(El)
    }

    pub fn children_named<'n>(
        &self,
        name: &'n str,
    ) -> impl Iterator<Item = El<'a, 'i>> + use<'a, 'i, 'n> {
        self.elements().filter(move |c| c.name() == name)
    }

    pub fn child(&self, name: &str) -> Option<El<'a, 'i>> {
        self.children_named(name).next()
    }

    pub fn req_child(&self, name: &str) -> Result<El<'a, 'i>, ImportError> {
        self.child(name)
            .ok_or_else(|| self.error(format!("a <{name}> child is required")))
    }

    /// The text content, trimmed.
    pub fn text(&self) -> &'a str {
        self.0.text().unwrap_or("").trim()
    }
}

/// Whether an InlineTable cell is the column `column`: names may carry a namespace
/// prefix (`data:output`, as JPMML writes them), matched with or without it.
pub(crate) fn column_is(cell: El<'_, '_>, column: &str) -> bool {
    let local = column.rsplit_once(':').map_or(column, |(_, l)| l);
    cell.name() == local
}

/// An `<Interval>`'s `closure`: whether the left and the right end belong to it.
pub(crate) fn closure(interval: El<'_, '_>) -> Result<(bool, bool), ImportError> {
    Ok(match interval.req("closure")? {
        "openOpen" => (false, false),
        "openClosed" => (false, true),
        "closedOpen" => (true, false),
        "closedClosed" => (true, true),
        other => return Err(interval.error(format!("unknown closure `{other}`"))),
    })
}

/// A PMML number: XML Schema `double` (`INF`, `-INF`, `NaN` included) as well as the
/// spellings `Infinity` and `nan` some exporters write.
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    let t = text.trim();
    match t {
        "INF" | "+INF" | "Infinity" | "+Infinity" | "inf" => Some(f64::INFINITY),
        "-INF" | "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ => t.parse::<f64>().ok().filter(|v| v.is_finite()),
    }
}

/// The values of an `<Array>` element: numbers or strings, whitespace-separated, strings
/// optionally in double quotes with `\"` escapes.
pub(crate) fn array_values(array: El<'_, '_>) -> Result<Vec<String>, ImportError> {
    let text = array.0.text().unwrap_or("");
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some('\\') => match chars.next() {
                        Some(escaped) => value.push(escaped),
                        None => return Err(array.error("the text ends inside a quoted value")),
                    },
                    Some('"') => break,
                    Some(ch) => value.push(ch),
                    None => return Err(array.error("a quoted value is not closed")),
                }
            }
            out.push(value);
        } else {
            let mut value = String::new();
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() {
                    break;
                }
                value.push(ch);
                chars.next();
            }
            out.push(value);
        }
    }
    if let Some(n) = array.attr("n") {
        if n.parse::<usize>().ok() != Some(out.len()) {
            return Err(array.error(format!(
                "`n=\"{n}\"` but the array holds {} values",
                out.len()
            )));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_with_quotes_and_escapes() {
        let doc =
            Document::parse(r#"<Array n="4" type="string">a "b c" "d \"e\"" 1.5</Array>"#).unwrap();
        let values = array_values(El(doc.root_element())).unwrap();
        assert_eq!(values, ["a", "b c", "d \"e\"", "1.5"]);
    }

    #[test]
    fn a_dtd_is_refused_before_any_entity_is_read() {
        let text = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><PMML>&lol2;</PMML>"#;
        let err = parse(text).unwrap_err().to_string();
        assert!(err.contains("DTD"), "{err}");
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let depth = 100_000;
        let text = format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth));
        let err = parse(text.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("nested more than"), "{err}");
    }
}
