//! `baycount-edge eval`: counts footage with known truth and reports, per line, how the count
//! differs from it (missed and extra crossings with their frames), so accuracy is measured the
//! same way every time, on any footage with a truth file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use baycount_protocol::Direction;
use serde::{Deserialize, Serialize};

use crate::vision::camera::{self, Region, SourceSpec};
use crate::vision::counting_line::{Anchor, CounterConfig, Crossing};
use crate::vision::detector::{self, DetectorOptions, ModelChoice, Stages};
use crate::vision::geometry::BBox;
use crate::vision::pipeline::PipelineError;
use crate::vision::pipeline_setup::PipelineSpec;
use crate::vision::scoring::{self, Counted};
use crate::vision::truth::{self, TruthError, TruthFile, TruthLine};

/// The window, in frames, for a truth file that does not give its footage's rate: a second at
/// 10 frames a second.
pub const DEFAULT_WINDOW: u64 = 10;

/// How many frames a counted crossing may be from the true one when nobody said: a second of
/// the footage, so that footage at 30 frames a second is judged as strictly as at 10.
pub fn window_of(file: &TruthFile) -> u64 {
    file.fps
        .map_or(DEFAULT_WINDOW, |fps| (fps.round() as u64).max(1))
}

/// What to evaluate, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalOptions {
    /// Truth files; each is counted over its footage, every line at once, or with the detector
    /// looking around the lines, each line as a bay counting only it would (see `line_groups`).
    pub truth: Vec<PathBuf>,
    /// Crossings another counter made (one file per truth file, in the same order): scored
    /// instead of counting.
    pub counted: Vec<PathBuf>,
    /// Footage for every truth file instead of the one each names.
    pub source: Option<SourceSpec>,
    pub detector: DetectorOptions,
    pub anchor: Anchor,
    pub band: f32,
    /// How many frames a counted crossing may be from the true one; `None`: a second of the
    /// footage (see [`window_of`]).
    pub window: Option<u64>,
    /// Play the footage at its own rate, dropping frames the pipeline has no time for.
    pub realtime: bool,
    /// Stop each file's count after this many frames.
    pub max_frames: Option<u64>,
}

impl EvalOptions {
    /// The truth files with the command line's defaults: each file's own footage, the default
    /// detector, the bottom-centre anchor, a band of 0.01 and a window of a second of footage.
    pub fn new(truth: Vec<PathBuf>) -> Self {
        Self {
            truth,
            counted: vec![],
            source: None,
            detector: DetectorOptions::default(),
            anchor: Anchor::BottomCenter,
            band: 0.01,
            window: None,
            realtime: false,
            max_frames: None,
        }
    }
}

/// Why an evaluation could not be made; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Truth(#[from] TruthError),
    #[error("truth file {0} names no source: give --source")]
    NoSource(PathBuf),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("counted crossings {path}: {reason}")]
    Counted { path: PathBuf, reason: String },
    #[error("give one --counted file per --truth file ({truth} truth, {counted} counted)")]
    CountedFiles { truth: usize, counted: usize },
}

/// A true crossing nobody counted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Missed {
    pub frame: u64,
    pub direction: &'static str,
    pub ambiguous: bool,
}

/// A counted crossing that matches no true one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Extra {
    pub frame: u64,
    pub direction: &'static str,
    pub track: Option<u64>,
}

/// One line's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineReport {
    /// The truth file.
    pub file: String,
    pub name: String,
    pub line: String,
    pub kind: Option<String>,
    #[serde(rename = "in")]
    pub count_in: u64,
    pub out: u64,
    pub truth_in: u64,
    pub truth_out: u64,
    pub matched: usize,
    pub missed: Vec<Missed>,
    pub extra: Vec<Extra>,
    /// Missed plus extra.
    pub wrong: usize,
    /// How many frames a counted crossing could be from the true one.
    pub window: u64,
    /// Times the model looked while this line was counted, those it came back full (see
    /// [`crate::vision::detector::Stages::full_looks`]), and of those, the ones whose boxes
    /// were kept, objects missed (the rest were looked at again in windows); and the frames
    /// looked at in windows for a crowd, and because someone was near the line, and in one window
    /// because frames were dropped lately (`--realtime`). 0 for crossings read from a file.
    pub looks: u64,
    pub full_looks: u64,
    pub missed_looks: u64,
    pub crowd_frames: u64,
    pub near_frames: u64,
    pub behind_frames: u64,
}

/// Errors summed over lines (all of them, or those of one kind).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Totals {
    pub lines: usize,
    /// Lines without a single wrong crossing.
    pub lines_exact: usize,
    /// True crossings.
    pub truth: usize,
    pub counted: usize,
    pub matched: usize,
    pub missed: usize,
    pub extra: usize,
    pub wrong: usize,
    /// Of the missed, those the truth calls ambiguous.
    pub missed_ambiguous: usize,
}

impl Totals {
    fn add(&mut self, l: &LineReport) {
        self.lines += 1;
        self.lines_exact += usize::from(l.wrong == 0);
        self.truth += (l.truth_in + l.truth_out) as usize;
        self.counted += (l.count_in + l.out) as usize;
        self.matched += l.matched;
        self.missed += l.missed.len();
        self.extra += l.extra.len();
        self.wrong += l.wrong;
        self.missed_ambiguous += l.missed.iter().filter(|m| m.ambiguous).count();
    }
}

/// The whole evaluation; `--json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    /// What counted: this edge's detector, or the file another counter's crossings came from.
    pub counter: String,
    /// The widest window any line was scored with (each line's is in its report).
    pub window: u64,
    pub lines: Vec<LineReport>,
    pub totals: Totals,
    /// Totals per line kind (`real`, `runner`, ...); lines without a kind are under `-`.
    pub by_kind: BTreeMap<String, Totals>,
    /// Frames of footage counted (once, however many passes its lines took), and those
    /// dropped (with `realtime`, in every pass).
    pub frames: u64,
    pub dropped: u64,
}

/// Crossings another counter wrote: `{"lines": [{"name", "crossings": [{"frame", "direction",
/// "track"}]}]}`.
#[derive(Deserialize)]
struct CountedFile {
    lines: Vec<CountedLine>,
}

#[derive(Deserialize)]
struct CountedLine {
    name: String,
    crossings: Vec<CountedCrossing>,
}

#[derive(Deserialize)]
struct CountedCrossing {
    frame: u64,
    direction: String,
    track: Option<u64>,
}

/// Evaluates every truth file; `progress` hears each file as it starts.
pub fn run(o: &EvalOptions, mut progress: impl FnMut(&Path)) -> Result<EvalReport, EvalError> {
    if !o.counted.is_empty() && o.counted.len() != o.truth.len() {
        return Err(EvalError::CountedFiles {
            truth: o.truth.len(),
            counted: o.counted.len(),
        });
    }
    let mut report = EvalReport {
        counter: match &o.detector.model {
            ModelChoice::Default => "baycount-edge, default model".into(),
            ModelChoice::File(m) => format!("baycount-edge, {}", m.display()),
            ModelChoice::Blob => "baycount-edge, blob detector".into(),
        },
        window: 0,
        lines: vec![],
        totals: Totals::default(),
        by_kind: BTreeMap::new(),
        frames: 0,
        dropped: 0,
    };
    for (i, path) in o.truth.iter().enumerate() {
        progress(path);
        let file = truth::load(path)?;
        let counted = match o.counted.get(i) {
            Some(c) => {
                report.counter = format!("crossings from {}", c.display());
                read_counted(c, &file)?
                    .into_iter()
                    .map(|c| (c, Stages::default()))
                    .collect()
            }
            None => count(o, &file, &mut report)?,
        };
        let window = o.window.unwrap_or_else(|| window_of(&file));
        for (line, (crossings, stages)) in file.lines.iter().zip(counted) {
            report
                .lines
                .push(score(path, line, &crossings, &stages, window));
        }
    }
    report.window =
        (report.lines.iter().map(|l| l.window).max()).unwrap_or(o.window.unwrap_or(DEFAULT_WINDOW));
    for l in &report.lines {
        report.totals.add(l);
        report
            .by_kind
            .entry(l.kind.clone().unwrap_or_else(|| "-".into()))
            .or_default()
            .add(l);
    }
    Ok(report)
}

/// Counts every line of `file` over its footage, in one pass per group of lines; with each
/// line's crossings, what its pass's detector did.
fn count(
    o: &EvalOptions,
    file: &TruthFile,
    report: &mut EvalReport,
) -> Result<Vec<(Vec<Counted>, Stages)>, EvalError> {
    let source = match &o.source {
        Some(s) => s.clone(),
        None => SourceSpec::File(
            file.footage()?
                .ok_or_else(|| EvalError::NoSource(file.path.clone()))?,
        ),
    };
    let config = |l: &TruthLine| CounterConfig {
        anchor: o.anchor,
        band: o.band,
        ..CounterConfig::new(l.line)
    };
    let mut counted = vec![(vec![], Stages::default()); file.lines.len()];
    for (pass, (region, group)) in line_groups(o, &source, file)?.into_iter().enumerate() {
        let lines: Vec<&TruthLine> = group.iter().map(|&k| &file.lines[k]).collect();
        let spec = PipelineSpec {
            source: source.clone(),
            detector: DetectorOptions {
                region,
                ..o.detector.clone()
            },
            counter: config(lines[0]),
            realtime: o.realtime,
        };
        let mut built = spec.build().map_err(PipelineError::from)?;
        for l in &lines[1..] {
            built.add_counter(config(l));
        }
        let (capture, mut pipeline) = built.start(None).map_err(PipelineError::from)?;
        let mut found = vec![vec![]; lines.len()];
        let mut frames = 0;
        while let Some(frame) = capture.next().map_err(PipelineError::from)? {
            if o.max_frames.is_some_and(|m| frames >= m) {
                break;
            }
            frames += 1;
            let crossings = pipeline.process_all(&frame).map_err(PipelineError::from)?;
            record(&mut found, crossings);
            if pass == 0 {
                report.frames += 1;
            }
        }
        record(&mut found, pipeline.finish());
        report.dropped += capture.health().dropped;
        for (k, f) in group.into_iter().zip(found) {
            counted[k] = (f, pipeline.stages);
        }
    }
    Ok(counted)
}

/// The lines of `file` that are counted in one pass, each group with the region its detector
/// looks at. Around the lines (the default), every line is counted as a bay counting only it
/// would: on the part of the picture around it, in a pass of its own unless another line's
/// part is the same; any other region is one pass for all lines.
fn line_groups(
    o: &EvalOptions,
    source: &SourceSpec,
    file: &TruthFile,
) -> Result<Vec<(Region, Vec<usize>)>, EvalError> {
    let all = (0..file.lines.len()).collect();
    if !matches!(o.detector.region, Region::Around { .. }) {
        return Ok(vec![(o.detector.region.clone(), all)]);
    }
    let detector = detector::build(&o.detector).map_err(PipelineError::from)?;
    let out = detector.input_size();
    let native = camera::native_size(source).map_err(PipelineError::from)?;
    // Each line's part, its frames' size and the band in windows beside them, if any.
    type Look = (BBox, (u32, u32), Option<BBox>);
    let mut groups: Vec<(Look, Vec<usize>)> = vec![];
    for (k, l) in file.lines.iter().enumerate() {
        let region = o.detector.region.clone().with_lines([l.line]);
        let size = region.frame_size(native, out);
        let band = camera::Band::of(&region, native, out).map(|b| b.region);
        let look = (region.resolve(native, size), size, band);
        match groups.iter_mut().find(|(l, _)| *l == look) {
            Some((_, g)) => g.push(k),
            None => groups.push((look, vec![k])),
        }
    }
    Ok(groups
        .into_iter()
        .map(|((part, size, band), g)| {
            // A band in windows, or beside the frames for a crowd, stays a band around the
            // group's lines (added when the pipeline starts).
            let region = if size != out || band.is_some() {
                o.detector.region.clone()
            } else if part == BBox::FULL {
                Region::Full
            } else {
                Region::Part(part)
            };
            (region, g)
        })
        .collect())
}

/// Adds each line's crossings to what it counted.
fn record(counted: &mut [Vec<Counted>], crossings: Vec<Vec<Crossing>>) {
    for (line, crossings) in counted.iter_mut().zip(crossings) {
        line.extend(crossings.into_iter().map(|c| Counted {
            frame: c.frame,
            direction: c.direction,
            track: Some(c.track),
        }));
    }
}

/// Another counter's crossings for each line of `file`.
fn read_counted(path: &Path, file: &TruthFile) -> Result<Vec<Vec<Counted>>, EvalError> {
    let bad = |reason: String| EvalError::Counted {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let c: CountedFile = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    file.lines
        .iter()
        .map(|l| {
            let line = c
                .lines
                .iter()
                .find(|cl| cl.name == l.name)
                .ok_or_else(|| bad(format!("no line {:?} (the truth has it)", l.name)))?;
            line.crossings
                .iter()
                .map(|x| {
                    let direction = match x.direction.as_str() {
                        "in" => Direction::In,
                        "out" => Direction::Out,
                        d => return Err(bad(format!("direction {d:?}: use \"in\" or \"out\""))),
                    };
                    Ok(Counted {
                        frame: x.frame,
                        direction,
                        track: x.track,
                    })
                })
                .collect()
        })
        .collect()
}

fn score(
    path: &Path,
    line: &TruthLine,
    counted: &[Counted],
    stages: &Stages,
    window: u64,
) -> LineReport {
    let p = scoring::pair(&line.events, counted, window);
    let count = |d| counted.iter().filter(|c| c.direction == d).count() as u64;
    let missed: Vec<Missed> = p
        .missed
        .iter()
        .map(|&i| Missed {
            frame: line.events[i].frame,
            direction: line.events[i].direction.as_str(),
            ambiguous: line.events[i].ambiguous,
        })
        .collect();
    let extra: Vec<Extra> = p
        .extra
        .iter()
        .map(|&i| Extra {
            frame: counted[i].frame,
            direction: counted[i].direction.as_str(),
            track: counted[i].track,
        })
        .collect();
    LineReport {
        file: path.display().to_string(),
        name: line.name.clone(),
        line: line.line.to_string(),
        kind: line.kind.clone(),
        count_in: count(Direction::In),
        out: count(Direction::Out),
        truth_in: line.count(Direction::In),
        truth_out: line.count(Direction::Out),
        matched: p.matched.len(),
        wrong: missed.len() + extra.len(),
        missed,
        extra,
        window,
        looks: stages.looks,
        full_looks: stages.full_looks,
        missed_looks: stages.missed_looks(),
        crowd_frames: stages.crowd_frames,
        near_frames: stages.near_frames,
        behind_frames: stages.behind_frames,
    }
}

/// The report as text: a line per counting line, its errors under it, then the totals.
pub fn text(r: &EvalReport) -> String {
    let mut s = String::new();
    for l in &r.lines {
        let file = Path::new(&l.file)
            .file_name()
            .map_or(l.file.clone(), |f| f.to_string_lossy().into_owned());
        s += &format!(
            "{file} {} ({}): in {} of {}, out {} of {}: {}\n",
            l.name,
            l.kind.as_deref().unwrap_or("-"),
            l.count_in,
            l.truth_in,
            l.out,
            l.truth_out,
            if l.wrong == 0 {
                "exact".to_string()
            } else {
                format!("{} missed, {} extra", l.missed.len(), l.extra.len())
            }
        );
        if let Some(w) = detector::full_looks_warning(l.missed_looks, l.looks) {
            s += &format!("    {w}\n");
        }
        for m in &l.missed {
            s += &format!(
                "    missed {:<3} at frame {}{}\n",
                m.direction,
                m.frame,
                if m.ambiguous { " (ambiguous)" } else { "" }
            );
        }
        for e in &l.extra {
            s += &format!("    extra  {:<3} at frame {}", e.direction, e.frame);
            if let Some(t) = e.track {
                s += &format!(" (track {t})");
            }
            s += "\n";
        }
    }
    let t = &r.totals;
    let narrowest = r.lines.iter().map(|l| l.window).min().unwrap_or(r.window);
    let window = if narrowest == r.window {
        r.window.to_string()
    } else {
        format!("{narrowest}-{}", r.window)
    };
    s += &format!(
        "total: {} lines, {} exact; {} true crossings, {} counted, {} matched, {} missed ({} ambiguous), {} extra: {} wrong (window {} frames)\n",
        t.lines,
        t.lines_exact,
        t.truth,
        t.counted,
        t.matched,
        t.missed,
        t.missed_ambiguous,
        t.extra,
        t.wrong,
        window
    );
    if r.by_kind.len() > 1 {
        for (kind, k) in &r.by_kind {
            s += &format!(
                "  {kind:<10} {:>3} true, {:>2} missed, {:>2} extra, {}/{} lines exact\n",
                k.truth, k.missed, k.extra, k.lines_exact, k.lines
            );
        }
    }
    s
}
