//! `baycount-edge count`: counts recorded footage (or any source) with the full pipeline.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::vision::capture::Capture;
use crate::vision::counting_line::Crossing;
use crate::vision::pipeline::{Pipeline, PipelineError};
use crate::vision::pipeline_setup::PipelineSpec;

/// What to count.
#[derive(Debug, Clone, PartialEq)]
pub struct CountOptions {
    /// The source, detector and line; `realtime` plays files at their own rate and always takes
    /// the newest frame, like a camera.
    pub pipeline: PipelineSpec,
    /// Stop after this many frames.
    pub max_frames: Option<u64>,
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
    /// Times the model looked, those it came back full (more objects in view than it reports,
    /// see [`crate::vision::detector::Stages::full_looks`]), and of those, the ones whose boxes
    /// were kept, objects missed (the rest were looked at again in windows).
    pub looks: u64,
    pub full_looks: u64,
    pub missed_looks: u64,
    /// Frames looked at in windows for a crowd, and because someone was near the line (see
    /// [`crate::vision::windows`]); frames looked at in one window because the source had
    /// dropped frames lately (see [`crate::vision::pipeline::BEHIND_SECONDS`]).
    pub crowd_frames: u64,
    pub near_frames: u64,
    pub behind_frames: u64,
    pub crossings: Vec<CrossingReport>,
}

/// Counts until the source ends (or `max_frames`); `progress` is called about every 2 s.
pub fn run(
    o: &CountOptions,
    mut progress: impl FnMut(&CountReport),
) -> Result<CountReport, PipelineError> {
    let (capture, mut pipeline) = o.pipeline.build()?.start(None)?;
    let mut report = CountReport {
        count_in: 0,
        out: 0,
        frames: 0,
        seconds: 0.0,
        fps: 0.0,
        dropped: 0,
        looks: 0,
        full_looks: 0,
        missed_looks: 0,
        crowd_frames: 0,
        near_frames: 0,
        behind_frames: 0,
        crossings: vec![],
    };
    let start = Instant::now();
    let mut last_progress = start;
    let report_crossings = |report: &mut CountReport, crossings: Vec<Crossing>| {
        report
            .crossings
            .extend(crossings.into_iter().map(|c| CrossingReport {
                frame: c.frame,
                track: c.track,
                direction: c.direction.as_str(),
                time: c.time,
            }));
    };
    while let Some(frame) = capture.next()? {
        report_crossings(&mut report, pipeline.process(&frame)?);
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
    let rest = pipeline.finish().swap_remove(0);
    report_crossings(&mut report, rest);
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
    r.looks = p.stages.looks;
    r.full_looks = p.stages.full_looks;
    r.missed_looks = p.stages.missed_looks();
    r.crowd_frames = p.stages.crowd_frames;
    r.near_frames = p.stages.near_frames;
    r.behind_frames = p.stages.behind_frames;
}
