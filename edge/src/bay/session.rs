//! The bay's session state machine: commands, button presses and counted crossings in; events
//! (numbered per session) and acks out. Pure: no I/O, no clock (the caller passes `now`).
//! The edge is the authority for its bay, so this is where a session opens and closes.

use std::collections::VecDeque;

use baycount_protocol::{
    Ack, Action, Actor, ActorKind, BayState, Command, CommandId, Counting, Direction, Event,
    EventKind, Phase, Plate, SessionId, SessionSummary,
};
use chrono::{DateTime, Utc};

/// How many recent command ids are remembered, so a command delivered twice is applied once.
const REMEMBERED_COMMANDS: usize = 64;

/// The plate a session gets when the button starts it with no plate assigned.
pub const UNASSIGNED: &str = "UNASSIGNED";

/// One bay's state and the commands it has answered.
#[derive(Debug, Clone)]
pub struct BaySession {
    state: BayState,
    /// Recent commands and the ack each got, newest last.
    answered: VecDeque<(CommandId, Ack)>,
}

impl BaySession {
    /// A bay in `state` (idle, or an open session restored from the journal).
    pub fn new(state: BayState) -> Self {
        Self {
            state,
            answered: VecDeque::new(),
        }
    }

    pub fn state(&self) -> &BayState {
        &self.state
    }

    /// The ack finally given for a command the loop finished (a `configure` it refused after
    /// all): what a resent command with that id gets.
    pub fn answered(&mut self, ack: &Ack) {
        if let Some((_, kept)) = self.answered.iter_mut().find(|(id, _)| *id == ack.id) {
            *kept = ack.clone();
        }
    }

    /// What the bay counts now, for its state.
    pub fn set_counting(&mut self, counting: Counting, now: DateTime<Utc>) {
        self.state.counting = Some(counting);
        self.state.at = now;
    }

    fn summary(&self, stopped_at: Option<DateTime<Utc>>) -> Option<SessionSummary> {
        Some(SessionSummary {
            id: self.state.session?,
            plate: self.state.plate.clone()?,
            count: self.state.count,
            out: self.state.out,
            started_at: self.state.started_at?,
            stopped_at,
        })
    }

    fn event(&mut self, now: DateTime<Utc>, kind: EventKind) -> Option<Event> {
        let session = self.state.session?;
        self.state.seq += 1;
        Some(Event {
            session,
            seq: self.state.seq,
            at: now,
            count: self.state.count,
            out: self.state.out,
            kind,
        })
    }

    fn open(
        &mut self,
        session: SessionId,
        plate: Plate,
        by: Actor,
        now: DateTime<Utc>,
    ) -> Vec<Event> {
        self.state.phase = Phase::Loading;
        self.state.session = Some(session);
        self.state.plate = Some(plate.clone());
        self.state.count = 0;
        self.state.out = 0;
        self.state.seq = 0;
        self.state.started_at = Some(now);
        self.state.started_by = Some(by.clone());
        self.state.at = now;
        self.event(now, EventKind::Started { plate, by })
            .into_iter()
            .collect()
    }

    /// Closes the open session; returns its final summary and the `stopped` event.
    fn close(&mut self, by: Actor, now: DateTime<Utc>) -> (Option<SessionSummary>, Vec<Event>) {
        let summary = self.summary(Some(now));
        let events = self
            .event(now, EventKind::Stopped { by })
            .into_iter()
            .collect();
        let assigned = self.state.assigned_plate.take();
        let health = std::mem::take(&mut self.state.health);
        self.state = BayState {
            assigned_plate: assigned,
            health,
            ..BayState::idle(now)
        };
        (summary, events)
    }

    /// Applies a command (at most once per id; refused once expired). Returns the ack and the
    /// events to journal and publish, in order.
    pub fn command(&mut self, cmd: &Command, now: DateTime<Utc>) -> (Ack, Vec<Event>) {
        if let Some((_, ack)) = self.answered.iter().find(|(id, _)| *id == cmd.id) {
            return (ack.clone(), vec![]);
        }
        let ack = |s: &Self, reason: Option<String>, session: Option<SessionSummary>| Ack {
            id: cmd.id,
            ok: reason.is_none(),
            reason,
            state: s.state.clone(),
            session,
        };
        let (ack, events) = if cmd.is_expired(now) {
            let reason = format!("command expired at {}", cmd.expires_at.to_rfc3339());
            (ack(self, Some(reason), None), vec![])
        } else {
            match &cmd.action {
                Action::Start { session, plate } => match (self.state.phase, self.state.session) {
                    (Phase::Loading, Some(open)) if open == *session => {
                        (ack(self, None, self.summary(None)), vec![])
                    }
                    (Phase::Loading, _) => {
                        let plate = self.state.plate.as_ref().map_or("", |p| p.as_str());
                        let reason = format!("already loading {plate}; stop that session first");
                        (ack(self, Some(reason), None), vec![])
                    }
                    (Phase::Idle, _) => {
                        let events = self.open(*session, plate.clone(), cmd.by.clone(), now);
                        (ack(self, None, self.summary(None)), events)
                    }
                },
                Action::Stop { session } => match (self.state.phase, self.state.session) {
                    (Phase::Loading, Some(open)) if session.is_none_or(|s| s == open) => {
                        let (summary, events) = self.close(cmd.by.clone(), now);
                        (ack(self, None, summary), events)
                    }
                    (Phase::Loading, Some(open)) => {
                        let reason = format!("session {open} is the open one, not the one to stop");
                        (ack(self, Some(reason), None), vec![])
                    }
                    _ => (
                        ack(
                            self,
                            Some("not loading; there is nothing to stop".to_owned()),
                            None,
                        ),
                        vec![],
                    ),
                },
                Action::Assign { plate } => {
                    self.state.assigned_plate = plate.clone();
                    self.state.at = now;
                    (ack(self, None, None), vec![])
                }
                Action::Snapshot { .. } => (ack(self, None, None), vec![]),
                // Between sessions only; the loop checks, keeps and applies the settings.
                Action::Configure { .. } => match self.state.phase {
                    Phase::Loading => {
                        let reason = crate::bay::counting::CountingError::Loading.to_string();
                        (ack(self, Some(reason), None), vec![])
                    }
                    Phase::Idle => (ack(self, None, None), vec![]),
                },
            }
        };
        self.answered.push_back((cmd.id, ack.clone()));
        if self.answered.len() > REMEMBERED_COMMANDS {
            self.answered.pop_front();
        }
        (ack, events)
    }

    /// The push button: starts a session for the assigned plate (or `UNASSIGNED`) when idle,
    /// stops the open one when loading.
    pub fn press(&mut self, now: DateTime<Utc>) -> Vec<Event> {
        let by = Actor::new(ActorKind::Button, None);
        match self.state.phase {
            Phase::Idle => {
                let plate = self.state.assigned_plate.clone().unwrap_or_else(|| {
                    Plate::parse(UNASSIGNED)
                        .unwrap_or_else(|e| unreachable!("{UNASSIGNED} is a valid plate: {e}"))
                });
                self.open(SessionId::new(), plate, by, now)
            }
            Phase::Loading => self.close(by, now).1,
        }
    }

    /// A crossing counted by the pipeline, `now` the capture time of the frame it crossed in: an
    /// event while loading, nothing while idle or if it crossed before the session started (a
    /// crossing is decided once the track has settled on the other side, a second or more after
    /// it happened).
    pub fn crossing(
        &mut self,
        direction: Direction,
        track: u64,
        now: DateTime<Utc>,
    ) -> Option<Event> {
        if self.state.phase != Phase::Loading
            || self.state.started_at.is_some_and(|started| now < started)
        {
            return None;
        }
        match direction {
            Direction::In => self.state.count += 1,
            Direction::Out => self.state.out += 1,
        }
        self.state.at = now;
        self.event(now, EventKind::Counted { direction, track })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_780_000_000 + s, 0)
            .single()
            .expect("time")
    }

    fn cmd(action: Action, at: i64) -> Command {
        Command {
            id: CommandId::new(),
            expires_at: t(at) + Duration::seconds(5),
            by: Actor::new(ActorKind::Api, None),
            action,
        }
    }

    fn plate(p: &str) -> Plate {
        Plate::parse(p).expect("plate")
    }

    fn bay() -> BaySession {
        BaySession::new(BayState::idle(t(0)))
    }

    #[test]
    fn start_count_stop_numbers_the_events() {
        let mut b = bay();
        let s = SessionId::new();
        let (ack, ev) = b.command(
            &cmd(
                Action::Start {
                    session: s,
                    plate: plate("B 1 A"),
                },
                0,
            ),
            t(1),
        );
        assert!(ack.ok);
        assert_eq!(ack.session.as_ref().map(|x| x.id), Some(s));
        assert_eq!(ev.len(), 1);
        assert_eq!(
            (ev[0].seq, &ev[0].kind),
            (
                1,
                &EventKind::Started {
                    plate: plate("B 1 A"),
                    by: Actor::new(ActorKind::Api, None)
                }
            )
        );
        assert!(
            b.crossing(Direction::In, 6, t(0)).is_none(),
            "crossed before the session started, decided after"
        );
        let c1 = b
            .crossing(Direction::In, 7, t(2))
            .expect("counts while loading");
        let c2 = b.crossing(Direction::Out, 8, t(3)).expect("counts");
        let c3 = b.crossing(Direction::In, 9, t(4)).expect("counts");
        assert_eq!((c1.seq, c2.seq, c3.seq), (2, 3, 4));
        assert_eq!((c3.count, c3.out), (2, 1));
        let (ack, ev) = b.command(&cmd(Action::Stop { session: Some(s) }, 4), t(5));
        assert!(ack.ok);
        let summary = ack.session.expect("final session");
        assert_eq!(
            (summary.count, summary.out, summary.stopped_at),
            (2, 1, Some(t(5)))
        );
        assert_eq!((ev[0].seq, ev[0].count), (5, 2));
        assert!(matches!(ev[0].kind, EventKind::Stopped { .. }));
        assert_eq!(b.state().phase, Phase::Idle);
        assert!(
            b.crossing(Direction::In, 10, t(6)).is_none(),
            "idle bays do not count"
        );
    }

    #[test]
    fn a_command_delivered_twice_is_applied_once() {
        let mut b = bay();
        let start = cmd(
            Action::Start {
                session: SessionId::new(),
                plate: plate("B 1 A"),
            },
            0,
        );
        let (first, ev) = b.command(&start, t(1));
        b.crossing(Direction::In, 1, t(2));
        let (again, ev2) = b.command(&start, t(3));
        assert_eq!(first, again, "the same ack");
        assert_eq!((ev.len(), ev2.len()), (1, 0));
        assert_eq!(b.state().count, 1, "nothing restarted");
    }

    #[test]
    fn expired_and_invalid_commands_are_refused_with_reasons_and_change_nothing() {
        let mut b = bay();
        let (ack, ev) = b.command(
            &cmd(
                Action::Start {
                    session: SessionId::new(),
                    plate: plate("B 1 A"),
                },
                0,
            ),
            t(6),
        );
        assert!(
            !ack.ok
                && ack.reason.as_deref().is_some_and(|r| r.contains("expired"))
                && ev.is_empty()
        );
        let (ack, _) = b.command(&cmd(Action::Stop { session: None }, 10), t(10));
        assert!(
            !ack.ok
                && ack
                    .reason
                    .as_deref()
                    .is_some_and(|r| r.contains("not loading"))
        );
        let s = SessionId::new();
        b.command(
            &cmd(
                Action::Start {
                    session: s,
                    plate: plate("B 1 A"),
                },
                10,
            ),
            t(10),
        );
        let (ack, ev) = b.command(
            &cmd(
                Action::Start {
                    session: SessionId::new(),
                    plate: plate("B 2 A"),
                },
                11,
            ),
            t(11),
        );
        assert!(
            !ack.ok && ack.reason.as_deref().is_some_and(|r| r.contains("B 1 A")) && ev.is_empty()
        );
        let (ack, _) = b.command(
            &cmd(
                Action::Stop {
                    session: Some(SessionId::new()),
                },
                12,
            ),
            t(12),
        );
        assert!(!ack.ok, "an old button cannot stop a newer session");
        assert_eq!(b.state().session, Some(s));
        let (ack, ev) = b.command(
            &cmd(
                Action::Start {
                    session: s,
                    plate: plate("B 1 A"),
                },
                13,
            ),
            t(13),
        );
        assert!(
            ack.ok && ev.is_empty(),
            "starting the open session again is a no-op"
        );
    }

    #[test]
    fn the_button_toggles_with_the_assigned_plate_or_unassigned() {
        let mut b = bay();
        let ev = b.press(t(1));
        assert!(
            matches!(&ev[0].kind, EventKind::Started { plate, by } if plate.as_str() == UNASSIGNED && by.kind == ActorKind::Button)
        );
        let ev = b.press(t(2));
        assert!(matches!(ev[0].kind, EventKind::Stopped { .. }));
        let (ack, _) = b.command(
            &cmd(
                Action::Assign {
                    plate: Some(plate("kt 8899 test")),
                },
                3,
            ),
            t(3),
        );
        assert!(ack.ok);
        let ev = b.press(t(4));
        assert!(
            matches!(&ev[0].kind, EventKind::Started { plate, .. } if plate.as_str() == "KT 8899 TEST")
        );
        b.press(t(5));
        assert_eq!(
            b.state().assigned_plate,
            Some(plate("KT 8899 TEST")),
            "the assignment outlives the session"
        );
    }
}
