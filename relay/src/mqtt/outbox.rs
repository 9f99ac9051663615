//! What the relay publishes: each message on its contract topic with the contract's QoS and
//! retain flag, so that no caller chooses either.

use baycount_plumbing::mqtt::QOS;
use baycount_protocol::topic::RELAY_STATUS;
use baycount_protocol::{BayId, Command, Kind, Message, Status, Stored, Topic};
use rumqttc::{AsyncClient, LastWill};

/// Why a message could not be handed to the broker.
#[derive(Debug, thiserror::Error)]
#[error("MQTT publish failed: {0}")]
pub struct PublishError(#[from] rumqttc::ClientError);

/// Publishes on the relay's connection. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Outbox {
    /// The connection's request queue; rumqttc delivers what is queued once connected.
    pub(super) client: AsyncClient,
}

impl Outbox {
    /// Queues a command for `bay`.
    pub async fn send_command(&self, bay: &BayId, command: Command) -> Result<(), PublishError> {
        self.publish(bay, Message::Cmd(command)).await
    }

    /// Queues `bay`'s `stored` cursors.
    pub async fn publish_stored(&self, bay: &BayId, stored: Stored) -> Result<(), PublishError> {
        self.publish(bay, Message::Stored(stored)).await
    }

    async fn publish(&self, bay: &BayId, message: Message) -> Result<(), PublishError> {
        let kind = message.kind();
        self.client
            .publish(
                Topic::new(bay.clone(), kind).to_string(),
                QOS,
                kind.retained(),
                message.encode(),
            )
            .await?;
        Ok(())
    }

    /// Announces or retires the relay without waiting: the link calls it from its event loop,
    /// which must not wait on its own request queue.
    pub(super) fn relay_status(&self, status: Status) -> Result<(), rumqttc::ClientError> {
        self.client
            .try_publish(RELAY_STATUS, QOS, relay_status_retained(), status.as_str())
    }
}

/// The relay's last will: its status `offline`, as [`Outbox::relay_status`] would publish it.
pub(super) fn relay_will() -> LastWill {
    LastWill::new(
        RELAY_STATUS,
        Status::Offline.as_str(),
        QOS,
        relay_status_retained(),
    )
}

/// The relay's status is a `status` topic of its own, retained like a bay's.
fn relay_status_retained() -> bool {
    Kind::Status.retained()
}
