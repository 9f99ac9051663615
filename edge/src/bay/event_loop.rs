//! The bay's event loop: commands and `stored` cursors from the link, crossings from the
//! pipeline and presses of the button go through the session state machine; every event is
//! journaled before it is published; the state (with the pipeline's health and the lamps) is
//! published on every change and every 10 s, and shown to the lamps and the local socket.

use std::time::Duration;

use baycount_protocol::{
    Action, BayId, BayState, Direction, Event, EventKind, Health, HealthLevel, Plate, Stored,
};
use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::bay::counting::Control;
use crate::bay::journal::{Journal, JournalError};
use crate::bay::link::{Inbound, Link};
use crate::bay::pictures::Pictures;
use crate::bay::session::BaySession;
use crate::panel::lamps;
use crate::vision::shot::Shot;

/// Events whose pictures wait, with the crossing's shot and the session's plate.
type Unpictured = (Vec<Event>, Option<Box<Shot>>, Option<Plate>);

/// How long the pictures under way may take to finish at shutdown.
const FINISH_PICTURES: Duration = Duration::from_secs(3);

/// How often the state is published even when nothing changes.
pub const STATE_EVERY: Duration = Duration::from_secs(10);

/// What the pipeline and the button send the loop.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A counted crossing, `at` the capture time of the frame it was seen in, with what its
    /// picture is made from (none when there is no frame of it).
    Crossing {
        direction: Direction,
        track: u64,
        at: DateTime<Utc>,
        shot: Option<Box<Shot>>,
    },
    Press,
}

/// The loop's connections to the rest of the edge.
#[derive(Debug)]
pub struct Io {
    pub link: Link,
    pub inbound: mpsc::Receiver<Inbound>,
    pub journal: Journal,
    pub inputs: mpsc::Receiver<Input>,
    /// The camera's and detector's health, from the pipeline.
    pub health: watch::Receiver<Health>,
    /// The state as last published, for the lamps and the local socket.
    pub shown: watch::Sender<BayState>,
    /// The live view's pictures and the events' evidence.
    pub pictures: Pictures,
    /// What the bay counts, changed by `configure`.
    pub counting: Control,
}

/// Whether the pipeline's health is worth a state message now (levels changed, not just fps).
fn health_changed(a: &Health, b: &Health) -> bool {
    (a.camera, a.detector, &a.detail) != (b.camera, b.detector, &b.detail)
}

/// Logs a session's events, with `BAY`, `SESSION` and `PLATE` as journal fields.
fn log_events(bay: &BayId, plate: Option<&Plate>, events: &[Event]) {
    for e in events {
        let session = e.session.to_string();
        let plate = match &e.kind {
            EventKind::Started { plate, .. } => plate.to_string(),
            _ => plate.map(ToString::to_string).unwrap_or_default(),
        };
        let (bay, session, plate) = (bay.as_str(), session.as_str(), plate.as_str());
        match &e.kind {
            EventKind::Started { by, .. } => log::info!(
                bay, session, plate;
                "bay {bay}: session {session} started for {plate} by {by}"
            ),
            EventKind::Counted { direction, track } => log::info!(
                bay, session, plate;
                "bay {bay}: track {track} {}, count {} (out {})", direction.as_str(), e.count, e.out
            ),
            EventKind::Stopped { by } => log::info!(
                bay, session, plate;
                "bay {bay}: session {session} for {plate} stopped by {by} at count {} (out {})",
                e.count, e.out
            ),
        }
    }
}

fn publish(link: &Link, events: &[Event]) {
    for e in events {
        if let Err(e) = link.event(e) {
            log::debug!("event not sent now, it will be re-sent: {e}");
        }
    }
}

/// Journals `new` events after any still waiting, then publishes them. With the journal full
/// they wait in memory (a fault the lamps and the state show) and are retried on every turn of
/// the loop; returns whether they wait.
async fn persist(
    journal: &Journal,
    link: &Link,
    waiting: &mut Vec<Event>,
    new: Vec<Event>,
) -> Result<bool, JournalError> {
    waiting.extend(new);
    if waiting.is_empty() {
        return Ok(false);
    }
    match journal.append(waiting).await {
        Ok(()) => {
            publish(link, waiting);
            waiting.clear();
            Ok(false)
        }
        Err(JournalError::Full) => Ok(true),
        Err(e) => Err(e),
    }
}

/// Runs until `shutdown` or until the inputs and the link both end. A journal that cannot be
/// written for another reason than a full disk stops the loop with its error (systemd restarts
/// the service); nothing is published that is not journaled.
pub async fn run(mut io: Io, shutdown: CancellationToken) -> Result<(), JournalError> {
    let journal = &io.journal;
    let link = &io.link;
    let mut session = BaySession::new(journal.restore(Utc::now()).await?);
    session.set_counting(io.counting.current(), Utc::now());
    let mut stored = Stored::default();
    let mut link_up = false;
    let mut health = io.health.borrow().clone();
    let mut pipeline_gone = false;
    let mut tick = tokio::time::interval(STATE_EVERY);
    let mut waiting: Vec<Event> = Vec::new();
    let mut journal_full = false;
    // Pictures being drawn, kept or sent.
    let mut drawing = JoinSet::new();
    // Events whose pictures wait for the events to be journaled (nothing is published before).
    let mut unpictured: Vec<Unpictured> = Vec::new();
    loop {
        let mut new: Vec<Event> = Vec::new();
        // Sent with the state below, health and all.
        let mut acked = None;
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
            Some(_) = drawing.join_next(), if !drawing.is_empty() => continue,
            changed = io.health.changed(), if !pipeline_gone => {
                if changed.is_err() {
                    pipeline_gone = true;
                    // The pipeline is gone: nothing more to count.
                    health.camera = HealthLevel::Down;
                    health.detector = HealthLevel::Down;
                    health.detail = Some("the counting pipeline stopped".into());
                } else {
                    let new = io.health.borrow_and_update().clone();
                    let worth = health_changed(&health, &new);
                    health = new;
                    if !worth {
                        continue;
                    }
                }
            }
            msg = io.inbound.recv() => match msg {
                None => break,
                Some(Inbound::Connected | Inbound::RelayOnline) => {
                    link_up = true;
                    publish(link, &journal.unconfirmed(&stored).await?);
                    io.pictures.resend(&mut drawing);
                }
                Some(Inbound::Disconnected) => link_up = false,
                Some(Inbound::Stored(s)) => {
                    match journal.confirm(&s).await {
                        Ok(_) | Err(JournalError::Full) => {}
                        Err(e) => return Err(e),
                    }
                    io.pictures.confirm(&s, &mut drawing);
                    stored = s;
                }
                Some(Inbound::Command(cmd)) => {
                    let plate = session.state().plate.clone();
                    let (mut ack, events) = session.command(&cmd, Utc::now());
                    if let (true, Action::Snapshot { picture: true }) = (ack.ok, &cmd.action) {
                        io.pictures.answer(&cmd, session.state(), &mut drawing, &mut ack);
                    }
                    log_events(link.bay(), plate.as_ref(), &events);
                    unpictured.push((events.clone(), None, plate.clone()));
                    journal_full = persist(journal, link, &mut waiting, events).await?;
                    if let (true, Action::Configure { counting }) = (ack.ok, &cmd.action) {
                        match io.counting.configure(counting, &cmd.by).await {
                            Ok(now) => {
                                log::info!("bay {}: {} set the counting line to {}", link.bay(), cmd.by, now.line);
                                session.set_counting(now, Utc::now());
                                ack.state = session.state().clone();
                            }
                            Err(e) => {
                                log::warn!("bay {}: configure from {} refused: {e}", link.bay(), cmd.by);
                                (ack.ok, ack.reason) = (false, Some(e.to_string()));
                            }
                        }
                        session.answered(&ack);
                    }
                    if let (true, Action::Assign { plate }) = (ack.ok, &cmd.action) {
                        match journal.set_assigned_plate(plate.as_ref()).await {
                            Ok(()) | Err(JournalError::Full) => {}
                            Err(e) => return Err(e),
                        }
                    }
                    acked = Some(ack);
                }
            },
            input = io.inputs.recv() => {
                let plate = session.state().plate.clone();
                let events: Vec<Event> = match input {
                    None => break,
                    Some(Input::Crossing { direction, track, at, shot }) => {
                        let events: Vec<Event> =
                            session.crossing(direction, track, at).into_iter().collect();
                        unpictured.push((events.clone(), shot, plate.clone()));
                        events
                    }
                    Some(Input::Press) => {
                        let events = session.press(Utc::now());
                        unpictured.push((events.clone(), None, plate.clone()));
                        events
                    }
                };
                log_events(link.bay(), plate.as_ref(), &events);
                new = events;
            }
        }
        if !new.is_empty() || !waiting.is_empty() {
            let was_full = journal_full;
            journal_full = persist(journal, link, &mut waiting, new).await?;
            match (was_full, journal_full) {
                (false, true) => {
                    log::error!("the journal is full; counts wait in memory until it has room")
                }
                (true, false) => log::info!("the journal has room again; waiting counts written"),
                _ => {}
            }
        }
        if waiting.is_empty() {
            for (events, shot, plate) in unpictured.drain(..).filter(|u| !u.0.is_empty()) {
                io.pictures
                    .evidence(&events, shot, plate.as_ref(), &mut drawing);
            }
        }
        let mut state = session.state().clone();
        let fault = journal_full
            || health.camera == HealthLevel::Down
            || health.detector == HealthLevel::Down;
        state.health = Health {
            journal_backlog: journal.backlog().await? + waiting.len() as u64,
            lamps: Some(lamps::modes(state.phase, link_up, fault)),
            ..health.clone()
        };
        if journal_full {
            state.health.detail = Some(format!(
                "journal full: {} counts wait in memory; free space on the edge's disk",
                waiting.len()
            ));
        }
        state.at = Utc::now();
        if let Some(mut ack) = acked {
            ack.state = state.clone();
            if let Err(e) = link.ack(&ack) {
                log::warn!("cannot send the ack of command {}: {e}", ack.id);
            }
        }
        if let Err(e) = link.state(&state) {
            log::debug!("state not sent now: {e}");
        }
        io.shown.send_replace(state);
    }
    // Pictures under way are finished (each event keeps its evidence or its word), for a
    // while; what is left then is cut short.
    let finishing = async { while drawing.join_next().await.is_some() {} };
    if tokio::time::timeout(FINISH_PICTURES, finishing)
        .await
        .is_err()
    {
        log::warn!("pictures still being made at shutdown were cut short");
    }
    drawing.shutdown().await;
    Ok(())
}
