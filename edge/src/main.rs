//! `baycount-edge`: parses the command line, sets up logging and calls the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use baycount_edge::camera::SourceSpec;
use baycount_edge::counter::{Anchor, Line};
use baycount_edge::detector::runtime::RuntimeKind;
use baycount_edge::detector::{DetectorOptions, ModelChoice};
use baycount_edge::{bench, count};
use clap::{Args, Parser, Subcommand};

/// The baycount edge: counts goods crossing a line at a loading bay.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Count recorded footage (or any source) as fast as possible and print the result.
    Count(CountArgs),
    /// Measure the model and the pipeline: invoke time, frames/s, time per stage, memory.
    Bench(BenchArgs),
}

/// What detects, shared by the commands.
#[derive(Debug, Args)]
struct DetectorArgs {
    /// A .tflite model (SSD with postprocess, raw SSD, YOLOv8/11, EfficientDet-Lite), `blob`
    /// for synthetic scenes, or nothing for the default model (SSD MobileNet v2 COCO).
    #[arg(long)]
    model: Option<String>,
    /// The model's labels file (one label per line, or `id label`).
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Classes to count, by label name (default for the default model: person).
    #[arg(long, value_delimiter = ',')]
    classes: Vec<String>,
    /// Least detection score (detections below the tracker's 0.3 only keep tracks alive).
    #[arg(long, default_value_t = 0.2)]
    score: f32,
    /// Model threads [default: the number of cores, at most 4].
    #[arg(long)]
    threads: Option<usize>,
    /// Model runtime: litert (default) or tflite (the old TensorFlow Lite 1.15, when built
    /// with `--features tflite`).
    #[arg(long)]
    runtime: Option<String>,
}

impl DetectorArgs {
    fn options(&self, source: &SourceSpec) -> anyhow::Result<DetectorOptions> {
        let model = match (&self.model, source) {
            (Some(m), _) => m.parse().unwrap_or(ModelChoice::Default),
            (None, SourceSpec::Synthetic) => ModelChoice::Blob,
            (None, _) => ModelChoice::Default,
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        let runtime = match &self.runtime {
            Some(r) => r
                .parse::<RuntimeKind>()
                .map_err(anyhow::Error::msg)
                .context("--runtime")?,
            None => RuntimeKind::default(),
        };
        Ok(DetectorOptions {
            model,
            labels: self.labels.clone(),
            classes: self.classes.clone(),
            score_threshold: self.score,
            iou_threshold: 0.5,
            threads: self.threads.unwrap_or(cores).max(1),
            runtime,
        })
    }
}

#[derive(Debug, Args)]
struct CountArgs {
    /// file:PATH, rtsp://..., v4l:/dev/video0[?width=&height=&fps=&format=mjpeg|yuyv], synthetic.
    #[arg(long)]
    source: String,
    #[command(flatten)]
    detector: DetectorArgs,
    /// The counting line x1,y1,x2,y2 (normalised, y down); crossing it from its left to its
    /// right counts `in`.
    #[arg(long)]
    line: String,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    json: bool,
    /// The point of each box tested against the line: bottom-center, center or top-center.
    #[arg(long, default_value = "bottom-center")]
    anchor: String,
    /// Half-width of the dead band around the line, normalised.
    #[arg(long, default_value_t = 0.01)]
    band: f32,
    /// Play a file at its own frame rate and take the newest frame, like a camera.
    #[arg(long)]
    realtime: bool,
    /// Stop after this many frames.
    #[arg(long)]
    frames: Option<u64>,
}

#[derive(Debug, Args)]
struct BenchArgs {
    #[arg(long)]
    source: String,
    #[command(flatten)]
    detector: DetectorArgs,
    /// Frames through the pipeline.
    #[arg(long, default_value_t = 300)]
    frames: u64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

fn source(s: &str) -> anyhow::Result<SourceSpec> {
    Ok(s.parse::<SourceSpec>()?)
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("baycount-edge: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Count(a) => {
            let source = source(&a.source)?;
            let options = count::CountOptions {
                detector: a.detector.options(&source)?,
                source,
                line: a.line.parse::<Line>().context("--line")?,
                anchor: a
                    .anchor
                    .parse::<Anchor>()
                    .map_err(anyhow::Error::msg)
                    .context("--anchor")?,
                band: a.band,
                realtime: a.realtime,
                max_frames: a.frames,
            };
            let report = count::run(&options, |r| {
                eprintln!(
                    "frame {}: in {} out {} ({:.1} frames/s)",
                    r.frames, r.count_in, r.out, r.fps
                );
            })?;
            if a.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!(
                    "in {}  out {}  ({} frames in {:.1} s, {:.1} frames/s)",
                    report.count_in, report.out, report.frames, report.seconds, report.fps
                );
                for c in &report.crossings {
                    println!(
                        "  frame {:>6}  {:>7.2} s  track {:>4}  {}",
                        c.frame, c.time, c.track, c.direction
                    );
                }
            }
        }
        Command::Bench(a) => {
            let source = source(&a.source)?;
            let options = bench::BenchOptions {
                detector: a.detector.options(&source)?,
                source,
                frames: a.frames,
                invokes: 50,
            };
            let report = bench::run(&options)?;
            if a.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!("{}", serde_json::to_string_pretty(&report)?);
            }
        }
    }
    Ok(())
}
