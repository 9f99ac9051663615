//! The `snapshot` payload: a picture of what a bay's camera sees, sent when a `snapshot`
//! command asks for one. A JSON header line, a newline, then the JPEG's bytes: binary, so the
//! picture is not inflated by a third as base64 in JSON would be.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::CommandId;
use crate::codec::{DecodeError, MAX_PAYLOAD};

/// What the picture is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotHeader {
    /// The `snapshot` command this answers.
    pub command: CommandId,
    /// When the frame was captured.
    pub at: DateTime<Utc>,
    pub width: u32,
    pub height: u32,
}

/// A picture and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub header: SnapshotHeader,
    pub jpeg: Vec<u8>,
}

/// The longest header line read.
const MAX_HEADER: usize = 1024;

impl Snapshot {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = crate::encode(&self.header);
        out.push(b'\n');
        out.extend_from_slice(&self.jpeg);
        out
    }

    pub fn decode(payload: &[u8]) -> Result<Self, DecodeError> {
        if payload.len() > MAX_PAYLOAD {
            return Err(DecodeError::TooLarge(payload.len()));
        }
        let end = payload
            .iter()
            .take(MAX_HEADER)
            .position(|&b| b == b'\n')
            .ok_or(DecodeError::Snapshot("no header line"))?;
        let header =
            serde_json::from_slice(&payload[..end]).map_err(|source| DecodeError::Json {
                kind: "snapshot",
                source,
            })?;
        let jpeg = &payload[end + 1..];
        if !jpeg.starts_with(&[0xFF, 0xD8, 0xFF]) {
            return Err(DecodeError::Snapshot(
                "the picture after the header is not a JPEG",
            ));
        }
        Ok(Self {
            header,
            jpeg: jpeg.to_vec(),
        })
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
}
