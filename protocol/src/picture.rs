//! The payloads that carry a picture: `snapshot` (what a bay's camera sees, when a `snapshot`
//! command asks) and `evidence` (the picture of one event of a session). Each is a JSON header
//! line, a newline, then the JPEG's bytes: binary, so the picture is not inflated by a third as
//! base64 in JSON would be.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::codec::{DecodeError, MAX_PAYLOAD};
use crate::{CommandId, Direction, Event, EventKind, SessionId};

/// What the picture is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotHeader {
    /// The `snapshot` command this answers.
    pub command: CommandId,
    /// When the frame was captured.
    pub at: DateTime<Utc>,
    pub width: u32,
    pub height: u32,
    /// The part of the camera's picture it shows, `[x1, y1, x2, y2]` normalised (the part the
    /// detector looks at), so a line drawn on it can be placed on the whole picture; absent
    /// from older edges, which show the whole picture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<[f32; 4]>,
}

/// A picture and what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub header: SnapshotHeader,
    pub jpeg: Vec<u8>,
}

/// The longest header line read.
const MAX_HEADER: usize = 1024;

/// The header line, a newline, the JPEG.
fn join<H: Serialize>(header: &H, jpeg: &[u8]) -> Vec<u8> {
    let mut out = crate::encode(header);
    out.push(b'\n');
    out.extend_from_slice(jpeg);
    out
}

/// The header and the JPEG (which may be empty only with `may_be_empty`).
fn split<H: DeserializeOwned>(
    kind: &'static str,
    payload: &[u8],
    may_be_empty: bool,
) -> Result<(H, Vec<u8>), DecodeError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(DecodeError::TooLarge(payload.len()));
    }
    let end = payload
        .iter()
        .take(MAX_HEADER)
        .position(|&b| b == b'\n')
        .ok_or(DecodeError::Picture(kind, "no header line"))?;
    let header = serde_json::from_slice(&payload[..end])
        .map_err(|source| DecodeError::Json { kind, source })?;
    let jpeg = &payload[end + 1..];
    if !(jpeg.starts_with(&[0xFF, 0xD8, 0xFF]) || may_be_empty && jpeg.is_empty()) {
        return Err(DecodeError::Picture(
            kind,
            "the picture after the header is not a JPEG",
        ));
    }
    Ok((header, jpeg.to_vec()))
}

impl Snapshot {
    pub fn encode(&self) -> Vec<u8> {
        join(&self.header, &self.jpeg)
    }

    pub fn decode(payload: &[u8]) -> Result<Self, DecodeError> {
        let (header, jpeg) = split("snapshot", payload, false)?;
        Ok(Self { header, jpeg })
    }
}

/// Which event of a session a piece of evidence shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EvidenceKind {
    /// The picture the detector sees (boxes, line, count) as the session started.
    Start,
    /// The counted object, cropped, with the line and its path drawn.
    Crossing,
    /// The same as the session stopped.
    Stop,
}

/// What a piece of evidence is: one per event of a session, with the event's `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceHeader {
    pub session: SessionId,
    pub seq: u64,
    pub kind: EvidenceKind,
    /// The capture time of the frame shown.
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<u64>,
    /// The picture was dropped on the edge (its budget was full, or it could not be made):
    /// no JPEG follows; the event itself is not affected.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dropped: bool,
}

impl EvidenceHeader {
    /// The header of `event`'s picture (not dropped): its session and seq, the kind of event,
    /// a crossing's direction and track, and the event's time as the frame's.
    pub fn of(event: &Event) -> Self {
        let (kind, direction, track) = match &event.kind {
            EventKind::Started { .. } => (EvidenceKind::Start, None, None),
            EventKind::Stopped { .. } => (EvidenceKind::Stop, None, None),
            EventKind::Counted { direction, track } => {
                (EvidenceKind::Crossing, Some(*direction), Some(*track))
            }
        };
        Self {
            session: event.session,
            seq: event.seq,
            kind,
            at: event.at,
            direction,
            track,
            dropped: false,
        }
    }
}

/// The picture of one event, or word that it was dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub header: EvidenceHeader,
    /// Empty when `header.dropped`.
    pub jpeg: Vec<u8>,
}

impl Evidence {
    pub fn encode(&self) -> Vec<u8> {
        join(&self.header, &self.jpeg)
    }

    pub fn decode(payload: &[u8]) -> Result<Self, DecodeError> {
        let (header, jpeg): (EvidenceHeader, _) = split("evidence", payload, true)?;
        if header.dropped != jpeg.is_empty() {
            return Err(DecodeError::Picture(
                "evidence",
                "a picture must follow unless it was dropped, and none then",
            ));
        }
        Ok(Self { header, jpeg })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        Snapshot {
            header: SnapshotHeader {
                command: CommandId::new(),
                at: Utc::now(),
                width: 640,
                height: 480,
                region: Some([0.1, 0.0, 0.9, 1.0]),
            },
            jpeg: vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 1, b'\n', 2, 0xFF, 0xD9],
        }
    }

    #[test]
    fn round_trips_with_newlines_inside_the_picture() {
        let s = snapshot();
        assert_eq!(Snapshot::decode(&s.encode()).expect("decodes"), s);
    }

    #[test]
    fn refuses_what_is_not_a_snapshot() {
        let good = snapshot().encode();
        let header_only = &good[..good.iter().position(|&b| b == b'\n').expect("newline")];
        let mut not_jpeg = header_only.to_vec();
        not_jpeg.extend_from_slice(b"\nGIF89a");
        let mut huge = good.clone();
        huge.resize(MAX_PAYLOAD + 1, 0);
        for (bad, says) in [
            (header_only.to_vec(), "no header line"),
            (not_jpeg, "not a JPEG"),
            (
                b"{\"command\":1}\n\xFF\xD8\xFF".to_vec(),
                "malformed snapshot",
            ),
            (huge, "limit"),
            (vec![b'x'; 2000], "no header line"),
        ] {
            let e = Snapshot::decode(&bad).expect_err(says).to_string();
            assert!(e.contains(says), "{e}");
        }
    }

    fn evidence(dropped: bool) -> Evidence {
        Evidence {
            header: EvidenceHeader {
                session: SessionId::new(),
                seq: 3,
                kind: EvidenceKind::Crossing,
                at: Utc::now(),
                direction: Some(Direction::In),
                track: Some(17),
                dropped,
            },
            jpeg: if dropped { vec![] } else { snapshot().jpeg },
        }
    }

    #[test]
    fn evidence_round_trips_with_its_picture_or_word_that_it_was_dropped() {
        for e in [evidence(false), evidence(true)] {
            assert_eq!(Evidence::decode(&e.encode()).expect("decodes"), e);
        }
        let text = String::from_utf8_lossy(&evidence(true).encode()).into_owned();
        assert!(text.contains(r#""kind":"crossing""#) && text.contains(r#""dropped":true"#));
        assert!(text.ends_with('\n'), "nothing after the header: {text}");
    }

    #[test]
    fn an_events_header_says_which_event_it_shows() {
        let event = crate::Event {
            session: SessionId::new(),
            seq: 4,
            at: Utc::now(),
            count: 3,
            out: 0,
            kind: crate::EventKind::Counted {
                direction: Direction::Out,
                track: 9,
            },
        };
        let h = EvidenceHeader::of(&event);
        assert_eq!((h.session, h.seq, h.at), (event.session, 4, event.at));
        assert_eq!(h.kind, EvidenceKind::Crossing);
        assert_eq!(
            (h.direction, h.track, h.dropped),
            (Some(Direction::Out), Some(9), false)
        );
        let stopped = crate::Event {
            kind: crate::EventKind::Stopped {
                by: "button".parse().expect("actor"),
            },
            ..event
        };
        let h = EvidenceHeader::of(&stopped);
        assert_eq!(
            (h.kind, h.direction, h.track),
            (EvidenceKind::Stop, None, None)
        );
    }

    #[test]
    fn evidence_says_what_it_is_or_is_refused() {
        let mut lying = evidence(true);
        lying.jpeg = snapshot().jpeg;
        let mut empty = evidence(false);
        empty.jpeg = vec![];
        for (bad, says) in [
            (lying.encode(), "unless it was dropped"),
            (empty.encode(), "unless it was dropped"),
            (b"{\"seq\":1}\n".to_vec(), "malformed evidence"),
        ] {
            let e = Evidence::decode(&bad).expect_err(says).to_string();
            assert!(e.contains(says), "{e}");
        }
    }
}
