//! The API's two roles, lockout of token guessing, tokens kept out of logs, and secrets that
//! the relay refuses to run with (world-readable files, an open broker on the network).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::Command as Process;

use baycount_testkit::*;
use reqwest::StatusCode;
use serde_json::json;

const OPERATOR: &str = "op-7f3a9c2e51";
const VIEWER: &str = "view-b81d44e0c3";

async fn with_tokens() -> TestRelay {
    TestRelay::start_with(Which::Embedded, |c| {
        c.api_token = Some(OPERATOR.into());
        c.viewer_token = Some(VIEWER.into());
    })
    .await
}

async fn get_as(relay: &TestRelay, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut r = relay.client.get(relay.url(path));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.expect("request")
}

async fn start_as(relay: &TestRelay, token: Option<&str>) -> reqwest::Response {
    let mut r = relay
        .client
        .post(relay.url("/api/bays/bay-1/start"))
        .json(&json!({"plate": "KT 9 ZZ"}));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.expect("request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_read_operators_also_control() {
    let relay = with_tokens().await;
    let _edge = ScriptedEdge::connect(relay.mqtt_port, "bay-1", Mode::Respond).await;
    for path in [
        "/api/state",
        "/api/sessions",
        "/api/sessions.csv",
        "/api/plates",
        "/api/audit",
        "/metrics",
    ] {
        assert_eq!(
            get_as(&relay, path, None).await.status(),
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
        assert_eq!(
            get_as(&relay, path, Some(VIEWER)).await.status(),
            StatusCode::OK,
            "{path}"
        );
        assert_eq!(
            get_as(&relay, path, Some(OPERATOR)).await.status(),
            StatusCode::OK,
            "{path}"
        );
    }
    // The page, health, the API description and the site facts stay open.
    for path in ["/", "/healthz", "/api/openapi.json", "/api/site"] {
        assert_eq!(
            get_as(&relay, path, None).await.status(),
            StatusCode::OK,
            "{path}"
        );
    }
    let (_, site) = relay.get("/api/site").await;
    assert_eq!(
        (
            site["token_required"].clone(),
            site["read_token_required"].clone()
        ),
        (json!(true), json!(true))
    );
    // Browsers cannot put headers on a download link or a WebSocket: ?access_token= for reads.
    let r = relay
        .client
        .get(relay.url(&format!("/api/sessions.csv?access_token={VIEWER}")))
        .send()
        .await
        .expect("csv");
    assert_eq!(r.status(), StatusCode::OK);
    let ws = format!("ws://{}/api/ws", relay.http);
    assert!(
        tokio_tungstenite::connect_async(&ws).await.is_err(),
        "the live feed needs a token"
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("{ws}?access_token={VIEWER}"))
        .await
        .expect("viewer's live feed");
    socket.close(None).await.expect("close");

    // A viewer cannot control; nothing starts.
    let r = start_as(&relay, Some(VIEWER)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = r.json().await.expect("json");
    assert!(
        body["error"]
            .as_str()
            .expect("error")
            .contains("operators' token"),
        "{body}"
    );
    let r = relay
        .client
        .post(relay.url(&format!("/api/bays/bay-1/start?access_token={OPERATOR}")))
        .json(&json!({"plate": "KT 9 ZZ"}))
        .send()
        .await
        .expect("request");
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "control takes the token from the header only"
    );
    let bay = get_as(&relay, "/api/state", Some(VIEWER))
        .await
        .json::<serde_json::Value>()
        .await
        .expect("json");
    assert_eq!(bay["bays"][0]["phase"], "idle", "{bay}");
    assert_eq!(
        start_as(&relay, Some(OPERATOR)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_guessing_is_locked_out() {
    let relay = with_tokens().await;
    let mut last = None;
    for i in 0..baycount_relay::lockout::MAX_FAILURES {
        last = Some(get_as(&relay, "/api/state", Some(&format!("guess-{i}"))).await);
    }
    let last = last.expect("tried");
    assert_eq!(last.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = last.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    let right = get_as(&relay, "/api/state", Some(VIEWER)).await;
    assert_eq!(
        right.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right token waits out the lockout"
    );
    let body: serde_json::Value = right.json().await.expect("json");
    assert_eq!(body["code"], "locked_out");
    // Requests without a token are not guesses, and open pages stay open.
    assert_eq!(
        get_as(&relay, "/healthz", None).await.status(),
        StatusCode::OK
    );
}

/// Runs the relay binary with `args` until it exits (or kills it after `secs`), returning
/// whether it exited by itself and what it logged.
fn run_relay(
    args: &[&str],
    env: &[(&str, &str)],
    secs: u64,
) -> (Option<std::process::ExitStatus>, String) {
    let dir = tempfile::tempdir().expect("dir");
    let mut cmd = Process::new(relay_binary());
    cmd.args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "debug,rumqttd=off");
    let mut relay = Proc::spawn("baycount-relay", cmd, &dir.path().join("relay.log"));
    (relay.wait_exit(secs), relay.log())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_passwords_never_reach_the_log() {
    let dir = tempfile::tempdir().expect("dir");
    let mut relay = RelayProcess::start_with_env(
        &dir.path().join("h.db"),
        &[],
        &[
            ("BAYCOUNT_API_TOKEN", OPERATOR),
            ("BAYCOUNT_VIEWER_TOKEN", VIEWER),
            ("TELOXIDE_TOKEN", "123:telegram-secret-xyz"),
            ("TELOXIDE_API_URL", "http://127.0.0.1:9/"),
            ("RUST_LOG", "debug,rumqttd=off"),
        ],
    )
    .await;
    let api = relay.api();
    for token in ["wrong-guess-123", VIEWER, OPERATOR] {
        let _ = api
            .client
            .get(api.url("/api/state"))
            .bearer_auth(token)
            .send()
            .await;
        let _ = api
            .client
            .get(api.url(&format!("/api/state?access_token={token}")))
            .send()
            .await;
        let _ = api
            .client
            .post(api.url("/api/bays/bay-1/start"))
            .bearer_auth(token)
            .json(&json!({"plate": "KT 1 A"}))
            .send()
            .await;
    }
    let _ = ScriptedEdge::connect_with(relay.mqtt_port(), "bay-1", Mode::Respond, |o| {
        o.set_credentials("bay-1", "mqtt-secret-pw");
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    relay.kill();
    let text = relay.log();
    assert!(
        text.contains("wrong token"),
        "the failure itself is logged: {text}"
    );
    for secret in [
        OPERATOR,
        VIEWER,
        "wrong-guess-123",
        "telegram-secret-xyz",
        "mqtt-secret-pw",
    ] {
        assert!(!text.contains(secret), "{secret} is in the log:\n{text}");
    }
}

#[test]
fn secrets_in_a_world_readable_config_are_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let conf = dir.path().join("relay.toml");
    let mut f = std::fs::File::create(&conf).expect("create");
    writeln!(f, "api_token = \"{OPERATOR}\"").expect("write");
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let (status, log) = run_relay(
        &[
            "--config",
            conf.to_str().expect("utf-8"),
            "--http",
            "127.0.0.1:0",
            "--mqtt-listen",
            "127.0.0.1:0",
        ],
        &[],
        10,
    );
    assert!(status.is_some_and(|s| !s.success()), "refused: {log}");
    assert!(
        log.contains("an API token") && log.contains("chmod o-rwx"),
        "{log}"
    );
    assert!(!log.contains(OPERATOR), "{log}");
}

#[test]
fn an_open_broker_on_the_network_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("h.db");
    let (status, log) = run_relay(
        &[
            "--http",
            "127.0.0.1:0",
            "--mqtt-listen",
            "0.0.0.0:0",
            "--db",
            db.to_str().expect("utf-8"),
        ],
        &[],
        10,
    );
    assert!(status.is_some_and(|s| !s.success()), "refused: {log}");
    assert!(
        log.contains("password_file") && log.contains("allow_anonymous"),
        "{log}"
    );
}

#[test]
fn mqtt_user_writes_a_private_password_file() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("mqtt.passwd");
    let path = file.to_str().expect("utf-8");
    let (status, log) = run_relay(
        &["mqtt-user", path, "bay-1"],
        &[("BAYCOUNT_MQTT_PASSWORD", "s3cret-pw")],
        10,
    );
    assert!(status.is_some_and(|s| s.success()), "{log}");
    let mode = std::fs::metadata(&file).expect("file").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&file).expect("read");
    assert!(
        text.starts_with("bay-1:$7$101$") && !text.contains("s3cret-pw"),
        "{text}"
    );
    let (status, log) = run_relay(
        &["mqtt-user", path, "bay/1"],
        &[("BAYCOUNT_MQTT_PASSWORD", "x")],
        10,
    );
    assert!(
        status.is_some_and(|s| !s.success()) && log.contains("bay id"),
        "{log}"
    );
}
