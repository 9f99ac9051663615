//! The `state` payload: what a bay is doing now, retained so a newcomer sees it at once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Actor, Counting, Plate, SessionId};

/// Whether a bay is counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Phase {
    #[default]
    Idle,
    Loading,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Loading => "loading",
        }
    }
}

/// How one part of the edge is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum HealthLevel {
    Ok,
    Degraded,
    Down,
    #[default]
    Unknown,
}

/// What one lamp of the bay's stack light shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum LampMode {
    #[default]
    Off,
    On,
    Blink,
}

/// The bay's stack light: green while loading (a short blink per count), red while idle, amber
/// while the link to the relay is down, red blinking on a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lamps {
    pub green: LampMode,
    pub amber: LampMode,
    pub red: LampMode,
}

/// The edge's own view of its health. Unknown keys from newer edges are ignored.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// Frames arriving from the camera.
    pub camera: HealthLevel,
    /// The detection model loaded and running.
    pub detector: HealthLevel,
    /// Frames processed per second, averaged over the last few seconds.
    pub fps: f32,
    /// Of those, the frames the detector looked at per second: fewer while the bay is idle
    /// (`idle_fps`) or nobody is near the line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detect_fps: Option<f32>,
    /// Counts written to the edge's journal that the relay has not yet confirmed.
    pub journal_backlog: u64,
    /// A human-readable reason when something is not `ok`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// What the bay's lamps show.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lamps: Option<Lamps>,
}

/// A bay's state, published retained by its edge on every change and periodically.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BayState {
    pub phase: Phase,
    /// The open session while loading.
    #[serde(default)]
    pub session: Option<SessionId>,
    /// The open session's plate while loading.
    #[serde(default)]
    pub plate: Option<Plate>,
    /// The plate the bay's push button starts a session for.
    #[serde(default)]
    pub assigned_plate: Option<Plate>,
    /// `in` crossings of the open session (goods into the truck).
    #[serde(default)]
    pub count: u64,
    /// `out` crossings of the open session, kept beside the count.
    #[serde(default)]
    pub out: u64,
    /// The `seq` of the open session's latest event.
    #[serde(default)]
    pub seq: u64,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub started_by: Option<Actor>,
    #[serde(default)]
    pub health: Health,
    /// What the bay counts: its line, classes, band and anchor (from its config file, or the
    /// latest `configure` command). Absent from edges that do not report it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counting: Option<Counting>,
    /// When the edge published this.
    pub at: DateTime<Utc>,
}

impl BayState {
    /// An idle bay with nothing known about its health.
    pub fn idle(at: DateTime<Utc>) -> Self {
        Self {
            phase: Phase::Idle,
            session: None,
            plate: None,
            assigned_plate: None,
            count: 0,
            out: 0,
            seq: 0,
            started_at: None,
            started_by: None,
            health: Health::default(),
            counting: None,
            at,
        }
    }
}
