//! Accuracy on the training set: `eval` with the default model on vtest.avi against ground truth
//! made by eye, frame by frame (tests/data/vtest_ground_truth.json: two lines, 56 crossings). The
//! tracker's defaults were tuned on these lines, so this guards against regressions; accuracy
//! is reported on the validation set (tests/validation.rs).

use std::path::PathBuf;

use baycount_edge::cmd::eval::{self, EvalOptions, EvalReport};
use baycount_edge::vision::camera::SourceSpec;
use baycount_edge::vision::detector::{DetectorOptions, ModelChoice};

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn training(detector: DetectorOptions) -> EvalReport {
    let options = EvalOptions {
        source: Some(SourceSpec::File(root().join("assets/footage/vtest.avi"))),
        detector,
        ..EvalOptions::new(vec![root().join("edge/tests/data/vtest_ground_truth.json")])
    };
    let report = eval::run(&options, |_| {}).expect("evaluates");
    eprint!("{}", eval::text(&report));
    assert_eq!(report.frames, 795);
    report
}

#[test]
fn the_training_lines_match_their_ground_truth() {
    let report = training(DetectorOptions::default());
    // Measured: 4 wrong on the two lines (2 and 2) with the int8 default model, 3 (2 and 1)
    // before L2, across the whole picture, was looked at in windows while someone was near it;
    // 2 (2 and 0) with the published uint8 one (3 and 0 at 1 thread); 7 before a person seen twice
    // in a frame stopped starting a second track and a lost track was looked for ahead, 4
    // before a track first seen on the line took the side of its centre it was on.
    for (l, most) in report.lines.iter().zip([6, 3]) {
        assert!(
            l.count_in.abs_diff(l.truth_in) <= 3 && l.out.abs_diff(l.truth_out) <= 3,
            "{}: in {} of {}, out {} of {}",
            l.name,
            l.count_in,
            l.truth_in,
            l.out,
            l.truth_out
        );
        assert!(
            l.wrong <= most,
            "{}: {} crossings unmatched",
            l.name,
            l.wrong
        );
    }
}

/// A second model of another format: a raw SSD (fp16, logit scores) whose anchors are not in
/// the model but generated, with a labels file that starts with the background class.
#[test]
fn a_raw_ssd_without_anchors_counts_too() {
    let models = root().join("assets/models");
    let report = training(DetectorOptions {
        model: ModelChoice::File(models.join("objectron_ssd_oidv4_fp16.tflite")),
        labels: Some(models.join("objectron_labels.txt")),
        classes: vec!["Person".into()],
        // Only L1 is checked, whose band is one window anyway; one window keeps L2, across the
        // whole picture, from being looked at in three while someone is near it (minutes).
        region: "lines:1".parse().expect("region"),
        ..DetectorOptions::default()
    });
    // Measured: L1 in 13 out 14 (truth 13/15), 9 unmatched; the tracker is not tuned for it.
    let l1 = &report.lines[0];
    assert_eq!(l1.name, "L1");
    assert!(l1.count_in.abs_diff(l1.truth_in) <= 2 && l1.out.abs_diff(l1.truth_out) <= 2);
    assert!(l1.wrong <= 10, "L1: {} unmatched", l1.wrong);
}
