//! Test harness: a real relay on a temp SQLite file, a real broker (embedded or a Mosquitto
//! started here), and a scripted edge that plays the edge's side of the MQTT contract. The
//! edge's system tests include it too (`#[path]`), to run the real edge against the real relay.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baycount_protocol::*;
use baycount_relay::Relay;
use baycount_relay::config::{Broker, Config, MqttUrl};
use chrono::Utc;
use rumqttc::{AsyncClient, Event as MqttEvent, LastWill, MqttOptions, Packet, QoS};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `f` until it returns `Some`, for at most `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A Mosquitto broker on a free loopback port, killed on drop.
pub struct Mosquitto {
    pub port: u16,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    pub fn start() -> Self {
        Self::start_with_conf(|port, _| {
            format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        })
    }

    /// Starts Mosquitto with the config `conf(port, dir)` returns (written to `dir`).
    pub fn start_with_conf(conf: impl FnOnce(u16, &Path) -> String) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        std::fs::write(dir.path().join("mosquitto.conf"), conf(port, dir.path())).unwrap();
        let child = Self::spawn(dir.path(), port);
        Self {
            port,
            child: Some(child),
            _dir: dir,
        }
    }

    /// Its temporary directory (config, password file, certificates).
    pub fn dir(&self) -> &Path {
        self._dir.path()
    }

    fn spawn(dir: &Path, port: u16) -> Child {
        let conf = dir.join("mosquitto.conf");
        let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("mosquitto is installed by scripts/setup.sh");
        let log = dir.join("mosquitto.log");
        let mut child = Process::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return child;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "mosquitto did not listen on {port}: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Stops the broker (SIGKILL: clients see the connection drop).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port, empty (no persistence, like a broker restart).
    pub fn restart(&mut self) {
        self.stop();
        self.child = Some(Self::spawn(self._dir.path(), self.port));
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Which broker a test runs against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Which {
    Embedded,
    Mosquitto,
}

/// A relay running in this process, with its broker and history in a temp dir.
pub struct TestRelay {
    pub relay: Option<Relay>,
    /// HTTP helpers for this relay (`relay.get(..)` reaches them through `Deref`).
    pub api: Api,
    pub mqtt_port: u16,
    pub db: PathBuf,
    pub mosquitto: Option<Mosquitto>,
    pub dir: tempfile::TempDir,
}

pub fn config(which: Which, dir: &Path, mosquitto: Option<&Mosquitto>) -> Config {
    let broker = match which {
        Which::Embedded => Broker::Embedded {
            listen: "127.0.0.1:0".parse().unwrap(),
        },
        Which::Mosquitto => Broker::External(
            MqttUrl::parse(&format!("mqtt://127.0.0.1:{}", mosquitto.unwrap().port)).unwrap(),
        ),
    };
    Config::new(
        "127.0.0.1:0".parse().unwrap(),
        broker,
        dir.join("history.db"),
    )
}

impl std::ops::Deref for TestRelay {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

impl TestRelay {
    pub async fn start(which: Which) -> Self {
        Self::start_with(which, |_| {}).await
    }

    pub async fn start_with(which: Which, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mosquitto = (which == Which::Mosquitto).then(Mosquitto::start);
        let mut cfg = config(which, dir.path(), mosquitto.as_ref());
        tweak(&mut cfg);
        let db = cfg.db.clone();
        let external_port = match &cfg.broker {
            Broker::External(url) => Some(url.port),
            Broker::Embedded { .. } => None,
        };
        let relay = Relay::start(cfg, CancellationToken::new()).await.unwrap();
        let http = relay.http_addr;
        let mqtt_port = relay.mqtt_addr.map(|a| a.port()).or(external_port).unwrap();
        let t = Self {
            relay: Some(relay),
            api: Api::new(http),
            mqtt_port,
            db,
            mosquitto,
            dir,
        };
        eventually(10, "relay healthy", || async {
            t.get("/healthz").await.0.is_success().then_some(())
        })
        .await;
        t
    }

    pub async fn stop(&mut self) {
        if let Some(r) = self.relay.take() {
            r.stop().await;
        }
    }
}

/// What the scripted edge does with commands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Applies commands and acks them, as a real edge does.
    Respond,
    /// Ignores commands (a hung edge), so the relay's ack timeout shows.
    Silent,
}

struct EdgeInner {
    state: BayState,
    mode: Mode,
    events: Vec<Event>,
}

/// A scripted edge: a real MQTT client playing the edge's side of the contract.
pub struct ScriptedEdge {
    pub bay: BayId,
    client: AsyncClient,
    inner: Arc<Mutex<EdgeInner>>,
    stored: watch::Receiver<Stored>,
    connected: watch::Receiver<bool>,
    task: tokio::task::JoinHandle<()>,
}

fn publish(client: &AsyncClient, bay: &BayId, kind: Kind, payload: Vec<u8>) {
    client
        .try_publish(
            Topic::new(bay.clone(), kind).to_string(),
            QoS::AtLeastOnce,
            kind.retained(),
            payload,
        )
        .unwrap();
}

impl ScriptedEdge {
    pub async fn connect(port: u16, bay: &str, mode: Mode) -> Self {
        Self::connect_with(port, bay, mode, |_| {}).await
    }

    /// Connects with options adjusted by `configure` (credentials, TLS).
    pub async fn connect_with(
        port: u16,
        bay: &str,
        mode: Mode,
        configure: impl FnOnce(&mut MqttOptions),
    ) -> Self {
        let bay = BayId::parse(bay).unwrap();
        let mut opts = MqttOptions::new(format!("edge-{bay}-{}", free_port()), "127.0.0.1", port);
        opts.set_keep_alive(Duration::from_secs(5))
            .set_last_will(LastWill::new(
                Topic::new(bay.clone(), Kind::Status).to_string(),
                "offline",
                QoS::AtLeastOnce,
                true,
            ));
        configure(&mut opts);
        let (client, mut eventloop) = AsyncClient::new(opts, 10_000);
        // A healthy bay, as a real edge reports it.
        let mut state = BayState::idle(Utc::now());
        state.health.camera = HealthLevel::Ok;
        state.health.detector = HealthLevel::Ok;
        state.health.fps = 9.8;
        let inner = Arc::new(Mutex::new(EdgeInner {
            state,
            mode,
            events: vec![],
        }));
        let (stored_tx, stored) = watch::channel(Stored::default());
        let (conn_tx, connected) = watch::channel(false);
        let (c, i, b) = (client.clone(), inner.clone(), bay.clone());
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(MqttEvent::Incoming(Packet::ConnAck(_))) => {
                        c.try_subscribe(
                            Topic::new(b.clone(), Kind::Cmd).to_string(),
                            QoS::AtLeastOnce,
                        )
                        .unwrap();
                        c.try_subscribe(
                            Topic::new(b.clone(), Kind::Stored).to_string(),
                            QoS::AtLeastOnce,
                        )
                        .unwrap();
                        publish(&c, &b, Kind::Status, b"online".to_vec());
                        let state = i.lock().unwrap().state.clone();
                        publish(&c, &b, Kind::State, encode(&state));
                        conn_tx.send_replace(true);
                    }
                    Ok(MqttEvent::Incoming(Packet::Publish(p))) => {
                        match Incoming::parse(&p.topic, &p.payload) {
                            Ok(Incoming {
                                message: Message::Cmd(cmd),
                                ..
                            }) => handle_command(&c, &b, &i, cmd),
                            Ok(Incoming {
                                message: Message::Stored(s),
                                ..
                            }) => {
                                stored_tx.send_replace(s);
                            }
                            _ => {}
                        }
                    }
                    Ok(_) => {}
                    Err(_) => {
                        conn_tx.send_replace(false);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        let mut edge = Self {
            bay,
            client,
            inner,
            stored,
            connected,
            task,
        };
        edge.connected.wait_for(|c| *c).await.unwrap();
        edge
    }

    pub fn set_mode(&self, mode: Mode) {
        self.inner.lock().unwrap().mode = mode;
    }

    pub fn state(&self) -> BayState {
        self.inner.lock().unwrap().state.clone()
    }

    /// Every event this edge has published.
    pub fn events(&self) -> Vec<Event> {
        self.inner.lock().unwrap().events.clone()
    }

    /// One object crosses the line: an event (and the new state) is published.
    pub async fn count(&self, direction: Direction) -> Event {
        let (ev, state) = self.next_count(direction);
        for (kind, payload) in [(Kind::Event, encode(&ev)), (Kind::State, encode(&state))] {
            let topic = Topic::new(self.bay.clone(), kind).to_string();
            self.client
                .publish(topic, QoS::AtLeastOnce, kind.retained(), payload)
                .await
                .unwrap();
        }
        ev
    }

    fn next_count(&self, direction: Direction) -> (Event, BayState) {
        let mut i = self.inner.lock().unwrap();
        let session = i.state.session.expect("counting needs an open session");
        match direction {
            Direction::In => i.state.count += 1,
            Direction::Out => i.state.out += 1,
        }
        i.state.seq += 1;
        i.state.at = Utc::now();
        let ev = Event {
            session,
            seq: i.state.seq,
            at: Utc::now(),
            count: i.state.count,
            out: i.state.out,
            kind: EventKind::Counted {
                direction,
                track: i.state.seq,
            },
        };
        i.events.push(ev.clone());
        (ev, i.state.clone())
    }

    /// Publishes anything on one of this bay's topics.
    pub fn publish_raw(&self, kind: Kind, payload: &[u8]) {
        publish(&self.client, &self.bay, kind, payload.to_vec());
    }

    /// Waits until the relay's `stored` cursor for `session` reaches `seq`.
    pub async fn wait_stored(&mut self, session: SessionId, seq: u64) {
        tokio::time::timeout(
            Duration::from_secs(10),
            self.stored
                .wait_for(|s| s.sessions.get(&session).is_some_and(|&n| n >= seq)),
        )
        .await
        .expect("stored cursor reached in time")
        .unwrap();
    }

    /// Disconnects without a goodbye, so the broker publishes the last will.
    pub fn kill(&self) {
        self.task.abort();
    }

    pub async fn disconnect(&self) {
        publish(&self.client, &self.bay, Kind::Status, b"offline".to_vec());
        let _ = self.client.disconnect().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.task.abort();
    }
}

impl Drop for ScriptedEdge {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn handle_command(c: &AsyncClient, b: &BayId, i: &Arc<Mutex<EdgeInner>>, cmd: Command) {
    let mut g = i.lock().unwrap();
    if g.mode == Mode::Silent {
        return;
    }
    let now = Utc::now();
    let (ok, reason, summary) = if cmd.is_expired(now) {
        (false, Some("command expired".to_owned()), None)
    } else {
        match cmd.action {
            Action::Start { session, plate } if g.state.phase == Phase::Idle => {
                g.state.phase = Phase::Loading;
                g.state.session = Some(session);
                g.state.plate = Some(plate.clone());
                g.state.count = 0;
                g.state.out = 0;
                g.state.seq = 1;
                g.state.started_at = Some(now);
                g.state.started_by = Some(cmd.by.clone());
                let ev = Event {
                    session,
                    seq: 1,
                    at: now,
                    count: 0,
                    out: 0,
                    kind: EventKind::Started {
                        plate: plate.clone(),
                        by: cmd.by.clone(),
                    },
                };
                g.events.push(ev.clone());
                publish(c, b, Kind::Event, encode(&ev));
                let s = SessionSummary {
                    id: session,
                    plate,
                    count: 0,
                    out: 0,
                    started_at: now,
                    stopped_at: None,
                };
                (true, None, Some(s))
            }
            Action::Stop { .. } if g.state.phase == Phase::Loading => {
                let session = g.state.session.unwrap();
                g.state.seq += 1;
                let ev = Event {
                    session,
                    seq: g.state.seq,
                    at: now,
                    count: g.state.count,
                    out: g.state.out,
                    kind: EventKind::Stopped { by: cmd.by.clone() },
                };
                g.events.push(ev.clone());
                publish(c, b, Kind::Event, encode(&ev));
                let s = SessionSummary {
                    id: session,
                    plate: g.state.plate.clone().unwrap(),
                    count: g.state.count,
                    out: g.state.out,
                    started_at: g.state.started_at.unwrap(),
                    stopped_at: Some(now),
                };
                g.state = BayState::idle(now);
                (true, None, Some(s))
            }
            Action::Start { .. } => (false, Some("already loading".into()), None),
            Action::Stop { .. } => (false, Some("not loading".into()), None),
            _ => (true, None, None),
        }
    };
    g.state.at = now;
    publish(c, b, Kind::State, encode(&g.state));
    let ack = Ack {
        id: cmd.id,
        ok,
        reason,
        state: g.state.clone(),
        session: summary,
    };
    publish(c, b, Kind::Ack, encode(&ack));
}

/// The relay binary: cargo's own for the relay's tests; for another crate's tests, built on
/// first use into the same target directory (a no-op when it is up to date).
pub fn relay_binary() -> PathBuf {
    if let Some(bin) = option_env!("CARGO_BIN_EXE_baycount-relay") {
        return bin.into();
    }
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            // This test runs from <target>/<profile>/deps/.
            let exe = std::env::current_exe().unwrap();
            let profile = exe.parent().and_then(Path::parent).unwrap().to_owned();
            let target = profile.parent().unwrap();
            let status = Process::new(env!("CARGO"))
                .args([
                    "build",
                    "--locked",
                    "-p",
                    "baycount-relay",
                    "--bin",
                    "baycount-relay",
                ])
                .arg("--target-dir")
                .arg(target)
                .status()
                .unwrap();
            assert!(status.success(), "building the relay binary failed");
            profile.join("baycount-relay")
        })
        .clone()
}

/// Free loopback ports for a relay process with its embedded broker: the HTTP address, the
/// broker's port, and the flags that put the broker there.
pub fn relay_process_ports() -> (SocketAddr, u16, Vec<String>) {
    let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mqtt = free_port();
    (
        http,
        mqtt,
        vec!["--mqtt-listen".to_owned(), format!("127.0.0.1:{mqtt}")],
    )
}

/// The relay binary running as its own process, killed on drop.
pub struct RelayProcess {
    pub child: Child,
    pub http: SocketAddr,
}

impl RelayProcess {
    pub async fn spawn(http: SocketAddr, db: &Path, broker_args: &[String]) -> Self {
        let child = Process::new(relay_binary())
            .arg("--http")
            .arg(http.to_string())
            .arg("--db")
            .arg(db)
            .args(broker_args)
            .env("RUST_LOG", "warn,rumqttd=off,tracing=off")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let p = Self { child, http };
        let client = reqwest::Client::new();
        eventually(15, "relay process healthy", || async {
            let r = client
                .get(format!("http://{http}/healthz"))
                .send()
                .await
                .ok()?;
            r.status().is_success().then_some(())
        })
        .await;
        p
    }

    /// SIGKILL: no goodbye, no drain.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A test's HTTP client for a relay at `http`.
pub struct Api {
    pub http: SocketAddr,
    pub client: reqwest::Client,
}

impl Api {
    pub fn new(http: SocketAddr) -> Self {
        Self {
            http,
            client: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    pub async fn get(&self, path: &str) -> (reqwest::StatusCode, serde_json::Value) {
        let r = self.client.get(self.url(path)).send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn post(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let r = self
            .client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// The bay's entry of `/api/state`.
    pub async fn bay(&self, bay: &str) -> Option<serde_json::Value> {
        let (_, state) = self.get("/api/state").await;
        state["bays"]
            .as_array()?
            .iter()
            .find(|b| b["bay"] == bay)
            .cloned()
    }

    /// Waits until the bay's entry satisfies `f`.
    pub async fn wait_bay(
        &self,
        bay: &str,
        what: &str,
        f: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        eventually(10, what, || async { self.bay(bay).await.filter(|b| f(b)) }).await
    }
}

/// A TCP proxy on a free loopback port that a test can partition: while partitioned, bytes
/// in both directions vanish and new connections hang, as across a dead network link (the
/// sockets stay open: nobody is told). Healing closes what was cut and lets new connections through.
pub struct Partition {
    pub port: u16,
    cut: Arc<watch::Sender<u64>>,
    task: tokio::task::JoinHandle<()>,
}

impl Partition {
    pub async fn start(upstream: u16) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // Even generation: linked; odd: partitioned. Each cut or heal is a new generation.
        let cut = Arc::new(watch::channel(0u64).0);
        let c = cut.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let mut link = c.subscribe();
                tokio::spawn(async move {
                    // Born in a partition: hang until it heals, then close.
                    if *link.borrow_and_update() % 2 == 1 {
                        let _ = link.changed().await;
                        return;
                    }
                    let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                    else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let born = *link.borrow();
                    tokio::select! {
                        _ = forward(&mut cr, &mut sw, link.clone(), born) => {}
                        _ = forward(&mut sr, &mut cw, link.clone(), born) => {}
                        // Healed after a cut: this connection's stream lost bytes; close it.
                        _ = async { let _ = link.wait_for(|g| *g > born + 1).await; } => {}
                    }
                });
            }
        });
        Self { port, cut, task }
    }

    /// Stops all traffic, silently.
    pub fn cut(&self) {
        self.cut.send_modify(|g| {
            if *g % 2 == 0 {
                *g += 1;
            }
        });
    }

    /// Lets traffic through again.
    pub fn heal(&self) {
        self.cut.send_modify(|g| {
            if *g % 2 == 1 {
                *g += 1;
            }
        });
    }
}

impl Drop for Partition {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies `r` to `w` while the link is up; drops what arrives while it is cut.
async fn forward(
    r: &mut tokio::net::tcp::OwnedReadHalf,
    w: &mut tokio::net::tcp::OwnedWriteHalf,
    link: watch::Receiver<u64>,
    born: u64,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match r.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if *link.borrow() == born && w.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
