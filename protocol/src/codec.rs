//! JSON encoding of payloads, and the single entry point that reads whatever arrives.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{
    Ack, BayState, Command, Event, Evidence, Kind, Snapshot, Status, Stored, Topic, TopicError,
};

/// Largest payload accepted, in bytes. Every message of the contract is far smaller, but the
/// pictures (`snapshot`, `evidence`), which the edge makes fit.
pub const MAX_PAYLOAD: usize = 64 * 1024;

/// Why a payload was not understood. The caller logs it and drops the message.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error(transparent)]
    Topic(#[from] TopicError),
    #[error("payload of {0} bytes is over the {MAX_PAYLOAD}-byte limit")]
    TooLarge(usize),
    #[error("status payload must be 'online' or 'offline'")]
    Status,
    #[error("malformed {0} payload: {1}")]
    Picture(&'static str, &'static str),
    #[error("malformed {kind} payload: {source}")]
    Json {
        kind: &'static str,
        source: serde_json::Error,
    },
}

/// A payload as JSON bytes.
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    // Our payload types hold only strings, numbers, maps with string keys and times:
    // serialising them cannot fail.
    serde_json::to_vec(msg).unwrap_or_else(|e| unreachable!("payload serialisation failed: {e}"))
}

/// Reads a JSON payload of type `T`.
pub fn decode<T: DeserializeOwned>(kind: Kind, payload: &[u8]) -> Result<T, DecodeError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(DecodeError::TooLarge(payload.len()));
    }
    serde_json::from_slice(payload).map_err(|source| DecodeError::Json {
        kind: kind.as_str(),
        source,
    })
}

/// Any message of the contract.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Status(Status),
    State(Box<BayState>),
    Event(Event),
    Cmd(Command),
    Ack(Box<Ack>),
    Stored(Stored),
    Snapshot(Box<Snapshot>),
    Evidence(Box<Evidence>),
}

impl Message {
    /// Reads a payload received on a topic of `kind`.
    pub fn decode(kind: Kind, payload: &[u8]) -> Result<Self, DecodeError> {
        Ok(match kind {
            Kind::Status => {
                if payload.len() > MAX_PAYLOAD {
                    return Err(DecodeError::TooLarge(payload.len()));
                }
                Message::Status(Status::parse(payload).ok_or(DecodeError::Status)?)
            }
            Kind::State => Message::State(Box::new(decode(kind, payload)?)),
            Kind::Event => Message::Event(decode(kind, payload)?),
            Kind::Cmd => Message::Cmd(decode(kind, payload)?),
            Kind::Ack => Message::Ack(Box::new(decode(kind, payload)?)),
            Kind::Stored => Message::Stored(decode(kind, payload)?),
            Kind::Snapshot => Message::Snapshot(Box::new(Snapshot::decode(payload)?)),
            Kind::Evidence => Message::Evidence(Box::new(Evidence::decode(payload)?)),
        })
    }

    pub fn kind(&self) -> Kind {
        match self {
            Message::Status(_) => Kind::Status,
            Message::State(_) => Kind::State,
            Message::Event(_) => Kind::Event,
            Message::Cmd(_) => Kind::Cmd,
            Message::Ack(_) => Kind::Ack,
            Message::Stored(_) => Kind::Stored,
            Message::Snapshot(_) => Kind::Snapshot,
            Message::Evidence(_) => Kind::Evidence,
        }
    }

    /// The payload bytes of this message.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Message::Status(s) => s.as_str().as_bytes().to_vec(),
            Message::State(m) => encode(m),
            Message::Event(m) => encode(m),
            Message::Cmd(m) => encode(m),
            Message::Ack(m) => encode(m),
            Message::Stored(m) => encode(m),
            Message::Snapshot(m) => m.encode(),
            Message::Evidence(m) => m.encode(),
        }
    }
}

/// A message received from the broker, with the topic it came on.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    pub topic: Topic,
    pub message: Message,
}

impl Incoming {
    /// Reads a topic name and payload as they come from the broker.
    pub fn parse(topic: &str, payload: &[u8]) -> Result<Self, DecodeError> {
        let topic = Topic::parse(topic)?;
        let message = Message::decode(topic.kind, payload)?;
        Ok(Self { topic, message })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;

    use super::*;
    use crate::*;

    fn t(secs: i64) -> chrono::DateTime<Utc> {
        Utc.timestamp_opt(1_780_000_000 + secs, 0)
            .single()
            .expect("valid time")
    }

    fn plate() -> Plate {
        Plate::parse("KT 8899 TEST").expect("plate")
    }

    fn samples() -> Vec<Message> {
        let session = SessionId::new();
        let mut loading = BayState::idle(t(5));
        loading.phase = Phase::Loading;
        loading.session = Some(session);
        loading.plate = Some(plate());
        loading.count = 3;
        loading.out = 1;
        loading.seq = 5;
        loading.started_at = Some(t(0));
        loading.started_by = Some(Actor::new(ActorKind::Telegram, Some("42".into())));
        loading.health = Health {
            camera: HealthLevel::Ok,
            detector: HealthLevel::Degraded,
            fps: 9.5,
            detect_fps: Some(4.5),
            journal_backlog: 2,
            detail: Some("slow model".into()),
            lamps: Some(crate::Lamps {
                green: crate::LampMode::On,
                amber: crate::LampMode::Off,
                red: crate::LampMode::Blink,
            }),
        };
        let by = Actor::new(ActorKind::Api, None);
        vec![
            Message::Status(Status::Online),
            Message::Status(Status::Offline),
            Message::State(Box::new(BayState::idle(t(0)))),
            Message::State(Box::new(loading.clone())),
            Message::Event(Event {
                session,
                seq: 1,
                at: t(0),
                count: 0,
                out: 0,
                kind: EventKind::Started {
                    plate: plate(),
                    by: by.clone(),
                },
            }),
            Message::Event(Event {
                session,
                seq: 2,
                at: t(1),
                count: 1,
                out: 0,
                kind: EventKind::Counted {
                    direction: Direction::In,
                    track: 17,
                },
            }),
            Message::Event(Event {
                session,
                seq: 9,
                at: t(9),
                count: 3,
                out: 1,
                kind: EventKind::Stopped {
                    by: Actor::new(ActorKind::Button, None),
                },
            }),
            Message::Cmd(Command {
                id: CommandId::new(),
                expires_at: t(5),
                by: by.clone(),
                action: Action::Start {
                    session,
                    plate: plate(),
                },
            }),
            Message::Cmd(Command {
                id: CommandId::new(),
                expires_at: t(5),
                by: by.clone(),
                action: Action::Stop { session: None },
            }),
            Message::Cmd(Command {
                id: CommandId::new(),
                expires_at: t(5),
                by: by.clone(),
                action: Action::Assign {
                    plate: Some(plate()),
                },
            }),
            Message::Cmd(Command {
                id: CommandId::new(),
                expires_at: t(5),
                by,
                action: Action::Snapshot { picture: true },
            }),
            Message::Ack(Box::new(Ack {
                id: CommandId::new(),
                ok: true,
                reason: None,
                state: loading,
                session: Some(SessionSummary {
                    id: session,
                    plate: plate(),
                    count: 3,
                    out: 1,
                    started_at: t(0),
                    stopped_at: Some(t(9)),
                }),
            })),
            Message::Ack(Box::new(Ack {
                id: CommandId::new(),
                ok: false,
                reason: Some("already loading".into()),
                state: BayState::idle(t(0)),
                session: None,
            })),
            Message::Stored(Stored {
                sessions: [(session, 7)].into(),
                at: Some(t(3)),
                evidence: Default::default(),
            }),
            Message::Snapshot(Box::new(Snapshot {
                header: SnapshotHeader {
                    command: CommandId::new(),
                    at: t(4),
                    width: 64,
                    height: 48,
                    region: None,
                },
                jpeg: vec![0xFF, 0xD8, 0xFF, 0xDB, 0, 0x43, 0xFF, 0xD9],
            })),
            Message::Evidence(Box::new(Evidence {
                header: EvidenceHeader {
                    session,
                    seq: 2,
                    kind: EvidenceKind::Crossing,
                    at: t(2),
                    direction: Some(Direction::In),
                    track: Some(4),
                    dropped: false,
                },
                jpeg: vec![0xFF, 0xD8, 0xFF, 0xDB, 0, 0x43, 0xFF, 0xD9],
            })),
        ]
    }

    /// Generated inputs per fuzz target: `BAYCOUNT_FUZZ_CASES` (the test command runs 20,000;
    /// README gives the 10-million run).
    fn fuzz_cases() -> u32 {
        std::env::var("BAYCOUNT_FUZZ_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20_000)
    }

    /// Runs `check` on `cases` inputs from `strategy` and reports how many ran.
    fn fuzz<S: Strategy>(name: &str, strategy: S, check: impl Fn(S::Value)) {
        use proptest::test_runner::{Config, TestRunner};
        let cases = fuzz_cases();
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            max_shrink_iters: 2_000,
            ..Config::default()
        });
        let started = std::time::Instant::now();
        let result = runner.run(&strategy, |v| {
            check(v);
            Ok(())
        });
        eprintln!(
            "fuzz {name}: {cases} inputs in {:.1} s without a panic",
            started.elapsed().as_secs_f64()
        );
        if let Err(e) = result {
            panic!("fuzz {name}: {e}");
        }
    }

    /// A payload an attacker or a broken client could send: a valid message of any kind with
    /// bytes flipped, cut, inserted or spliced from another message, or plain noise.
    fn hostile_payload() -> impl Strategy<Value = (usize, Vec<u8>)> {
        let encoded: Vec<(usize, Vec<u8>)> = samples()
            .iter()
            .map(|m| {
                (
                    Kind::ALL.iter().position(|k| *k == m.kind()).unwrap_or(0),
                    m.encode(),
                )
            })
            .collect();
        let n = encoded.len();
        prop_oneof![
            (
                0..n,
                proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)
            )
                .prop_map({
                    let encoded = encoded.clone();
                    move |(i, edits)| {
                        let (k, mut p) = encoded[i].clone();
                        for (at, b) in edits {
                            let j = at.index(p.len());
                            p[j] = b;
                        }
                        (k, p)
                    }
                }),
            (
                0..n,
                any::<prop::sample::Index>(),
                any::<prop::sample::Index>(),
                0..n
            )
                .prop_map({
                    let encoded = encoded.clone();
                    move |(i, cut, from, j)| {
                        let (k, p) = &encoded[i];
                        let other = &encoded[j].1;
                        let mut spliced = p[..cut.index(p.len())].to_vec();
                        spliced.extend_from_slice(&other[from.index(other.len())..]);
                        (*k, spliced)
                    }
                }),
            (
                0..n,
                proptest::collection::vec(any::<u8>(), 0..16),
                any::<prop::sample::Index>()
            )
                .prop_map({
                    let encoded = encoded.clone();
                    move |(i, junk, at)| {
                        let (k, mut p) = encoded[i].clone();
                        let j = at.index(p.len() + 1);
                        p.splice(j..j, junk);
                        (k, p)
                    }
                }),
            (0..6usize, proptest::collection::vec(any::<u8>(), 0..256)),
            (0..6usize, "[\\[\\]{}\":,0-9a-z\\-. ]{0,200}").prop_map(|(k, s)| (k, s.into_bytes())),
        ]
    }

    #[test]
    fn fuzz_the_protocol_decoders() {
        fuzz(
            "Incoming::parse",
            (hostile_payload(), "[a-z0-9_/+#-]{0,6}"),
            |((kind, payload), bay)| {
                let bay = if bay.is_empty() {
                    "bay-1".to_owned()
                } else {
                    bay
                };
                let topic = format!("baycount/v1/{bay}/{}", Kind::ALL[kind].as_str());
                if let Ok(got) = Incoming::parse(&topic, &payload) {
                    // Whatever is accepted means exactly what it says: it survives a round trip.
                    let again = Message::decode(got.topic.kind, &got.message.encode())
                        .expect("an accepted message re-encodes into one that decodes");
                    assert_eq!(again, got.message);
                }
            },
        );
    }

    #[test]
    fn fuzz_the_plate_and_id_parsers() {
        fuzz(
            "Plate/BayId/Topic::parse",
            "\\PC{0,40}|[A-Za-z0-9 ;'\"%_-]{0,20}",
            |text| {
                if let Ok(p) = Plate::parse(&text) {
                    // An accepted plate is its own normal form.
                    assert_eq!(Plate::parse(p.as_str()).expect("normal form parses"), p);
                }
                if let Ok(b) = BayId::parse(&text) {
                    assert_eq!(BayId::parse(b.as_str()).expect("round trip"), b);
                }
                let _ = Topic::parse(&text);
            },
        );
    }

    #[test]
    fn every_message_round_trips_through_its_topic() {
        let bay = BayId::parse("bay-1").expect("bay");
        for msg in samples() {
            let topic = Topic::new(bay.clone(), msg.kind()).to_string();
            let got = Incoming::parse(&topic, &msg.encode()).expect("decodes");
            assert_eq!(got.topic.bay, bay);
            assert_eq!(got.message, msg);
        }
    }

    #[test]
    fn wire_format_is_the_documented_one() {
        let json: serde_json::Value = serde_json::from_slice(&samples()[4].encode()).expect("json");
        assert_eq!(json["type"], "started");
        assert_eq!(json["seq"], 1);
        assert_eq!(json["plate"], "KT 8899 TEST");
        assert_eq!(json["by"], "api");
        let json: serde_json::Value = serde_json::from_slice(&samples()[7].encode()).expect("json");
        assert_eq!(json["type"], "start");
        assert!(json["expires_at"].as_str().expect("time").ends_with('Z'));
        assert_eq!(Message::Status(Status::Offline).encode(), b"offline");
    }

    #[test]
    fn malformed_payloads_are_errors() {
        let cases: [(&str, &[u8]); 8] = [
            ("baycount/v1/b/status", b"maybe"),
            ("baycount/v1/b/state", b"{"),
            (
                "baycount/v1/b/state",
                b"{\"phase\":\"flying\",\"at\":\"2026-01-01T00:00:00Z\"}",
            ),
            ("baycount/v1/b/event", b"{\"session\":\"nope\"}"),
            ("baycount/v1/b/event", b"\xff\xfe"),
            ("baycount/v1/b/cmd", b"{\"type\":\"explode\"}"),
            ("baycount/v1/b/ack", b"null"),
            ("baycount/v1/b/x", b"{}"),
        ];
        for (topic, payload) in cases {
            assert!(
                Incoming::parse(topic, payload).is_err(),
                "{topic} {payload:?}"
            );
        }
        let big = vec![b' '; MAX_PAYLOAD + 1];
        assert!(matches!(
            Incoming::parse("baycount/v1/b/state", &big),
            Err(DecodeError::TooLarge(_))
        ));
    }

    #[test]
    fn started_event_with_invalid_plate_is_rejected() {
        let payload = br#"{"session":"01964a4e-0000-7000-8000-000000000000","seq":1,"at":"2026-01-01T00:00:00Z","count":0,"out":0,"type":"started","plate":"\u0000","by":"api"}"#;
        assert!(Incoming::parse("baycount/v1/b/event", payload).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn random_bytes_never_panic(kind in 0usize..6, payload in proptest::collection::vec(any::<u8>(), 0..512)) {
            let topic = format!("baycount/v1/bay/{}", Kind::ALL[kind].as_str());
            let _ = Incoming::parse(&topic, &payload);
        }

        #[test]
        fn random_topics_never_panic(topic in "\\PC{0,64}") {
            let _ = Incoming::parse(&topic, b"online");
        }

        #[test]
        fn mutated_valid_payloads_never_panic(idx in 0usize..14, pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let msg = &samples()[idx];
            let mut payload = msg.encode();
            let i = pos.index(payload.len());
            payload[i] = byte;
            let topic = format!("baycount/v1/bay/{}", msg.kind().as_str());
            let _ = Incoming::parse(&topic, &payload);
        }
    }
}
