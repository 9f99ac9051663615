//! The `event` payload: what happened in a session, numbered so the relay stores it once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Actor, Plate, SessionId};

/// Which way an object crossed the counting line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Direction {
    /// Left to right of the line's `p1→p2`: goods into the truck. Counts.
    In,
    /// Right to left: kept beside the count, never subtracted from it.
    Out,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EventKind {
    /// The session opened (always `seq` 1).
    Started { plate: Plate, by: Actor },
    /// One object crossed the line.
    Counted { direction: Direction, track: u64 },
    /// The session closed; `count` and `out` of the event are the final totals.
    Stopped { by: Actor },
}

/// One event of a session. `(session, seq)` identifies it: `seq` starts at 1 and grows by one
/// per event of the session, so storing an event twice changes nothing and gaps show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    pub session: SessionId,
    pub seq: u64,
    /// When it happened, by the edge's clock.
    pub at: DateTime<Utc>,
    /// The session's `in` total after this event.
    pub count: u64,
    /// The session's `out` total after this event.
    pub out: u64,
    #[serde(flatten)]
    pub kind: EventKind,
}
