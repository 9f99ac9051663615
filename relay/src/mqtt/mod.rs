//! The relay's MQTT connection (rumqttc): subscribes to every bay and hands out what they say as
//! parsed messages, and an [`Outbox`] for what the relay says; it knows nothing of what the
//! messages mean, so the modules that do can use it without it using them.

mod outbox;

use std::sync::Arc;
use std::time::Duration;

use baycount_protocol::topic::{ALL_BAYS, RELAY_STATUS, Topic};
use baycount_protocol::{Incoming, Kind, Status, codec::MAX_PAYLOAD};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

pub use outbox::{Outbox, PublishError};
use outbox::{QOS, relay_will};

/// What the relay reads: the bays' kinds; the rest of [`ALL_BAYS`] is its own echo.
const READ: [Kind; 4] = [Kind::Status, Kind::State, Kind::Event, Kind::Ack];
/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Parsed messages waiting for their reader; when it falls behind the link stops reading, so
/// the broker keeps the rest rather than the relay dropping them.
const INCOMING: usize = 1024;

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct LinkOptions {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    /// TLS (`mqtts://`).
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// A connection that is set up but not yet running.
pub struct Link {
    outbox: Outbox,
    eventloop: EventLoop,
    /// Where each parsed message goes.
    incoming: mpsc::Sender<Incoming>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link").finish_non_exhaustive()
    }
}

impl Link {
    /// Sets up the connection (nothing is sent before [`Link::run`]) and the stream of parsed
    /// messages it will feed.
    pub fn new(o: &LinkOptions) -> (Self, mpsc::Receiver<Incoming>) {
        let id = format!(
            "baycount-relay-{}",
            &uuid::Uuid::now_v7().simple().to_string()[20..]
        );
        let mut opts = MqttOptions::new(id, o.host.clone(), o.port);
        opts.set_keep_alive(Duration::from_secs(15))
            .set_clean_session(true)
            .set_max_packet_size(MAX_PAYLOAD + 1024, MAX_PAYLOAD + 1024)
            .set_inflight(200)
            .set_request_channel_capacity(1024)
            .set_last_will(relay_will());
        if let Some(user) = &o.username {
            opts.set_credentials(user.clone(), o.password.clone().unwrap_or_default());
        }
        if let Some(tls) = &o.tls {
            opts.set_transport(rumqttc::Transport::tls_with_config(
                rumqttc::TlsConfiguration::Rustls(tls.clone()),
            ));
        }
        let (client, eventloop) = AsyncClient::new(opts, 1024);
        let (incoming, rx) = mpsc::channel(INCOMING);
        let link = Self {
            outbox: Outbox { client },
            eventloop,
            incoming,
        };
        (link, rx)
    }

    /// What the relay publishes on this connection; queued now, sent once connected.
    pub fn outbox(&self) -> Outbox {
        self.outbox.clone()
    }

    /// Runs the connection until `shutdown`: (re)connects with backoff, subscribes on every
    /// connect, announces the relay, and sends every bay's message, parsed, to the stream
    /// [`Link::new`] handed out, which ends when this returns. `metrics` counts what arrives;
    /// `connected` follows the connection's state.
    pub async fn run(
        self,
        metrics: Arc<Metrics>,
        connected: watch::Sender<bool>,
        shutdown: CancellationToken,
    ) {
        let Link {
            outbox,
            mut eventloop,
            incoming,
        } = self;
        let mut backoff = Duration::from_millis(100);
        loop {
            let event = tokio::select! {
                _ = shutdown.cancelled() => break,
                event = eventloop.poll() => event,
            };
            match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    backoff = Duration::from_millis(100);
                    // One subscription for every kind: a bay's event and then its state arrive
                    // in that order (the embedded broker orders within a subscription only).
                    let subscribed = outbox.client.try_subscribe(ALL_BAYS, QOS);
                    let announced = outbox.relay_status(Status::Online);
                    if let Err(e) = subscribed.and(announced) {
                        log::error!("cannot subscribe to the bays' topics: {e}");
                    }
                    log::info!("connected to the MQTT broker");
                    connected.send_replace(true);
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if let Some(message) = parse(&p.topic, &p.payload, &metrics) {
                        // Its reader stops only once this sender is gone.
                        let _ = incoming.send(message).await;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    if connected.send_replace(false) {
                        log::warn!("lost the MQTT broker: {e}; reconnecting");
                    } else {
                        log::debug!("MQTT broker still unreachable: {e}");
                    }
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        // Say goodbye cleanly: retire the relay's status, then disconnect (bounded).
        if *connected.borrow() {
            let _ = outbox.relay_status(Status::Offline);
            let _ = outbox.client.try_disconnect();
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                while let Ok(ev) = eventloop.poll().await {
                    if matches!(ev, Event::Outgoing(rumqttc::Outgoing::Disconnect)) {
                        break;
                    }
                }
            })
            .await;
        }
        connected.send_replace(false);
    }
}

/// Reads one message. The relay's own messages (its announcement, commands and `stored`
/// cursors) are skipped; a malformed message is counted, logged and dropped.
fn parse(topic: &str, payload: &[u8], metrics: &Metrics) -> Option<Incoming> {
    if topic == RELAY_STATUS || Topic::parse(topic).is_ok_and(|t| !READ.contains(&t.kind)) {
        return None;
    }
    match Incoming::parse(topic, payload) {
        Ok(message) => {
            metrics.message(message.topic.kind.as_str());
            Some(message)
        }
        Err(e) => {
            metrics.mqtt_malformed.inc();
            log::warn!("dropped a message on {topic:?}: {e}");
            None
        }
    }
}
