//! baycount's edge: counts goods crossing a line at one loading bay.
//!
//! # Layout
//! - [`camera`]: frame sources (ffmpeg for files and RTSP, synthetic scenes).
//! - [`geometry`]: points and boxes in normalised image coordinates.
//! - [`detector`]: models turned into [`detector::Detection`]s.
//! - [`tracker`]: detections into tracks (ByteTrack-style, pure code).
//! - [`counter`]: tracks crossing the directed counting line (pure code).

pub mod camera;
pub mod counter;
pub mod detector;
pub mod geometry;
pub mod tracker;
