//! Who gets a connection: a listener's slots and per-address counts, refusals counted in
//! `/metrics` and logged at most once per [`LOG_INTERVAL`], and the HTTP listener built on them.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use prometheus_client::metrics::gauge::Gauge;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::limits::Budget;
use crate::metrics::Metrics;

/// How often refusals are summed up in the log (each one is counted in `/metrics`).
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// The address a per-address limit counts: IPv4 as it is, IPv6 by its /64 (one host usually
/// has a whole /64), an IPv4-mapped IPv6 address as the IPv4 one.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
        },
    }
}

/// Why a connection was refused (the `reason` label of `connections_refused`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Its address already has as many as it may.
    PerAddress,
    /// Every slot of the listener is taken.
    Full,
}

impl Refusal {
    pub fn label(self) -> &'static str {
        match self {
            Self::PerAddress => "per_address",
            Self::Full => "full",
        }
    }
}

/// Connections counted per address, each at most `max`.
#[derive(Debug)]
pub struct PerAddress {
    max: usize,
    counts: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection counted against its address until dropped.
#[derive(Debug)]
pub struct AddressSlot {
    owner: Arc<PerAddress>,
    key: IpAddr,
}

impl PerAddress {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            counts: Mutex::default(),
        })
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// A slot for `ip`, or `None` when its address already has `max`.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        let key = address_key(ip);
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let n = counts.entry(key).or_default();
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            owner: self.clone(),
            key,
        })
    }

    /// How many `ip`'s address holds.
    pub fn count(&self, ip: IpAddr) -> usize {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.get(&address_key(ip)).copied().unwrap_or(0)
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut counts = self
            .owner
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = counts.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

/// A listener's connections: at most `max` at once, counted in the `connections_open` gauge.
#[derive(Debug)]
pub struct Slots {
    max: usize,
    semaphore: Arc<Semaphore>,
    open: Gauge,
}

/// One connection's slot, given back when dropped.
#[derive(Debug)]
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    open: Gauge,
}

impl Slots {
    pub fn new(max: usize, open: Gauge) -> Self {
        Self {
            max,
            semaphore: Arc::new(Semaphore::new(max)),
            open,
        }
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// A slot, or `None` when all are taken.
    pub fn try_acquire(&self) -> Option<Slot> {
        let permit = self.semaphore.clone().try_acquire_owned().ok()?;
        self.open.inc();
        Some(Slot {
            _permit: permit,
            open: self.open.clone(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.open.dec();
    }
}

/// A listener's refusals: each counted in `/metrics`; the first after a quiet interval logged
/// at once, the rest summed up every [`LOG_INTERVAL`] by [`Self::flush`].
#[derive(Debug)]
pub struct Refusals {
    /// `MQTT` or `HTTP`, for the log; lower case for the metric's label.
    listener: &'static str,
    metrics: Arc<Metrics>,
    /// What the log lines say each limit is.
    per_address: usize,
    total: usize,
    open_files: u64,
    pending: Mutex<Pending>,
}

#[derive(Debug, Default)]
struct Pending {
    per_address: u64,
    full: u64,
    /// Whether a refusal was logged or summed up in the current interval.
    loud: bool,
}

impl Refusals {
    pub fn new(
        listener: &'static str,
        metrics: Arc<Metrics>,
        per_address: usize,
        total: usize,
        open_files: u64,
    ) -> Self {
        Self {
            listener,
            metrics,
            per_address,
            total,
            open_files,
            pending: Mutex::default(),
        }
    }

    /// Counts one refused connection from `ip`, logging it if it is the first in a while.
    pub fn refused(&self, ip: IpAddr, why: Refusal) {
        self.metrics
            .refused(&self.listener.to_ascii_lowercase(), why.label());
        let mut p = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if p.loud {
            match why {
                Refusal::PerAddress => p.per_address += 1,
                Refusal::Full => p.full += 1,
            }
            return;
        }
        p.loud = true;
        drop(p);
        let listener = self.listener;
        let secs = LOG_INTERVAL.as_secs();
        match why {
            Refusal::PerAddress => log::warn!(
                "{listener}: refused a connection from {ip}: its address already has {} (the most one address may); further refusals are summed up every {secs} s",
                self.per_address_what()
            ),
            Refusal::Full => log::warn!(
                "{listener}: refused a connection from {ip}: all {} connections are in use (the cap the open files limit {} allows; raise LimitNOFILE to allow more); further refusals are summed up every {secs} s",
                self.total,
                self.open_files
            ),
        }
    }

    fn per_address_what(&self) -> String {
        match self.listener {
            "MQTT" => format!("{} connections logging in", self.per_address),
            _ => format!("{} connections open", self.per_address),
        }
    }

    /// Logs the refusals since the last call, if any (call it every [`LOG_INTERVAL`]).
    pub fn flush(&self) {
        let mut p = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let (per_address, full) = (p.per_address, p.full);
        *p = Pending {
            loud: per_address + full > 0,
            ..Pending::default()
        };
        drop(p);
        if per_address + full == 0 {
            return;
        }
        let mut parts = vec![];
        if per_address > 0 {
            parts.push(format!(
                "{per_address} from addresses that already had {}",
                self.per_address_what()
            ));
        }
        if full > 0 {
            parts.push(format!(
                "{full} with all {} connections in use (raise LimitNOFILE to allow more)",
                self.total
            ));
        }
        log::warn!(
            "{}: refused {} more connections in the last {} s: {}",
            self.listener,
            per_address + full,
            LOG_INTERVAL.as_secs(),
            parts.join(", ")
        );
    }
}

/// Whether an accept error is only about the one connection (the listener carries on at once).
pub fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// The HTTP side's listener for `axum::serve`: at most the budget's HTTP connections at once
/// and its per-address share from any one address; others are closed as soon as accepted.
#[derive(Debug)]
pub struct HttpListener {
    inner: TcpListener,
    slots: Slots,
    per_address: Arc<PerAddress>,
    refusals: Refusals,
    tick: tokio::time::Interval,
    /// When an accept error was last logged (they repeat while it lasts).
    last_error: Option<Instant>,
}

impl HttpListener {
    pub fn new(inner: TcpListener, budget: &Budget, metrics: Arc<Metrics>) -> Self {
        let open = metrics.connections_open("http");
        Self {
            inner,
            slots: Slots::new(budget.http_connections, open),
            per_address: PerAddress::new(budget.http_per_address),
            refusals: Refusals::new(
                "HTTP",
                metrics,
                budget.http_per_address,
                budget.http_connections,
                budget.open_files,
            ),
            tick: log_ticker(),
            last_error: None,
        }
    }

    fn admit(&self, ip: IpAddr) -> Result<(Slot, AddressSlot), Refusal> {
        let address = self
            .per_address
            .try_acquire(ip)
            .ok_or(Refusal::PerAddress)?;
        let slot = self.slots.try_acquire().ok_or(Refusal::Full)?;
        Ok((slot, address))
    }
}

/// An interval of [`LOG_INTERVAL`] whose ticks wait when missed (for an accept loop's summary).
pub fn log_ticker() -> tokio::time::Interval {
    let mut tick =
        tokio::time::interval_at(tokio::time::Instant::now() + LOG_INTERVAL, LOG_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
}

impl axum::serve::Listener for HttpListener {
    type Io = Admitted;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Admitted, SocketAddr) {
        loop {
            let accepted = tokio::select! {
                _ = self.tick.tick() => {
                    self.refusals.flush();
                    continue;
                }
                accepted = self.inner.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    if self.last_error.is_none_or(|t| t.elapsed() >= LOG_INTERVAL) {
                        log::warn!("HTTP: accept failed: {e}; retrying");
                        self.last_error = Some(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            match self.admit(peer.ip()) {
                Ok((slot, address)) => {
                    let _ = stream.set_nodelay(true);
                    return (
                        Admitted {
                            stream,
                            _slot: slot,
                            _address: address,
                        },
                        peer,
                    );
                }
                // Dropping the stream closes it.
                Err(why) => self.refusals.refused(peer.ip(), why),
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// An accepted HTTP connection, holding its slots until it closes.
#[derive(Debug)]
pub struct Admitted {
    stream: TcpStream,
    _slot: Slot,
    _address: AddressSlot,
}

impl AsyncRead for Admitted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Admitted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use axum::serve::Listener;
    use tokio::io::AsyncReadExt;

    #[test]
    fn addresses_are_counted_by_host() {
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(address_key(v4), v4);
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), v4);
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(other));
        assert_eq!(address_key(a), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn per_address_slots_come_back_when_dropped() {
        let per = PerAddress::new(2);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let first = per.try_acquire(a).unwrap();
        let _second = per.try_acquire(a).unwrap();
        assert!(per.try_acquire(a).is_none(), "a third from one address");
        let _other = per
            .try_acquire(b)
            .expect("another address is not held back");
        drop(first);
        assert_eq!(per.count(a), 1);
        assert!(per.try_acquire(a).is_some());
    }

    #[test]
    fn slots_show_in_the_gauge() {
        let open = Gauge::default();
        let slots = Slots::new(1, open.clone());
        let slot = slots.try_acquire().unwrap();
        assert!(slots.try_acquire().is_none());
        assert_eq!(open.get(), 1);
        drop(slot);
        assert_eq!(open.get(), 0);
        assert!(slots.try_acquire().is_some());
    }

    #[test]
    fn refusals_are_counted_each_and_logged_in_sums() {
        let metrics = Arc::new(Metrics::default());
        let r = Refusals::new("MQTT", metrics.clone(), 16, 100, 512);
        let ip: IpAddr = "127.0.0.2".parse().unwrap();
        for _ in 0..1000 {
            r.refused(ip, Refusal::PerAddress);
        }
        r.refused(ip, Refusal::Full);
        {
            let p = r.pending.lock().unwrap();
            // The first was logged at once; the rest wait for the summary.
            assert_eq!((p.per_address, p.full, p.loud), (999, 1, true));
        }
        r.flush();
        assert!(r.pending.lock().unwrap().loud, "still loud after a sum");
        r.flush();
        assert!(
            !r.pending.lock().unwrap().loud,
            "quiet after an empty interval"
        );
        let text = metrics.render();
        assert!(
            text.contains(
                "baycount_connections_refused_total{listener=\"mqtt\",reason=\"per_address\"} 1000"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "baycount_connections_refused_total{listener=\"mqtt\",reason=\"full\"} 1"
            ),
            "{text}"
        );
    }

    /// Whether the peer closed `s` (reads end of stream within a second).
    async fn closed(s: &mut tokio::net::TcpStream) -> bool {
        let mut b = [0u8; 1];
        matches!(
            tokio::time::timeout(Duration::from_secs(1), s.read(&mut b)).await,
            Ok(Ok(0) | Err(_))
        )
    }

    #[tokio::test]
    async fn the_http_listener_closes_what_is_over_its_caps() {
        let metrics = Arc::new(Metrics::default());
        let inner = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = inner.local_addr().unwrap();
        let mut budget = Budget::split(1024);
        budget.http_connections = 3;
        budget.http_per_address = 2;
        let mut listener = HttpListener::new(inner, &budget, metrics.clone());
        let from = |ip: &str| {
            let s = tokio::net::TcpSocket::new_v4().unwrap();
            s.bind(format!("{ip}:0").parse().unwrap()).unwrap();
            s.connect(addr)
        };
        // Two from one address are served; its third is closed at once.
        let _a1 = from("127.0.0.1").await.unwrap();
        let _a2 = from("127.0.0.1").await.unwrap();
        let mut a3 = from("127.0.0.1").await.unwrap();
        let (first, _) = listener.accept().await;
        let (_second, _) = listener.accept().await;
        // Another address gets the last slot; a fourth connection finds them all taken.
        let mut b2 = {
            let _b1 = from("127.0.0.3").await.unwrap();
            let b2 = from("127.0.0.3").await.unwrap();
            let (_third, peer) = listener.accept().await;
            assert_eq!(peer.ip().to_string(), "127.0.0.3");
            // Its slot stays taken until `_third` drops, at the end of this block.
            let accept = tokio::time::timeout(Duration::from_millis(500), listener.accept());
            assert!(accept.await.is_err(), "nothing more is admitted");
            b2
        };
        assert!(closed(&mut a3).await, "over the per-address limit");
        assert!(closed(&mut b2).await, "over the total");
        let text = metrics.render();
        for reason in ["per_address", "full"] {
            assert!(
                text.contains(&format!(
                    "baycount_connections_refused_total{{listener=\"http\",reason=\"{reason}\"}} 1"
                )),
                "{reason}: {text}"
            );
        }
        assert!(
            text.contains("baycount_connections_open{listener=\"http\"} 2"),
            "{text}"
        );
        drop(first);
        assert!(
            metrics
                .render()
                .contains("baycount_connections_open{listener=\"http\"} 1")
        );
    }
}
