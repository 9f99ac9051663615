//! Debian's headless Chromium driven through chromedriver (WebDriver, fantoccini), for the
//! dashboard's tests.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::process::Proc;

/// Where screenshots go: the README's (`docs/screenshots/`) with
/// `BAYCOUNT_UPDATE_SCREENSHOTS=1`, otherwise `screenshots` under `tmp` (the calling test
/// crate's `CARGO_TARGET_TMPDIR`).
pub fn screenshots(tmp: &str) -> PathBuf {
    if std::env::var_os("BAYCOUNT_UPDATE_SCREENSHOTS").is_some() {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/screenshots"))
    } else {
        PathBuf::from(tmp).join("screenshots")
    }
}

/// chromedriver on a loopback port it chose, with a fresh Chromium profile; it and its
/// Chromium are killed on drop.
pub struct Browser {
    pub client: Client,
    driver: Proc,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Self {
        let profile = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("chromedriver");
        cmd.arg("--port=0");
        let mut driver = Proc::spawn(
            "chromedriver (installed by scripts/setup.sh)",
            cmd,
            &profile.path().join("chromedriver.log"),
        );
        let port = driver.wait_for_line("ChromeDriver was started successfully on port ", 20);
        let port = port.trim_end_matches('.');
        let caps = json!({
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-dev-shm-usage",
                    "--disable-crash-reporter", "--no-first-run",
                    format!("--user-data-dir={}", profile.path().join("chromium").display()),
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
    pub async fn until(&self, secs: u64, what: &str, js: &str) -> Value {
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

    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    pub async fn type_in(&self, css: &str, text: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .send_keys(text)
            .await
            .unwrap();
    }

    /// Waits for the page to ask for a token (`why`), and gives it `token`.
    pub async fn answer_token_dialog(&self, why: &str, token: &str) {
        self.until(
            10,
            why,
            "return document.querySelector('#token-dialog').open",
        )
        .await;
        self.type_in("#token-dialog input[name=token]", token).await;
        self.click("#token-dialog button[value=ok]").await;
    }

    pub async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Saves a screenshot as `dir/name`.
    pub async fn screenshot(&self, dir: &Path, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(name), png).unwrap();
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        self.driver.kill();
    }
}
