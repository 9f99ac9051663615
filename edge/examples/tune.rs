//! Tunes the tracker and counter against verified ground truth: runs the default model over the
//! footage once, then replays the detections through many tracker/counter settings and prints
//! the best (fewest crossings unmatched, then closest totals).
//! `cargo run --release -p baycount-edge --example tune`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use baycount_edge::vision::camera::{self, OpenOptions, SourceSpec};
use baycount_edge::vision::counting_line::{Counter, CounterConfig};
use baycount_edge::vision::detector::{self, Detection, DetectorOptions, ModelChoice, Stages};
use baycount_edge::vision::scoring::{self, Counted};
use baycount_edge::vision::tracker::{Tracker, TrackerConfig};
use baycount_edge::vision::truth::{self, TruthLine};
use baycount_protocol::Direction;

/// Unmatched crossings and total count error of one setting over every line.
fn score(
    frames: &[(u64, f64, Vec<Detection>)],
    truth: &[TruthLine],
    cfg: &TrackerConfig,
    band: f32,
) -> (usize, u64, Vec<(u64, u64)>) {
    let (mut unmatched, mut err, mut got) = (0, 0, vec![]);
    for t in truth {
        let mut tracker = Tracker::new(cfg.clone());
        let mut counter = Counter::new(CounterConfig {
            band,
            ..CounterConfig::new(t.line)
        });
        let mut crossings = vec![];
        for (i, time, d) in frames {
            let tracks = tracker.update(d, *time);
            crossings.extend(
                counter
                    .update(&tracks, *i, *time)
                    .into_iter()
                    .map(|x| Counted {
                        frame: x.frame,
                        direction: x.direction,
                        track: None,
                    }),
            );
        }
        let p = scoring::pair(&t.events, &crossings, 10);
        unmatched += p.missed.len() + p.extra.len();
        err += counter.count_in().abs_diff(t.count(Direction::In))
            + counter.count_out().abs_diff(t.count(Direction::Out));
        got.push((counter.count_in(), counter.count_out()));
    }
    (unmatched, err, got)
}

fn main() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let file = format!("{root}/edge/tests/data/vtest_ground_truth.json");
    let truth: Vec<TruthLine> = truth::load(Path::new(&file)).unwrap().lines;
    let low: f32 = std::env::var("SCORE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.2);
    let mut det = detector::build(&DetectorOptions {
        model: ModelChoice::Default,
        labels: None,
        classes: vec![],
        score_threshold: low,
        iou_threshold: 0.5,
        threads: 2,
        runtime: Default::default(),
    })
    .unwrap();
    let (w, h) = det.input_size();
    let source = SourceSpec::File(format!("{root}/assets/footage/vtest.avi").into());
    let mut src = camera::open(
        &source,
        &OpenOptions {
            width: w,
            height: h,
            realtime: false,
        },
    )
    .unwrap();
    let mut frames = vec![];
    let mut stages = Stages::default();
    while let Some(f) = src.next_frame().unwrap() {
        frames.push((f.index, f.time, det.detect(&f, &mut stages).unwrap()));
    }
    let mut results = vec![];
    for high in [0.3f32, 0.4, 0.5] {
        for new in [0.3f32, 0.4, 0.5, 0.6].into_iter().filter(|&n| n >= high) {
            for min_hits in [1u32, 2, 3] {
                for lost in [0.5f64, 1.0, 1.5, 2.5] {
                    for iou in [0.1f32, 0.2, 0.3] {
                        for band in [0.005f32, 0.01, 0.02] {
                            let cfg = TrackerConfig {
                                high_score: high,
                                low_score: low,
                                new_track_score: new,
                                match_iou: iou,
                                low_match_iou: 0.4,
                                min_hits,
                                max_lost_seconds: lost,
                                ..TrackerConfig::default()
                            };
                            let (unmatched, err, got) = score(&frames, &truth, &cfg, band);
                            results.push(((unmatched, err), format!("unmatched {unmatched} error {err}: high {high} new {new} hits {min_hits} lost {lost} iou {iou} band {band}: {got:?}")));
                        }
                    }
                }
            }
        }
    }
    results.sort_by_key(|r| r.0);
    println!(
        "ground truth: {:?}",
        truth
            .iter()
            .map(|t| (t.count(Direction::In), t.count(Direction::Out)))
            .collect::<Vec<_>>()
    );
    for (_, r) in results.iter().take(15) {
        println!("{r}");
    }
}
