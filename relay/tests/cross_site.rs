//! What a web page of another site can do to a relay with no tokens (the default), from the
//! browser of someone on the relay's network: nothing. No command without a JSON body (a page
//! may send text/plain or a form anywhere, but not JSON, without asking), none from another
//! origin, no live feed for another origin, and no answer at all to a name the relay does not
//! have (DNS rebinding).

#![allow(clippy::unwrap_used)]

use baycount_protocol::{Direction, SessionId};
use baycount_testkit::*;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HOST, ORIGIN};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

async fn send(r: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let r = r.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A relay with bay-1 online and one session with one count, stopped.
async fn relay_with_a_session() -> (TestRelay, ScriptedEdge, String) {
    let relay = TestRelay::start(Which::Embedded).await;
    let mut edge = ScriptedEdge::connect(relay.mqtt_port, "bay-1", Mode::Respond).await;
    relay
        .wait_bay("bay-1", "online", |b| b["online"] == true)
        .await;
    let (s, b) = relay
        .post("/api/bays/bay-1/start", json!({"plate": "KT 1 CSRF"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let id = b["session"]["id"].as_str().unwrap().to_owned();
    let session: SessionId = id.parse().unwrap();
    let last = edge.count(Direction::In).await;
    edge.wait_stored(session, last.seq).await;
    let (s, b) = relay.post("/api/bays/bay-1/stop", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    relay
        .wait_bay("bay-1", "idle", |b| b["phase"] == "idle")
        .await;
    (relay, edge, id)
}

/// What must not have changed: the bay idle, the session's corrections, the audit log.
async fn unchanged(relay: &TestRelay, session: &str, corrections: usize, audit: usize) {
    assert_eq!(relay.bay("bay-1").await.unwrap()["phase"], "idle");
    let (_, detail) = relay.get(&format!("/api/sessions/{session}")).await;
    assert_eq!(
        detail["corrections"].as_array().unwrap().len(),
        corrections,
        "{detail}"
    );
    let (_, log) = relay.get("/api/audit").await;
    assert_eq!(log["audit"].as_array().unwrap().len(), audit, "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_not_sent_as_json_are_415_and_change_nothing() {
    let (relay, _edge, id) = relay_with_a_session().await;
    let correct = format!("/api/sessions/{id}/corrections");
    let start = "/api/bays/bay-1/start";
    for content_type in [
        Some("text/plain"),
        Some("text/plain;charset=UTF-8"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("text/json"),
        None,
    ] {
        for (path, body) in [
            (start, r#"{"plate": "KT 6 EVIL"}"#),
            (
                correct.as_str(),
                r#"{"delta": 1000, "reason": "from a page"}"#,
            ),
            ("/api/bays/bay-1/stop", r#"{"by": "api:page"}"#),
        ] {
            let mut r = relay.client.post(relay.url(path)).body(body);
            if let Some(t) = content_type {
                r = r.header(CONTENT_TYPE, t);
            }
            let (s, b) = send(r).await;
            assert_eq!(
                s,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{path} {content_type:?}: {b}"
            );
            assert_eq!(b["code"], "unsupported_media_type");
            assert!(
                b["error"]
                    .as_str()
                    .unwrap()
                    .contains("Content-Type: application/json"),
                "{b}"
            );
        }
    }
    unchanged(&relay, &id, 0, 2).await;
    // JSON with parameters, or a +json type, is JSON; a stop with no body needs no type.
    let (s, b) = send(
        relay
            .client
            .post(relay.url(&correct))
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .body(r#"{"delta": -1, "reason": "charset"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = send(
        relay
            .client
            .post(relay.url(&correct))
            .header(CONTENT_TYPE, "application/merge-patch+json")
            .body(r#"{"delta": 1, "reason": "+json"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = send(
        relay
            .client
            .post(relay.url(start))
            .header(CONTENT_TYPE, "Application/JSON")
            .body(r#"{"plate": "KT 2 OK"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = send(relay.client.post(relay.url("/api/bays/bay-1/stop"))).await;
    assert_eq!(s, StatusCode::OK, "a bare stop: {b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_sites_page_can_neither_command_nor_watch() {
    let (relay, _edge, id) = relay_with_a_session().await;
    let own = format!("http://{}", relay.http);
    let correct = format!("/api/sessions/{id}/corrections");
    let evil: [&[(&str, &str)]; 6] = [
        &[("origin", "http://evil.example")],
        &[
            ("origin", "http://evil.example"),
            ("sec-fetch-site", "cross-site"),
        ],
        &[("origin", "null")],
        &[("sec-fetch-site", "cross-site")],
        // Another port of the same machine is another origin.
        &[("origin", "http://127.0.0.1:1")],
        &[("origin", &format!("{own}.evil.example"))],
    ];
    for headers in evil {
        for (path, body) in [
            ("/api/bays/bay-1/start", json!({"plate": "KT 6 EVIL"})),
            ("/api/bays/bay-1/stop", json!({})),
            (correct.as_str(), json!({"delta": 1000, "reason": "evil"})),
        ] {
            let mut r = relay.client.post(relay.url(path)).json(&body);
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            let (s, b) = send(r).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{path} {headers:?}: {b}");
            assert_eq!(b["code"], "cross_origin", "{b}");
            assert!(b["error"].as_str().unwrap().contains("dashboard"), "{b}");
        }
        let mut ws = format!("ws://{}/api/ws", relay.http)
            .into_client_request()
            .unwrap();
        for (k, v) in headers {
            ws.headers_mut().insert(*k, v.parse().unwrap());
        }
        let refused = tokio_tungstenite::connect_async(ws).await;
        assert!(
            matches!(
                &refused,
                Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == StatusCode::FORBIDDEN
            ),
            "{headers:?}: {refused:?}"
        );
    }
    unchanged(&relay, &id, 0, 2).await;
    // Reading stays open to pages as before (the browser keeps another site from seeing it).
    let (s, _) = send(
        relay
            .client
            .get(relay.url("/api/state"))
            .header(ORIGIN, "http://evil.example"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    // The relay's own page, as a browser sends it, may.
    let (s, b) = send(
        relay
            .client
            .post(relay.url(&correct))
            .header(ORIGIN, &own)
            .header("sec-fetch-site", "same-origin")
            .json(&json!({"delta": -1, "reason": "from the dashboard"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = send(
        relay
            .client
            .post(relay.url("/api/bays/bay-1/start"))
            .header(ORIGIN, &own)
            .json(&json!({"plate": "KT 3 OWN", "by": "dashboard"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let mut ws = format!("ws://{}/api/ws", relay.http)
        .into_client_request()
        .unwrap();
    ws.headers_mut().insert("origin", own.parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(ws)
        .await
        .expect("the dashboard's own live feed");
    socket.close(None).await.unwrap();
    // So may a script, which sends no Origin at all.
    let (s, b) = relay.post("/api/bays/bay-1/stop", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

async fn get_as_host(relay: &Api, path: &str, host: &str) -> (StatusCode, String) {
    let r = relay
        .client
        .get(relay.url(path))
        .header(HOST, host)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_the_relay_does_not_have_get_no_answer() {
    let relay = TestRelay::start_with(Which::Embedded, |c| {
        c.http_hosts = vec!["relay.site.example".into()];
    })
    .await;
    let port = relay.http.port();
    for path in [
        "/api/state",
        "/",
        "/app.js",
        "/api/sessions",
        "/healthz",
        "/api/nope",
    ] {
        for host in [
            "evil.example".to_owned(),
            format!("evil.example:{port}"),
            format!("localhost.evil.example:{port}"),
            format!("10.1.2.3:{port}"),
            "other.site.example".to_owned(),
        ] {
            let (s, body) = get_as_host(&relay, path, &host).await;
            assert_eq!(s, StatusCode::MISDIRECTED_REQUEST, "{path} {host}: {body}");
            assert!(
                body.contains("http_hosts") && body.contains("unknown_host"),
                "{body}"
            );
        }
        for host in [
            format!("127.0.0.1:{port}"),
            "127.0.0.1".to_owned(),
            format!("localhost:{port}"),
            "localhost".to_owned(),
            format!("dash.localhost:{port}"),
            format!("[::1]:{port}"),
            // Configured, e.g. for a reverse proxy in front of a loopback relay.
            "relay.site.example".to_owned(),
            format!("Relay.Site.Example:{port}"),
        ] {
            let (s, body) = get_as_host(&relay, path, &host).await;
            let want = if path == "/api/nope" {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::OK
            };
            assert_eq!(s, want, "{path} {host}: {body}");
        }
    }
    // A command to a foreign name is refused before anything else.
    let (s, b) = send(
        relay
            .client
            .post(relay.url("/api/bays/bay-1/start"))
            .header(HOST, "evil.example")
            .json(&json!({"plate": "KT 6 EVIL"})),
    )
    .await;
    assert_eq!(s, StatusCode::MISDIRECTED_REQUEST, "{b}");
    let (_, log) = relay.get("/api/audit").await;
    assert_eq!(log["audit"].as_array().unwrap().len(), 0, "{log}");

    // The API's document says so, where each answer can occur.
    let (_, doc) = relay.get("/api/openapi.json").await;
    let responses = |path: &str, method: &str| doc["paths"][path][method]["responses"].clone();
    for (path, method, codes) in [
        ("/api/bays/{bay}/start", "post", &["403", "415", "421"][..]),
        ("/api/bays/{bay}/stop", "post", &["403", "415", "421"]),
        (
            "/api/sessions/{id}/corrections",
            "post",
            &["403", "415", "421"],
        ),
        ("/api/ws", "get", &["403", "421"]),
        ("/api/state", "get", &["421"]),
        ("/healthz", "get", &["421"]),
    ] {
        for code in codes {
            assert!(
                responses(path, method)[code].is_object(),
                "{method} {path} {code}: {}",
                responses(path, method)
            );
        }
    }
    assert!(responses("/api/state", "get")["403"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_takes_its_names_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start_with_env(
        &dir.path().join("h.db"),
        &[],
        &[("BAYCOUNT_HTTP_HOSTS", "relay.site.example, baycount.lan")],
    )
    .await;
    let api = relay.api();
    for host in ["relay.site.example", "baycount.lan:8080", "localhost"] {
        assert_eq!(
            get_as_host(&api, "/api/state", host).await.0,
            StatusCode::OK,
            "{host}"
        );
    }
    let (s, body) = get_as_host(&api, "/api/state", "evil.example").await;
    assert_eq!(s, StatusCode::MISDIRECTED_REQUEST, "{body}");
}
