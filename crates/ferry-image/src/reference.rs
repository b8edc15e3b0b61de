//! Image references (`name:tag`), checked with the grammar of the distribution spec
//! so that what ferry writes, docker, podman and skopeo all accept.

use crate::ImageError;

/// `[registry[:port]/]path[:tag]`; the tag defaults to `latest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub name: String,
    pub tag: String,
}

impl Reference {
    pub fn parse(text: &str) -> Result<Reference, ImageError> {
        let error = |why: &str| ImageError::Reference {
            reference: text.to_string(),
            why: why.to_string(),
        };
        if text.contains('@') {
            return Err(error(
                "a digest cannot be given; the digest comes from the content",
            ));
        }
        // A colon after the last slash starts the tag (one before it is a registry port).
        let slash = text.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match text[slash..].rfind(':') {
            Some(i) => (&text[..slash + i], &text[slash + i + 1..]),
            None => (text, "latest"),
        };
        let tag_ok = !tag.is_empty()
            && tag.len() <= 128
            && tag
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            && tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !tag_ok {
            return Err(error(
                "the tag must be 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'",
            ));
        }
        if name.is_empty() || name.len() > 255 {
            return Err(error("the name must be 1 to 255 characters"));
        }
        let mut components: Vec<&str> = name.split('/').collect();
        // A first component with a '.' or ':' (or `localhost`) is a registry host.
        if components.len() > 1
            && (components[0].contains(['.', ':']) || components[0] == "localhost")
        {
            let host = components.remove(0);
            let host_ok = host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
            if !host_ok {
                return Err(error(
                    "the registry host has characters a host name cannot have",
                ));
            }
        }
        for component in components {
            if !path_component(component) {
                return Err(error(
                    "each part of the name must be lowercase letters and digits, separated by '.', '_', '__' or '-'",
                ));
            }
        }
        Ok(Reference {
            name: name.to_string(),
            tag: tag.to_string(),
        })
    }

    /// `name:tag`, as docker and podman list it.
    pub fn full(&self) -> String {
        format!("{}:{}", self.name, self.tag)
    }

    /// The fully qualified form: `churn:1` is `docker.io/library/churn:1`,
    /// `team/churn:1` is `docker.io/team/churn:1`; a name with a registry is unchanged.
    pub fn normalized(&self) -> String {
        let first = self.name.split('/').next().unwrap_or_default();
        let has_registry =
            self.name.contains('/') && (first.contains(['.', ':']) || first == "localhost");
        match (has_registry, self.name.contains('/')) {
            (true, _) => self.full(),
            (false, true) => format!("docker.io/{}", self.full()),
            (false, false) => format!("docker.io/library/{}", self.full()),
        }
    }
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn path_component(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &text[start..i];
        let ok = separator == "."
            || separator == "_"
            || separator == "__"
            || separator.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        for (text, name, tag) in [
            ("churn", "churn", "latest"),
            ("churn:1.2", "churn", "1.2"),
            ("team/churn-model:v3_a", "team/churn-model", "v3_a"),
            ("localhost:5000/churn:prod", "localhost:5000/churn", "prod"),
            ("ghcr.io/acme/churn__x:1", "ghcr.io/acme/churn__x", "1"),
        ] {
            let r = Reference::parse(text).unwrap();
            assert_eq!((r.name.as_str(), r.tag.as_str()), (name, tag), "{text}");
        }
        assert_eq!(
            Reference::parse("churn:1").unwrap().normalized(),
            "docker.io/library/churn:1"
        );
        assert_eq!(
            Reference::parse("team/churn").unwrap().normalized(),
            "docker.io/team/churn:latest"
        );
        assert_eq!(
            Reference::parse("ghcr.io/a/churn:2").unwrap().normalized(),
            "ghcr.io/a/churn:2"
        );
        for bad in [
            "Churn:1",
            "churn:",
            "churn:.x",
            "-churn",
            "churn..x",
            "a/b@sha256:00",
            "",
            "churn:a b",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
