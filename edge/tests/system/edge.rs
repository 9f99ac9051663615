//! The edge binary under test: `baycount-edge run` for bay-1 (sim GPIO), its journal and socket
//! in a temp dir, under the process guard.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use baycount_testkit::Proc;

/// The edge binary, running `run` for bay-1 with its journal and socket in `dir`.
pub struct Edge {
    pub child: Option<Proc>,
    pub dir: PathBuf,
    pub mqtt_port: u16,
    /// The broker URL (default: plain MQTT on loopback at `mqtt_port`).
    pub mqtt: String,
    pub extra: Vec<String>,
    pub env: Vec<(String, PathBuf)>,
}

impl Edge {
    pub fn new(dir: &Path, mqtt_port: u16, extra: &[&str]) -> Self {
        Self {
            child: None,
            dir: dir.to_owned(),
            mqtt_port,
            mqtt: format!("mqtt://127.0.0.1:{mqtt_port}"),
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
            env: vec![],
        }
    }

    pub fn start(dir: &Path, mqtt_port: u16, extra: &[&str]) -> Self {
        let mut e = Self::new(dir, mqtt_port, extra);
        e.spawn();
        e
    }

    pub fn journal(&self) -> PathBuf {
        self.dir.join("journal.db")
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join("edge.sock")
    }

    pub fn spawn(&mut self) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_baycount-edge"));
        cmd.arg("run")
            .args(["--bay", "bay-1", "--gpio", "sim"])
            .arg("--mqtt")
            .arg(&self.mqtt)
            .arg("--journal")
            .arg(self.journal())
            .arg("--socket")
            .arg(self.socket())
            .args(&self.extra)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "info");
        self.child = Some(Proc::spawn(
            "baycount-edge",
            cmd,
            &self.dir.join("edge.log"),
        ));
    }

    /// SIGKILL (to it and its ffmpeg): no goodbye, nothing flushed but what the journal
    /// already holds.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill();
        }
    }

    /// SIGTERM; returns how long the edge took to exit.
    pub fn terminate(&mut self) -> Duration {
        let Some(mut c) = self.child.take() else {
            return Duration::ZERO;
        };
        let (status, took) = c.terminate(10);
        assert!(
            status.success(),
            "the edge exited with {status}: {}",
            self.log()
        );
        took
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("edge.log")).unwrap_or_default()
    }

    /// `baycount-edge press` against this edge's socket: its output.
    pub fn press(&self) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_baycount-edge"))
            .args(["press", "--bay", "bay-1", "--socket"])
            .arg(self.socket())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "press failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
