//! The edge's tracker and counter on the scenes' true boxes (what a perfect detector would
//! find): what they get wrong there is theirs, not the detector's, so this holds them to it
//! whatever the model makes of the videos.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use baycount_edge::cmd::eval::{self, EvalOptions};
use baycount_edge::vision::camera::Frame;
use baycount_edge::vision::counting_line::CounterConfig;
use baycount_edge::vision::detector::Detection;
use baycount_edge::vision::detector::replayed::Replayed;
use baycount_edge::vision::geometry::BBox;
use baycount_edge::vision::pipeline::Pipeline;
use baycount_edge::vision::tracker::TrackerConfig;
use baycount_edge::vision::truth;

use crate::catalogue::Split;
use crate::render;
use crate::script::{FPS, Scene};
use crate::sprites::Sprite;

/// `scene`'s true boxes as detections, frame by frame.
fn detections(scene: &Scene, sprites: &HashMap<&str, Sprite>) -> Vec<Vec<Detection>> {
    let (w, h) = (scene.view.size.0 as f32, scene.view.size.1 as f32);
    render::boxes(scene, sprites)
        .expect("boxes")
        .into_iter()
        .map(|frame| {
            frame
                .into_iter()
                .map(|b| Detection {
                    class: 0,
                    score: 1.0,
                    bbox: BBox::new(
                        b[0] as f32 / w,
                        b[1] as f32 / h,
                        b[2] as f32 / w,
                        b[3] as f32 / h,
                    ),
                })
                .collect()
        })
        .collect()
}

/// The crossings the default tracker and counter make of each line of `lines` on `found`
/// (each line on its own, as a bay counting only it), as `eval --counted` reads them.
fn count(found: &[Vec<Detection>], lines: &[truth::TruthLine]) -> serde_json::Value {
    let lines: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| {
            let mut p = Pipeline::new(
                Box::new(Replayed::new((0..).zip(found.iter().cloned()))),
                TrackerConfig::default(),
                CounterConfig::new(l.line),
            );
            let mut crossings = vec![];
            for index in 0..found.len() as u64 {
                let time = index as f64 / f64::from(FPS);
                let frame = Frame::without_pixels(index, time, (300, 300), BBox::FULL);
                crossings.extend(p.process(&frame).expect("process"));
            }
            crossings.extend(p.finish().into_iter().flatten());
            let crossings: Vec<serde_json::Value> = crossings
                .iter()
                .map(|c| {
                    serde_json::json!({"frame": c.frame, "direction": c.direction.as_str(), "track": c.track})
                })
                .collect();
            serde_json::json!({"name": l.name, "crossings": crossings})
        })
        .collect();
    serde_json::json!({ "lines": lines })
}

/// The report of the default tracker and counter on the true boxes of `split`'s scenes, scored
/// against the committed truth in `dir`.
fn report(split: Split, dir: &str, sprites: &HashMap<&str, Sprite>) -> eval::EvalReport {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = tempfile::tempdir().expect("temp dir");
    let (mut truths, mut counted): (Vec<PathBuf>, Vec<PathBuf>) = (vec![], vec![]);
    for scene in split.scenes() {
        let path = root.join(format!("edge/tests/data/{dir}/scenes/{}.json", scene.name));
        let t = truth::load(&path).expect("truth");
        let made = out.path().join(format!("{}.json", scene.name));
        std::fs::write(
            &made,
            count(&detections(&scene, sprites), &t.lines).to_string(),
        )
        .expect("write");
        truths.push(path);
        counted.push(made);
    }
    eval::run(
        &EvalOptions {
            counted,
            ..EvalOptions::new(truths)
        },
        |_| {},
    )
    .expect("eval")
}

#[test]
fn the_tracker_and_counter_count_the_true_boxes_of_both_splits() {
    let footage = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/footage/vtest.avi");
    let (_, sprites) = crate::load(&footage).expect("the footage: run scripts/fetch-assets.sh");
    // Measured: 2 each (validation: hover H, two people passing each other swapped; training:
    // plaza PZ2, a walker along the line dated where he touched it, 29 frames early).
    for (split, dir, most) in [
        (Split::Validation, "validation", 2),
        (Split::Training, "training", 2),
    ] {
        let r = report(split, dir, &sprites);
        assert!(
            r.totals.wrong <= most,
            "{dir}: {} wrong on the true boxes, at most {most}:\n{}",
            r.totals.wrong,
            eval::text(&r)
        );
    }
}
