//! What the tests do through the relay's API and read back: start, stop, wait for counts, and
//! check that the history and the edge's journal agree.

use baycount_edge::bay::journal::Journal;
use baycount_protocol::{Action, Actor, ActorKind, Command as Cmd, CommandId, SessionId};
use baycount_testkit::{Api, eventually};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::edge::Edge;

pub async fn wait_online(api: &Api) {
    api.wait_bay("bay-1", "bay online", |b| b["online"] == true)
        .await;
}

pub async fn wait_count(api: &Api, at_least: u64) -> Value {
    eventually(120, &format!("count {at_least}"), || async {
        api.bay("bay-1")
            .await
            .filter(|b| b["count"].as_u64() >= Some(at_least))
    })
    .await
}

pub async fn start(api: &Api, plate: &str) -> SessionId {
    let (status, body) = api
        .post("/api/bays/bay-1/start", json!({"plate": plate}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["session"]["id"].as_str().unwrap().parse().unwrap()
}

pub async fn stop(api: &Api) -> u64 {
    let (status, body) = api.post("/api/bays/bay-1/stop", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["session"]["count"].as_u64().unwrap()
}

/// The session as the relay stored it, once stopped; its events' seqs are 1..=n, each once.
pub async fn stored(api: &Api, session: SessionId) -> Value {
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
pub async fn journaled(api: &Api, edge: &Edge, session: SessionId) -> (u64, u64) {
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
pub async fn agrees(api: &Api, edge: &Edge, session: SessionId, count: u64) {
    let detail = stored(api, session).await;
    assert_eq!(detail["count"], count);
    assert_eq!(journaled(api, edge, session).await.0, count);
}

/// Every count of `session` has its picture on the relay (those still crossing when the
/// footage ended, on its last frame); returns (counts, pictures).
pub async fn every_count_pictured(api: &Api, session: SessionId) -> (usize, usize) {
    let detail = stored(api, session).await;
    let counted: Vec<u64> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "counted")
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert!(!counted.is_empty(), "no counts in {detail}");
    let pieces = eventually(30, "a piece of evidence for every count", || async {
        let (status, list) = api.get(&format!("/api/sessions/{session}/evidence")).await;
        let list = (status == StatusCode::OK).then_some(list)?["evidence"]
            .as_array()?
            .clone();
        counted
            .iter()
            .all(|seq| {
                list.iter()
                    .any(|p| p["seq"] == *seq && p["kind"] == "crossing")
            })
            .then_some(list)
    })
    .await;
    let pictured: Vec<&Value> = pieces
        .iter()
        .filter(|p| p["kind"] == "crossing" && p["url"].is_string())
        .collect();
    for seq in &counted {
        assert!(
            pictured.iter().any(|p| p["seq"] == *seq),
            "count {seq} has no picture ({} of {} pictured): {pieces:?}",
            pictured.len(),
            counted.len()
        );
    }
    // The pictures themselves are there, as JPEGs.
    for p in pictured.iter().take(3) {
        let r = api
            .request(reqwest::Method::GET, p["url"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.bytes().await.unwrap().starts_with(&[0xFF, 0xD8, 0xFF]));
    }
    (counted.len(), pictured.len())
}

pub fn synthetic() -> [&'static str; 4] {
    ["--source", "synthetic", "--line", "0,0.5,1,0.5"]
}

pub fn command(action: Action, expires_in: chrono::Duration) -> Cmd {
    Cmd {
        id: CommandId::new(),
        expires_at: chrono::Utc::now() + expires_in,
        by: Actor::new(ActorKind::Api, Some("test".into())),
        action,
    }
}
