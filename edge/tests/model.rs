//! The default model on LiteRT, on real footage (both fetched by scripts/setup.sh).

use std::path::PathBuf;

use baycount_edge::vision::camera::{self, OpenOptions, SourceSpec};
use baycount_edge::vision::detector::decode::Format;
use baycount_edge::vision::detector::model::{ModelDetector, ModelOptions, find_default_model};
use baycount_edge::vision::detector::{Detection, Detector, DetectorError, Stages, modelfile};

fn footage() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/footage/vtest.avi"
    ))
}

/// The footage at the default model's input size.
fn footage_at_300() -> Box<dyn camera::FrameSource> {
    camera::open(
        &SourceSpec::File(footage()),
        &OpenOptions {
            width: 300,
            height: 300,
            realtime: false,
            region: Default::default(),
        },
    )
    .expect("footage")
}

fn options() -> ModelOptions {
    let (path, labels) = find_default_model(Default::default())
        .expect("the default model is installed by scripts/setup.sh");
    ModelOptions {
        path,
        labels: Some(labels),
        classes: vec!["person".into()],
        score_threshold: 0.3,
        iou_threshold: 0.5,
        threads: 1,
        runtime: Default::default(),
    }
}

#[test]
fn reads_the_postprocess_op_and_its_anchors_from_the_model_file() {
    let file = std::fs::read(options().path).expect("model");
    let pp = modelfile::postprocess(&file)
        .expect("valid model")
        .expect("has the postprocess op");
    assert_eq!((pp.max_detections, pp.max_classes_per_detection), (20, 1));
    assert_eq!(pp.scales, [10.0, 10.0, 5.0, 5.0]);
    let anchors = pp.anchors.expect("anchors are a constant input");
    assert_eq!(anchors.len(), 1917);
    assert!(
        (anchors[0][0] - 0.0258).abs() < 1e-3 && (anchors[0][2] - 0.0968).abs() < 1e-3,
        "{:?}",
        anchors[0]
    );
}

#[test]
fn generated_ssd_anchors_match_the_ones_inside_the_default_model() {
    use baycount_edge::vision::detector::anchors::{SsdAnchorConfig, ssd_anchors};
    let file = std::fs::read(options().path).expect("model");
    let inside = modelfile::postprocess(&file)
        .expect("valid")
        .expect("op")
        .anchors
        .expect("anchors");
    let made = ssd_anchors(&SsdAnchorConfig::default(), 300, 300);
    assert_eq!(made.len(), inside.len());
    // The model stores them as uint8 with a step of 0.00645.
    let worst = made
        .iter()
        .zip(&inside)
        .flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| (x - y).abs()))
        .fold(0.0f32, f32::max);
    assert!(worst < 0.0033, "largest difference {worst}");
}

#[test]
fn finds_people_in_every_tenth_frame_of_vtest() {
    let mut det = ModelDetector::open(&options()).expect("model loads");
    assert!(matches!(det.format(), Format::Postprocessed { .. }));
    assert_eq!(det.input_size(), (300, 300));
    let mut src = footage_at_300();
    let mut stages = Stages::default();
    let mut checked = 0;
    while let Some(frame) = src.next_frame().expect("frame") {
        if frame.index % 10 != 0 {
            continue;
        }
        let people = det.detect(&frame, &mut stages).expect("inference");
        assert!(!people.is_empty(), "frame {} has people", frame.index);
        for p in &people {
            assert_eq!(p.class, 0);
            assert!(
                p.score >= 0.3 && p.bbox.x1 >= 0.0 && p.bbox.x2 <= 1.0 && p.bbox.x1 < p.bbox.x2
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 80);
    assert!(stages.infer > stages.preprocess);
}

#[test]
fn broken_model_files_and_unknown_classes_are_clear_errors() {
    let dir = tempfile::tempdir().expect("tmp");
    let junk = dir.path().join("junk.tflite");
    std::fs::write(&junk, b"TFL3 but not really a model").expect("write");
    let err = ModelDetector::open(&ModelOptions {
        path: junk,
        ..options()
    })
    .expect_err("junk");
    assert!(matches!(err, DetectorError::Load { .. }), "{err}");
    assert!(err.to_string().contains("junk.tflite"), "{err}");
    let missing = ModelDetector::open(&ModelOptions {
        path: dir.path().join("none.tflite"),
        ..options()
    })
    .expect_err("missing");
    assert!(missing.to_string().contains("none.tflite"), "{missing}");
    let err = ModelDetector::open(&ModelOptions {
        classes: vec!["sack".into()],
        ..options()
    })
    .expect_err("no sack in COCO");
    assert!(matches!(err, DetectorError::UnknownClass(_)), "{err}");
}

/// Whether every box of `a` with a score of 0.4 or more is in `b` (the same class, its left side
/// and feet within 0.02 of the picture, its score within 0.1), in whatever order each model or
/// runtime ranks near-equal scores.
fn all_found_in(a: &[Detection], b: &[Detection]) -> bool {
    a.iter().filter(|x| x.score >= 0.4).all(|x| {
        b.iter().any(|y| {
            x.class == y.class
                && (x.score - y.score).abs() <= 0.1
                && (x.bbox.x1 - y.bbox.x1).abs() < 0.02
                && (x.bbox.y2 - y.bbox.y2).abs() < 0.02
        })
    })
}

/// The default model under LiteRT is the int8 rewrite of the published uint8 one
/// (scripts/int8-model.py), made for XNNPACK's faster int8 kernels: it finds the same people.
#[test]
fn the_int8_rewrite_finds_the_same_people_as_the_published_model() {
    use baycount_edge::vision::detector::model::{DEFAULT_MODEL, DEFAULT_MODEL_INT8};
    use baycount_edge::vision::detector::runtime::RuntimeKind;
    let int8 = options();
    assert!(int8.path.ends_with(DEFAULT_MODEL_INT8), "{:?}", int8.path);
    let (published, _) = find_default_model(RuntimeKind::Tflite).expect("the uint8 model");
    assert!(published.ends_with(DEFAULT_MODEL), "{published:?}");
    let mut a = ModelDetector::open(&int8).expect("int8");
    let mut b = ModelDetector::open(&ModelOptions {
        path: published,
        ..options()
    })
    .expect("uint8");
    let mut src = footage_at_300();
    let mut stages = Stages::default();
    let (mut compared, mut people) = (0, 0);
    while let Some(frame) = src.next_frame().expect("frame") {
        if frame.index % 50 != 0 {
            continue;
        }
        let (x, y) = (
            a.detect(&frame, &mut stages).expect("int8"),
            b.detect(&frame, &mut stages).expect("uint8"),
        );
        assert!(
            all_found_in(&x, &y) && all_found_in(&y, &x),
            "frame {}: int8 found {x:?}, uint8 {y:?}",
            frame.index
        );
        people += y.len();
        compared += 1;
    }
    assert_eq!(compared, 16);
    assert!(people > 50, "{people} people in 16 frames");
}

/// The `tflite` fallback runtime (TensorFlow Lite 1.15) finds what LiteRT finds in the model
/// both read (the published uint8 one).
#[cfg(feature = "tflite")]
#[test]
fn the_tflite_fallback_finds_the_same_people_as_litert() {
    use baycount_edge::vision::detector::runtime::RuntimeKind;
    let (published, _) = find_default_model(RuntimeKind::Tflite).expect("the uint8 model");
    let mut litert = ModelDetector::open(&ModelOptions {
        path: published.clone(),
        ..options()
    })
    .expect("LiteRT");
    let mut fallback = ModelDetector::open(&ModelOptions {
        path: published,
        runtime: RuntimeKind::Tflite,
        ..options()
    })
    .expect("tflite");
    let mut src = footage_at_300();
    let mut stages = Stages::default();
    let mut compared = 0;
    while let Some(frame) = src.next_frame().expect("frame") {
        if frame.index % 100 != 0 {
            continue;
        }
        let a = litert.detect(&frame, &mut stages).expect("LiteRT");
        let b = fallback.detect(&frame, &mut stages).expect("tflite");
        assert_eq!(a.len(), b.len(), "frame {}", frame.index);
        // The same people, in whatever order each runtime ranks near-equal scores.
        for x in &a {
            assert!(
                b.iter().any(|y| x.class == y.class
                    && (x.bbox.x1 - y.bbox.x1).abs() < 0.02
                    && (x.bbox.y2 - y.bbox.y2).abs() < 0.02),
                "frame {}: LiteRT found {x:?}, tflite {b:?}",
                frame.index
            );
        }
        compared += 1;
    }
    assert_eq!(compared, 8);
}

/// People found near a line across the whole width of the crowd clip (feet within a quarter of
/// the picture's height of it) in its first `frames` frames, with the detector looking as
/// `region` says; the most boxes it gave for one frame; and the frames' size.
fn people_along_the_crowd_line(region: &str, frames: usize) -> (usize, usize, (u32, u32), Stages) {
    use baycount_edge::vision::camera::Region;
    use baycount_edge::vision::counting_line::Line;
    use baycount_edge::vision::detector::{self, DetectorOptions};
    let line: Line = "0,0.45,1,0.45".parse().expect("line");
    let region: Region = region.parse().expect("region");
    let options = DetectorOptions {
        region: region.clone(),
        ..DetectorOptions::default()
    };
    let mut det = detector::build(&options).expect("the default model");
    let (width, height) = det.input_size();
    let clip = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/footage/people-walking.mp4"
    ));
    let mut src = camera::open(
        &SourceSpec::File(clip),
        &OpenOptions {
            width,
            height,
            realtime: false,
            region: region.with_lines([line]),
        },
    )
    .expect("people-walking.mp4 (scripts/fetch-assets.sh)");
    let (mut near, mut most, mut size) = (0, 0, (0, 0));
    let mut stages = Stages::default();
    for _ in 0..frames {
        let f = src.next_frame().expect("frame").expect("a frame");
        size = (f.width, f.height);
        let dets = det.detect(&f, &mut stages).expect("detect");
        for (i, a) in dets.iter().enumerate() {
            let b = a.bbox;
            assert!(b.x1 >= 0.0 && b.x2 <= 1.0 && b.x1 < b.x2, "{b:?}");
            // No one twice: the windows' views of one person are merged.
            for other in &dets[i + 1..] {
                assert!(b.iou(&other.bbox) < 0.7, "{a:?} and {other:?}");
            }
        }
        most = most.max(dets.len());
        near += dets
            .iter()
            .filter(|d| (d.bbox.out_of(&f.region).y2 - 0.45).abs() < 0.25)
            .count();
    }
    (near, most, size, stages)
}

#[test]
fn a_band_along_a_long_line_looked_at_in_windows_finds_more_of_the_crowd_on_it() {
    let (one, one_most, one_size, one_stages) = people_along_the_crowd_line("lines:1", 10);
    let (four, _, four_size, four_stages) = people_along_the_crowd_line("lines:4", 10);
    assert_eq!(one_size, (300, 300), "one window: the model's input");
    assert_eq!(
        four_size,
        (975, 300),
        "four windows side by side, a quarter overlapping"
    );
    assert_eq!(
        one_most, 20,
        "the model gives at most 20 boxes a look, and 30-45 are in view"
    );
    assert!(
        four as f32 > 1.3 * one as f32,
        "near the line: {one} people found in one window, {four} in four"
    );
    // The model says when it is full: every box it can give, all confident. In one window it
    // is, nearly every look; in four, each window holds fewer people than that.
    assert_eq!((one_stages.looks, four_stages.looks), (10, 40));
    assert!(
        one_stages.full_looks >= 8,
        "one window full in {} of 10 looks",
        one_stages.full_looks
    );
    assert!(
        four_stages.full_looks <= 4,
        "windows full in {} of 40 looks",
        four_stages.full_looks
    );
}

/// `scripts/int8-model.py` run as scripts/fetch-assets.sh runs it (in its venv) on `model`,
/// writing `out`: whether it succeeded, and what it said on stderr.
fn int8_rewrite(model: &std::path::Path, out: &std::path::Path) -> (bool, String) {
    let cache = std::env::var_os("BAYCOUNT_CACHE").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/baycount"),
        PathBuf::from,
    );
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let run = std::process::Command::new(cache.join("model-venv/bin/python"))
        .arg(root.join("scripts/int8-model.py"))
        .arg(model)
        .arg(out)
        .arg(footage())
        .output()
        .expect("the model venv made by scripts/fetch-assets.sh");
    (
        run.status.success(),
        String::from_utf8_lossy(&run.stderr).into_owned(),
    )
}

#[test]
fn the_int8_rewrite_is_reproducible_and_refuses_what_it_cannot_rewrite() {
    use baycount_edge::vision::detector::runtime::RuntimeKind;
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("int8.tflite");
    // The published model gives, byte for byte, the file setup checked by its sha256.
    let (published, _) = find_default_model(RuntimeKind::Tflite).expect("the uint8 model");
    let (ok, said) = int8_rewrite(&published, &out);
    assert!(ok, "{said}");
    let made = std::fs::read(&out).expect("written");
    assert!(made == std::fs::read(options().path).expect("the default int8 model"));
    // A model that is not uint8 (the fp16 raw SSD), bytes that are no model, a missing file:
    // each a clear error, and nothing written.
    let models = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/models"));
    for (input, says) in [
        (
            models.join("objectron_ssd_oidv4_fp16.tflite"),
            "not a uint8 one",
        ),
        (models.join("coco_labels.txt"), "cannot read"),
        (dir.path().join("none.tflite"), "No such file"),
    ] {
        std::fs::remove_file(&out).ok();
        let (ok, said) = int8_rewrite(&input, &out);
        assert!(!ok && said.contains(says), "{input:?}: {said}");
        assert!(
            said.lines().count() <= 3,
            "a clear error, not a traceback: {said}"
        );
        assert!(!out.exists(), "{input:?} left {out:?}");
    }
}
