//! The whole system: the real `baycount-edge run` binary (sim GPIO) against the real relay and
//! a real broker, on recorded footage and on the synthetic scene, with faults: the edge
//! SIGKILLed, the broker gone for 30 s, the relay SIGKILLed. In every case the session's stored
//! count equals the edge journal's, with every `seq` stored once; on the footage, the count
//! also equals that of the same run without the fault.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use baycount_edge::bay::journal::Journal;
use baycount_edge::bay::session::BaySession;
use baycount_edge::cmd::count;
use baycount_edge::vision::camera::SourceSpec;
use baycount_edge::vision::counting_line::{Anchor, CounterConfig};
use baycount_edge::vision::detector::{DetectorOptions, ModelChoice};
use baycount_edge::vision::pipeline_setup::PipelineSpec;
use baycount_protocol::{
    Ack, Action, Actor, ActorKind, Command as Cmd, CommandId, Phase, Plate, SessionId, encode,
};
use baycount_testkit::{
    Api, Partition, Proc, RelayProcess, TestRelay, Which, closed_port, eventually,
};
use reqwest::StatusCode;
use rustix::process::Signal;
use serde_json::{Value, json};

/// The system tests each run a relay and an edge: one at a time keeps them honest on 2 cores.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn footage() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/footage/vtest.avi"
    ))
}

/// The edge binary, running `run` for bay-1 with its journal and socket in `dir`.
struct Edge {
    child: Option<Proc>,
    dir: PathBuf,
    mqtt_port: u16,
    /// The broker URL (default: plain MQTT on loopback at `mqtt_port`).
    mqtt: String,
    extra: Vec<String>,
    env: Vec<(String, PathBuf)>,
}

impl Edge {
    fn new(dir: &Path, mqtt_port: u16, extra: &[&str]) -> Self {
        Self {
            child: None,
            dir: dir.to_owned(),
            mqtt_port,
            mqtt: format!("mqtt://127.0.0.1:{mqtt_port}"),
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
            env: vec![],
        }
    }

    fn start(dir: &Path, mqtt_port: u16, extra: &[&str]) -> Self {
        let mut e = Self::new(dir, mqtt_port, extra);
        e.spawn();
        e
    }

    fn journal(&self) -> PathBuf {
        self.dir.join("journal.db")
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("edge.sock")
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_baycount-edge"));
        cmd.arg("run")
            .args(["--bay", "bay-1", "--gpio", "sim"])
            .arg("--mqtt")
            .arg(&self.mqtt)
            .arg("--journal")
            .arg(self.journal())
            .arg("--socket")
            .arg(self.socket())
            .args(&self.extra)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "info");
        self.child = Some(Proc::spawn(
            "baycount-edge",
            cmd,
            &self.dir.join("edge.log"),
        ));
    }

    /// SIGKILL (to it and its ffmpeg): no goodbye, nothing flushed but what the journal
    /// already holds.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill();
        }
    }

    /// SIGTERM; returns how long the edge took to exit.
    fn terminate(&mut self) -> Duration {
        let Some(mut c) = self.child.take() else {
            return Duration::ZERO;
        };
        let (status, took) = c.terminate(10);
        assert!(
            status.success(),
            "the edge exited with {status}: {}",
            self.log()
        );
        took
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("edge.log")).unwrap_or_default()
    }

    /// `baycount-edge press` against this edge's socket: its output.
    fn press(&self) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_baycount-edge"))
            .args(["press", "--bay", "bay-1", "--socket"])
            .arg(self.socket())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "press failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

async fn wait_online(api: &Api) {
    api.wait_bay("bay-1", "bay online", |b| b["online"] == true)
        .await;
}

async fn wait_count(api: &Api, at_least: u64) -> Value {
    eventually(120, &format!("count {at_least}"), || async {
        api.bay("bay-1")
            .await
            .filter(|b| b["count"].as_u64() >= Some(at_least))
    })
    .await
}

async fn start(api: &Api, plate: &str) -> SessionId {
    let (status, body) = api
        .post("/api/bays/bay-1/start", json!({"plate": plate}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["session"]["id"].as_str().unwrap().parse().unwrap()
}

async fn stop(api: &Api) -> u64 {
    let (status, body) = api.post("/api/bays/bay-1/stop", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["session"]["count"].as_u64().unwrap()
}

/// The session as the relay stored it, once stopped; its events' seqs are 1..=n, each once.
async fn stored(api: &Api, session: SessionId) -> Value {
    let detail = eventually(20, "session stored as stopped", || async {
        let (s, d) = api.get(&format!("/api/sessions/{session}")).await;
        (s == StatusCode::OK && !d["stopped_at"].is_null()).then_some(d)
    })
    .await;
    let seqs: Vec<u64> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "every seq stored once, none missing"
    );
    detail
}

/// The session's totals in the edge's journal, once the relay has confirmed all of it.
async fn journaled(api: &Api, edge: &Edge, session: SessionId) -> (u64, u64) {
    api.wait_bay("bay-1", "journal confirmed", |b| {
        b["health"]["journal_backlog"] == 0
    })
    .await;
    let journal = Journal::open(&edge.journal()).await.unwrap();
    let finished = journal.finished().await.unwrap();
    journal.close().await;
    let f = finished
        .iter()
        .find(|f| f.session == session)
        .unwrap_or_else(|| {
            panic!(
                "session {session} not in the journal: {finished:?}; edge log:\n{}",
                edge.log()
            )
        });
    (f.count, f.out)
}

/// The relay stored the session with `count` (every seq once), and the edge's journal has the same.
async fn agrees(api: &Api, edge: &Edge, session: SessionId, count: u64) {
    let detail = stored(api, session).await;
    assert_eq!(detail["count"], count);
    assert_eq!(journaled(api, edge, session).await.0, count);
}

fn synthetic() -> [&'static str; 4] {
    ["--source", "synthetic", "--line", "0,0.5,1,0.5"]
}

#[tokio::test]
async fn recorded_footage_start_count_stop_through_the_relay() {
    let _serial = SERIAL.lock().await;
    let relay = TestRelay::start(Which::Embedded).await;
    let dir = tempfile::tempdir().unwrap();
    let foot = format!("file:{}", footage().display());
    let mut edge = Edge::start(
        dir.path(),
        relay.mqtt_port,
        &[
            "--source",
            &foot,
            "--line",
            "0.5,0.9,0.5,0.15",
            "--no-realtime",
            "--loop",
        ],
    );
    wait_online(&relay).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/api/ws", relay.http))
        .await
        .unwrap();
    let session = start(&relay, "KT 1234 AB").await;
    // A count reaches the WebSocket without polling.
    let counted = tokio::time::timeout(Duration::from_secs(120), async {
        use futures_util::StreamExt;
        loop {
            let msg = ws.next().await.unwrap().unwrap();
            let m: Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
            if m["type"] == "count" {
                break m;
            }
        }
    })
    .await
    .expect("a count over the WebSocket within 120 s");
    assert_eq!(counted["bay"]["bay"], "bay-1", "{counted}");
    assert_eq!(
        counted["event"]["session"],
        session.to_string(),
        "{counted}"
    );
    let bay = wait_count(&relay, 3).await;
    assert_eq!(bay["session"], session.to_string());
    assert_eq!(bay["health"]["camera"], "ok", "{bay}");
    assert_eq!(bay["health"]["detector"], "ok", "{bay}");
    assert_eq!(bay["health"]["lamps"]["green"], "on", "{bay}");
    assert_eq!(bay["health"]["lamps"]["red"], "off", "{bay}");
    let final_count = stop(&relay).await;
    let detail = stored(&relay, session).await;
    assert_eq!(detail["count"], final_count);
    assert_eq!(detail["plate"], "KT 1234 AB");
    let (count, _) = journaled(&relay, &edge, session).await;
    assert_eq!(count, final_count, "history and journal agree");
    let took = edge.terminate();
    assert!(
        took < Duration::from_secs(5),
        "SIGTERM took {took:?}: {}",
        edge.log()
    );
    eprintln!("e2e: {final_count} counted; SIGTERM exit in {took:?}");
}

#[tokio::test]
async fn the_button_starts_and_stops_a_session_the_relay_shows() {
    let _serial = SERIAL.lock().await;
    let relay = TestRelay::start(Which::Embedded).await;
    let dir = tempfile::tempdir().unwrap();
    let edge = Edge::start(dir.path(), relay.mqtt_port, &synthetic());
    wait_online(&relay).await;
    let out = edge.press();
    assert!(out.contains("loading"), "{out}");
    let t = Instant::now();
    let bay = relay
        .wait_bay("bay-1", "loading after the press", |b| {
            b["phase"] == "loading"
        })
        .await;
    eprintln!(
        "button: the relay showed the session {:?} after the press",
        t.elapsed()
    );
    assert_eq!(bay["plate"], "UNASSIGNED");
    assert_eq!(bay["started_by"], "button");
    let session: SessionId = bay["session"].as_str().unwrap().parse().unwrap();
    wait_count(&relay, 2).await;
    let out = edge.press();
    assert!(
        out.contains("idle") && out.contains("stopped session"),
        "{out}"
    );
    let detail = stored(&relay, session).await;
    assert_eq!(detail["stopped_by"], "button");
    let (count, _) = journaled(&relay, &edge, session).await;
    assert_eq!(detail["count"], count);
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

/// The counting line of the fault runs (L1 of the ground truth).
const LINE: &str = "0.5,0.9,0.5,0.15";

/// The count of the same footage and line without any fault: the `count` command's pipeline,
/// run once for the test binary.
async fn reference_count() -> u64 {
    static REFERENCE: tokio::sync::OnceCell<u64> = tokio::sync::OnceCell::const_new();
    *REFERENCE
        .get_or_init(|| async {
            tokio::task::spawn_blocking(|| {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
                let options = count::CountOptions {
                    pipeline: PipelineSpec {
                        source: SourceSpec::File(footage()),
                        detector: DetectorOptions {
                            model: ModelChoice::Default,
                            labels: None,
                            classes: vec![],
                            score_threshold: 0.2,
                            iou_threshold: 0.5,
                            threads: cores,
                            runtime: Default::default(),
                        },
                        counter: CounterConfig {
                            anchor: Anchor::BottomCenter,
                            band: 0.01,
                            ..CounterConfig::new(LINE.parse().unwrap())
                        },
                        realtime: false,
                    },
                    max_frames: None,
                };
                count::run(&options, |_| {}).unwrap().count_in
            })
            .await
            .unwrap()
        })
        .await
}

/// Opens a session in the edge's journal before the edge starts (as if its button had been
/// pressed before a restart), so the edge counts the footage from its first frame.
async fn open_session_in_journal(journal: &Path, plate: &str) -> SessionId {
    let j = Journal::open(journal).await.unwrap();
    let mut bay = BaySession::new(j.restore(chrono::Utc::now()).await.unwrap());
    let session = SessionId::new();
    let start = command(
        Action::Start {
            session,
            plate: Plate::parse(plate).unwrap(),
        },
        chrono::Duration::seconds(30),
    );
    let (ack, events) = bay.command(&start, chrono::Utc::now());
    assert!(ack.ok, "{ack:?}");
    j.append(&events).await.unwrap();
    j.close().await;
    session
}

/// The edge on the whole footage once, as fast as it goes, with `session` open from frame 0.
async fn footage_edge(dir: &Path, mqtt_port: u16, plate: &str) -> (Edge, SessionId) {
    let mut edge = Edge::new(dir, mqtt_port, &[]);
    let session = open_session_in_journal(&edge.journal(), plate).await;
    let foot = format!("file:{}", footage().display());
    edge.extra = ["--source", &foot, "--line", LINE, "--no-realtime"]
        .map(str::to_owned)
        .to_vec();
    edge.spawn();
    (edge, session)
}

/// The highest count of `session` the edge's journal holds unconfirmed.
async fn held_count(edge: &Edge, session: SessionId) -> Option<u64> {
    let j = Journal::open(&edge.journal()).await.unwrap();
    let held = j.held().await.unwrap();
    j.close().await;
    held.iter()
        .filter(|e| e.session == session)
        .map(|e| e.count)
        .max()
}

/// Once the footage has played: stopped, the session's final count is the run's without the
/// `fault`, and the history and the journal agree on it.
async fn counts_as_without_the_fault(
    api: &Api,
    edge: &Edge,
    session: SessionId,
    reference: u64,
    fault: &str,
) {
    wait_footage_end(api).await;
    let final_count = stop(api).await;
    assert_eq!(
        final_count, reference,
        "the same count as without the {fault}"
    );
    agrees(api, edge, session, final_count).await;
}

async fn wait_footage_end(api: &Api) {
    eventually(180, "the footage played to its end", || async {
        api.bay("bay-1").await.filter(|b| {
            b["health"]["camera"] == "down"
                && b["health"]["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("ended"))
        })
    })
    .await;
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
fn ffmpeg_reading(needle: &str) -> Vec<i32> {
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
}

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
}

/// A raw MQTT client on the bay's command and ack topics, as a second relay might be.
async fn commander(port: u16) -> (rumqttc::AsyncClient, tokio::sync::mpsc::Receiver<Ack>) {
    let mut opts = rumqttc::MqttOptions::new("test-commander", "127.0.0.1", port);
    opts.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = rumqttc::AsyncClient::new(opts, 64);
    client
        .subscribe("baycount/v1/bay-1/ack", rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        while let Ok(ev) = eventloop.poll().await {
            if let rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) = ev
                && let Ok(ack) = serde_json::from_slice::<Ack>(&p.payload)
                && tx.send(ack).await.is_err()
            {
                break;
            }
        }
    });
    (client, rx)
}

async fn ack_of(acks: &mut tokio::sync::mpsc::Receiver<Ack>, id: CommandId) -> Ack {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let ack = acks.recv().await.unwrap();
            if ack.id == id {
                return ack;
            }
        }
    })
    .await
    .expect("an ack within 10 s")
}

fn command(action: Action, expires_in: chrono::Duration) -> Cmd {
    Cmd {
        id: CommandId::new(),
        expires_at: chrono::Utc::now() + expires_in,
        by: Actor::new(ActorKind::Api, Some("test".into())),
        action,
    }
}

#[tokio::test]
async fn a_duplicate_command_is_applied_once_and_an_expired_one_refused() {
    let _serial = SERIAL.lock().await;
    let relay = TestRelay::start(Which::Embedded).await;
    let dir = tempfile::tempdir().unwrap();
    let edge = Edge::start(dir.path(), relay.mqtt_port, &synthetic());
    wait_online(&relay).await;
    let (client, mut acks) = commander(relay.mqtt_port).await;
    let session = SessionId::new();
    let start = command(
        Action::Start {
            session,
            plate: Plate::parse("B 2 TWICE").unwrap(),
        },
        chrono::Duration::seconds(30),
    );
    for _ in 0..2 {
        client
            .publish(
                "baycount/v1/bay-1/cmd",
                rumqttc::QoS::AtLeastOnce,
                false,
                encode(&start),
            )
            .await
            .unwrap();
        let ack = ack_of(&mut acks, start.id).await;
        assert!(ack.ok, "{ack:?}");
        assert_eq!(ack.state.session, Some(session));
    }
    let expired = command(
        Action::Stop { session: None },
        chrono::Duration::seconds(-1),
    );
    client
        .publish(
            "baycount/v1/bay-1/cmd",
            rumqttc::QoS::AtLeastOnce,
            false,
            encode(&expired),
        )
        .await
        .unwrap();
    let ack = ack_of(&mut acks, expired.id).await;
    assert!(!ack.ok);
    assert!(
        ack.reason.as_deref().unwrap_or("").contains("expired"),
        "{ack:?}"
    );
    assert_eq!(
        ack.state.phase,
        Phase::Loading,
        "the expired stop changed nothing"
    );
    wait_count(&relay, 1).await;
    let final_count = stop(&relay).await;
    let detail = stored(&relay, session).await;
    let started = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "started")
        .count();
    assert_eq!(started, 1, "the start delivered twice opened one session");
    assert_eq!(journaled(&relay, &edge, session).await.0, final_count);
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

#[tokio::test]
async fn systemd_hears_ready_and_a_watchdog_fed_only_while_frames_flow() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    // Two seconds of footage, played as fast as it goes: frames flow, then stop.
    let clip = dir.path().join("clip.mp4");
    let made = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-f", "lavfi", "-i"])
        .arg("testsrc=duration=2:size=320x240:rate=10")
        .arg(&clip)
        .status()
        .unwrap();
    assert!(made.success());
    let notify = dir.path().join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&notify).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let source = format!("file:{}", clip.display());
    // Nothing listens on the broker's port: the edge counts without one.
    let mut edge = Edge::new(
        dir.path(),
        closed_port(),
        &["--source", &source, "--no-realtime"],
    );
    edge.env.push(("NOTIFY_SOCKET".into(), notify.clone()));
    edge.spawn();
    let mut heard: Vec<(Instant, String)> = Vec::new();
    let t0 = Instant::now();
    let mut buf = [0u8; 256];
    while t0.elapsed() < Duration::from_secs(20) {
        if let Ok(n) = socket.recv(&mut buf) {
            heard.push((
                Instant::now(),
                String::from_utf8_lossy(&buf[..n]).into_owned(),
            ));
        }
        if edge.log().contains("the footage ended") {
            break;
        }
    }
    let ended = Instant::now();
    assert!(edge.log().contains("the footage ended"), "{}", edge.log());
    assert_eq!(
        heard.first().map(|h| h.1.trim()),
        Some("READY=1"),
        "{heard:?}"
    );
    assert!(
        heard.iter().any(|h| h.1.trim() == "WATCHDOG=1"),
        "fed while frames flowed: {heard:?}"
    );
    // No frames, no watchdog: systemd would restart a stuck edge.
    while ended.elapsed() < Duration::from_secs(3) {
        if let Ok(n) = socket.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            assert_ne!(msg.trim(), "WATCHDOG=1", "fed after the frames stopped");
        }
    }
    edge.terminate();
    let mut stopping = false;
    while let Ok(n) = socket.recv(&mut buf) {
        stopping |= String::from_utf8_lossy(&buf[..n]).trim() == "STOPPING=1";
    }
    assert!(stopping, "STOPPING=1 on SIGTERM");
}

#[tokio::test]
async fn the_edge_counts_over_mutual_tls_with_its_own_login_only() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = baycount_testkit::ca::TestCa::new(dir.path(), "site-ca");
    let (server_cert, server_key) = ca.issue("relay");
    let (edge_cert, edge_key) = ca.issue("bay-1");
    let passwords = dir.path().join("mqtt.passwd");
    baycount_relay::broker::users::set_password(&passwords, "bay-1", "bay-1-pw").unwrap();
    let relay = TestRelay::start_with(Which::Embedded, |c| {
        c.broker_security = baycount_relay::broker::Security {
            password_file: Some(passwords),
            tls_cert: Some(server_cert),
            tls_key: Some(server_key),
            client_ca: Some(ca.cert.clone()),
        };
    })
    .await;
    let tls_flags = |e: &mut Edge| {
        e.mqtt = format!("mqtts://127.0.0.1:{}", e.mqtt_port);
        for (flag, path) in [
            ("--mqtt-ca", &ca.cert),
            ("--mqtt-cert", &edge_cert),
            ("--mqtt-key", &edge_key),
        ] {
            e.extra.push(flag.to_owned());
            e.extra.push(path.display().to_string());
        }
    };

    // A wrong password: refused, said plainly in the edge's log, never online.
    let wrong_dir = tempfile::tempdir().unwrap();
    let mut wrong = Edge::new(wrong_dir.path(), relay.mqtt_port, &synthetic());
    tls_flags(&mut wrong);
    wrong
        .env
        .push(("BAYCOUNT_MQTT_PASSWORD".into(), "guess".into()));
    wrong.spawn();
    eventually(10, "the refusal in the edge's log", || async {
        wrong
            .log()
            .contains("refused bay bay-1's login")
            .then_some(())
    })
    .await;
    assert!(relay.bay("bay-1").await.is_none_or(|b| b["online"] != true));
    assert!(!wrong.log().contains("guess"), "the password is not logged");
    drop(wrong);

    let mut edge = Edge::new(dir.path(), relay.mqtt_port, &synthetic());
    tls_flags(&mut edge);
    edge.env
        .push(("BAYCOUNT_MQTT_PASSWORD".into(), "bay-1-pw".into()));
    edge.spawn();
    wait_online(&relay).await;
    let session = start(&relay, "KT 4 TLS").await;
    wait_count(&relay, 2).await;
    let count = stop(&relay).await;
    agrees(&relay, &edge, session, count).await;
}
