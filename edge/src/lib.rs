//! baycount's edge: counts goods crossing a line at one loading bay.
//!
//! # Layout
//! - [`camera`]: frame sources (ffmpeg for files and RTSP, synthetic scenes).
//! - [`capture`]: the newest-frame hand-over thread, with reopening of live sources.
//! - [`geometry`]: points and boxes in normalised image coordinates.
//! - [`detector`]: models turned into [`detector::Detection`]s.
//! - [`tracker`]: detections into tracks (ByteTrack-style, pure code).
//! - [`counter`]: tracks crossing the directed counting line (pure code).
//! - [`pipeline`]: one frame through detector, tracker and counter, timed per stage.
//! - [`session`]: the bay's session state machine: commands and button in, events and acks out;
//!   [`journal`]: where its events are written durably before they are published; [`link`]:
//!   the MQTT link; [`daemon`]: the loop that ties them together.
//! - [`count`] and [`bench`]: the `count` and `bench` commands; [`groundtruth`]: scoring them.

pub mod bench;
pub mod camera;
pub mod capture;
pub mod count;
pub mod counter;
pub mod daemon;
pub mod detector;
pub mod geometry;
pub mod groundtruth;
pub mod journal;
pub mod link;
pub mod pipeline;
pub mod session;
pub mod tracker;
