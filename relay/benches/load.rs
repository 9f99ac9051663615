//! Load benchmark: N simulated bays (real MQTT clients) publish count events to a real relay
//! (embedded broker, SQLite in a temp dir) while a WebSocket client watches.
//!
//! `cargo bench -p baycount-relay --bench load` runs two phases with 100 bays:
//! 1. paced: every bay counts at a fixed rate (`RATE` events/s per bay, default 60, so 6,000/s
//!    in all) for `SECONDS` (default 10): stored events/s and event-to-WebSocket latency.
//! 2. flood: every bay publishes `FLOOD` events (default 200) as fast as it can: the
//!    sustained store rate.
//!
//! Environment: `BAYS`, `RATE`, `SECONDS`, `FLOOD`, `MQTT=mqtt://host:port` to use an
//! external broker instead of the embedded one.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use baycount_protocol::*;
use baycount_relay::Relay;
use baycount_relay::config::{Broker, Config, MqttUrl};
use chrono::Utc;
use futures_util::StreamExt;
use rumqttc::{AsyncClient, MqttOptions, QoS};
use tokio::sync::Mutex;

use tokio_util::sync::CancellationToken;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Bay {
    id: BayId,
    client: AsyncClient,
    session: SessionId,
    seq: u64,
}

impl Bay {
    async fn publish(&mut self, kind: EventKind) {
        self.seq += 1;
        let ev = Event {
            session: self.session,
            seq: self.seq,
            at: Utc::now(),
            count: self.seq,
            out: 0,
            kind,
        };
        self.client
            .publish(
                Topic::new(self.id.clone(), Kind::Event).to_string(),
                QoS::AtLeastOnce,
                false,
                encode(&ev),
            )
            .await
            .unwrap();
    }
}

async fn connect_bay(i: u64, port: u16) -> Bay {
    let id = BayId::parse(&format!("load-{i:03}")).unwrap();
    let mut opts = MqttOptions::new(format!("loadgen-{i}"), "127.0.0.1", port);
    opts.set_inflight(100)
        .set_keep_alive(Duration::from_secs(30));
    let (client, mut eventloop) = AsyncClient::new(opts, 1000);
    tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
    client
        .publish(
            Topic::new(id.clone(), Kind::Status).to_string(),
            QoS::AtLeastOnce,
            true,
            "online",
        )
        .await
        .unwrap();
    let mut bay = Bay {
        id,
        client,
        session: SessionId::new(),
        seq: 0,
    };
    let plate = Plate::parse(&format!("B {i} LOAD")).unwrap();
    bay.publish(EventKind::Started {
        plate,
        by: Actor::new(ActorKind::Button, None),
    })
    .await;
    bay
}

async fn stored_total(http: &reqwest::Client, base: &str) -> u64 {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("baycount_events_stored_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

async fn wait_stored(http: &reqwest::Client, base: &str, target: u64) -> Instant {
    loop {
        if stored_total(http, base).await >= target {
            return Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let bays_n = env("BAYS", 100);
    let rate = env("RATE", 60);
    let seconds = env("SECONDS", 10);
    let flood = env("FLOOD", 200);
    let dir = tempfile::tempdir().unwrap();
    let broker = match std::env::var("MQTT") {
        Ok(url) => Broker::External(MqttUrl::parse(&url).unwrap()),
        Err(_) => Broker::Embedded {
            listen: "127.0.0.1:0".parse().unwrap(),
        },
    };
    let port = match &broker {
        Broker::External(u) => Some(u.port),
        Broker::Embedded { .. } => None,
    };
    let config = Config::new(
        "127.0.0.1:0".parse().unwrap(),
        broker,
        dir.path().join("bench.db"),
    );
    let relay = Relay::start(config, CancellationToken::new())
        .await
        .unwrap();
    let port = port.or(relay.mqtt_addr.map(|a| a.port())).unwrap();
    let base = format!("http://{}", relay.http_addr);
    let http = reqwest::Client::new();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut bays = Vec::new();
    for i in 0..bays_n {
        bays.push(connect_bay(i, port).await);
    }
    let mut expected = bays_n;
    wait_stored(&http, &base, expected).await;

    // The watcher: event-to-WebSocket latency of every count it sees.
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/api/ws", relay.http_addr))
        .await
        .unwrap();
    let latencies = Arc::new(Mutex::new(Vec::<f64>::new()));
    let recording = Arc::new(std::sync::atomic::AtomicBool::new(true));
    {
        let latencies = latencies.clone();
        let recording = recording.clone();
        tokio::spawn(async move {
            let (_, mut rx) = ws.split();
            while let Some(Ok(msg)) = rx.next().await {
                let Ok(text) = msg.to_text() else { continue };
                let now = Utc::now();
                if !recording.load(std::sync::atomic::Ordering::Relaxed)
                    || !text.starts_with("{\"type\":\"count\"")
                {
                    continue;
                }
                let v: serde_json::Value = serde_json::from_str(text).unwrap();
                let at: chrono::DateTime<Utc> = v["event"]["at"].as_str().unwrap().parse().unwrap();
                latencies
                    .lock()
                    .await
                    .push((now - at).num_microseconds().unwrap() as f64 / 1000.0);
            }
        });
    }

    // Phase 1: paced.
    println!(
        "paced: {bays_n} bays x {rate} events/s for {seconds} s = {} events/s offered",
        bays_n * rate
    );
    let start = Instant::now();
    let period = Duration::from_secs_f64(1.0 / rate as f64);
    let mut tasks = Vec::new();
    for (i, mut bay) in bays.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(
                tokio::time::Instant::now() + period.mul_f64(i as f64 / bays_n as f64),
                period,
            );
            let end = tokio::time::Instant::now() + Duration::from_secs(seconds);
            let mut sent = 0u64;
            while tick.tick().await < end {
                bay.publish(EventKind::Counted {
                    direction: Direction::In,
                    track: sent,
                })
                .await;
                sent += 1;
            }
            (bay, sent)
        }));
    }
    let mut sent = 0;
    let mut bays = Vec::new();
    for t in tasks {
        let (bay, n) = t.await.unwrap();
        bays.push(bay);
        sent += n;
    }
    expected += sent;
    let done = wait_stored(&http, &base, expected).await;
    recording.store(false, std::sync::atomic::Ordering::Relaxed);
    let elapsed = done.duration_since(start).as_secs_f64();
    let mut lat = std::mem::take(&mut *latencies.lock().await);
    lat.sort_by(|a, b| a.total_cmp(b));
    println!(
        "paced: {sent} events stored in {elapsed:.2} s = {:.0} events/s; WebSocket latency over {} counts: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        sent as f64 / elapsed,
        lat.len(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN)
    );

    // Phase 2: flood.
    let start = Instant::now();
    let mut tasks = Vec::new();
    for mut bay in bays {
        tasks.push(tokio::spawn(async move {
            for n in 0..flood {
                bay.publish(EventKind::Counted {
                    direction: Direction::In,
                    track: n,
                })
                .await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    expected += bays_n * flood;
    let done = wait_stored(&http, &base, expected).await;
    let elapsed = done.duration_since(start).as_secs_f64();
    println!(
        "flood: {} events stored in {elapsed:.2} s = {:.0} events/s",
        bays_n * flood,
        (bays_n * flood) as f64 / elapsed
    );
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .unwrap_or_default();
    println!(
        "peak RSS of relay + load generator: {}",
        rss.trim_start_matches("VmHWM:").trim()
    );
    relay.stop().await;
}
