//! A scripted edge: a real MQTT client playing the edge's side of the contract, with the real
//! edge's session state machine ([`BaySession`]) deciding what commands and counts do, so the
//! relay's tests meet the rules the edge has.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use baycount_edge::bay::session::BaySession;
use baycount_protocol::*;
use chrono::Utc;
use rumqttc::{AsyncClient, Event as MqttEvent, LastWill, MqttOptions, Packet, QoS};
use tokio::sync::watch;

use crate::unique_client_id;

/// The picture a scripted edge sends when a `snapshot` command asks for one: a real 64x48 JPEG.
pub const PICTURE: &[u8] = include_bytes!("../fixtures/picture.jpg");

/// The picture of `event` as a bay sends it on `evidence`: the fixture [`PICTURE`] with the
/// event's seq after its end, so that each piece's bytes differ; none when `dropped`.
pub fn evidence_of(event: &Event, dropped: bool) -> Evidence {
    let mut jpeg = PICTURE.to_vec();
    jpeg.push(event.seq as u8);
    Evidence {
        header: EvidenceHeader {
            dropped,
            ..EvidenceHeader::of(event)
        },
        jpeg: if dropped { vec![] } else { jpeg },
    }
}

/// What the scripted edge does with commands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Applies commands and acks them, as a real edge does.
    Respond,
    /// Ignores commands (a hung edge), so the relay's ack timeout shows.
    Silent,
}

struct EdgeInner {
    session: BaySession,
    mode: Mode,
    /// Every event published, in order.
    events: Vec<Event>,
    /// The last track id counted (the pipeline's tracker numbers them).
    track: u64,
    /// The relay's latest `stored` cursor.
    stored: Stored,
}

impl EdgeInner {
    /// The state as the real edge publishes it: with the events the relay has not confirmed
    /// yet as the journal's backlog.
    fn published_state(&self) -> BayState {
        let mut state = self.session.state().clone();
        state.health.journal_backlog = self
            .events
            .iter()
            .filter(|e| {
                self.stored
                    .sessions
                    .get(&e.session)
                    .is_none_or(|&n| e.seq > n)
            })
            .count() as u64;
        state
    }
}

/// A scripted edge: a real MQTT client playing the edge's side of the contract.
pub struct ScriptedEdge {
    pub bay: BayId,
    client: AsyncClient,
    inner: Arc<Mutex<EdgeInner>>,
    stored: watch::Receiver<Stored>,
    connected: watch::Receiver<bool>,
    /// Held while a count's event and state (or a republished state) are published, so
    /// nothing slips between a count's event and its state.
    publishing: Arc<tokio::sync::Mutex<()>>,
    /// The MQTT event loop and the state republisher.
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

fn publish(client: &AsyncClient, bay: &BayId, kind: Kind, payload: Vec<u8>) {
    client
        .try_publish(
            Topic::new(bay.clone(), kind).to_string(),
            QoS::AtLeastOnce,
            kind.retained(),
            payload,
        )
        .unwrap();
}

/// [`publish`], waiting for room in the client's queue rather than failing.
async fn publish_waiting(
    client: &AsyncClient,
    bay: &BayId,
    kind: Kind,
    payload: Vec<u8>,
) -> Result<(), rumqttc::ClientError> {
    let topic = Topic::new(bay.clone(), kind).to_string();
    client
        .publish(topic, QoS::AtLeastOnce, kind.retained(), payload)
        .await
}

impl ScriptedEdge {
    pub async fn connect(port: u16, bay: &str, mode: Mode) -> Self {
        Self::connect_with(port, bay, mode, |_| {}).await
    }

    /// Connects with options adjusted by `configure` (credentials, TLS).
    pub async fn connect_with(
        port: u16,
        bay: &str,
        mode: Mode,
        configure: impl FnOnce(&mut MqttOptions),
    ) -> Self {
        let bay = BayId::parse(bay).unwrap();
        let mut opts =
            MqttOptions::new(unique_client_id(&format!("edge-{bay}")), "127.0.0.1", port);
        opts.set_keep_alive(Duration::from_secs(5))
            .set_last_will(LastWill::new(
                Topic::new(bay.clone(), Kind::Status).to_string(),
                "offline",
                QoS::AtLeastOnce,
                true,
            ));
        configure(&mut opts);
        let (client, mut eventloop) = AsyncClient::new(opts, 10_000);
        // A healthy bay, as a real edge reports it.
        let mut state = BayState::idle(Utc::now());
        state.health.camera = HealthLevel::Ok;
        state.health.detector = HealthLevel::Ok;
        state.health.fps = 9.8;
        let inner = Arc::new(Mutex::new(EdgeInner {
            session: BaySession::new(state),
            mode,
            events: vec![],
            track: 0,
            stored: Stored::default(),
        }));
        let (stored_tx, stored) = watch::channel(Stored::default());
        let (conn_tx, connected) = watch::channel(false);
        let publishing = Arc::new(tokio::sync::Mutex::new(()));
        let stale = Arc::new(tokio::sync::Notify::new());
        let (c, i, b, p) = (
            client.clone(),
            inner.clone(),
            bay.clone(),
            publishing.clone(),
        );
        let stale_rx = stale.clone();
        let republisher = tokio::spawn(async move {
            loop {
                stale_rx.notified().await;
                let _publishing = p.lock().await;
                let state = i.lock().unwrap().published_state();
                let _ = publish_waiting(&c, &b, Kind::State, encode(&state)).await;
            }
        });
        let (c, i, b) = (client.clone(), inner.clone(), bay.clone());
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(MqttEvent::Incoming(Packet::ConnAck(_))) => {
                        c.try_subscribe(
                            Topic::new(b.clone(), Kind::Cmd).to_string(),
                            QoS::AtLeastOnce,
                        )
                        .unwrap();
                        c.try_subscribe(
                            Topic::new(b.clone(), Kind::Stored).to_string(),
                            QoS::AtLeastOnce,
                        )
                        .unwrap();
                        publish(&c, &b, Kind::Status, b"online".to_vec());
                        let state = i.lock().unwrap().published_state();
                        publish(&c, &b, Kind::State, encode(&state));
                        conn_tx.send_replace(true);
                    }
                    Ok(MqttEvent::Incoming(Packet::Publish(p))) => {
                        match Incoming::parse(&p.topic, &p.payload) {
                            Ok(Incoming {
                                message: Message::Cmd(cmd),
                                ..
                            }) => handle_command(&c, &b, &i, cmd),
                            Ok(Incoming {
                                message: Message::Stored(s),
                                ..
                            }) => {
                                // As the real edge: the journal forgets what is stored, and
                                // the state says so (published by the republisher below).
                                i.lock().unwrap().stored = s.clone();
                                stale.notify_one();
                                stored_tx.send_replace(s);
                            }
                            _ => {}
                        }
                    }
                    Ok(_) => {}
                    Err(_) => {
                        conn_tx.send_replace(false);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        let mut edge = Self {
            bay,
            client,
            inner,
            stored,
            connected,
            publishing,
            tasks: vec![task, republisher],
        };
        edge.connected.wait_for(|c| *c).await.unwrap();
        edge
    }

    pub fn set_mode(&self, mode: Mode) {
        self.inner.lock().unwrap().mode = mode;
    }

    pub fn state(&self) -> BayState {
        self.inner.lock().unwrap().published_state()
    }

    /// Every event this edge has published.
    pub fn events(&self) -> Vec<Event> {
        self.inner.lock().unwrap().events.clone()
    }

    /// The events of `session` this edge has published.
    pub fn events_of(&self, session: SessionId) -> Vec<Event> {
        let mut events = self.events();
        events.retain(|e| e.session == session);
        events
    }

    /// One object crosses the line: an event (and the new state) is published.
    pub async fn count(&self, direction: Direction) -> Event {
        let _publishing = self.publishing.lock().await;
        let (ev, state) = self.next_count(direction);
        for (kind, payload) in [(Kind::Event, encode(&ev)), (Kind::State, encode(&state))] {
            publish_waiting(&self.client, &self.bay, kind, payload)
                .await
                .unwrap();
        }
        ev
    }

    fn next_count(&self, direction: Direction) -> (Event, BayState) {
        let mut i = self.inner.lock().unwrap();
        i.track += 1;
        let track = i.track;
        let ev = i
            .session
            .crossing(direction, track, Utc::now())
            .expect("counting needs an open session");
        i.events.push(ev.clone());
        (ev, i.published_state())
    }

    /// Sends the picture of `event` on `evidence` ([`evidence_of`]), or word that it was dropped.
    pub async fn send_evidence(&self, event: &Event, dropped: bool) {
        let piece = evidence_of(event, dropped).encode();
        publish_waiting(&self.client, &self.bay, Kind::Evidence, piece)
            .await
            .unwrap();
    }

    /// Publishes anything on one of this bay's topics.
    pub fn publish_raw(&self, kind: Kind, payload: &[u8]) {
        publish(&self.client, &self.bay, kind, payload.to_vec());
    }

    /// Waits until the relay's `stored` cursor for `session` reaches `seq`.
    pub async fn wait_stored(&mut self, session: SessionId, seq: u64) {
        self.wait_for_stored(|s| s.sessions.get(&session).is_some_and(|&n| n >= seq))
            .await;
    }

    /// Waits until the relay's `stored.evidence` cursor for `session` reaches `seq`.
    pub async fn wait_stored_evidence(&mut self, session: SessionId, seq: u64) -> Stored {
        self.wait_for_stored(|s| s.evidence.get(&session).is_some_and(|&n| n >= seq))
            .await
    }

    /// Waits (at most 10 s) until the relay's latest `stored` satisfies `f`, and returns it.
    async fn wait_for_stored(&mut self, f: impl FnMut(&Stored) -> bool) -> Stored {
        tokio::time::timeout(Duration::from_secs(10), self.stored.wait_for(f))
            .await
            .expect("stored cursor reached in time")
            .unwrap()
            .clone()
    }

    /// Disconnects without a goodbye, so the broker publishes the last will.
    pub fn kill(&self) {
        self.tasks.iter().for_each(|t| t.abort());
    }

    pub async fn disconnect(&self) {
        publish(&self.client, &self.bay, Kind::Status, b"offline".to_vec());
        let _ = self.client.disconnect().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.tasks.iter().for_each(|t| t.abort());
    }
}

impl Drop for ScriptedEdge {
    fn drop(&mut self) {
        self.tasks.iter().for_each(|t| t.abort());
    }
}

/// What the real edge does with a command: applies it to the session, publishes the events it
/// made, then the state, then the ack.
fn handle_command(c: &AsyncClient, b: &BayId, i: &Arc<Mutex<EdgeInner>>, cmd: Command) {
    let mut g = i.lock().unwrap();
    if g.mode == Mode::Silent {
        return;
    }
    let (ack, events) = g.session.command(&cmd, Utc::now());
    for ev in events {
        publish(c, b, Kind::Event, encode(&ev));
        g.events.push(ev);
    }
    publish(c, b, Kind::State, encode(&g.published_state()));
    if let (true, Action::Snapshot { picture: true }) = (ack.ok, &cmd.action) {
        let picture = Snapshot {
            header: SnapshotHeader {
                command: cmd.id,
                at: Utc::now(),
                width: 64,
                height: 48,
                region: None,
            },
            jpeg: PICTURE.to_vec(),
        };
        publish(c, b, Kind::Snapshot, picture.encode());
    }
    publish(c, b, Kind::Ack, encode(&ack));
}
