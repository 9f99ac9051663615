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
    for key in ["in", "out", "frames", "seconds", "fps", "crossings"] {
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
    for key in ["invoke_ms", "pipeline_fps", "dropped", "peak_rss_mb"] {
        assert!(v[key].is_number(), "{key} in {v}");
    }
    for stage in ["decode", "preprocess", "infer", "postprocess", "track"] {
        assert!(v["stages_ms"][stage].is_number(), "{stage} in {v}");
    }
    assert_eq!(v["frames"], 20);
    assert!(v["invoke_ms"].as_f64().expect("number") > 0.0);
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
