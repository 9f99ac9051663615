//! The relay's MQTT link (rumqttc): connects, subscribes to every bay, hands messages to ingest.

mod outbox;

use std::sync::Arc;
use std::time::Duration;

use baycount_protocol::{Kind, Status, codec::MAX_PAYLOAD};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::ingest::Ingest;

pub use outbox::{Outbox, PublishError};
use outbox::{QOS, relay_will};

/// Kinds of bay topic the relay reads.
const SUBSCRIBED: [Kind; 4] = [Kind::Status, Kind::State, Kind::Event, Kind::Ack];
/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

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
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link").finish_non_exhaustive()
    }
}

impl Link {
    pub fn new(o: &LinkOptions) -> Self {
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
        Self {
            outbox: Outbox { client },
            eventloop,
        }
    }

    pub fn outbox(&self) -> Outbox {
        self.outbox.clone()
    }

    /// Runs the connection until `shutdown`: (re)connects with backoff, subscribes on every
    /// connect, announces the relay, and feeds every message to `ingest`. `connected` follows
    /// the connection's state.
    pub async fn run(
        self,
        ingest: Arc<Ingest>,
        connected: watch::Sender<bool>,
        shutdown: CancellationToken,
    ) {
        let Link {
            outbox,
            mut eventloop,
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
                    let filters =
                        SUBSCRIBED.map(|k| rumqttc::SubscribeFilter::new(k.filter_all_bays(), QOS));
                    let subscribed = outbox.client.try_subscribe_many(filters);
                    let announced = outbox.relay_status(Status::Online);
                    if let Err(e) = subscribed.and(announced) {
                        log::error!("cannot subscribe to the bays' topics: {e}");
                    }
                    log::info!("connected to the MQTT broker");
                    connected.send_replace(true);
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    ingest.handle(&p.topic, &p.payload).await
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
