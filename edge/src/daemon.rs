//! The bay's main loop: commands and `stored` cursors from the link, crossings from the
//! pipeline and presses of the button go through the session state machine; every event is
//! journaled before it is published; the state is published on every change and every 10 s.

use std::time::Duration;

use baycount_protocol::{Action, Direction, Event, Stored};
use chrono::Utc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::journal::{Journal, JournalError};
use crate::link::{Inbound, Link};
use crate::session::BaySession;

/// How often the state is published even when nothing changes.
pub const STATE_EVERY: Duration = Duration::from_secs(10);

/// What the pipeline and the button send the loop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Input {
    Crossing { direction: Direction, track: u64 },
    Press,
}

/// Runs until `shutdown` or until the inputs and the link both end. A journal that cannot be
/// written stops the loop with its error (systemd restarts the service; nothing is published
/// that is not journaled).
pub async fn run(
    link: Link,
    mut inbound: mpsc::Receiver<Inbound>,
    journal: Journal,
    mut inputs: mpsc::Receiver<Input>,
    shutdown: CancellationToken,
) -> Result<(), JournalError> {
    let mut session = BaySession::new(journal.restore(Utc::now()).await?);
    let mut stored = Stored::default();
    let mut tick = tokio::time::interval(STATE_EVERY);
    let publish = |events: &[Event], link: &Link| {
        for e in events {
            if let Err(e) = link.event(e) {
                log::debug!("event not sent now, it will be re-sent: {e}");
            }
        }
    };
    loop {
        let events = tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => vec![],
            msg = inbound.recv() => match msg {
                None => break,
                Some(Inbound::Connected | Inbound::RelayOnline) => {
                    let unconfirmed = journal.unconfirmed(&stored).await?;
                    publish(&unconfirmed, &link);
                    vec![]
                }
                Some(Inbound::Stored(s)) => {
                    journal.confirm(&s).await?;
                    stored = s;
                    vec![]
                }
                Some(Inbound::Command(cmd)) => {
                    let (ack, events) = session.command(&cmd, Utc::now());
                    journal.append(&events).await?;
                    if let (true, Action::Assign { plate }) = (ack.ok, &cmd.action) {
                        journal.set_assigned_plate(plate.as_ref()).await?;
                    }
                    publish(&events, &link);
                    if let Err(e) = link.ack(&ack) {
                        log::warn!("cannot send the ack of command {}: {e}", cmd.id);
                    }
                    events
                }
            },
            input = inputs.recv() => match input {
                None => break,
                Some(Input::Crossing { direction, track }) => {
                    let events: Vec<Event> = session.crossing(direction, track, Utc::now()).into_iter().collect();
                    journal.append(&events).await?;
                    publish(&events, &link);
                    events
                }
                Some(Input::Press) => {
                    let events = session.press(Utc::now());
                    journal.append(&events).await?;
                    publish(&events, &link);
                    events
                }
            },
        };
        let _ = events;
        let mut state = session.state().clone();
        state.health.journal_backlog = journal.backlog().await?;
        state.at = Utc::now();
        if let Err(e) = link.state(&state) {
            log::debug!("state not sent now: {e}");
        }
    }
    Ok(())
}
