//! The footage runs the faults are measured on: the edge counting the whole clip once, and
//! the count of the same clip without any fault.

use std::path::{Path, PathBuf};

use baycount_edge::bay::journal::Journal;
use baycount_edge::bay::session::BaySession;
use baycount_edge::cmd::count;
use baycount_edge::vision::camera::SourceSpec;
use baycount_edge::vision::counting_line::{Anchor, CounterConfig};
use baycount_edge::vision::detector::{DetectorOptions, ModelChoice};
use baycount_edge::vision::pipeline_setup::PipelineSpec;
use baycount_protocol::{Action, Plate, SessionId};
use baycount_testkit::{Api, eventually};

use crate::edge::Edge;
use crate::flow::*;

pub fn footage() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/footage/vtest.avi"
    ))
}

/// The counting line of the fault runs (L1 of the ground truth).
pub const LINE: &str = "0.5,0.9,0.5,0.15";

/// The count of the same footage and line without any fault: the `count` command's pipeline,
/// run once for the test binary.
pub async fn reference_count() -> u64 {
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
                            ..DetectorOptions::default()
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
pub async fn open_session_in_journal(journal: &Path, plate: &str) -> SessionId {
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
pub async fn footage_edge(dir: &Path, mqtt_port: u16, plate: &str) -> (Edge, SessionId) {
    played_footage_edge(dir, mqtt_port, plate, &["--no-realtime"]).await
}

/// The same, the footage played at its own frame rate like a camera: frames the edge has no
/// time for are dropped.
pub async fn real_time_footage_edge(dir: &Path, mqtt_port: u16, plate: &str) -> (Edge, SessionId) {
    played_footage_edge(dir, mqtt_port, plate, &[]).await
}

async fn played_footage_edge(
    dir: &Path,
    mqtt_port: u16,
    plate: &str,
    playback: &[&str],
) -> (Edge, SessionId) {
    let mut edge = Edge::new(dir, mqtt_port, &[]);
    let session = open_session_in_journal(&edge.journal(), plate).await;
    let foot = format!("file:{}", footage().display());
    edge.extra = ["--source", &foot, "--line", LINE]
        .iter()
        .chain(playback)
        .map(|s| s.to_string())
        .collect();
    edge.spawn();
    (edge, session)
}

/// The highest count of `session` the edge's journal holds unconfirmed.
pub async fn held_count(edge: &Edge, session: SessionId) -> Option<u64> {
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
pub async fn counts_as_without_the_fault(
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

pub async fn wait_footage_end(api: &Api) {
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
