//! End to end on real footage: `count` with the default model on vtest.avi against ground truth
//! made by eye, frame by frame (tests/data/vtest_ground_truth.json: two lines, 56 crossings).

use std::path::PathBuf;

use baycount_edge::cmd::count::{self, CountOptions};
use baycount_edge::vision::camera::SourceSpec;
use baycount_edge::vision::counting_line::{Anchor, CounterConfig};
use baycount_edge::vision::detector::{DetectorOptions, ModelChoice};
use baycount_edge::vision::groundtruth;
use baycount_edge::vision::pipeline_setup::PipelineSpec;

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn check(line: &str) {
    check_with(line, ModelChoice::Default, None, vec![], 0, 4);
}

/// Counts `line` and compares: each total within `slack` of the truth, at most `max_unmatched`
/// crossings without a partner.
fn check_with(
    line: &str,
    model: ModelChoice,
    labels: Option<PathBuf>,
    classes: Vec<String>,
    slack: u64,
    max_unmatched: usize,
) {
    let truth = groundtruth::load(
        &root().join("edge/tests/data/vtest_ground_truth.json"),
        line,
    )
    .expect("ground truth");
    let options = CountOptions {
        pipeline: PipelineSpec {
            source: SourceSpec::File(root().join("assets/footage/vtest.avi")),
            detector: DetectorOptions {
                model,
                labels,
                classes,
                score_threshold: 0.2,
                iou_threshold: 0.5,
                threads: 1,
                runtime: Default::default(),
            },
            counter: CounterConfig {
                anchor: Anchor::BottomCenter,
                band: 0.01,
                ..CounterConfig::new(truth.line)
            },
            realtime: false,
        },
        max_frames: None,
    };
    let report = count::run(&options, |_| {}).expect("counts");
    assert_eq!(report.frames, 795);
    let (want_in, want_out) = (truth.count_in(), truth.count_out());
    let got: Vec<(u64, bool)> = report
        .crossings
        .iter()
        .map(|c| (c.frame, c.direction == "in"))
        .collect();
    let misses = groundtruth::unmatched(&truth.events, &got, 10);
    eprintln!(
        "{line}: in {} out {} (truth {want_in} {want_out}); {misses} crossings unmatched",
        report.count_in, report.out
    );
    assert!(
        report.count_in.abs_diff(want_in) <= slack && report.out.abs_diff(want_out) <= slack,
        "{line} totals: in {} out {}, truth {want_in} {want_out}",
        report.count_in,
        report.out
    );
    assert!(
        misses <= max_unmatched,
        "{line}: {misses} crossings do not match the ground truth: {got:?}"
    );
}

#[test]
fn vertical_line_l1_matches_the_ground_truth() {
    check("L1");
}

#[test]
fn horizontal_line_l2_matches_the_ground_truth() {
    // Measured: 2 unmatched on L1 and 4 on L2 (1 and 2 missed, as many extra: totals exact).
    check("L2");
}

/// A second model of another format: a raw SSD (fp16, logit scores) whose anchors are not in
/// the model but generated, with a labels file that starts with the background class.
#[test]
fn a_raw_ssd_without_anchors_counts_too() {
    let models = root().join("assets/models");
    let model = ModelChoice::File(models.join("objectron_ssd_oidv4_fp16.tflite"));
    // Measured: L1 in 13 out 14 (truth 13/15), 9 unmatched; the tracker is not tuned for it.
    check_with(
        "L1",
        model,
        Some(models.join("objectron_labels.txt")),
        vec!["Person".into()],
        2,
        10,
    );
}
