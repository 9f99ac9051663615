//! Reads frames on their own thread so the pipeline always gets the newest one (live sources
//! drop what the pipeline cannot keep up with, and count it), or every one (recorded footage
//! counted as fast as possible). A live source that fails or stalls is reopened with backoff.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use baycount_plumbing::backoff::Backoff;

use crate::vision::camera::{CameraError, Frame, FrameSource};

/// Whether frames may be dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Hand over every frame; the source waits for the pipeline (recorded footage).
    EveryFrame,
    /// Keep only the newest frame; older ones not taken in time are dropped (cameras).
    Newest,
}

/// How the camera is doing, for the caller's health report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CameraHealth {
    pub connected: bool,
    /// Frames read from the source.
    pub frames: u64,
    /// Frames replaced before the pipeline took them.
    pub dropped: u64,
    /// Times the source was reopened after a failure.
    pub reopened: u64,
    pub last_error: Option<String>,
    /// The source's own picture size (before scaling), as last opened.
    pub native: (u32, u32),
}

/// What [`Capture::next_within`] found.
#[derive(Debug)]
pub enum Next {
    Frame(Frame),
    /// The source ended (and is not reopened).
    Ended,
    /// No frame yet.
    Waiting,
}

/// Opens (and reopens) the source.
pub type Opener = Box<dyn FnMut() -> Result<Box<dyn FrameSource>, CameraError> + Send>;

#[derive(Debug, Default)]
struct Slot {
    frames: std::collections::VecDeque<Frame>,
    /// The source ended (`Ok`) or failed for good (`Err`).
    done: Option<Result<(), CameraError>>,
}

#[derive(Debug, Default)]
struct Shared {
    slot: Mutex<Slot>,
    ready: Condvar,
    space: Condvar,
    stop: AtomicBool,
    health: Mutex<CameraHealth>,
    /// Nanoseconds spent inside the source's `next_frame` (decoding).
    decode_ns: AtomicU64,
}

/// The capture thread and its hand-over slot.
#[derive(Debug)]
pub struct Capture {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Longest wait between reopening attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long dropping a capture waits for its thread (and source) to end.
const STOP_WAIT: Duration = Duration::from_secs(2);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Capture {
    /// Starts reading. With `reopen` (the first backoff), a source that fails or ends is
    /// opened again, with backoff doubling up to 30 s, instead of ending the capture: for cameras.
    pub fn start(
        mut open: Opener,
        policy: Policy,
        reopen: Option<Duration>,
    ) -> Result<Self, CameraError> {
        let first = open()?;
        let shared = Arc::new(Shared::default());
        {
            let mut h = lock(&shared.health);
            h.connected = true;
            h.native = first.native_size();
        }
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || run(first, open, policy, reopen, &s))
            .map_err(|e| CameraError::Open {
                source_name: "capture thread".into(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// The next frame: waits for one; `Ok(None)` when the source has ended.
    pub fn next(&self) -> Result<Option<Frame>, CameraError> {
        let mut slot = lock(&self.shared.slot);
        loop {
            if let Some(f) = slot.frames.pop_front() {
                self.shared.space.notify_one();
                return Ok(Some(f));
            }
            match slot.done.take() {
                Some(Ok(())) => {
                    slot.done = Some(Ok(()));
                    return Ok(None);
                }
                Some(Err(e)) => return Err(e),
                None => {
                    slot = self
                        .shared
                        .ready
                        .wait(slot)
                        .unwrap_or_else(|p| p.into_inner())
                }
            }
        }
    }

    /// The next frame if one comes within `wait`: `Ok(Next::Waiting)` if none did, so a live
    /// caller can report a stalled camera and notice a shutdown.
    pub fn next_within(&self, wait: Duration) -> Result<Next, CameraError> {
        let deadline = Instant::now() + wait;
        let mut slot = lock(&self.shared.slot);
        loop {
            if let Some(f) = slot.frames.pop_front() {
                self.shared.space.notify_one();
                return Ok(Next::Frame(f));
            }
            match slot.done.take() {
                Some(Ok(())) => {
                    slot.done = Some(Ok(()));
                    return Ok(Next::Ended);
                }
                Some(Err(e)) => return Err(e),
                None => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(Next::Waiting);
            }
            slot = self
                .shared
                .ready
                .wait_timeout(slot, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    pub fn health(&self) -> CameraHealth {
        lock(&self.shared.health).clone()
    }

    /// Time spent decoding so far.
    pub fn decode_time(&self) -> Duration {
        Duration::from_nanos(self.shared.decode_ns.load(Ordering::Relaxed))
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.shared.space.notify_all();
        // The thread ends at its next frame, and its source (an ffmpeg process) with it: wait a
        // moment for that, so nothing outlives the edge; a live source that sends nothing more
        // is left to end when its pipe closes.
        if let Some(t) = self.thread.take() {
            let deadline = Instant::now() + STOP_WAIT;
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

fn run(
    mut source: Box<dyn FrameSource>,
    mut open: Opener,
    policy: Policy,
    reopen: Option<Duration>,
    s: &Shared,
) {
    let mut backoff = Backoff::new(reopen.unwrap_or(Duration::from_secs(1)), MAX_BACKOFF);
    let finish = |result: Result<(), CameraError>| {
        lock(&s.slot).done = Some(result);
        s.ready.notify_all();
    };
    while !s.stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        let next = source.next_frame();
        s.decode_ns
            .fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        match next {
            Ok(Some(frame)) => {
                backoff.reset();
                {
                    let mut h = lock(&s.health);
                    h.frames += 1;
                    h.connected = true;
                }
                let mut slot = lock(&s.slot);
                match policy {
                    Policy::Newest => {
                        if slot.frames.pop_front().is_some() {
                            lock(&s.health).dropped += 1;
                        }
                    }
                    Policy::EveryFrame => {
                        while slot.frames.len() >= 2 && !s.stop.load(Ordering::Relaxed) {
                            slot = s.space.wait(slot).unwrap_or_else(|p| p.into_inner());
                        }
                    }
                }
                slot.frames.push_back(frame);
                drop(slot);
                s.ready.notify_one();
            }
            Ok(None) if reopen.is_none() => return finish(Ok(())),
            Err(e) if reopen.is_none() => return finish(Err(e)),
            ended => {
                let reason = match ended {
                    Err(e) => e.to_string(),
                    _ => "the source ended".to_owned(),
                };
                log::warn!(
                    "camera: {reason}; reopening in {:.1} s",
                    backoff.peek().as_secs_f64()
                );
                {
                    let mut h = lock(&s.health);
                    h.connected = false;
                    h.last_error = Some(reason);
                }
                loop {
                    std::thread::sleep(backoff.next());
                    if s.stop.load(Ordering::Relaxed) {
                        return;
                    }
                    match open() {
                        Ok(src) => {
                            source = src;
                            let mut h = lock(&s.health);
                            h.reopened += 1;
                            h.native = source.native_size();
                            break;
                        }
                        Err(e) => {
                            log::warn!("camera: cannot reopen: {e}");
                            lock(&s.health).last_error = Some(e.to_string());
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::camera::{OpenOptions, SyntheticSource, synthetic::Scene};

    fn synthetic(frames: u64) -> Box<dyn FrameSource> {
        let options = OpenOptions {
            width: 32,
            height: 32,
            realtime: false,
            region: Default::default(),
        };
        Box::new(SyntheticSource::new(
            &options,
            Scene {
                frames: Some(frames),
                ..Scene::default()
            },
        ))
    }

    #[test]
    fn every_frame_policy_loses_nothing() {
        let c = Capture::start(Box::new(|| Ok(synthetic(100))), Policy::EveryFrame, None)
            .expect("start");
        let mut n = 0;
        while let Some(f) = c.next().expect("frame") {
            assert_eq!(f.index, n);
            std::thread::sleep(Duration::from_micros(200));
            n += 1;
        }
        assert_eq!(n, 100);
        assert_eq!(c.health().dropped, 0);
        assert!(c.next().expect("still ended").is_none());
    }

    #[test]
    fn newest_policy_drops_and_counts_what_the_pipeline_misses() {
        let c =
            Capture::start(Box::new(|| Ok(synthetic(200))), Policy::Newest, None).expect("start");
        let mut taken = 0;
        let mut last = None;
        while let Some(f) = c.next().expect("frame") {
            assert!(last.is_none_or(|l| f.index > l), "always newer");
            last = Some(f.index);
            taken += 1;
            std::thread::sleep(Duration::from_millis(2));
        }
        let h = c.health();
        assert_eq!(h.frames, 200);
        assert_eq!(taken + h.dropped, 200);
        assert!(h.dropped > 0, "a slow pipeline drops frames");
    }

    #[test]
    fn a_failing_live_source_is_reopened() {
        let mut opened = 0;
        let open: Opener = Box::new(move || {
            opened += 1;
            if opened == 2 {
                return Err(CameraError::Open {
                    source_name: "cam".into(),
                    reason: "not yet".into(),
                });
            }
            Ok(synthetic(5))
        });
        let c = Capture::start(open, Policy::EveryFrame, Some(Duration::from_millis(10)))
            .expect("start");
        let mut n = 0;
        while n < 12 {
            c.next().expect("frame").expect("live sources do not end");
            n += 1;
        }
        let h = c.health();
        assert!(h.reopened >= 2, "{h:?}");
        assert!(h.last_error.is_some(), "{h:?}");
    }
}
