//! Slows down password guessing: an address that fails authentication too often (API tokens
//! or MQTT passwords) is refused for a while, whatever it presents.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed from one address within [`WINDOW`].
pub const MAX_FAILURES: u32 = 10;
/// How long failures are remembered, and how long a lockout lasts.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered at most; the oldest are forgotten first when more fail at once.
const MAX_TRACKED: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    since: Instant,
    locked_until: Option<Instant>,
}

/// Failed attempts per address. Shared by the API and the embedded broker.
#[derive(Debug, Default)]
pub struct Lockout {
    records: Mutex<HashMap<IpAddr, Record>>,
}

impl Lockout {
    /// How long `ip` must still wait, if it is locked out now.
    pub fn locked(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        records
            .get(&ip)
            .and_then(|r| r.locked_until)
            .and_then(|until| until.checked_duration_since(now))
            .filter(|d| !d.is_zero())
    }

    /// Notes a failed attempt; returns the lockout it caused, if any.
    pub fn failed(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        if records.len() >= MAX_TRACKED && !records.contains_key(&ip) {
            records.retain(|_, r| now.duration_since(r.since) < WINDOW);
            if records.len() >= MAX_TRACKED
                && let Some(oldest) = records.iter().min_by_key(|(_, r)| r.since).map(|(k, _)| *k)
            {
                records.remove(&oldest);
            }
        }
        let r = records.entry(ip).or_insert(Record {
            failures: 0,
            since: now,
            locked_until: None,
        });
        if now.duration_since(r.since) >= WINDOW {
            *r = Record {
                failures: 0,
                since: now,
                locked_until: None,
            };
        }
        r.failures += 1;
        if r.failures >= MAX_FAILURES {
            r.locked_until = Some(now + WINDOW);
            r.since = now;
            return Some(WINDOW);
        }
        None
    }

    /// Forgets `ip`'s failures after it authenticated.
    pub fn succeeded(&self, ip: IpAddr) {
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        if records.get(&ip).is_some_and(|r| r.locked_until.is_none()) {
            records.remove(&ip);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_too_many_failures_and_lets_go_later() {
        let l = Lockout::default();
        let ip: IpAddr = "192.0.2.7".parse().expect("ip");
        let other: IpAddr = "192.0.2.8".parse().expect("ip");
        let t0 = Instant::now();
        for i in 1..MAX_FAILURES {
            assert_eq!(l.failed(ip, t0 + Duration::from_secs(u64::from(i))), None);
        }
        let t = t0 + Duration::from_secs(20);
        assert_eq!(l.failed(ip, t), Some(WINDOW));
        assert_eq!(
            l.locked(ip, t + Duration::from_secs(1)),
            Some(WINDOW - Duration::from_secs(1))
        );
        assert_eq!(l.locked(other, t), None, "only the guesser is locked out");
        l.succeeded(ip);
        assert!(
            l.locked(ip, t).is_some(),
            "a lockout is not lifted by a later success"
        );
        assert_eq!(l.locked(ip, t + WINDOW), None, "released after the window");
    }

    #[test]
    fn slow_failures_never_lock() {
        let l = Lockout::default();
        let ip: IpAddr = "::1".parse().expect("ip");
        let t0 = Instant::now();
        for i in 0..100u64 {
            let now = t0 + Duration::from_secs(i * 7);
            assert_eq!(l.failed(ip, now), None, "attempt {i}");
        }
    }
}
