//! `baycount-edge bench`: the bare model's invoke time, and the whole pipeline's frame rate
//! and time per stage, in one sequential loop (the same shape as bench/python_baseline.py).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::camera::{self, OpenOptions, SourceSpec};
use crate::count::CountError;
use crate::counter::{CounterConfig, Line};
use crate::detector::model::ModelDetector;
use crate::detector::{self, DetectorOptions, ModelChoice};
use crate::pipeline::Pipeline;
use crate::tracker::TrackerConfig;

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
    /// Mean time per frame in each stage, in ms.
    pub stages_ms: BTreeMap<&'static str, f64>,
    /// Mean time per frame outside the model (decode, preprocess, postprocess, track), in ms.
    pub outside_model_ms: f64,
    pub dropped: u64,
    /// Peak resident memory of this process, in MB.
    pub peak_rss_mb: f64,
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

fn median_ms(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v.get(v.len() / 2).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

pub fn run(o: &BenchOptions) -> Result<BenchReport, CountError> {
    // The bare model first, on its own.
    let (invoke_ms, model) = match &o.detector.model {
        ModelChoice::Blob => (0.0, "blob".to_owned()),
        choice => {
            let path = match choice {
                ModelChoice::File(p) => p.clone(),
                _ => detector::model::find_default_model()
                    .map(|(m, _)| m)
                    .unwrap_or_default(),
            };
            let mut bare = ModelDetector::open(&crate::detector::model::ModelOptions {
                path,
                labels: None,
                classes: vec![],
                score_threshold: o.detector.score_threshold,
                iou_threshold: o.detector.iou_threshold,
                threads: o.detector.threads,
            })?;
            for _ in 0..5 {
                bare.invoke_fixed()?;
            }
            let mut times = Vec::with_capacity(o.invokes);
            for _ in 0..o.invokes {
                let t = Instant::now();
                bare.invoke_fixed()?;
                times.push(t.elapsed());
            }
            (median_ms(times), bare.path_name().to_owned())
        }
    };

    let detector = detector::build(&o.detector)?;
    let (width, height) = detector.input_size();
    let mut source = camera::open(
        &o.source,
        &OpenOptions {
            width,
            height,
            realtime: false,
        },
    )?;
    let line: Line = "0,0.5,1,0.5"
        .parse()
        .unwrap_or_else(|_| unreachable!("a valid line"));
    let mut pipeline = Pipeline::new(detector, TrackerConfig::default(), CounterConfig::new(line));
    let start = Instant::now();
    let mut frames = 0;
    while frames < o.frames {
        let t = Instant::now();
        let Some(frame) = source.next_frame()? else {
            break;
        };
        pipeline.stages.decode += t.elapsed();
        pipeline.process(&frame)?;
        frames += 1;
    }
    let seconds = start.elapsed().as_secs_f64();
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
    let pipeline_fps = if seconds > 0.0 {
        frames as f64 / seconds
    } else {
        0.0
    };
    Ok(BenchReport {
        runtime: "litert 2.1.4 (XNNPACK)",
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
        stages_ms,
        dropped: 0,
        peak_rss_mb: peak_rss_mb(),
    })
}
