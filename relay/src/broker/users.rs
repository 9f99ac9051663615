//! The embedded broker's users, in Mosquitto's password file format, so that one file (made
//! with `mosquitto_passwd` or `baycount-relay mqtt-user`) serves either broker.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::{digest, pbkdf2, rand::SecureRandom};
use subtle::ConstantTimeEq;

/// `mosquitto_passwd`'s PBKDF2 iteration count.
const ITERATIONS: u32 = 101;
const SALT_LEN: usize = 12;

/// Why the password file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    #[error("cannot read the MQTT password file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the MQTT password file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} line {line}: {reason}; each line is user:hash as mosquitto_passwd or `baycount-relay mqtt-user` write it"
    )]
    Line {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{0}")]
    Secret(#[from] baycount_plumbing::secret_file::WorldReadable),
    #[error("{0:?} cannot be an MQTT user name: use the bay id (letters, digits, - and _)")]
    Name(String),
    #[error("the password is empty")]
    EmptyPassword,
}

/// A stored password hash.
#[derive(Debug, Clone, PartialEq)]
enum Hash {
    /// `$7$iterations$salt$hash`: PBKDF2-HMAC-SHA512 (Mosquitto 2).
    Pbkdf2 {
        iterations: NonZeroU32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    /// `$6$salt$hash`: SHA-512 of password and salt (Mosquitto 1.x).
    Sha512 { salt: Vec<u8>, hash: Vec<u8> },
}

impl Hash {
    fn parse(text: &str) -> Result<Self, String> {
        let b64 = |s: &str| STANDARD.decode(s).map_err(|e| format!("bad base64: {e}"));
        let parts: Vec<&str> = text.split('$').collect();
        match parts.as_slice() {
            ["", "7", iterations, salt, hash] => Ok(Hash::Pbkdf2 {
                iterations: iterations
                    .parse()
                    .map_err(|_| format!("bad iteration count {iterations:?}"))?,
                salt: b64(salt)?,
                hash: b64(hash)?,
            }),
            ["", "6", salt, hash] => Ok(Hash::Sha512 {
                salt: b64(salt)?,
                hash: b64(hash)?,
            }),
            _ => {
                Err("not a $7$ or $6$ password hash (plain-text passwords are not accepted)".into())
            }
        }
    }

    fn verify(&self, password: &str) -> bool {
        match self {
            Hash::Pbkdf2 {
                iterations,
                salt,
                hash,
            } => pbkdf2::verify(
                pbkdf2::PBKDF2_HMAC_SHA512,
                *iterations,
                salt,
                password.as_bytes(),
                hash,
            )
            .is_ok(),
            Hash::Sha512 { salt, hash } => {
                let mut ctx = digest::Context::new(&digest::SHA512);
                ctx.update(password.as_bytes());
                ctx.update(salt);
                bool::from(ctx.finish().as_ref().ct_eq(hash))
            }
        }
    }
}

/// A new `$7$` hash of `password`, as `mosquitto_passwd` makes it.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; SALT_LEN];
    ring::rand::SystemRandom::new()
        .fill(&mut salt)
        .unwrap_or_else(|_| unreachable!("the system's random source failed"));
    let mut hash = [0u8; 64];
    let iterations = NonZeroU32::new(ITERATIONS).unwrap_or(NonZeroU32::MIN);
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA512,
        iterations,
        &salt,
        password.as_bytes(),
        &mut hash,
    );
    format!(
        "$7${ITERATIONS}${}${}",
        STANDARD.encode(salt),
        STANDARD.encode(hash)
    )
}

/// A hash no password matches, verified in place of an unknown user's.
fn dummy() -> &'static Hash {
    static DUMMY: std::sync::OnceLock<Hash> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| Hash::Pbkdf2 {
        iterations: NonZeroU32::new(ITERATIONS).unwrap_or(NonZeroU32::MIN),
        salt: vec![0; SALT_LEN],
        hash: vec![0; 64],
    })
}

/// Who may connect, by user name.
#[derive(Debug, Clone, Default)]
pub struct Users {
    hashes: BTreeMap<String, Hash>,
}

impl Users {
    /// Reads a password file that only its owner (and group) may read.
    pub fn load(path: &Path) -> Result<Self, UsersError> {
        baycount_plumbing::secret_file::check(path, "MQTT password hashes")?;
        let text = std::fs::read_to_string(path).map_err(|source| UsersError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    fn parse(path: &Path, text: &str) -> Result<Self, UsersError> {
        let mut hashes = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |reason: String| UsersError::Line {
                path: path.to_owned(),
                line: i + 1,
                reason,
            };
            let (user, hash) = line
                .split_once(':')
                .ok_or_else(|| err("no ':' between user and hash".into()))?;
            hashes.insert(user.to_owned(), Hash::parse(hash).map_err(err)?);
        }
        Ok(Self { hashes })
    }

    /// Whether `user` exists and `password` is theirs. An unknown user costs the same time as
    /// a known one, so the answer's timing does not tell which users exist.
    pub fn verify(&self, user: &str, password: &str) -> bool {
        match self.hashes.get(user) {
            Some(h) => h.verify(password),
            None => {
                let _ = dummy().verify(password);
                false
            }
        }
    }

    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }
}

/// Adds `user` to the password file (creating it, readable by its owner only) or changes their
/// password; the other lines are kept as they are.
pub fn set_password(path: &Path, user: &str, password: &str) -> Result<(), UsersError> {
    if baycount_protocol::BayId::parse(user).is_err() {
        return Err(UsersError::Name(user.to_owned()));
    }
    if password.is_empty() {
        return Err(UsersError::EmptyPassword);
    }
    let old = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(UsersError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let entry = format!("{user}:{}", hash_password(password));
    let mut lines: Vec<String> = Vec::new();
    let mut replaced = false;
    for line in old.lines() {
        if line.split_once(':').is_some_and(|(u, _)| u == user) {
            lines.push(entry.clone());
            replaced = true;
        } else {
            lines.push(line.to_owned());
        }
    }
    if !replaced {
        lines.push(entry);
    }
    let write_err = |source| UsersError::Write {
        path: path.to_owned(),
        source,
    };
    let tmp = path.with_extension("tmp");
    // A leftover from an interrupted run would keep its own permissions: start afresh.
    let _ = std::fs::remove_file(&tmp);
    {
        use std::io::Write;
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(write_err)?;
        // An existing file keeps its owner, group and (never world-readable) mode, so that a
        // `root:mosquitto 0640` file stays readable by Mosquitto.
        if let Ok(old) = std::fs::metadata(path) {
            std::os::unix::fs::fchown(&f, Some(old.uid()), Some(old.gid())).map_err(write_err)?;
            f.set_permissions(std::fs::Permissions::from_mode(old.mode() & 0o770))
                .map_err(write_err)?;
        }
        f.write_all((lines.join("\n") + "\n").as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(write_err)?;
    }
    std::fs::rename(&tmp, path).map_err(write_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mosquitto_passwd_hashes() {
        // Made by mosquitto_passwd 2.0.11 (bay-1 / s3cret).
        let text = "# bays\nbay-1:$7$101$WdA5EefzP+6ObvYO$gmOR9o43WOJxZV/9T4TTEC+zsDiPLJOXnEAdsYUhvuRVucoHdUCHu1rB64Oirtrx6AI/utqpZvh7cR1JoDnv3A==\n\n";
        let users = Users::parse(Path::new("pw"), text).expect("valid");
        assert!(users.verify("bay-1", "s3cret"));
        assert!(!users.verify("bay-1", "s3cret "));
        assert!(!users.verify("bay-2", "s3cret"));
        assert_eq!(users.len(), 1);
    }

    #[test]
    fn own_hashes_verify_and_bad_lines_are_named() {
        let h = hash_password("pässword");
        let users = Users::parse(Path::new("pw"), &format!("a:{h}\n")).expect("valid");
        assert!(users.verify("a", "pässword"));
        assert!(!users.verify("a", "password"));
        for bad in ["a", "a:plain", "a:$7$x$AAAA$AAAA", "a:$7$101$!!$AAAA"] {
            let e = Users::parse(Path::new("pw"), &format!("# c\n{bad}\n")).expect_err(bad);
            assert!(e.to_string().contains("line 2"), "{e}");
        }
    }

    #[test]
    fn set_password_adds_and_replaces() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("pw");
        set_password(&path, "bay-1", "one").expect("add");
        set_password(&path, "bay-2", "two").expect("add");
        set_password(&path, "bay-1", "uno").expect("replace");
        let users = Users::load(&path).expect("private file");
        assert_eq!(users.len(), 2);
        assert!(users.verify("bay-1", "uno") && !users.verify("bay-1", "one"));
        assert!(users.verify("bay-2", "two"));
        assert!(matches!(
            set_password(&path, "a/b", "x"),
            Err(UsersError::Name(_))
        ));
        assert!(matches!(
            set_password(&path, "bay-3", ""),
            Err(UsersError::EmptyPassword)
        ));
    }
}
