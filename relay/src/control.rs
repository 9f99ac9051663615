//! The one command path every surface uses: checks a bay's state, sends the command, waits for the ack.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baycount_protocol::{
    Ack, Action, Actor, BayId, Command, CommandId, Counting, CountingChange, Phase, Plate,
    PlateError, SessionId, SessionSummary,
};
use chrono::Utc;
use tokio::sync::oneshot;

use crate::history::{AuditEntry, CommandRecord, History};
use crate::live::{BayView, Live};
use crate::metrics::Metrics;
use crate::mqtt::Outbox;
use crate::snapshots::Snapshots;

/// Why a command was not carried out. The text is shown to the person who gave it.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("unknown bay {0:?}; GET /api/state lists the bays")]
    UnknownBay(String),
    #[error("invalid plate: {0}")]
    InvalidPlate(#[from] PlateError),
    #[error("bay {0} is offline; check the edge at the bay (power, network) and try again")]
    Offline(BayId),
    #[error("bay {bay} is already loading {plate}; stop that session first")]
    AlreadyLoading { bay: BayId, plate: String },
    #[error("bay {0} is not loading; there is nothing to stop")]
    Idle(BayId),
    #[error("bay {0} is loading: stop its session, then change what it counts")]
    Loading(BayId),
    #[error("invalid counting settings: {0}")]
    InvalidSettings(String),
    #[error("another command for bay {0} is in progress; try again in a few seconds")]
    Busy(BayId),
    #[error("bay {bay} is not responding: no acknowledgement within {} s; nothing was changed by this command", timeout.as_secs_f64())]
    NotResponding { bay: BayId, timeout: Duration },
    #[error("bay {bay} refused the command: {reason}")]
    Refused { bay: BayId, reason: String },
    #[error("cannot reach the MQTT broker: {0}")]
    Broker(String),
    #[error(
        "cannot record the command in the history ({0}); nothing was sent: check the relay's disk and log"
    )]
    History(String),
}

impl ControlError {
    /// The audit log's word for this outcome.
    fn outcome(&self) -> &'static str {
        match self {
            ControlError::NotResponding { .. } => "timeout",
            ControlError::Refused { .. } => "refused",
            ControlError::Broker(_) | ControlError::History(_) => "error",
            _ => "rejected",
        }
    }
}

/// What became of an ack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckOutcome {
    /// Handed to the command waiting for it.
    Delivered,
    /// No command waits for it (late, or another relay's).
    Unexpected,
    /// For a command sent to another bay: ignored.
    OtherBay { to: BayId },
}

/// Sends commands to bays and matches their acks.
#[derive(Debug)]
pub struct Control {
    live: Arc<Live>,
    history: History,
    outbox: Outbox,
    metrics: Arc<Metrics>,
    /// How long to wait for an ack.
    ack_timeout: Duration,
    /// Commands sent and not yet acknowledged, by id, with the bay each was sent to.
    pending: Mutex<HashMap<CommandId, (BayId, oneshot::Sender<Ack>)>>,
    /// Bays with a command under way: one at a time per bay.
    busy: Mutex<HashSet<BayId>>,
    /// Pictures of what the bays' cameras see (not commands that change anything: no busy
    /// bay, no audit row).
    pub snapshots: Snapshots,
}

/// Marks a bay busy until dropped.
struct BusyGuard<'a> {
    control: &'a Control,
    bay: BayId,
}

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        lock(&self.control.busy).remove(&self.bay);
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Control {
    pub fn new(
        live: Arc<Live>,
        history: History,
        outbox: Outbox,
        metrics: Arc<Metrics>,
        ack_timeout: Duration,
    ) -> Self {
        Self {
            snapshots: Snapshots::new(live.clone(), outbox.clone(), ack_timeout),
            live,
            history,
            outbox,
            metrics,
            ack_timeout,
            pending: Mutex::default(),
            busy: Mutex::default(),
        }
    }

    /// A known bay and its live view.
    pub fn bay(&self, bay: &str) -> Result<(BayId, BayView), ControlError> {
        let unknown = || ControlError::UnknownBay(bay.to_owned());
        let id = BayId::parse(bay).map_err(|_| unknown())?;
        let view = self.live.get(&id).ok_or_else(unknown)?;
        Ok((id, view))
    }

    /// Starts loading `plate` at `bay`: needs the bay known, online and idle, and a valid plate.
    pub async fn start(
        &self,
        bay: &str,
        plate: &str,
        by: Actor,
    ) -> Result<SessionSummary, ControlError> {
        let mut sent = None;
        let result = async {
            let (bay_id, view) = self.bay(bay)?;
            let plate = Plate::parse(plate)?;
            if !view.online {
                return Err(ControlError::Offline(bay_id));
            }
            if view.phase == Phase::Loading {
                return Err(ControlError::AlreadyLoading {
                    bay: bay_id,
                    plate: view.plate.map(String::from).unwrap_or_default(),
                });
            }
            let session = SessionId::new();
            self.command(&bay_id, Action::Start { session, plate }, &by, &mut sent)
                .await
        }
        .await;
        self.record("start", bay, &by, sent, Self::session_done(&result))
            .await;
        result
    }

    /// Stops the session loading at `bay` and returns its final count.
    pub async fn stop(&self, bay: &str, by: Actor) -> Result<SessionSummary, ControlError> {
        let mut sent = None;
        let result = async {
            let (bay_id, view) = self.bay(bay)?;
            if !view.online {
                return Err(ControlError::Offline(bay_id));
            }
            let (Phase::Loading, Some(session)) = (view.phase, view.session) else {
                return Err(ControlError::Idle(bay_id));
            };
            self.command(
                &bay_id,
                Action::Stop {
                    session: Some(session),
                },
                &by,
                &mut sent,
            )
            .await
        }
        .await;
        self.record("stop", bay, &by, sent, Self::session_done(&result))
            .await;
        result
    }

    /// Changes what `bay` counts (its line, classes, band, anchor): needs the bay known, online
    /// and idle, and settings it can take; returns the settings it counts with now. The audit
    /// row says who asked for what.
    pub async fn configure(
        &self,
        bay: &str,
        change: CountingChange,
        by: Actor,
    ) -> Result<Counting, ControlError> {
        let mut sent = None;
        let asked = serde_json::to_string(&change).unwrap_or_default();
        let result = async {
            let (bay_id, view) = self.bay(bay)?;
            change.check().map_err(ControlError::InvalidSettings)?;
            if !view.online {
                return Err(ControlError::Offline(bay_id));
            }
            if view.phase == Phase::Loading {
                return Err(ControlError::Loading(bay_id));
            }
            let ack = self
                .send(
                    &bay_id,
                    Action::Configure { counting: change },
                    &by,
                    &mut sent,
                )
                .await?;
            ack.state.counting.ok_or_else(|| ControlError::Refused {
                bay: bay_id,
                reason:
                    "the bay took the settings without reporting them; update its edge software"
                        .into(),
            })
        }
        .await;
        let done = result.as_ref().map(|c| {
            format!(
                "asked {asked}; now line {} classes {} band {} anchor {}",
                c.line,
                c.classes.join(","),
                c.band,
                c.anchor
            )
        });
        self.record("configure", bay, &by, sent, done).await;
        result
    }

    /// Hands an ack from `bay` to the command waiting for it, if that command went to `bay`.
    /// Acks nobody waits for (late, or for another relay's command) are dropped; so are acks
    /// on one bay's topic for a command sent to another, which no bay may answer for.
    pub fn on_ack(&self, bay: &BayId, ack: Ack) -> AckOutcome {
        let mut pending = lock(&self.pending);
        match pending.get(&ack.id) {
            None => AckOutcome::Unexpected,
            Some((to, _)) if to != bay => AckOutcome::OtherBay { to: to.clone() },
            Some(_) => match pending.remove(&ack.id).map(|(_, tx)| tx.send(ack).is_ok()) {
                Some(true) => AckOutcome::Delivered,
                _ => AckOutcome::Unexpected,
            },
        }
    }

    /// Sends one command, noting its id in `sent`, and waits for its ack, at most `ack_timeout`.
    /// The ack must carry the session the command opened or closed.
    async fn command(
        &self,
        bay: &BayId,
        action: Action,
        by: &Actor,
        sent: &mut Option<CommandId>,
    ) -> Result<SessionSummary, ControlError> {
        let expected = match &action {
            Action::Start { session, .. } => Some(*session),
            Action::Stop { session } => *session,
            _ => None,
        };
        match self.send(bay, action, by, sent).await?.session {
            Some(session) if expected.is_none_or(|id| id == session.id) => Ok(session),
            Some(session) => Err(ControlError::Refused {
                bay: bay.clone(),
                reason: format!(
                    "the bay answered with session {} instead of the one commanded; check its edge software",
                    session.id
                ),
            }),
            None => Err(ControlError::Refused {
                bay: bay.clone(),
                reason:
                    "the bay acknowledged without reporting the session; update its edge software"
                        .into(),
            }),
        }
    }

    /// Sends one command, noting its id in `sent`, and waits for its ack, at most
    /// `ack_timeout`; a refusal is an error with the bay's reason.
    async fn send(
        &self,
        bay: &BayId,
        action: Action,
        by: &Actor,
        sent: &mut Option<CommandId>,
    ) -> Result<Ack, ControlError> {
        if !lock(&self.busy).insert(bay.clone()) {
            return Err(ControlError::Busy(bay.clone()));
        }
        let _busy = BusyGuard {
            control: self,
            bay: bay.clone(),
        };
        let now = Utc::now();
        let cmd = Command {
            id: CommandId::new(),
            expires_at: now + self.ack_timeout,
            by: by.clone(),
            action,
        };
        let id = cmd.id;
        // The history takes a session's facts from this record, not from what the bay says.
        let record = match &cmd.action {
            Action::Start { session, plate } => Some((*session, Some(plate.clone()))),
            Action::Stop {
                session: Some(session),
            } => Some((*session, None)),
            _ => None,
        };
        if let Some((session, plate)) = record {
            let record = CommandRecord {
                id,
                at: now,
                bay: bay.clone(),
                session,
                plate,
                by: by.clone(),
            };
            self.history
                .record_command(&record)
                .await
                .map_err(|e| ControlError::History(e.to_string()))?;
        }
        *sent = Some(id);
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id, (bay.clone(), tx));
        let published = self.outbox.send_command(bay, cmd).await;
        let answer = match published {
            Ok(()) => tokio::time::timeout(self.ack_timeout, rx).await,
            Err(e) => {
                lock(&self.pending).remove(&id);
                return Err(ControlError::Broker(e.to_string()));
            }
        };
        lock(&self.pending).remove(&id);
        match answer {
            Ok(Ok(ack)) if ack.ok => Ok(ack),
            Ok(Ok(ack)) => Err(ControlError::Refused {
                bay: bay.clone(),
                reason: ack.reason.unwrap_or_else(|| "no reason given".into()),
            }),
            Ok(Err(_)) | Err(_) => Err(ControlError::NotResponding {
                bay: bay.clone(),
                timeout: self.ack_timeout,
            }),
        }
    }

    /// The audit's words for a session a command opened or closed.
    fn session_done(
        result: &Result<SessionSummary, ControlError>,
    ) -> Result<String, &ControlError> {
        result
            .as_ref()
            .map(|s| format!("session {} plate {} count {}", s.id, s.plate, s.count))
    }

    /// Writes the audit row and counts the outcome.
    async fn record(
        &self,
        action: &str,
        bay: &str,
        by: &Actor,
        command: Option<CommandId>,
        result: Result<String, &ControlError>,
    ) {
        let (outcome, detail) = match result {
            Ok(done) => ("ok", done),
            Err(e) => (e.outcome(), e.to_string()),
        };
        self.metrics.command(action, outcome);
        let entry = AuditEntry {
            at: Utc::now(),
            actor: by.to_string(),
            bay: Some(bay.chars().take(64).collect()),
            action: action.to_owned(),
            command: command.map(|c| c.to_string()),
            outcome: outcome.to_owned(),
            detail: Some(detail),
        };
        if let Err(e) = self.history.audit(&entry).await {
            log::error!("cannot write the audit log: {e}");
        }
    }
}
