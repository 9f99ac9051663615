//! Tunes the tracker and counter against verified ground truth: runs the default model over the
//! footage once, then replays the detections through many tracker/counter settings and prints
//! the best. `cargo run --release -p baycount-edge --example tune`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use baycount_edge::camera::{self, OpenOptions, SourceSpec};
use baycount_edge::counter::{Counter, CounterConfig, Line};
use baycount_edge::detector::{self, Detection, DetectorOptions, ModelChoice, Stages};
use baycount_edge::tracker::{Tracker, TrackerConfig};

fn main() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let gt: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{root}/edge/tests/data/vtest_ground_truth.json"))
            .unwrap(),
    )
    .unwrap();
    let events: Vec<Vec<(u64, bool)>> = ["L1", "L2"]
        .iter()
        .map(|k| {
            gt[k]["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        e["frame"].as_u64().unwrap(),
                        matches!(e["direction"].as_str(), Some("east" | "south")),
                    )
                })
                .collect()
        })
        .collect();
    let lines: Vec<(Line, u64, u64)> = ["L1", "L2"]
        .iter()
        .map(|k| {
            let l = &gt[k];
            let s = &l["segment_norm"];
            let line = format!("{},{},{},{}", s[0][0], s[0][1], s[1][0], s[1][1])
                .parse()
                .unwrap();
            let (mut i, mut o) = (0, 0);
            for e in l["events"].as_array().unwrap() {
                match e["direction"].as_str().unwrap() {
                    "east" | "south" => i += 1,
                    _ => o += 1,
                }
            }
            (line, i, o)
        })
        .collect();
    let min_score: f32 = std::env::var("SCORE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.2);
    let mut det = detector::build(&DetectorOptions {
        model: ModelChoice::Default,
        labels: None,
        classes: vec![],
        score_threshold: min_score,
        iou_threshold: 0.5,
        threads: 2,
        runtime: Default::default(),
    })
    .unwrap();
    let (w, h) = det.input_size();
    let mut src = camera::open(
        &SourceSpec::File(format!("{root}/assets/footage/vtest.avi").into()),
        &OpenOptions {
            width: w,
            height: h,
            realtime: false,
        },
    )
    .unwrap();
    let mut frames: Vec<(u64, f64, Vec<Detection>)> = vec![];
    let mut stages = Stages::default();
    while let Some(f) = src.next_frame().unwrap() {
        frames.push((f.index, f.time, det.detect(&f, &mut stages).unwrap()));
    }
    let mut results = vec![];
    for high in [0.3f32, 0.4, 0.5] {
        for new in [0.3f32, 0.4, 0.5, 0.6] {
            for min_hits in [1u32, 2, 3] {
                for lost in [0.5f64, 1.0, 1.5, 2.5] {
                    for iou in [0.1f32, 0.2, 0.3] {
                        for band in [0.005f32, 0.01, 0.02] {
                            if new < high {
                                continue;
                            }
                            let cfg = TrackerConfig {
                                high_score: high,
                                low_score: min_score,
                                new_track_score: new,
                                match_iou: iou,
                                low_match_iou: 0.4,
                                min_hits,
                                max_lost_seconds: lost,
                            };
                            let mut err = 0i64;
                            let mut unmatched = 0usize;
                            let mut got = vec![];
                            for (k, (line, gi, go)) in lines.iter().enumerate() {
                                let mut t = Tracker::new(cfg.clone());
                                let mut c = Counter::new(CounterConfig {
                                    band,
                                    ..CounterConfig::new(*line)
                                });
                                let mut crossings = vec![];
                                for (i, time, d) in &frames {
                                    let tracks = t.update(d, *time);
                                    crossings.extend(c.update(&tracks, *i, *time).into_iter().map(
                                        |x| {
                                            (
                                                x.frame,
                                                x.direction == baycount_protocol::Direction::In,
                                            )
                                        },
                                    ));
                                }
                                unmatched += match_events(&events[k], &crossings);
                                err += (c.count_in() as i64 - *gi as i64).abs()
                                    + (c.count_out() as i64 - *go as i64).abs();
                                got.push((c.count_in(), c.count_out()));
                            }
                            results.push((unmatched as i64 * 100 + err, format!("unmatched {unmatched} " ) + &format!("high {high} new {new} hits {min_hits} lost {lost} iou {iou} band {band}: {got:?}")));
                        }
                    }
                }
            }
        }
    }
    results.sort_by_key(|r| r.0);
    println!(
        "ground truth: {:?}",
        lines.iter().map(|l| (l.1, l.2)).collect::<Vec<_>>()
    );
    for (err, r) in results.iter().take(15) {
        println!("error {err}: {r}");
    }
}

/// Ground-truth events and crossings left without a partner (same direction, within 10 frames).
fn match_events(truth: &[(u64, bool)], got: &[(u64, bool)]) -> usize {
    let mut used = vec![false; got.len()];
    let mut missed = 0;
    for &(f, dir) in truth {
        let best = (0..got.len())
            .filter(|&i| !used[i] && got[i].1 == dir && got[i].0.abs_diff(f) <= 10)
            .min_by_key(|&i| got[i].0.abs_diff(f));
        match best {
            Some(i) => used[i] = true,
            None => missed += 1,
        }
    }
    missed + used.iter().filter(|u| !**u).count()
}
