//! Truck plates: the one rule every surface (API, Telegram, dashboard, edge) validates with.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Longest plate accepted, in characters, after normalisation.
pub const MAX_LEN: usize = 16;

/// A truck's plate, normalised: trimmed, upper-cased, runs of spaces made one space.
/// Holds only `A-Z`, `0-9`, single spaces and `-`, and starts with a letter or a digit,
/// e.g. `KT 8899 TEST`, `B 1234 XYZ`, `DA 12 A`. (A plate never starts with `-`, so a
/// spreadsheet never reads one as a formula; histories written before that rule may hold such
/// plates: read them with [`Plate::from_stored`].)
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Plate(String);

/// Why a string is not a plate. The text is shown to operators as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlateError {
    #[error("the plate is empty; type it like 'B 1234 XYZ'")]
    Empty,
    #[error("the plate is longer than {MAX_LEN} characters; type it like 'B 1234 XYZ'")]
    TooLong,
    #[error("the plate contains a control character; type it like 'B 1234 XYZ'")]
    ControlChar,
    #[error("the plate may only contain letters A-Z, digits, spaces and '-', not {0:?}")]
    InvalidChar(char),
    #[error("the plate must start with a letter or a digit, not '-'; type it like 'B 1234 XYZ'")]
    LeadingDash,
}

impl Plate {
    /// Normalises and checks what an operator typed.
    pub fn parse(input: &str) -> Result<Self, PlateError> {
        let plate = Self::normalise(input)?;
        if plate.0.starts_with('-') {
            return Err(PlateError::LeadingDash);
        }
        Ok(plate)
    }

    /// Reads back a plate a history or journal stored, by the rule it was stored under: like
    /// [`Plate::parse`], but a leading `-` (allowed before plates had to start with a letter or
    /// a digit) is kept. Only for what was stored; new plates go through [`Plate::parse`].
    pub fn from_stored(stored: &str) -> Result<Self, PlateError> {
        Self::normalise(stored)
    }

    /// The rule shared by [`Plate::parse`] and [`Plate::from_stored`]: everything but the first
    /// character's.
    fn normalise(input: &str) -> Result<Self, PlateError> {
        if input.chars().any(char::is_control) {
            return Err(PlateError::ControlChar);
        }
        let mut out = String::with_capacity(input.len());
        for word in input.split(' ').filter(|w| !w.is_empty()) {
            if !out.is_empty() {
                out.push(' ');
            }
            for c in word.chars() {
                if !(c.is_ascii_alphanumeric() || c == '-') {
                    return Err(PlateError::InvalidChar(c));
                }
                out.push(c.to_ascii_uppercase());
            }
        }
        if !out.chars().any(|c| c.is_ascii_alphanumeric()) {
            return Err(PlateError::Empty);
        }
        if out.len() > MAX_LEN {
            return Err(PlateError::TooLong);
        }
        Ok(Self(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Plate {
    type Err = PlateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Plate {
    type Error = PlateError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Plate> for String {
    fn from(p: Plate) -> Self {
        p.0
    }
}

impl fmt::Display for Plate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalises_indonesian_plates() {
        for (typed, want) in [
            ("KT 8899 TEST", "KT 8899 TEST"),
            ("  b   1234 xyz ", "B 1234 XYZ"),
            ("da 12 a", "DA 12 A"),
            ("L-1234-AB", "L-1234-AB"),
        ] {
            assert_eq!(Plate::parse(typed).expect(typed).as_str(), want);
        }
    }

    #[test]
    fn rejects_bad_plates_with_reasons() {
        assert_eq!(Plate::parse(""), Err(PlateError::Empty));
        assert_eq!(Plate::parse("   "), Err(PlateError::Empty));
        assert_eq!(Plate::parse(" - "), Err(PlateError::Empty));
        assert_eq!(Plate::parse("B 1234\tXYZ"), Err(PlateError::ControlChar));
        assert_eq!(Plate::parse("B 1234\nXYZ"), Err(PlateError::ControlChar));
        assert_eq!(
            Plate::parse("B 12'; DROP"),
            Err(PlateError::InvalidChar('\''))
        );
        assert_eq!(Plate::parse("B 1234 ÄB"), Err(PlateError::InvalidChar('Ä')));
        assert_eq!(Plate::parse("ABCDEFGH 12345678"), Err(PlateError::TooLong));
    }

    #[test]
    fn plates_start_with_a_letter_or_a_digit() {
        for bad in ["-1-1", " -B 1", "--1", "- 1"] {
            assert_eq!(Plate::parse(bad), Err(PlateError::LeadingDash), "{bad:?}");
        }
        let why = PlateError::LeadingDash.to_string();
        assert!(why.contains("start with a letter or a digit") && why.contains("B 1234 XYZ"));
        assert_eq!(Plate::parse("1-1").expect("digit first").as_str(), "1-1");
        assert!(serde_json::from_str::<Plate>("\"-1-1\"").is_err());
    }

    #[test]
    fn stored_plates_keep_the_old_rule() {
        assert_eq!(
            Plate::from_stored("-1-1")
                .expect("stored before the rule")
                .as_str(),
            "-1-1"
        );
        assert_eq!(
            Plate::from_stored("KT 8899 TEST"),
            Plate::parse("KT 8899 TEST")
        );
        // Only the first character's rule is relaxed.
        assert_eq!(Plate::from_stored(" - "), Err(PlateError::Empty));
        assert_eq!(
            Plate::from_stored("=1+1"),
            Err(PlateError::InvalidChar('='))
        );
        assert_eq!(Plate::from_stored("-B\t1"), Err(PlateError::ControlChar));
    }

    #[test]
    fn serde_validates() {
        let p: Plate = serde_json::from_str("\" kt  8899 test\"").expect("valid");
        assert_eq!(p.as_str(), "KT 8899 TEST");
        assert!(serde_json::from_str::<Plate>("\"\\u0007\"").is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_is_idempotent(s in "\\PC{0,40}") {
            if let Ok(p) = Plate::parse(&s) {
                prop_assert_eq!(Plate::parse(p.as_str()), Ok(p.clone()));
                prop_assert!(p.as_str().len() <= MAX_LEN);
                prop_assert!(p.as_str().starts_with(|c: char| c.is_ascii_alphanumeric()));
                prop_assert_eq!(Plate::from_stored(p.as_str()), Ok(p.clone()));
            }
        }
    }
}
