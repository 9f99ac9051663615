//! Secret-bearing files (passwords, tokens, private keys) that everyone can read are refused.

use std::path::{Path, PathBuf};

/// A secret-bearing file anyone on the machine can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{path} holds {what} but anyone on this machine can read it (mode {mode:o}); \
     restrict it with: chmod o-rwx {path}"
)]
pub struct WorldReadable {
    pub path: PathBuf,
    /// What the file holds, in words ("the MQTT password").
    pub what: String,
    pub mode: u32,
}

/// Refuses `path` when its permissions let every user read it. Files that cannot be
/// inspected (already checked by whoever read them) pass.
pub fn check(path: &Path, what: &str) -> Result<(), WorldReadable> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o7777;
            if mode & 0o004 != 0 {
                return Err(WorldReadable {
                    path: path.to_owned(),
                    what: what.to_owned(),
                    mode,
                });
            }
        }
    }
    let _ = (path, what);
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn world_readable_is_refused_with_the_fix() {
        let dir = std::env::temp_dir().join(format!("baycount-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("relay.toml");
        std::fs::write(&file, "api_token = \"x\"\n").expect("write");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = check(&file, "an API token").expect_err("world-readable");
        assert!(err.to_string().contains("chmod o-rwx"), "{err}");
        assert!(err.to_string().contains("an API token"), "{err}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        check(&file, "an API token").expect("group-readable is fine");
        std::fs::remove_dir_all(&dir).expect("clean");
    }
}
