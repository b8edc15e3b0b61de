//! Where things live on a board. pins' layout for the versions themselves; everything
//! ferry adds lives inside one valid pin of its own, `_ferry`.
//!
//! pins readers (Python and R) take every folder in the board root for a pin and every
//! folder in a pin for a version, and fail on any that lacks `data.txt`; the only place
//! they ignore extra files is inside a version folder. So ferry's state is a pin named
//! `_ferry` with one version, [`STATE_VERSION`], whose `data.txt` lists a README, and
//! everything else sits beside it in that version folder:
//!
//! ```text
//! <name>/<version>/data.txt                   pins metadata (YAML), written last
//! <name>/<version>/<file>…                    the artefact's files
//! _ferry/<STATE_VERSION>/data.txt, README.txt  what pins sees: a pin describing the rest
//! _ferry/<STATE_VERSION>/staging/<id>/lease.json       who is uploading (host, pid, start)
//! _ferry/<STATE_VERSION>/staging/<id>/files/<file>…    files being uploaded
//! _ferry/<STATE_VERSION>/claims/<name>/<version>.json  a version name taken by one upload
//! _ferry/<STATE_VERSION>/aliases/<name>/<alias>/<seq>.json  one alias move each
//! ```

use object_store::path::Path;

use crate::{RegistryError, Result};

/// ferry's own pin on a board.
pub const STATE_DIR: &str = "_ferry";
/// The one version folder of ferry's pin (a name pins parses as a version).
pub const STATE_VERSION: &str = "20000101T000000Z-ferry";
/// The file pins sees in ferry's pin.
pub const STATE_README: &str =
    "This pin holds ferry's registry state for this board: alias histories
(aliases/), version-name claims (claims/) and uploads in progress (staging/), all in
this version folder beside this file. pins readers can ignore it. ferry's own
commands (ferry alias, ferry prune --orphans) manage it; do not edit or delete it by
hand, or alias histories are lost.
";
/// pins' metadata file in every version folder.
pub const DATA_TXT: &str = "data.txt";

/// Keys on one board, relative to its root.
#[derive(Debug, Clone)]
pub struct Layout {
    root: Path,
}

impl Layout {
    pub fn new(root: Path) -> Layout {
        Layout { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn join<'a>(&self, parts: impl IntoIterator<Item = &'a str>) -> Path {
        let mut path = self.root.clone();
        for part in parts {
            for piece in part.split('/') {
                path = path.clone().join(piece);
            }
        }
        path
    }

    pub fn pin(&self, name: &str) -> Path {
        self.join([name])
    }

    pub fn version(&self, name: &str, version: &str) -> Path {
        self.join([name, version])
    }

    pub fn file(&self, name: &str, version: &str, file: &str) -> Path {
        self.join([name, version, file])
    }

    pub fn data_txt(&self, name: &str, version: &str) -> Path {
        self.join([name, version, DATA_TXT])
    }

    pub fn staging_root(&self) -> Path {
        self.join([STATE_DIR, STATE_VERSION, "staging"])
    }

    pub fn staging(&self, id: &str) -> Path {
        self.join([STATE_DIR, STATE_VERSION, "staging", id])
    }

    pub fn lease(&self, id: &str) -> Path {
        self.join([STATE_DIR, STATE_VERSION, "staging", id, "lease.json"])
    }

    pub fn staged_file(&self, id: &str, file: &str) -> Path {
        self.join([STATE_DIR, STATE_VERSION, "staging", id, "files", file])
    }

    pub fn claims_root(&self) -> Path {
        self.join([STATE_DIR, STATE_VERSION, "claims"])
    }

    pub fn claim(&self, name: &str, version: &str) -> Path {
        self.join([
            STATE_DIR,
            STATE_VERSION,
            "claims",
            name,
            &format!("{version}.json"),
        ])
    }

    pub fn aliases(&self, name: &str) -> Path {
        self.join([STATE_DIR, STATE_VERSION, "aliases", name])
    }

    pub fn alias_log(&self, name: &str, alias: &str) -> Path {
        self.join([STATE_DIR, STATE_VERSION, "aliases", name, alias])
    }

    pub fn alias_entry(&self, name: &str, alias: &str, seq: u64) -> Path {
        self.join([
            STATE_DIR,
            STATE_VERSION,
            "aliases",
            name,
            alias,
            &format!("{seq:010}.json"),
        ])
    }

    pub fn state_data_txt(&self) -> Path {
        self.join([STATE_DIR, STATE_VERSION, DATA_TXT])
    }

    pub fn state_readme(&self) -> Path {
        self.join([STATE_DIR, STATE_VERSION, "README.txt"])
    }

    /// `key` relative to the board root, as a `/`-separated string.
    pub fn relative(&self, key: &Path) -> String {
        match key.prefix_match(&self.root) {
            Some(parts) => parts
                .map(|p| p.as_ref().to_string())
                .collect::<Vec<_>>()
                .join("/"),
            None => key.to_string(),
        }
    }
}

/// Checks a file name inside a pin (`model.json`, `plots/roc.png`): relative, no `.`
/// or `..` parts, and characters every backend and every pins client keep as they are.
pub fn check_file_name(name: &str) -> Result<()> {
    let invalid = |reason: String| RegistryError::InvalidName {
        kind: "file".into(),
        name: name.into(),
        reason,
    };
    if name.is_empty() {
        return Err(invalid("it is empty".into()));
    }
    for part in name.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Err(invalid(
                "it must be a relative path without empty, '.' or '..' parts".into(),
            ));
        }
        if let Some(c) = part.chars().find(|c| {
            !(c.is_ascii_alphanumeric()
                || matches!(c, '.' | '_' | '-' | '+' | '=' | ',' | '@' | ' '))
        }) {
            return Err(invalid(format!(
                "{c:?} is not allowed in a file name on a board"
            )));
        }
    }
    if name == DATA_TXT {
        return Err(invalid("data.txt is pins' metadata file".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        let layout = Layout::new(Path::from("boards/team"));
        assert_eq!(
            layout.data_txt("churn", "20261127T120326Z-d2d77").as_ref(),
            "boards/team/churn/20261127T120326Z-d2d77/data.txt"
        );
        assert_eq!(
            layout.alias_entry("churn", "prod", 7).as_ref(),
            "boards/team/_ferry/20000101T000000Z-ferry/aliases/churn/prod/0000000007.json"
        );
        assert_eq!(
            layout.staged_file("u1", "plots/roc.png").as_ref(),
            "boards/team/_ferry/20000101T000000Z-ferry/staging/u1/files/plots/roc.png"
        );
        let key = layout.file("churn", "v", "a.csv");
        assert_eq!(layout.relative(&key), "churn/v/a.csv");
        let top = Layout::new(Path::default());
        assert_eq!(top.pin("churn").as_ref(), "churn");
    }

    #[test]
    fn file_names() {
        for ok in [
            "model.json",
            "plots/roc.png",
            "My Report v2.html",
            ".gitignore",
        ] {
            check_file_name(ok).unwrap();
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a//b",
            "a/./b",
            "data.txt",
            "a#b",
            "é.txt",
            "a\\b",
        ] {
            assert!(check_file_name(bad).is_err(), "{bad}");
        }
    }
}
