//! The live view: a bay's newest frame drawn on, asked of its edge only when someone looks (a
//! `snapshot` command with `picture`) and kept a moment, so an idle bay sends nothing and many
//! viewers cost one picture.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use baycount_protocol::{Action, Actor, BayId, Command, CommandId, Snapshot};
use chrono::Utc;
use tokio::sync::oneshot;

use crate::control::{AckOutcome, ControlError, lock};
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
    /// Each bay's newest answer and when it came: a picture, or the edge's silence (`None`),
    /// which the viewers waiting behind that request share instead of asking again.
    kept: Mutex<HashMap<BayId, Answer>>,
    /// One request at a time per bay: viewers arriving meanwhile get its picture.
    asking: Mutex<HashMap<BayId, Arc<tokio::sync::Mutex<()>>>>,
}

type Waiting = (BayId, oneshot::Sender<Result<Snapshot, String>>);
/// When an answer came, and the picture if there was one.
type Answer = (Instant, Option<Arc<Snapshot>>);

/// Removes a request from the pending ones when dropped.
struct Forget<'a>(&'a Mutex<HashMap<CommandId, Waiting>>, CommandId);

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        lock(self.0).remove(&self.1);
    }
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

    /// The kept answer for `bay` if it came after `asked` (while this viewer waited for
    /// another's request), or is a fresh picture.
    fn kept(&self, bay: &BayId, asked: Instant) -> Option<Option<Arc<Snapshot>>> {
        lock(&self.kept)
            .get(bay)
            .filter(|(came, s)| *came >= asked || s.is_some() && came.elapsed() < FRESH)
            .map(|(_, s)| s.clone())
    }

    /// The newest picture of `bay`: one from the last moment ([`FRESH`]), or a new one from its
    /// edge.
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
        match self.kept(&bay, asked) {
            Some(Some(s)) => return Ok(s),
            Some(None) => {
                return Err(ControlError::NotResponding {
                    bay,
                    timeout: self.timeout,
                });
            }
            None => {}
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
        // Forgotten however this ends, a viewer who went away included.
        let _forget = Forget(&self.pending, id);
        let answer = match self.outbox.send_command(&bay, cmd).await {
            Ok(()) => tokio::time::timeout(self.timeout, rx).await,
            Err(e) => return Err(ControlError::Broker(e.to_string())),
        };
        match answer {
            Ok(Ok(Ok(s))) => {
                let s = Arc::new(s);
                lock(&self.kept).insert(bay, (Instant::now(), Some(s.clone())));
                Ok(s)
            }
            Ok(Ok(Err(reason))) => Err(ControlError::Refused { bay, reason }),
            Ok(Err(_)) | Err(_) => {
                lock(&self.kept).insert(bay.clone(), (Instant::now(), None));
                Err(ControlError::NotResponding {
                    bay,
                    timeout: self.timeout,
                })
            }
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
