//! baycount's edge: counts goods crossing a line at one loading bay.
//!
//! # Layout
//! - [`vision`]: camera to crossings.
//!   - [`vision::camera`]: frame sources (ffmpeg for files and RTSP, V4L2, synthetic scenes);
//!     [`vision::capture`]: the newest-frame hand-over thread, with reopening of live sources.
//!   - [`vision::detector`]: models turned into [`vision::detector::Detection`]s;
//!     [`vision::geometry`]: points and boxes in normalised image coordinates.
//!   - [`vision::tracker`]: detections into tracks (ByteTrack-style, pure code);
//!     [`vision::counting_line`]: tracks crossing the directed counting line (pure code).
//!   - [`vision::pipeline`]: one frame through detector, tracker and counting line, timed per
//!     stage; [`vision::pipeline_setup`]: the one way to set a pipeline up (source, detector,
//!     line), for `count`, `bench` and the bay; [`vision::pipeline_thread`]: the pipeline on its
//!     own thread for the bay, reporting camera and detector health.
//!   - [`vision::truth`]: ground-truth files for recorded footage; [`vision::scoring`]: a count's
//!     crossings paired with the true ones; [`vision::assignment`]: the pairing by greatest total
//!     weight that both the tracker and the scoring use.
//! - [`bay`]: the bay's session and what keeps it: [`bay::session`]: the session state machine
//!   (commands and button in, events and acks out); [`bay::journal`]: where its events are
//!   written durably before they are published; [`bay::link`]: the MQTT link;
//!   [`bay::event_loop`]: the loop that ties them together.
//! - [`panel`]: the bay's lamps and button. [`panel::gpio`]: their backends (sim, rppal, cdev);
//!   [`panel::lamps`]: what the stack light shows (pure); [`panel::button`]: debouncing (pure);
//!   [`panel::task`]: the task that drives both; [`panel::press_socket`]: the local socket of
//!   `baycount-edge press`.
//! - [`cmd`]: one module per command: [`cmd::run`] (the appliance wired together),
//!   [`cmd::count`], [`cmd::eval`] (a count against truth), [`cmd::bench`], [`cmd::press`] (the client of the press socket).
//! - [`config`]: `edge.toml` and the flags of `run`; [`systemd`]: readiness and watchdog;
//!   [`logging`]: journald or stderr.

pub mod bay;
pub mod cmd;
pub mod config;
pub mod logging;
pub mod panel;
pub mod systemd;
pub mod vision;
