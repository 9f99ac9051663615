//! The newest frame the counting thread saw, with its tracks and lines, kept for the live view:
//! the counting thread leaves it (no copy, no drawing), and it is drawn and encoded only when a
//! `snapshot` command asks for the picture.

use std::sync::{Arc, Mutex};

use baycount_protocol::codec::MAX_PAYLOAD;
use baycount_protocol::{CommandId, Snapshot, SnapshotHeader};
use chrono::{DateTime, Utc};

use crate::vision::camera::Frame;
use crate::vision::counting_line::Line;
use crate::vision::geometry::BBox;
use crate::vision::picture::{self, Jpeg, Marks, PictureError};
use crate::vision::tracker::TrackedObject;

/// The live view's long side, in pixels.
pub const MAX_SIDE: u32 = 640;

/// A drawn frame: its JPEG, its capture time and the part of the camera's picture it shows.
pub type Drawn = (Jpeg, DateTime<Utc>, BBox);

/// What the counting thread saw last.
#[derive(Debug, Clone)]
pub struct Seen {
    pub frame: Frame,
    /// The camera's own picture size, for the frame's true aspect.
    pub native: (u32, u32),
    pub tracks: Vec<TrackedObject>,
    pub lines: Vec<Line>,
}

/// The slot the counting thread leaves its newest frame in. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct LiveView(Arc<Mutex<Option<Seen>>>);

impl LiveView {
    /// Replaces what was seen.
    pub fn put(&self, seen: Seen) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(seen);
    }

    /// Forgets the frame (the camera failed or the footage ended): no picture is made of a
    /// frame the camera no longer shows.
    pub fn clear(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Forgets the frame, handing it over (the last pictures of a source that stopped).
    pub fn take(&self) -> Option<Seen> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Whether any frame has been seen yet.
    pub fn has_frame(&self) -> bool {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// The newest frame drawn on, with `caption`, as a JPEG that fits a message, the frame's
    /// capture time and the part of the camera's picture it shows; `None` before the first
    /// frame. Takes milliseconds: call it off the bay's loop.
    pub fn drawn(&self, caption: &str) -> Option<Result<Drawn, PictureError>> {
        let seen = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()?;
        let marks = Marks {
            tracks: &seen.tracks,
            lines: &seen.lines,
            caption: Some(caption),
            path: &[],
        };
        Some((|| {
            let drawn = picture::render(&seen.frame, seen.native, &marks, MAX_SIDE)?;
            // Room for the header line within the contract's payload limit.
            let jpeg = picture::jpeg_within(&drawn, MAX_PAYLOAD - 1024)?;
            Ok((jpeg, seen.frame.captured, seen.frame.region))
        })())
    }

    /// [`LiveView::drawn`] as the answer to `command`.
    pub fn picture(
        &self,
        command: CommandId,
        caption: &str,
    ) -> Option<Result<Snapshot, PictureError>> {
        Some(self.drawn(caption)?.map(|(jpeg, at, r)| Snapshot {
            header: SnapshotHeader {
                command,
                at,
                width: jpeg.width,
                height: jpeg.height,
                region: Some([r.x1, r.y1, r.x2, r.y2]),
            },
            jpeg: jpeg.bytes,
        }))
    }
}
