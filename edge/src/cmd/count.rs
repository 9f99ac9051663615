//! `baycount-edge count`: counts recorded footage (or any source) with the full pipeline.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::vision::camera::{self, CameraError, OpenOptions, SourceSpec};
use crate::vision::capture::{Capture, Policy};
use crate::vision::counting_line::{Anchor, CounterConfig, Line};
use crate::vision::detector::{self, DetectorError, DetectorOptions};
use crate::vision::pipeline::Pipeline;
use crate::vision::tracker::TrackerConfig;

/// What to count.
#[derive(Debug, Clone, PartialEq)]
pub struct CountOptions {
    pub source: SourceSpec,
    pub detector: DetectorOptions,
    pub line: Line,
    pub anchor: Anchor,
    /// Dead band half-width around the line (normalised).
    pub band: f32,
    /// Play files at their own rate and always take the newest frame, like a camera.
    pub realtime: bool,
    /// Stop after this many frames.
    pub max_frames: Option<u64>,
}

/// Why counting stopped early.
#[derive(Debug, thiserror::Error)]
pub enum CountError {
    #[error(transparent)]
    Camera(#[from] CameraError),
    #[error(transparent)]
    Detector(#[from] DetectorError),
}

/// One counted crossing, as printed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrossingReport {
    pub frame: u64,
    pub track: u64,
    pub direction: &'static str,
    /// Seconds into the source.
    pub time: f64,
}

/// The result of a count; `--json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CountReport {
    #[serde(rename = "in")]
    pub count_in: u64,
    pub out: u64,
    pub frames: u64,
    /// Wall-clock seconds the count took.
    pub seconds: f64,
    /// Frames processed per second.
    pub fps: f64,
    /// Frames the pipeline had no time for (live sources only).
    pub dropped: u64,
    pub crossings: Vec<CrossingReport>,
}

/// Counts until the source ends (or `max_frames`); `progress` is called about every 2 s.
pub fn run(
    o: &CountOptions,
    mut progress: impl FnMut(&CountReport),
) -> Result<CountReport, CountError> {
    let detector = detector::build(&o.detector)?;
    let (width, height) = detector.input_size();
    let open = OpenOptions {
        width,
        height,
        realtime: o.realtime,
    };
    let spec = o.source.clone();
    let policy = if o.realtime {
        Policy::Newest
    } else {
        Policy::EveryFrame
    };
    let capture = Capture::start(Box::new(move || camera::open(&spec, &open)), policy, None)?;
    let mut counter = CounterConfig::new(o.line);
    counter.anchor = o.anchor;
    counter.band = o.band;
    let mut pipeline = Pipeline::new(detector, TrackerConfig::default(), counter);
    let mut report = CountReport {
        count_in: 0,
        out: 0,
        frames: 0,
        seconds: 0.0,
        fps: 0.0,
        dropped: 0,
        crossings: vec![],
    };
    let start = Instant::now();
    let mut last_progress = start;
    while let Some(frame) = capture.next()? {
        for c in pipeline.process(&frame)? {
            report.crossings.push(CrossingReport {
                frame: c.frame,
                track: c.track,
                direction: c.direction.as_str(),
                time: c.time,
            });
        }
        report.frames += 1;
        if last_progress.elapsed() >= Duration::from_secs(2) {
            last_progress = Instant::now();
            fill(&mut report, &pipeline, &capture, start);
            progress(&report);
        }
        if o.max_frames.is_some_and(|m| report.frames >= m) {
            break;
        }
    }
    fill(&mut report, &pipeline, &capture, start);
    Ok(report)
}

fn fill(r: &mut CountReport, p: &Pipeline, c: &Capture, start: Instant) {
    r.count_in = p.counter().count_in();
    r.out = p.counter().count_out();
    r.seconds = start.elapsed().as_secs_f64();
    r.fps = if r.seconds > 0.0 {
        r.frames as f64 / r.seconds
    } else {
        0.0
    };
    r.dropped = c.health().dropped;
}
