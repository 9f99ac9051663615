//! Topic names of contract version 1: `baycount/v1/<bay>/<kind>`.

use std::fmt;

use crate::bay::{BayId, BayIdError};

/// Every topic of this contract starts with this.
pub const ROOT: &str = "baycount/v1";

/// Where the relay announces itself (`online`, retained; `offline` as its last will), so an
/// edge knows when to re-send what the relay has not confirmed. `_relay` is no valid bay id.
pub const RELAY_STATUS: &str = "baycount/v1/_relay/status";

/// QoS of every publication and subscription of the contract: 1, at least once (a repeat
/// changes nothing: events carry `(session, seq)`, commands their id).
pub const QOS: u8 = 1;

/// The filter matching every topic of every bay (and the relay's status): one subscription, so a
/// bay's event and the state that follows it arrive in the order the bay sent them.
pub const ALL_BAYS: &str = "baycount/v1/+/+";

/// The kinds of topic a bay has; see DESIGN.md's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// edge → relay, retained: `online` / `offline` (last will).
    Status,
    /// edge → relay, retained: the bay's [`crate::BayState`].
    State,
    /// edge → relay: session started / counted / stopped, with `(session, seq)`.
    Event,
    /// relay → edge: a [`crate::Command`].
    Cmd,
    /// edge → relay: the [`crate::Ack`] of a command.
    Ack,
    /// relay → edge, retained: the [`crate::Stored`] cursor of each session.
    Stored,
    /// edge → relay: the picture a `snapshot` command asked for ([`crate::Snapshot`]).
    Snapshot,
    /// edge → relay: the picture of one event of a session ([`crate::Evidence`]), kept by the
    /// edge until `stored` confirms it.
    Evidence,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Status,
        Kind::State,
        Kind::Event,
        Kind::Cmd,
        Kind::Ack,
        Kind::Stored,
        Kind::Snapshot,
        Kind::Evidence,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Status => "status",
            Kind::State => "state",
            Kind::Event => "event",
            Kind::Cmd => "cmd",
            Kind::Ack => "ack",
            Kind::Stored => "stored",
            Kind::Snapshot => "snapshot",
            Kind::Evidence => "evidence",
        }
    }

    /// Whether messages on this kind of topic are published retained.
    pub fn retained(self) -> bool {
        matches!(self, Kind::Status | Kind::State | Kind::Stored)
    }

    /// The filter matching this kind for every bay, e.g. `baycount/v1/+/event`. (A reader that
    /// needs several kinds in the order they were sent uses [`ALL_BAYS`] instead: brokers keep
    /// the order within one subscription, not across several.)
    pub fn filter_all_bays(self) -> String {
        format!("{ROOT}/+/{}", self.as_str())
    }

    fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A bay's topic of one kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Topic {
    pub bay: BayId,
    pub kind: Kind,
}

/// Why a topic name is not one of this contract's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    #[error("topic {0:?} is not under {ROOT}/<bay>/<kind>")]
    Foreign(String),
    #[error("topic {topic:?} names an invalid bay: {source}")]
    Bay { topic: String, source: BayIdError },
    #[error(
        "topic {0:?} has an unknown kind; expected status, state, event, cmd, ack, stored, snapshot or evidence"
    )]
    UnknownKind(String),
}

impl Topic {
    pub fn new(bay: BayId, kind: Kind) -> Self {
        Self { bay, kind }
    }

    /// Reads a topic name received from the broker.
    pub fn parse(name: &str) -> Result<Self, TopicError> {
        let foreign = || TopicError::Foreign(name.chars().take(200).collect());
        let rest = name
            .strip_prefix(ROOT)
            .and_then(|r| r.strip_prefix('/'))
            .ok_or_else(foreign)?;
        let (bay, kind) = rest.split_once('/').ok_or_else(foreign)?;
        let bay = BayId::parse(bay).map_err(|source| TopicError::Bay {
            topic: name.chars().take(200).collect(),
            source,
        })?;
        let kind = Kind::parse(kind)
            .ok_or_else(|| TopicError::UnknownKind(name.chars().take(200).collect()))?;
        Ok(Self { bay, kind })
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{ROOT}/{}/{}", self.bay, self.kind.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_kind() {
        let bay = BayId::parse("bay-1").expect("bay");
        for kind in Kind::ALL {
            let t = Topic::new(bay.clone(), kind);
            assert_eq!(Topic::parse(&t.to_string()), Ok(t.clone()));
            assert_eq!(
                t.to_string(),
                format!("baycount/v1/bay-1/{}", kind.as_str())
            );
        }
        assert_eq!(Kind::Event.filter_all_bays(), "baycount/v1/+/event");
    }

    #[test]
    fn rejects_other_topics() {
        assert!(matches!(
            Topic::parse("other/v1/bay/state"),
            Err(TopicError::Foreign(_))
        ));
        assert!(matches!(
            Topic::parse("baycount/v2/bay/state"),
            Err(TopicError::Foreign(_))
        ));
        assert!(matches!(
            Topic::parse("baycount/v1/bay"),
            Err(TopicError::Foreign(_))
        ));
        assert!(matches!(
            Topic::parse(RELAY_STATUS),
            Err(TopicError::Bay { .. })
        ));
        assert!(matches!(
            Topic::parse("baycount/v1/bay/state/x"),
            Err(TopicError::UnknownKind(_))
        ));
        assert!(matches!(
            Topic::parse("baycount/v1/bay/nope"),
            Err(TopicError::UnknownKind(_))
        ));
    }
}
