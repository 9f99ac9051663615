//! The relay's MQTT connection (rumqttc): subscribes to every bay and hands out what they say as
//! parsed messages, and an [`Outbox`] for what the relay says; it knows nothing of what the
//! messages mean, so the modules that do can use it without it using them.

mod outbox;

use std::sync::Arc;
use std::time::Duration;

use baycount_plumbing::backoff::Backoff;
use baycount_plumbing::mqtt::{Connection, Endpoint, Happening, QOS};
use baycount_protocol::topic::{ALL_BAYS, RELAY_STATUS, Topic};
use baycount_protocol::{Incoming, Kind, Status};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

use outbox::relay_will;
pub use outbox::{Outbox, PublishError};

/// What the relay reads: what the bays publish; the rest of [`ALL_BAYS`] is its own echo.
const READ: [Kind; 6] = baycount_protocol::acl::BAY_PUBLISHES;
/// First and longest wait between reconnection attempts.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How often the broker hears from a quiet relay.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Parsed messages waiting for their reader; when it falls behind the link stops reading, so
/// the broker keeps the rest rather than the relay dropping them.
const INCOMING: usize = 1024;

/// A connection that is set up but not yet running.
#[derive(Debug)]
pub struct Link {
    outbox: Outbox,
    connection: Connection,
    /// Where each parsed message goes.
    incoming: mpsc::Sender<Incoming>,
}

impl Link {
    /// Sets up the connection (nothing is sent before [`Link::run`]) and the stream of parsed
    /// messages it will feed.
    pub fn new(broker: &Endpoint) -> (Self, mpsc::Receiver<Incoming>) {
        let id = format!(
            "baycount-relay-{}",
            &uuid::Uuid::now_v7().simple().to_string()[20..]
        );
        let mut opts = broker.options(id, KEEP_ALIVE, relay_will());
        opts.set_inflight(200).set_request_channel_capacity(1024);
        let (client, connection) =
            Connection::new(opts, 1024, Backoff::new(FIRST_BACKOFF, MAX_BACKOFF));
        let (incoming, rx) = mpsc::channel(INCOMING);
        let link = Self {
            outbox: Outbox { client },
            connection,
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
            mut connection,
            incoming,
        } = self;
        while let Some(happening) = connection.next(&shutdown).await {
            match happening {
                Happening::Connected => {
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
                Happening::Message(p) => {
                    if let Some(message) = parse(&p.topic, &p.payload, &metrics) {
                        // Its reader stops only once this sender is gone.
                        let _ = incoming.send(message).await;
                    }
                }
                Happening::Failed { error, lost } => {
                    connected.send_replace(false);
                    if lost {
                        log::warn!("lost the MQTT broker: {error}; reconnecting");
                    } else {
                        log::debug!("MQTT broker still unreachable: {error}");
                    }
                }
            }
        }
        // Say goodbye cleanly: retire the relay's status, then disconnect (bounded).
        connection.goodbye().await;
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
