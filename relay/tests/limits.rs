//! The relay binary under a descriptor flood: run with a low open files limit, it keeps its
//! connection caps inside it, so one address holding as many idle sockets as it can on the MQTT
//! and HTTP ports keeps neither the bays from logging in nor the API from answering; the
//! refusals show in `/metrics` and are logged in sums, not once per socket.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use baycount_relay::broker::users::set_password;
use baycount_testkit::*;
use rumqttc::{AsyncClient, ConnectionError, Event, MqttOptions, Packet, QoS};
use tokio::net::{TcpSocket, TcpStream};
use tokio_util::sync::CancellationToken;

/// The relay's open files limit in this test (a Linux default is 1024).
const OPEN_FILES: u64 = 512;
/// How many idle sockets the attacker tries to hold.
const FLOOD: usize = 3000;
const BAYS: usize = 8;

/// Where the attack comes from: Linux routes all of 127/8 to loopback, so this is another
/// address than the bays' 127.0.0.1.
const ATTACKER: &str = "127.0.0.2";

/// Raises this test process's own soft open files limit to its hard one (for the flood).
fn raise_own_limit() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let _ = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        },
    );
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// One idle socket from the attacker's address to `to`, or why not (after 5 s: not at all).
async fn attacker_socket(to: SocketAddr) -> Result<TcpStream, String> {
    let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
    socket
        .bind(format!("{ATTACKER}:0").parse().expect("address"))
        .map_err(|e| format!("bind: {e}"))?;
    match tokio::time::timeout(Duration::from_secs(5), socket.connect(to)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(format!("connect: {e}")),
        Err(_) => Err("connect: no answer within 5 s".into()),
    }
}

/// What the attacker managed.
#[derive(Debug)]
struct Flooded {
    /// Sockets held at once after the first fill.
    held: usize,
    /// Why the fill stopped before [`FLOOD`], if it did.
    stopped: Option<String>,
}

/// Opens idle sockets to `targets` in turn until [`FLOOD`] are held or one cannot be opened
/// (out of descriptors, refused, no answer), reports that, then keeps the flood up until
/// `stop`: every 100 ms the 20 oldest are replaced, so the relay's handshake slots for this
/// address never fall free by timing out. Returns how many sockets it opened in all.
async fn flood(
    targets: [SocketAddr; 2],
    filled: tokio::sync::oneshot::Sender<Flooded>,
    stop: CancellationToken,
) -> usize {
    let mut held: VecDeque<TcpStream> = VecDeque::new();
    let mut opened = 0;
    let mut stopped = None;
    while held.len() < FLOOD {
        match attacker_socket(targets[opened % 2]).await {
            Ok(s) => {
                held.push_back(s);
                opened += 1;
            }
            Err(e) => {
                stopped = Some(e);
                break;
            }
        }
    }
    let _ = filled.send(Flooded {
        held: held.len(),
        stopped,
    });
    while !stop.is_cancelled() {
        for _ in 0..20 {
            held.pop_front();
            if let Ok(s) = attacker_socket(targets[opened % 2]).await {
                held.push_back(s);
                opened += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    opened
}

/// Logs `bay` in with its password and publishes its status; returns the client, whose event
/// loop keeps running, once the broker has acknowledged the publish.
async fn bay_logs_in_and_publishes(port: u16, bay: String) -> tokio::task::JoinHandle<()> {
    let mut opts = MqttOptions::new(unique_client_id(&bay), "127.0.0.1", port);
    opts.set_credentials(bay.clone(), format!("{bay}-pw"));
    opts.set_keep_alive(Duration::from_secs(5));
    let (client, mut events) = AsyncClient::new(opts, 10);
    let logged_in = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(ConnectionError::ConnectionRefused(code)) => {
                    return Err(format!("refused: {code:?}"));
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    })
    .await
    .unwrap_or_else(|_| Err("no CONNACK within 10 s".into()));
    if let Err(e) = logged_in {
        panic!("{bay} could not log in during the flood: {e}");
    }
    client
        .publish(
            format!("baycount/v1/{bay}/status"),
            QoS::AtLeastOnce,
            true,
            "online",
        )
        .await
        .expect("queued");
    let acked = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    })
    .await
    .unwrap_or_else(|_| Err("no PUBACK within 10 s".into()));
    if let Err(e) = acked {
        panic!("{bay} could not publish during the flood: {e}");
    }
    tokio::spawn(async move {
        let _client = client;
        while events.poll().await.is_ok() {}
    })
}

/// The value of the sample `name` (with its labels, as written) in a Prometheus text.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

fn relay_config(dir: &Path) -> String {
    let passwd = dir.join("mqtt.passwd");
    for i in 1..=BAYS {
        set_password(&passwd, &format!("bay-{i}"), &format!("bay-{i}-pw")).expect("password");
    }
    let config = dir.join("relay.toml");
    std::fs::write(
        &config,
        format!("[broker]\npassword_file = \"{}\"\n", passwd.display()),
    )
    .expect("config");
    config.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_flood_from_one_address_leaves_the_bays_and_the_api_working() {
    let started = std::time::Instant::now();
    let own_limit = raise_own_limit();
    let dir = tempfile::tempdir().expect("dir");
    let config = relay_config(dir.path());
    let relay = RelayProcess::start_with_open_files(
        &dir.path().join("history.db"),
        &["--config".into(), config],
        &[],
        Some(OPEN_FILES),
    )
    .await;
    let api = relay.api();
    let mqtt = relay.mqtt.expect("embedded broker");
    let idle = open_descriptors(relay.pid());

    let stop = CancellationToken::new();
    let (filled_tx, filled_rx) = tokio::sync::oneshot::channel();
    let attacker = tokio::spawn(flood([mqtt, relay.http], filled_tx, stop.clone()));
    let filled = filled_rx.await.expect("the flood reports");
    let during_flood = open_descriptors(relay.pid());
    eprintln!(
        "attacker (own limit {own_limit}) holds {} sockets{}; relay: {idle} descriptors idle, {during_flood} under the flood (limit {OPEN_FILES})",
        filled.held,
        filled
            .stopped
            .as_ref()
            .map(|e| format!(" (stopped: {e})"))
            .unwrap_or_default()
    );
    assert!(
        filled.held >= 1000,
        "the attacker should hold far more sockets than the relay may: {filled:?}"
    );

    // While it holds them: every bay logs in and publishes, and the API answers.
    let bays: Vec<_> = (1..=BAYS)
        .map(|i| tokio::spawn(bay_logs_in_and_publishes(mqtt.port(), format!("bay-{i}"))))
        .collect();
    let mut clients = vec![];
    for bay in bays {
        clients.push(bay.await.expect("a bay's login"));
    }
    for i in 1..=BAYS {
        api.wait_bay(&format!("bay-{i}"), "bay online through the gate", |b| {
            b["online"] == true
        })
        .await;
    }
    for path in ["/healthz", "/api/state"] {
        let answer = tokio::time::timeout(
            Duration::from_secs(10),
            api.client.get(api.url(path)).send(),
        )
        .await
        .unwrap_or_else(|_| panic!("{path}: no answer within 10 s"))
        .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(answer.status().is_success(), "{path}: {}", answer.status());
    }
    let peak = open_descriptors(relay.pid());

    let metrics = api
        .client
        .get(api.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    stop.cancel();
    let opened = attacker.await.expect("the attacker");
    drop(clients);

    let refused = |listener: &str, reason: &str| {
        sample(
            &metrics,
            &format!(
                "baycount_connections_refused_total{{listener=\"{listener}\",reason=\"{reason}\"}}"
            ),
        )
        .unwrap_or(0.0)
    };
    let (mqtt_refused, http_refused) = (
        refused("mqtt", "per_address"),
        refused("http", "per_address"),
    );
    eprintln!(
        "attacker opened {opened} sockets in all; refused per address: MQTT {mqtt_refused}, HTTP {http_refused}; relay peak {peak} descriptors"
    );
    assert!(mqtt_refused > 100.0, "{metrics}");
    assert!(http_refused > 100.0, "{metrics}");
    assert_eq!(
        sample(&metrics, "baycount_open_files_limit"),
        Some(OPEN_FILES as f64),
        "{metrics}"
    );
    for listener in ["mqtt", "http"] {
        let cap = sample(
            &metrics,
            &format!("baycount_connection_limit{{listener=\"{listener}\",kind=\"total\"}}"),
        );
        assert!(
            cap.is_some_and(|c| c >= 16.0 && c < OPEN_FILES as f64),
            "{listener}: {metrics}"
        );
    }

    let log = relay.log();
    assert!(
        !log.contains("Too many open files"),
        "the relay ran out of descriptors:\n{log}"
    );
    let refusal_lines = log
        .lines()
        .filter(|l| {
            l.contains("refused a connection") || l.contains("more connections in the last")
        })
        .count();
    // The first refusal of each listener at once, then a sum per listener every 10 s.
    let most = 2 * (started.elapsed().as_secs() as usize / 10 + 2);
    assert!(
        (1..=most).contains(&refusal_lines),
        "refusals are logged in sums, not one line each ({refusal_lines} lines):\n{log}"
    );
}
