//! The `ack` payload: the edge's answer to one command.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{BayState, CommandId, Plate, SessionId};

/// A session as the edge knows it, returned with the command that opened or closed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionSummary {
    pub id: SessionId,
    pub plate: Plate,
    pub count: u64,
    pub out: u64,
    pub started_at: DateTime<Utc>,
    #[serde(default)]
    pub stopped_at: Option<DateTime<Utc>>,
}

/// The answer to command `id`: done, or refused with a reason a person can read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    pub id: CommandId,
    pub ok: bool,
    #[serde(default)]
    pub reason: Option<String>,
    /// The bay's state after the command.
    pub state: BayState,
    /// The session the command opened or closed, if any.
    #[serde(default)]
    pub session: Option<SessionSummary>,
}
