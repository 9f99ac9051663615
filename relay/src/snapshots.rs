//! The live view: a bay's newest frame drawn on, asked of its edge only when someone looks (a
//! `snapshot` command with `picture`) and kept a moment, so an idle bay sends nothing and many
//! viewers cost one picture.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use baycount_protocol::{Action, Actor, BayId, Command, CommandId, Snapshot};
use chrono::Utc;
use tokio::sync::oneshot;

use crate::control::{AckOutcome, ControlError};
use crate::live::Live;
use crate::mqtt::Outbox;

/// How long a picture is shown again instead of asking for a new one: shorter than the bay
/// page's half second between pictures, long enough for viewers arriving together.
pub const FRESH: Duration = Duration::from_millis(400);

/// Pictures asked for and kept.
#[derive(Debug)]
pub struct Snapshots {
    live: Arc<Live>,
    outbox: Outbox,
    /// How long to wait for a picture.
    timeout: Duration,
    /// Pictures asked for and not yet come, by command id, with the bay asked: the picture, or
    /// the bay's reason for having none.
    pending: Mutex<HashMap<CommandId, Waiting>>,
    /// Each bay's newest picture and when it came.
    kept: Mutex<HashMap<BayId, (Instant, Arc<Snapshot>)>>,
    /// One request at a time per bay: viewers arriving meanwhile get its picture.
    asking: Mutex<HashMap<BayId, Arc<tokio::sync::Mutex<()>>>>,
}

type Waiting = (BayId, oneshot::Sender<Result<Snapshot, String>>);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Snapshots {
    pub fn new(live: Arc<Live>, outbox: Outbox, timeout: Duration) -> Self {
        Self {
            live,
            outbox,
            timeout,
            pending: Mutex::default(),
            kept: Mutex::default(),
            asking: Mutex::default(),
        }
    }

    /// The kept picture of `bay` if it is fresh or came after `asked` (while this viewer
    /// waited for another's request).
    fn kept(&self, bay: &BayId, asked: Instant) -> Option<Arc<Snapshot>> {
        lock(&self.kept)
            .get(bay)
            .filter(|(came, _)| came.elapsed() < FRESH || *came >= asked)
            .map(|(_, s)| s.clone())
    }

    /// The newest picture of `bay`: one from the last second, or a new one from its edge.
    pub async fn picture(&self, bay: &str, by: &Actor) -> Result<Arc<Snapshot>, ControlError> {
        let unknown = || ControlError::UnknownBay(bay.to_owned());
        let bay = BayId::parse(bay).map_err(|_| unknown())?;
        let view = self.live.get(&bay).ok_or_else(unknown)?;
        if !view.online {
            return Err(ControlError::Offline(bay));
        }
        let asked = Instant::now();
        let turn = lock(&self.asking).entry(bay.clone()).or_default().clone();
        let _turn = turn.lock().await;
        if let Some(s) = self.kept(&bay, asked) {
            return Ok(s);
        }
        let cmd = Command {
            id: CommandId::new(),
            expires_at: Utc::now() + self.timeout,
            by: by.clone(),
            action: Action::Snapshot { picture: true },
        };
        let id = cmd.id;
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id, (bay.clone(), tx));
        let answer = match self.outbox.send_command(&bay, cmd).await {
            Ok(()) => tokio::time::timeout(self.timeout, rx).await,
            Err(e) => {
                lock(&self.pending).remove(&id);
                return Err(ControlError::Broker(e.to_string()));
            }
        };
        lock(&self.pending).remove(&id);
        match answer {
            Ok(Ok(Ok(s))) => {
                let s = Arc::new(s);
                lock(&self.kept).insert(bay, (Instant::now(), s.clone()));
                Ok(s)
            }
            Ok(Ok(Err(reason))) => Err(ControlError::Refused { bay, reason }),
            Ok(Err(_)) | Err(_) => Err(ControlError::NotResponding {
                bay,
                timeout: self.timeout,
            }),
        }
    }

    /// Hands a picture from `bay` to the request waiting for it, if that request went to `bay`.
    pub fn on_snapshot(&self, bay: &BayId, snapshot: Snapshot) -> AckOutcome {
        self.answer(bay, snapshot.header.command, Ok(snapshot))
    }

    /// A bay refused to send a picture (it has none yet): the request gets its reason.
    pub fn on_refused(&self, bay: &BayId, id: CommandId, reason: String) -> AckOutcome {
        self.answer(bay, id, Err(reason))
    }

    fn answer(&self, bay: &BayId, id: CommandId, answer: Result<Snapshot, String>) -> AckOutcome {
        let mut pending = lock(&self.pending);
        match pending.get(&id) {
            None => AckOutcome::Unexpected,
            Some((to, _)) if to != bay => AckOutcome::OtherBay { to: to.clone() },
            Some(_) => match pending.remove(&id).map(|(_, tx)| tx.send(answer).is_ok()) {
                Some(true) => AckOutcome::Delivered,
                _ => AckOutcome::Unexpected,
            },
        }
    }
}
