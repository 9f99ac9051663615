//! The dashboard in a real browser: Debian's headless Chromium driven through chromedriver
//! (WebDriver, fantoccini) against the real relay and a scripted edge. Screenshots of the main
//! views are saved under cargo's test temp dir, or to `docs/screenshots/` (the README's) with
//! `BAYCOUNT_UPDATE_SCREENSHOTS=1`.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use baycount_protocol::Direction;
use common::{
    Api, Mode, RelayProcess, ScriptedEdge, TestRelay, Which, free_port, relay_process_ports,
};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// chromedriver on a free loopback port, with a fresh Chromium profile; killed on drop.
struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Self {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed by scripts/setup.sh (chromium-driver)");
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", profile.path().display()),
                    "--window-size=1280,900",
                ],
            }
        });
        let caps: fantoccini::wd::Capabilities = caps.as_object().unwrap().clone();
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            let http = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(http)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("cannot start Chromium through chromedriver: {e}"),
            }
        };
        Self {
            client,
            driver,
            _profile: profile,
        }
    }

    /// Evaluates `js` (a function body) until it returns something truthy.
    async fn until(&self, secs: u64, what: &str, js: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let v = self.client.execute(js, vec![]).await.unwrap_or(Value::Null);
            if !(v.is_null() || v == false || v == "") {
                return v;
            }
            if Instant::now() > deadline {
                let body = self
                    .client
                    .execute("return document.body.innerText", vec![])
                    .await
                    .unwrap_or_default();
                panic!("{what}: not within {secs} s; the page shows:\n{body}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    async fn type_in(&self, css: &str, text: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .send_keys(text)
            .await
            .unwrap();
    }

    /// Waits for the page to ask for a token (`why`), and gives it `token`.
    async fn answer_token_dialog(&self, why: &str, token: &str) {
        self.until(
            10,
            why,
            "return document.querySelector('#token-dialog').open",
        )
        .await;
        self.type_in("#token-dialog input[name=token]", token).await;
        self.click("#token-dialog button[value=ok]").await;
    }

    async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        let dir = if std::env::var_os("BAYCOUNT_UPDATE_SCREENSHOTS").is_some() {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/screenshots"))
        } else {
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
        };
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), png).unwrap();
    }

    async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
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
    b.screenshot("dashboard.png").await;

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
    b.screenshot("history.png").await;
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
    b.screenshot("session.png").await;

    // A phone screen.
    b.client.set_window_size(390, 844).await.unwrap();
    b.client.goto(&relay.url("/")).await.unwrap();
    b.until(
        10,
        "cards on a phone",
        &format!("return {}", card("bay-1", ".count")),
    )
    .await;
    b.screenshot("phone.png").await;
    b.close().await;
}

#[tokio::test]
async fn the_page_recovers_after_the_relay_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let (http, port, broker) = relay_process_ports();
    let db: &Path = &dir.path().join("history.db");
    let mut relay = RelayProcess::spawn(http, db, &broker).await;
    let edge = ScriptedEdge::connect(port, "bay-1", Mode::Respond).await;
    let api = Api::new(http);
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
    let _relay = RelayProcess::spawn(http, db, &broker).await;
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
}
