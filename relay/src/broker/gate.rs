//! The embedded broker's door: every client connects here (over TLS when configured), proves
//! who it is, and may then publish and subscribe only where [`baycount_protocol::acl`] lets its
//! bay. rumqttd sits behind it on loopback, reachable only with a secret the relay keeps.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use baycount_protocol::acl;
use bytes::{Buf, BytesMut};
use rumqttd::protocol::v4::{self, V4};
use rumqttd::protocol::{
    ConnAck, ConnectReturnCode, Login, Packet, Protocol, SubAck, SubscribeReasonCode,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::users::Users;
use crate::admission::{self, AddressSlot, PerAddress, Refusal, Refusals, Slots};
use crate::lockout::Lockout;

/// How long a new connection has to finish TLS and send CONNECT, together.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Who may come in and how.
pub struct Gate {
    /// Password file users; `None` lets anyone in (loopback-only setups).
    pub users: Option<Users>,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub lockout: Arc<Lockout>,
    /// rumqttd on loopback, and the login it wants.
    pub upstream: SocketAddr,
    pub upstream_login: Login,
    /// Largest packet a client may send.
    pub max_packet: usize,
    /// Connections served at once (from the descriptor budget, [`crate::limits`]); more are
    /// closed as soon as accepted until some end.
    pub slots: Slots,
    /// Connections still in TLS + CONNECT, counted per address.
    pub handshakes: Arc<PerAddress>,
    pub refusals: Refusals,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("users", &self.users.as_ref().map(Users::len))
            .field("tls", &self.tls.is_some())
            .field("upstream", &self.upstream)
            .field("max_connections", &self.slots.max())
            .field("handshakes_per_address", &self.handshakes.max())
            .finish_non_exhaustive()
    }
}

/// Why one connection ended early (logged, never shown to other clients).
#[derive(Debug, thiserror::Error)]
enum Refused {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("MQTT protocol error: {0:?}")]
    Protocol(rumqttd::protocol::Error),
    #[error("did not finish connecting within {HANDSHAKE_TIMEOUT:?}")]
    Timeout,
    #[error("first packet was not CONNECT")]
    NotConnect,
}

impl Gate {
    /// Accepts clients until `shutdown`; each connection is a task on `tasks`.
    pub async fn run(
        self: Arc<Self>,
        listener: TcpListener,
        tasks: TaskTracker,
        shutdown: CancellationToken,
    ) {
        let mut tick = admission::log_ticker();
        let mut last_error: Option<Instant> = None;
        loop {
            let (stream, peer) = tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {
                    self.refusals.flush();
                    continue;
                }
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) if admission::is_connection_error(&e) => continue,
                    Err(e) => {
                        // Repeats while it lasts (out of descriptors, say): once per interval.
                        if last_error.is_none_or(|t| t.elapsed() >= admission::LOG_INTERVAL) {
                            log::warn!("MQTT: accept failed: {e}; retrying");
                            last_error = Some(Instant::now());
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            // Dropping a refused stream closes it at once.
            let Some(handshake) = self.handshakes.try_acquire(peer.ip()) else {
                self.refusals.refused(peer.ip(), Refusal::PerAddress);
                continue;
            };
            let Some(slot) = self.slots.try_acquire() else {
                self.refusals.refused(peer.ip(), Refusal::Full);
                continue;
            };
            let gate = self.clone();
            let stop = shutdown.clone();
            tasks.spawn(async move {
                let _slot = slot;
                tokio::select! {
                    _ = stop.cancelled() => {}
                    r = gate.serve(stream, peer, handshake) => if let Err(e) = r {
                        log::debug!("MQTT client {peer}: {e}");
                    },
                }
            });
        }
    }

    /// One connection; `handshake` counts it against its address until it has logged in.
    async fn serve(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        handshake: AddressSlot,
    ) -> Result<(), Refused> {
        let _ = stream.set_nodelay(true);
        let deadline = tokio::time::Instant::now() + HANDSHAKE_TIMEOUT;
        match &self.tls {
            None => self.session(stream, peer, deadline, handshake).await,
            Some(acceptor) => {
                let tls = tokio::time::timeout_at(deadline, acceptor.accept(stream))
                    .await
                    .map_err(|_| Refused::Timeout)?
                    .inspect_err(|e| log::warn!("MQTT: TLS handshake with {peer} failed: {e}"))?;
                self.session(tls, peer, deadline, handshake).await
            }
        }
    }

    /// One client: CONNECT checked and passed on with the upstream login, then packets both
    /// ways, the client's checked against the ACL.
    async fn session<S>(
        &self,
        client: S,
        peer: SocketAddr,
        deadline: tokio::time::Instant,
        handshake: AddressSlot,
    ) -> Result<(), Refused>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let (mut client_rx, mut client_tx) = tokio::io::split(client);
        let mut buf = BytesMut::with_capacity(4096);
        let first = tokio::time::timeout_at(
            deadline,
            read_frame(&mut client_rx, &mut buf, self.max_packet),
        )
        .await
        .map_err(|_| Refused::Timeout)??;
        let Some(frame) = first else { return Ok(()) };
        let Packet::Connect(mut connect, props, will, will_props, login) = V4
            .read_mut(&mut frame.clone(), self.max_packet)
            .map_err(Refused::Protocol)?
        else {
            return Err(Refused::NotConnect);
        };
        let ip = peer.ip();
        let user = match self.admit(ip, login.as_ref()) {
            Ok(user) => user,
            Err(code) => {
                refuse(&mut client_tx, code).await?;
                return Ok(());
            }
        };
        if let (Some(user), Some(will)) = (&user, &will) {
            let topic = String::from_utf8_lossy(&will.topic);
            if !acl::bay_may_publish(user, &topic) {
                log::warn!(
                    "MQTT: {user} from {ip} refused: its last will on {topic} is not its own topic"
                );
                refuse(&mut client_tx, ConnectReturnCode::NotAuthorized).await?;
                return Ok(());
            }
        }
        // Logged in: no longer counted against its address's handshakes.
        drop(handshake);
        if let Some(user) = &user {
            // A bay's client ids live in its own namespace: no bay can take over another's
            // session. An empty id (the broker's to choose) gets a fresh one.
            connect.client_id = if connect.client_id.is_empty() {
                format!("{user}:{}", uuid::Uuid::new_v4().simple())
            } else {
                format!("{user}:{}", connect.client_id)
            };
        }
        let mut upstream = TcpStream::connect(self.upstream).await?;
        let _ = upstream.set_nodelay(true);
        let mut out = BytesMut::new();
        V4.write(
            Packet::Connect(
                connect,
                props,
                will,
                will_props,
                Some(self.upstream_login.clone()),
            ),
            &mut out,
        )
        .map_err(Refused::Protocol)?;
        upstream.write_all(&out).await?;
        let (mut up_rx, mut up_tx) = upstream.into_split();
        let (reply_tx, mut reply_rx) = mpsc::channel::<BytesMut>(16);

        let inbound = async {
            while let Some(frame) = read_frame(&mut client_rx, &mut buf, self.max_packet).await? {
                match self.check(user.as_deref(), ip, &frame) {
                    Verdict::Pass => up_tx.write_all(&frame).await?,
                    Verdict::Drop(None) => {}
                    Verdict::Drop(Some(reply)) => {
                        if reply_tx.send(reply).await.is_err() {
                            break;
                        }
                    }
                    Verdict::Close => break,
                }
            }
            Ok::<_, Refused>(())
        };
        let outbound = async {
            let mut up_buf = BytesMut::with_capacity(4096);
            loop {
                tokio::select! {
                    frame = read_frame(&mut up_rx, &mut up_buf, usize::MAX) => match frame? {
                        Some(frame) => client_tx.write_all(&frame).await?,
                        None => break,
                    },
                    Some(reply) = reply_rx.recv() => client_tx.write_all(&reply).await?,
                }
            }
            client_tx.shutdown().await?;
            Ok::<_, Refused>(())
        };
        tokio::select! {
            r = inbound => r,
            r = outbound => r,
        }
    }

    /// Who the client is, or why it may not come in.
    fn admit(
        &self,
        ip: IpAddr,
        login: Option<&Login>,
    ) -> Result<Option<String>, ConnectReturnCode> {
        let Some(users) = &self.users else {
            return Ok(None);
        };
        let now = Instant::now();
        if let Some(wait) = self.lockout.locked(ip, now) {
            log::warn!(
                "MQTT: {ip} refused: too many failed logins, locked out for {} s more",
                wait.as_secs() + 1
            );
            return Err(ConnectReturnCode::NotAuthorized);
        }
        match login {
            Some(l) if users.verify(&l.username, &l.password) => Ok(Some(l.username.clone())),
            other => {
                let who = other.map_or("(no user name)", |l| l.username.as_str());
                log::warn!(
                    "MQTT: login refused for {who} from {ip}: unknown user or wrong password"
                );
                if self.lockout.failed(ip, now).is_some() {
                    log::warn!(
                        "MQTT: {ip} locked out for {} s after repeated failures",
                        crate::lockout::WINDOW.as_secs()
                    );
                }
                Err(ConnectReturnCode::BadUserNamePassword)
            }
        }
    }

    /// What to do with one packet from an authenticated client.
    fn check(&self, user: Option<&str>, ip: IpAddr, frame: &[u8]) -> Verdict {
        let Some(user) = user else {
            return Verdict::Pass;
        };
        match frame[0] >> 4 {
            // CONNECT again: a protocol violation.
            1 => Verdict::Close,
            3 => {
                let Some((topic, qos, pkid)) = publish_header(frame) else {
                    return Verdict::Close;
                };
                if acl::bay_may_publish(user, topic) {
                    return Verdict::Pass;
                }
                log::warn!("MQTT: {user} from {ip} may not publish to {topic}: dropped");
                match qos {
                    0 => Verdict::Drop(None),
                    // Acknowledged like Mosquitto does, so the client does not resend it forever.
                    1 => Verdict::Drop(Some(BytesMut::from(
                        &[0x40, 2, (pkid >> 8) as u8, pkid as u8][..],
                    ))),
                    _ => Verdict::Close,
                }
            }
            8 => {
                let Ok(Packet::Subscribe(sub, _)) =
                    V4.read_mut(&mut BytesMut::from(frame), self.max_packet)
                else {
                    return Verdict::Close;
                };
                let denied: Vec<&str> = sub
                    .filters
                    .iter()
                    .map(|f| f.path.as_str())
                    .filter(|f| !acl::bay_may_subscribe(user, f))
                    .collect();
                if denied.is_empty() {
                    return Verdict::Pass;
                }
                log::warn!("MQTT: {user} from {ip} may not subscribe to {denied:?}: refused");
                let mut reply = BytesMut::new();
                let suback = SubAck {
                    pkid: sub.pkid,
                    return_codes: vec![SubscribeReasonCode::Failure; sub.filters.len()],
                };
                match V4.write(Packet::SubAck(suback, None), &mut reply) {
                    Ok(_) => Verdict::Drop(Some(reply)),
                    Err(_) => Verdict::Close,
                }
            }
            _ => Verdict::Pass,
        }
    }
}

/// The gate's decision on one client packet.
#[derive(Debug)]
enum Verdict {
    Pass,
    /// Not passed on; answered with this packet, if any.
    Drop(Option<BytesMut>),
    Close,
}

/// Sends a refusing CONNACK.
async fn refuse<W: AsyncWrite + Unpin>(w: &mut W, code: ConnectReturnCode) -> Result<(), Refused> {
    let mut out = BytesMut::new();
    V4.write(
        Packet::ConnAck(
            ConnAck {
                session_present: false,
                code,
            },
            None,
        ),
        &mut out,
    )
    .map_err(Refused::Protocol)?;
    w.write_all(&out).await?;
    w.shutdown().await?;
    Ok(())
}

/// The next whole MQTT packet from `r`, or `None` at a clean end of stream.
async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut BytesMut,
    max_packet: usize,
) -> Result<Option<BytesMut>, Refused> {
    loop {
        match v4::check(buf.iter(), max_packet) {
            Ok(header) => return Ok(Some(buf.split_to(header.frame_length()))),
            Err(rumqttd::protocol::Error::InsufficientBytes(_)) => {}
            Err(e) => return Err(Refused::Protocol(e)),
        }
        if r.read_buf(buf).await? == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(Refused::Io(std::io::ErrorKind::UnexpectedEof.into()))
            };
        }
    }
}

/// Topic, QoS and packet id of a whole PUBLISH frame.
fn publish_header(frame: &[u8]) -> Option<(&str, u8, u16)> {
    let qos = (frame[0] >> 1) & 3;
    let mut i = 1;
    while frame.get(i)? & 0x80 != 0 {
        i += 1;
    }
    let mut rest = frame.get(i + 1..)?;
    if rest.len() < 2 {
        return None;
    }
    let len = usize::from(rest.get_u16());
    let topic = std::str::from_utf8(rest.get(..len)?).ok()?;
    let mut after = rest.get(len..)?;
    let pkid = if qos > 0 {
        if after.len() < 2 {
            return None;
        }
        after.get_u16()
    } else {
        0
    };
    Some((topic, qos, pkid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_publish_headers() {
        // QoS 1, topic "a/b", packet id 0x0102, payload "x".
        let frame = [0x32, 8, 0, 3, b'a', b'/', b'b', 1, 2, b'x'];
        assert_eq!(publish_header(&frame), Some(("a/b", 1, 0x0102)));
        // QoS 0 has no packet id.
        let frame = [0x30, 4, 0, 1, b't', b'p'];
        assert_eq!(publish_header(&frame), Some(("t", 0, 0)));
        for bad in [
            &[0x32, 1, 0][..],
            &[0x32, 3, 0, 9, b'a'][..],
            &[0x32, 5, 0, 1, 0xff, 0, 1][..],
        ] {
            assert_eq!(publish_header(bad), None, "{bad:?}");
        }
    }
}
