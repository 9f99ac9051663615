//! Replays cached detections through the tracker and counters of every line of some truth files
//! and prints `eval`'s report: seconds per try instead of a model run per try, for working on the
//! tracker and counter. Detections are cached under /tmp/baycount-detections.
//! `cargo run -p baycount-edge --example replay -- TRUTH... [--trace LINE:FROM-TO]` (`--trace` prints
//! each frame's detections and tracks with their anchors' distance from that line); settings
//! from the environment: SPEED, IOU, NEW, HIGH, LOW, LOST (tracker), HANDOFF, HANDOFFS, WATCH, SETTLE, SETTLEH, BAND (counter),
//! STRIDE (pipeline), DROP (a share of frames dropped, as a loaded machine does), EVERY (only every n-th frame); SCORE (the detector's least score),
//! BOXES (a directory of `baycount-scenes --boxes`: the scenes' true boxes instead of a model's; with SEEN, the boxes of what can be seen of them), MODEL (a model file; LABELS and CLASSES say what it counts, all classes if not), REGION (lines, lines:N, full or x1,y1,x2,y2) and MARGIN (where the detector looks: `lines` looks at a long line's band in windows after a look
//! with 20 boxes, the default model's every box, 18 of them what is counted); WINDOW (`eval`'s, in frames). Tune on the training set; judge on the validation set.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};

use baycount_edge::cmd::eval::{self, EvalOptions};
use baycount_edge::vision::camera::{self, Frame, OpenOptions, Region, SourceSpec};
use baycount_edge::vision::counting_line::CounterConfig;
use baycount_edge::vision::detector::model::find_default_model;
use baycount_edge::vision::detector::replayed::Replayed;
use baycount_edge::vision::detector::{self, Detection, DetectorOptions, ModelChoice, Stages};
use baycount_edge::vision::geometry::BBox;
use baycount_edge::vision::geometry::Point;
use baycount_edge::vision::pipeline::Pipeline;
use baycount_edge::vision::tracker::TrackerConfig;
use baycount_edge::vision::truth::{self, TruthLine};

type Frames = Vec<(u64, f64, Vec<Detection>)>;

fn options() -> DetectorOptions {
    DetectorOptions {
        model: model().map_or(ModelChoice::Default, |v| v.parse().unwrap()),
        // LABELS and CLASSES for another model (the default model counts people).
        labels: std::env::var("LABELS").ok().map(PathBuf::from),
        classes: std::env::var("CLASSES")
            .map_or(vec![], |c| c.split(',').map(String::from).collect()),
        score_threshold: std::env::var("SCORE").map_or(0.2, |v| v.parse().unwrap()),
        iou_threshold: 0.5,
        threads: 2,
        runtime: Default::default(),
        // The region is replay's own (REGION): detections are mapped out of it as they are made.
        region: Region::Full,
    }
}

/// The cache's name for the model: MODEL's path, or the default model's file name.
fn model_key() -> String {
    let default = || {
        find_default_model(Default::default())
            .and_then(|(m, _)| m.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default()
    };
    model().unwrap_or_else(default).replace(['/', '.'], "_") + "-"
}

/// MODEL: another model file than the default one.
fn model() -> Option<String> {
    std::env::var("MODEL").ok().filter(|m| !m.is_empty())
}

/// REGION (lines, full or x1,y1,x2,y2; lines by default, as the edge) and MARGIN: where the
/// detector looks for `lines`.
fn region(lines: &[TruthLine]) -> Region {
    let mut r: Region = std::env::var("REGION")
        .map_or(Ok(Region::lines()), |v| v.parse())
        .unwrap();
    if let Region::Around { margin, .. } = &mut r {
        *margin = std::env::var("MARGIN").map_or(*margin, |v| v.parse().unwrap());
    }
    r.with_lines(lines.iter().map(|l| l.line))
}

/// The boxes `baycount-scenes --boxes DIR` wrote for `source` (`DIR/<name>.boxes`), when BOXES
/// names that directory: the counter on what a perfect detector would find.
fn true_boxes(source: &Path) -> Option<Frames> {
    let dir = PathBuf::from(std::env::var("BOXES").ok()?);
    // SEEN: what can be seen of each (`<name>.seen.boxes`) instead of the whole person.
    let kind = if std::env::var("SEEN").is_ok() {
        ".seen.boxes"
    } else {
        ".boxes"
    };
    let name = source.file_stem()?.to_string_lossy().into_owned() + kind;
    let text = std::fs::read_to_string(dir.join(&name))
        .unwrap_or_else(|e| panic!("BOXES: no {name} in {}: {e}", dir.display()));
    Some(parse(&text))
}

/// Frames of detections as the cache holds them: `index time` then `class score x1 y1 x2 y2`
/// for each.
fn parse(text: &str) -> Frames {
    text.lines()
        .map(|l| {
            let v: Vec<f64> = l.split(' ').map(|x| x.parse().unwrap()).collect();
            let dets = v[2..]
                .chunks(6)
                .map(|d| Detection {
                    class: d[0] as u32,
                    score: d[1] as f32,
                    bbox: BBox::new(d[2] as f32, d[3] as f32, d[4] as f32, d[5] as f32),
                })
                .collect();
            (v[0] as u64, v[1], dets)
        })
        .collect()
}

fn detections(source: &Path, region: &Region) -> Frames {
    if let Some(frames) = true_boxes(source) {
        return frames;
    }
    // Named by the footage's path, size and time, so a remade video is detected again.
    let meta = std::fs::metadata(source).unwrap();
    let stamp = meta
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let cache = PathBuf::from("/tmp/baycount-detections").join(format!(
        "{}{}-{}-{stamp}-{}{}{}{}",
        model_key(),
        source.display().to_string().replace(['/', '.'], "_"),
        meta.len(),
        options().score_threshold,
        match region.resolve((768, 576), (300, 300)) {
            BBox::FULL => String::new(),
            r => format!("-{:.4},{:.4},{:.4},{:.4}", r.x1, r.y1, r.x2, r.y2),
        },
        std::env::var("CLASSES").map_or(String::new(), |c| format!("-{c}")),
        match region {
            Region::Around { tiles, .. } if *tiles > 1 => format!("-tiles{tiles}"),
            _ => String::new(),
        }
    ));
    if let Ok(text) = std::fs::read_to_string(&cache) {
        return parse(&text);
    }
    let mut det = detector::build(&options()).unwrap();
    let (width, height) = det.input_size();
    let mut src = camera::open(
        &SourceSpec::File(source.to_owned()),
        &OpenOptions {
            width,
            height,
            realtime: false,
            region: region.clone(),
        },
    )
    .unwrap();
    let mut frames = vec![];
    let mut stages = Stages::default();
    while let Some(f) = src.next_frame().unwrap() {
        let mut dets = det.detect(&f, &mut stages).unwrap();
        for d in &mut dets {
            d.bbox = d.bbox.out_of(&f.region);
        }
        frames.push((f.index, f.time, dets));
    }
    std::fs::create_dir_all(cache.parent().unwrap()).unwrap();
    let mut out = std::fs::File::create(&cache).unwrap();
    for (i, t, dets) in &frames {
        write!(out, "{i} {t}").unwrap();
        for d in dets {
            let b = d.bbox;
            write!(
                out,
                " {} {} {} {} {} {}",
                d.class, d.score, b.x1, b.y1, b.x2, b.y2
            )
            .unwrap();
        }
        writeln!(out).unwrap();
    }
    frames
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let trace = args
        .iter()
        .position(|a| a == "--trace")
        .map(|i| args[i + 1].clone());
    let named: Vec<PathBuf> = args
        .iter()
        .filter(|a| a.ends_with(".json") || Path::new(a).is_dir())
        .map(PathBuf::from)
        .collect();
    let files = truth::files(&named).unwrap();
    let vtest = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/footage/vtest.avi"
    ));
    let dir = tempfile::tempdir().unwrap();
    let mut counted = vec![];
    let (mut skipped, mut looked, mut crowded) = (0, 0, 0);
    for (n, f) in files.iter().enumerate() {
        let t = truth::load(f).unwrap();
        let source = t.footage().unwrap().unwrap_or_else(|| vtest.clone());
        let env = |k: &str, d: f64| std::env::var(k).ok().map_or(d, |v| v.parse().unwrap());
        let base = TrackerConfig::default();
        let tracker = TrackerConfig {
            max_speed_heights: env("SPEED", base.max_speed_heights as f64) as f32,
            match_iou: env("IOU", base.match_iou as f64) as f32,
            new_track_score: env("NEW", base.new_track_score as f64) as f32,
            high_score: env("HIGH", base.high_score as f64) as f32,
            low_score: env("LOW", base.low_score as f64) as f32,
            max_lost_seconds: env("LOST", base.max_lost_seconds),
            duplicate_iou: env("DUP", base.duplicate_iou as f64) as f32,
            ..base
        };
        let config = |l: &TruthLine| {
            let c = CounterConfig::new(l.line);
            CounterConfig {
                handoff_radius: env("HANDOFF", c.handoff_radius as f64) as f32,
                handoff_seconds: env("HANDOFFS", c.handoff_seconds),
                watch_distance: env("WATCH", c.watch_distance as f64) as f32,
                settle_seconds: env("SETTLE", c.settle_seconds),
                settle_heights: env("SETTLEH", c.settle_heights as f64) as f32,
                band: env("BAND", c.band as f64) as f32,
                ..c
            }
        };
        let mut got = vec![vec![]; t.lines.len()];
        // Around the lines, each line is counted on its own, on the part of the picture
        // around it, as a bay would.
        let groups: Vec<Vec<usize>> = if matches!(region(&[]), Region::Around { .. }) {
            (0..t.lines.len()).map(|k| vec![k]).collect()
        } else {
            vec![(0..t.lines.len()).collect()]
        };
        // The footage's size, probed once for all its lines.
        let native = camera::native_size(&SourceSpec::File(source.clone())).unwrap();
        for group in &groups {
            let lines: Vec<TruthLine> = group.iter().map(|&k| t.lines[k].clone()).collect();
            let frames = detections(&source, &region(&lines));
            // The band in windows the camera delivers beside each frame for the looks while
            // someone is near the line or after a full one (see `windows`).
            let band = region(&lines).windows_size(native, (300, 300));
            let mut cached =
                Replayed::new(frames.iter().map(|(i, _, d)| (*i, d.clone()))).with_most(FULL);
            // True boxes are the same whichever way the frame is looked at: read once.
            if let Some((b, _)) = &band
                && std::env::var("BOXES").is_err()
            {
                cached =
                    cached.with_windows(detections(&source, b).into_iter().map(|(i, _, d)| (i, d)));
            }
            let mut pipeline = Pipeline::new(Box::new(cached), tracker.clone(), config(&lines[0]));
            pipeline.idle_stride = env("STRIDE", pipeline.idle_stride as f64) as u64;
            for l in &lines[1..] {
                pipeline.add_counter(config(l));
            }
            // DROP: the share of frames (0..1) dropped as a busy machine drops them, in bursts.
            let drop = env("DROP", 0.0);
            // EVERY: only every n-th frame reaches the pipeline.
            let every = env("EVERY", 1.0) as u64;
            // The part of the picture the detector looked at, as the camera resolves it.
            let view = {
                let r = region(&lines);
                r.resolve(native, r.frame_size(native, (300, 300)))
            };
            for (i, time, d) in &frames {
                if drop > 0.0 && ((i.wrapping_mul(2654435761) >> 8) % 1000) as f64 / 1000.0 < drop {
                    continue;
                }
                if i % every != 0 {
                    continue;
                }
                let at = |width, region| Frame::without_pixels(*i, *time, (width, 300), region);
                let frame = Frame {
                    windows: band
                        .as_ref()
                        .map(|(b, size)| Box::new(at(size.0, b.resolve(native, *size)))),
                    ..at(300, view)
                };
                for (k, c) in pipeline
                    .process_all(&frame)
                    .unwrap()
                    .into_iter()
                    .enumerate()
                {
                    got[group[k]].extend(c);
                }
                if let Some(tr) = &trace {
                    let (name, range) = tr.split_once(':').unwrap();
                    let (a, b) = range.split_once('-').unwrap();
                    let (a, b): (u64, u64) = (a.parse().unwrap(), b.parse().unwrap());
                    if let Some(k) = lines.iter().position(|l| l.name == name)
                        && (a..=b).contains(i)
                    {
                        let line = lines[k].line;
                        let raw: Vec<String> = d
                            .iter()
                            .map(|x| {
                                let q = Point::new((x.bbox.x1 + x.bbox.x2) / 2.0, x.bbox.y2);
                                format!(
                                    "{:.2}@({:.3},{:.3}) d={:+.3}",
                                    x.score,
                                    q.x,
                                    q.y,
                                    line.signed_distance(q)
                                )
                            })
                            .collect();
                        let tracks: Vec<String> = pipeline
                            .tracks()
                            .iter()
                            .map(|o| {
                                let q = Point::new((o.bbox.x1 + o.bbox.x2) / 2.0, o.bbox.y2);
                                format!(
                                    "T{}@({:.3},{:.3}) h={:.2} d={:+.3}",
                                    o.id,
                                    q.x,
                                    q.y,
                                    o.bbox.height(),
                                    line.signed_distance(q)
                                )
                            })
                            .collect();
                        println!("f{i}: {}\n      {}", raw.join("  "), tracks.join("  "));
                    }
                }
            }
            skipped += pipeline.skipped;
            looked += pipeline.frames;
            crowded += pipeline.stages.crowd_frames + pipeline.stages.near_frames;
            for (k, c) in pipeline.finish().into_iter().enumerate() {
                got[group[k]].extend(c);
            }
        }
        let lines: Vec<serde_json::Value> = t
            .lines
            .iter()
            .zip(&got)
            .map(|(l, g)| {
                serde_json::json!({"name": l.name, "crossings": g.iter().map(|c| serde_json::json!({
                    "frame": c.frame, "direction": c.direction.as_str(), "track": c.track})).collect::<Vec<_>>()})
            })
            .collect();
        let out = dir.path().join(format!("{n}.json"));
        std::fs::write(&out, serde_json::json!({ "lines": lines }).to_string()).unwrap();
        counted.push(out);
    }
    let report = eval::run(
        &EvalOptions {
            truth: files,
            counted,
            source: None,
            detector: options(),
            anchor: Default::default(),
            band: 0.01,
            window: std::env::var("WINDOW").ok().map(|v| v.parse().unwrap()),
            realtime: false,
            max_frames: None,
        },
        |_| {},
    )
    .unwrap();
    print!("{}", eval::text(&report));
    println!("detector skipped {skipped} of {looked} frames; looked in windows at {crowded}");
}

/// As many boxes as the default model returns: a look with this many came back full.
const FULL: usize = 20;
