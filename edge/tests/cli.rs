//! The `baycount-edge` command line, run as a user runs it.

use std::process::Command;

fn edge() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_baycount-edge"));
    c.current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    c
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

#[test]
fn count_prints_the_documented_json() {
    let out = edge()
        .args([
            "count",
            "--source",
            "synthetic",
            "--line",
            "0,0.5,1,0.5",
            "--frames",
            "200",
            "--json",
        ])
        .output()
        .expect("runs");
    let v = json(&out);
    for key in [
        "in",
        "out",
        "frames",
        "seconds",
        "fps",
        "looks",
        "full_looks",
        "missed_looks",
        "crowd_frames",
        "near_frames",
        "behind_frames",
        "crossings",
    ] {
        assert!(!v[key].is_null(), "{key} in {v}");
    }
    assert_eq!(v["frames"], 200);
    // The synthetic scene's boxes move down, one every 2 s, the first crossing the middle at
    // 1.72 s: 10 of them by 19.9 s (frame 199), all `in`.
    assert_eq!(v["in"], 10);
    assert_eq!(v["out"], 0);
    let c = &v["crossings"][0];
    assert!(
        c["frame"].is_u64() && c["track"].is_u64() && c["direction"] == "in",
        "{c}"
    );
}

#[test]
fn bench_prints_the_documented_json() {
    let out = edge()
        .args([
            "bench",
            "--source",
            "file:assets/footage/vtest.avi",
            "--frames",
            "20",
            "--threads",
            "1",
            "--json",
        ])
        .output()
        .expect("runs");
    let v = json(&out);
    for key in [
        "invoke_ms",
        "pipeline_fps",
        "dropped",
        "peak_rss_mb",
        "cpu_seconds",
    ] {
        assert!(v[key].is_number(), "{key} in {v}");
    }
    for stage in ["decode", "preprocess", "infer", "postprocess", "track"] {
        assert!(v["stages_ms"][stage].is_number(), "{stage} in {v}");
    }
    assert_eq!(v["frames"], 20);
    assert!(v["invoke_ms"].as_f64().expect("number") > 0.0);
    // 55 invokes and 20 frames of a 300x300 SSD take well over a tick of CPU.
    assert!(v["cpu_seconds"].as_f64().expect("number") > 0.05, "{v}");
    // The pictures' cost: the whole picture drawn as for a start or a stop fits a message.
    let e = &v["evidence"];
    for key in [
        "crossings",
        "crossing_bytes_median",
        "crossing_bytes_p99",
        "whole_ms",
    ] {
        assert!(e[key].is_number(), "{key} in {e}");
    }
    let whole = e["whole_bytes"].as_u64().expect("number");
    assert!((1_000..=64 * 1024).contains(&whole), "{e}");
}

#[test]
fn count_looks_at_a_crowd_in_windows_and_says_when_the_model_is_full_and_what_to_do() {
    // 30-45 people in view of the crowd clip's line: more than the model's 20 boxes a look.
    let crowd = |region: &str, json: bool| {
        let mut c = edge();
        c.args([
            "count",
            "--source",
            "file:assets/footage/people-walking.mp4",
            "--line",
            "0,0.45,1,0.45",
            "--frames",
            "10",
            "--region",
            region,
        ]);
        if json {
            c.arg("--json");
        }
        c.output().expect("runs")
    };
    let numbers = |v: &serde_json::Value| {
        let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"));
        (
            n("looks"),
            n("full_looks"),
            n("missed_looks"),
            n("crowd_frames") + n("near_frames"),
        )
    };
    // Always in one window: full, and the boxes kept. The pipeline may skip a frame while
    // nobody is near the line yet.
    let (looks, full, missed, in_windows) = numbers(&json(&crowd("lines:1", true)));
    assert!(looks >= 5 && full * 10 >= looks * 8, "{looks} {full}");
    assert_eq!((missed, in_windows), (full, 0));
    let out = crowd("lines:1", false);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("warning: the model returned as many boxes as it can in")
            && text.contains("--region lines:4"),
        "{text}"
    );
    // By default a look full of people is looked at again in windows, and those are kept, as are
    // the frames with people near the line (all of them here): four windows for each such frame.
    let (looks, full_default, missed_default, in_windows) = numbers(&json(&crowd("lines", true)));
    assert!(in_windows >= 5, "{in_windows}");
    assert!(
        missed_default < full_default,
        "a full look looked at again: {full_default}"
    );
    assert!(
        missed_default * 2 <= missed,
        "{missed_default} kept full, {missed} in one window"
    );
    assert!(looks >= 4 * in_windows, "{looks} looks");
    // A handful of people on vtest.avi: never full, and no warning.
    let out = edge()
        .args([
            "count",
            "--source",
            "file:assets/footage/vtest.avi",
            "--line",
            "0.5,0.9,0.5,0.15",
            "--frames",
            "20",
        ])
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("warning"));
}

#[test]
fn bad_arguments_get_clear_errors() {
    let cases: [(&[&str], &str); 5] = [
        (
            &["count", "--source", "synthetic", "--line", "0,0.5,1"],
            "x1,y1,x2,y2",
        ),
        (
            &[
                "count",
                "--source",
                "file:/nonexistent.avi",
                "--line",
                "0,0.5,1,0.5",
            ],
            "no such file",
        ),
        (
            &["count", "--source", "webcam", "--line", "0,0.5,1,0.5"],
            "file:PATH",
        ),
        (
            &[
                "count",
                "--source",
                "file:assets/footage/vtest.avi",
                "--model",
                "/nonexistent.tflite",
                "--line",
                "0,0.5,1,0.5",
            ],
            "nonexistent.tflite",
        ),
        (
            &[
                "count",
                "--source",
                "file:assets/footage/vtest.avi",
                "--classes",
                "sack",
                "--line",
                "0,0.5,1,0.5",
            ],
            "sack",
        ),
    ];
    for (args, want) in cases {
        let out = edge().args(args).output().expect("runs");
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

/// A truth file and another counter's crossings in a temporary directory.
fn eval_files(truth: &str, counted: &str) -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = dir.path().join("truth.json");
    let c = dir.path().join("counted.json");
    std::fs::write(&t, truth).expect("truth");
    std::fs::write(&c, counted).expect("counted");
    let (t, c) = (t.display().to_string(), c.display().to_string());
    (dir, t, c)
}

const TWO_LINES: &str = r#"{"source": "nowhere-needed.avi", "lines": [
    {"name": "A", "line": "0,0.5,1,0.5", "kind": "stream", "events": [
        {"frame": 10, "direction": "in"}, {"frame": 40, "direction": "in"},
        {"frame": 70, "direction": "out", "ambiguous": true}]},
    {"name": "B", "line": "0.5,0,0.5,1", "kind": "runner", "events": [
        {"frame": 5, "direction": "out"}]}]}"#;

#[test]
fn eval_scores_crossings_one_to_one_within_the_window() {
    let (_dir, truth, counted) = eval_files(
        &TWO_LINES.replace("nowhere-needed.avi", "truth.json"),
        r#"{"lines": [
            {"name": "A", "crossings": [{"frame": 12, "direction": "in", "track": 1},
                {"frame": 14, "direction": "in", "track": 2}, {"frame": 52, "direction": "in"}]},
            {"name": "B", "crossings": [{"frame": 7, "direction": "out"}]}]}"#,
    );
    let out = edge()
        .args([
            "eval",
            "--truth",
            &truth,
            "--counted",
            &counted,
            "--window",
            "5",
            "--json",
        ])
        .output()
        .expect("runs");
    let v = json(&out);
    let a = &v["lines"][0];
    assert_eq!(a["name"], "A");
    assert_eq!((a["in"].as_u64(), a["out"].as_u64()), (Some(3), Some(0)));
    assert_eq!(
        (a["truth_in"].as_u64(), a["truth_out"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(a["matched"], 1, "12 pairs with 10; 52 is 12 frames from 40");
    assert_eq!(
        a["missed"],
        serde_json::json!([
            {"frame": 40, "direction": "in", "ambiguous": false},
            {"frame": 70, "direction": "out", "ambiguous": true}
        ])
    );
    assert_eq!(
        a["extra"],
        serde_json::json!([
            {"frame": 14, "direction": "in", "track": 2},
            {"frame": 52, "direction": "in", "track": null}
        ])
    );
    assert_eq!(a["wrong"], 4);
    assert_eq!(v["lines"][1]["wrong"], 0);
    let t = &v["totals"];
    assert_eq!(
        (
            t["lines"].as_u64(),
            t["lines_exact"].as_u64(),
            t["truth"].as_u64()
        ),
        (Some(2), Some(1), Some(4))
    );
    assert_eq!(
        (
            t["missed"].as_u64(),
            t["missed_ambiguous"].as_u64(),
            t["extra"].as_u64()
        ),
        (Some(2), Some(1), Some(2))
    );
    assert_eq!(v["by_kind"]["stream"]["wrong"], 4);
    assert_eq!(v["by_kind"]["runner"]["wrong"], 0);
    assert_eq!(v["window"], 5);

    // The same as text: a line per counting line, its errors under it, the totals.
    let out = edge()
        .args([
            "eval",
            "--truth",
            &truth,
            "--counted",
            &counted,
            "--window",
            "5",
        ])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for want in [
        "truth.json A (stream): in 3 of 2, out 0 of 1: 2 missed, 2 extra",
        "    missed out at frame 70 (ambiguous)",
        "    extra  in  at frame 14 (track 2)",
        "truth.json B (runner): in 0 of 0, out 1 of 1: exact",
        "total: 2 lines, 1 exact; 4 true crossings, 4 counted, 2 matched, 2 missed (1 ambiguous), 2 extra: 4 wrong (window 5 frames)",
    ] {
        assert!(text.contains(want), "{want:?} in\n{text}");
    }
}

#[test]
fn eval_judges_footage_at_any_rate_within_a_second_unless_told() {
    // Footage at 30 frames a second: a crossing counted 20 frames (two thirds of a second) late
    // is the true one; at 10 frames a second 20 frames are two seconds, and it is not.
    let truth = |fps: &str| {
        format!(
            r#"{{"source": "x.avi", {fps} "lines": [{{"name": "A", "line": "0,0.5,1,0.5",
                "events": [{{"frame": 100, "direction": "in"}}]}}]}}"#
        )
    };
    let counted = r#"{"lines": [{"name": "A", "crossings": [{"frame": 120, "direction": "in"}]}]}"#;
    for (fps, window, args, matched) in [
        (r#""fps": 30,"#, 30, vec![], 1),
        (r#""fps": 30,"#, 10, vec!["--window", "10"], 0),
        (r#""fps": 10,"#, 10, vec![], 0),
        ("", 10, vec![], 0),
    ] {
        let (_dir, t, c) = eval_files(&truth(fps), counted);
        let out = edge()
            .args(["eval", "--truth", &t, "--counted", &c, "--json"])
            .args(&args)
            .output()
            .expect("runs");
        let v = json(&out);
        assert_eq!(v["lines"][0]["matched"], matched, "{fps} {args:?}: {v}");
        assert_eq!(v["lines"][0]["window"], window, "{fps} {args:?}");
        assert_eq!(v["window"], window, "{fps} {args:?}");
    }
    // Files at two rates in one evaluation: each judged by its own second.
    let (dir, t30, c) = eval_files(&truth(r#""fps": 30,"#), counted);
    let t10 = dir.path().join("ten.json");
    std::fs::write(&t10, truth(r#""fps": 10,"#)).expect("write");
    let t10 = t10.display().to_string();
    let out = edge()
        .args([
            "eval",
            "--truth",
            &t30,
            "--counted",
            &c,
            "--truth",
            &t10,
            "--counted",
            &c,
        ])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1 matched, 1 missed (0 ambiguous), 1 extra: 2 wrong (window 10-30 frames)"),
        "{text}"
    );
    let (_dir, t, c) = eval_files(&truth(r#""fps": 0,"#), counted);
    let out = edge()
        .args(["eval", "--truth", &t, "--counted", &c])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("give the footage's frames a second"), "{err}");
}

#[test]
fn eval_counts_footage_and_matches_it() {
    // The synthetic scene's boxes cross the middle every 2 s from 1.72 s: frames 17, 37, ...
    let events: Vec<String> = (0..10)
        .map(|i| format!(r#"{{"frame": {}, "direction": "in"}}"#, 17 + 20 * i))
        .collect();
    let truth = format!(
        r#"{{"lines": [{{"name": "middle", "line": "0,0.5,1,0.5", "events": [{}]}},
            {{"name": "reversed", "line": "1,0.5,0,0.5", "events": [{}]}}]}}"#,
        events.join(","),
        events.join(",").replace("\"in\"", "\"out\"")
    );
    let (_dir, truth, _) = eval_files(&truth, "{}");
    let out = edge()
        .args([
            "eval",
            "--truth",
            &truth,
            "--source",
            "synthetic",
            "--frames",
            "200",
            "--json",
        ])
        .output()
        .expect("runs");
    let v = json(&out);
    assert_eq!(v["frames"], 200);
    assert_eq!(v["lines"][0]["matched"], 10, "{v}");
    assert_eq!(
        v["lines"][1]["matched"], 10,
        "the other line of the same pass: {v}"
    );
    assert_eq!(v["totals"]["wrong"], 0, "{v}");
}

#[test]
fn eval_refuses_bad_input_with_what_to_fix() {
    let (dir, truth, counted) =
        eval_files(TWO_LINES, r#"{"lines": [{"name": "A", "crossings": []}]}"#);
    let bad_truth = dir.path().join("bad.json");
    std::fs::write(
        &bad_truth,
        r#"{"lines": [{"name": "A", "line": "0,0.5,1,0.5", "events": [{"frame": 1, "direction": "up"}]}]}"#,
    )
    .expect("write");
    let empty = tempfile::tempdir().expect("tempdir");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--truth".into(),
                dir.path().join("missing.json").display().to_string(),
            ],
            "cannot read truth file",
        ),
        (
            vec![
                "--truth".into(),
                bad_truth.display().to_string(),
                "--source".into(),
                "synthetic".into(),
            ],
            "use \"in\" or \"out\"",
        ),
        (
            vec!["--truth".into(), truth.clone()],
            "is not found next to it or in any directory above it",
        ),
        (
            vec![
                "--truth".into(),
                truth.clone(),
                "--counted".into(),
                counted.clone(),
            ],
            "no line \"B\" (the truth has it)",
        ),
        (
            vec![
                "--truth".into(),
                truth.clone(),
                "--counted".into(),
                counted.clone(),
                "--counted".into(),
                counted,
            ],
            "give one --counted file per --truth file",
        ),
        (
            vec!["--truth".into(), empty.path().display().to_string()],
            "the directory has no .json truth files",
        ),
    ];
    for (args, want) in cases {
        let out = edge().arg("eval").args(&args).output().expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(err.contains(want), "{args:?}: {want:?} in {err}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
    }
}
