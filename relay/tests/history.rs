//! What the history keeps: the same history whatever order or how often events arrive, and
//! everything across a relay restart.

#![allow(clippy::unwrap_used)]

use baycount_protocol::*;
use baycount_testkit::*;
use serde_json::json;

/// A session of 1 start, 30 crossings (every third one `out`) and a stop.
fn session_events() -> Vec<Event> {
    let crossings: Vec<Direction> = (0..30)
        .map(|i| {
            if i % 3 == 2 {
                Direction::Out
            } else {
                Direction::In
            }
        })
        .collect();
    baycount_testkit::session::events(SessionId::new(), "B 1234 XYZ", &crossings, 100, 60)
}

/// A fixed shuffle with every event sent twice and some three times.
fn reordered_with_duplicates(events: &[Event]) -> Vec<Event> {
    let mut out: Vec<Event> = events.iter().rev().cloned().collect();
    out.extend(events.iter().step_by(2).cloned());
    out.extend(events.iter().skip(1).step_by(2).cloned());
    out.extend(events.iter().step_by(5).cloned());
    let n = out.len();
    for i in 0..n {
        out.swap(i, (i * 7 + 3) % n);
    }
    out
}

async fn history_after(which: Which, events: &[Event]) -> serde_json::Value {
    let relay = TestRelay::start(which).await;
    let mut edge = ScriptedEdge::connect(relay.mqtt_port, "bay-7", Mode::Respond).await;
    for e in events {
        edge.publish_raw(Kind::Event, &encode(e));
    }
    let session = events[0].session;
    edge.wait_stored(session, 32).await;
    let (status, mut detail) = relay.get(&format!("/api/sessions/{session}")).await;
    assert_eq!(status, 200);
    let (_, plates) = relay.get("/api/plates").await;
    detail["plates"] = plates["plates"].clone();
    detail["plates"][0]["last_used_at"] = json!(null);
    // When it was sealed is the one thing that depends on arrival; what it seals does not.
    assert!(detail["chain"]["sealed_at"].is_string(), "{detail}");
    detail["chain"]["sealed_at"] = json!(null);
    detail
}

#[tokio::test]
async fn duplicate_and_reordered_events_give_the_same_history() {
    let events = session_events();
    let shuffled = reordered_with_duplicates(&events);
    assert_eq!(shuffled.len(), 32 + 16 + 16 + 7);
    for which in [Which::Embedded, Which::Mosquitto] {
        let in_order = history_after(which, &events).await;
        let reordered = history_after(which, &shuffled).await;
        assert_eq!(in_order, reordered, "{which:?}");
        assert_eq!(in_order["count"], 20);
        assert_eq!(in_order["out"], 10);
        assert_eq!(in_order["events"].as_array().unwrap().len(), 32);
        assert_eq!(in_order["started_by"], "button");
        assert_eq!(in_order["duration_seconds"], 60.0);
        assert_eq!(
            in_order["plates"][0]["uses"], 1,
            "a duplicated start is one use"
        );
    }
}

async fn relay_restart_keeps_history_and_live_state(which: Which) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let mosquitto = (which == Which::Mosquitto).then(Mosquitto::start);
    let broker_args = match &mosquitto {
        Some(m) => vec!["--mqtt".to_owned(), format!("mqtt://127.0.0.1:{}", m.port)],
        None => vec![],
    };
    let mut relay = RelayProcess::start(&db, &broker_args).await;
    let mqtt_port = mosquitto
        .as_ref()
        .map_or_else(|| relay.mqtt_port(), |m| m.port);
    let api = relay.api();
    let mut edge = ScriptedEdge::connect(mqtt_port, "bay-1", Mode::Respond).await;
    let gone = ScriptedEdge::connect(mqtt_port, "bay-2", Mode::Respond).await;
    eventually(10, "both bays listed", || async {
        (api.get("/api/state").await.1["bays"].as_array()?.len() == 2).then_some(())
    })
    .await;
    gone.disconnect().await;

    let (status, body) = api
        .post("/api/bays/bay-1/start", json!({"plate": "KT 8899 TEST"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let session: SessionId = body["session"]["id"].as_str().unwrap().parse().unwrap();
    for _ in 0..3 {
        edge.count(Direction::In).await;
    }
    edge.wait_stored(session, 4).await;

    relay.kill();
    relay.restart().await;
    // The edge reconnects by itself (to the relay's broker) or its retained state is there.
    let bay = eventually(15, "bay-1 back, loading with its count", || async {
        api.bay("bay-1")
            .await
            .filter(|b| b["online"] == true && b["count"] == 3)
    })
    .await;
    assert_eq!(bay["phase"], "loading");
    assert_eq!(bay["session"], session.to_string());
    assert_eq!(bay["plate"], "KT 8899 TEST");
    let bay2 = api
        .bay("bay-2")
        .await
        .expect("a bay that announced itself stays listed");
    assert_eq!(bay2["online"], false);
    let (_, listed) = api.get("/api/sessions").await;
    assert_eq!(listed["sessions"][0]["id"], session.to_string());
    assert_eq!(listed["sessions"][0]["count"], 3);

    edge.count(Direction::In).await;
    let (status, body) = api.post("/api/bays/bay-1/stop", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["session"]["count"], 4);
    edge.wait_stored(session, 6).await;
    let (_, detail) = api.get(&format!("/api/sessions/{session}")).await;
    assert_eq!(detail["count"], 4);
    assert_eq!(
        detail["events"].as_array().unwrap().len(),
        6,
        "no duplicate, no gap"
    );
    drop(relay);
}

#[tokio::test]
async fn relay_restart_keeps_history_and_live_state_embedded_broker() {
    relay_restart_keeps_history_and_live_state(Which::Embedded).await;
}

#[tokio::test]
async fn relay_restart_keeps_history_and_live_state_mosquitto() {
    relay_restart_keeps_history_and_live_state(Which::Mosquitto).await;
}
