//! `baycount-edge bench`: the bare model's invoke time on a fixed input (the source's first
//! frame), and the whole pipeline's frame rate, time per stage and memory.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::DEFAULT_LINE;
use crate::vision::camera::{self, SourceSpec};
use crate::vision::counting_line::{Anchor, CounterConfig, Line};
use crate::vision::detector::model::ModelDetector;
use crate::vision::detector::runtime::RuntimeKind;
use crate::vision::detector::{self, Detector, DetectorOptions, Stages};
use crate::vision::live_view::{LiveView, Seen};
use crate::vision::pipeline::PipelineError;
use crate::vision::pipeline_setup::PipelineSpec;
use crate::vision::shot::Shot;
use crate::vision::trails::Trails;

/// What to measure.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchOptions {
    pub source: SourceSpec,
    pub detector: DetectorOptions,
    /// Frames through the pipeline (fewer if the source ends first).
    pub frames: u64,
    /// Bare invokes to time.
    pub invokes: usize,
}

/// The figures; `--json` prints them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchReport {
    pub runtime: &'static str,
    pub model: String,
    pub threads: usize,
    /// Median time of one model invoke on a fixed input, in ms.
    pub invoke_ms: f64,
    pub frames: u64,
    pub seconds: f64,
    pub pipeline_fps: f64,
    /// `pipeline_fps` as a share of the bare invoke rate (1000 / invoke_ms).
    pub fps_vs_invoke: f64,
    /// Mean time per frame in each stage, in ms; `decode` is the time the pipeline waited for
    /// a decoded frame (decoding itself runs beside it, see `decode_thread_ms`).
    pub stages_ms: BTreeMap<&'static str, f64>,
    /// Mean time per frame the capture thread spent decoding, in ms.
    pub decode_thread_ms: f64,
    /// Mean time per frame outside the model (decode, preprocess, postprocess, track), in ms.
    pub outside_model_ms: f64,
    pub dropped: u64,
    /// Peak resident memory of this process, in MB: one model compiled at a time, as an edge has.
    pub peak_rss_mb: f64,
    /// User + system CPU seconds of the whole run (bare invokes and pipeline), this process and
    /// its children (ffmpeg, once ended).
    pub cpu_seconds: f64,
    /// What the pictures of the counts cost (made here in line, and left out of `seconds`).
    pub evidence: EvidenceCost,
}

/// The cost of the pictures: each crossing's (the object cut out of its frame) and the whole
/// picture's (a session's start and stop, the live view).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct EvidenceCost {
    /// Crossings counted on the default line, each pictured.
    pub crossings: usize,
    pub crossing_bytes_median: usize,
    pub crossing_bytes_p99: usize,
    pub crossing_ms_median: f64,
    /// The last frame drawn whole (640 px), as for a session's start or stop.
    pub whole_bytes: usize,
    pub whole_ms: f64,
}

/// User + system CPU seconds of this process and its ended children, from /proc/self/stat
/// (utime, stime, cutime, cstime, in USER_HZ ticks: 100 a second on Linux).
pub fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name, which is in parentheses and may hold spaces.
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split(' ').collect();
            // utime is field 14 of the line, the 12th after the name.
            let ticks: Option<f64> = f.get(11..15)?.iter().map(|v| v.parse::<f64>().ok()).sum();
            ticks.map(|t| t / 100.0)
        })
        .unwrap_or(0.0)
}

/// Peak resident set size of this process (VmHWM), in MB.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmHWM:")
                    .map(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
            })
        })
        .flatten()
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The bare model's median invoke time on the source's first frame, and the model's file name:
/// `blob` without a model (or when the source has no frame).
fn bare_invoke(o: &BenchOptions, spec: &PipelineSpec) -> Result<(f64, String), PipelineError> {
    let blob = || Ok((0.0, "blob".to_owned()));
    let Some(options) = detector::model_options(&o.detector)? else {
        return blob();
    };
    let mut bare = ModelDetector::open(&options)?;
    let frames = spec.frames(bare.input_size());
    let Some(frame) = camera::open(&o.source, &frames)?.next_frame()? else {
        return blob();
    };
    let mut stages = Stages::default();
    for _ in 0..5 {
        bare.detect(&frame, &mut stages)?;
    }
    let mut times = Vec::with_capacity(o.invokes);
    for _ in 0..o.invokes {
        let before = stages.infer;
        bare.detect(&frame, &mut stages)?;
        times.push(stages.infer - before);
    }
    Ok((median_ms(times), bare.path_name().to_owned()))
}

fn median_ms(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v.get(v.len() / 2).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

pub fn run(o: &BenchOptions) -> Result<BenchReport, PipelineError> {
    let line: Line = DEFAULT_LINE
        .parse()
        .unwrap_or_else(|_| unreachable!("a valid line"));
    let spec = PipelineSpec {
        source: o.source.clone(),
        detector: o.detector.clone(),
        counter: CounterConfig::new(line),
        realtime: false,
    };
    // The bare model first, and gone before the pipeline's is built: the peak memory measured
    // is then one model's, as an edge's is.
    let (invoke_ms, model) = bare_invoke(o, &spec)?;
    let built = spec.build()?;

    // The pipeline, fed by the capture thread as in `count` and `run`: decoding overlaps inference.
    let (capture, mut pipeline) = built.start(None)?;
    let start = Instant::now();
    let mut frames = 0;
    let mut trails = Trails::new(Anchor::default());
    let mut pictures = vec![];
    let mut picturing = Duration::ZERO;
    let mut last = None;
    while frames < o.frames {
        let t = Instant::now();
        let Some(mut frame) = capture.next()? else {
            break;
        };
        pipeline.stages.decode += t.elapsed();
        let crossings = pipeline.process(&frame)?;
        frame.windows = None;
        frames += 1;
        let t = Instant::now();
        trails.update(pipeline.tracks(), frame.time);
        for c in crossings {
            let Some(trail) = trails.get(c.track) else {
                continue;
            };
            let shot = Shot {
                frame: frame.clone(),
                native: capture.health().native,
                track: c.track,
                bbox: trail.bbox,
                path: trail.path.iter().copied().collect(),
                lines: pipeline.lines().collect(),
            };
            let made = Instant::now();
            if let Ok(jpeg) = shot.jpeg() {
                pictures.push((jpeg.bytes.len(), made.elapsed()));
            }
        }
        last = Some(frame);
        picturing += t.elapsed();
    }
    let seconds = (start.elapsed() - picturing).as_secs_f64();
    let mut evidence = EvidenceCost::default();
    if let Some(frame) = last {
        let view = LiveView::default();
        view.put(Seen {
            frame,
            native: capture.health().native,
            tracks: pipeline.tracks().to_vec(),
            lines: pipeline.lines().collect(),
        });
        let t = Instant::now();
        if let Some(Ok((jpeg, _, _))) = view.drawn("KT 8899 TEST  in 12  out 1") {
            evidence.whole_bytes = jpeg.bytes.len();
            evidence.whole_ms = t.elapsed().as_secs_f64() * 1000.0;
        }
    }
    let mut sizes: Vec<usize> = pictures.iter().map(|p| p.0).collect();
    sizes.sort_unstable();
    evidence.crossings = sizes.len();
    evidence.crossing_bytes_median = sizes.get(sizes.len() / 2).copied().unwrap_or(0);
    evidence.crossing_bytes_p99 = sizes
        .get((sizes.len() * 99).div_ceil(100).saturating_sub(1))
        .copied()
        .unwrap_or(0);
    evidence.crossing_ms_median = median_ms(pictures.iter().map(|p| p.1).collect());
    let s = pipeline.stages;
    let per = |d: Duration| {
        if frames == 0 {
            0.0
        } else {
            d.as_secs_f64() * 1000.0 / frames as f64
        }
    };
    let stages_ms = BTreeMap::from([
        ("decode", per(s.decode)),
        ("preprocess", per(s.preprocess)),
        ("infer", per(s.infer)),
        ("postprocess", per(s.postprocess)),
        ("track", per(s.track)),
    ]);
    let decode_thread_ms = per(capture.decode_time());
    let dropped = capture.health().dropped;
    // Ends ffmpeg, so that its CPU time is counted.
    drop(capture);
    let pipeline_fps = if seconds > 0.0 {
        frames as f64 / seconds
    } else {
        0.0
    };
    Ok(BenchReport {
        runtime: match o.detector.runtime {
            RuntimeKind::LiteRt => "litert 2.1.4 (XNNPACK)",
            RuntimeKind::Tflite => "tflite 0.9.8 (TensorFlow Lite 1.15)",
        },
        model,
        threads: o.detector.threads,
        invoke_ms,
        frames,
        seconds,
        pipeline_fps,
        fps_vs_invoke: if invoke_ms > 0.0 {
            pipeline_fps * invoke_ms / 1000.0
        } else {
            0.0
        },
        outside_model_ms: per(s.decode + s.preprocess + s.postprocess + s.track),
        decode_thread_ms,
        stages_ms,
        dropped,
        peak_rss_mb: peak_rss_mb(),
        cpu_seconds: cpu_seconds(),
        evidence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_seconds_grow_with_work() {
        let before = cpu_seconds();
        // Spin until the count moves (a busy machine gives this thread less of each second).
        let start = Instant::now();
        let mut x = 0u64;
        while cpu_seconds() - before < 0.05 && start.elapsed() < Duration::from_secs(30) {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
        }
        assert!(cpu_seconds() - before >= 0.05, "no CPU time counted");
    }
}
