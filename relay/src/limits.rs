//! The file-descriptor budget: the open files limit, and the connection caps it allows.

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// Descriptors one logged-in MQTT client costs this process: its socket, the gate's socket to
/// rumqttd on loopback, and rumqttd's accepted side of that.
pub const FDS_PER_MQTT_CLIENT: u64 = 3;
/// The gate never serves more clients than this, however high the limit.
pub const MAX_MQTT_CONNECTIONS: usize = 4096;
/// Nor the HTTP listener more connections (WebSocket clients included).
pub const MAX_HTTP_CONNECTIONS: usize = 4096;
/// What each listener gets even when the limit is too low for it (the relay then warns).
pub const MIN_CONNECTIONS: usize = 16;
/// Descriptors always kept back: SQLite (5 connections with their WAL files), the listeners,
/// the relay's own MQTT link, the runtimes' epoll and event fds, logging, the Telegram client
/// (an idle relay holds about 25).
pub const BASE_RESERVE: u64 = 64;
/// MQTT connections from one address that may be in TLS + CONNECT at once: room for a site's
/// bays behind one address reconnecting together after a restart (a refused one retries).
pub const MQTT_HANDSHAKES_PER_ADDRESS: usize = 64;
/// Most HTTP connections one address may hold, however high the limit.
pub const MAX_HTTP_PER_ADDRESS: usize = 256;
/// Most HTTP connections one address may hold, however low the limit.
pub const MIN_HTTP_PER_ADDRESS: usize = 8;
/// Where a soft limit goes when the hard one is "unlimited" (Linux refuses that for open files;
/// this is its default `fs.nr_open`).
const UNLIMITED_TARGET: u64 = 1 << 20;

/// The caps derived from one open-files limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The open-files limit they come from (`u64::MAX`: unlimited).
    pub open_files: u64,
    /// MQTT clients the gate serves at once (logging in or logged in).
    pub mqtt_connections: usize,
    /// MQTT connections one address may have logging in at once.
    pub mqtt_handshakes_per_address: usize,
    /// HTTP connections open at once.
    pub http_connections: usize,
    /// HTTP connections one address may hold.
    pub http_per_address: usize,
    /// The limit does not even cover the minimums, which are used anyway: the relay may run
    /// out of descriptors.
    pub starved: bool,
}

impl Budget {
    /// Splits `open_files`: a reserve of [`BASE_RESERVE`] plus 1/16 of the limit, then three
    /// quarters of the rest for MQTT clients (at [`FDS_PER_MQTT_CLIENT`] each) and one quarter
    /// for HTTP connections (one each), within the minimums and maximums above.
    pub fn split(open_files: u64) -> Self {
        let reserve = BASE_RESERVE + open_files / 16;
        let spare = open_files.saturating_sub(reserve);
        let cap = |fds: u64, max: usize| {
            usize::try_from(fds)
                .unwrap_or(usize::MAX)
                .clamp(MIN_CONNECTIONS, max)
        };
        let mqtt_fds = spare / 4 * 3;
        let mqtt_connections = cap(mqtt_fds / FDS_PER_MQTT_CLIENT, MAX_MQTT_CONNECTIONS);
        let http_connections = cap(spare - mqtt_fds, MAX_HTTP_CONNECTIONS);
        let needed =
            reserve + MIN_CONNECTIONS as u64 * FDS_PER_MQTT_CLIENT + MIN_CONNECTIONS as u64;
        Self {
            open_files,
            mqtt_connections,
            mqtt_handshakes_per_address: MQTT_HANDSHAKES_PER_ADDRESS
                .min(mqtt_connections / 4)
                .max(1),
            http_connections,
            http_per_address: (http_connections / 4)
                .clamp(MIN_HTTP_PER_ADDRESS, MAX_HTTP_PER_ADDRESS)
                .min(http_connections),
            starved: open_files < needed,
        }
    }

    /// The budget of this process's current (soft) limit.
    pub fn current() -> Self {
        Self::split(getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX))
    }

    /// The limit that serves both maximums.
    pub fn enough() -> u64 {
        (1..=u64::MAX)
            .map(|k| k * 1024)
            .find(|&n| {
                let b = Self::split(n);
                b.mqtt_connections == MAX_MQTT_CONNECTIONS
                    && b.http_connections == MAX_HTTP_CONNECTIONS
            })
            .unwrap_or(u64::MAX)
    }

    /// Says (at info, or warn when the limit holds the caps down) what the relay will serve.
    pub fn log(&self) {
        let limit = match self.open_files {
            u64::MAX => "unlimited".to_owned(),
            n => n.to_string(),
        };
        let caps = format!(
            "MQTT up to {} clients ({} logging in per address), HTTP up to {} connections ({} per address)",
            self.mqtt_connections,
            self.mqtt_handshakes_per_address,
            self.http_connections,
            self.http_per_address
        );
        if self.starved {
            log::warn!(
                "open files limited to {limit}, too few to run safely ({caps} would need more): raise the limit (LimitNOFILE= in the systemd unit, `ulimit -n` in a shell) to at least {}",
                Self::enough()
            );
        } else if self.open_files < Self::enough() {
            log::warn!(
                "open files limited to {limit}, so {caps}; to serve more, raise the limit (LimitNOFILE= in the systemd unit, `ulimit -n` in a shell) to {}",
                Self::enough()
            );
        } else {
            log::info!("open files limit {limit}: {caps}");
        }
    }
}

/// What [`raise_open_files`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raised {
    /// The soft limit before (`None`: unlimited).
    pub before: Option<u64>,
    /// The soft limit now.
    pub now: Option<u64>,
}

/// Raises the soft open-files limit to the hard one (an unprivileged process may), and logs
/// what it did. The relay binary calls it once at start-up, before anything is opened.
pub fn raise_open_files() -> Raised {
    let limit = getrlimit(Resource::Nofile);
    let before = limit.current;
    let target = Some(limit.maximum.unwrap_or(UNLIMITED_TARGET));
    if before.is_none() || before >= target {
        return Raised {
            before,
            now: before,
        };
    }
    let now = match setrlimit(
        Resource::Nofile,
        Rlimit {
            current: target,
            maximum: limit.maximum,
        },
    ) {
        Ok(()) => {
            log::info!(
                "open files limit raised from {} to {} (the hard limit)",
                show(before),
                show(target)
            );
            target
        }
        Err(e) => {
            log::warn!(
                "cannot raise the open files limit from {} to {}: {e}; running with {}",
                show(before),
                show(target),
                show(before)
            );
            before
        }
    };
    Raised { before, now }
}

fn show(limit: Option<u64>) -> String {
    limit.map_or_else(|| "unlimited".to_owned(), |n| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Descriptors a budget can use at most: every MQTT slot logged in, every HTTP slot open.
    fn worst_case(b: &Budget) -> u64 {
        b.mqtt_connections as u64 * FDS_PER_MQTT_CLIENT + b.http_connections as u64
    }

    #[test]
    fn splits_the_default_limit_with_a_reserve() {
        let b = Budget::split(1024);
        assert_eq!(
            b,
            Budget {
                open_files: 1024,
                mqtt_connections: 224,
                mqtt_handshakes_per_address: 56,
                http_connections: 224,
                http_per_address: 56,
                starved: false,
            }
        );
        assert_eq!(1024 - worst_case(&b), BASE_RESERVE + 1024 / 16);
    }

    #[test]
    fn every_budget_keeps_its_reserve() {
        for limit in [512, 1024, 4096, 8192, 20_000, 65_536, 1 << 20] {
            let b = Budget::split(limit);
            assert!(!b.starved, "{limit}");
            assert!(
                worst_case(&b) + BASE_RESERVE <= limit,
                "{limit}: {b:?} uses {}",
                worst_case(&b)
            );
            assert!(b.http_per_address < b.http_connections, "{limit}: {b:?}");
            assert!(
                b.mqtt_handshakes_per_address < b.mqtt_connections,
                "{limit}: {b:?}"
            );
        }
    }

    #[test]
    fn high_limits_stop_at_the_maximums() {
        for limit in [65_536, 1 << 20, u64::MAX] {
            let b = Budget::split(limit);
            assert_eq!(b.mqtt_connections, MAX_MQTT_CONNECTIONS, "{limit}");
            assert_eq!(b.http_connections, MAX_HTTP_CONNECTIONS, "{limit}");
            assert_eq!(b.http_per_address, MAX_HTTP_PER_ADDRESS, "{limit}");
            assert_eq!(b.mqtt_handshakes_per_address, MQTT_HANDSHAKES_PER_ADDRESS);
        }
        // The unit's LimitNOFILE=65536 covers both.
        assert!(Budget::enough() <= 65_536, "{}", Budget::enough());
        assert!(Budget::split(Budget::enough() - 1024).mqtt_connections < MAX_MQTT_CONNECTIONS);
    }

    #[test]
    fn tiny_limits_get_the_minimums_and_say_so() {
        for limit in [0, 20, 64, 128] {
            let b = Budget::split(limit);
            assert!(b.starved, "{limit}");
            assert_eq!(b.mqtt_connections, MIN_CONNECTIONS, "{limit}");
            assert_eq!(b.http_connections, MIN_CONNECTIONS, "{limit}");
            assert_eq!(b.mqtt_handshakes_per_address, MIN_CONNECTIONS / 4);
            assert_eq!(b.http_per_address, MIN_HTTP_PER_ADDRESS);
        }
        // Just enough for the minimums is not starved.
        let needed = (1..1024)
            .find(|&n| !Budget::split(n).starved)
            .expect("some limit");
        assert!(worst_case(&Budget::split(needed)) + BASE_RESERVE <= needed);
    }

    #[test]
    fn raising_reaches_the_hard_limit() {
        // An unprivileged process may raise its soft limit up to the hard one.
        let r = raise_open_files();
        let now = getrlimit(Resource::Nofile);
        assert_eq!(r.now, now.current);
        assert!(r.now >= r.before || r.before.is_none(), "{r:?}");
    }
}
