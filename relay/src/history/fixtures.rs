//! What the history's tests build on: a history in a temp dir, a session's events, its evidence.

use std::collections::HashMap;

use baycount_protocol::{
    BayId, Direction, Event, EventKind, Evidence, EvidenceHeader, EvidenceKind, SessionId,
};
use chrono::Utc;

use super::{EventWrite, EvidenceWrite, History};

/// A tiny JPEG: its markers, and bytes between.
pub const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 0xFF, 0xD9];

/// A bay id from a literal.
pub fn bay(b: &str) -> BayId {
    BayId::parse(b).expect("bay")
}

/// A history in a temp dir (kept while the dir is).
pub async fn history() -> (History, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let h = History::open(&dir.path().join("history.db"))
        .await
        .expect("opens");
    (h, dir)
}

/// Stores the session's `started` event (seq 1) and `n` crossings after it, from `bay`.
pub async fn events(h: &History, session: SessionId, bay: &BayId, n: u64) {
    let at = Utc::now();
    let mut batch = vec![Event {
        session,
        seq: 1,
        at,
        count: 0,
        out: 0,
        kind: EventKind::Started {
            plate: "B 1 C".parse().expect("plate"),
            by: "button".parse().expect("actor"),
        },
    }];
    for i in 1..=n {
        batch.push(Event {
            session,
            seq: i + 1,
            at,
            count: i,
            out: 0,
            kind: EventKind::Counted {
                direction: Direction::In,
                track: i,
            },
        });
    }
    let writes: Vec<_> = batch
        .into_iter()
        .map(|event| EventWrite {
            bay: bay.clone(),
            event,
            received: at,
        })
        .collect();
    h.store_events(&writes, &mut HashMap::new())
        .await
        .expect("events stored");
}

/// The evidence of event `seq` (a start at 1, else an `in` crossing), from `bay`.
pub fn piece(session: SessionId, seq: u64, bay: &BayId, dropped: bool) -> EvidenceWrite {
    EvidenceWrite {
        bay: bay.clone(),
        evidence: Evidence {
            header: EvidenceHeader {
                session,
                seq,
                kind: if seq == 1 {
                    EvidenceKind::Start
                } else {
                    EvidenceKind::Crossing
                },
                at: Utc::now(),
                direction: (seq > 1).then_some(Direction::In),
                track: (seq > 1).then(|| seq - 1),
                dropped,
            },
            jpeg: if dropped { vec![] } else { JPEG.to_vec() },
        },
        received: Utc::now(),
    }
}
