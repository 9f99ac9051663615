//! The extremes of every numeric input of the API (a correction's `delta`, `limit`, `from` and
//! `to`) are refused by name and store nothing; a history holding absurd rows (written by hand,
//! or by an older relay) still lists; the CSV never hands a spreadsheet a formula.

#![allow(clippy::unwrap_used)]

use baycount_protocol::{Direction, SessionId};
use baycount_testkit::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Posts `body` as it is written (numbers JSON cannot round-trip through `serde_json::Value`).
async fn post_raw(relay: &TestRelay, path: &str, body: String) -> (StatusCode, Value) {
    let r = relay
        .client
        .post(relay.url(path))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The session list, its CSV and the session's page all answer 200.
async fn history_reads(relay: &TestRelay, session: &str) -> (Value, String, Value) {
    let (s, list) = relay.get("/api/sessions").await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let (s, csv) = relay.text("/api/sessions.csv").await;
    assert_eq!(s, StatusCode::OK);
    let (s, detail) = relay.get(&format!("/api/sessions/{session}")).await;
    assert_eq!(s, StatusCode::OK, "{detail}");
    (list, csv, detail)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numeric_extremes_are_refused_by_name_and_store_nothing() {
    let relay = TestRelay::start(Which::Embedded).await;
    let mut edge = ScriptedEdge::connect(relay.mqtt_port, "bay-1", Mode::Respond).await;
    relay
        .wait_bay("bay-1", "online", |b| b["online"] == true)
        .await;
    let (s, body) = relay
        .post("/api/bays/bay-1/start", json!({"plate": "KT 1 MAX"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let id = body["session"]["id"].as_str().unwrap().to_owned();
    let session: SessionId = id.parse().unwrap();
    let last = edge.count(Direction::In).await;
    edge.wait_stored(session, last.seq).await;
    let path = format!("/api/sessions/{id}/corrections");

    // The attack: i64::MIN (whose abs() wraps), twice, would overflow the history's sum.
    let refused = [
        "-9223372036854775808",
        "9223372036854775807",
        "18446744073709551615",
        "-18446744073709551616",
        "1000001",
        "-1000001",
        "1e6+1",
        "0",
        "-0",
        "-0.0",
        "0.0",
        "1.5",
        "-0.5",
        "1e300",
        "-1e300",
        "1e-300",
        "9007199254740993",
        "\"5\"",
        "\"-9223372036854775808\"",
        "\"1e6\"",
        "null",
        "true",
        "[1]",
        "{\"n\": 1}",
    ];
    for delta in refused {
        let (s, b) = post_raw(
            &relay,
            &path,
            format!("{{\"delta\": {delta}, \"reason\": \"extreme\"}}"),
        )
        .await;
        assert!(
            s == StatusCode::BAD_REQUEST || s == StatusCode::UNPROCESSABLE_ENTITY,
            "delta {delta}: {s} {b}"
        );
        let error = b["error"].as_str().unwrap_or_default();
        // "1e6+1" is not JSON at all: the parser's position is the clearest there is.
        assert!(
            error.contains("'delta'") || (delta == "1e6+1" && error.contains("invalid JSON")),
            "delta {delta}: {b}"
        );
    }
    let (_, _, detail) = history_reads(&relay, &id).await;
    assert_eq!(
        detail["corrections"].as_array().unwrap().len(),
        0,
        "nothing stored: {detail}"
    );

    // The bounds themselves are corrections like any other.
    for delta in ["1000000", "1e6", "-1000000", "-1e6", "1000000.0"] {
        let (s, b) = post_raw(
            &relay,
            &path,
            format!("{{\"delta\": {delta}, \"reason\": \"bound\"}}"),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "delta {delta}: {b}");
    }
    let (list, csv, detail) = history_reads(&relay, &id).await;
    assert_eq!(detail["corrections"].as_array().unwrap().len(), 5);
    assert_eq!(detail["correction"], 1_000_000, "{detail}");
    assert_eq!(detail["corrected_count"], 1_000_001, "{detail}");
    assert_eq!(list["sessions"][0]["correction"], 1_000_000);
    assert!(csv.contains(",KT 1 MAX,1,0,1000000,1000001,"), "{csv}");

    // limit: 1 to 10000 sessions, 1 to 1000 plates or audit entries.
    for (path, max) in [
        ("/api/sessions", 10_000),
        ("/api/sessions.csv", 10_000),
        ("/api/plates", 1_000),
        ("/api/audit", 1_000),
    ] {
        for limit in [
            "0".to_owned(),
            "-1".to_owned(),
            (max + 1).to_string(),
            "10001".to_owned(),
            "9223372036854775807".to_owned(),
            "-9223372036854775808".to_owned(),
            "18446744073709551615".to_owned(),
            "99999999999999999999999".to_owned(),
            "1.5".to_owned(),
            "1e3".to_owned(),
            "x".to_owned(),
            "%20".to_owned(),
        ] {
            let (s, b) = relay.get(&format!("{path}?limit={limit}")).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{path}?limit={limit}: {b}");
            assert!(
                b["error"].as_str().unwrap().contains("'limit'"),
                "{path}?limit={limit}: {b}"
            );
        }
        for limit in ["1".to_owned(), max.to_string()] {
            let r = relay
                .client
                .get(relay.url(&format!("{path}?limit={limit}")))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{path}?limit={limit}");
        }
    }

    // from and to: a date or an RFC 3339 time, years 0000 to 9999.
    for path in ["/api/sessions", "/api/sessions.csv"] {
        for field in ["from", "to"] {
            for bad in [
                "%2B275760-09-13T00:00:00.000Z",
                "%2B275760-09-13",
                "-271821-04-20",
                "%2B10000-01-01",
                "10000-01-01",
                "-0001-12-31",
                "2026-13-01",
                "2026-02-30",
                "2026-01-01T25:00:00Z",
                "9223372036854775807",
                "yesterday",
                "garbage",
            ] {
                let (s, b) = relay.get(&format!("{path}?{field}={bad}")).await;
                assert_eq!(s, StatusCode::BAD_REQUEST, "{path}?{field}={bad}: {b}");
                assert!(
                    b["error"].as_str().unwrap().contains(&format!("'{field}'")),
                    "{path}?{field}={bad}: {b}"
                );
            }
            for good in [
                "0000-01-01",
                "0000-01-01T00:00:00Z",
                "9999-12-31",
                "9999-12-31T23:59:59.999-23:59",
            ] {
                let r = relay
                    .client
                    .get(relay.url(&format!("{path}?{field}={good}")))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::OK, "{path}?{field}={good}");
            }
        }
    }
    let (_, whole) = relay
        .get("/api/sessions?from=0000-01-01&to=9999-12-31")
        .await;
    assert_eq!(whole["sessions"].as_array().unwrap().len(), 1, "{whole}");
    history_reads(&relay, &id).await;
}

/// Writes rows the API would refuse straight into the relay's history, as a hand edit or an
/// older relay could have.
async fn write_by_hand(relay: &TestRelay, statements: &[(&'static str, Vec<Value>)]) {
    use sqlx::ConnectOptions;
    let mut db = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&relay.db)
        .busy_timeout(std::time::Duration::from_secs(10))
        .connect()
        .await
        .unwrap();
    for (sql, args) in statements {
        let mut q = sqlx::query(*sql);
        for a in args {
            q = match a {
                Value::Number(n) => q.bind(n.as_i64().unwrap()),
                Value::String(s) => q.bind(s.clone()),
                other => panic!("{other}"),
            };
        }
        q.execute(&mut db).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_with_absurd_rows_still_lists_and_its_csv_runs_no_formula() {
    let relay = TestRelay::start(Which::Embedded).await;
    let now = chrono::Utc::now().timestamp_millis();
    let (old, huge, tiny) = (SessionId::new(), SessionId::new(), SessionId::new());
    let session = |id: SessionId, bay: &str, plate: &str, at: i64| {
        (
            "INSERT INTO sessions (id, bay, plate, started_at_ms, started_by, created_ms) VALUES (?, ?, ?, ?, 'api', ?)",
            vec![
                json!(id.to_string()),
                json!(bay),
                json!(plate),
                json!(at),
                json!(at),
            ],
        )
    };
    let correction = |id: SessionId, delta: i64| {
        (
            "INSERT INTO corrections (session, at_ms, by, delta, reason) VALUES (?, ?, 'hand', ?, 'absurd')",
            vec![json!(id.to_string()), json!(now), json!(delta)],
        )
    };
    write_by_hand(
        &relay,
        &[
            (
                "INSERT INTO bays (id, name, first_seen_ms, last_seen_ms) VALUES ('-dock', NULL, ?, ?)",
                vec![json!(now), json!(now)],
            ),
            (
                "INSERT INTO plates (plate, last_used_ms, uses) VALUES ('-1-1', ?, 1)",
                vec![json!(now)],
            ),
            // A plate of the time before plates had to start with a letter or a digit.
            session(old, "-dock", "-1-1", now - 2),
            session(huge, "-dock", "B 1 MAX", now - 1),
            session(tiny, "-dock", "B 1 MIN", now),
            correction(huge, i64::MAX),
            correction(huge, i64::MAX),
            correction(tiny, i64::MIN),
            correction(tiny, i64::MIN),
        ],
    )
    .await;
    // A negative correction through the API, on the old plate's session.
    let (s, b) = relay
        .post(
            &format!("/api/sessions/{old}/corrections"),
            json!({"delta": -5, "reason": "five sacks torn"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");

    let (list, csv, detail) = history_reads(&relay, &huge.to_string()).await;
    let row = |id: SessionId| {
        list["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id.to_string())
            .cloned()
            .unwrap()
    };
    assert_eq!(row(huge)["correction"], i64::MAX, "clamped: {list}");
    assert_eq!(row(huge)["corrected_count"], i64::MAX);
    assert_eq!(row(tiny)["correction"], i64::MIN);
    assert_eq!(row(tiny)["corrected_count"], i64::MIN);
    assert_eq!(row(old)["plate"], "-1-1", "the old plate reads back");
    assert_eq!(row(old)["corrected_count"], -5);
    assert_eq!(detail["corrections"][0]["delta"], i64::MAX);
    let (s, page) = relay.get(&format!("/api/sessions/{tiny}")).await;
    assert_eq!(
        (s, page["correction"].clone()),
        (StatusCode::OK, json!(i64::MIN))
    );
    let (s, plates) = relay.get("/api/plates").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(plates["plates"][0]["plate"], "-1-1");

    // The CSV: text that a spreadsheet would run is quoted with a leading ', the numbers the
    // relay wrote (a negative correction among them) stay numbers.
    let line = csv
        .lines()
        .find(|l| l.starts_with(&old.to_string()))
        .unwrap();
    assert!(
        line.starts_with(&format!("{old},'-dock,'-1-1,0,0,-5,-5,")),
        "{line}"
    );
    assert!(
        csv.lines().skip(1).all(|l| l
            .split(',')
            .all(|cell| !cell.starts_with(['=', '+', '@', '\t', '\r'])
                && (!cell.starts_with('-') || cell.parse::<i64>().is_ok()))),
        "{csv}"
    );
    assert!(
        csv.contains(&format!(",{},{},", i64::MIN, i64::MIN)),
        "{csv}"
    );

    // New plates must start with a letter or a digit: the old one cannot be given again.
    let (s, b) = relay.get("/api/sessions?plate=-1-1").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(
        b["error"]
            .as_str()
            .unwrap()
            .contains("start with a letter or a digit"),
        "{b}"
    );
}
