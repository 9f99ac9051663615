//! Bay ids: the one topic segment that names a loading bay.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Longest bay id accepted, in bytes.
pub const MAX_LEN: usize = 32;

/// A bay id: 1 to 32 ASCII letters, digits, `-` or `_`, not starting with `_` (reserved for the
/// relay's own topics). It is a single MQTT topic level, so it can never hold `/`, `+` or `#`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BayId(String);

/// Why a string is not a bay id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BayIdError {
    #[error("bay id is empty; use letters, digits, '-' or '_'")]
    Empty,
    #[error("bay id is longer than {MAX_LEN} characters")]
    TooLong,
    #[error("bay id may only hold letters, digits, '-' and '_' and may not start with '_'")]
    InvalidChar,
}

impl BayId {
    /// Checks `s` and makes it a bay id.
    pub fn parse(s: &str) -> Result<Self, BayIdError> {
        if s.is_empty() {
            return Err(BayIdError::Empty);
        }
        if s.len() > MAX_LEN {
            return Err(BayIdError::TooLong);
        }
        let ok = s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok || s.starts_with('_') {
            return Err(BayIdError::InvalidChar);
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for BayId {
    type Err = BayIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for BayId {
    type Error = BayIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<BayId> for String {
    fn from(b: BayId) -> Self {
        b.0
    }
}

impl fmt::Display for BayId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_ids() {
        for id in ["bay-1", "B2", "north_dock_07", &"a".repeat(MAX_LEN)] {
            assert_eq!(BayId::parse(id).expect(id).as_str(), id);
        }
    }

    #[test]
    fn rejects_topic_metacharacters_and_reserved_names() {
        assert_eq!(BayId::parse(""), Err(BayIdError::Empty));
        assert_eq!(
            BayId::parse(&"a".repeat(MAX_LEN + 1)),
            Err(BayIdError::TooLong)
        );
        for id in ["a/b", "+", "#", "bay 1", "_relay", "bäy", "a\0"] {
            assert_eq!(BayId::parse(id), Err(BayIdError::InvalidChar), "{id:?}");
        }
    }
}
