//! The relay under test: in this process ([`TestRelay`]) or as its binary ([`RelayProcess`]),
//! on port 0, with its broker and history in a temp dir.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use baycount_relay::Relay;
use baycount_relay::config::{Broker, Config, MqttUrl};
use tokio_util::sync::CancellationToken;

use crate::process::Proc;
use crate::{Api, Mode, Mosquitto, ScriptedEdge, eventually};

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

    /// A scripted edge for `bay` on this relay's broker, once the relay sees it online.
    pub async fn scripted_edge(&self, bay: &str, mode: Mode) -> ScriptedEdge {
        let edge = ScriptedEdge::connect(self.mqtt_port, bay, mode).await;
        self.wait_bay(bay, "bay online", |b| b["online"] == true)
            .await;
        edge
    }

    pub async fn stop(&mut self) {
        if let Some(r) = self.relay.take() {
            r.stop().await;
        }
    }
}

/// The relay binary, next to the running test's own directory (`<target>/<profile>/`): cargo
/// builds it for the relay's tests, and the test command for every crate's (`cargo build -p
/// baycount-relay` when running another crate's tests alone).
pub fn relay_binary() -> PathBuf {
    // A test runs from <target>/<profile>/deps/.
    let exe = std::env::current_exe().unwrap();
    let profile = exe.parent().and_then(Path::parent).unwrap();
    let bin = profile.join("baycount-relay");
    assert!(
        bin.exists(),
        "{} is missing: build it first with `cargo build -p baycount-relay` (the test command does)",
        bin.display()
    );
    bin
}

/// What the relay binary prints on stdout once it listens.
const LISTENING: &str = "baycount-relay listening ";

/// The relay binary running as its own process, killed (with its process group) on drop.
pub struct RelayProcess {
    proc: Proc,
    /// The HTTP address it got.
    pub http: SocketAddr,
    /// Its embedded broker's address, when it runs one.
    pub mqtt: Option<SocketAddr>,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    /// Its open files limit (soft and hard), when the test sets one.
    open_files: Option<u64>,
    /// Its log, kept across restarts (beside the history).
    log: PathBuf,
}

impl RelayProcess {
    /// Starts the relay binary with its history in `db`, HTTP on port 0 and, unless `args`
    /// choose a broker, its embedded broker on port 0; waits until it is healthy.
    pub async fn start(db: &Path, args: &[String]) -> Self {
        Self::start_with_env(db, args, &[]).await
    }

    /// [`Self::start`] with extra environment variables.
    pub async fn start_with_env(db: &Path, args: &[String], env: &[(&str, &str)]) -> Self {
        Self::start_with_open_files(db, args, env, None).await
    }

    /// [`Self::start_with_env`] with its open files limit, soft and hard, set to `open_files`
    /// (through util-linux's `prlimit`, which then runs the relay in its own place: same
    /// process, same guard), so that raising the soft limit at start-up cannot go past it.
    /// Kept across [`Self::restart`].
    pub async fn start_with_open_files(
        db: &Path,
        args: &[String],
        env: &[(&str, &str)],
        open_files: Option<u64>,
    ) -> Self {
        let mut all: Vec<OsString> = vec!["--http".into(), "127.0.0.1:0".into()];
        if !args.iter().any(|a| a == "--mqtt" || a == "--mqtt-listen") {
            all.extend(["--mqtt-listen".into(), "127.0.0.1:0".into()]);
        }
        all.extend(["--db".into(), db.as_os_str().to_owned()]);
        all.extend(args.iter().map(OsString::from));
        let env: Vec<(OsString, OsString)> =
            env.iter().map(|(k, v)| (k.into(), v.into())).collect();
        let log = db.with_extension("relay.log");
        let (proc, http, mqtt) = Self::spawn(&all, &env, open_files, &log).await;
        Self {
            proc,
            http,
            mqtt,
            args: all,
            env,
            open_files,
            log,
        }
    }

    async fn spawn(
        args: &[OsString],
        env: &[(OsString, OsString)],
        open_files: Option<u64>,
        log: &Path,
    ) -> (Proc, SocketAddr, Option<SocketAddr>) {
        let mut cmd = match open_files {
            None => Command::new(relay_binary()),
            Some(n) => {
                let mut cmd = Command::new("prlimit");
                cmd.arg(format!("--nofile={n}:{n}"))
                    .arg("--")
                    .arg(relay_binary());
                cmd
            }
        };
        cmd.env("RUST_LOG", "warn,rumqttd=off,tracing=off")
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)));
        let mut proc = Proc::spawn("baycount-relay", cmd, log);
        let line = proc.wait_for_line(LISTENING, 30);
        let addr = |key: &str| {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(key))
                .map(|a| a.parse::<SocketAddr>().unwrap())
        };
        let http = addr("http=").expect("the relay says its HTTP address");
        let mqtt = addr("mqtt=");
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
        (proc, http, mqtt)
    }

    /// Its embedded broker's port.
    pub fn mqtt_port(&self) -> u16 {
        self.mqtt
            .expect("the relay runs its embedded broker")
            .port()
    }

    /// An HTTP client for its API.
    pub fn api(&self) -> Api {
        Api::new(self.http)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// Everything it logged.
    pub fn log(&self) -> String {
        self.proc.log()
    }

    /// SIGKILL: no goodbye, no drain.
    pub fn kill(&mut self) {
        self.proc.kill();
    }

    /// Starts it again (after [`Self::kill`]) on the addresses it had, which its clients know,
    /// with the same history.
    pub async fn restart(&mut self) {
        self.proc.kill();
        let mut args = self.args.clone();
        let set = |args: &mut Vec<OsString>, flag: &str, value: SocketAddr| {
            if let Some(i) = args.iter().position(|a| a == flag) {
                args[i + 1] = value.to_string().into();
            }
        };
        set(&mut args, "--http", self.http);
        if let Some(mqtt) = self.mqtt {
            set(&mut args, "--mqtt-listen", mqtt);
        }
        let (proc, http, mqtt) = Self::spawn(&args, &self.env, self.open_files, &self.log).await;
        assert_eq!((http, mqtt), (self.http, self.mqtt), "restarted elsewhere");
        self.proc = proc;
    }
}
