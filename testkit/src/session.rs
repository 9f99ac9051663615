//! A bay's session as a list of events, for tests that send one to a relay.

use baycount_protocol::{Actor, ActorKind, Direction, Event, EventKind, Plate, SessionId};
use chrono::{Duration, Utc};

/// `session` for `plate`, started by the button ten minutes ago: its start, a crossing a second
/// for each of `crossings` (tracks from `first_track` on) and its stop `stopped_after` seconds
/// after the start; seqs 1 to `crossings.len() + 2`, with running totals.
pub fn events(
    session: SessionId,
    plate: &str,
    crossings: &[Direction],
    first_track: u64,
    stopped_after: i64,
) -> Vec<Event> {
    let t0 = Utc::now() - Duration::minutes(10);
    let by = Actor::new(ActorKind::Button, None);
    let event = |seq: u64, at, count, out, kind| Event {
        session,
        seq,
        at,
        count,
        out,
        kind,
    };
    let plate = Plate::parse(plate).expect("a valid plate");
    let mut events = vec![event(
        1,
        t0,
        0,
        0,
        EventKind::Started {
            plate,
            by: by.clone(),
        },
    )];
    let (mut n_in, mut n_out) = (0, 0);
    for (i, &direction) in (0u64..).zip(crossings) {
        match direction {
            Direction::In => n_in += 1,
            Direction::Out => n_out += 1,
        }
        let kind = EventKind::Counted {
            direction,
            track: first_track + i,
        };
        let at = t0 + Duration::seconds(i as i64 + 1);
        events.push(event(i + 2, at, n_in, n_out, kind));
    }
    let at = t0 + Duration::seconds(stopped_after);
    let last = crossings.len() as u64 + 2;
    events.push(event(last, at, n_in, n_out, EventKind::Stopped { by }));
    events
}
