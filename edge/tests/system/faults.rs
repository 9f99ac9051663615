//! Faults while the edge counts: the edge, the broker or the relay killed, a silent network
//! partition, the history locked, the camera gone, a hung edge. The count after each equals the
//! count without it, and the history equals the journal.

use std::process::Command;
use std::time::{Duration, Instant};

use baycount_testkit::{Partition, Proc, RelayProcess, TestRelay, Which, eventually};
use reqwest::StatusCode;
use rustix::process::Signal;
use serde_json::json;

use crate::SERIAL;
use crate::edge::Edge;
use crate::flow::*;
use crate::footage::*;

#[tokio::test]
async fn recorded_footage_without_faults_counts_what_count_counts() {
    let _serial = SERIAL.lock().await;
    let reference = reference_count().await;
    let relay = TestRelay::start(Which::Embedded).await;
    let dir = tempfile::tempdir().unwrap();
    let (edge, session) = footage_edge(dir.path(), relay.mqtt_port, "B 0 FAULT").await;
    wait_footage_end(&relay).await;
    let final_count = stop(&relay).await;
    eprintln!("footage, no fault: {final_count} (count command: {reference})");
    assert_eq!(final_count, reference);
    assert_eq!(journaled(&relay, &edge, session).await.0, final_count);
    let (counts, pictures) = every_count_pictured(&relay, session).await;
    eprintln!("footage, no fault: {pictures} of {counts} counts pictured");
}

#[tokio::test]
async fn footage_played_in_real_time_on_a_busy_machine_counts_what_count_counts() {
    let _serial = SERIAL.lock().await;
    let reference = reference_count().await;
    // Another process keeps one core busy for the whole run, so the edge has less time than
    // the footage's frame rate asks for now and then, and drops frames as with a camera.
    let dir = tempfile::tempdir().unwrap();
    let _busy = Proc::spawn(
        "busy loop",
        {
            let mut c = Command::new("sh");
            c.args(["-c", "while :; do :; done"]);
            c
        },
        &dir.path().join("busy.log"),
    );
    let relay = TestRelay::start(Which::Embedded).await;
    let (edge, session) = real_time_footage_edge(dir.path(), relay.mqtt_port, "B 1 LIVE").await;
    wait_footage_end(&relay).await;
    let final_count = stop(&relay).await;
    eprintln!("footage in real time, one core busy: {final_count} (count command: {reference})");
    assert!(
        final_count.abs_diff(reference) <= 1,
        "in real time on a busy machine {final_count}, as fast as it goes {reference}: dropped \
         frames must not become missed or double counts"
    );
    agrees(&relay, &edge, session, final_count).await;
}

#[tokio::test]
async fn edge_sigkilled_mid_session_resumes_and_loses_nothing() {
    let _serial = SERIAL.lock().await;
    let relay = TestRelay::start(Which::Embedded).await;
    let dir = tempfile::tempdir().unwrap();
    let mut edge = Edge::start(dir.path(), relay.mqtt_port, &synthetic());
    wait_online(&relay).await;
    let session = start(&relay, "B 9 KILL").await;
    let before = wait_count(&relay, 2).await["count"].as_u64().unwrap();
    edge.kill();
    relay
        .wait_bay("bay-1", "offline after the kill", |b| b["online"] == false)
        .await;
    let t = Instant::now();
    edge.spawn();
    let bay = relay
        .wait_bay("bay-1", "back online, still loading", |b| {
            b["online"] == true && b["phase"] == "loading"
        })
        .await;
    eprintln!(
        "edge SIGKILL: back online and loading {:?} after restart",
        t.elapsed()
    );
    assert_eq!(
        bay["session"],
        session.to_string(),
        "the same session resumed"
    );
    assert!(bay["count"].as_u64().unwrap() >= before, "{bay}");
    wait_count(&relay, before + 2).await;
    // SIGTERM leaves the session open too.
    let took = edge.terminate();
    assert!(took < Duration::from_secs(5), "SIGTERM took {took:?}");
    // It said goodbye: offline at once, not when the broker notices.
    relay
        .wait_bay("bay-1", "offline after SIGTERM", |b| b["online"] == false)
        .await;
    edge.spawn();
    let bay = relay
        .wait_bay("bay-1", "loading after SIGTERM and restart", |b| {
            b["online"] == true && b["phase"] == "loading"
        })
        .await;
    assert_eq!(bay["session"], session.to_string());
    let final_count = stop(&relay).await;
    agrees(&relay, &edge, session, final_count).await;
}

#[tokio::test]
async fn broker_gone_for_30_seconds_mid_session_changes_no_count() {
    let _serial = SERIAL.lock().await;
    let reference = reference_count().await;
    let mut relay = TestRelay::start(Which::Mosquitto).await;
    let dir = tempfile::tempdir().unwrap();
    let (edge, session) = footage_edge(dir.path(), relay.mqtt_port, "B 30 S").await;
    let before = wait_count(&relay, 1).await["count"].as_u64().unwrap();
    relay.mosquitto.as_mut().unwrap().stop();
    tokio::time::sleep(Duration::from_secs(30)).await;
    // The edge kept counting: its journal holds what the relay has not seen.
    let held = held_count(&edge, session).await.unwrap_or(before);
    assert!(
        held > before,
        "counted {held} (before {before}) during the outage"
    );
    relay.mosquitto.as_mut().unwrap().restart();
    let t = Instant::now();
    wait_count(&relay, held).await;
    eprintln!(
        "broker gone 30 s: {} counts made meanwhile reached the relay {:?} after the broker came back",
        held - before,
        t.elapsed()
    );
    counts_as_without_the_fault(&relay, &edge, session, reference, "outage").await;
}

/// A network partition between the edge and the broker (a proxy that silently drops every
/// byte, both ways, and leaves the sockets open) while the edge counts the footage; the test
/// command cuts for 20 s, `BAYCOUNT_PARTITION_SECONDS=600` for the 10-minute run.
#[tokio::test]
async fn a_partition_between_edge_and_broker_changes_no_count() {
    let _serial = SERIAL.lock().await;
    let secs: u64 = std::env::var("BAYCOUNT_PARTITION_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let reference = reference_count().await;
    let relay = TestRelay::start(Which::Mosquitto).await;
    let link = Partition::start(relay.mqtt_port).await;
    let dir = tempfile::tempdir().unwrap();
    let (edge, session) = footage_edge(dir.path(), link.port, "B 10 MIN").await;
    let before = wait_count(&relay, 1).await["count"].as_u64().unwrap();
    link.cut();
    let cut_at = Instant::now();
    let mut seen_offline = None;
    while cut_at.elapsed() < Duration::from_secs(secs) {
        if seen_offline.is_none()
            && relay
                .bay("bay-1")
                .await
                .is_some_and(|b| b["online"] == false)
        {
            seen_offline = Some(cut_at.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let held = held_count(&edge, session).await.unwrap_or(before);
    assert!(
        held > before,
        "counted {held} (before {before}) during the partition"
    );
    link.heal();
    let healed = Instant::now();
    wait_count(&relay, held).await;
    relay
        .wait_bay("bay-1", "online again", |b| b["online"] == true)
        .await;
    eprintln!(
        "partition {secs} s: relay showed the bay offline {seen_offline:?} after the cut; the {} counts made meanwhile reached the relay {:?} after it healed",
        held - before,
        healed.elapsed()
    );
    counts_as_without_the_fault(&relay, &edge, session, reference, "partition").await;
}

/// Another process holds the relay's SQLite file locked (longer than its busy timeout) while
/// the edge counts: the live count carries on, and once the lock is gone the history catches up
/// with every count, none twice.
#[tokio::test]
async fn the_history_locked_by_another_process_loses_no_count() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let relay = RelayProcess::start(&db, &[]).await;
    let api = relay.api();
    let edge = Edge::start(dir.path(), relay.mqtt_port(), &synthetic());
    wait_online(&api).await;
    let session = start(&api, "B 5 LOCK").await;
    let before = wait_count(&api, 1).await["count"].as_u64().unwrap();
    // The count in the history so far (the session is open).
    let in_history = || async {
        let (_, d) = api.get(&format!("/api/sessions/{session}")).await;
        d["count"].as_u64()
    };
    let mut cmd = Command::new("python3");
    cmd.arg("-c")
        .arg(
            "import sqlite3, sys, time\n\
             c = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
             c.execute('BEGIN EXCLUSIVE')\n\
             print('locked', flush=True)\n\
             time.sleep(float(sys.argv[2]))\n",
        )
        .arg(&db)
        .arg("8");
    let mut locker = Proc::spawn("the locker", cmd, &dir.path().join("locker.log"));
    locker.wait_for_line("locked", 20);
    // Live surfaces carry on while the history cannot be written.
    let during = wait_count(&api, before + 2).await["count"]
        .as_u64()
        .unwrap();
    let stuck = in_history().await.unwrap();
    assert!(
        stuck < during,
        "the history waits ({stuck}) while the live count goes on ({during})"
    );
    assert!(
        locker.wait_exit(30).is_some_and(|s| s.success()),
        "{}",
        locker.log()
    );
    let unlocked = Instant::now();
    eventually(15, "the history catching up", || async {
        let live = api.bay("bay-1").await?["count"].as_u64()?;
        (in_history().await? >= live.max(during)).then_some(())
    })
    .await;
    eprintln!(
        "history locked 8 s: stored count caught up {:?} after the lock was released",
        unlocked.elapsed()
    );
    let count = stop(&api).await;
    agrees(&api, &edge, session, count).await;
}

/// The ffmpeg processes whose command line mentions `needle` (the edge's, by its input path).
pub fn ffmpeg_reading(needle: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let args: Vec<String> = c
                    .split(|b| *b == 0)
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                args[0].ends_with("ffmpeg") && args.iter().any(|a| a.contains(needle))
            })
        })
        .collect()
}

/// The camera goes away mid-session (its file removed, its ffmpeg killed) and comes back: the
/// bay says so with the reason, keeps its session, and counts again once frames return.
#[tokio::test]
async fn camera_gone_and_back_mid_session() {
    let _serial = SERIAL.lock().await;
    let relay = TestRelay::start(Which::Embedded).await;
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("bay-camera.avi");
    std::fs::copy(footage(), &clip).unwrap();
    let source = format!("file:{}", clip.display());
    let edge = Edge::start(
        dir.path(),
        relay.mqtt_port,
        &["--source", &source, "--line", LINE, "--loop"],
    );
    wait_online(&relay).await;
    let session = start(&relay, "B 6 CAM").await;
    let before = wait_count(&relay, 1).await["count"].as_u64().unwrap();

    std::fs::remove_file(&clip).unwrap();
    let ffmpeg = ffmpeg_reading(&clip.display().to_string());
    assert!(
        !ffmpeg.is_empty(),
        "the edge's ffmpeg reads {}",
        clip.display()
    );
    for pid in &ffmpeg {
        if let Some(pid) = rustix::process::Pid::from_raw(*pid) {
            let _ = rustix::process::kill_process(pid, Signal::KILL);
        }
    }
    let gone = Instant::now();
    let mut down = None;
    while gone.elapsed() < Duration::from_secs(20) && down.is_none() {
        down = relay
            .bay("bay-1")
            .await
            .filter(|b| b["health"]["camera"] == "down" && b["health"]["detail"].is_string());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let down = down.unwrap_or_else(|| {
        panic!(
            "camera not shown down: {:?}\n{}",
            futures_util::FutureExt::now_or_never(relay.bay("bay-1")),
            edge.log()
        )
    });
    eprintln!(
        "camera gone: shown down {:?} after ffmpeg was killed: {}",
        gone.elapsed(),
        down["health"]["detail"]
    );
    assert_eq!(down["phase"], "loading", "the session stays open");
    assert_eq!(
        down["count"].as_u64().unwrap(),
        relay.bay("bay-1").await.unwrap()["count"].as_u64().unwrap()
    );

    std::fs::copy(footage(), &clip).unwrap();
    let back = Instant::now();
    relay
        .wait_bay("bay-1", "camera back", |b| b["health"]["camera"] == "ok")
        .await;
    eprintln!(
        "camera back: shown ok {:?} after the file returned",
        back.elapsed()
    );
    let after = wait_count(&relay, before.max(down["count"].as_u64().unwrap()) + 1).await;
    assert_eq!(after["session"], session.to_string(), "the same session");
    let count = stop(&relay).await;
    agrees(&relay, &edge, session, count).await;
}

#[tokio::test]
async fn relay_sigkilled_mid_session_changes_no_count() {
    let _serial = SERIAL.lock().await;
    let reference = reference_count().await;
    let dir = tempfile::tempdir().unwrap();
    let mut relay = RelayProcess::start(&dir.path().join("history.db"), &[]).await;
    let api = relay.api();
    let edge_dir = dir.path().join("edge");
    std::fs::create_dir_all(&edge_dir).unwrap();
    let (edge, session) = footage_edge(&edge_dir, relay.mqtt_port(), "B 1 RELAY").await;
    let before = wait_count(&api, 1).await["count"].as_u64().unwrap();
    relay.kill();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let t = Instant::now();
    relay.restart().await;
    let bay = api
        .wait_bay("bay-1", "edge back with the relay", |b| {
            b["online"] == true && b["count"].as_u64() > Some(before)
        })
        .await;
    eprintln!(
        "relay SIGKILL: bay back online with count {} (was {before}) {:?} after the relay restarted",
        bay["count"],
        t.elapsed()
    );
    assert_eq!(bay["session"], session.to_string());
    counts_as_without_the_fault(&api, &edge, session, reference, "relay's crash").await;
    // The pictures the dead relay had not stored are sent again, like the counts.
    let (counts, pictures) = every_count_pictured(&api, session).await;
    eprintln!("relay SIGKILL: {pictures} of {counts} counts pictured");
}

#[tokio::test]
async fn a_stop_the_edge_cannot_take_is_reported_never_lost() {
    let _serial = SERIAL.lock().await;
    let relay = TestRelay::start(Which::Embedded).await;
    let dir = tempfile::tempdir().unwrap();
    let mut edge = Edge::start(dir.path(), relay.mqtt_port, &synthetic());
    wait_online(&relay).await;
    let session = start(&relay, "B 3 HUNG").await;
    wait_count(&relay, 1).await;

    // The edge hangs (SIGSTOP): the stop is reported as not responding, and nothing pretends.
    let proc = edge.child.as_ref().unwrap();
    proc.signal(Signal::STOP);
    let t = Instant::now();
    let (status, body) = relay.post("/api/bays/bay-1/stop", json!({})).await;
    proc.signal(Signal::CONT);
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("not responding"),
        "{body}"
    );
    eprintln!("stop to a hung edge: 504 after {:?}", t.elapsed());
    // When it wakes, the late command has expired: refused, the session goes on.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let bay = relay.bay("bay-1").await.unwrap();
    assert_eq!(bay["phase"], "loading", "{bay}");
    assert_eq!(bay["session"], session.to_string());

    // The edge is gone (SIGKILL, its last will says offline): the stop is refused at once.
    edge.kill();
    relay
        .wait_bay("bay-1", "offline", |b| b["online"] == false)
        .await;
    let (status, body) = relay.post("/api/bays/bay-1/stop", json!({})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("offline"),
        "{body}"
    );

    // Back again: the session is still open, and the stop now lands.
    edge.spawn();
    relay
        .wait_bay("bay-1", "online and loading", |b| {
            b["online"] == true && b["phase"] == "loading"
        })
        .await;
    let t = Instant::now();
    let final_count = stop(&relay).await;
    eprintln!("stop command to ack: {:?}", t.elapsed());
    agrees(&relay, &edge, session, final_count).await;
}

/// More people in view than the model can report: the bay's health shows its detector
/// degraded, says why and what to do, through a real relay, to the API the dashboard reads.
#[tokio::test]
async fn a_crowd_beyond_what_the_model_reports_shows_the_detector_degraded_and_why() {
    let _serial = SERIAL.lock().await;
    let relay = TestRelay::start(Which::Embedded).await;
    let dir = tempfile::tempdir().unwrap();
    let crowd = format!(
        "file:{}",
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../assets/footage/people-walking.mp4")
            .display()
    );
    // 30-45 people in view of this line: the default model gives at most 20 boxes a look, here
    // always in one window (by default a crowd is looked at in windows).
    let edge = Edge::start(
        dir.path(),
        relay.mqtt_port,
        &[
            "--source",
            &crowd,
            "--line",
            "0,0.45,1,0.45",
            "--region",
            "lines:1",
            "--loop",
        ],
    );
    wait_online(&relay).await;
    let bay = relay
        .wait_bay("bay-1", "the detector shown degraded", |b| {
            b["health"]["detector"] == "degraded"
        })
        .await;
    let detail = bay["health"]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("as many boxes as it can") && detail.contains("lines:4"),
        "says why and what to do: {detail}\n{}",
        edge.log()
    );
    assert_eq!(bay["health"]["camera"], "ok");
}
