//! The history is what happened: a bay cannot rewrite a session (its plate, actors, count or
//! times), acks count only from the bay a command went to, and `baycount-relay verify` finds a
//! row edited behind the relay's back.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command as Process;
use std::time::Duration;

use baycount_protocol::*;
use baycount_testkit::*;
use chrono::Utc;
use rumqttc::{AsyncClient, Event as MqttEvent, MqttOptions, Packet, QoS};
use serde_json::{Value, json};

/// A relay process with an embedded broker that knows bay-1 and bay-2 by password.
async fn relay_with_bays(dir: &Path) -> RelayProcess {
    let passwd = bays::password_file(dir, &bays::TWO_BAYS);
    let config = dir.join("relay.toml");
    std::fs::write(
        &config,
        format!(
            "[broker]\npassword_file = {:?}\n",
            passwd.display().to_string()
        ),
    )
    .unwrap();
    RelayProcess::start(
        &dir.join("history.db"),
        &["--config".to_owned(), config.display().to_string()],
    )
    .await
}

fn forged(session: SessionId, seq: u64, kind: EventKind) -> Vec<u8> {
    encode(&Event {
        session,
        seq,
        at: Utc::now() + chrono::Duration::hours(1),
        count: 40,
        out: 0,
        kind,
    })
}

fn fake_start() -> EventKind {
    EventKind::Started {
        plate: Plate::parse("FAKE 1").unwrap(),
        by: "telegram:666".parse().unwrap(),
    }
}

fn counted() -> EventKind {
    EventKind::Counted {
        direction: Direction::In,
        track: 9,
    }
}

/// What a stored session says about itself, without the parts that may legitimately differ.
fn facts(detail: &Value) -> Value {
    json!({
        "plate": detail["plate"], "count": detail["count"], "out": detail["out"],
        "started_at": detail["started_at"], "started_by": detail["started_by"],
        "stopped_at": detail["stopped_at"], "stopped_by": detail["stopped_by"],
        "events": detail["events"], "digest": detail["digest"],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bay_cannot_rewrite_its_finished_history() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay_with_bays(dir.path()).await;
    let api = relay.api();
    let mut edge = ScriptedEdge::connect_with(
        relay.mqtt_port(),
        "bay-1",
        Mode::Respond,
        bays::login_as("bay-1"),
    )
    .await;
    let other = ScriptedEdge::connect_with(
        relay.mqtt_port(),
        "bay-2",
        Mode::Respond,
        bays::login_as("bay-2"),
    )
    .await;
    api.wait_bay("bay-1", "online", |b| b["online"] == true)
        .await;
    let (status, body) = api
        .post("/api/bays/bay-1/start", json!({"plate": "B 1234 XYZ"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let session: SessionId = body["session"]["id"].as_str().unwrap().parse().unwrap();
    edge.count(Direction::In).await;
    edge.count(Direction::In).await;
    let (status, body) = api.post("/api/bays/bay-1/stop", json!({})).await;
    assert_eq!(status, 200, "{body}");
    edge.wait_stored(session, 4).await;
    let (_, before) = api.get(&format!("/api/sessions/{session}")).await;
    assert_eq!(before["plate"], "B 1234 XYZ");
    assert_eq!(before["started_by"], "api");
    assert_eq!(before["count"], 2);
    assert!(
        before["digest"].is_string(),
        "sealed when stopped: {before}"
    );

    // With bay-1's own credentials: a second start, counts and a stop after the stop, and a
    // stop by someone else an hour later; a changed start at seq 1 (already stored).
    edge.publish_raw(Kind::Event, &forged(session, 5, fake_start()));
    edge.publish_raw(Kind::Event, &forged(session, 6, counted()));
    edge.publish_raw(Kind::Event, &forged(session, 7, counted()));
    edge.publish_raw(
        Kind::Event,
        &forged(
            session,
            8,
            EventKind::Stopped {
                by: "telegram:666".parse().unwrap(),
            },
        ),
    );
    edge.publish_raw(Kind::Event, &forged(session, 1, fake_start()));
    edge.publish_raw(Kind::Event, &forged(session, 2, fake_start()));
    // bay-2 cannot touch bay-1's session at all.
    other.publish_raw(Kind::Event, &forged(session, 9, counted()));

    let refused = |reason: &str| format!("baycount_events_refused_total{{reason=\"{reason}\"}} ");
    eventually(15, "every forgery refused and counted", || async {
        let after = api.metric(&refused("after_stop")).await;
        let start = api.metric(&refused("start_not_first")).await;
        let bay = api.metric(&refused("wrong_bay")).await;
        (after == 3.0 && start == 2.0 && bay == 1.0).then_some(())
    })
    .await;
    let (_, after) = api.get(&format!("/api/sessions/{session}")).await;
    assert_eq!(facts(&after), facts(&before), "the stored session changed");
    let (_, list) = api.get("/api/sessions").await;
    assert_eq!(list["sessions"][0]["plate"], "B 1234 XYZ");
    assert_eq!(list["sessions"][0]["count"], 2);
    let log = relay.log();
    for seq in [5, 6, 7, 8, 2] {
        assert!(
            log.contains(&format!(
                "refused event {seq} of session {session} from bay bay-1"
            )),
            "event {seq} not in the log: {log}"
        );
    }
    assert!(log.contains(&format!(
        "refused event 9 of session {session} from bay bay-2: the session belongs to bay bay-1"
    )));
    drop(other);
}

/// A raw client of `bay` that sees its own commands (as an edge does).
async fn bay_client(port: u16, bay: &'static str) -> (AsyncClient, rumqttc::EventLoop) {
    let mut opts = MqttOptions::new(unique_client_id("liar"), "127.0.0.1", port);
    bays::login_as(bay)(&mut opts);
    subscribed(opts, bay).await
}

/// A client that has subscribed to `bay`'s commands and seen the broker's SUBACK, so nothing
/// published after this returns can pass it by.
async fn subscribed(mut opts: MqttOptions, bay: &str) -> (AsyncClient, rumqttc::EventLoop) {
    opts.set_keep_alive(Duration::from_secs(5));
    let (client, mut events) = AsyncClient::new(opts, 100);
    client
        .subscribe(format!("baycount/v1/{bay}/cmd"), QoS::AtLeastOnce)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let MqttEvent::Incoming(Packet::SubAck(_)) = events.poll().await.unwrap() {
                break;
            }
        }
    })
    .await
    .expect("subscribed within 10 s");
    (client, events)
}

/// The next command published to the client's bay, within 10 s in all (keep-alive pings must
/// not stretch the wait).
async fn next_command(events: &mut rumqttc::EventLoop) -> Command {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let MqttEvent::Incoming(Packet::Publish(p)) = events.poll().await.unwrap()
                && p.topic.ends_with("/cmd")
            {
                return serde_json::from_slice(&p.payload).unwrap();
            }
        }
    })
    .await
    .expect("a command within 10 s")
}

fn ack(id: CommandId, session: SessionSummary) -> Vec<u8> {
    let mut state = BayState::idle(Utc::now());
    state.phase = Phase::Loading;
    state.session = Some(session.id);
    state.plate = Some(session.plate.clone());
    encode(&Ack {
        id,
        ok: true,
        reason: None,
        state,
        session: Some(session),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_started_by_the_relay_keeps_the_relays_plate_actor_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay_with_bays(dir.path()).await;
    let api = relay.api();
    let port = relay.mqtt_port();
    let (liar, mut commands) = bay_client(port, "bay-1").await;
    let edge =
        ScriptedEdge::connect_with(port, "bay-1", Mode::Silent, bays::login_as("bay-1")).await;
    api.wait_bay("bay-1", "online", |b| b["online"] == true)
        .await;

    let asked = Utc::now();
    let start = tokio::spawn({
        let api = relay.api();
        async move {
            api.post("/api/bays/bay-1/start", json!({"plate": "B 1234 XYZ"}))
                .await
        }
    });
    let cmd = next_command(&mut commands).await;
    let Action::Start { session, .. } = cmd.action else {
        panic!("not a start: {cmd:?}")
    };
    // The bay says someone else started it for another truck, a day before it was asked to.
    let a_day_ago = Utc::now() - chrono::Duration::days(1);
    let lie = Event {
        session,
        seq: 1,
        at: a_day_ago,
        count: 0,
        out: 0,
        kind: fake_start(),
    };
    let summary = SessionSummary {
        id: session,
        plate: Plate::parse("FAKE 1").unwrap(),
        count: 0,
        out: 0,
        started_at: a_day_ago,
        stopped_at: None,
    };
    let topic = |kind| Topic::new(BayId::parse("bay-1").unwrap(), kind).to_string();
    liar.publish(topic(Kind::Event), QoS::AtLeastOnce, false, encode(&lie))
        .await
        .unwrap();
    liar.publish(
        topic(Kind::Ack),
        QoS::AtLeastOnce,
        false,
        ack(cmd.id, summary),
    )
    .await
    .unwrap();
    tokio::spawn(async move { while commands.poll().await.is_ok() {} });
    let (status, body) = start.await.unwrap();
    assert_eq!(status, 200, "{body}");

    let detail = eventually(10, "the start stored", || async {
        let (_, d) = api.get(&format!("/api/sessions/{session}")).await;
        d["started_at"].is_string().then_some(d)
    })
    .await;
    assert_eq!(detail["plate"], "B 1234 XYZ", "the relay's plate: {detail}");
    assert_eq!(detail["started_by"], "api", "{detail}");
    let started: chrono::DateTime<Utc> = detail["started_at"].as_str().unwrap().parse().unwrap();
    assert!(
        started >= asked - chrono::Duration::seconds(1),
        "not before the relay asked: {started} < {asked}"
    );
    let (_, plates) = api.get("/api/plates").await;
    assert_eq!(plates["plates"][0]["plate"], "B 1234 XYZ");
    assert!(
        relay
            .log()
            .contains("the relay's command said B 1234 XYZ by api")
    );
    drop(edge);
}

#[tokio::test]
async fn an_ack_counts_only_from_the_bay_the_command_went_to() {
    // No passwords: any client may read bay-1's commands, as an attacker who could would.
    let relay = TestRelay::start_with(Which::Embedded, |c| {
        c.ack_timeout = Duration::from_secs(2);
    })
    .await;
    let api = &relay.api;
    let _silent = ScriptedEdge::connect(relay.mqtt_port, "bay-1", Mode::Silent).await;
    let _other = ScriptedEdge::connect(relay.mqtt_port, "bay-2", Mode::Respond).await;
    api.wait_bay("bay-1", "online", |b| b["online"] == true)
        .await;
    api.wait_bay("bay-2", "online", |b| b["online"] == true)
        .await;
    let opts = MqttOptions::new(unique_client_id("spy"), "127.0.0.1", relay.mqtt_port);
    let (spy, mut events) = subscribed(opts, "bay-1").await;

    let start = tokio::spawn({
        let api = Api::new(api.http);
        async move {
            api.post("/api/bays/bay-1/start", json!({"plate": "B 1234 XYZ"}))
                .await
        }
    });
    let cmd = next_command(&mut events).await;
    let summary = SessionSummary {
        id: SessionId::new(),
        plate: Plate::parse("FAKE 2").unwrap(),
        count: 99,
        out: 0,
        started_at: Utc::now(),
        stopped_at: None,
    };
    spy.publish(
        "baycount/v1/bay-2/ack",
        QoS::AtLeastOnce,
        false,
        ack(cmd.id, summary),
    )
    .await
    .unwrap();
    tokio::spawn(async move { while events.poll().await.is_ok() {} });
    let (status, body) = start.await.unwrap();
    assert_eq!(status, 504, "bay-1 never answered: {body}");
    assert_eq!(body["code"], "bay_not_responding");
    assert_eq!(api.metric("baycount_acks_refused_total ").await, 1.0);
    let bay = api.bay("bay-1").await.unwrap();
    assert_eq!(bay["phase"], "idle", "{bay}");
}

/// Runs `baycount-relay verify --db db`: whether it passed, and what it printed.
fn verify(db: &Path) -> (bool, String) {
    let log = db.with_extension(format!("{}.log", unique_client_id("verify")));
    let mut cmd = Process::new(relay_binary());
    cmd.args(["verify", "--db"]).arg(db);
    let mut p = Proc::spawn("verify", cmd, &log);
    let status = p.wait_exit(60).expect("verify finishes");
    (status.success(), p.log())
}

fn sqlite(db: &Path, sql: &str) {
    let out = Process::new("sqlite3").arg(db).arg(sql).output().unwrap();
    assert!(
        out.status.success(),
        "sqlite3 {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `verify` on a copy of `db` named `name`, after `sql` ran on the copy.
fn verify_tampered(db: &Path, name: &str, sql: &str) -> (bool, String) {
    let copy = db.with_file_name(name);
    std::fs::copy(db, &copy).unwrap();
    sqlite(&copy, sql);
    verify(&copy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_the_first_session_edited_behind_the_relays_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut relay = relay_with_bays(dir.path()).await;
    let api = relay.api();
    let mut edge = ScriptedEdge::connect_with(
        relay.mqtt_port(),
        "bay-1",
        Mode::Respond,
        bays::login_as("bay-1"),
    )
    .await;
    api.wait_bay("bay-1", "online", |b| b["online"] == true)
        .await;
    let mut sessions = vec![];
    for (plate, n) in [("B 1 A", 2), ("B 2 A", 3), ("B 3 A", 1)] {
        let (status, body) = api
            .post("/api/bays/bay-1/start", json!({"plate": plate}))
            .await;
        assert_eq!(status, 200, "{body}");
        let session: SessionId = body["session"]["id"].as_str().unwrap().parse().unwrap();
        for _ in 0..n {
            edge.count(Direction::In).await;
        }
        let (status, body) = api.post("/api/bays/bay-1/stop", json!({})).await;
        assert_eq!(status, 200, "{body}");
        edge.wait_stored(session, n + 2).await;
        sessions.push(session);
    }
    // A correction to a sealed session is a link of its own.
    let (status, body) = api
        .post(
            &format!("/api/sessions/{}/corrections", sessions[1]),
            json!({"delta": -1, "reason": "counted twice"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, detail) = api.get(&format!("/api/sessions/{}", sessions[1])).await;
    assert_eq!(detail["chain"]["link"], 4, "{detail}");
    assert_eq!(detail["chain"]["corrections"], 1);
    assert_eq!(detail["digest"], detail["chain"]["sha256"]);
    let (_, first) = api.get(&format!("/api/sessions/{}", sessions[0])).await;
    assert_eq!(first["chain"]["link"], 1);
    assert_eq!(
        first["chain"]["prev"],
        "0000000000000000000000000000000000000000000000000000000000000000"
    );
    // The CSV carries each session's digest and its bay's chain head, to check a printout by.
    let (_, csv) = api.text("/api/sessions.csv").await;
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let head = rows[0][column("chain_head")].to_owned();
    assert!(head.starts_with("4:"), "{csv}");
    assert!(
        rows.iter().all(|r| r[column("chain_head")] == head),
        "{csv}"
    );
    let row = |s: SessionId| {
        rows.iter()
            .find(|r| r[column("id")] == s.to_string())
            .unwrap()
    };
    assert_eq!(row(sessions[1])[column("digest")], detail["digest"]);
    assert_eq!(
        format!("4:{}", row(sessions[1])[column("digest")]),
        head,
        "the corrected session's new link is the head"
    );
    drop(edge);
    relay.kill();
    let db = dir.path().join("history.db");
    sqlite(&db, "PRAGMA wal_checkpoint(TRUNCATE);");

    let (ok, out) = verify(&db);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("bay-1: 4 sealed links match; head {head}")),
        "{out}"
    );

    // The triggers stop a careless edit; someone determined drops them first.
    let refused = Process::new("sqlite3")
        .arg(&db)
        .arg("UPDATE sessions SET plate = 'FAKE 1';")
        .output()
        .unwrap();
    assert!(!refused.status.success(), "the trigger let it through");
    let (ok, out) = verify_tampered(
        &db,
        "plate.db",
        &format!(
            "DROP TRIGGER session_facts_are_final; UPDATE sessions SET plate = 'FAKE 1' WHERE id = '{}';",
            sessions[1]
        ),
    );
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!("bay bay-1, session {}", sessions[1])),
        "names the edited session: {out}"
    );

    let (ok, out) = verify_tampered(
        &db,
        "count.db",
        &format!(
            "DROP TRIGGER events_are_immutable; UPDATE events SET direction = 'out' WHERE session = '{}' AND seq = 2;",
            sessions[2]
        ),
    );
    assert!(!ok, "{out}");
    assert!(out.contains(&format!("session {}", sessions[2])), "{out}");

    let (ok, out) = verify_tampered(
        &db,
        "correction.db",
        "DROP TRIGGER corrections_are_kept; DELETE FROM corrections;",
    );
    assert!(!ok, "{out}");
    assert!(out.contains(&format!("session {}", sessions[1])), "{out}");

    // A correction made to point at a picture after it was sealed.
    let (ok, out) = verify_tampered(
        &db,
        "evidence.db",
        "DROP TRIGGER corrections_are_immutable; UPDATE corrections SET evidence_seq = 2;",
    );
    assert!(!ok, "{out}");
    assert!(out.contains(&format!("session {}", sessions[1])), "{out}");

    let (ok, out) = verify_tampered(
        &db,
        "unlinked.db",
        "DROP TRIGGER chain_is_kept; DELETE FROM chain WHERE n >= 3;",
    );
    assert!(!ok, "{out}");
    assert!(out.contains("finished but in no link"), "{out}");

    let (ok, out) = verify(&dir.path().join("no-such.db"));
    assert!(!ok);
    assert!(out.contains("is not a file"), "{out}");
}
