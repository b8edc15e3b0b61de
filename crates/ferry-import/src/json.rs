//! Reading a parsed JSON document with errors that name the field path,
//! e.g. `learner.gradient_booster.model.trees[3].split_conditions`.

use serde_json::Value;

use crate::ImportError;

/// A JSON value and the path that led to it.
#[derive(Clone)]
pub(crate) struct Node<'a> {
    pub format: &'static str,
    pub path: String,
    pub value: &'a Value,
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<'a> Node<'a> {
    pub fn root(format: &'static str, value: &'a Value) -> Node<'a> {
        Node {
            format,
            path: String::new(),
            value,
        }
    }

    pub fn error(&self, message: impl Into<String>) -> ImportError {
        ImportError::Field {
            format: self.format,
            field: if self.path.is_empty() {
                "(root)".into()
            } else {
                self.path.clone()
            },
            message: message.into(),
        }
    }

    fn expected(&self, what: &str) -> ImportError {
        self.error(format!("expected {what}, found {}", kind(self.value)))
    }

    /// The member `key`; an error naming the path if it is missing.
    pub fn get(&self, key: &str) -> Result<Node<'a>, ImportError> {
        self.opt(key)?.ok_or_else(|| ImportError::Field {
            format: self.format,
            field: join(&self.path, key),
            message: "missing".into(),
        })
    }

    /// The member `key`, or `None` if absent.
    pub fn opt(&self, key: &str) -> Result<Option<Node<'a>>, ImportError> {
        let object = self
            .value
            .as_object()
            .ok_or_else(|| self.expected("an object"))?;
        Ok(object.get(key).map(|value| Node {
            format: self.format,
            path: join(&self.path, key),
            value,
        }))
    }

    /// The elements of an array, each with its path.
    pub fn items(&self) -> Result<Vec<Node<'a>>, ImportError> {
        Ok(self
            .as_array()?
            .iter()
            .enumerate()
            .map(|(i, value)| Node {
                format: self.format,
                path: format!("{}[{i}]", self.path),
                value,
            })
            .collect())
    }

    pub fn as_str(&self) -> Result<&'a str, ImportError> {
        self.value.as_str().ok_or_else(|| self.expected("a string"))
    }

    pub fn as_array(&self) -> Result<&'a Vec<Value>, ImportError> {
        self.value
            .as_array()
            .ok_or_else(|| self.expected("an array"))
    }

    /// A number, or a string holding a number (XGBoost writes parameters as strings).
    pub fn as_f64(&self) -> Result<f64, ImportError> {
        match self.value {
            Value::Number(n) => n.as_f64().ok_or_else(|| self.expected("a number")),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .map_err(|_| self.error(format!("expected a number, found \"{s}\""))),
            _ => Err(self.expected("a number")),
        }
    }

    /// A non-negative integer, or a string holding one.
    pub fn as_usize(&self) -> Result<usize, ImportError> {
        match self.value {
            Value::Number(n) => n
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| self.error(format!("expected a non-negative integer, found {n}"))),
            Value::String(s) => s
                .trim()
                .parse::<usize>()
                .map_err(|_| self.error(format!("expected a non-negative integer, found \"{s}\""))),
            _ => Err(self.expected("a non-negative integer")),
        }
    }

    pub fn f64_array(&self) -> Result<Vec<f64>, ImportError> {
        self.as_array()?
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_f64().ok_or_else(|| {
                    self.error(format!("element {i}: expected a number, found {}", kind(v)))
                })
            })
            .collect()
    }

    pub fn i64_array(&self) -> Result<Vec<i64>, ImportError> {
        self.as_array()?
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Number(n) => n.as_i64().ok_or_else(|| {
                    self.error(format!("element {i}: expected an integer, found {n}"))
                }),
                Value::Bool(b) => Ok(i64::from(*b)),
                other => Err(self.error(format!(
                    "element {i}: expected an integer, found {}",
                    kind(other)
                ))),
            })
            .collect()
    }

    pub fn string_array(&self) -> Result<Vec<String>, ImportError> {
        self.as_array()?
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    self.error(format!("element {i}: expected a string, found {}", kind(v)))
                })
            })
            .collect()
    }
}

pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}
