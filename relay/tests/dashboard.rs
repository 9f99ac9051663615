//! The dashboard in a real browser: Debian's headless Chromium driven through chromedriver
//! (WebDriver, fantoccini) against the real relay and a scripted edge. Screenshots of the main
//! views are saved under cargo's test temp dir, or to `docs/screenshots/` (the README's) with
//! `BAYCOUNT_UPDATE_SCREENSHOTS=1`.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use baycount_protocol::{Direction, SessionId};
use baycount_testkit::browser::Browser;
use baycount_testkit::{Mode, RelayProcess, ScriptedEdge, TestRelay, Which};
use serde_json::{Value, json};

fn shots() -> PathBuf {
    baycount_testkit::browser::screenshots(env!("CARGO_TARGET_TMPDIR"))
}

/// A browser on `session`'s page.
async fn open_session_page(relay: &TestRelay, session: SessionId) -> Browser {
    let b = Browser::start().await;
    b.client
        .goto(&relay.url(&format!("/#/session/{session}")))
        .await
        .unwrap();
    b
}

/// A browser on `session`'s page, once its strip shows `crossings` crossings.
async fn session_page(relay: &TestRelay, session: SessionId, crossings: usize) -> Browser {
    let b = open_session_page(relay, session).await;
    b.until(
        10,
        &format!("the strip of {crossings} crossings"),
        &format!("return document.querySelectorAll('#strip li').length === {crossings}"),
    )
    .await;
    b
}

fn card(bay: &str, inner: &str) -> String {
    format!(r#"document.querySelector('.card[data-bay="{bay}"] {inner}')"#)
}

#[tokio::test]
async fn live_bays_control_and_history_in_a_browser() {
    let relay =
        TestRelay::start_with(Which::Embedded, |c| c.api_token = Some("s3cret".into())).await;
    let edge = ScriptedEdge::connect(relay.mqtt_port, "bay-1", Mode::Respond).await;
    let _other = ScriptedEdge::connect(relay.mqtt_port, "bay-2", Mode::Respond).await;
    relay
        .wait_bay("bay-2", "online", |b| b["online"] == true)
        .await;
    let b = Browser::start().await;
    b.client.goto(&relay.url("/")).await.unwrap();
    b.until(
        10,
        "the bays' cards",
        &format!("return {}", card("bay-1", ".state")),
    )
    .await;
    b.until(
        10,
        "online and idle",
        &format!("return {}?.textContent === 'idle'", card("bay-1", ".state")),
    )
    .await;

    // START from the page: the token is asked once, the edge gets the command, the card loads.
    b.type_in(
        r#".card[data-bay="bay-1"] input[name="plate"]"#,
        "kt 8899 test",
    )
    .await;
    b.click(r#".card[data-bay="bay-1"] button.start"#).await;
    b.answer_token_dialog("the token dialog", "s3cret").await;
    b.until(
        10,
        "loading",
        &format!(
            "return {}?.textContent === 'loading KT 8899 TEST'",
            card("bay-1", ".state")
        ),
    )
    .await;
    assert_eq!(
        edge.state().phase,
        baycount_protocol::Phase::Loading,
        "the edge got START"
    );

    // Counts change the number without a reload.
    let marker: Value = b
        .client
        .execute("window.__same_page = 42; return 1", vec![])
        .await
        .unwrap();
    assert_eq!(marker, 1);
    for _ in 0..3 {
        edge.count(Direction::In).await;
    }
    b.until(
        10,
        "count 3",
        &format!("return {}?.textContent === '3'", card("bay-1", ".count")),
    )
    .await;
    b.until(2, "no reload", "return window.__same_page === 42")
        .await;
    b.screenshot(&shots(), "dashboard.png").await;

    // STOP shows the final count.
    b.click(r#".card[data-bay="bay-1"] button.stop"#).await;
    let done = b
        .until(
            10,
            "final count",
            &format!("return {}?.textContent", card("bay-1", ".error.done")),
        )
        .await;
    assert_eq!(done, "Stopped: KT 8899 TEST, final count 3");

    // An error from the API is shown in words.
    b.type_in(r#".card[data-bay="bay-2"] input[name="plate"]"#, "???")
        .await;
    b.click(r#".card[data-bay="bay-2"] button.start"#).await;
    let error = b
        .until(
            10,
            "a plate error",
            &format!(
                "return {}?.textContent",
                card("bay-2", ".error:not([hidden])")
            ),
        )
        .await;
    assert!(error.as_str().unwrap().contains("plate"), "{error}");

    // History: the session, its day's total, the CSV.
    b.client.goto(&relay.url("/#/history")).await.unwrap();
    b.until(
        10,
        "the session listed",
        "return document.querySelector('#sessions tbody tr')",
    )
    .await;
    let row = b.text("#sessions tbody tr").await;
    assert!(
        row.contains("KT 8899 TEST") && row.contains("bay-1"),
        "{row}"
    );
    let total = b.text("#totals tbody tr").await;
    assert!(total.ends_with('3'), "{total}");
    let csv_href: Value = b
        .client
        .execute("return document.querySelector('#csv').href", vec![])
        .await
        .unwrap();
    let csv = reqwest::get(csv_href.as_str().unwrap())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.contains("KT 8899 TEST"), "{csv}");
    b.screenshot(&shots(), "history.png").await;
    // Date filters are whole days in the site's zone.
    let tz: chrono_tz::Tz = "Asia/Makassar".parse().unwrap();
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    let filter = |from: chrono::NaiveDate, to: chrono::NaiveDate| {
        format!(
            "const f = document.querySelector('#filters'); f.from.value = '{from}'; f.to.value = '{to}'; \
             document.querySelector('#sessions tbody').replaceChildren(); f.requestSubmit(); return 1"
        )
    };
    b.client
        .execute(&filter(today, today), vec![])
        .await
        .unwrap();
    b.until(
        10,
        "today's session",
        "return document.querySelector('#sessions tbody tr')",
    )
    .await;
    let tomorrow = today.succ_opt().unwrap();
    b.client
        .execute(&filter(tomorrow, tomorrow), vec![])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rows: Value = b
        .client
        .execute(
            "return document.querySelectorAll('#sessions tbody tr').length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(rows, 0, "nothing tomorrow");
    b.client
        .execute(&filter(today, today), vec![])
        .await
        .unwrap();
    b.until(
        10,
        "today's session again",
        "return document.querySelector('#sessions tbody tr a')",
    )
    .await;

    // The session page: chart, who started and stopped it, a correction beside the count.
    b.click("#sessions tbody tr a").await;
    b.until(
        10,
        "the chart",
        "return document.querySelector('#chart canvas')",
    )
    .await;
    let facts = b.text("#session-facts").await;
    assert!(
        facts.contains("by dashboard"),
        "who started and stopped it: {facts}"
    );
    b.type_in("#correct input[name=delta]", "-1").await;
    b.type_in("#correct input[name=reason]", "one sack torn")
        .await;
    b.click("#correct button").await;
    b.until(
        10,
        "the correction",
        "return document.querySelector('#corrections tbody tr')",
    )
    .await;
    let facts = b.text("#session-facts").await;
    assert!(
        facts.contains("Machine count\n3") || facts.contains("Machine count 3"),
        "{facts}"
    );
    assert!(
        facts.contains("Corrected count\n2") || facts.contains("Corrected count 2"),
        "{facts}"
    );
    b.screenshot(&shots(), "session.png").await;

    // A phone screen.
    b.client.set_window_size(390, 844).await.unwrap();
    b.client.goto(&relay.url("/")).await.unwrap();
    b.until(
        10,
        "cards on a phone",
        &format!("return {}", card("bay-1", ".count")),
    )
    .await;
    b.screenshot(&shots(), "phone.png").await;
    b.close().await;
}

#[tokio::test]
async fn the_page_recovers_after_the_relay_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut relay = RelayProcess::start(&dir.path().join("history.db"), &[]).await;
    let edge = ScriptedEdge::connect(relay.mqtt_port(), "bay-1", Mode::Respond).await;
    let api = relay.api();
    api.wait_bay("bay-1", "online", |b| b["online"] == true)
        .await;
    let b = Browser::start().await;
    b.client.goto(&api.url("/")).await.unwrap();
    b.until(
        10,
        "live",
        "return document.querySelector('#link').dataset.state === 'up'",
    )
    .await;
    relay.kill();
    b.until(
        10,
        "says it is disconnected",
        "return !document.querySelector('#banner').hidden",
    )
    .await;
    relay.restart().await;
    b.until(20, "live again", "return document.querySelector('#banner').hidden && document.querySelector('#link').dataset.state === 'up'")
        .await;
    // And it follows the bay again.
    api.wait_bay("bay-1", "edge back", |b| b["online"] == true)
        .await;
    let (s, body) = api
        .post("/api/bays/bay-1/start", json!({"plate": "B 1 BACK"}))
        .await;
    assert!(s.is_success(), "{body}");
    edge.count(Direction::In).await;
    b.until(
        10,
        "count after the restart",
        &format!("return {}?.textContent === '1'", card("bay-1", ".count")),
    )
    .await;
    b.close().await;
}

#[tokio::test]
async fn with_a_viewer_token_the_page_asks_for_it_and_goes_live() {
    let relay = TestRelay::start_with(Which::Embedded, |c| {
        c.api_token = Some("op-token".into());
        c.viewer_token = Some("view-token".into());
    })
    .await;
    let edge = ScriptedEdge::connect(relay.mqtt_port, "bay-1", Mode::Respond).await;
    let b = Browser::start().await;
    b.client.goto(&relay.url("/")).await.unwrap();
    b.answer_token_dialog("the token dialog before anything is shown", "view-token")
        .await;
    b.until(
        10,
        "the live card, over a WebSocket that carries the viewer's token",
        &format!("return {}?.textContent === 'idle'", card("bay-1", ".state")),
    )
    .await;
    // The card shows what the bay's camera sees (the scripted edge's 64x48 picture), fetched
    // with the viewer's token.
    b.until(
        15,
        "the camera's picture on the card",
        &format!(
            "const i = {}; return !!i && !i.hidden && i.naturalWidth === 64",
            card("bay-1", ".view")
        ),
    )
    .await;
    // Its page shows the picture large, one after another, until the bay goes offline.
    b.click(r#".card[data-bay="bay-1"] a[title="the live view"]"#)
        .await;
    b.until(
        15,
        "the bay page's pictures coming in",
        "const i = document.querySelector('#bay-live'); \
         return !!i && !i.hidden && i.naturalWidth === 64 && Number(i.dataset.frames) >= 3",
    )
    .await;
    b.click(r##"#bay-view a[href="#/"]"##).await;
    // A viewer cannot start: the page says so and asks for an operator's token.
    b.type_in(r#".card[data-bay="bay-1"] input[name="plate"]"#, "KT 1 V")
        .await;
    b.click(r#".card[data-bay="bay-1"] button.start"#).await;
    b.answer_token_dialog("the token dialog again", "op-token")
        .await;
    b.until(
        10,
        "loading with the operator's token",
        &format!(
            "return {}?.textContent === 'loading KT 1 V'",
            card("bay-1", ".state")
        ),
    )
    .await;
    assert_eq!(edge.state().phase, baycount_protocol::Phase::Loading);
    // The bay page of a bay gone offline says so.
    edge.disconnect().await;
    b.click(r#".card[data-bay="bay-1"] a[title="the live view"]"#)
        .await;
    b.until(
        15,
        "the bay page saying the bay is offline",
        "const e = document.querySelector('#bay-error'); \
         return !!e && !e.hidden && e.textContent.includes('offline')",
    )
    .await;
}

#[tokio::test]
async fn a_sessions_pictures_enlarge_and_a_correction_points_at_one() {
    let relay =
        TestRelay::start_with(Which::Embedded, |c| c.api_token = Some("s3cret".into())).await;
    let mut edge = relay.scripted_edge("bay-1", Mode::Respond).await;
    let api = relay.with_token("s3cret");
    let session = api.start_session("bay-1", "KT 8899 TEST").await;
    let directions = [Direction::In, Direction::In, Direction::Out, Direction::In];
    for d in directions {
        edge.count(d).await;
    }
    api.post("/api/bays/bay-1/stop", json!({})).await;
    // Every event's picture but the second crossing's (seq 3), which the bay dropped.
    let events = edge.events_of(session);
    assert_eq!(events.len(), 6, "start, four crossings, stop");
    for e in &events {
        edge.send_evidence(e, e.seq == 3).await;
    }
    edge.wait_stored_evidence(session, 6).await;

    let b = session_page(&relay, session, 4).await;
    // In seq order, each with its time (the site's zone) and direction.
    let tz: chrono_tz::Tz = "Asia/Makassar".parse().unwrap();
    let words: Vec<String> = events[1..5]
        .iter()
        .zip(directions)
        .map(|(e, d)| {
            let time = e.at.with_timezone(&tz).format("%H:%M:%S");
            let d = match d {
                Direction::In => "in",
                Direction::Out => "out",
            };
            format!("#{} · {time} · {d}", e.seq)
        })
        .collect();
    let shown: Value = b
        .client
        .execute(
            "return [...document.querySelectorAll('#strip li .shot > span')].map((s) => s.textContent)",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(shown, json!(words));
    let dropped = b.text("#strip li:nth-child(2) .placeholder").await;
    assert!(dropped.contains("dropped"), "{dropped}");
    // The start and stop pictures, and the crossings', come (lazily, once on screen).
    for (what, css) in [
        ("the start picture", "#start-picture img"),
        ("the stop picture", "#stop-picture img"),
        ("the last crossing's picture", "#strip li:nth-child(4) img"),
    ] {
        b.until(
            10,
            what,
            &format!(
                "const i = document.querySelector('{css}'); i.scrollIntoView(); \
                 return i.loading === 'lazy' && i.complete && i.naturalWidth === 64"
            ),
        )
        .await;
    }

    // A click enlarges; next and previous go through the pieces, the dropped one says so.
    b.click("#strip li:nth-child(1) button").await;
    let caption = "return document.querySelector('#evidence-dialog').open && \
                   document.querySelector('#evidence-caption').textContent";
    let first = b.until(10, "the first crossing large", caption).await;
    assert_eq!(first, format!("Crossing {} · track 1", words[0]));
    b.until(
        10,
        "its picture large",
        "const i = document.querySelector('#evidence-large'); return !i.hidden && i.complete && i.naturalWidth === 64",
    )
    .await;
    b.click("#evidence-next").await;
    let second = b.until(10, "the dropped one", caption).await;
    assert!(second.as_str().unwrap().contains(&words[1]), "{second}");
    let missing = b.text("#evidence-missing").await;
    assert!(missing.contains("dropped"), "{missing}");
    b.click("#evidence-next").await;
    b.click("#evidence-next").await;
    let fourth = b.until(10, "the last crossing", caption).await;
    assert!(fourth.as_str().unwrap().contains(&words[3]), "{fourth}");
    b.click("#evidence-prev").await;
    let third = b.until(10, "back to the third", caption).await;
    assert!(third.as_str().unwrap().contains(&words[2]), "{third}");

    // "Correct this" prefills the form with that piece; the correction shows it, linked.
    b.click("#evidence-correct").await;
    let about = b
        .until(
            10,
            "the form about the picture",
            "const p = document.querySelector('#correct-evidence'); return !p.hidden && p.textContent",
        )
        .await;
    assert!(about.as_str().unwrap().contains(&words[2]), "{about}");
    let evidence = format!("{session}-4");
    b.type_in("#correct input[name=delta]", "-1").await;
    b.type_in("#correct input[name=reason]", "counted twice: same sack")
        .await;
    b.click("#correct button[type=submit]").await;
    b.answer_token_dialog("the token dialog", "s3cret").await;
    let link = b
        .until(
            10,
            "the correction linked to its picture",
            "const a = document.querySelector('#corrections tbody tr .evidence-link'); \
             return a && a.dataset.evidence",
        )
        .await;
    assert_eq!(link, evidence.as_str());
    let (_, detail) = api.get(&format!("/api/sessions/{session}")).await;
    assert_eq!(detail["corrections"][0]["evidence"], evidence.as_str());
    // The README's picture: the strip, and the correction beside the picture it is about.
    b.client
        .execute(
            "const h = document.querySelector('#session-view h2');              window.scrollTo(0, h.getBoundingClientRect().top + window.scrollY - 70); return 1",
            vec![],
        )
        .await
        .unwrap();
    b.screenshot(&shots(), "session-strip.png").await;
    b.click("#corrections tbody tr .evidence-link").await;
    let again = b.until(10, "its picture large again", caption).await;
    assert!(again.as_str().unwrap().contains(&words[2]), "{again}");
    b.close().await;
}

#[tokio::test]
async fn a_loading_sessions_page_shows_its_counts_and_pictures_as_they_come() {
    let relay = TestRelay::start(Which::Embedded).await;
    let mut edge = relay.scripted_edge("bay-1", Mode::Respond).await;
    let session = relay.start_session("bay-1", "KT 7 LIVE").await;
    edge.count(Direction::In).await;
    for e in edge.events_of(session) {
        edge.send_evidence(&e, false).await;
    }
    edge.wait_stored_evidence(session, 2).await;

    let b = session_page(&relay, session, 1).await;
    assert!(b.text("#session-facts").await.contains("still loading"));
    // The bay counts on and its picture follows, with no reload.
    let second = edge.count(Direction::In).await;
    edge.send_evidence(&second, false).await;
    b.until(
        15,
        "the second crossing in the strip",
        "return document.querySelectorAll('#strip li img').length === 2",
    )
    .await;
    // Stopped: the page says so, and the stop picture, sent a moment later, comes too.
    relay.post("/api/bays/bay-1/stop", json!({})).await;
    b.until(
        15,
        "stopped",
        "return !document.querySelector('#session-facts').textContent.includes('still loading')",
    )
    .await;
    let stop = edge.events_of(session).pop().unwrap();
    edge.send_evidence(&stop, false).await;
    b.until(
        15,
        "the stop picture",
        "return !!document.querySelector('#stop-picture img')",
    )
    .await;
    b.close().await;
}

#[tokio::test]
async fn a_long_sessions_page_fetches_only_the_pictures_on_screen() {
    const CROSSINGS: u64 = 500;
    let relay = TestRelay::start(Which::Embedded).await;
    let mut edge = relay.scripted_edge("bay-1", Mode::Respond).await;
    let session = relay.start_session("bay-1", "KT 500 A").await;
    for _ in 0..CROSSINGS {
        edge.count(Direction::In).await;
    }
    relay.post("/api/bays/bay-1/stop", json!({})).await;
    for e in &edge.events_of(session) {
        edge.send_evidence(e, false).await;
    }
    edge.wait_stored_evidence(session, CROSSINGS + 2).await;

    let b = open_session_page(&relay, session).await;
    b.until(
        20,
        "the strip of every crossing, its first pictures shown",
        &format!(
            "const i = document.querySelector('#strip li:first-child img'); i.scrollIntoView(); \
             return document.querySelectorAll('#strip li').length === {CROSSINGS} \
                 && i.complete && i.naturalWidth === 64"
        ),
    )
    .await;
    let fetched = "return performance.getEntriesByType('resource') \
                   .filter((r) => r.name.includes('/api/evidence/')).length";
    let first: Value = b.client.execute(fetched, vec![]).await.unwrap();
    assert!(
        (1..CROSSINGS / 2).contains(&first.as_u64().unwrap()),
        "{first} pictures fetched with the strip's top on screen"
    );
    // Scrolled to its end, the last one comes.
    b.until(
        20,
        "the last crossing's picture, once on screen",
        "const i = document.querySelector('#strip li:last-child img'); i.scrollIntoView(); \
         return i.complete && i.naturalWidth === 64",
    )
    .await;
    b.close().await;
}
