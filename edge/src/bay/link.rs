//! The edge's MQTT link (rumqttc): announces the bay (`online` on every connect, `offline` as
//! its last will), hands over commands, `stored` cursors and the relay's return, and publishes
//! the bay's state, events and acks. Reconnects with backoff; counting goes on meanwhile.

use std::time::Duration;

use baycount_plumbing::backoff::Backoff;
use baycount_protocol::codec::MAX_PAYLOAD;
use baycount_protocol::topic::RELAY_STATUS;
use baycount_protocol::{
    Ack, BayId, BayState, Command, Event, Incoming, Kind, Message, Status, Stored, Topic, encode,
};
use rumqttc::{AsyncClient, Event as MqttEvent, EventLoop, LastWill, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Where and as whom to connect.
#[derive(Debug, Clone)]
pub struct LinkOptions {
    pub bay: BayId,
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    /// TLS (`mqtts://`).
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

/// What arrives for the bay.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// (Re)connected: publish the state, re-send what is unconfirmed.
    Connected,
    Command(Command),
    Stored(Stored),
    /// The relay announced itself: re-send what it has not confirmed.
    RelayOnline,
    /// The broker went away; the link keeps trying.
    Disconnected,
}

/// Why a message could not be queued for the broker.
#[derive(Debug, thiserror::Error)]
#[error("MQTT publish failed: {0}")]
pub struct LinkError(#[from] rumqttc::ClientError);

/// Publishes on the bay's topics. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Link {
    bay: BayId,
    client: AsyncClient,
}

/// First wait before reconnecting. Reconnect attempts are cheap; a short cap brings a bay back
/// within about a second of its broker, however long it was away (a ten-minute partition: 2.0 s
/// with a 2 s cap).
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

impl Link {
    /// Starts the connection task; inbound messages arrive on the returned channel until `shutdown`.
    pub fn start(
        o: &LinkOptions,
        shutdown: CancellationToken,
    ) -> (Self, mpsc::Receiver<Inbound>, tokio::task::JoinHandle<()>) {
        let status = Topic::new(o.bay.clone(), Kind::Status).to_string();
        let mut opts = MqttOptions::new(format!("baycount-edge-{}", o.bay), o.host.clone(), o.port);
        opts.set_keep_alive(Duration::from_secs(10))
            .set_clean_session(true)
            .set_max_packet_size(MAX_PAYLOAD + 1024, MAX_PAYLOAD + 1024)
            .set_last_will(LastWill::new(
                status,
                Status::Offline.as_str(),
                QoS::AtLeastOnce,
                true,
            ));
        if let Some(user) = &o.username {
            opts.set_credentials(user.clone(), o.password.clone().unwrap_or_default());
        }
        if let Some(tls) = &o.tls {
            opts.set_transport(rumqttc::Transport::tls_with_config(
                rumqttc::TlsConfiguration::Rustls(tls.clone()),
            ));
        }
        let (client, eventloop) = AsyncClient::new(opts, 4096);
        let (tx, rx) = mpsc::channel(256);
        let link = Self {
            bay: o.bay.clone(),
            client,
        };
        let task = tokio::spawn(run(link.clone(), eventloop, tx, shutdown));
        (link, rx, task)
    }

    /// Queues a message without waiting: while the broker is away the queue may fill, and what
    /// does not fit is dropped here (events are in the journal and re-sent on reconnect).
    fn publish(&self, kind: Kind, payload: Vec<u8>) -> Result<(), LinkError> {
        let topic = Topic::new(self.bay.clone(), kind).to_string();
        self.client
            .try_publish(topic, QoS::AtLeastOnce, kind.retained(), payload)?;
        Ok(())
    }

    pub fn bay(&self) -> &BayId {
        &self.bay
    }

    pub fn state(&self, state: &BayState) -> Result<(), LinkError> {
        self.publish(Kind::State, encode(state))
    }

    pub fn event(&self, event: &Event) -> Result<(), LinkError> {
        self.publish(Kind::Event, encode(event))
    }

    pub fn ack(&self, ack: &Ack) -> Result<(), LinkError> {
        self.publish(Kind::Ack, encode(ack))
    }
}

/// Why the broker cannot be reached, and what to check.
fn explain(e: &rumqttc::ConnectionError, bay: &BayId) -> String {
    use rumqttc::{ConnectReturnCode, ConnectionError};
    match e {
        ConnectionError::ConnectionRefused(
            ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized,
        ) => format!(
            "the MQTT broker refused bay {bay}'s login: check BAYCOUNT_MQTT_PASSWORD (user {bay} unless the URL names one) against the broker's password file; retrying"
        ),
        ConnectionError::Tls(e) => format!(
            "TLS with the MQTT broker failed: {e}; check mqtt_ca (and mqtt_cert, mqtt_key if the broker wants a client certificate); retrying"
        ),
        e => format!("MQTT broker unreachable: {e}; retrying, counting goes on"),
    }
}

async fn run(
    link: Link,
    mut eventloop: EventLoop,
    tx: mpsc::Sender<Inbound>,
    shutdown: CancellationToken,
) {
    let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
    let mut connected = false;
    let mut last_failure: Option<String> = None;
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => break,
            e = eventloop.poll() => e,
        };
        let inbound = match event {
            Ok(MqttEvent::Incoming(Packet::ConnAck(_))) => {
                backoff.reset();
                connected = true;
                last_failure = None;
                let subs =
                    [Kind::Cmd, Kind::Stored].map(|k| Topic::new(link.bay.clone(), k).to_string());
                let subscribed = subs
                    .into_iter()
                    .chain([RELAY_STATUS.to_owned()])
                    .try_for_each(|t| link.client.try_subscribe(t, QoS::AtLeastOnce));
                let announced = link.client.try_publish(
                    Topic::new(link.bay.clone(), Kind::Status).to_string(),
                    QoS::AtLeastOnce,
                    true,
                    Status::Online.as_str(),
                );
                if let Err(e) = subscribed.and(announced) {
                    log::error!("cannot subscribe or announce the bay: {e}");
                }
                log::info!("connected to the MQTT broker");
                Some(Inbound::Connected)
            }
            Ok(MqttEvent::Incoming(Packet::Publish(p))) if p.topic == RELAY_STATUS => {
                (Status::parse(&p.payload) == Some(Status::Online)).then_some(Inbound::RelayOnline)
            }
            Ok(MqttEvent::Incoming(Packet::Publish(p))) => {
                match Incoming::parse(&p.topic, &p.payload) {
                    Ok(Incoming {
                        message: Message::Cmd(c),
                        ..
                    }) => Some(Inbound::Command(c)),
                    Ok(Incoming {
                        message: Message::Stored(s),
                        ..
                    }) => Some(Inbound::Stored(s)),
                    Ok(_) => None,
                    Err(e) => {
                        log::warn!("dropped a message on {:?}: {e}", p.topic);
                        None
                    }
                }
            }
            Ok(_) => None,
            Err(e) => {
                let was_connected = std::mem::replace(&mut connected, false);
                if was_connected {
                    log::warn!("lost the MQTT broker: {e}; reconnecting, counting goes on");
                    if tx.send(Inbound::Disconnected).await.is_err() {
                        break;
                    }
                } else {
                    // Said once per kind of failure, not on every retry.
                    let why = explain(&e, &link.bay);
                    if last_failure.as_deref() != Some(why.as_str()) {
                        log::warn!("{why}");
                        last_failure = Some(why);
                    }
                }
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(backoff.next()) => {}
                }
                None
            }
        };
        if let Some(i) = inbound
            && tx.send(i).await.is_err()
        {
            break;
        }
    }
    // A clean goodbye: the bay goes offline now rather than when the broker notices.
    if connected {
        let status = Topic::new(link.bay.clone(), Kind::Status).to_string();
        let _ = link
            .client
            .try_publish(status, QoS::AtLeastOnce, true, Status::Offline.as_str());
        let _ = link.client.try_disconnect();
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while let Ok(ev) = eventloop.poll().await {
                if matches!(ev, MqttEvent::Outgoing(rumqttc::Outgoing::Disconnect)) {
                    break;
                }
            }
        })
        .await;
    }
}
