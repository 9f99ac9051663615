//! Config files: TOML with every key known, refused when others can read the secrets in them.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::secret_file::{self, WorldReadable};

/// Why a config file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Secret(#[from] WorldReadable),
}

/// A config file's text as `T`; errors name the offending key (unknown ones too, with
/// `#[serde(deny_unknown_fields)]`) and line.
pub fn parse<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, ConfigFileError> {
    toml::from_str(text).map_err(|e| ConfigFileError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// Reads and parses the file at `path`. When `secret` says what secret the settings hold
/// ("the MQTT password"), a file everyone on the machine can read is refused.
pub fn read<T: DeserializeOwned>(
    path: &Path,
    secret: impl FnOnce(&T) -> Option<&'static str>,
) -> Result<T, ConfigFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    let file = parse(path, &text)?;
    if let Some(what) = secret(&file) {
        secret_file::check(path, what)?;
    }
    Ok(file)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        token: Option<String>,
    }

    fn token(f: &File) -> Option<&'static str> {
        f.token.as_ref().map(|_| "a token")
    }

    #[test]
    fn read_parse_and_secrets() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("x.toml");
        let e = read(&path, token).expect_err("missing");
        assert!(e.to_string().starts_with("cannot read config file "), "{e}");

        std::fs::write(&path, "tokn = \"t\"\n").expect("write");
        let e = read(&path, token).expect_err("unknown key");
        assert!(matches!(e, ConfigFileError::Parse { .. }), "{e}");
        assert!(e.to_string().contains("tokn"), "{e}");

        std::fs::write(&path, "token = \"t\"\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let e = read(&path, token).expect_err("world-readable");
        assert!(e.to_string().contains("holds a token"), "{e}");
        read(&path, |_: &File| None).expect("no secret, no check");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let f = read(&path, token).expect("private");
        assert_eq!(f.token.as_deref(), Some("t"));
    }
}
