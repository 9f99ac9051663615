//! The Telegram bot end to end: the real relay (embedded broker, SQLite) with teloxide pointed
//! at a fake Bot API server, and scripted edges playing the bays over MQTT.

#![allow(clippy::unwrap_used)]

mod fake_telegram;

use std::time::{Duration, Instant};

use baycount_protocol::{Direction, Event, EventKind, Kind};
use baycount_relay::bot::BotConfig;
use baycount_testkit::{Mode, ScriptedEdge, TestRelay, Which, eventually, evidence_of};
use fake_telegram::{FakeTelegram, Sent, TOKEN};
use reqwest::StatusCode;
use serde_json::json;

const OPERATOR: u64 = 42;
const STRANGER: u64 = 7;

async fn relay_with_bot(fake: &FakeTelegram) -> TestRelay {
    let url = fake.url.parse().unwrap();
    TestRelay::start_with(Which::Embedded, |c| {
        c.telegram = Some(BotConfig {
            token: TOKEN.into(),
            api_url: Some(url),
            allow: vec![OPERATOR],
            time_zone: "Asia/Makassar".parse().unwrap(),
        });
    })
    .await
}

/// The operator's chat: the newest message that `f` accepts.
async fn wait(fake: &FakeTelegram, what: &str, f: impl Fn(&Sent) -> bool) -> Sent {
    fake.wait_message(OPERATOR as i64, 10, what, f).await
}

/// Presses `label` under `m` and checks the press is answered.
async fn press(fake: &FakeTelegram, m: &Sent, label: &str) -> serde_json::Value {
    let data = m
        .data(label)
        .unwrap_or_else(|| panic!("no {label:?} button on {m:#?}"));
    let id = fake.press(OPERATOR, m, &data);
    fake.wait_answer(&id).await
}

/// The plate menu, through `/start`.
async fn plate_menu(fake: &FakeTelegram) -> Sent {
    fake.type_text(OPERATOR, "/start");
    wait(fake, "plate menu", |m| {
        m.buttons().contains(&"➕ New plate".to_owned())
    })
    .await
}

/// A control message for `plate`, through the plate menu's "New plate".
async fn control_for(fake: &FakeTelegram, plate: &str) -> Sent {
    let menu = plate_menu(fake).await;
    press(fake, &menu, "➕ New plate").await;
    wait(fake, "asked for the plate", |m| {
        m.id == menu.id && m.text.contains("type the truck's plate")
    })
    .await;
    fake.type_text(OPERATOR, plate);
    wait(fake, "control message", |m| {
        m.id > menu.id && m.buttons().contains(&"▶️ START LOADING".to_owned())
    })
    .await
}

/// Starts loading from the control message `control`, counts `n` in and stops from Telegram:
/// the summary (the control message, edited) and the stop event the bay sent.
async fn load_and_stop(
    fake: &FakeTelegram,
    edge: &ScriptedEdge,
    control: &Sent,
    n: u64,
) -> (Sent, Event) {
    press(fake, control, "▶️ START LOADING").await;
    let started = wait(fake, "started", |m| {
        m.id == control.id && m.text.starts_with("🚀 Started at")
    })
    .await;
    for _ in 0..n {
        edge.count(Direction::In).await;
    }
    press(fake, &started, "⏹️ STOP LOADING").await;
    let summary = wait(fake, "stopped", |m| {
        m.id == control.id && m.text.starts_with("🛑 Stopped at")
    })
    .await;
    let stop = edge.events().last().cloned().unwrap();
    assert!(matches!(stop.kind, EventKind::Stopped { .. }), "{stop:?}");
    (summary, stop)
}

/// The plate menu that follows a summary, back on the control screen for its first plate.
async fn next_control(fake: &FakeTelegram, summary: &Sent, plate: &str) -> Sent {
    let menu = wait(fake, "menu after the summary", |m| {
        m.id > summary.id && m.buttons().contains(&plate.to_owned())
    })
    .await;
    press(fake, &menu, plate).await;
    wait(fake, "control message", |m| {
        m.id == menu.id && m.buttons().contains(&"▶️ START LOADING".to_owned())
    })
    .await
}

#[tokio::test]
async fn start_count_and_stop_from_telegram() {
    let fake = FakeTelegram::start().await;
    let relay = relay_with_bot(&fake).await;
    let edge = relay.scripted_edge("bay-1", Mode::Respond).await;

    let control = control_for(&fake, "kt  8899 test").await;
    assert!(
        control.text.contains("Plate: KT 8899 TEST"),
        "{}",
        control.text
    );
    assert!(control.text.contains("State: idle"), "{}", control.text);

    let answer = press(&fake, &control, "▶️ START LOADING").await;
    assert_eq!(answer["text"], "Starting…");
    let started = wait(&fake, "started", |m| {
        m.id == control.id && m.text.starts_with("🚀 Started at")
    })
    .await;
    assert_eq!(started.buttons(), vec!["⏹️ STOP LOADING"]);
    // The time is the site's (Asia/Makassar, UTC+8), as the bay's state has it.
    let bay = relay.bay("bay-1").await.unwrap();
    let at: chrono::DateTime<chrono::Utc> = bay["started_at"].as_str().unwrap().parse().unwrap();
    let tz: chrono_tz::Tz = "Asia/Makassar".parse().unwrap();
    let clock = at.with_timezone(&tz).format("%H:%M:%S").to_string();
    assert!(started.text.contains(&clock), "{} vs {clock}", started.text);
    assert_eq!(bay["started_by"], format!("telegram:{OPERATOR}"));

    // Counts: the message follows within 2 s, at most about one edit a second.
    let edits_before = fake.calls("editMessageText").len();
    let t = Instant::now();
    for _ in 0..6 {
        edge.count(Direction::In).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    wait(&fake, "count 6", |m| {
        m.id == control.id && m.text.contains("Count: 6")
    })
    .await;
    let latency = t.elapsed();
    let edits: Vec<Instant> = fake.calls("editMessageText")[edits_before..]
        .iter()
        .map(|c| c.at)
        .collect();
    for pair in edits.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(900),
            "two edits {:?} apart",
            pair[1] - pair[0]
        );
    }
    eprintln!(
        "telegram: 6 counts over 0.9 s shown in {} edits, the last {latency:?} after the first count",
        edits.len()
    );

    press(&fake, &started, "⏹️ STOP LOADING").await;
    let stopped = wait(&fake, "stopped", |m| {
        m.id == control.id && m.text.starts_with("🛑 Stopped at")
    })
    .await;
    assert!(stopped.text.contains("Total: 6"), "{}", stopped.text);
    assert!(stopped.text.contains("Duration:"), "{}", stopped.text);
    assert!(stopped.buttons().is_empty());
    // The plate menu comes back, with the plate among the recent ones.
    let menu = wait(&fake, "menu again", |m| m.id > control.id).await;
    assert!(
        menu.buttons().contains(&"KT 8899 TEST".to_owned()),
        "{menu:#?}"
    );

    let (_, list) = relay.get("/api/sessions").await;
    let s = &list["sessions"][0];
    assert_eq!(s["count"], 6);
    assert_eq!(s["started_by"], format!("telegram:{OPERATOR}"));
    assert_eq!(s["stopped_by"], format!("telegram:{OPERATOR}"));

    // /status and /history.
    fake.type_text(OPERATOR, "/status");
    wait(&fake, "status", |m| m.text.contains("bay-1: idle")).await;
    fake.type_text(OPERATOR, "/history KT 8899 TEST");
    let h = wait(&fake, "history", |m| {
        m.text.starts_with("Last sessions of KT 8899 TEST")
    })
    .await;
    assert!(h.text.contains("bay-1  KT 8899 TEST  6"), "{}", h.text);
    // Every press was answered.
    assert!(fake.calls("answerCallbackQuery").len() >= 3);
}

#[tokio::test]
async fn a_bad_plate_gets_a_clear_reply_and_the_menu_again() {
    let fake = FakeTelegram::start().await;
    let relay = relay_with_bot(&fake).await;
    let _edge = relay.scripted_edge("bay-1", Mode::Respond).await;
    let menu = plate_menu(&fake).await;
    press(&fake, &menu, "➕ New plate").await;
    wait(&fake, "asked", |m| {
        m.text.contains("type the truck's plate")
    })
    .await;
    fake.type_text(OPERATOR, "'; DROP TABLE sessions; --");
    let reply = wait(&fake, "refusal", |m| {
        m.text.starts_with("That is not a valid plate")
    })
    .await;
    let again = wait(&fake, "menu again", |m| {
        m.id > reply.id && m.buttons().contains(&"➕ New plate".to_owned())
    })
    .await;
    assert!(again.text.contains("choose the truck's plate"));
    let (_, list) = relay.get("/api/sessions").await;
    assert_eq!(
        list["sessions"].as_array().unwrap().len(),
        0,
        "nothing started"
    );
}

#[tokio::test]
async fn a_bay_that_does_not_answer_or_is_offline_is_said_so() {
    let fake = FakeTelegram::start().await;
    let relay = relay_with_bot(&fake).await;
    let edge = relay.scripted_edge("bay-1", Mode::Silent).await;
    let control = control_for(&fake, "B 1 SLOW").await;
    let t = Instant::now();
    press(&fake, &control, "▶️ START LOADING").await;
    let m = wait(&fake, "not responding", |m| {
        m.id == control.id && m.text.contains("not responding")
    })
    .await;
    eprintln!(
        "telegram: 'not responding' shown {:?} after START",
        t.elapsed()
    );
    assert!(t.elapsed() >= Duration::from_secs(5));
    assert!(
        m.text.contains("State: idle"),
        "nothing pretended: {}",
        m.text
    );
    assert!(m.buttons().contains(&"▶️ START LOADING".to_owned()));

    edge.kill();
    relay
        .wait_bay("bay-1", "offline", |b| b["online"] == false)
        .await;
    let m = wait(&fake, "offline shown", |m| {
        m.id == control.id && m.text.contains("(offline)")
    })
    .await;
    press(&fake, &m, "▶️ START LOADING").await;
    wait(&fake, "refused as offline", |m| {
        m.id == control.id && m.text.contains("is offline")
    })
    .await;
}

#[tokio::test]
async fn strangers_are_refused_politely_and_audited() {
    let fake = FakeTelegram::start().await;
    let relay = relay_with_bot(&fake).await;
    let _edge = relay.scripted_edge("bay-1", Mode::Respond).await;
    fake.type_text(STRANGER, "/start");
    let m = fake
        .wait_message(STRANGER as i64, 10, "refusal", |m| {
            m.text.starts_with("Sorry")
        })
        .await;
    assert!(m.text.contains(&STRANGER.to_string()), "{}", m.text);
    // A stranger pressing the operator's START does nothing either.
    let control = control_for(&fake, "B 2 OK").await;
    let data = control.data("▶️ START LOADING").unwrap();
    let id = fake.press(STRANGER, &control, &data);
    let answer = fake.wait_answer(&id).await;
    assert!(
        answer["text"].as_str().unwrap().starts_with("Sorry"),
        "{answer}"
    );
    let audit = eventually(10, "refusals audited", || async {
        let (_, log) = relay.get("/api/audit").await;
        let rows: Vec<_> = log["audit"]
            .as_array()?
            .iter()
            .filter(|e| e["actor"] == format!("telegram:{STRANGER}"))
            .cloned()
            .collect();
        (rows.len() >= 2).then_some(rows)
    })
    .await;
    assert!(
        audit.iter().all(|e| e["outcome"] == "rejected"),
        "{audit:?}"
    );
    assert_eq!(relay.bay("bay-1").await.unwrap()["phase"], "idle");
}

/// The allow-list holds for every command, typed plate and button, not only for starting.
#[tokio::test]
async fn a_stranger_can_use_no_command_and_no_button() {
    let fake = FakeTelegram::start().await;
    let relay = relay_with_bot(&fake).await;
    let _edge = relay.scripted_edge("bay-1", Mode::Respond).await;
    let control = control_for(&fake, "B 4 OPS").await;
    press(&fake, &control, "▶️ START LOADING").await;
    let started = wait(&fake, "started", |m| {
        m.id == control.id && m.text.starts_with("🚀")
    })
    .await;
    let typed = ["/status", "/history", "/menu", "KT 1 AB"];
    for text in typed {
        fake.type_text(STRANGER, text);
    }
    let stop = started.data("⏹️ STOP LOADING").unwrap();
    let answer = fake
        .wait_answer(&fake.press(STRANGER, &started, &stop))
        .await;
    assert!(
        answer["text"].as_str().unwrap().starts_with("Sorry"),
        "{answer}"
    );
    let refusals = eventually(10, "every stranger's attempt refused", || async {
        let sent = fake.messages(STRANGER as i64);
        (sent.iter().filter(|m| m.text.starts_with("Sorry")).count() >= typed.len()).then_some(sent)
    })
    .await;
    assert!(
        refusals.iter().all(|m| m.text.starts_with("Sorry")),
        "a stranger is told nothing else: {refusals:#?}"
    );
    eventually(10, "every attempt audited", || async {
        let (_, log) = relay.get("/api/audit").await;
        let n = log["audit"]
            .as_array()?
            .iter()
            .filter(|e| e["actor"] == format!("telegram:{STRANGER}") && e["outcome"] == "rejected")
            .count();
        (n > typed.len()).then_some(())
    })
    .await;
    assert_eq!(relay.bay("bay-1").await.unwrap()["phase"], "loading");
}

#[tokio::test]
async fn a_button_of_an_old_message_cannot_stop_a_newer_session() {
    let fake = FakeTelegram::start().await;
    let relay = relay_with_bot(&fake).await;
    let _edge = relay.scripted_edge("bay-1", Mode::Respond).await;
    let old = control_for(&fake, "B 3 OLD").await;
    press(&fake, &old, "▶️ START LOADING").await;
    let old_started = wait(&fake, "started", |m| {
        m.id == old.id && m.text.starts_with("🚀")
    })
    .await;
    // A new menu (new nonce): the old message's STOP is stale.
    fake.type_text(OPERATOR, "/menu");
    wait(&fake, "new control message", |m| {
        m.id > old.id && m.text.starts_with("🚀")
    })
    .await;
    let answer = press(&fake, &old_started, "⏹️ STOP LOADING").await;
    assert!(
        answer["text"].as_str().unwrap().contains("out of date"),
        "{answer}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(relay.bay("bay-1").await.unwrap()["phase"], "loading");
}

#[tokio::test]
async fn rate_limits_are_waited_out() {
    let fake = FakeTelegram::start().await;
    let relay = relay_with_bot(&fake).await;
    let _edge = relay.scripted_edge("bay-1", Mode::Respond).await;
    fake.rate_limit("sendMessage", 1, 1);
    let t = Instant::now();
    plate_menu(&fake).await;
    assert!(
        t.elapsed() >= Duration::from_secs(1),
        "retry_after honoured"
    );
    assert_eq!(
        fake.calls("sendMessage").len(),
        2,
        "sent again after the 429"
    );
}

#[tokio::test]
async fn sessions_started_elsewhere_show_up_in_the_chat() {
    let fake = FakeTelegram::start().await;
    let relay = relay_with_bot(&fake).await;
    let edge = relay.scripted_edge("bay-1", Mode::Respond).await;
    let menu = plate_menu(&fake).await;
    let (status, body) = relay
        .post("/api/bays/bay-1/start", json!({"plate": "DA 1 API"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let m = wait(&fake, "loading shown", |m| {
        m.id == menu.id && m.text.starts_with("🚀 Started at")
    })
    .await;
    assert!(
        m.text.contains("Plate: DA 1 API") && m.text.contains("Started by: api"),
        "{}",
        m.text
    );
    edge.count(Direction::In).await;
    edge.count(Direction::In).await;
    wait(&fake, "count 2", |m| {
        m.id == menu.id && m.text.contains("Count: 2")
    })
    .await;
    let (status, _) = relay.post("/api/bays/bay-1/stop", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let m = wait(&fake, "stopped shown", |m| {
        m.id == menu.id && m.text.starts_with("🛑 Stopped at")
    })
    .await;
    assert!(m.text.contains("Total: 2"), "{}", m.text);
    assert!(m.text.contains("Stopped by: api"), "{}", m.text);
    // The stop's photo follows there too.
    let stop = edge.events().last().cloned().unwrap();
    let piece = evidence_of(&stop, false);
    edge.publish_raw(Kind::Evidence, &piece.encode());
    let photo = wait(&fake, "stop photo", |m| m.photo.is_some()).await;
    assert_eq!(photo.reply_to, Some(menu.id));
    assert_eq!(photo.photo.as_deref(), Some(piece.jpeg.as_slice()));
    assert_eq!(
        photo.text,
        format!("{}\nDA 1 API · total 2", m.text.lines().next().unwrap())
    );
}

#[tokio::test]
async fn several_bays_get_a_bay_picker() {
    let fake = FakeTelegram::start().await;
    let relay = relay_with_bot(&fake).await;
    let _a = relay.scripted_edge("bay-1", Mode::Respond).await;
    let _b = relay.scripted_edge("bay-2", Mode::Respond).await;
    fake.type_text(OPERATOR, "/start");
    let picker = wait(&fake, "bay picker", |m| m.text == "Choose the bay:").await;
    assert_eq!(picker.buttons(), vec!["🟢 bay-1", "🟢 bay-2"]);
    press(&fake, &picker, "🟢 bay-2").await;
    let menu = wait(&fake, "plates of bay-2", |m| {
        m.id == picker.id && m.text.starts_with("Bay bay-2")
    })
    .await;
    assert!(menu.buttons().contains(&"⬅️ Bays".to_owned()));
}

#[tokio::test]
async fn an_edit_that_changes_nothing_is_not_an_error() {
    use baycount_relay::bot::telegram::{Sent as Outcome, send};
    use teloxide::prelude::*;
    let fake = FakeTelegram::start().await;
    let bot = Bot::new(TOKEN).set_api_url(fake.url.parse().unwrap());
    let chat = ChatId(OPERATOR as i64);
    let Outcome::Done(m) = send(bot.send_message(chat, "Count: 1"), "send")
        .await
        .unwrap()
    else {
        panic!("sent");
    };
    let first = send(bot.edit_message_text(chat, m.id, "Count: 2"), "edit")
        .await
        .unwrap();
    assert!(matches!(first, Outcome::Done(_)));
    let again = send(bot.edit_message_text(chat, m.id, "Count: 2"), "edit")
        .await
        .unwrap();
    assert!(matches!(again, Outcome::Unchanged), "{again:?}");
    // Other Bot API errors are errors.
    let gone = send(
        bot.edit_message_text(chat, teloxide::types::MessageId(999), "x"),
        "edit",
    )
    .await;
    assert!(gone.is_err());
}

#[tokio::test]
async fn the_stop_photo_follows_the_summary_with_the_bays_picture() {
    let fake = FakeTelegram::start().await;
    let relay = relay_with_bot(&fake).await;
    let edge = relay.scripted_edge("bay-1", Mode::Respond).await;
    let control = control_for(&fake, "KT 8899 TEST").await;
    let (summary, stop) = load_and_stop(&fake, &edge, &control, 3).await;
    assert!(summary.text.contains("Total: 3"), "{}", summary.text);
    let piece = evidence_of(&stop, false);
    edge.publish_raw(Kind::Evidence, &piece.encode());

    let photo = wait(&fake, "stop photo", |m| m.photo.is_some()).await;
    // The same time as the summary's (the site's zone), the plate and the total.
    let stopped_at = summary.text.lines().next().unwrap();
    assert_eq!(photo.text, format!("{stopped_at}\nKT 8899 TEST · total 3"));
    assert_eq!(
        photo.photo.as_deref(),
        Some(piece.jpeg.as_slice()),
        "the bay's bytes"
    );
    assert_eq!(photo.reply_to, Some(summary.id), "under its summary");
    assert!(photo.id > summary.id);
    // One photo, and the summary says nothing of a missing one.
    assert_eq!(fake.photos(OPERATOR as i64).len(), 1);
    let calls = fake.calls("sendPhoto");
    assert_eq!(calls.len(), 1, "{calls:?}");
    let shown = fake
        .messages(OPERATOR as i64)
        .into_iter()
        .find(|m| m.id == summary.id)
        .unwrap();
    assert_eq!(shown.text, summary.text);
}

#[tokio::test]
async fn a_stop_without_a_picture_keeps_its_summary_and_says_why() {
    let fake = FakeTelegram::start().await;
    let relay = relay_with_bot(&fake).await;
    let edge = relay.scripted_edge("bay-1", Mode::Respond).await;

    // The bay dropped the stop's picture: said at once.
    let control = control_for(&fake, "B 5 DROP").await;
    let (summary, stop) = load_and_stop(&fake, &edge, &control, 1).await;
    edge.publish_raw(Kind::Evidence, &evidence_of(&stop, true).encode());
    let said = wait(&fake, "no picture: dropped", |m| {
        m.id == summary.id && m.text.contains("📷")
    })
    .await;
    assert_eq!(
        said.text,
        format!(
            "{}\n📷 No picture of the stop: the bay dropped it.",
            summary.text
        )
    );

    // The picture never comes: said after the bounded wait.
    let control = next_control(&fake, &summary, "B 5 DROP").await;
    let (summary, _stop) = load_and_stop(&fake, &edge, &control, 2).await;
    let said = wait(&fake, "no picture: not come", |m| {
        m.id == summary.id && m.text.contains("📷")
    })
    .await;
    assert_eq!(
        said.text,
        format!(
            "{}\n📷 No picture of the stop came from the bay.",
            summary.text
        )
    );
    assert!(summary.text.contains("Total: 2"), "{}", summary.text);
    assert_eq!(fake.calls("sendPhoto").len(), 0, "no photo, only the word");
}

/// A session of `crossings` crossings started and stopped through the API, its pictures sent by
/// the bay (but those of `dropped`, dropped) and stored: its events.
async fn session_with_pictures(
    relay: &TestRelay,
    edge: &mut ScriptedEdge,
    crossings: usize,
    dropped: &[u64],
) -> Vec<Event> {
    let (status, body) = relay
        .post("/api/bays/bay-1/start", json!({"plate": "KT 8899 TEST"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for _ in 0..crossings {
        edge.count(Direction::In).await;
    }
    let (status, _) = relay.post("/api/bays/bay-1/stop", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let events = edge.events();
    for e in &events {
        let piece = evidence_of(e, dropped.contains(&e.seq));
        edge.publish_raw(Kind::Evidence, &piece.encode());
    }
    let last = events.last().unwrap();
    edge.wait_stored_evidence(last.session, last.seq).await;
    events
}

#[tokio::test]
async fn evidence_sends_a_sessions_crossings_as_albums_of_ten() {
    let fake = FakeTelegram::start().await;
    let relay = relay_with_bot(&fake).await;
    let mut edge = relay.scripted_edge("bay-1", Mode::Respond).await;
    // Start, 13 crossings (seqs 2 to 14; the picture of the last was dropped) and the stop.
    let events = session_with_pictures(&relay, &mut edge, 13, &[14]).await;
    assert_eq!(events.len(), 15);
    let session = events[0].session;

    let id = session.to_string();
    fake.type_text(OPERATOR, &format!("/evidence #{}", &id[..8]));
    let intro = wait(&fake, "what the pictures are", |m| {
        m.text.starts_with("📷 Session")
    })
    .await;
    assert!(
        intro.text.starts_with(&format!(
            "📷 Session #{} · KT 8899 TEST · bay-1 · ",
            &id[..8]
        )),
        "{}",
        intro.text
    );
    assert!(
        intro.text.contains("13 crossings, 12 with a picture:")
            && intro.text.contains("1 dropped by the bay"),
        "{}",
        intro.text
    );
    let photos = eventually(10, "twelve photos", || async {
        let photos = fake.photos(OPERATOR as i64);
        (photos.len() >= 12).then_some(photos)
    })
    .await;
    assert_eq!(photos.len(), 12);
    assert!(photos.iter().all(|p| p.id > intro.id), "after the intro");
    let tz: chrono_tz::Tz = "Asia/Makassar".parse().unwrap();
    for (photo, event) in photos.iter().zip(&events[1..13]) {
        let piece = evidence_of(event, false);
        assert_eq!(
            photo.photo.as_deref(),
            Some(piece.jpeg.as_slice()),
            "seq {}",
            event.seq
        );
        let clock = event.at.with_timezone(&tz).format("%H:%M:%S");
        assert_eq!(photo.text, format!("#{} · {clock} · in", event.seq));
    }
    let albums: Vec<Option<String>> = photos.iter().map(|p| p.media_group.clone()).collect();
    assert!(
        albums[..10].iter().all(|a| a.is_some() && *a == albums[0]),
        "{albums:?}"
    );
    assert!(
        albums[10..].iter().all(|a| a.is_some() && *a == albums[10]),
        "{albums:?}"
    );
    assert_ne!(albums[0], albums[10]);
    assert_eq!(fake.calls("sendMediaGroup").len(), 2);

    // The chat's latest session by default, and by plate, say the same.
    fake.type_text(OPERATOR, "/evidence");
    fake.type_text(OPERATOR, "/evidence kt 8899 test");
    eventually(10, "two more intros", || async {
        let intros = fake
            .messages(OPERATOR as i64)
            .into_iter()
            .filter(|m| m.text == intro.text)
            .count();
        (intros == 3).then_some(())
    })
    .await;
}

/// An album takes two photos at least: the eleventh goes alone, as a photo.
#[tokio::test]
async fn evidence_sends_a_lone_last_picture_as_a_photo() {
    let fake = FakeTelegram::start().await;
    let relay = relay_with_bot(&fake).await;
    let mut edge = relay.scripted_edge("bay-1", Mode::Respond).await;
    let events = session_with_pictures(&relay, &mut edge, 11, &[]).await;
    fake.type_text(OPERATOR, "/evidence");
    let photos = eventually(10, "eleven photos", || async {
        let photos = fake.photos(OPERATOR as i64);
        (photos.len() >= 11).then_some(photos)
    })
    .await;
    let last = &events[11];
    assert_eq!(
        photos[10].photo.as_deref(),
        Some(evidence_of(last, false).jpeg.as_slice())
    );
    assert_eq!(photos[10].media_group, None);
    assert!(photos[10].text.starts_with("#12 · "), "{}", photos[10].text);
    assert_eq!(fake.calls("sendMediaGroup").len(), 1);
    assert_eq!(fake.calls("sendPhoto").len(), 1);
}

#[tokio::test]
async fn evidence_of_an_unknown_session_is_said_so_and_strangers_get_nothing() {
    let fake = FakeTelegram::start().await;
    let relay = relay_with_bot(&fake).await;
    let _edge = relay.scripted_edge("bay-1", Mode::Respond).await;
    fake.type_text(OPERATOR, "/evidence");
    wait(&fake, "no sessions yet", |m| {
        m.text.starts_with("No sessions yet")
    })
    .await;
    fake.type_text(OPERATOR, "/evidence #ffffffff");
    let m = wait(&fake, "unknown id", |m| {
        m.text.starts_with("No session matches")
    })
    .await;
    assert!(m.text.contains("\"#ffffffff\""), "{}", m.text);
    fake.type_text(OPERATOR, "/evidence ZZ 9 NONE");
    wait(&fake, "unknown plate", |m| {
        m.text.starts_with("No session matches \"ZZ 9 NONE\"")
    })
    .await;

    fake.type_text(STRANGER, "/evidence");
    let m = fake
        .wait_message(STRANGER as i64, 10, "refusal", |m| {
            m.text.starts_with("Sorry")
        })
        .await;
    fake.type_text(STRANGER, "/status");
    eventually(10, "the same refusal for /status", || async {
        let sent = fake.messages(STRANGER as i64);
        (sent.len() == 2).then_some(sent)
    })
    .await
    .iter()
    .for_each(|r| assert_eq!(r.text, m.text, "the same refusal as any command"));
    assert!(fake.photos(STRANGER as i64).is_empty());
    let audit = eventually(10, "refusal audited", || async {
        let (_, log) = relay.get("/api/audit").await;
        log["audit"]
            .as_array()?
            .iter()
            .find(|e| {
                e["actor"] == format!("telegram:{STRANGER}")
                    && e["detail"]
                        .as_str()
                        .is_some_and(|d| d.ends_with("/evidence"))
            })
            .cloned()
    })
    .await;
    assert_eq!(audit["outcome"], "rejected");
}

#[tokio::test]
async fn a_malformed_upload_is_refused_as_telegram_does() {
    let fake = FakeTelegram::start().await;
    let client = reqwest::Client::new();
    let url = format!("{}bot{TOKEN}/sendPhoto", fake.url);
    // A form that names a part it does not carry, and one that is not a form at all.
    let form = "--b\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n42\r\n--b\r\nContent-Disposition: form-data; name=\"photo\"\r\n\r\nattach://nothing\r\n--b--\r\n";
    for (content_type, body) in [
        ("multipart/form-data; boundary=b", form.to_owned()),
        (
            "multipart/form-data; boundary=b",
            "--b\r\nnot a part".to_owned(),
        ),
        ("multipart/form-data", form.to_owned()),
    ] {
        let response = client
            .post(&url)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let answer: serde_json::Value = response.json().await.unwrap();
        assert_eq!(answer["ok"], false, "{answer}");
        assert_eq!(answer["error_code"], 400, "{answer}");
        assert!(
            answer["description"]
                .as_str()
                .unwrap()
                .starts_with("Bad Request: "),
            "{answer}"
        );
    }
    assert!(fake.photos(42).is_empty());
}
