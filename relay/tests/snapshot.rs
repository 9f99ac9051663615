//! The live view: `GET /api/bays/{bay}/snapshot.jpg` asks the bay's edge for its newest picture
//! over MQTT (a `snapshot` command with `picture`, answered on the bay's `snapshot` topic),
//! keeps it a moment for every viewer, and says clearly when the bay cannot answer.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use baycount_testkit::*;
use reqwest::StatusCode;
use rumqttc::{AsyncClient, Event as MqttEvent, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;

/// Counts the commands published to bay-1 (the embedded broker has no passwords here).
async fn command_spy(port: u16) -> (AsyncClient, mpsc::UnboundedReceiver<String>) {
    let opts = MqttOptions::new(unique_client_id("spy"), "127.0.0.1", port);
    let (client, mut events) = AsyncClient::new(opts, 10);
    client
        .subscribe("baycount/v1/bay-1/cmd", QoS::AtLeastOnce)
        .await
        .unwrap();
    let (tx, mut subscribed) = mpsc::unbounded_channel();
    let (cmd_tx, commands) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(ev) = events.poll().await {
            match ev {
                MqttEvent::Incoming(Packet::SubAck(_)) => {
                    let _ = tx.send(());
                }
                MqttEvent::Incoming(Packet::Publish(p)) => {
                    let _ = cmd_tx.send(String::from_utf8_lossy(&p.payload).into_owned());
                }
                _ => {}
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), subscribed.recv())
        .await
        .expect("subscribed within 10 s");
    (client, commands)
}

fn drain(rx: &mut mpsc::UnboundedReceiver<String>) -> Vec<String> {
    std::iter::from_fn(|| rx.try_recv().ok()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_bay_sends_its_picture_once_for_many_viewers() {
    let relay = TestRelay::start(Which::Embedded).await;
    let _edge = ScriptedEdge::connect(relay.mqtt_port, "bay-1", Mode::Respond).await;
    relay
        .wait_bay("bay-1", "online", |b| b["online"] == true)
        .await;
    let (_spy, mut commands) = command_spy(relay.mqtt_port).await;
    let url = relay.url("/api/bays/bay-1/snapshot.jpg");
    let viewers = (0..4).map(|_| relay.client.get(&url).send());
    for r in futures_util::future::join_all(viewers).await {
        let r = r.expect("request");
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "image/jpeg");
        assert_eq!(r.headers()["cache-control"], "no-store");
        assert!(r.headers().contains_key("last-modified"));
        // A bay that does not say which part it shows shows the whole picture.
        assert_eq!(r.headers()["x-baycount-region"], "0,0,1,1");
        assert_eq!(r.bytes().await.expect("body").as_ref(), PICTURE);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let asked = drain(&mut commands);
    assert_eq!(asked.len(), 1, "one picture for four viewers: {asked:?}");
    assert!(
        asked[0].contains(r#""type":"snapshot","picture":true"#),
        "{}",
        asked[0]
    );
    // Some time later the picture is asked for again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = relay.client.get(&url).send().await.expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(drain(&mut commands).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bay_that_cannot_answer_gets_a_clear_error() {
    let relay = TestRelay::start_with(Which::Embedded, |c| {
        c.ack_timeout = Duration::from_secs(1);
    })
    .await;
    let (status, body) = relay.get("/api/bays/bay-9/snapshot.jpg").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["code"], "unknown_bay");

    let silent = ScriptedEdge::connect(relay.mqtt_port, "bay-1", Mode::Silent).await;
    relay
        .wait_bay("bay-1", "online", |b| b["online"] == true)
        .await;
    let (status, body) = relay.get("/api/bays/bay-1/snapshot.jpg").await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert_eq!(body["code"], "bay_not_responding");

    silent.disconnect().await;
    relay
        .wait_bay("bay-1", "offline", |b| b["online"] == false)
        .await;
    let (status, body) = relay.get("/api/bays/bay-1/snapshot.jpg").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "bay_offline");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("offline"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_need_their_token_for_the_picture() {
    let relay = TestRelay::start_with(Which::Embedded, |c| {
        c.viewer_token = Some("view-5150".into());
    })
    .await;
    let _edge = ScriptedEdge::connect(relay.mqtt_port, "bay-1", Mode::Respond).await;
    let url = relay.url("/api/bays/bay-1/snapshot.jpg");
    let r = relay.client.get(&url).send().await.expect("request");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let ok = eventually(10, "the bay online and its picture shown", || async {
        let r = relay
            .client
            .get(&url)
            .bearer_auth("view-5150")
            .send()
            .await
            .ok()?;
        (r.status() == StatusCode::OK).then_some(r.bytes().await.ok()?)
    })
    .await;
    assert_eq!(ok.as_ref(), PICTURE);
}

/// A bay that answers every command by refusing it with `reason`, as an edge without a frame
/// refuses a picture.
async fn refusing_bay(port: u16, reason: &'static str) -> AsyncClient {
    use baycount_protocol::{Ack, BayState, Command, encode};
    let mut opts = MqttOptions::new(unique_client_id("bay-7"), "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(5));
    let (client, mut events) = AsyncClient::new(opts, 10);
    client
        .subscribe("baycount/v1/bay-7/cmd", QoS::AtLeastOnce)
        .await
        .unwrap();
    client
        .publish("baycount/v1/bay-7/status", QoS::AtLeastOnce, true, "online")
        .await
        .unwrap();
    let replies = client.clone();
    tokio::spawn(async move {
        while let Ok(ev) = events.poll().await {
            if let MqttEvent::Incoming(Packet::Publish(p)) = ev {
                let Ok(cmd) = serde_json::from_slice::<Command>(&p.payload) else {
                    continue;
                };
                let ack = Ack {
                    id: cmd.id,
                    ok: false,
                    reason: Some(reason.into()),
                    state: BayState::idle(chrono::Utc::now()),
                    session: None,
                };
                let _ = replies
                    .publish(
                        "baycount/v1/bay-7/ack",
                        QoS::AtLeastOnce,
                        false,
                        encode(&ack),
                    )
                    .await;
            }
        }
    });
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bay_without_a_frame_says_why() {
    let relay = TestRelay::start(Which::Embedded).await;
    let _bay = refusing_bay(relay.mqtt_port, "no picture yet: check the bay's camera").await;
    relay
        .wait_bay("bay-7", "online", |b| b["online"] == true)
        .await;
    let (status, body) = relay.get("/api/bays/bay-7/snapshot.jpg").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "refused_by_bay");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("no picture yet"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_of_a_silent_bay_share_one_wait() {
    let relay = TestRelay::start_with(Which::Embedded, |c| {
        c.ack_timeout = Duration::from_secs(2);
    })
    .await;
    let _silent = ScriptedEdge::connect(relay.mqtt_port, "bay-1", Mode::Silent).await;
    relay
        .wait_bay("bay-1", "online", |b| b["online"] == true)
        .await;
    let (_spy, mut commands) = command_spy(relay.mqtt_port).await;
    let url = relay.url("/api/bays/bay-1/snapshot.jpg");
    let viewers = (0..3).map(|_| relay.client.get(&url).send());
    for r in futures_util::future::join_all(viewers).await {
        assert_eq!(r.expect("request").status(), StatusCode::GATEWAY_TIMEOUT);
    }
    assert_eq!(
        drain(&mut commands).len(),
        1,
        "the viewers waiting behind the first request share its silence"
    );
}
