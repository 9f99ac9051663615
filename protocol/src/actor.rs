//! Who gave a command: kept with every session and audit row.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The surface a command came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActorKind {
    Telegram,
    Dashboard,
    Api,
    Button,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Telegram => "telegram",
            Self::Dashboard => "dashboard",
            Self::Api => "api",
            Self::Button => "button",
        }
    }
}

/// Longest actor id kept, in characters.
const MAX_ID_LEN: usize = 64;

/// Who acted: a surface and, where it has one, a user there (a Telegram user id, a
/// dashboard user name). Written as `kind` or `kind:id`, e.g. `telegram:123456`, `api`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Actor {
    pub kind: ActorKind,
    pub id: Option<String>,
}

/// Why a string is not an actor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown actor {0:?}: expected telegram, dashboard, api or button, optionally followed by ':' and a user id of up to 64 printable characters"
)]
pub struct ActorError(String);

impl Actor {
    pub fn new(kind: ActorKind, id: Option<String>) -> Self {
        Self { kind, id }
    }
}

impl FromStr for Actor {
    type Err = ActorError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, id) = match s.split_once(':') {
            Some((k, id)) => (k, Some(id)),
            None => (s, None),
        };
        let kind = match kind {
            "telegram" => ActorKind::Telegram,
            "dashboard" => ActorKind::Dashboard,
            "api" => ActorKind::Api,
            "button" => ActorKind::Button,
            _ => return Err(ActorError(s.chars().take(80).collect())),
        };
        if let Some(id) = id
            && (id.is_empty()
                || id.chars().count() > MAX_ID_LEN
                || id.chars().any(char::is_control))
        {
            return Err(ActorError(s.chars().take(80).collect()));
        }
        Ok(Self {
            kind,
            id: id.map(str::to_owned),
        })
    }
}

impl TryFrom<String> for Actor {
    type Error = ActorError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Actor> for String {
    fn from(a: Actor) -> Self {
        a.to_string()
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.id {
            Some(id) => write!(f, "{}:{id}", self.kind.as_str()),
            None => f.write_str(self.kind.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for s in ["api", "button", "telegram:123456", "dashboard:office pc"] {
            assert_eq!(s.parse::<Actor>().expect(s).to_string(), s);
        }
    }

    #[test]
    fn rejects_unknown_kinds_and_bad_ids() {
        for s in [
            "",
            "root",
            "api:",
            "telegram:a\nb",
            &format!("api:{}", "x".repeat(65)),
        ] {
            assert!(s.parse::<Actor>().is_err(), "{s:?}");
        }
    }
}
