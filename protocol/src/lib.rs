//! The MQTT contract between a baycount edge (one per loading bay) and the relay.
//!
//! # Layout
//! - [`topic`]: `baycount/v1/<bay>/<kind>` topics and subscription filters.
//! - [`bay`], [`plate`], [`actor`], [`ids`]: the validated values every message is built from.
//! - [`status`], [`state`], [`event`], [`command`], [`ack`], [`stored`]: one payload type per
//!   topic; [`picture`]: the two that carry a JPEG, `snapshot` and `evidence`.
//! - [`counting`]: what a bay counts (its line, classes, band, anchor), reported in its state
//!   and changed by a `configure` command.
//! - [`acl`]: what each bay may touch.
//! - [`codec`]: JSON encoding and the one decoding entry point, [`codec::Incoming::parse`],
//!   which turns any topic and payload into a typed message or an error value (never a panic).
//!
//! This crate is the contract the edge and the relay share, and only that (how they connect,
//! retry and store is in `baycount-plumbing`); a change to the contract is made here and nowhere
//! else.

pub mod ack;
pub mod acl;
pub mod actor;
pub mod bay;
pub mod codec;
pub mod command;
pub mod counting;
pub mod event;
pub mod ids;
#[cfg(feature = "openapi")]
mod openapi;
pub mod picture;
pub mod plate;
pub mod state;
pub mod status;
pub mod stored;
pub mod topic;

pub use ack::{Ack, SessionSummary};
pub use actor::{Actor, ActorKind};
pub use bay::BayId;
pub use codec::{DecodeError, Incoming, Message, decode, encode};
pub use command::{Action, Command};
pub use counting::{Counting, CountingChange};
pub use event::{Direction, Event, EventKind};
pub use ids::{CommandId, SessionId};
pub use picture::{Evidence, EvidenceHeader, EvidenceKind, Snapshot, SnapshotHeader};
pub use plate::{Plate, PlateError};
pub use state::{BayState, Health, HealthLevel, LampMode, Lamps, Phase};
pub use status::Status;
pub use stored::Stored;
pub use topic::{Kind, Topic, TopicError};
