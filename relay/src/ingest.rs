//! What each message from the bays means to the relay: live state, history records and command
//! acks. Apart from the MQTT link, so that the link need not know the modules this one feeds.

use std::sync::Arc;

use baycount_protocol::{Incoming, Message};
use chrono::Utc;
use tokio::sync::mpsc;

use crate::control::{AckOutcome, Control};
use crate::history::{EventWrite, EvidenceWrite};
use crate::live::Live;
use crate::metrics::Metrics;
use crate::recorder::Record;

/// Where the bays' messages go.
#[derive(Debug)]
pub struct Ingest {
    pub live: Arc<Live>,
    pub control: Arc<Control>,
    pub metrics: Arc<Metrics>,
    /// The recorder's queue; waiting on it slows the MQTT link rather than dropping events.
    pub recorder: mpsc::Sender<Record>,
}

impl Ingest {
    /// Handles messages until the stream ends (the MQTT link has stopped), then returns; its
    /// recorder queue goes with it, so the recorder drains and stops after it.
    pub async fn run(self, mut incoming: mpsc::Receiver<Incoming>) {
        while let Some(message) = incoming.recv().await {
            self.handle(message).await;
        }
    }

    async fn handle(&self, Incoming { topic, message }: Incoming) {
        let now = Utc::now();
        let bay = topic.bay;
        let (new_bay, remember) = match message {
            Message::Status(status) => {
                let new = self.live.apply_status(&bay, status, now);
                self.metrics
                    .bays_online
                    .set(self.live.online_count() as i64);
                (new, true)
            }
            Message::State(state) => (self.live.apply_state(&bay, &state, now), false),
            Message::Event(event) => {
                let new = self.live.apply_event(&bay, &event, now);
                let write = EventWrite {
                    bay: bay.clone(),
                    event,
                    received: now,
                };
                if self.recorder.send(Record::Event(write)).await.is_err() {
                    log::error!(
                        "the recorder has stopped; an event from {bay} was not stored (the edge will re-send it)"
                    );
                }
                (new, false)
            }
            Message::Ack(ack) => {
                let new = self.live.apply_state(&bay, &ack.state, now);
                let id = ack.id;
                let refused = (!ack.ok).then(|| ack.reason.clone().unwrap_or_default());
                match self.control.on_ack(&bay, *ack) {
                    AckOutcome::Delivered => {}
                    AckOutcome::Unexpected => {
                        // A request for a picture waits for the picture, not the ack; refused,
                        // it gets the bay's reason.
                        let picture = refused.is_some_and(|reason| {
                            self.control.snapshots.on_refused(&bay, id, reason)
                                == AckOutcome::Delivered
                        });
                        if !picture {
                            log::debug!("ack from {bay} for a command nobody waits for")
                        }
                    }
                    AckOutcome::OtherBay { to } => {
                        self.metrics.acks_refused.inc();
                        log::warn!(
                            "ignored an ack from bay {bay} for command {id}, which was sent to bay {to}"
                        );
                    }
                }
                (new, false)
            }
            Message::Snapshot(snapshot) => {
                match self.control.snapshots.on_snapshot(&bay, *snapshot) {
                    AckOutcome::Delivered => {}
                    AckOutcome::Unexpected => {
                        log::debug!("a picture from {bay} nobody waits for (too late?)")
                    }
                    AckOutcome::OtherBay { to } => {
                        self.metrics.acks_refused.inc();
                        log::warn!("ignored a picture from bay {bay} asked of bay {to}");
                    }
                }
                return;
            }
            Message::Evidence(evidence) => {
                let write = EvidenceWrite {
                    bay: bay.clone(),
                    evidence: *evidence,
                    received: now,
                };
                if self.recorder.send(Record::Evidence(write)).await.is_err() {
                    log::error!(
                        "the recorder has stopped; a picture from {bay} was not stored (the edge will re-send it)"
                    );
                }
                return;
            }
            // The relay's own messages, seen only if a client echoes them: nothing to do.
            Message::Cmd(_) | Message::Stored(_) => return,
        };
        if new_bay || remember {
            let _ = self.recorder.send(Record::Bay { bay, seen: now }).await;
        }
    }
}
