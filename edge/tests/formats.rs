//! Every model layout the edge decodes, on the real runtime: small generated models
//! (`tests/data/models`, made by `make_models.py` there) whose outputs hold one known detection,
//! a class 1 "carton" at x 0.25..0.75, y 0.5..1.0 with score 0.9, laid out as each family does.

use std::io::Write;
use std::path::PathBuf;

use baycount_edge::vision::camera::Frame;
use baycount_edge::vision::detector::decode::Format;
use baycount_edge::vision::detector::model::{ModelDetector, ModelOptions};
use baycount_edge::vision::detector::{Detection, Detector, DetectorError, Stages};
use baycount_edge::vision::geometry::BBox;

fn model(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/models")).join(name)
}

fn options(name: &str, classes: &[&str]) -> ModelOptions {
    ModelOptions {
        path: model(name),
        labels: None,
        classes: classes.iter().map(|c| (*c).to_owned()).collect(),
        score_threshold: 0.3,
        iou_threshold: 0.5,
        threads: 1,
        runtime: Default::default(),
    }
}

fn detect(det: &mut ModelDetector) -> Vec<Detection> {
    let (width, height) = det.input_size();
    let frame = Frame {
        index: 0,
        time: 0.0,
        captured: chrono::Utc::now(),
        width,
        height,
        rgb: vec![128; (width * height * 3) as usize],
        region: BBox::FULL,
        windows: None,
    };
    det.detect(&frame, &mut Stages::default())
        .expect("inference")
}

fn assert_the_carton(dets: &[Detection]) {
    let [d] = dets else {
        panic!("one detection expected, got {dets:?}");
    };
    assert_eq!(d.class, 1);
    assert!((d.score - 0.9).abs() < 1e-3, "{d:?}");
    let b = d.bbox;
    for (got, want) in [(b.x1, 0.25), (b.y1, 0.5), (b.x2, 0.75), (b.y2, 1.0)] {
        assert!((got - want).abs() < 1e-3, "{d:?}");
    }
}

#[test]
fn ultralytics_yolo_channels_first_with_its_packed_class_names() {
    let mut det = ModelDetector::open(&options("yolo_channels_first.tflite", &["carton"]))
        .expect("model loads");
    assert_eq!(
        det.format(),
        &Format::Yolo {
            output: 0,
            channels_first: true,
            classes: 3
        }
    );
    let labels = det.labels().expect("names from the packed metadata.json");
    assert_eq!(
        (labels.name(0), labels.name(1), labels.name(2)),
        (Some("sack"), Some("carton"), Some("person"))
    );
    // Two overlapping candidates in the output: NMS keeps the better.
    assert_the_carton(&detect(&mut det));
    let mut sacks = ModelDetector::open(&options("yolo_channels_first.tflite", &["sack"]))
        .expect("model loads");
    assert!(
        detect(&mut sacks).is_empty(),
        "the class filter drops cartons"
    );
}

#[test]
fn yolo_channels_last_in_pixels_with_an_nchw_input_and_no_labels() {
    let mut det = ModelDetector::open(&options("yolo_channels_last_pixels_nchw.tflite", &["1"]))
        .expect("model loads");
    assert_eq!(
        det.format(),
        &Format::Yolo {
            output: 0,
            channels_first: false,
            classes: 3
        }
    );
    assert_eq!(det.input_size(), (64, 64));
    assert!(det.labels().is_none());
    assert_the_carton(&detect(&mut det));
    let err = ModelDetector::open(&options(
        "yolo_channels_last_pixels_nchw.tflite",
        &["carton"],
    ))
    .expect_err("no names to look up");
    assert!(matches!(err, DetectorError::UnknownClass(_)), "{err}");
}

#[test]
fn yolo_with_a_uint8_input() {
    let mut det = ModelDetector::open(&options("yolo_uint8.tflite", &[])).expect("model loads");
    assert_the_carton(&detect(&mut det));
}

#[test]
fn end_to_end_output() {
    let mut det = ModelDetector::open(&options("end_to_end.tflite", &[])).expect("model loads");
    assert_eq!(det.format(), &Format::EndToEnd { output: 0 });
    assert_eq!(det.labels().and_then(|l| l.name(1)), Some("carton"));
    // The second row's score (0.05) is under the threshold.
    assert_the_carton(&detect(&mut det));
}

#[test]
fn postprocess_outputs_are_told_apart_by_the_tflite_metadata() {
    // The outputs are in the order classes, count, boxes, scores, with graph names only: the
    // metadata's "category" and "score" say which is which.
    let mut det = ModelDetector::open(&options("postprocess_with_metadata.tflite", &["carton"]))
        .expect("model loads");
    assert_eq!(
        det.format(),
        &Format::Postprocessed {
            boxes: 2,
            classes: 0,
            scores: 3,
            count: 1
        }
    );
    let labels = det.labels().expect("labelmap.txt packed in the model");
    assert_eq!(labels.name(1), Some("carton"));
    assert_the_carton(&detect(&mut det));
}

#[test]
fn a_labels_file_given_by_the_user_wins_over_the_packed_names() {
    let dir = tempfile::tempdir().expect("tmp");
    let labels = dir.path().join("labels.txt");
    std::fs::write(&labels, "bag\nbox\nworker\n").expect("write");
    let det = ModelDetector::open(&ModelOptions {
        labels: Some(labels),
        ..options("yolo_channels_first.tflite", &["box"])
    })
    .expect("model loads");
    assert_eq!(det.labels().and_then(|l| l.name(1)), Some("box"));
}

#[test]
fn a_labels_file_for_another_model_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    for names in ["bag\nbox\n", "bag\nbox\nworker\npallet\n"] {
        let labels = dir.path().join("labels.txt");
        std::fs::write(&labels, names).expect("write");
        let err = ModelDetector::open(&ModelOptions {
            labels: Some(labels),
            ..options("yolo_channels_first.tflite", &["box"])
        })
        .expect_err("refused");
        let text = err.to_string();
        assert!(
            text.contains("labels.txt") && text.contains("another model"),
            "{text}"
        );
    }
}

#[test]
fn an_ultralytics_model_for_another_task_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("yolo-seg.tflite");
    let mut bytes = std::fs::read(model("yolo_channels_last_pixels_nchw.tflite")).expect("model");
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("metadata.json", zip::write::SimpleFileOptions::default())
        .expect("zip");
    zip.write_all(br#"{"task": "segment", "names": {"0": "sack"}}"#)
        .expect("zip");
    bytes.extend(zip.finish().expect("zip").into_inner());
    std::fs::write(&path, bytes).expect("write");
    let err = ModelDetector::open(&ModelOptions {
        path,
        ..options("", &[])
    })
    .expect_err("segment model");
    assert!(err.to_string().contains("segment"), "{err}");
    assert!(err.to_string().contains("yolo-seg.tflite"), "{err}");
}
