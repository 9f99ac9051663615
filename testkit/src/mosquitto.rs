//! A Mosquitto broker started by a test on a loopback port, killed with the test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::process::Proc;

/// A Mosquitto broker on loopback, killed on drop.
pub struct Mosquitto {
    pub port: u16,
    proc: Option<Proc>,
    dir: tempfile::TempDir,
}

impl Mosquitto {
    pub fn start() -> Self {
        Self::start_with_conf(|port, _| {
            format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        })
    }

    /// Starts Mosquitto with the config `conf(port, dir)` returns (written to `dir`).
    /// Mosquitto cannot say which port it got from port 0, so a port free a moment ago is
    /// tried, and another one if something took it in between.
    pub fn start_with_conf(conf: impl Fn(u16, &Path) -> String) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = crate::closed_port();
            std::fs::write(dir.path().join("mosquitto.conf"), conf(port, dir.path())).unwrap();
            match Self::spawn(dir.path(), port) {
                Ok(proc) => {
                    return Self {
                        port,
                        proc: Some(proc),
                        dir,
                    };
                }
                Err(log) => last_log = log,
            }
        }
        panic!("mosquitto did not start:\n{last_log}");
    }

    fn log_path(dir: &Path) -> PathBuf {
        dir.join("mosquitto.log")
    }

    /// Starts it on `port` and waits until it listens; on failure, its log.
    fn spawn(dir: &Path, port: u16) -> Result<Proc, String> {
        let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("mosquitto is installed by scripts/setup.sh");
        let mut cmd = Command::new(bin);
        cmd.arg("-c").arg(dir.join("mosquitto.conf"));
        let mut proc = Proc::spawn("mosquitto", cmd, &Self::log_path(dir));
        for _ in 0..400 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(proc);
            }
            if proc.try_wait().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let log = proc.log();
        drop(proc);
        Err(log)
    }

    /// Stops the broker (SIGKILL: clients see the connection drop).
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill();
        }
    }

    /// Starts it again on the same port, empty (no persistence, like a broker restart).
    pub fn restart(&mut self) {
        self.stop();
        let proc = Self::spawn(self.dir.path(), self.port)
            .unwrap_or_else(|log| panic!("mosquitto did not start again:\n{log}"));
        self.proc = Some(proc);
    }
}
