//! The `stored` payload: how far the relay has safely stored each session's events.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::SessionId;

/// For each recent session of the bay, the highest `seq` such that every event `1..=seq` is
/// stored. The edge may forget those events; it re-sends anything after them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Stored {
    pub sessions: BTreeMap<SessionId, u64>,
    pub at: Option<DateTime<Utc>>,
    /// The same for the sessions' evidence: every picture (or word that it was dropped) of
    /// events `1..=seq` is stored, and the edge may forget them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub evidence: BTreeMap<SessionId, u64>,
}
