//! Who may publish and subscribe where: each bay only under its own topics, so one bay's
//! credentials can neither fake another bay's counts nor read its commands.
//!
//! The embedded broker enforces these rules; `mosquitto/baycount.acl` states the same rules
//! for Mosquitto (a bay's MQTT user name is its bay id), and a test holds the two together.

use crate::topic::{Kind, RELAY_STATUS, ROOT};

/// Kinds a bay publishes on its own topics.
pub const BAY_PUBLISHES: [Kind; 6] = [
    Kind::Status,
    Kind::State,
    Kind::Event,
    Kind::Ack,
    Kind::Snapshot,
    Kind::Evidence,
];
/// Kinds a bay reads on its own topics (plus [`RELAY_STATUS`]).
pub const BAY_READS: [Kind; 2] = [Kind::Cmd, Kind::Stored];

/// Whether the bay whose MQTT user is `user` may publish to `topic` (also its last will).
pub fn bay_may_publish(user: &str, topic: &str) -> bool {
    own_kind(user, topic).is_some_and(|k| BAY_PUBLISHES.contains(&k))
}

/// Whether the bay whose MQTT user is `user` may subscribe to `filter`. Wildcards are
/// refused: a bay names each topic it reads.
pub fn bay_may_subscribe(user: &str, filter: &str) -> bool {
    filter == RELAY_STATUS || own_kind(user, filter).is_some_and(|k| BAY_READS.contains(&k))
}

/// The kind of `topic` when it is `baycount/v1/<user>/<kind>`, with no wildcard anywhere.
fn own_kind(user: &str, topic: &str) -> Option<Kind> {
    if user.is_empty() || topic.contains(['+', '#']) || user.contains(['+', '#', '/']) {
        return None;
    }
    let rest = topic.strip_prefix(ROOT)?.strip_prefix('/')?;
    let kind = rest.strip_prefix(user)?.strip_prefix('/')?;
    Kind::ALL.into_iter().find(|k| k.as_str() == kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bay_stays_under_its_own_topics() {
        for kind in ["status", "state", "event", "ack", "snapshot", "evidence"] {
            assert!(bay_may_publish(
                "bay-1",
                &format!("baycount/v1/bay-1/{kind}")
            ));
            assert!(!bay_may_publish(
                "bay-1",
                &format!("baycount/v1/bay-2/{kind}")
            ));
            assert!(!bay_may_subscribe(
                "bay-1",
                &format!("baycount/v1/bay-1/{kind}")
            ));
        }
        for kind in ["cmd", "stored"] {
            assert!(bay_may_subscribe(
                "bay-1",
                &format!("baycount/v1/bay-1/{kind}")
            ));
            assert!(!bay_may_subscribe(
                "bay-1",
                &format!("baycount/v1/bay-2/{kind}")
            ));
            assert!(!bay_may_publish(
                "bay-1",
                &format!("baycount/v1/bay-1/{kind}")
            ));
        }
        assert!(bay_may_subscribe("bay-1", RELAY_STATUS));
        assert!(!bay_may_publish("bay-1", RELAY_STATUS));
        for filter in [
            "#",
            "baycount/#",
            "baycount/v1/+/cmd",
            "baycount/v1/bay-1/#",
            "baycount/v1/bay-1/+",
            "baycount/v1/bay-10/cmd",
            "baycount/v1/bay-1/cmd/x",
            "baycount/v1/bay-1",
            "other/bay-1/cmd",
        ] {
            assert!(!bay_may_subscribe("bay-1", filter), "{filter}");
            assert!(!bay_may_publish("bay-1", filter), "{filter}");
        }
        assert!(!bay_may_publish("", "baycount/v1//status"));
        assert!(!bay_may_publish("+", "baycount/v1/+/status"));
    }
}
