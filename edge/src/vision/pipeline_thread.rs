//! The counting pipeline on its own thread for the bay's loop: frames from the camera through
//! detector, tracker and counter; crossings to the loop; the camera's and detector's health
//! (with fps) to the state; the systemd watchdog fed only while frames are being processed.

use std::time::{Duration, Instant};

use baycount_plumbing::backoff::Backoff;
use baycount_protocol::{BayState, Health, HealthLevel, Phase};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::bay::event_loop::Input;
use crate::systemd;
use crate::vision::camera::Frame;
use crate::vision::camera::SourceSpec;
use crate::vision::capture::{Capture, Next};
use crate::vision::counting_line::{Crossing, Line};
use crate::vision::detector::full_warning;
use crate::vision::live_view::{LiveView, Seen};
use crate::vision::pipeline::Pipeline;
use crate::vision::pipeline_setup::PipelineSpec;
use crate::vision::shot::Shot;
use crate::vision::trails::Trails;

/// What to count and from where, and how to keep at it.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineThreadOptions {
    /// The source, detector and line; `realtime` plays files at their own frame rate (like a
    /// camera), otherwise as fast as the pipeline goes.
    pub pipeline: PipelineSpec,
    /// Play a file again when it ends (demos).
    pub looped: bool,
    /// A camera with no frame for this long is reported down and reopened.
    pub stall: Duration,
    /// While the bay is not loading, the detector looks at most at this many frames a second
    /// (0: at every frame): an idle bay costs little CPU, and its tracks are alive at START.
    pub idle_fps: f64,
}

/// The default of [`PipelineThreadOptions::idle_fps`]: often enough that a person walking keeps
/// their track (the tracker forgets a track after 0.75 s unseen).
pub const IDLE_FPS: f64 = 2.0;

/// Health is published at most this often (besides level changes).
const REPORT_EVERY: Duration = Duration::from_secs(1);
/// First and longest wait before trying a failed detector or camera again.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Where the pipeline thread's results go, and what it hears from the bay.
#[derive(Debug)]
pub struct Links {
    /// Crossings to the bay's loop.
    pub inputs: mpsc::Sender<Input>,
    /// The camera's and detector's health.
    pub health: watch::Sender<Health>,
    /// The bay's state: the detector rests while it is not loading.
    pub bay: watch::Receiver<BayState>,
    /// Where each frame is left, with its tracks, for the live view.
    pub view: LiveView,
    /// What to count: a change (`configure`, between sessions) starts the pipeline again with
    /// it. Its first value is counted with, not `PipelineThreadOptions::pipeline`.
    pub spec: watch::Receiver<PipelineSpec>,
}

/// Starts the pipeline thread. It ends at `shutdown` or when the loop stops taking crossings.
pub fn spawn(
    o: PipelineThreadOptions,
    links: Links,
    shutdown: CancellationToken,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("counting".into())
        .spawn(move || run(&o, &links, &shutdown))
}

fn report(health: &watch::Sender<Health>, f: impl FnOnce(&mut Health)) {
    health.send_modify(f);
}

/// Sleeps up to `d`, waking early for a shutdown; false if shutting down.
fn pause(d: Duration, shutdown: &CancellationToken) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if shutdown.is_cancelled() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50).min(end - Instant::now()));
    }
    !shutdown.is_cancelled()
}

fn run(o: &PipelineThreadOptions, links: &Links, shutdown: &CancellationToken) {
    let health = &links.health;
    let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
    let retry = |what: &str, backoff: &mut Backoff| {
        log::warn!(
            "{what}; trying again in {:.0} s",
            backoff.peek().as_secs_f64()
        );
        pause(backoff.next(), shutdown)
    };
    let mut spec_rx = links.spec.clone();
    while !shutdown.is_cancelled() {
        let spec = spec_rx.borrow_and_update().clone();
        let built = match spec.build() {
            Ok(b) => b,
            Err(e) => {
                let detail = format!("detector: {e}");
                report(health, |h| {
                    h.detector = HealthLevel::Down;
                    h.detail = Some(detail.clone());
                });
                if retry(&detail, &mut backoff) {
                    continue;
                }
                return;
            }
        };
        log::info!("detector: {}", built.pipeline().detector().describe());
        let file = matches!(spec.source, SourceSpec::File(_));
        // Cameras are reopened when they fail; files only when looping.
        let reopen = match (file, o.looped) {
            (true, false) => None,
            (true, true) => Some(Duration::from_millis(10)),
            (false, _) => Some(Duration::from_secs(1)),
        };
        let (capture, pipeline) = match built.start(reopen) {
            Ok(started) => started,
            Err(e) => {
                let detail = format!("camera: {e}");
                report(health, |h| {
                    h.camera = HealthLevel::Down;
                    h.detector = HealthLevel::Ok;
                    h.detail = Some(detail.clone());
                });
                if retry(&detail, &mut backoff) {
                    continue;
                }
                return;
            }
        };
        match process_frames(o, &spec, capture, pipeline, links, &mut spec_rx, shutdown) {
            Stop::Shutdown => return,
            Stop::Reconfigure => log::info!("counting again with new settings"),
            Stop::Again(detail) => {
                report(health, |h| {
                    h.camera = HealthLevel::Down;
                    h.detail = Some(detail.clone());
                });
                if !retry(&detail, &mut backoff) {
                    return;
                }
            }
            Stop::Ended => {
                report(health, |h| {
                    h.camera = HealthLevel::Down;
                    h.fps = 0.0;
                    h.detail = Some("the footage ended (use --loop to repeat it)".into());
                });
                log::warn!("the footage ended; the bay stays up without counting");
                shutdown_wait(shutdown);
                return;
            }
        }
    }
}

fn shutdown_wait(shutdown: &CancellationToken) {
    while pause(Duration::from_secs(3600), shutdown) {}
}

enum Stop {
    Shutdown,
    Ended,
    /// Start the camera again.
    Again(String),
    /// The settings changed: build the pipeline again with them.
    Reconfigure,
}

/// When recent frames were captured, by frame index: a crossing is decided a little after the
/// frame it crossed in, and its time is that frame's.
#[derive(Debug, Default)]
struct CaptureTimes(std::collections::VecDeque<(u64, chrono::DateTime<chrono::Utc>)>);

impl CaptureTimes {
    /// Longer than any crossing takes to be decided (the counter's hand-off and settle times).
    const KEEP: usize = 600;

    fn push(&mut self, index: u64, captured: chrono::DateTime<chrono::Utc>) {
        if self.0.len() == Self::KEEP {
            self.0.pop_front();
        }
        self.0.push_back((index, captured));
    }

    /// The capture time of frame `index`, or of the nearest frame before it that was kept.
    fn of(&self, index: u64) -> Option<chrono::DateTime<chrono::Utc>> {
        self.0
            .iter()
            .rev()
            .find(|(i, _)| *i <= index)
            .or(self.0.front())
            .map(|(_, at)| *at)
    }
}

/// Hands counted crossings to the loop, each at the capture time of the frame it crossed in,
/// with its picture when `shot` can make one; false once the loop is gone.
fn send(
    inputs: &mpsc::Sender<Input>,
    crossings: Vec<Crossing>,
    times: &CaptureTimes,
    shot: impl Fn(&Crossing) -> Option<Box<Shot>>,
) -> bool {
    crossings.into_iter().all(|c| {
        log::debug!(
            "crossing: track {} {} at {:.2} s",
            c.track,
            c.direction.as_str(),
            c.time
        );
        let at = times.of(c.frame).unwrap_or_else(chrono::Utc::now);
        let input = Input::Crossing {
            direction: c.direction,
            track: c.track,
            at,
            shot: shot(&c),
        };
        inputs.blocking_send(input).is_ok()
    })
}

/// What the picture of crossing `c` is made from: `frame`, with the object's box and path.
fn shot_of(
    c: &Crossing,
    trails: &Trails,
    frame: &Frame,
    native: (u32, u32),
    lines: &[Line],
) -> Option<Box<Shot>> {
    let trail = trails.get(c.track)?;
    Some(Box::new(Shot {
        frame: frame.clone(),
        native,
        track: c.track,
        bbox: trail.bbox,
        path: trail.path.iter().copied().collect(),
        lines: lines.to_vec(),
    }))
}

/// The frames have stopped (`stop` says why): the tracks end with them, so crossings not settled
/// yet count now, pictured on the last frame seen (the live view's, which is forgotten).
fn finish(
    mut pipeline: Pipeline,
    links: &Links,
    trails: &Trails,
    times: &CaptureTimes,
    stop: Stop,
) -> Stop {
    let last = links.view.take();
    let rest = pipeline.finish().swap_remove(0);
    let shot = |c: &Crossing| {
        let seen = last.as_ref()?;
        shot_of(c, trails, &seen.frame, seen.native, &seen.lines)
    };
    if send(&links.inputs, rest, times, shot) {
        stop
    } else {
        Stop::Shutdown
    }
}

/// Feeds the capture's frames through the pipeline until the camera has to start again, the
/// footage ends or the edge shuts down.
fn process_frames(
    o: &PipelineThreadOptions,
    spec: &PipelineSpec,
    capture: Capture,
    mut pipeline: Pipeline,
    links: &Links,
    spec_rx: &mut watch::Receiver<PipelineSpec>,
    shutdown: &CancellationToken,
) -> Stop {
    let (inputs, health) = (&links.inputs, &links.health);
    let rest = (o.idle_fps > 0.0).then(|| 1.0 / o.idle_fps);
    let mut window_start = Instant::now();
    let mut window_frames = 0u32;
    let mut window_skipped = pipeline.skipped;
    let mut window_looks = (pipeline.stages.looks, pipeline.stages.missed_looks());
    let mut last_frame = Instant::now();
    let mut last_report = Instant::now() - REPORT_EVERY;
    let mut detector_error: Option<String> = None;
    let mut times = CaptureTimes::default();
    let mut trails = Trails::new(spec.counter.anchor);
    // The lines are the pipeline's for good; the camera's size is read again with its health.
    let lines: Vec<_> = pipeline.lines().collect();
    let mut native = capture.health().native;
    loop {
        if shutdown.is_cancelled() {
            return Stop::Shutdown;
        }
        let reconfigured = spec_rx.has_changed().unwrap_or(false);
        let stop = match capture.next_within(Duration::from_millis(200)) {
            _ if reconfigured => Some(Stop::Reconfigure),
            Ok(Next::Frame(mut frame)) => {
                last_frame = Instant::now();
                window_frames += 1;
                times.push(frame.index, frame.captured);
                let loading = links.bay.borrow().phase == Phase::Loading;
                pipeline.rest(if loading { None } else { rest });
                let processed = pipeline.process(&frame);
                // The band in windows is the detector's only: pictures are of the frame.
                frame.windows = None;
                trails.update(pipeline.tracks(), frame.time);
                // The frame the count was decided on, with the object's box and path.
                let shot = |c: &Crossing| shot_of(c, &trails, &frame, native, &lines);
                let sent = match processed {
                    Ok(crossings) => {
                        detector_error = None;
                        systemd::watchdog();
                        send(inputs, crossings, &times, shot)
                    }
                    Err(e) => {
                        if detector_error.is_none() {
                            log::error!("detector: {e}");
                        }
                        detector_error = Some(e.to_string());
                        true
                    }
                };
                links.view.put(Seen {
                    frame,
                    native,
                    tracks: pipeline.tracks().to_vec(),
                    lines: lines.clone(),
                });
                if !sent {
                    return Stop::Shutdown;
                }
                None
            }
            Ok(Next::Waiting) => None,
            Ok(Next::Ended) => Some(Stop::Ended),
            Err(e) => Some(Stop::Again(format!("camera: {e}"))),
        };
        if let Some(stop) = stop {
            return finish(pipeline, links, &trails, &times, stop);
        }
        let stalled = last_frame.elapsed() >= o.stall;
        if stalled && capture.health().connected {
            let why = format!("camera: no frame for {:.0} s", o.stall.as_secs_f64());
            return finish(pipeline, links, &trails, &times, Stop::Again(why));
        }
        if last_report.elapsed() < REPORT_EVERY {
            continue;
        }
        let secs = window_start.elapsed().as_secs_f64();
        let per_second = |n: u64| {
            if secs > 0.0 {
                ((n as f64 / secs * 10.0).round() / 10.0) as f32
            } else {
                0.0
            }
        };
        let fps = per_second(window_frames.into());
        let detect_fps =
            per_second(u64::from(window_frames).saturating_sub(pipeline.skipped - window_skipped));
        window_start = Instant::now();
        window_frames = 0;
        window_skipped = pipeline.skipped;
        last_report = Instant::now();
        let cam = capture.health();
        native = cam.native;
        let (camera, camera_detail) = if cam.connected && !stalled {
            (HealthLevel::Ok, None)
        } else {
            (
                HealthLevel::Down,
                Some(format!(
                    "camera: {}",
                    cam.last_error.as_deref().unwrap_or("no frames")
                )),
            )
        };
        // The model came back full in most of this second's looks, and they were kept: it is
        // missing objects.
        let (looks, full) = (
            pipeline.stages.looks.saturating_sub(window_looks.0),
            pipeline
                .stages
                .missed_looks()
                .saturating_sub(window_looks.1),
        );
        window_looks = (pipeline.stages.looks, pipeline.stages.missed_looks());
        let full = looks > 0 && full * 2 >= looks;
        let detector_level = match (&detector_error, full) {
            (Some(_), _) => HealthLevel::Down,
            (None, true) => HealthLevel::Degraded,
            (None, false) => HealthLevel::Ok,
        };
        let detail = camera_detail
            .or_else(|| detector_error.as_ref().map(|e| format!("detector: {e}")))
            .or_else(|| full.then(|| format!("detector: {}", full_warning("most looks"))));
        report(health, |h| {
            h.camera = camera;
            h.detector = detector_level;
            h.fps = fps;
            h.detect_fps = Some(detect_fps);
            h.detail = detail;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crossing_takes_the_capture_time_of_its_own_frame() {
        let t0 = chrono::Utc::now();
        let at = |i: u64| t0 + chrono::Duration::milliseconds(i as i64 * 20);
        let mut times = CaptureTimes::default();
        assert_eq!(times.of(3), None);
        for i in 10..(10 + CaptureTimes::KEEP as u64 + 5) {
            times.push(i, at(i));
        }
        assert_eq!(times.of(400), Some(at(400)));
        assert_eq!(
            times.of(15),
            Some(at(15)),
            "the oldest kept, for one older still"
        );
        assert_eq!(
            times.of(10_000),
            Some(at(10 + CaptureTimes::KEEP as u64 + 4))
        );
    }
}
