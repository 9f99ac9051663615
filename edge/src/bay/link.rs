//! The edge's MQTT link (rumqttc): announces the bay (`online` on every connect, `offline` as
//! its last will), hands over commands, `stored` cursors and the relay's return, and publishes
//! the bay's state, events and acks. Reconnects with backoff; counting goes on meanwhile.

use std::time::Duration;

use baycount_plumbing::backoff::Backoff;
use baycount_plumbing::mqtt::{Connection, Endpoint, Happening, QOS};
use baycount_protocol::topic::RELAY_STATUS;
use baycount_protocol::{
    Ack, BayId, BayState, Command, Event, Evidence, Incoming, Kind, Message, Snapshot, Status,
    Stored, Topic, encode,
};
use rumqttc::{AsyncClient, LastWill};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Which bay, and where and as whom to connect.
#[derive(Debug, Clone)]
pub struct LinkOptions {
    pub bay: BayId,
    pub broker: Endpoint,
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
/// How often the broker hears from a quiet bay.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

impl Link {
    /// Starts the connection task; inbound messages arrive on the returned channel until `shutdown`.
    pub fn start(
        o: &LinkOptions,
        shutdown: CancellationToken,
    ) -> (Self, mpsc::Receiver<Inbound>, tokio::task::JoinHandle<()>) {
        let status = Topic::new(o.bay.clone(), Kind::Status).to_string();
        let will = LastWill::new(
            status,
            Status::Offline.as_str(),
            QOS,
            Kind::Status.retained(),
        );
        let opts = o
            .broker
            .options(format!("baycount-edge-{}", o.bay), KEEP_ALIVE, will);
        let (client, connection) =
            Connection::new(opts, 4096, Backoff::new(FIRST_BACKOFF, MAX_BACKOFF));
        let (tx, rx) = mpsc::channel(256);
        let link = Self {
            bay: o.bay.clone(),
            client,
        };
        let task = tokio::spawn(run(link.clone(), connection, tx, shutdown));
        (link, rx, task)
    }

    /// Queues a message without waiting: while the broker is away the queue may fill, and what
    /// does not fit is dropped here (events are in the journal and re-sent on reconnect).
    fn publish(&self, kind: Kind, payload: Vec<u8>) -> Result<(), LinkError> {
        let topic = Topic::new(self.bay.clone(), kind).to_string();
        self.client
            .try_publish(topic, QOS, kind.retained(), payload)?;
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

    pub fn snapshot(&self, snapshot: &Snapshot) -> Result<(), LinkError> {
        self.publish(Kind::Snapshot, snapshot.encode())
    }

    pub fn evidence(&self, evidence: &Evidence) -> Result<(), LinkError> {
        self.publish(Kind::Evidence, evidence.encode())
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
    mut connection: Connection,
    tx: mpsc::Sender<Inbound>,
    shutdown: CancellationToken,
) {
    let mut last_failure: Option<String> = None;
    while let Some(happening) = connection.next(&shutdown).await {
        let inbound = match happening {
            Happening::Connected => {
                last_failure = None;
                let subs =
                    [Kind::Cmd, Kind::Stored].map(|k| Topic::new(link.bay.clone(), k).to_string());
                let subscribed = subs
                    .into_iter()
                    .chain([RELAY_STATUS.to_owned()])
                    .try_for_each(|t| link.client.try_subscribe(t, QOS));
                let announced = link.client.try_publish(
                    Topic::new(link.bay.clone(), Kind::Status).to_string(),
                    QOS,
                    Kind::Status.retained(),
                    Status::Online.as_str(),
                );
                if let Err(e) = subscribed.and(announced) {
                    log::error!("cannot subscribe or announce the bay: {e}");
                }
                log::info!("connected to the MQTT broker");
                Some(Inbound::Connected)
            }
            Happening::Message(p) if p.topic == RELAY_STATUS => {
                (Status::parse(&p.payload) == Some(Status::Online)).then_some(Inbound::RelayOnline)
            }
            Happening::Message(p) => match Incoming::parse(&p.topic, &p.payload) {
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
            },
            Happening::Failed { error, lost: true } => {
                log::warn!("lost the MQTT broker: {error}; reconnecting, counting goes on");
                Some(Inbound::Disconnected)
            }
            Happening::Failed { error, lost: false } => {
                // Said once per kind of failure, not on every retry.
                let why = explain(&error, &link.bay);
                if last_failure.as_deref() != Some(why.as_str()) {
                    log::warn!("{why}");
                    last_failure = Some(why);
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
    connection.goodbye().await;
}
