//! What an outside attack on a running relay tried and the relay held, kept so it keeps
//! holding: MQTT system and shared subscriptions, client-id takeover, QoS 2 to another bay's
//! topic, a CONNECT that never comes; path traversal, CORS, and lockout dodged by forwarded
//! headers.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use baycount_protocol::*;
use baycount_testkit::*;
use reqwest::StatusCode;
use rumqttc::{AsyncClient, ConnectionError, Event as MqttEvent, MqttOptions, Packet, QoS};
use serde_json::json;
use tokio::io::AsyncReadExt;

async fn relay_with_bays(dir: &Path) -> TestRelay {
    let file = bays::password_file(dir, &bays::TWO_BAYS);
    TestRelay::start_with(Which::Embedded, |c| {
        c.broker_security.password_file = Some(file);
    })
    .await
}

/// A client logged in as `bay` with client id `id`, once the broker accepted it.
async fn client(port: u16, bay: &'static str, id: &str) -> (AsyncClient, rumqttc::EventLoop) {
    let mut opts = MqttOptions::new(id, "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(5));
    bays::login_as(bay)(&mut opts);
    let (client, mut events) = AsyncClient::new(opts, 100);
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let MqttEvent::Incoming(Packet::ConnAck(_)) = events.poll().await.unwrap() {
                break;
            }
        }
    })
    .await
    .expect("accepted within 10 s");
    (client, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_and_shared_subscriptions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay_with_bays(dir.path()).await;
    let _edge = ScriptedEdge::connect_with(
        relay.mqtt_port,
        "bay-1",
        Mode::Respond,
        bays::login_as("bay-1"),
    )
    .await;
    let (intruder, mut events) = client(relay.mqtt_port, "bay-2", "intruder").await;
    let filters = [
        "$SYS/#",
        "$share/g/baycount/v1/bay-1/cmd",
        "$share/g/#",
        "baycount/v1/+/event",
    ];
    for f in filters {
        intruder.subscribe(f, QoS::AtLeastOnce).await.unwrap();
    }
    relay
        .wait_bay("bay-1", "online", |b| b["online"] == true)
        .await;
    let (status, body) = relay
        .post("/api/bays/bay-1/start", json!({"plate": "B 1 SYS"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut refused = 0;
    let mut heard = vec![];
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        while let Ok(ev) = events.poll().await {
            match ev {
                MqttEvent::Incoming(Packet::SubAck(ack)) => {
                    assert!(
                        ack.return_codes
                            .iter()
                            .all(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure)),
                        "{ack:?}"
                    );
                    refused += 1;
                }
                MqttEvent::Incoming(Packet::Publish(p)) => heard.push(p.topic),
                _ => {}
            }
        }
    })
    .await;
    assert_eq!(refused, filters.len(), "every subscription refused");
    assert!(
        heard.iter().all(|t| !t.contains("bay-1")),
        "bay-2 heard {heard:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_bay_cannot_take_over_a_client_id() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay_with_bays(dir.path()).await;
    let (_one, mut one_events) = client(relay.mqtt_port, "bay-1", "edge-bay-1").await;
    // bay-2 connects with bay-1's client id: on a plain broker, bay-1 would be thrown off.
    let (_two, _two_events) = client(relay.mqtt_port, "bay-2", "edge-bay-1").await;
    let kicked = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match one_events.poll().await {
                Ok(_) => {}
                Err(e) => return e,
            }
        }
    })
    .await;
    assert!(kicked.is_err(), "bay-1 was disconnected: {kicked:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos_2_to_another_bays_topic_closes_the_connection_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay_with_bays(dir.path()).await;
    let edge = ScriptedEdge::connect_with(
        relay.mqtt_port,
        "bay-1",
        Mode::Respond,
        bays::login_as("bay-1"),
    )
    .await;
    relay
        .wait_bay("bay-1", "online", |b| b["online"] == true)
        .await;
    let mut state = edge.state();
    state.count = 999;
    let (intruder, mut events) = client(relay.mqtt_port, "bay-2", "qos2").await;
    intruder
        .publish(
            "baycount/v1/bay-1/state",
            QoS::ExactlyOnce,
            true,
            encode(&state),
        )
        .await
        .unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Err(e) = events.poll().await {
                return e;
            }
        }
    })
    .await
    .expect("the gate closes the connection");
    assert!(
        !matches!(ended, ConnectionError::ConnectionRefused(_)),
        "{ended:?}"
    );
    let bay = relay.bay("bay-1").await.unwrap();
    assert_eq!(bay["count"], 0, "{bay}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_never_logs_in_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay_with_bays(dir.path()).await;
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", relay.mqtt_port))
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(30), socket.read(&mut buf))
        .await
        .expect("closed by the relay, not left open");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
}

#[tokio::test]
async fn paths_outside_the_api_and_dashboard_are_not_served() {
    let relay = TestRelay::start(Which::Embedded).await;
    for path in [
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/vendor/..%2f..%2f..%2fCargo.toml",
        "/vendor/%2e%2e/%2e%2e/relay/src/main.rs",
        "/app.js/../../etc/passwd",
        "//etc/passwd",
    ] {
        let r = relay.client.get(relay.url(path)).send().await.unwrap();
        let status = r.status();
        let body = r.text().await.unwrap();
        assert!(!body.contains("root:x:0"), "{path} served /etc/passwd");
        assert!(!body.contains("[package]"), "{path} served a source file");
        assert!(!body.contains("fn main"), "{path} served a source file");
        assert!(
            status == StatusCode::NOT_FOUND || status.is_client_error(),
            "{path}: {status}"
        );
    }
}

#[tokio::test]
async fn no_cross_origin_reads() {
    let relay = TestRelay::start(Which::Embedded).await;
    let preflight = relay
        .client
        .request(reqwest::Method::OPTIONS, relay.url("/api/bays/bay-1/start"))
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(
        !preflight
            .headers()
            .contains_key("access-control-allow-origin"),
        "{:?}",
        preflight.headers()
    );
    for path in [
        "/api/state",
        "/api/sessions",
        "/api/sessions.csv",
        "/metrics",
    ] {
        let r = relay
            .client
            .get(relay.url(path))
            .header("origin", "http://evil.example")
            .send()
            .await
            .unwrap();
        assert!(
            !r.headers().contains_key("access-control-allow-origin"),
            "{path}: {:?}",
            r.headers()
        );
    }
}

#[tokio::test]
async fn forwarded_headers_do_not_dodge_the_lockout() {
    let relay = TestRelay::start_with(Which::Embedded, |c| {
        c.api_token = Some("op-token-7781".into());
        c.viewer_token = Some("view-token-1233".into());
    })
    .await;
    let get = |token: String, i: usize| {
        relay
            .client
            .get(relay.url("/api/state"))
            .bearer_auth(token)
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .header("x-real-ip", format!("198.51.100.{i}"))
            .header("forwarded", format!("for=192.0.2.{i}"))
            .send()
    };
    for i in 0..baycount_relay::lockout::MAX_FAILURES as usize {
        get(format!("guess-{i}"), i).await.unwrap();
    }
    let right = get("view-token-1233".into(), 200).await.unwrap();
    assert_eq!(
        right.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "a new forwarded address is the same caller"
    );
}
