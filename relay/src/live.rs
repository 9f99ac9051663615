//! The live state of every bay, mirrored from MQTT, and its fan-out to WebSocket clients.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use baycount_protocol::{
    Actor, BayId, BayState, Counting, Event, EventKind, Health, Phase, Plate, SessionId, Status,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::broadcast;

/// How many updates a WebSocket client may fall behind before it is sent a fresh snapshot.
const FANOUT_CAPACITY: usize = 4096;

/// A bay as every surface shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BayView {
    pub bay: BayId,
    /// The name from the config file, if declared there.
    pub name: Option<String>,
    /// Whether the bay's edge is connected (its retained `status`).
    pub online: bool,
    pub phase: Phase,
    pub plate: Option<Plate>,
    /// The plate the bay's push button starts a session for.
    pub assigned_plate: Option<Plate>,
    /// `in` crossings of the open session.
    pub count: u64,
    /// `out` crossings of the open session, shown beside the count.
    pub out: u64,
    pub session: Option<SessionId>,
    pub started_at: Option<DateTime<Utc>>,
    pub started_by: Option<Actor>,
    /// When the relay last heard from the bay.
    pub last_seen: Option<DateTime<Utc>>,
    pub health: Health,
    /// What the bay counts (its line, classes, band, anchor), as its state last said; absent
    /// until an edge that reports it is heard.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counting: Option<Counting>,
    /// `seq` of the open session's latest event applied here, so replays never move the count back.
    #[serde(skip)]
    seq: u64,
}

impl BayView {
    pub fn new(bay: BayId) -> Self {
        Self {
            bay,
            name: None,
            online: false,
            phase: Phase::Idle,
            plate: None,
            assigned_plate: None,
            count: 0,
            out: 0,
            session: None,
            started_at: None,
            started_by: None,
            last_seen: None,
            health: Health::default(),
            counting: None,
            seq: 0,
        }
    }

    fn apply_state(&mut self, s: &BayState) {
        self.phase = s.phase;
        self.session = s.session;
        self.plate = s.plate.clone();
        self.assigned_plate = s.assigned_plate.clone();
        self.count = s.count;
        self.out = s.out;
        self.seq = s.seq;
        self.started_at = s.started_at;
        self.started_by = s.started_by.clone();
        self.health = s.health.clone();
        if s.counting.is_some() {
            self.counting = s.counting.clone();
        }
    }

    /// Applies an event of the open session (or the start of a new one). Returns whether the
    /// view changed; old or replayed events change nothing.
    fn apply_event(&mut self, e: &Event) -> bool {
        let current = self.session == Some(e.session);
        match &e.kind {
            EventKind::Started { plate, by } if !current && self.phase == Phase::Idle => {
                if self.started_at.is_some_and(|t| t > e.at) {
                    return false;
                }
                self.phase = Phase::Loading;
                self.session = Some(e.session);
                self.plate = Some(plate.clone());
                self.started_at = Some(e.at);
                self.started_by = Some(by.clone());
            }
            _ if !current || e.seq <= self.seq => return false,
            EventKind::Stopped { .. } => {
                self.phase = Phase::Idle;
                self.session = None;
                self.plate = None;
                self.started_at = None;
                self.started_by = None;
            }
            _ => {}
        }
        self.count = e.count;
        self.out = e.out;
        self.seq = e.seq;
        true
    }
}

/// A message to WebSocket clients.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Update<'a> {
    /// Every bay, on connect (and after a client fell behind).
    Snapshot { bays: &'a [BayView] },
    /// A bay changed: status, phase, plate, health.
    Bay { bay: &'a BayView },
    /// A count: the event and the bay after it.
    Count { event: &'a Event, bay: &'a BayView },
}

/// Every bay's live state. Updates are serialised once and fanned out to all clients.
#[derive(Debug)]
pub struct Live {
    bays: RwLock<BTreeMap<BayId, BayView>>,
    /// Each update, already JSON, for every WebSocket client.
    fanout: broadcast::Sender<Arc<str>>,
    /// Which bay changed, for in-process watchers (the bot).
    changed: broadcast::Sender<BayId>,
}

impl Default for Live {
    fn default() -> Self {
        Self {
            bays: RwLock::default(),
            fanout: broadcast::channel(FANOUT_CAPACITY).0,
            changed: broadcast::channel(FANOUT_CAPACITY).0,
        }
    }
}

impl Live {
    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<BayId, BayView>) -> R) -> R {
        let mut bays = self.bays.write().unwrap_or_else(|p| p.into_inner());
        f(&mut bays)
    }

    fn send(&self, update: &Update<'_>) {
        if self.fanout.receiver_count() > 0 {
            let json = serde_json::to_string(update).unwrap_or_default();
            let _ = self.fanout.send(json.into());
        }
    }

    /// Lists a bay known from config or history (offline until it speaks).
    pub fn declare(&self, bay: BayId, name: Option<String>, last_seen: Option<DateTime<Utc>>) {
        self.with(|bays| {
            let v = bays.entry(bay.clone()).or_insert_with(|| BayView::new(bay));
            if name.is_some() {
                v.name = name;
            }
            v.last_seen = v.last_seen.max(last_seen);
        });
    }

    /// Applies a change to a bay (created on first sight) and tells the clients if it changed.
    /// Returns whether the bay was new.
    fn update(
        &self,
        bay: &BayId,
        now: DateTime<Utc>,
        f: impl FnOnce(&mut BayView) -> bool,
        event: Option<&Event>,
    ) -> bool {
        self.with(|bays| {
            let new = !bays.contains_key(bay);
            let v = bays
                .entry(bay.clone())
                .or_insert_with(|| BayView::new(bay.clone()));
            v.last_seen = Some(now);
            if f(v) || new {
                let _ = self.changed.send(bay.clone());
                match event {
                    Some(event) => self.send(&Update::Count { event, bay: v }),
                    None => self.send(&Update::Bay { bay: v }),
                }
            }
            new
        })
    }

    pub fn apply_status(&self, bay: &BayId, status: Status, now: DateTime<Utc>) -> bool {
        self.update(
            bay,
            now,
            |v| {
                let online = status == Status::Online;
                std::mem::replace(&mut v.online, online) != online
            },
            None,
        )
    }

    pub fn apply_state(&self, bay: &BayId, state: &BayState, now: DateTime<Utc>) -> bool {
        self.update(
            bay,
            now,
            |v| {
                let mut before = v.clone();
                v.apply_state(state);
                // The journal's backlog moves with every count and every `stored` cursor: kept
                // for the API, but no reason to wake every surface (one count, one update).
                before.health.journal_backlog = v.health.journal_backlog;
                *v != before
            },
            None,
        )
    }

    pub fn apply_event(&self, bay: &BayId, event: &Event, now: DateTime<Utc>) -> bool {
        let counted = matches!(event.kind, EventKind::Counted { .. });
        self.update(bay, now, |v| v.apply_event(event), counted.then_some(event))
    }

    pub fn get(&self, bay: &BayId) -> Option<BayView> {
        self.bays
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(bay)
            .cloned()
    }

    pub fn all(&self) -> Vec<BayView> {
        self.bays
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    pub fn online_count(&self) -> usize {
        self.bays
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|v| v.online)
            .count()
    }

    /// Subscribes to updates; call before [`Live::snapshot_json`] so that nothing falls between.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.fanout.subscribe()
    }

    /// The ids of bays as they change (a lagging receiver should look at every bay again).
    pub fn watch(&self) -> broadcast::Receiver<BayId> {
        self.changed.subscribe()
    }

    /// Every bay, as the snapshot message.
    pub fn snapshot_json(&self) -> String {
        serde_json::to_string(&Update::Snapshot { bays: &self.all() }).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use baycount_protocol::{ActorKind, Direction};

    use super::*;

    fn bay() -> BayId {
        BayId::parse("bay-1").expect("bay")
    }

    fn ev(session: SessionId, seq: u64, count: u64, kind: EventKind) -> Event {
        Event {
            session,
            seq,
            at: Utc::now(),
            count,
            out: 0,
            kind,
        }
    }

    fn counted() -> EventKind {
        EventKind::Counted {
            direction: Direction::In,
            track: 1,
        }
    }

    #[test]
    fn events_drive_a_session_and_replays_do_not_move_the_count_back() {
        let live = Live::default();
        let s = SessionId::new();
        let by = Actor::new(ActorKind::Api, None);
        let started = EventKind::Started {
            plate: Plate::parse("B 1 A").expect("plate"),
            by: by.clone(),
        };
        assert!(live.apply_event(&bay(), &ev(s, 1, 0, started), Utc::now()));
        live.apply_event(&bay(), &ev(s, 2, 1, counted()), Utc::now());
        live.apply_event(&bay(), &ev(s, 3, 2, counted()), Utc::now());
        live.apply_event(&bay(), &ev(s, 2, 1, counted()), Utc::now());
        let v = live.get(&bay()).expect("bay");
        assert_eq!((v.phase, v.count, v.session), (Phase::Loading, 2, Some(s)));
        live.apply_event(&bay(), &ev(SessionId::new(), 9, 7, counted()), Utc::now());
        assert_eq!(
            live.get(&bay()).expect("bay").count,
            2,
            "other sessions' events ignored"
        );
        live.apply_event(&bay(), &ev(s, 4, 2, EventKind::Stopped { by }), Utc::now());
        let v = live.get(&bay()).expect("bay");
        assert_eq!((v.phase, v.session), (Phase::Idle, None));
    }

    #[test]
    fn clients_get_snapshot_then_updates() {
        let live = Live::default();
        live.declare(bay(), Some("Bay one".into()), None);
        let mut rx = live.subscribe();
        let snap: serde_json::Value = serde_json::from_str(&live.snapshot_json()).expect("json");
        assert_eq!(snap["type"], "snapshot");
        assert_eq!(snap["bays"][0]["name"], "Bay one");
        assert_eq!(snap["bays"][0]["online"], false);
        live.apply_status(&bay(), Status::Online, Utc::now());
        let msg: serde_json::Value =
            serde_json::from_str(&rx.try_recv().expect("update")).expect("json");
        assert_eq!(msg["type"], "bay");
        assert_eq!(msg["bay"]["online"], true);
        assert!(!live.apply_status(&bay(), Status::Online, Utc::now()));
        assert!(rx.try_recv().is_err(), "no update when nothing changed");
    }

    #[test]
    fn one_count_is_one_update_whatever_the_journal_backlog_does() {
        let live = Live::default();
        let s = SessionId::new();
        let started = EventKind::Started {
            plate: Plate::parse("B 1 A").expect("plate"),
            by: Actor::new(ActorKind::Api, None),
        };
        live.apply_event(&bay(), &ev(s, 1, 0, started), Utc::now());
        let mut state = BayState::idle(Utc::now());
        state.phase = Phase::Loading;
        state.session = Some(s);
        state.plate = Some(Plate::parse("B 1 A").expect("plate"));
        state.seq = 1;
        state.started_at = live.get(&bay()).expect("bay").started_at;
        state.started_by = Some(Actor::new(ActorKind::Api, None));
        live.apply_state(&bay(), &state, Utc::now());
        let mut rx = live.subscribe();
        let mut woken = live.watch();

        // The edge's count: its event, then its state (one event unconfirmed), then its state
        // again once the relay has stored the event (nothing unconfirmed).
        live.apply_event(&bay(), &ev(s, 2, 1, counted()), Utc::now());
        state.count = 1;
        state.seq = 2;
        state.health.journal_backlog = 1;
        live.apply_state(&bay(), &state, Utc::now());
        state.health.journal_backlog = 0;
        live.apply_state(&bay(), &state, Utc::now());

        let msg: serde_json::Value =
            serde_json::from_str(&rx.try_recv().expect("the count")).expect("json");
        assert_eq!(
            (msg["type"].as_str(), msg["bay"]["count"].as_u64()),
            (Some("count"), Some(1))
        );
        assert!(rx.try_recv().is_err(), "one update for one count");
        assert!(woken.try_recv().is_ok());
        assert!(woken.try_recv().is_err(), "one wake-up for one count");
        assert_eq!(
            live.get(&bay()).expect("bay").health.journal_backlog,
            0,
            "the API still shows the backlog"
        );
    }
}
