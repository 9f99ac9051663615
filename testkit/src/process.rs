//! The one way a test starts a process: in its own process group, its output in a log file
//! (never the test runner's pipes), and the whole group killed when the guard drops, whether
//! the test passed or panicked.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

/// A running process (and every process it started in its group), killed on drop.
#[derive(Debug)]
pub struct Proc {
    /// What the test calls it, for messages.
    name: String,
    /// `None` once it has been waited for.
    child: Option<Child>,
    /// Where its stdout and stderr go (appended across restarts).
    log: PathBuf,
    /// The log's length when this start began: lines before it are an earlier start's.
    log_start: u64,
}

impl Proc {
    /// Starts `cmd` in a new process group with no stdin and stdout and stderr appended to
    /// `log`.
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> Self {
        use std::os::unix::process::CommandExt;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", log.display()));
        let log_start = file.metadata().map(|m| m.len()).unwrap_or(0);
        let err = file
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", log.display()));
        let child = cmd
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        Self {
            name: name.to_owned(),
            child: Some(child),
            log: log.to_owned(),
            log_start,
        }
    }

    /// Its process id (also its process group's id), while it runs.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Everything it has written so far (this start and earlier ones into the same log).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits up to `secs` for a line of this start's output that starts with `prefix`, and
    /// returns the rest of that line. Panics with the log if the process exits or time runs out.
    pub fn wait_for_line(&mut self, prefix: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(rest) = self
                .since_start()
                .lines()
                .find_map(|l| l.strip_prefix(prefix))
            {
                return rest.to_owned();
            }
            if let Some(status) = self.try_wait() {
                panic!(
                    "{} exited ({status}) before saying {prefix:?}:\n{}",
                    self.name,
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} did not say {prefix:?} within {secs} s:\n{}",
                self.name,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn since_start(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = File::open(&self.log)
            && f.seek(SeekFrom::Start(self.log_start)).is_ok()
        {
            let _ = f.read_to_string(&mut text);
        }
        text
    }

    /// Its exit status if it has exited (and is then reaped), `None` while it runs.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        Some(status)
    }

    /// Sends `signal` to the process itself (not its group): SIGTERM to ask it to stop,
    /// SIGSTOP/SIGCONT to hang it.
    pub fn signal(&self, signal: Signal) {
        if let Some(pid) = self
            .child
            .as_ref()
            .and_then(|c| Pid::from_raw(c.id() as i32))
        {
            let _ = rustix::process::kill_process(pid, signal);
        }
    }

    /// SIGKILL to the whole group (no goodbye, nothing flushed), then reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pgid) = Pid::from_raw(child.id() as i32) {
                let _ = rustix::process::kill_process_group(pgid, Signal::KILL);
            }
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits up to `secs` for it to exit: its status and how long it took.
    /// Panics with the log (after killing the group) if it does not stop in time.
    pub fn terminate(&mut self, secs: u64) -> (ExitStatus, Duration) {
        let t = Instant::now();
        self.signal(Signal::TERM);
        loop {
            if let Some(status) = self.try_wait() {
                // What it started and left behind goes too.
                self.kill();
                return (status, t.elapsed());
            }
            if t.elapsed() > Duration::from_secs(secs) {
                self.kill();
                panic!(
                    "{} did not stop within {secs} s of SIGTERM:\n{}",
                    self.name,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits up to `secs` for it to exit by itself; `None` (and the group killed) if it did not.
    pub fn wait_exit(&mut self, secs: u64) -> Option<ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(status) = self.try_wait() {
                self.kill();
                return Some(status);
            }
            if Instant::now() > deadline {
                self.kill();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn alive(pid: i32) -> bool {
        // Signal 0 checks existence; a zombie reaped by init goes away shortly after.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let Some(p) = Pid::from_raw(pid) else {
                return false;
            };
            if rustix::process::test_kill_process(p).is_err() {
                return false;
            }
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if stat.split_whitespace().nth(2) == Some("Z") {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    #[test]
    fn dropping_the_guard_kills_the_process_and_what_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 600 & echo grandchild $!; echo ready; wait"]);
        let mut p = Proc::spawn("sh", cmd, &dir.path().join("log"));
        p.wait_for_line("ready", 10);
        let grandchild: i32 = p.wait_for_line("grandchild ", 10).trim().parse().unwrap();
        drop(p);
        assert!(!alive(grandchild), "the grandchild outlived the guard");
    }

    #[test]
    fn a_panicking_test_still_kills_its_process() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let (tx, rx) = std::sync::mpsc::channel();
        let test = std::thread::spawn(move || {
            let mut cmd = Command::new("sleep");
            cmd.arg("600");
            let p = Proc::spawn("sleep", cmd, &log);
            tx.send(p.pid()).unwrap();
            panic!("the test failed (on purpose)");
        });
        assert!(test.join().is_err());
        assert!(!alive(rx.recv().unwrap() as i32));
    }

    #[test]
    fn output_goes_to_the_log_and_each_start_reads_its_own_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo port=1; echo oops >&2"]);
        let mut first = Proc::spawn("first", cmd, &log);
        assert_eq!(first.wait_for_line("port=", 10), "1");
        assert!(first.wait_exit(10).unwrap().success());
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 0.2; echo port=2"]);
        let mut second = Proc::spawn("second", cmd, &log);
        assert_eq!(second.wait_for_line("port=", 10), "2");
        assert!(second.log().contains("oops"));
    }

    #[test]
    fn terminate_reports_the_exit_and_a_process_that_exits_early_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("sleep");
        cmd.arg("600");
        let mut p = Proc::spawn("sleeper", cmd, &dir.path().join("log"));
        let (status, _) = p.terminate(10);
        assert!(!status.success());
        let cmd = Command::new("false");
        let mut p = Proc::spawn("false", cmd, &dir.path().join("log2"));
        let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            p.wait_for_line("never", 10);
        }))
        .unwrap_err();
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains("false exited"), "{msg}");
    }
}
