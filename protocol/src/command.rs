//! The `cmd` payload: what the relay asks of an edge, once, before it expires.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Actor, CommandId, CountingChange, Plate, SessionId};

/// What to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// Open a session with this (caller-made) id for this plate.
    Start { session: SessionId, plate: Plate },
    /// Close the open session; with `session`, only if it is that one.
    Stop {
        #[serde(default)]
        session: Option<SessionId>,
    },
    /// Set (or clear) the plate the bay's push button starts a session for.
    Assign {
        #[serde(default)]
        plate: Option<Plate>,
    },
    /// Publish the state now; with `picture`, also the newest frame drawn on (boxes, track
    /// ids, the line and its `in` arrow, the count) on the bay's `snapshot` topic, tagged with
    /// this command's id.
    Snapshot {
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        picture: bool,
    },
    /// Change what the bay counts (its line, classes, band, anchor), between sessions only: a
    /// loading bay refuses. The bay checks the settings, keeps them over a restart and reports
    /// them in its state.
    Configure { counting: CountingChange },
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Start { .. } => "start",
            Action::Stop { .. } => "stop",
            Action::Assign { .. } => "assign",
            Action::Snapshot { .. } => "snapshot",
            Action::Configure { .. } => "configure",
        }
    }
}

/// A command. The edge applies a command id at most once and refuses it after `expires_at`,
/// so a command the relay has given up on is never carried out late.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command {
    pub id: CommandId,
    pub expires_at: DateTime<Utc>,
    pub by: Actor,
    #[serde(flatten)]
    pub action: Action,
}

impl Command {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now > self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configure_command_carries_only_the_settings_it_changes() {
        let text = r#"{"type":"configure","counting":{"line":"0,0.4,1,0.4","band":0.02}}"#;
        let action: Action = serde_json::from_str(text).expect("reads");
        let Action::Configure { counting } = &action else {
            panic!("{action:?}")
        };
        assert_eq!(counting.line.as_deref(), Some("0,0.4,1,0.4"));
        assert_eq!(
            (counting.band, counting.classes.clone()),
            (Some(0.02), None)
        );
        assert_eq!(serde_json::to_string(&action).expect("writes"), text);
        assert_eq!(action.name(), "configure");
    }

    #[test]
    fn a_snapshot_without_picture_reads_and_writes_as_before() {
        let plain: Action = serde_json::from_str(r#"{"type":"snapshot"}"#).expect("reads");
        assert_eq!(plain, Action::Snapshot { picture: false });
        assert_eq!(
            serde_json::to_string(&plain).expect("writes"),
            r#"{"type":"snapshot"}"#
        );
        let picture = Action::Snapshot { picture: true };
        let text = serde_json::to_string(&picture).expect("writes");
        assert_eq!(text, r#"{"type":"snapshot","picture":true}"#);
        assert_eq!(
            serde_json::from_str::<Action>(&text).expect("reads"),
            picture
        );
    }
}
