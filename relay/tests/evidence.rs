//! The relay's side of evidence: each event's picture, sent by the bay on `evidence`, is stored
//! once whatever the order or how often it comes, confirmed in `stored.evidence` so the edge can
//! forget it, listed and served by the API to viewers, and counted in `/metrics`; what is not
//! evidence is refused with a log and loses nothing.

#![allow(clippy::unwrap_used)]

use baycount_protocol::*;
use baycount_testkit::*;
use chrono::{SubsecRound, Utc};
use reqwest::StatusCode;

const OPERATOR: &str = "op-7c1f";
const VIEWER: &str = "view-2b9e";

/// A session of a start, three crossings (the second `out`) and a stop: seqs 1 to 5.
fn session_events(session: SessionId) -> Vec<Event> {
    use Direction::{In, Out};
    baycount_testkit::session::events(session, "KT 8899 TEST", &[In, Out, In], 10, 30)
}

/// The piece of seq 3 is dropped on the edge.
const DROPPED: u64 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_is_stored_once_confirmed_listed_and_served() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start_with_env(
        &dir.path().join("history.db"),
        &[],
        &[
            ("BAYCOUNT_API_TOKEN", OPERATOR),
            ("BAYCOUNT_VIEWER_TOKEN", VIEWER),
        ],
    )
    .await;
    let api = relay.api().with_token(VIEWER);
    let mut edge = ScriptedEdge::connect(relay.mqtt_port(), "bay-1", Mode::Respond).await;
    let session = SessionId::new();
    let events = session_events(session);
    let pieces: Vec<Evidence> = events
        .iter()
        .map(|e| evidence_of(e, e.seq == DROPPED))
        .collect();

    // Pictures may come before their events (separate topics): the first two do here. Then a
    // malformed piece (its picture is not a JPEG), and a resend of piece 2.
    for p in &pieces[..2] {
        edge.publish_raw(Kind::Evidence, &p.encode());
    }
    for e in &events {
        edge.publish_raw(Kind::Event, &encode(e));
    }
    let mut bad = pieces[3].encode();
    let end = bad.iter().position(|&b| b == b'\n').unwrap();
    bad.truncate(end + 1);
    bad.extend_from_slice(b"GIF89a");
    edge.publish_raw(Kind::Evidence, &bad);
    for p in &pieces[2..] {
        edge.publish_raw(Kind::Evidence, &p.encode());
    }
    edge.publish_raw(Kind::Evidence, &pieces[1].encode());
    edge.wait_stored(session, 5).await;
    let stored = edge.wait_stored_evidence(session, 5).await;
    assert_eq!(stored.evidence[&session], 5, "{stored:?}");
    assert_eq!(stored.sessions[&session], 5, "the events' cursor as before");

    // Another bay cannot add to bay-1's session.
    let other = ScriptedEdge::connect(relay.mqtt_port(), "bay-2", Mode::Respond).await;
    let mut forged = evidence_of(&events[1], false);
    forged.jpeg = PICTURE.to_vec();
    other.publish_raw(Kind::Evidence, &forged.encode());
    eventually(10, "the forged piece refused", || async {
        let line = "baycount_evidence_refused_total{reason=\"wrong_bay\"} ";
        (api.metric(line).await == 1.0).then_some(())
    })
    .await;

    // Listed in seq order, each with its picture but the dropped one.
    let (status, body) = api.get(&format!("/api/sessions/{session}/evidence")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let list = body["evidence"].as_array().unwrap();
    let seqs: Vec<u64> = list.iter().map(|p| p["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5], "{body}");
    let kinds: Vec<&str> = list.iter().map(|p| p["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["start", "crossing", "crossing", "crossing", "stop"]);
    assert_eq!(list[2]["direction"], "out");
    assert_eq!(list[1]["track"], 10);
    for (p, piece) in list.iter().zip(&pieces) {
        let id = format!("{session}-{}", piece.header.seq);
        assert_eq!(p["id"], id.as_str());
        assert_eq!(
            p["time"]
                .as_str()
                .unwrap()
                .parse::<chrono::DateTime<Utc>>()
                .unwrap(),
            piece.header.at.trunc_subsecs(3),
        );
        if piece.header.dropped {
            assert_eq!(p["url"], serde_json::Value::Null, "{p}");
            assert_eq!(p["dropped"], true);
            let (status, err) = api.get(&format!("/api/evidence/{id}.jpg")).await;
            assert_eq!(status, StatusCode::GONE, "{err}");
            assert_eq!(err["code"], "evidence_dropped");
            continue;
        }
        assert_eq!(p["dropped"], false);
        assert_eq!(p["pruned"], false);
        let url = format!("/api/evidence/{id}.jpg");
        assert_eq!(p["url"], url.as_str());
        let r = api
            .request(reqwest::Method::GET, &url)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "image/jpeg");
        assert!(
            r.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        assert_eq!(r.bytes().await.unwrap().as_ref(), piece.jpeg.as_slice());
    }

    // Viewers only; `?access_token=` for `<img src>`.
    let open = relay.api();
    let url = format!("/api/evidence/{session}-1.jpg");
    for path in [format!("/api/sessions/{session}/evidence"), url.clone()] {
        assert_eq!(open.get(&path).await.0, StatusCode::UNAUTHORIZED, "{path}");
    }
    let r = open
        .request(
            reqwest::Method::GET,
            &format!("{url}?access_token={VIEWER}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().as_ref(), pieces[0].jpeg.as_slice());

    // Unknown ids: the API's 404.
    let stranger = SessionId::new();
    for path in [
        format!("/api/sessions/{stranger}/evidence"),
        "/api/sessions/nonsense/evidence".to_owned(),
        format!("/api/evidence/{stranger}-1.jpg"),
        format!("/api/evidence/{session}-9.jpg"),
        format!("/api/evidence/{session}-1.png"),
        format!("/api/evidence/{session}-0.jpg"),
        "/api/evidence/nonsense.jpg".to_owned(),
    ] {
        let (status, err) = api.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {err}");
        assert_eq!(err["code"], "not_found", "{path}");
        assert!(err["error"].as_str().unwrap().contains("no "), "{err}");
    }

    // Counted, and the malformed piece logged.
    for (line, want) in [
        ("baycount_evidence_stored_total ", 5.0),
        ("baycount_evidence_duplicate_total ", 1.0),
        ("baycount_evidence_dropped_total ", 1.0),
        ("baycount_mqtt_malformed_total ", 1.0),
        ("baycount_events_stored_total ", 5.0),
    ] {
        assert_eq!(api.metric(line).await, want, "{line}");
    }
    let log = relay.log();
    assert!(
        log.contains("dropped a message on \"baycount/v1/bay-1/evidence\""),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "refused evidence 2 of session {session} from bay bay-2"
        )),
        "{log}"
    );
}

/// An edge that comes back to a restarted relay with only pictures left to send (its events were
/// confirmed before): the relay has no memory of the session but confirms them all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pictures_alone_are_confirmed_after_a_relay_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut relay = RelayProcess::start(&dir.path().join("history.db"), &[]).await;
    let mut edge = ScriptedEdge::connect(relay.mqtt_port(), "bay-1", Mode::Respond).await;
    let session = SessionId::new();
    let events = session_events(session);
    for e in &events {
        edge.publish_raw(Kind::Event, &encode(e));
    }
    edge.wait_stored(session, 5).await;

    relay.kill();
    relay.restart().await;
    for e in &events {
        edge.publish_raw(Kind::Evidence, &evidence_of(e, false).encode());
    }
    let stored = edge.wait_stored_evidence(session, 5).await;
    assert_eq!(stored.evidence[&session], 5, "{stored:?}");
    let (_, body) = relay
        .api()
        .get(&format!("/api/sessions/{session}/evidence"))
        .await;
    assert_eq!(body["evidence"].as_array().unwrap().len(), 5, "{body}");
}
