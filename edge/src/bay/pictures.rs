//! The bay loop's pictures, made off its path on blocking tasks it keeps: the live view's
//! answer to a `snapshot` command, and the evidence of each event (the whole picture at a
//! session's start and stop, the counted object at each crossing), kept until the relay has it
//! and sent. A picture that cannot be made or kept becomes word that it was dropped; a count
//! never waits for one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use baycount_protocol::{
    Ack, BayState, Command, Event, EventKind, Evidence, EvidenceHeader, EvidenceKind, Plate,
    SessionId, Stored,
};
use tokio::task::JoinSet;

use crate::bay::evidence::EvidenceStore;
use crate::bay::link::Link;
use crate::vision::live_view::LiveView;
use crate::vision::shot::Shot;

/// Kept pictures sent again at most this many at a time (after a reconnect), so they never
/// crowd out the events, states and acks queued behind them.
const RESEND_AT_ONCE: usize = 64;

/// What the pictures need, cheap to clone onto their tasks.
#[derive(Debug, Clone)]
pub struct Pictures {
    pub view: LiveView,
    pub store: EvidenceStore,
    pub link: Link,
    /// Whether the relay keeps evidence (it has confirmed some): only then are kept pictures
    /// sent again.
    pub relay_keeps: Arc<AtomicBool>,
}

/// The caption of the whole picture: the plate and counts while loading.
fn caption(plate: Option<&Plate>, count: u64, out: u64) -> String {
    match plate {
        Some(plate) => format!("{plate}  in {count}  out {out}"),
        None => "idle".to_owned(),
    }
}

impl Pictures {
    /// Draws the newest frame for `cmd` and publishes it; a bay without a frame yet refuses the
    /// command instead (its ack says why).
    pub fn answer(&self, cmd: &Command, state: &BayState, tasks: &mut JoinSet<()>, ack: &mut Ack) {
        if !self.view.has_frame() {
            ack.ok = false;
            ack.reason = Some(
                "no picture yet: the camera has not delivered a frame; check the bay's camera"
                    .into(),
            );
            return;
        }
        let caption = caption(state.plate.as_ref(), state.count, state.out);
        let (me, id) = (self.clone(), cmd.id);
        tasks.spawn_blocking(move || match me.view.picture(id, &caption) {
            Some(Ok(snapshot)) => {
                if let Err(e) = me.link.snapshot(&snapshot) {
                    log::warn!("cannot send the picture for command {id}: {e}");
                }
            }
            Some(Err(e)) => log::error!("cannot draw the picture for command {id}: {e}"),
            None => {}
        });
    }

    /// The evidence of journaled `events` of the session loading `plate`: a crossing's from
    /// its `shot`, a start's or stop's from the newest frame, captioned with the event's counts.
    pub fn evidence(
        &self,
        events: &[Event],
        mut shot: Option<Box<Shot>>,
        plate: Option<&Plate>,
        tasks: &mut JoinSet<()>,
    ) {
        for event in events {
            let plate = match &event.kind {
                EventKind::Started { plate, .. } => Some(plate),
                _ => plate,
            };
            let header = EvidenceHeader::of(event);
            let shot = if header.kind == EvidenceKind::Crossing {
                shot.take()
            } else {
                None
            };
            let (me, caption) = (self.clone(), caption(plate, event.count, event.out));
            tasks.spawn_blocking(move || me.make(header, shot, &caption));
        }
    }

    /// Makes, keeps and sends one piece of evidence.
    fn make(&self, mut header: EvidenceHeader, shot: Option<Box<Shot>>, caption: &str) {
        let made = match (header.kind, shot) {
            (EvidenceKind::Crossing, Some(shot)) => {
                Some(shot.jpeg().map(|j| (j, shot.frame.captured)))
            }
            (EvidenceKind::Crossing, None) => None,
            _ => self
                .view
                .drawn(caption)
                .map(|d| d.map(|(jpeg, at, _)| (jpeg, at))),
        };
        let jpeg = match made {
            Some(Ok((jpeg, at))) => {
                header.at = at;
                jpeg.bytes
            }
            Some(Err(e)) => {
                log::warn!("the picture of event {} could not be made: {e}", header.seq);
                vec![]
            }
            None => vec![],
        };
        header.dropped = jpeg.is_empty();
        let evidence = Evidence { header, jpeg };
        match self.store.put(&evidence) {
            Ok(0) => {}
            Ok(n) => log::warn!("evidence budget full: the {n} oldest pictures were dropped"),
            Err(e) => log::warn!(
                "cannot keep the picture of event {}: {e}",
                evidence.header.seq
            ),
        }
        if let Err(e) = self.link.evidence(&evidence) {
            log::debug!("evidence not sent now, it will be re-sent: {e}");
        }
    }

    /// Sends again the oldest pictures the relay has not confirmed (after a reconnect), if the
    /// relay keeps evidence at all.
    pub fn resend(&self, tasks: &mut JoinSet<()>) {
        if !self.relay_keeps.load(Ordering::Relaxed) {
            return;
        }
        let me = self.clone();
        tasks.spawn_blocking(move || match me.store.unconfirmed(RESEND_AT_ONCE) {
            Ok(all) => {
                for e in all {
                    if me.link.evidence(&e).is_err() {
                        break;
                    }
                }
            }
            Err(e) => log::warn!("cannot read the kept evidence: {e}"),
        });
    }

    /// Forgets the evidence the relay has stored.
    pub fn confirm(&self, stored: &Stored, tasks: &mut JoinSet<()>) {
        let (me, upto): (_, std::collections::BTreeMap<SessionId, u64>) =
            (self.clone(), stored.evidence.clone());
        if upto.is_empty() {
            return;
        }
        // The first word that the relay keeps evidence (it may have been away all along, and
        // has none of ours yet): what was kept for it goes now.
        if !self.relay_keeps.swap(true, Ordering::Relaxed) {
            self.resend(tasks);
        }
        tasks.spawn_blocking(move || {
            if let Err(e) = me.store.confirm(&upto) {
                log::warn!("cannot forget confirmed evidence: {e}");
            }
        });
    }
}
