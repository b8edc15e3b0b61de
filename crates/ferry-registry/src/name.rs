//! Pin names, version names, alias names and references (`NAME`, `NAME@VERSION`,
//! `NAME@ALIAS`).

use std::fmt;

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::{RegistryError, Result};

/// The longest pin or alias name accepted (object-store keys and file names stay short).
const MAX_NAME_LEN: usize = 128;

/// Names reserved on a board: ferry's own state and the pins manifest.
const RESERVED: &[&str] = &[crate::layout::STATE_DIR, "_pins.yaml"];

/// A pin name: letters, digits, `.`, `_` and `-`, starting with a letter or digit. pins
/// itself only forbids `/`; the narrower rule keeps names safe as folder names, object
/// keys and URL path segments on every backend.
pub fn check_name(kind: &str, name: &str) -> Result<()> {
    let invalid = |reason: &str| RegistryError::InvalidName {
        kind: kind.to_string(),
        name: name.to_string(),
        reason: reason.to_string(),
    };
    if name.is_empty() {
        return Err(invalid("it is empty"));
    }
    if RESERVED.contains(&name) {
        return Err(invalid("the name is reserved"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(invalid(&format!("it is longer than {MAX_NAME_LEN} bytes")));
    }
    if !name.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(invalid("it must start with a letter or a digit"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(invalid(&format!(
            "{c:?} is not allowed (letters, digits, '.', '_' and '-' are)"
        )));
    }
    Ok(())
}

/// An alias name: a pin name that cannot be mistaken for a version name.
pub fn check_alias(alias: &str) -> Result<()> {
    check_name("alias", alias)?;
    if Version::parse(alias).is_some() {
        return Err(RegistryError::InvalidName {
            kind: "alias".into(),
            name: alias.into(),
            reason: "it looks like a version name".into(),
        });
    }
    Ok(())
}

/// A pins version name: `<created %Y%m%dT%H%M%SZ>-<first 5 hex of pin_hash>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version {
    /// Creation time, to the second (UTC), as written in the name.
    pub created: NaiveDateTime,
    /// The name as stored (the hash part may be longer than 5 characters in
    /// hand-made pins; it is kept as is).
    pub name: String,
}

/// pins' timestamp format in version names and in `data.txt` `created`.
pub const CREATED_FORMAT: &str = "%Y%m%dT%H%M%SZ";

impl Version {
    /// The version name of a pin created at `created` with content hash `pin_hash`.
    pub fn new(created: DateTime<Utc>, pin_hash: &str) -> Version {
        let stamp = created.format(CREATED_FORMAT).to_string();
        let name = format!("{stamp}-{}", &pin_hash[..pin_hash.len().min(5)]);
        Version {
            created: created.naive_utc(),
            name,
        }
    }

    /// Parses a version folder name; `None` when it is not one.
    pub fn parse(name: &str) -> Option<Version> {
        let (stamp, hash) = name.split_once('-')?;
        if hash.is_empty() || !hash.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        let created = NaiveDateTime::parse_from_str(stamp, CREATED_FORMAT).ok()?;
        Some(Version {
            created,
            name: name.to_string(),
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// What follows `@` in a reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// `NAME`: the latest version.
    Latest,
    /// `NAME@20261127T120326Z-d2d77`.
    Version(String),
    /// `NAME@prod`.
    Alias(String),
}

/// A reference to a pin version: `NAME`, `NAME@VERSION` or `NAME@ALIAS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinRef {
    pub name: String,
    pub selector: Selector,
}

impl PinRef {
    pub fn parse(text: &str) -> Result<PinRef> {
        let (name, selector) = match text.split_once('@') {
            None => (text, Selector::Latest),
            Some((name, after)) if Version::parse(after).is_some() => {
                (name, Selector::Version(after.to_string()))
            }
            Some((name, after)) => {
                check_alias(after)?;
                (name, Selector::Alias(after.to_string()))
            }
        };
        check_name("pin", name)?;
        Ok(PinRef {
            name: name.to_string(),
            selector,
        })
    }

    /// Whether `text` could be a reference at all (used to tell a missing model file
    /// from a board reference).
    pub fn looks_like_ref(text: &str) -> bool {
        !text.contains(['/', '\\']) && PinRef::parse(text).is_ok()
    }
}

impl fmt::Display for PinRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.selector {
            Selector::Latest => f.write_str(&self.name),
            Selector::Version(v) | Selector::Alias(v) => write!(f, "{}@{v}", self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["churn", "iris-v2", "a.b_c", "0model"] {
            check_name("pin", ok).unwrap();
        }
        for bad in ["", "-x", "_ferry", "a/b", "a b", "é", "..", "_pins.yaml"] {
            assert!(check_name("pin", bad).is_err(), "{bad}");
        }
        assert!(check_name("pin", &"a".repeat(129)).is_err());
    }

    #[test]
    fn versions() {
        let v = Version::parse("20261127T120326Z-d2d77").unwrap();
        assert_eq!(v.created.to_string(), "2026-11-27 12:03:26");
        assert!(Version::parse("20261127-d2d77").is_none());
        assert!(Version::parse("prod").is_none());
        assert!(Version::parse("20261127T120326Z-").is_none());
        let created = DateTime::parse_from_rfc3339("2026-11-27T12:03:26.5Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            Version::new(created, "d2d77d6571cffb99").name,
            "20261127T120326Z-d2d77"
        );
    }

    #[test]
    fn refs() {
        let r = PinRef::parse("churn@prod").unwrap();
        assert_eq!(r.selector, Selector::Alias("prod".into()));
        let r = PinRef::parse("churn@20261127T120326Z-d2d77").unwrap();
        assert_eq!(
            r.selector,
            Selector::Version("20261127T120326Z-d2d77".into())
        );
        assert_eq!(PinRef::parse("churn").unwrap().selector, Selector::Latest);
        assert!(PinRef::parse("churn@").is_err());
        assert!(PinRef::parse("@prod").is_err());
        assert!(!PinRef::looks_like_ref("models/churn.json"));
        assert!(PinRef::looks_like_ref("churn@prod"));
    }
}
