//! `data.txt`: pins' metadata (YAML, `api_version: 1`), with ferry's own fields under
//! `user.ferry`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_yaml_ng::{Mapping, Value};

/// `data.txt` larger than this is refused (a hostile or wrong file, not metadata).
pub const MAX_DATA_TXT: usize = 4 << 20;

/// One `data.txt`. Field order is pins' (alphabetical); unknown top-level fields that R
/// writes (`tags`, `urls`) are kept in `extra`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PinMeta {
    pub api_version: u32,
    pub created: String,
    #[serde(default)]
    pub description: Option<String>,
    pub file: OneOrMany<String>,
    #[serde(default)]
    pub file_size: Option<OneOrMany<u64>>,
    pub pin_hash: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub user: Mapping,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// pins writes one file as a scalar and several as a list.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T: Clone> OneOrMany<T> {
    pub fn to_vec(&self) -> Vec<T> {
        match self {
            OneOrMany::One(x) => vec![x.clone()],
            OneOrMany::Many(xs) => xs.clone(),
        }
    }

    pub fn from_vec(mut xs: Vec<T>) -> OneOrMany<T> {
        if xs.len() == 1 {
            OneOrMany::One(xs.remove(0))
        } else {
            OneOrMany::Many(xs)
        }
    }
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Mapping, D::Error> {
    Ok(Option::<Mapping>::deserialize(d)?.unwrap_or_default())
}

/// ferry's metadata about a version, kept under `user.ferry` in `data.txt`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct FerryMeta {
    /// ferry's metadata format (this is 1).
    pub format: u32,
    /// The ferry release that pushed the version.
    pub ferry_version: String,
    /// When, to the nanosecond (RFC 3339, UTC): orders versions created in the same
    /// second, which pins' version names cannot.
    pub created_at: String,
    /// `user@host` of the pusher.
    pub by: String,
    /// The path pushed, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Every file with its size and sha256, in `file` order.
    pub files: Vec<FileMeta>,
    /// What ferry read from the model file, when it is one ferry reads: the file,
    /// format, task, classes and input schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<serde_json::Value>,
    /// For a report (`ferry publish`): its kind, the file to show and its title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileMeta {
    pub name: String,
    pub size: u64,
    pub sha256: String,
}

impl PinMeta {
    pub fn parse(bytes: &[u8]) -> Result<PinMeta, String> {
        if bytes.len() > MAX_DATA_TXT {
            return Err(format!(
                "{} bytes, more than the {MAX_DATA_TXT}-byte limit for data.txt",
                bytes.len()
            ));
        }
        let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
        // A version check before the full parse, so an old or new pins format gets a
        // message about the version rather than about a missing field.
        if let Ok(Value::Mapping(map)) = serde_yaml_ng::from_str::<Value>(text) {
            match map.get("api_version") {
                Some(Value::Number(n)) if n.as_u64() == Some(1) => {}
                Some(Value::Number(n)) if n.as_u64() == Some(0) => {
                    return Err(
                        "api_version 0 (pins before 1.0): re-pin it with a current pins".into(),
                    )
                }
                Some(other) => {
                    return Err(format!(
                        "api_version {} is not supported (ferry reads api_version 1)",
                        serde_yaml_ng::to_string(other).unwrap_or_default().trim()
                    ))
                }
                None => return Err("no api_version field".into()),
            }
        }
        let meta: PinMeta = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
        let files = meta.file.to_vec();
        if files.is_empty() {
            return Err("`file` lists no file".into());
        }
        if let Some(sizes) = &meta.file_size {
            if sizes.to_vec().len() != files.len() {
                return Err("`file_size` and `file` differ in length".into());
            }
        }
        Ok(meta)
    }

    pub fn to_yaml(&self) -> String {
        serde_yaml_ng::to_string(self).expect("metadata serialises")
    }

    pub fn files(&self) -> Vec<String> {
        self.file.to_vec()
    }

    /// The bytes of all files, from `file_size` (0 when the pin does not say).
    pub fn total_size(&self) -> u64 {
        self.file_size
            .as_ref()
            .map_or(0, |s| s.to_vec().iter().sum())
    }

    /// ferry's section, when ferry wrote this version.
    pub fn ferry(&self) -> Result<Option<FerryMeta>, String> {
        match self.user.get("ferry") {
            None => Ok(None),
            Some(value) => serde_yaml_ng::from_value(value.clone())
                .map(Some)
                .map_err(|e| format!("user.ferry: {e}")),
        }
    }

    pub fn set_ferry(&mut self, ferry: &FerryMeta) {
        let value = serde_yaml_ng::to_value(ferry).expect("ferry metadata serialises");
        self.user.insert(Value::from("ferry"), value);
    }

    /// The metadata as JSON (for `--json` output and the HTTP API).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("metadata converts to JSON")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PINS_PYTHON: &str = "api_version: 1
created: 20261127T120326Z
description: A scikit-learn LogisticRegression model
file: iris.joblib
file_size: 1247
pin_hash: d2d77d6571cffb99
title: 'iris: a pinned LogisticRegression object'
type: joblib
user:
  user: {}
  vetiver_meta:
    prototype: '{\"sl\": 5.1, \"sw\": 3.5, \"pl\": 1.4, \"pw\": 0.2}'
    python_version: [3, 11, 7, final, 0]
    required_pkgs: [scikit-learn]
";

    #[test]
    fn reads_what_pins_writes() {
        let meta = PinMeta::parse(PINS_PYTHON.as_bytes()).unwrap();
        assert_eq!(meta.files(), vec!["iris.joblib"]);
        assert_eq!(meta.kind, "joblib");
        assert!(meta.ferry().unwrap().is_none());
        assert!(meta.user.contains_key("vetiver_meta"));
        // Round trip keeps every field.
        let again = PinMeta::parse(meta.to_yaml().as_bytes()).unwrap();
        assert_eq!(again, meta);
    }

    #[test]
    fn r_fields_and_lists() {
        let text = "api_version: 1\ncreated: 20261127T120326Z\ndescription: ~\nfile: [a.csv, b.csv]\nfile_size: [1, 2]\npin_hash: abc\ntitle: t\ntype: file\ntags: [x]\nurls: ~\nuser: ~\n";
        let meta = PinMeta::parse(text.as_bytes()).unwrap();
        assert_eq!(meta.files(), vec!["a.csv", "b.csv"]);
        assert!(meta.extra.contains_key("tags"));
        assert!(meta.user.is_empty());
    }

    #[test]
    fn refuses_bad_metadata() {
        let err = PinMeta::parse(b"api_version: 2\nfile: a\n").unwrap_err();
        assert!(err.contains("api_version 2"), "{err}");
        let err = PinMeta::parse(b"api_version: 0\npath: a\n").unwrap_err();
        assert!(err.contains("api_version 0"), "{err}");
        assert!(PinMeta::parse(b"[1, 2").is_err());
        assert!(PinMeta::parse(b"api_version: 1\ncreated: x\n").is_err());
        let err = PinMeta::parse(
            b"api_version: 1\ncreated: x\nfile: [a, b]\nfile_size: 1\npin_hash: h\ntype: file\n",
        )
        .unwrap_err();
        assert!(err.contains("differ"), "{err}");
    }

    #[test]
    fn ferry_section_round_trips() {
        let mut meta = PinMeta::parse(PINS_PYTHON.as_bytes()).unwrap();
        let ferry = FerryMeta {
            format: 1,
            ferry_version: "0.1.0".into(),
            created_at: "2026-11-27T12:03:26.123456789Z".into(),
            by: "ana@host".into(),
            files: vec![FileMeta {
                name: "iris.joblib".into(),
                size: 1247,
                sha256: "00".into(),
            }],
            ..FerryMeta::default()
        };
        meta.set_ferry(&ferry);
        let again = PinMeta::parse(meta.to_yaml().as_bytes()).unwrap();
        assert_eq!(again.ferry().unwrap().unwrap(), ferry);
    }
}
