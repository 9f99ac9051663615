//! Sessions driven from every surface: the API (with the live WebSocket), the bay's button, and
//! commands delivered twice or too late.

use std::time::{Duration, Instant};

use baycount_protocol::{Ack, Action, CommandId, Phase, Plate, SessionId, encode};
use baycount_testkit::{TestRelay, Which};
use serde_json::Value;

use crate::SERIAL;
use crate::edge::Edge;
use crate::flow::*;
use crate::footage::*;

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

/// A raw MQTT client on the bay's command and ack topics, as a second relay might be.
pub async fn commander(port: u16) -> (rumqttc::AsyncClient, tokio::sync::mpsc::Receiver<Ack>) {
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

pub async fn ack_of(acks: &mut tokio::sync::mpsc::Receiver<Ack>, id: CommandId) -> Ack {
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
