//! Slows down password guessing: an address that fails authentication too often (API tokens
//! or MQTT passwords) is refused for a while, whatever it presents. Failures are forgotten only
//! as the window passes, never by a success (one known credential must not reset the count of
//! guesses at another); IPv6 addresses count per /64, the block one machine usually holds.

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
        let ip = key(ip);
        let records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        records
            .get(&ip)
            .and_then(|r| r.locked_until)
            .and_then(|until| until.checked_duration_since(now))
            .filter(|d| !d.is_zero())
    }

    /// Notes a failed attempt; returns the lockout it caused, if any.
    pub fn failed(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let ip = key(ip);
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        if records.len() >= MAX_TRACKED && !records.contains_key(&ip) {
            records.retain(|_, r| {
                now.duration_since(r.since) < WINDOW || r.locked_until.is_some_and(|u| u > now)
            });
            // Still full: the oldest unlocked record makes room; a lockout is never evicted.
            if records.len() >= MAX_TRACKED
                && let Some(oldest) = records
                    .iter()
                    .filter(|(_, r)| r.locked_until.is_none_or(|u| u <= now))
                    .min_by_key(|(_, r)| r.since)
                    .map(|(k, _)| *k)
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
}

/// The unit an address is counted in: itself for IPv4, its /64 for IPv6.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(
                u128::from(v6) & !((1u128 << 64) - 1),
            )),
        },
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
        assert_eq!(l.locked(ip, t + WINDOW), None, "released after the window");
        let a: IpAddr = "2001:db8:1:2::7".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        for _ in 0..MAX_FAILURES {
            l.failed(a, t);
        }
        assert!(l.locked(b, t).is_some(), "one /64 is one guesser");
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
