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
//! - [`counting`]: the pipeline on its own thread for the bay, reporting camera and detector
//!   health.
//! - [`gpio`]: lamps and button backends (sim, rppal, cdev); [`lamps`]: what the stack light
//!   shows; [`button`]: debouncing; [`panel`]: the task that drives both; [`press`]: the local
//!   socket of `baycount-edge press`.
//! - [`config`]: `edge.toml` and the flags of `run`; [`appliance`]: `run` wired together;
//!   [`systemd`]: readiness and watchdog; [`logging`]: journald or stderr.
//! - [`count`] and [`bench`]: the `count` and `bench` commands; [`groundtruth`]: scoring them.

pub mod appliance;
pub mod bench;
pub mod button;
pub mod camera;
pub mod capture;
pub mod config;
pub mod count;
pub mod counter;
pub mod counting;
pub mod daemon;
pub mod detector;
pub mod geometry;
pub mod gpio;
pub mod groundtruth;
pub mod journal;
pub mod lamps;
pub mod link;
pub mod logging;
pub mod panel;
pub mod pipeline;
pub mod press;
pub mod session;
pub mod systemd;
pub mod tracker;
