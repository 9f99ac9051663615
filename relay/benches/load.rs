//! Load benchmark: N simulated bays (real MQTT clients) publish count events to the relay
//! binary, run as its own process (embedded broker, SQLite in a temp dir), while WebSocket
//! clients watch.
//!
//! `cargo bench -p baycount-relay --bench load` runs two phases with 200 bays and 100
//! WebSocket clients:
//! 1. paced: every bay counts at `RATE` events/s (default 5) for `SECONDS` (default 60):
//!    stored events/s, event-to-WebSocket latency p50/p99 over every client, the relay's CPU.
//! 2. flood: every bay publishes `FLOOD` events (default 200) as fast as it can: the
//!    sustained store rate.
//!
//! Then it checks nothing was lost: every event stored once (the relay's counter), every
//! session's count in the history equal to what its bay sent, every WebSocket client shown
//! every count; and prints the relay's peak memory. It fails if anything was lost.
//! `.ci/run` runs a short version in debug (`cargo test --bench load` with small numbers).
//!
//! Environment: `BAYS`, `RATE`, `SECONDS`, `FLOOD`, `WS_CLIENTS`.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use baycount_protocol::*;
use baycount_testkit::RelayProcess;
use chrono::Utc;
use futures_util::StreamExt;
use rumqttc::{AsyncClient, MqttOptions, QoS};
use tokio::sync::Mutex;

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
            // Counted events so far (the session's first event, `started`, is seq 1 at count 0).
            count: self.seq - 1,
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
    // Refused or cut (the relay limits logins in progress per address): connect again, as an
    // edge does.
    tokio::spawn(async move {
        loop {
            if eventloop.poll().await.is_err() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
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

/// What `/proc` says about the relay process.
struct Usage {
    pid: u32,
}

impl Usage {
    /// CPU seconds (user + system) the relay has used so far.
    fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap();
        // Fields after the command name's closing parenthesis; utime and stime are 14 and 15.
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
        let hz = std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse::<f64>().ok())
            .unwrap_or(100.0);
        ticks / hz
    }

    /// The relay's peak resident memory.
    fn peak_rss(&self) -> String {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .map(str::to_owned)
            })
            .unwrap_or_default()
            .trim_start_matches("VmHWM:")
            .trim()
            .to_owned()
    }
}

/// What one WebSocket client saw: event-to-screen latencies and the last count per bay.
#[derive(Default)]
struct Seen {
    latencies_ms: Vec<f64>,
    last: std::collections::HashMap<String, u64>,
    counts: u64,
    /// Times the relay dropped this client for falling behind and it connected again.
    reconnects: u64,
}

#[tokio::main]
async fn main() {
    let bays_n = env("BAYS", 200);
    let rate = env("RATE", 5);
    let seconds = env("SECONDS", 60);
    let flood = env("FLOOD", 200);
    let ws_clients = env("WS_CLIENTS", 100);
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start(&dir.path().join("bench.db"), &[]).await;
    let usage = Usage { pid: relay.pid() };
    let base = format!("http://{}", relay.http);
    let http = reqwest::Client::new();

    let mut bays = Vec::new();
    for i in 0..bays_n {
        bays.push(connect_bay(i, relay.mqtt_port()).await);
    }
    let mut expected = bays_n;
    wait_stored(&http, &base, expected).await;

    // The watchers: every count each of them is shown.
    let recording = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut watchers = Vec::new();
    for _ in 0..ws_clients {
        let url = format!("ws://{}/api/ws", relay.http);
        let (ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        watchers.push(seen.clone());
        let recording = recording.clone();
        tokio::spawn(async move {
            let mut ws = Some(ws);
            // Like the dashboard: a client the relay dropped (too slow) connects again.
            loop {
                let socket = match ws.take() {
                    Some(s) => s,
                    None => match tokio_tungstenite::connect_async(&url).await {
                        Ok((s, _)) => {
                            seen.lock().await.reconnects += 1;
                            s
                        }
                        Err(_) => return,
                    },
                };
                let (_, mut rx) = socket.split();
                while let Some(Ok(msg)) = rx.next().await {
                    let Ok(text) = msg.to_text() else { continue };
                    let now = Utc::now();
                    let v: serde_json::Value = serde_json::from_str(text).unwrap();
                    if v["type"] != "count" {
                        // A client that falls behind is sent a fresh snapshot instead of the backlog.
                        let bays = match v["type"].as_str() {
                            Some("snapshot") => v["bays"].as_array().cloned().unwrap_or_default(),
                            Some("bay") => vec![v["bay"].clone()],
                            _ => vec![],
                        };
                        let mut seen = seen.lock().await;
                        for b in bays {
                            let id = b["bay"].as_str().unwrap_or_default().to_owned();
                            let last = seen.last.entry(id).or_insert(0);
                            *last = (*last).max(b["count"].as_u64().unwrap_or(0));
                        }
                        continue;
                    }
                    let mut seen = seen.lock().await;
                    seen.counts += 1;
                    let bay = v["bay"]["bay"].as_str().unwrap_or_default().to_owned();
                    let count = v["bay"]["count"].as_u64().unwrap_or(0);
                    let last = seen.last.entry(bay).or_insert(0);
                    *last = (*last).max(count);
                    if recording.load(std::sync::atomic::Ordering::Relaxed) {
                        let at: chrono::DateTime<Utc> =
                            v["event"]["at"].as_str().unwrap().parse().unwrap();
                        seen.latencies_ms
                            .push((now - at).num_microseconds().unwrap() as f64 / 1000.0);
                    }
                }
            }
        });
    }

    // Phase 1: paced.
    println!(
        "paced: {bays_n} bays x {rate} events/s for {seconds} s = {} events/s offered, {ws_clients} WebSocket clients",
        bays_n * rate
    );
    let cpu_before = usage.cpu_seconds();
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
    let cpu = usage.cpu_seconds() - cpu_before;
    let mut lat = Vec::new();
    for w in &watchers {
        lat.extend(std::mem::take(&mut w.lock().await.latencies_ms));
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    println!(
        "paced: {sent} events stored in {elapsed:.2} s = {:.0} events/s; relay CPU {:.0} % of one core; event-to-WebSocket latency over {} deliveries: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        sent as f64 / elapsed,
        100.0 * cpu / elapsed,
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
            bay
        }));
    }
    let mut bays = Vec::new();
    for t in tasks {
        bays.push(t.await.unwrap());
    }
    expected += bays_n * flood;
    let done = wait_stored(&http, &base, expected).await;
    let elapsed = done.duration_since(start).as_secs_f64();
    println!(
        "flood: {} events stored in {elapsed:.2} s = {:.0} events/s",
        bays_n * flood,
        (bays_n * flood) as f64 / elapsed
    );

    // Nothing lost: the history and every watcher agree with what each bay sent.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stored = stored_total(&http, &base).await;
    assert_eq!(stored, expected, "every event stored exactly once");
    let sessions: serde_json::Value = http
        .get(format!("{base}/api/sessions?limit=1000"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let by_bay: std::collections::HashMap<String, u64> = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["bay"].as_str().unwrap().to_owned(),
                s["count"].as_u64().unwrap(),
            )
        })
        .collect();
    // Clients the relay dropped as too slow reconnect and get a snapshot: give them 10 s.
    let settle = Instant::now();
    let (short_watchers, deliveries, reconnects) = loop {
        let (mut short, mut deliveries, mut reconnects) = (0, 0, 0);
        for w in &watchers {
            let w = w.lock().await;
            deliveries += w.counts;
            reconnects += w.reconnects;
            if bays
                .iter()
                .any(|b| w.last.get(b.id.as_str()).copied() != Some(b.seq - 1))
            {
                short += 1;
            }
        }
        if short == 0 || settle.elapsed() > Duration::from_secs(10) {
            break (short, deliveries, reconnects);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for b in &bays {
        assert_eq!(
            by_bay.get(b.id.as_str()).copied(),
            Some(b.seq - 1),
            "{}'s session count",
            b.id
        );
    }
    assert_eq!(
        short_watchers, 0,
        "every WebSocket client ends on every bay's final count"
    );
    println!(
        "nothing lost: {stored} events stored, {bays_n} session counts as sent, {ws_clients} WebSocket clients on every final count ({deliveries} count updates delivered, {reconnects} reconnections of clients dropped as too slow)"
    );
    println!("relay peak RSS: {}", usage.peak_rss());
}
