//! The relay's MQTT link (rumqttc): connects, subscribes to every bay, hands messages to ingest.

use std::sync::Arc;
use std::time::Duration;

use baycount_plumbing::backoff::Backoff;
use baycount_protocol::{Kind, Status, Topic, codec::MAX_PAYLOAD, topic::RELAY_STATUS};
use rumqttc::{AsyncClient, Event, EventLoop, LastWill, MqttOptions, Packet, QoS};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::ingest::Ingest;

/// Kinds of bay topic the relay reads.
const SUBSCRIBED: [Kind; 4] = [Kind::Status, Kind::State, Kind::Event, Kind::Ack];
/// First and longest wait between reconnection attempts.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Why a message could not be handed to the broker.
#[derive(Debug, thiserror::Error)]
#[error("MQTT publish failed: {0}")]
pub struct PublishError(#[from] rumqttc::ClientError);

/// Publishes on the relay's connection. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Publisher {
    client: AsyncClient,
}

impl Publisher {
    /// Queues a QoS 1 message; rumqttc delivers it once connected.
    pub async fn publish(
        &self,
        topic: &Topic,
        payload: Vec<u8>,
        retain: bool,
    ) -> Result<(), PublishError> {
        self.client
            .publish(topic.to_string(), QoS::AtLeastOnce, retain, payload)
            .await?;
        Ok(())
    }
}

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
    client: AsyncClient,
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
            .set_last_will(LastWill::new(
                RELAY_STATUS,
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
        let (client, eventloop) = AsyncClient::new(opts, 1024);
        Self { client, eventloop }
    }

    pub fn publisher(&self) -> Publisher {
        Publisher {
            client: self.client.clone(),
        }
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
            client,
            mut eventloop,
        } = self;
        let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
        loop {
            let event = tokio::select! {
                _ = shutdown.cancelled() => break,
                event = eventloop.poll() => event,
            };
            match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    backoff.reset();
                    let filters = SUBSCRIBED.map(|k| {
                        rumqttc::SubscribeFilter::new(k.filter_all_bays(), QoS::AtLeastOnce)
                    });
                    let subscribed = client.try_subscribe_many(filters);
                    let announced = client.try_publish(
                        RELAY_STATUS,
                        QoS::AtLeastOnce,
                        true,
                        Status::Online.as_str(),
                    );
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
                        _ = tokio::time::sleep(backoff.next()) => {}
                    }
                }
            }
        }
        // Say goodbye cleanly: retire the relay's status, then disconnect (bounded).
        if *connected.borrow() {
            let _ = client.try_publish(
                RELAY_STATUS,
                QoS::AtLeastOnce,
                true,
                Status::Offline.as_str(),
            );
            let _ = client.try_disconnect();
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
