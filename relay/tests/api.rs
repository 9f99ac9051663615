//! The relay's API against a scripted edge, over a real broker (embedded and Mosquitto).

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use baycount_protocol::{Direction, Kind, SessionId};
use baycount_testkit::*;
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::json;

async fn start_stop_through_rest(which: Which) {
    let relay = TestRelay::start(which).await;
    let mut edge = ScriptedEdge::connect(relay.mqtt_port, "bay-1", Mode::Respond).await;
    relay
        .wait_bay("bay-1", "bay online", |b| b["online"] == true)
        .await;

    let (status, body) = relay
        .post(
            "/api/bays/bay-1/start",
            json!({"plate": "  kt  8899 test "}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["session"]["plate"], "KT 8899 TEST");
    let session: SessionId = body["session"]["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(session.0.get_version_num(), 7);
    let bay = relay.bay("bay-1").await.unwrap();
    assert_eq!(bay["phase"], "loading");
    assert_eq!(bay["session"], session.to_string());

    edge.count(Direction::In).await;
    edge.count(Direction::Out).await;
    edge.count(Direction::In).await;
    let last = edge.count(Direction::In).await;
    let bay = relay
        .wait_bay("bay-1", "count 3", |b| b["count"] == 3)
        .await;
    assert_eq!(bay["out"], 1);
    edge.wait_stored(session, last.seq).await;

    let (status, body) = relay.post("/api/bays/bay-1/stop", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["session"]["count"], 3);
    assert_eq!(body["session"]["out"], 1);
    relay
        .wait_bay("bay-1", "idle", |b| b["phase"] == "idle")
        .await;

    let stopped = eventually(10, "session stored as stopped", || async {
        let (_, list) = relay.get("/api/sessions").await;
        list["sessions"]
            .as_array()
            .and_then(|s| s.first().cloned())
            .filter(|s| !s["stopped_at"].is_null())
    })
    .await;
    assert_eq!(stopped["id"], session.to_string());
    assert_eq!(stopped["bay"], "bay-1");
    assert_eq!(stopped["plate"], "KT 8899 TEST");
    assert_eq!(stopped["count"], 3);
    assert_eq!(stopped["out"], 1);
    assert_eq!(stopped["started_by"], "api");
    assert_eq!(stopped["stopped_by"], "api");
    assert_eq!(
        stopped["count"],
        edge.state().count.max(3),
        "history count equals the edge's"
    );

    let (_, plates) = relay.get("/api/plates").await;
    assert_eq!(plates["plates"][0]["plate"], "KT 8899 TEST");
    let (_, audit) = relay.get("/api/audit").await;
    let outcomes: Vec<_> = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["action"].clone(), a["outcome"].clone()))
        .collect();
    assert_eq!(
        outcomes,
        vec![(json!("stop"), json!("ok")), (json!("start"), json!("ok"))]
    );
}

#[tokio::test]
async fn start_stop_through_rest_embedded_broker() {
    start_stop_through_rest(Which::Embedded).await;
}

#[tokio::test]
async fn start_stop_through_rest_mosquitto() {
    start_stop_through_rest(Which::Mosquitto).await;
}

async fn command_errors(which: Which) {
    let relay = TestRelay::start(which).await;
    let edge = ScriptedEdge::connect(relay.mqtt_port, "bay-1", Mode::Respond).await;
    relay
        .wait_bay("bay-1", "online", |b| b["online"] == true)
        .await;

    let (s, b) = relay
        .post("/api/bays/nope/start", json!({"plate": "B 1 A"}))
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_bay"))
    );
    for bad in [
        "",
        "   ",
        "B\u{7}1",
        "B 1234 XYZ; DROP TABLE",
        "ABCDEFGHIJKLMNOPQRSTU",
    ] {
        let (s, b) = relay
            .post("/api/bays/bay-1/start", json!({ "plate": bad }))
            .await;
        assert_eq!(
            (s, b["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_plate")),
            "{bad:?}: {b}"
        );
        assert!(b["error"].as_str().unwrap().contains("plate"));
    }
    let (s, b) = relay.post("/api/bays/bay-1/stop", json!({})).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::CONFLICT, Some("not_loading"))
    );
    let r = relay
        .client
        .post(relay.url("/api/bays/bay-1/start"))
        .header("content-type", "application/json")
        .body("{plate")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // serde would read a body of optional fields from an array of them: refused.
    let (s, b) = relay.post("/api/bays/bay-1/stop", json!([null])).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(b["error"].as_str().unwrap().contains("array"), "{b}");
    // A body not declared as JSON is refused before it is read.
    let r = relay
        .client
        .post(relay.url("/api/bays/bay-1/start"))
        .body("{plate")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (s, b) = relay
        .post(
            "/api/bays/bay-1/start",
            json!({"plate": "B 1 A", "by": "telegram:1"}),
        )
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_actor"))
    );
    let r = relay
        .client
        .post(relay.url("/api/bays/bay-1/start"))
        .body(vec![b'x'; 100_000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let (s, _) = relay
        .post(
            "/api/bays/bay-1/start",
            json!({"plate": "B 1 A", "by": "dashboard:office"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = relay
        .post("/api/bays/bay-1/start", json!({"plate": "B 2 A"}))
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_loading")),
        "{b}"
    );
    assert!(b["error"].as_str().unwrap().contains("B 1 A"));

    edge.disconnect().await;
    relay
        .wait_bay("bay-1", "offline", |b| b["online"] == false)
        .await;
    let (s, b) = relay.post("/api/bays/bay-1/stop", json!({})).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("bay_offline"))
    );
    let (_, audit) = relay.get("/api/audit").await;
    assert!(
        audit["audit"].as_array().unwrap().iter().any(
            |a| a["outcome"] == "rejected" && a["detail"].as_str().unwrap().contains("offline")
        )
    );
    // Nothing was stored for the refused commands: one session only.
    let sessions = eventually(10, "the one session stored", || async {
        let (_, l) = relay.get("/api/sessions").await;
        l["sessions"].as_array().filter(|s| !s.is_empty()).cloned()
    })
    .await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["started_by"], "dashboard:office");
}

#[tokio::test]
async fn command_errors_embedded_broker() {
    command_errors(Which::Embedded).await;
}

#[tokio::test]
async fn command_errors_mosquitto() {
    command_errors(Which::Mosquitto).await;
}

#[tokio::test]
async fn silent_bay_gives_504_after_the_ack_timeout() {
    let relay = TestRelay::start(Which::Embedded).await;
    let _edge = ScriptedEdge::connect(relay.mqtt_port, "bay-1", Mode::Silent).await;
    relay
        .wait_bay("bay-1", "online", |b| b["online"] == true)
        .await;
    let t = Instant::now();
    let (s, b) = relay
        .post("/api/bays/bay-1/start", json!({"plate": "B 1 A"}))
        .await;
    let waited = t.elapsed();
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::GATEWAY_TIMEOUT, Some("bay_not_responding")),
        "{b}"
    );
    assert!(b["error"].as_str().unwrap().contains("not responding"));
    assert!(
        waited >= Duration::from_millis(4900) && waited < Duration::from_secs(8),
        "{waited:?}"
    );
    assert_eq!(relay.bay("bay-1").await.unwrap()["phase"], "idle");
    let (_, audit) = relay.get("/api/audit").await;
    assert_eq!(audit["audit"][0]["outcome"], "timeout");
    assert!(
        audit["audit"][0]["command"].is_string(),
        "the command id is audited"
    );
}

#[tokio::test]
async fn api_token_guards_mutations_only() {
    let relay = TestRelay::start_with(Which::Embedded, |c| {
        c.api_token = Some("s3cret-token".into())
    })
    .await;
    let _edge = ScriptedEdge::connect(relay.mqtt_port, "bay-1", Mode::Respond).await;
    relay
        .wait_bay("bay-1", "online", |b| b["online"] == true)
        .await;
    let (s, b) = relay
        .post("/api/bays/bay-1/start", json!({"plate": "B 1 A"}))
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let r = relay
        .client
        .post(relay.url("/api/bays/bay-1/start"))
        .bearer_auth("wrong")
        .json(&json!({"plate": "B 1 A"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        relay.bay("bay-1").await.unwrap()["phase"],
        "idle",
        "nothing started"
    );
    let r = relay
        .client
        .post(relay.url("/api/bays/bay-1/start"))
        .bearer_auth("s3cret-token")
        .json(&json!({"plate": "B 1 A"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    for path in [
        "/api/state",
        "/api/sessions",
        "/api/plates",
        "/healthz",
        "/api/openapi.json",
    ] {
        assert_eq!(
            relay.get(path).await.0,
            StatusCode::OK,
            "{path} is readable without a token"
        );
    }
}

async fn next<S>(ws: &mut S) -> serde_json::Value
where
    S: futures_util::Stream<
            Item = Result<
                tokio_tungstenite::tungstenite::Message,
                tokio_tungstenite::tungstenite::Error,
            >,
        > + Unpin,
{
    let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    serde_json::from_str(msg.to_text().unwrap()).unwrap()
}

#[tokio::test]
async fn websocket_gets_snapshot_then_updates() {
    let relay = TestRelay::start(Which::Embedded).await;
    let edge = ScriptedEdge::connect(relay.mqtt_port, "bay-1", Mode::Respond).await;
    relay
        .wait_bay("bay-1", "online", |b| b["online"] == true)
        .await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/api/ws", relay.http))
        .await
        .unwrap();
    let snap = next(&mut ws).await;
    assert_eq!(snap["type"], "snapshot");
    assert_eq!(snap["bays"][0]["bay"], "bay-1");
    assert_eq!(snap["bays"][0]["online"], true);

    let (s, _) = relay
        .post("/api/bays/bay-1/start", json!({"plate": "B 1 A"}))
        .await;
    assert_eq!(s, StatusCode::OK);
    edge.count(Direction::In).await;
    let count = loop {
        let m = next(&mut ws).await;
        if m["type"] == "count" {
            break m;
        }
        assert_eq!(m["type"], "bay", "{m}");
    };
    assert_eq!(count["event"]["direction"], "in");
    assert_eq!(count["bay"]["count"], 1);
    assert_eq!(count["bay"]["phase"], "loading");
}

/// One count is one update on the live feed, though the edge publishes its event, its state,
/// and its state again once the relay has stored the count (its journal's backlog back to 0).
#[tokio::test]
async fn one_count_is_one_websocket_update() {
    let relay = TestRelay::start(Which::Embedded).await;
    let mut edge = ScriptedEdge::connect(relay.mqtt_port, "bay-1", Mode::Respond).await;
    relay
        .wait_bay("bay-1", "online", |b| b["online"] == true)
        .await;
    let (s, body) = relay
        .post("/api/bays/bay-1/start", json!({"plate": "B 1 ONE"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let session: SessionId = body["session"]["id"].as_str().unwrap().parse().unwrap();
    edge.wait_stored(session, 1).await;
    relay
        .wait_bay("bay-1", "the start stored", |b| {
            b["health"]["journal_backlog"] == 0
        })
        .await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/api/ws", relay.http))
        .await
        .unwrap();
    assert_eq!(next(&mut ws).await["type"], "snapshot");

    let event = edge.count(Direction::In).await;
    edge.wait_stored(session, event.seq).await;
    relay
        .wait_bay(
            "bay-1",
            "the count stored and the edge's backlog back to 0",
            |b| b["count"] == 1 && b["health"]["journal_backlog"] == 0,
        )
        .await;
    let update = next(&mut ws).await;
    assert_eq!(update["type"], "count", "{update}");
    assert_eq!(update["bay"]["count"], 1, "{update}");
    let more = tokio::time::timeout(Duration::from_millis(500), ws.next()).await;
    assert!(more.is_err(), "a second update for one count: {more:?}");
}

#[tokio::test]
async fn corrections_sit_beside_the_machine_count_and_csv_exports() {
    let relay = TestRelay::start(Which::Embedded).await;
    let mut edge = ScriptedEdge::connect(relay.mqtt_port, "bay-1", Mode::Respond).await;
    relay
        .wait_bay("bay-1", "online", |b| b["online"] == true)
        .await;
    let (_, b) = relay
        .post("/api/bays/bay-1/start", json!({"plate": "DA 12 A"}))
        .await;
    let id = b["session"]["id"].as_str().unwrap().to_owned();
    let session: SessionId = id.parse().unwrap();
    edge.count(Direction::In).await;
    let last = edge.count(Direction::In).await;
    edge.wait_stored(session, last.seq).await;

    let path = format!("/api/sessions/{id}/corrections");
    let (s, c) = relay
        .post(
            &path,
            json!({"delta": -1, "reason": "one sack torn, returned", "by": "Budi"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["by"], "api:Budi");
    assert_eq!(c["evidence"], serde_json::Value::Null, "about no picture");
    for bad in [
        json!({"delta": 0, "reason": "x"}),
        json!({"delta": 1, "reason": " "}),
        json!({"delta": 1}),
    ] {
        let (s, _) = relay.post(&path, bad.clone()).await;
        assert!(
            s == StatusCode::UNPROCESSABLE_ENTITY || s == StatusCode::BAD_REQUEST,
            "{bad}: {s}"
        );
    }
    let (s, _) = relay
        .post(
            &format!("/api/sessions/{}/corrections", SessionId::new()),
            json!({"delta": 1, "reason": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = relay.get("/api/sessions/not-a-uuid").await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (s, detail) = relay.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(detail["count"], 2, "the machine count is untouched");
    assert_eq!(detail["correction"], -1);
    assert_eq!(detail["corrected_count"], 1);
    assert_eq!(detail["corrections"].as_array().unwrap().len(), 1);
    assert_eq!(detail["events"].as_array().unwrap().len(), 3);
    assert_eq!(detail["events"][0]["kind"], "started");

    let csv = relay
        .client
        .get(relay.url("/api/sessions.csv?plate=da%2012%20a"))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(
        lines[0],
        "id,bay,plate,count,out,correction,corrected_count,started_at,stopped_at,duration_seconds,started_by,stopped_by,digest,chain_head",
        "the columns as they were, then the chain's"
    );
    assert!(
        lines[1].starts_with(&format!("{id},bay-1,DA 12 A,2,0,-1,1,")),
        "{}",
        lines[1]
    );
    assert_eq!(lines.len(), 2);

    let (_, none) = relay.get("/api/sessions?bay=bay-2").await;
    assert_eq!(none["sessions"].as_array().unwrap().len(), 0);
    let (_, day) = relay
        .get(&format!(
            "/api/sessions?from={}",
            chrono::Utc::now().format("%Y-%m-%d")
        ))
        .await;
    assert_eq!(day["sessions"].as_array().unwrap().len(), 1);
    let (_, before) = relay.get("/api/sessions?to=2020-01-01").await;
    assert_eq!(before["sessions"].as_array().unwrap().len(), 0);
    for bad in ["?from=yesterday", "?limit=0", "?limit=x", "?bay=a/b"] {
        let (s, b) = relay.get(&format!("/api/sessions{bad}")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {b}");
    }
}

#[tokio::test]
async fn malformed_mqtt_is_dropped_and_changes_nothing() {
    let relay = TestRelay::start(Which::Embedded).await;
    let edge = ScriptedEdge::connect(relay.mqtt_port, "bay-1", Mode::Respond).await;
    relay
        .wait_bay("bay-1", "online", |b| b["online"] == true)
        .await;
    let before = relay.bay("bay-1").await.unwrap();
    edge.publish_raw(Kind::Status, b"sideways");
    edge.publish_raw(Kind::State, b"{\"phase\":\"loading\"");
    edge.publish_raw(Kind::Event, b"\xff\x00garbage");
    edge.publish_raw(Kind::Event, br#"{"session":"nope","seq":1}"#);
    edge.publish_raw(Kind::Ack, b"[]");
    // Oversized: past the contract's limit (refused by the relay), and past the broker's (the
    // sender is disconnected); neither disturbs the bay or the relay.
    let mut opts = rumqttc::MqttOptions::new("oversized", "127.0.0.1", relay.mqtt_port);
    opts.set_max_packet_size(4 << 20, 4 << 20);
    let (big, mut big_loop) = rumqttc::AsyncClient::new(opts, 10);
    let pump = tokio::spawn(async move {
        let mut errors = 0;
        while errors < 1 {
            if big_loop.poll().await.is_err() {
                errors += 1;
            }
        }
    });
    for size in [baycount_protocol::codec::MAX_PAYLOAD + 1, 2 << 20] {
        big.publish(
            "baycount/v1/bay-1/state",
            rumqttc::QoS::AtLeastOnce,
            false,
            vec![b' '; size],
        )
        .await
        .unwrap();
    }
    tokio::time::timeout(Duration::from_secs(10), pump)
        .await
        .expect("the broker drops a client sending more than it accepts")
        .unwrap();
    let metrics = eventually(10, "malformed counted", || async {
        let (_, text) = relay.text("/metrics").await;
        text.contains("baycount_mqtt_malformed_total 6")
            .then_some(text)
    })
    .await;
    assert!(metrics.contains("baycount_bays_online 1"), "{metrics}");
    let mut after = relay.bay("bay-1").await.unwrap();
    after["last_seen"] = before["last_seen"].clone();
    assert_eq!(after, before);
    let (_, l) = relay.get("/api/sessions").await;
    assert_eq!(l["sessions"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn openapi_document_lists_every_endpoint() {
    let relay = TestRelay::start(Which::Embedded).await;
    let (s, doc) = relay.get("/api/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    for path in [
        "/api/state",
        "/api/bays/{bay}/start",
        "/api/bays/{bay}/stop",
        "/api/sessions",
        "/api/sessions.csv",
        "/api/sessions/{id}",
        "/api/sessions/{id}/corrections",
        "/api/sessions/{id}/evidence",
        "/api/evidence/{id}.jpg",
        "/api/plates",
        "/api/ws",
        "/healthz",
        "/metrics",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    assert!(doc["components"]["schemas"]["BayView"].is_object());
    let (s, b) = relay.get("/api/nope").await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}

#[tokio::test]
async fn a_slow_websocket_client_holds_up_nobody() {
    let relay = TestRelay::start(Which::Embedded).await;
    let edge = ScriptedEdge::connect(relay.mqtt_port, "bay-1", Mode::Respond).await;
    relay
        .wait_bay("bay-1", "online", |b| b["online"] == true)
        .await;
    let url = format!("ws://{}/api/ws", relay.http);
    let (mut slow, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let (mut fast, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    assert_eq!(next(&mut fast).await["type"], "snapshot");
    let (s, _) = relay
        .post("/api/bays/bay-1/start", json!({"plate": "B 1 A"}))
        .await;
    assert_eq!(s, StatusCode::OK);

    // More updates than a client may fall behind by, while `slow` reads nothing.
    const N: u64 = 6000;
    for _ in 0..N {
        edge.count(Direction::In).await;
    }
    loop {
        let m = next(&mut fast).await;
        if m["bay"]["count"] == N {
            break;
        }
    }
    assert_eq!(relay.bay("bay-1").await.unwrap()["count"], N);
    // The slow client catches up: a fresh snapshot (it lagged) or the updates, up to the last count.
    loop {
        let m = next(&mut slow).await;
        let count = match m["type"].as_str() {
            Some("snapshot") => m["bays"][0]["count"].clone(),
            _ => m["bay"]["count"].clone(),
        };
        if count == N {
            break;
        }
    }
}

#[tokio::test]
async fn bays_declared_in_config_are_listed_before_they_speak() {
    use baycount_relay::config::BayDecl;
    let relay = TestRelay::start_with(Which::Embedded, |c| {
        c.bays = vec![BayDecl {
            id: "dock-3".parse().unwrap(),
            name: Some("Dock 3 (cement)".into()),
        }];
    })
    .await;
    let bay = relay.bay("dock-3").await.expect("declared bay listed");
    assert_eq!(bay["name"], "Dock 3 (cement)");
    assert_eq!(bay["online"], false);
    assert_eq!(bay["phase"], "idle");
    let (s, b) = relay
        .post("/api/bays/dock-3/start", json!({"plate": "B 1 A"}))
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("bay_offline"))
    );
    let _edge = ScriptedEdge::connect(relay.mqtt_port, "dock-3", Mode::Respond).await;
    let bay = relay
        .wait_bay("dock-3", "online", |b| b["online"] == true)
        .await;
    assert_eq!(
        bay["name"], "Dock 3 (cement)",
        "the name stays when the edge speaks"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_json_errors_and_change_nothing() {
    let relay = TestRelay::start(Which::Embedded).await;
    let edge = ScriptedEdge::connect(relay.mqtt_port, "bay-1", Mode::Respond).await;
    relay
        .wait_bay("bay-1", "online", |b| b["online"] == true)
        .await;
    let (s, body) = relay
        .post("/api/bays/bay-1/start", json!({"plate": "KT 1 SQL"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let session = body["session"]["id"].as_str().unwrap().to_owned();
    edge.count(Direction::In).await;

    // Malformed query strings and paths: the API's JSON error, not the framework's text.
    for path in [
        "/api/plates?limit=1&limit=2",
        "/api/audit?limit=99999999999999999999",
        "/api/sessions?plate=",
        "/api/sessions?limit=",
        "/api/sessions/%FF%FE",
    ] {
        let (s, body) = relay.get(path).await;
        assert!(s.is_client_error(), "{path}: {s}");
        assert!(body["error"].as_str().is_some(), "{path}: {body}");
    }
    // SQL metacharacters: a plate refuses them, a correction reason keeps them verbatim.
    let (s, body) = relay
        .post(
            "/api/bays/bay-1/stop",
            json!({"by": "api:x'); DROP TABLE sessions; --"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, _) = relay
        .get("/api/sessions?plate=KT%201%20SQL'%20OR%20'1'='1")
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let reason = "Robert'); DROP TABLE corrections; -- \" % _ \\";
    let (s, body) = relay
        .post(
            &format!("/api/sessions/{session}/corrections"),
            json!({"delta": -1.0, "reason": reason, "by": "Budi"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let (_, detail) = relay.get(&format!("/api/sessions/{session}")).await;
    assert_eq!(detail["corrections"][0]["reason"], reason);
    assert_eq!(
        (detail["count"].clone(), detail["corrected_count"].clone()),
        (json!(1), json!(0))
    );
    let (_, list) = relay.get("/api/sessions").await;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 1, "{list}");
    // A huge body is refused whole. (Its own client: the relay closes that connection without
    // reading the rest, and a pooled client would reuse it for the next request.)
    let r = reqwest::Client::new()
        .post(relay.url(&format!("/api/sessions/{session}/corrections")))
        .header("content-type", "application/json")
        .body(format!(
            "{{\"delta\": 1, \"reason\": \"{}\"}}",
            "x".repeat(200_000)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let (_, detail) = relay.get(&format!("/api/sessions/{session}")).await;
    assert_eq!(detail["corrections"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_correction_can_point_at_a_picture_of_its_own_session_only() {
    let relay = TestRelay::start(Which::Embedded).await;
    let mut edge = relay.scripted_edge("bay-1", Mode::Respond).await;
    // Two sessions, each with a start and a crossing, every event with its picture.
    let mut ids = vec![];
    for plate in ["DA 1 A", "DA 2 B"] {
        let session = relay.start_session("bay-1", plate).await;
        edge.count(Direction::In).await;
        relay.post("/api/bays/bay-1/stop", json!({})).await;
        for e in &edge.events_of(session) {
            edge.send_evidence(e, false).await;
        }
        edge.wait_stored_evidence(session, 3).await;
        ids.push(session);
    }
    let (a, b) = (ids[0], ids[1]);
    let path = format!("/api/sessions/{a}/corrections");

    let (s, c) = relay
        .post(
            &path,
            json!({"delta": -1, "reason": "counted twice: same sack", "evidence": format!("{a}-2")}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["evidence"], format!("{a}-2"));
    let (_, detail) = relay.get(&format!("/api/sessions/{a}")).await;
    assert_eq!(
        detail["corrections"][0]["evidence"],
        format!("{a}-2"),
        "{detail}"
    );

    for (evidence, says, status, code) in [
        (
            format!("{b}-2"),
            format!("is a picture of session {b}, not of session {a}"),
            StatusCode::CONFLICT,
            "unknown_evidence",
        ),
        (
            format!("{a}-9"),
            format!("session {a} has no piece of evidence"),
            StatusCode::CONFLICT,
            "unknown_evidence",
        ),
        (
            "sack".to_owned(),
            "an evidence id is a session id".to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_evidence",
        ),
    ] {
        let (s, e) = relay
            .post(
                &path,
                json!({"delta": -1, "reason": "x", "evidence": evidence}),
            )
            .await;
        assert_eq!(s, status, "{evidence}: {e}");
        assert_eq!(e["code"], code);
        assert!(
            e["error"].as_str().unwrap().contains(&says),
            "{evidence}: {e}"
        );
    }
    let (_, detail) = relay.get(&format!("/api/sessions/{a}")).await;
    assert_eq!(
        detail["corrections"].as_array().unwrap().len(),
        1,
        "nothing refused was kept: {detail}"
    );
    // The OpenAPI document has the field, asked and answered.
    let (_, doc) = relay.get("/api/openapi.json").await;
    for schema in ["CorrectionInput", "Correction"] {
        let field = &doc["components"]["schemas"][schema]["properties"]["evidence"];
        assert!(field.is_object(), "{schema}: {field}");
    }
}
