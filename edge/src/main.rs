//! `baycount-edge`: parses the command line, sets up logging and calls the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use baycount_edge::cmd::{self, bench, count, eval, press};
use baycount_edge::config::{EdgeConfig, Overrides};
use baycount_edge::panel::gpio::Backend;
use baycount_edge::vision::camera::SourceSpec;
use baycount_edge::vision::counting_line::{Anchor, CounterConfig, Line};
use baycount_edge::vision::detector::runtime::RuntimeKind;
use baycount_edge::vision::detector::{
    DetectorOptions, ModelChoice, full_looks_warning, threads_or_default,
};
use baycount_edge::vision::pipeline_setup::PipelineSpec;
use baycount_edge::vision::truth;
use baycount_edge::{config, logging};
use baycount_protocol::BayId;
use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

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
    /// Count footage with known truth and report, per line, missed and extra crossings.
    Eval(EvalArgs),
    /// Measure the model and the pipeline: invoke time, frames/s, time per stage, memory.
    Bench(BenchArgs),
    /// Run the bay: count, keep the journal, talk to the relay, drive the lamps and button.
    Run(RunArgs),
    /// Press the button of the edge running for a bay (over its local socket).
    Press(PressArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The config file (see edge.example.toml); flags override it.
    #[arg(long, env = "BAYCOUNT_EDGE_CONFIG")]
    config: Option<PathBuf>,
    /// The bay's id.
    #[arg(long)]
    bay: Option<String>,
    /// The MQTT broker, mqtt://[user@]host[:port] or mqtts:// for TLS [default:
    /// mqtt://127.0.0.1:1883]. The password goes in BAYCOUNT_MQTT_PASSWORD; the user defaults to the bay id.
    #[arg(long)]
    mqtt: Option<String>,
    /// For mqtts://: the authority that signed the broker's certificate [default: the system's].
    #[arg(long)]
    mqtt_ca: Option<PathBuf>,
    /// For mqtts:// with client certificates: this edge's certificate...
    #[arg(long)]
    mqtt_cert: Option<PathBuf>,
    /// ...and its private key.
    #[arg(long)]
    mqtt_key: Option<PathBuf>,
    /// file:PATH, rtsp://..., v4l:/dev/video0[?...], synthetic.
    #[arg(long)]
    source: Option<String>,
    /// A .tflite model, `default`, or `blob` (synthetic scenes).
    #[arg(long)]
    model: Option<String>,
    /// The model's labels file.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// The counting line x1,y1,x2,y2 (normalised, y down).
    #[arg(long)]
    line: Option<String>,
    /// Classes to count, by label name.
    #[arg(long, value_delimiter = ',')]
    classes: Vec<String>,
    /// Lamps and button: sim, rppal (Raspberry Pi) or cdev (GPIO character device).
    #[arg(long)]
    gpio: Option<String>,
    /// The journal file (SQLite).
    #[arg(long)]
    journal: Option<PathBuf>,
    /// The local socket `press` talks to.
    #[arg(long)]
    socket: Option<PathBuf>,
    /// Play a file as fast as the pipeline goes instead of at its own frame rate.
    #[arg(long)]
    no_realtime: bool,
    /// Play a file again when it ends.
    #[arg(long = "loop")]
    looped: bool,
    /// While the bay is not loading, run the detector on at most this many frames a second
    /// (0: every frame) [default: 2, or `idle_fps` in the file's [detector]].
    #[arg(long)]
    idle_fps: Option<f64>,
    /// Where the detector looks: lines, lines:N, full or x1,y1,x2,y2 [default: lines, or
    /// `region` in the file's [detector]].
    #[arg(long)]
    region: Option<String>,
}

#[derive(Debug, Args)]
struct PressArgs {
    /// The bay whose button to press.
    #[arg(long)]
    bay: String,
    /// The edge's socket, if not the default for the bay.
    #[arg(long)]
    socket: Option<PathBuf>,
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
    /// Where the detector looks: lines (the part of the picture around the counting line, so
    /// people near it look bigger; a long line's band in up to four model inputs side by side
    /// while a crowd fills one look), lines:N (the band in up to N side by side always; lines:1
    /// in one always), full (the whole picture) or x1,y1,x2,y2 (normalised).
    #[arg(long, default_value = "lines")]
    region: String,
}

impl DetectorArgs {
    fn options(&self, source: &SourceSpec) -> anyhow::Result<DetectorOptions> {
        let model = ModelChoice::for_source(self.model.as_deref(), source);
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
            threads: threads_or_default(self.threads),
            runtime,
            region: self
                .region
                .parse()
                .map_err(anyhow::Error::msg)
                .context("--region")?,
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
    #[command(flatten)]
    crossing: CrossingArgs,
    /// Play a file at its own frame rate and take the newest frame, like a camera.
    #[arg(long)]
    realtime: bool,
    /// Stop after this many frames.
    #[arg(long)]
    frames: Option<u64>,
}

/// How a track's box is tested against the line, shared by `count` and `eval`.
#[derive(Debug, Args)]
struct CrossingArgs {
    /// The point of each box tested against the line: bottom-center, center or top-center.
    #[arg(long, default_value = "bottom-center")]
    anchor: String,
    /// Half-width of the dead band around the line, normalised.
    #[arg(long, default_value_t = 0.01)]
    band: f32,
}

impl CrossingArgs {
    fn anchor(&self) -> anyhow::Result<Anchor> {
        self.anchor
            .parse::<Anchor>()
            .map_err(anyhow::Error::msg)
            .context("--anchor")
    }
}

#[derive(Debug, Args)]
struct EvalArgs {
    /// A truth file (edge/tests/data/validation/README.md), or a directory of them; repeat for
    /// more.
    #[arg(long, required = true)]
    truth: Vec<PathBuf>,
    /// Footage for every truth file instead of the one each names (file:PATH, rtsp://...).
    #[arg(long)]
    source: Option<String>,
    /// Score another counter's crossings instead of counting (one file per truth file, in order:
    /// {"lines": [{"name", "crossings": [{"frame", "direction"}]}]}).
    #[arg(long)]
    counted: Vec<PathBuf>,
    #[command(flatten)]
    detector: DetectorArgs,
    /// How many frames a counted crossing may be from the true one [default: a second of the
    /// footage, by the truth file's "fps"; 10 when it gives none]
    #[arg(long)]
    window: Option<u64>,
    #[command(flatten)]
    crossing: CrossingArgs,
    /// Play the footage at its own frame rate, dropping frames the pipeline has no time for.
    #[arg(long)]
    realtime: bool,
    /// Stop each file's count after this many frames.
    #[arg(long)]
    frames: Option<u64>,
    /// Print one JSON object: {"lines": [...], "totals": {...}, "by_kind": {...}}.
    #[arg(long)]
    json: bool,
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
    let cli = Cli::parse();
    let level = match cli.command {
        Command::Run(_) | Command::Press(_) => "info",
        _ => "warn",
    };
    logging::init(level);
    match run(cli) {
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
            let detector = a.detector.options(&source)?;
            let line = a.line.parse::<Line>().context("--line")?;
            let options = count::CountOptions {
                pipeline: PipelineSpec {
                    source,
                    detector,
                    counter: CounterConfig {
                        anchor: a.crossing.anchor()?,
                        band: a.crossing.band,
                        ..CounterConfig::new(line)
                    },
                    realtime: a.realtime,
                },
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
                if let Some(w) = full_looks_warning(report.missed_looks, report.looks) {
                    println!("warning: {w}");
                }
            }
        }
        Command::Eval(a) => {
            let source = a.source.as_deref().map(source).transpose()?;
            let detector_source = source
                .clone()
                .unwrap_or_else(|| SourceSpec::File(PathBuf::new()));
            let options = eval::EvalOptions {
                truth: truth::files(&a.truth)?,
                counted: a.counted,
                source,
                detector: a.detector.options(&detector_source)?,
                anchor: a.crossing.anchor()?,
                band: a.crossing.band,
                window: a.window,
                realtime: a.realtime,
                max_frames: a.frames,
            };
            let report = eval::run(&options, |p| eprintln!("counting {}", p.display()))?;
            if a.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print!("{}", eval::text(&report));
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
        Command::Run(a) => {
            let overrides = Overrides {
                bay: a.bay,
                mqtt: a.mqtt,
                mqtt_ca: a.mqtt_ca,
                mqtt_cert: a.mqtt_cert,
                mqtt_key: a.mqtt_key,
                source: a.source,
                model: a.model,
                labels: a.labels,
                line: a.line,
                classes: a.classes,
                gpio: a
                    .gpio
                    .map(|g| g.parse::<Backend>())
                    .transpose()
                    .map_err(anyhow::Error::msg)?,
                journal: a.journal,
                socket: a.socket,
                no_realtime: a.no_realtime,
                looped: a.looped,
                idle_fps: a.idle_fps,
                region: a.region,
            };
            let config = EdgeConfig::load(a.config.as_deref(), overrides)?;
            tokio::runtime::Runtime::new()?.block_on(async {
                let shutdown = CancellationToken::new();
                tokio::spawn(signals(shutdown.clone()));
                cmd::run::run(config, shutdown).await
            })?;
        }
        Command::Press(a) => {
            let bay = BayId::parse(&a.bay).map_err(|e| anyhow::anyhow!("--bay: {e}"))?;
            let socket = a.socket.unwrap_or_else(|| config::default_socket(&bay));
            let pressed = tokio::runtime::Runtime::new()?.block_on(press::press(&socket))?;
            match (&pressed.session, &pressed.stopped) {
                (Some(session), _) => println!(
                    "bay {bay}: {} session {session} plate {} count {}",
                    pressed.phase.as_str(),
                    pressed.plate.as_deref().unwrap_or("-"),
                    pressed.count
                ),
                (None, Some(s)) => println!(
                    "bay {bay}: {} (stopped session {} at count {})",
                    pressed.phase.as_str(),
                    s.session,
                    s.count
                ),
                (None, None) => println!("bay {bay}: {}", pressed.phase.as_str()),
            }
        }
    }
    Ok(())
}

/// SIGTERM (systemd) and Ctrl-C both stop the edge cleanly.
async fn signals(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        log::error!("cannot listen for signals");
        return;
    };
    tokio::select! {
        _ = term.recv() => log::info!("SIGTERM: stopping"),
        _ = int.recv() => log::info!("interrupted: stopping"),
        _ = shutdown.cancelled() => return,
    }
    shutdown.cancel();
}
