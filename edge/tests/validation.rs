//! Accuracy on the validation set (tests/data/validation: five lines on vtest.avi annotated by
//! eye, three of them again on parts of it scaled up twice and two on parts scaled up four
//! times, two on a crowd filmed at 1080p and 25 fps, and composite scenes whose truth is exact
//! by construction), which no default is tuned on. The ceilings are what the counter reaches
//! today: a change that makes any kind of case worse fails here; one that makes it better
//! lowers the ceiling in the same commit. README's accuracy table comes from `baycount-edge
//! eval` on the same files.

use std::path::PathBuf;

use baycount_edge::cmd::eval::{self, EvalOptions, EvalReport};
use baycount_edge::vision::truth;

fn data(dir: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/validation"
    ))
    .join(dir);
    truth::files(&[dir]).expect("validation set")
}

fn evaluate(truth: Vec<PathBuf>) -> EvalReport {
    evaluate_with(EvalOptions::new(truth))
}

fn evaluate_with(options: EvalOptions) -> EvalReport {
    let report = eval::run(&options, |_| {}).expect("evaluates the validation set");
    eprint!("{}", eval::text(&report));
    report
}

/// Each kind's wrong crossings (missed + extra) at most what was measured (threads 1) plus one,
/// as detections differ slightly with the CPU's vector unit; every kind covered; and the total
/// at most what was measured plus two.
fn check(report: &EvalReport, measured: &[(&str, usize)]) {
    for (kind, totals) in &report.by_kind {
        let ceiling = measured
            .iter()
            .find(|(k, _)| k == kind)
            .unwrap_or_else(|| panic!("no ceiling for kind {kind}: add it"))
            .1
            + 1;
        assert!(
            totals.wrong <= ceiling,
            "{kind}: {} wrong ({} missed, {} extra), more than {ceiling}",
            totals.wrong,
            totals.missed,
            totals.extra
        );
    }
    let total: usize = measured.iter().map(|m| m.1).sum();
    assert!(
        report.totals.wrong <= total + 2,
        "{} wrong in all, more than {}",
        report.totals.wrong,
        total + 2
    );
}

/// Which real footage a truth file is on: vtest.avi itself or its parts scaled up twice
/// (`close`), its parts scaled up four times (`near`), or the crowd (`people-walking.json`).
#[derive(PartialEq)]
enum Footage {
    Vtest,
    Near,
    Crowd,
}

impl Footage {
    fn of(file: &std::path::Path) -> Footage {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name == "people-walking.json" {
            Footage::Crowd
        } else if name.starts_with("vtest-near-") {
            Footage::Near
        } else {
            Footage::Vtest
        }
    }
}

/// The real footage's truth files on `footage`.
fn real(footage: Footage) -> Vec<PathBuf> {
    data("real")
        .into_iter()
        .filter(|f| Footage::of(f) == footage)
        .collect()
}

#[test]
fn real_footage_lines_nobody_tuned_on() {
    let report = evaluate(real(Footage::Vtest));
    assert_eq!(report.totals.lines, 8);
    assert_eq!(report.totals.truth, 104);
    // Measured (the detector looking around each line, the int8 default model): 8 wrong of
    // vtest.avi's 63 (3 missed, 2 of them ambiguous; 5 extra); 9 before a runner or walker lost
    // a frame short of the picture's edge, making for it, went out through it (the edge line's
    // man lost where the footage cuts). 17 before a walker along the
    // line was dated where they went over its centre rather than where they left it (the
    // horizontal line 6 → 2: three crossings counted 13-16 frames late, outside the window,
    // the totals right; the shallow line 7 → 3). The horizontal line's one left is a slow walker
    // whose box's feet went over the centre 12 frames after the true frame; the shallow line's,
    // two extras and its ambiguous crossing in the footage's last frame. The same crossings filmed nearer (`close`: V1, V4 and V5 on
    // parts of the footage scaled up twice): 1 wrong of 41, V4's ambiguous walk along the line.
    check(
        &report,
        &[
            ("horizontal", 2),
            ("diagonal", 0),
            ("short", 2),
            ("edge", 1),
            ("shallow", 3),
            ("close", 1),
        ],
    );
}

#[test]
fn a_nearer_camera_nobody_tuned_on() {
    // V4 and V1 on parts of vtest.avi scaled up four times: people about 0.4 of the picture
    // tall, where the rest of the set has them a tenth to a fifth. Measured: 0 wrong of 20 (the
    // whole picture: 1, V4's ambiguous walk along the line; the Python pipeline 14, all extra).
    let report = evaluate(real(Footage::Near));
    assert_eq!((report.totals.lines, report.totals.truth), (2, 20));
    check(&report, &[("near", 0)]);
}

#[test]
fn the_crowd_nobody_tuned_on() {
    // `people-walking.mp4`, W1 across the whole 16:9 picture, W2 a half-width segment, 30-45
    // people in view: 3 wrong of 32 (W1's 3 missed, 1 of them ambiguous), the Python pipeline
    // 23; 9 before the detector looked at a crowd in windows (from a full look with at least 18
    // of its 20 boxes people, see `windows`), 7 while only a look of people in every box was one.
    // A test of its own: the windows make it minutes long.
    let report = evaluate(real(Footage::Crowd));
    assert_eq!((report.totals.lines, report.totals.truth), (2, 32));
    let frames: u64 = report
        .lines
        .iter()
        .map(|l| l.crowd_frames + l.near_frames)
        .sum();
    assert!(
        frames > 100,
        "the crowd looked at in windows in {frames} frames"
    );
    check(&report, &[("crowd", 3)]);
}

#[test]
fn the_crowd_looked_at_in_windows() {
    // `--region lines:4`: W1's band (1920 x 590 px) as four windows side by side, W2's as three.
    // Each window gives up to 20 boxes where the whole picture gave 20 for 30-45 people, and
    // people are twice as tall to the model. Measured: 2 wrong of 32 (W1's two misses, one of
    // them ambiguous), against 9 in one window.
    let mut options = EvalOptions::new(real(Footage::Crowd));
    options.detector.region = "lines:4".parse().expect("region");
    let report = evaluate_with(options);
    assert_eq!(report.totals.truth, 32);
    check(&report, &[("crowd", 2)]);
}

#[test]
fn composite_scenes_with_exact_truth() {
    let report = evaluate(data("scenes"));
    assert_eq!(report.totals.lines, 20);
    assert_eq!(report.totals.truth, 100);
    // Measured (the detector looking around each line, the int8 default model, and in windows
    // while someone is near a long line): 8 wrong of 100 (7 missed, 1 extra); 9 before a runner
    // lost a frame short of the picture's edge, making for it, went out through it. 15 before the
    // windows near the line (diagonal 1, edge 3, hover 1, mixed 2, pair 4, stand 2: the pairs
    // gained an extra, the rest lost 7); 14 with the published uint8 model and one look. The
    // target is none.
    check(
        &report,
        &[
            ("diagonal", 0),
            ("edge", 1),
            ("hover", 0),
            ("mixed", 0),
            ("occlusion", 1),
            ("opposite", 0),
            ("pair", 5),
            ("runner", 1),
            ("stand", 0),
            ("step-back", 0),
            ("stream", 0),
        ],
    );
}

#[test]
fn the_same_scenes_filmed_at_30_frames_a_second() {
    // Three of the scenes above (runners, step-back, stand: the cases timed by the counter)
    // filmed at 30 frames a second by scripts/make-scenes.sh, not committed: the same paths in
    // the same seconds. The counter and the tracker work in seconds, so a camera's rate must
    // not change the count; the window is the same second, 30 frames (a second of footage is
    // eval's window when the truth gives its frames a second).
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/truth-30fps"
    ));
    let files = truth::files(std::slice::from_ref(&dir))
        .unwrap_or_else(|e| panic!("{}: {e}: run scripts/make-scenes.sh", dir.display()));
    let report = evaluate(files);
    assert!(report.lines.iter().all(|l| l.window == 30));
    assert_eq!(report.totals.lines, 5);
    assert_eq!(report.totals.truth, 21);
    // Measured: none wrong of 21 (at 10 frames a second the same scenes have 1); 2 before the
    // windows near the line (the stand scene's swap of two people on the line).
    check(&report, &[("runner", 0), ("stand", 0), ("step-back", 0)]);
}
