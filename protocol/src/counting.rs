//! What a bay counts: its line, the classes, the dead band and the anchor. The bay reports them
//! in its state, and the relay changes them with a `configure` command (the line editor).

use serde::{Deserialize, Serialize};

/// A bay's counting settings as it applies them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Counting {
    /// The counting line `x1,y1,x2,y2`, normalised, y down; crossing it from its left to its
    /// right counts `in`.
    pub line: String,
    /// The classes counted, by label name.
    pub classes: Vec<String>,
    /// Half-width of the dead band around the line, normalised.
    pub band: f32,
    /// The point of each box tested against the line: `bottom-center`, `center` or
    /// `top-center`.
    pub anchor: String,
}

/// A change to some of a bay's counting settings; what is left out stays as it is.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CountingChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub band: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<String>,
}

/// The widest dead band a bay takes: a fifth of the picture on each side of the line.
pub const MAX_BAND: f32 = 0.2;
/// The narrowest: a ten-thousandth of the picture.
pub const MIN_BAND: f32 = 0.0001;
/// A line as the relay's API document gives it: four numbers from 0 to 1, by commas.
pub const LINE_PATTERN: &str =
    r"^ *(1(\.0*)?|0?\.[0-9]+|0(\.[0-9]*)?) *(, *(1(\.0*)?|0?\.[0-9]+|0(\.[0-9]*)?) *){3}$";

/// The anchors a bay knows.
pub const ANCHORS: [&str; 3] = ["bottom-center", "center", "top-center"];

impl CountingChange {
    /// Whether each setting given is one a bay can take, so a relay can refuse a bad one before
    /// it reaches the bay (which checks again, and checks the classes against its model).
    pub fn check(&self) -> Result<(), String> {
        if let Some(line) = &self.line {
            let v: Vec<f32> = line
                .split(',')
                .map(|p| p.trim().parse::<f32>())
                .collect::<Result<_, _>>()
                .map_err(|_| format!("line must be four numbers x1,y1,x2,y2, not {line:?}"))?;
            if v.len() != 4 {
                return Err(format!(
                    "line must be four numbers x1,y1,x2,y2, not {line:?}"
                ));
            }
            if v.iter().any(|c| !(0.0..=1.0).contains(c)) {
                return Err(format!(
                    "line's numbers are fractions of the picture, 0 to 1, not {line:?}"
                ));
            }
            // Two ends at the same point are the bay's to refuse, in its own words: no schema
            // of the relay's API can say it.
        }
        if let Some(band) = self.band
            && !(MIN_BAND..=MAX_BAND).contains(&band)
        {
            return Err(format!(
                "band must be from {MIN_BAND} to {MAX_BAND} (a share of the picture), not {band}"
            ));
        }
        if let Some(anchor) = &self.anchor
            && !ANCHORS.contains(&anchor.as_str())
        {
            return Err(format!("anchor must be one of {ANCHORS:?}, not {anchor:?}"));
        }
        if let Some(classes) = &self.classes {
            if classes.is_empty() {
                return Err("give at least one class to count (e.g. [\"person\"])".into());
            }
            if let Some(bad) = classes
                .iter()
                .find(|c| c.trim().is_empty() || c.chars().count() > 64)
            {
                return Err(format!(
                    "a class is a label name of 1 to 64 characters, not {bad:?}"
                ));
            }
        }
        Ok(())
    }

    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// `settings` with this change made (unchecked: the bay checks what it is given).
    pub fn applied_to(&self, settings: &Counting) -> Counting {
        Counting {
            line: self.line.clone().unwrap_or_else(|| settings.line.clone()),
            classes: self
                .classes
                .clone()
                .unwrap_or_else(|| settings.classes.clone()),
            band: self.band.unwrap_or(settings.band),
            anchor: self
                .anchor
                .clone()
                .unwrap_or_else(|| settings.anchor.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_names_only_what_it_changes() {
        let now = Counting {
            line: "0,0.5,1,0.5".into(),
            classes: vec!["person".into()],
            band: 0.01,
            anchor: "bottom-center".into(),
        };
        let change: CountingChange =
            serde_json::from_str(r#"{"line":"0.2,0.1,0.2,0.9"}"#).expect("reads");
        assert_eq!(
            serde_json::to_string(&change).expect("writes"),
            r#"{"line":"0.2,0.1,0.2,0.9"}"#
        );
        let after = change.applied_to(&now);
        assert_eq!(after.line, "0.2,0.1,0.2,0.9");
        assert_eq!((after.classes, after.band), (now.classes.clone(), 0.01));
        assert!(CountingChange::default().is_empty() && !change.is_empty());
        assert!(
            serde_json::from_str::<CountingChange>(r#"{"lines":"0,0,1,1"}"#).is_err(),
            "a misspelt key is refused, not ignored"
        );
    }

    #[test]
    fn bad_settings_are_refused_with_what_to_give() {
        let bad = [
            (r#"{"line":"0,0.5,1"}"#, "four numbers"),
            (r#"{"line":"0,0.5,1,1.5"}"#, "0 to 1"),
            (r#"{"band":0}"#, "band must be"),
            (r#"{"band":0.5}"#, "band must be"),
            (r#"{"anchor":"feet"}"#, "anchor must be"),
            (r#"{"classes":[]}"#, "at least one class"),
            (r#"{"classes":[""]}"#, "label name"),
        ];
        for (json, why) in bad {
            let change: CountingChange = serde_json::from_str(json).expect("reads");
            let e = change.check().expect_err(json);
            assert!(e.contains(why), "{json}: {e}");
        }
        let good: CountingChange = serde_json::from_str(
            r#"{"line":"0,0.4,1,0.4","classes":["person"],"band":0.02,"anchor":"center"}"#,
        )
        .expect("reads");
        assert_eq!(good.check(), Ok(()));
    }
}
