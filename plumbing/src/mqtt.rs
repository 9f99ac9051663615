//! The MQTT client both sides run (rumqttc): its options, reconnects with backoff, a clean goodbye.

use std::sync::Arc;
use std::time::Duration;

use baycount_protocol::codec::MAX_PAYLOAD;
use baycount_protocol::topic;
use rumqttc::{
    AsyncClient, ConnectionError, Event, EventLoop, LastWill, MqttOptions, Packet, Publish, QoS,
};
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::mqtt_tls::{ClientTls, TlsError};
use crate::mqtt_url::MqttUrl;

/// The contract's QoS ([`topic::QOS`]) as rumqttc spells it.
pub const QOS: QoS = match topic::QOS {
    0 => QoS::AtMostOnce,
    1 => QoS::AtLeastOnce,
    _ => QoS::ExactlyOnce,
};

/// Room in a packet for the topic and headers around the largest payload.
const PACKET_OVERHEAD: usize = 1024;
/// How long a goodbye waits for the disconnect to go out.
const GOODBYE_WAIT: Duration = Duration::from_secs(1);

/// Where the broker is and as whom to log in.
#[derive(Clone)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    /// TLS (`mqtts://`).
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password is never printed.
        f.debug_struct("Endpoint")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// The broker `url` names, over TLS set up from `tls` (given for `mqtts://` URLs).
    pub fn from_url(url: &MqttUrl, tls: Option<&ClientTls>) -> Result<Self, TlsError> {
        Ok(Self {
            host: url.host.clone(),
            port: url.port,
            username: url.username.clone(),
            password: url.password.clone(),
            tls: tls.map(|t| t.client_config().map(Arc::new)).transpose()?,
        })
    }

    /// rumqttc's options for client `id` of this broker: its keep-alive, a clean session,
    /// packets up to the contract's payload limit, its last `will`, the login and TLS.
    pub fn options(&self, id: String, keep_alive: Duration, will: LastWill) -> MqttOptions {
        let mut opts = MqttOptions::new(id, self.host.clone(), self.port);
        let max_packet = MAX_PAYLOAD + PACKET_OVERHEAD;
        opts.set_keep_alive(keep_alive)
            .set_clean_session(true)
            .set_max_packet_size(max_packet, max_packet)
            .set_last_will(will);
        if let Some(user) = &self.username {
            opts.set_credentials(user.clone(), self.password.clone().unwrap_or_default());
        }
        if let Some(tls) = &self.tls {
            opts.set_transport(rumqttc::Transport::tls_with_config(
                rumqttc::TlsConfiguration::Rustls(tls.clone()),
            ));
        }
        opts
    }
}

/// What the connection came to, for the link that runs it.
#[derive(Debug)]
pub enum Happening {
    /// (Re)connected: subscribe and announce now.
    Connected,
    /// A message from the broker.
    Message(Publish),
    /// The connection failed: `lost` when it was up until now, else one more attempt that
    /// failed. The next [`Connection::next`] waits its backoff before trying again.
    Failed { error: ConnectionError, lost: bool },
}

/// A client's connection: reconnects after its backoff, tells its link what matters, and says
/// goodbye with the client's last will.
pub struct Connection {
    client: AsyncClient,
    eventloop: EventLoop,
    will: Option<LastWill>,
    backoff: Backoff,
    /// The last attempt failed: wait the backoff before the next.
    failed: bool,
    connected: bool,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("backoff", &self.backoff)
            .field("connected", &self.connected)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A client for `options`, with a request queue of `capacity`, and its connection, which
    /// waits `backoff` between attempts (reset by every connect). Nothing is sent before the
    /// connection is run.
    pub fn new(options: MqttOptions, capacity: usize, backoff: Backoff) -> (AsyncClient, Self) {
        let will = options.last_will();
        let (client, eventloop) = AsyncClient::new(options, capacity);
        let connection = Self {
            client: client.clone(),
            eventloop,
            will,
            backoff,
            failed: false,
            connected: false,
        };
        (client, connection)
    }

    /// The next thing that matters to the link, or `None` once `shutdown` is cancelled.
    pub async fn next(&mut self, shutdown: &CancellationToken) -> Option<Happening> {
        if std::mem::take(&mut self.failed) {
            tokio::select! {
                _ = shutdown.cancelled() => return None,
                _ = tokio::time::sleep(self.backoff.next()) => {}
            }
        }
        loop {
            let event = tokio::select! {
                _ = shutdown.cancelled() => return None,
                event = self.eventloop.poll() => event,
            };
            match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    self.backoff.reset();
                    self.connected = true;
                    return Some(Happening::Connected);
                }
                Ok(Event::Incoming(Packet::Publish(p))) => return Some(Happening::Message(p)),
                Ok(_) => {}
                Err(error) => {
                    self.failed = true;
                    let lost = std::mem::replace(&mut self.connected, false);
                    return Some(Happening::Failed { error, lost });
                }
            }
        }
    }

    /// A clean goodbye, when connected: publishes the last will itself, so that the status
    /// changes now rather than when the broker notices, then disconnects (waiting a second
    /// at most).
    pub async fn goodbye(mut self) {
        if !self.connected {
            return;
        }
        if let Some(will) = self.will.take() {
            let _ =
                self.client
                    .try_publish(will.topic, will.qos, will.retain, will.message.to_vec());
        }
        let _ = self.client.try_disconnect();
        let eventloop = &mut self.eventloop;
        let _ = tokio::time::timeout(GOODBYE_WAIT, async {
            while let Ok(ev) = eventloop.poll().await {
                if matches!(ev, Event::Outgoing(rumqttc::Outgoing::Disconnect)) {
                    break;
                }
            }
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_carry_the_login_the_will_and_the_limits_and_debug_hides_the_password() {
        let url = MqttUrl::parse("mqtt://bay-1:s3cret@broker.local:1884").expect("url");
        let broker = Endpoint::from_url(&url, None).expect("no TLS");
        assert!(!format!("{broker:?}").contains("s3cret"), "{broker:?}");
        let will = LastWill::new("baycount/v1/bay-1/status", "offline", QOS, true);
        let opts = broker.options("id-1".into(), Duration::from_secs(10), will.clone());
        assert_eq!(opts.client_id(), "id-1");
        assert_eq!(opts.broker_address(), ("broker.local".to_owned(), 1884));
        assert_eq!(opts.keep_alive(), Duration::from_secs(10));
        assert!(opts.clean_session());
        assert_eq!(opts.last_will(), Some(will));
        let login = opts.credentials().expect("a login");
        assert_eq!(
            (login.username.as_str(), login.password.as_str()),
            ("bay-1", "s3cret")
        );
        assert_eq!(opts.max_packet_size(), MAX_PAYLOAD + PACKET_OVERHEAD);
        assert_eq!(QOS, QoS::AtLeastOnce);
    }
}
