//! The edge's loop against the real relay and its embedded broker: commands from the REST API
//! reach the bay, counts come back, the history holds them, the journal forgets what is stored.

use std::time::Duration;

use baycount_edge::bay::counting::Control;
use baycount_edge::bay::event_loop::{self, Input};
use baycount_edge::bay::evidence::EvidenceStore;
use baycount_edge::bay::journal::Journal;
use baycount_edge::bay::link::{Link, LinkOptions};
use baycount_edge::bay::pictures::Pictures;
use baycount_edge::vision::camera::v4l::decode_mjpeg;
use baycount_edge::vision::camera::{Frame, SourceSpec};
use baycount_edge::vision::counting_line::CounterConfig;
use baycount_edge::vision::detector::{DetectorOptions, ModelChoice};
use baycount_edge::vision::geometry::{BBox, Point};
use baycount_edge::vision::live_view::LiveView;
use baycount_edge::vision::pipeline_setup::PipelineSpec;
use baycount_edge::vision::shot::Shot;
use baycount_plumbing::mqtt::Endpoint;
use baycount_protocol::{BayId, BayState, Direction, Health};
use baycount_relay::Relay;
use baycount_relay::config::{Broker, Config};
use chrono::SubsecRound;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use baycount_testkit::eventually;

/// A relay on loopback ports with its history in `dir`.
fn relay_config(dir: &std::path::Path, broker: Broker) -> Config {
    Config::new(
        "127.0.0.1:0".parse().expect("addr"),
        broker,
        dir.join("history.db"),
    )
}

/// A site's own broker on loopback `port` (it outlives a relay; the embedded one stops with it).
fn external(port: u16) -> Broker {
    use baycount_relay::config::MqttUrl;
    Broker::External(MqttUrl::parse(&format!("mqtt://127.0.0.1:{port}")).expect("url"))
}

fn embedded() -> Broker {
    Broker::Embedded {
        listen: "127.0.0.1:0".parse().expect("addr"),
    }
}

/// What the loop's bay counts with: the default model (built only to check a change; no
/// counting thread runs here).
fn model_spec() -> PipelineSpec {
    PipelineSpec {
        source: SourceSpec::Synthetic,
        detector: DetectorOptions {
            model: ModelChoice::Default,
            ..DetectorOptions::default()
        },
        counter: CounterConfig::new("0,0.5,1,0.5".parse().expect("line")),
        realtime: false,
    }
}

/// The edge's loop for `bay-1`, linked to the broker on `port`, journaling in `dir`.
struct Edge {
    inputs: mpsc::Sender<Input>,
    /// What the counting thread would count with.
    spec: watch::Receiver<PipelineSpec>,
    /// The pipeline's side, kept so the health stays as it is.
    _health: watch::Sender<Health>,
    journal: Journal,
    evidence: EvidenceStore,
    shutdown: CancellationToken,
    tasks: (
        tokio::task::JoinHandle<Result<(), baycount_edge::bay::journal::JournalError>>,
        tokio::task::JoinHandle<()>,
    ),
}

impl Edge {
    async fn start(port: u16, dir: &std::path::Path) -> Self {
        Self::start_keeping(port, dir, 1 << 20).await
    }

    /// With `evidence_bytes` for the pictures the relay has not confirmed.
    async fn start_keeping(port: u16, dir: &std::path::Path, evidence_bytes: u64) -> Self {
        let shutdown = CancellationToken::new();
        let options = LinkOptions {
            bay: BayId::parse("bay-1").expect("bay"),
            broker: Endpoint {
                host: "127.0.0.1".into(),
                port,
                username: None,
                password: None,
                tls: None,
            },
        };
        let (link, inbound, link_task) = Link::start(&options, shutdown.clone());
        let journal = Journal::open(&dir.join("journal.db"))
            .await
            .expect("journal");
        let evidence =
            EvidenceStore::beside(&dir.join("journal.db"), evidence_bytes).expect("evidence");
        let pictures = Pictures {
            view: LiveView::default(),
            store: evidence.clone(),
            link: link.clone(),
            relay_keeps: Default::default(),
        };
        let (inputs, rx) = mpsc::channel(16);
        let (health_tx, health) = watch::channel(Health::default());
        let (shown, _) = watch::channel(BayState::idle(chrono::Utc::now()));
        // What the loop counts with; no counting thread here, the spec is only kept.
        let (counting, spec) = Control::beside(&dir.join("journal.db"), model_spec());
        let io = event_loop::Io {
            link,
            inbound,
            journal: journal.clone(),
            inputs: rx,
            health,
            shown,
            pictures,
            counting,
        };
        let edge = tokio::spawn(event_loop::run(io, shutdown.clone()));

        Self {
            inputs,
            spec,
            _health: health_tx,
            journal,
            evidence,
            shutdown,
            tasks: (edge, link_task),
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.tasks.0.await.expect("edge task").expect("edge loop");
        self.tasks.1.await.expect("link task");
    }
}

/// A relay with its embedded broker, its API's base URL, and the loop linked to it, all in `dir`.
async fn relay_and_edge(dir: &std::path::Path) -> (Relay, String, Edge) {
    let relay = Relay::start(relay_config(dir, embedded()), CancellationToken::new())
        .await
        .expect("relay");
    let base = format!("http://{}", relay.http_addr);
    let edge = Edge::start(relay.mqtt_addr.expect("embedded broker").port(), dir).await;
    (relay, base, edge)
}

#[tokio::test]
async fn commands_counts_and_the_button_go_through_the_relay() {
    let dir = tempfile::tempdir().expect("tmp");
    let (relay, base, edge) = relay_and_edge(dir.path()).await;
    let (inputs, journal) = (edge.inputs.clone(), edge.journal.clone());
    let evidence = edge.evidence.clone();

    let http = reqwest::Client::new();
    let bay_view = || async {
        let v: Value = http
            .get(format!("{base}/api/state"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        v["bays"]
            .as_array()?
            .iter()
            .find(|b| b["bay"] == "bay-1")
            .cloned()
    };
    eventually(10, "bay online", || async {
        bay_view().await.filter(|b| b["online"] == true)
    })
    .await;

    let r = http
        .post(format!("{base}/api/bays/bay-1/start"))
        .json(&json!({"plate": "KT 8899 TEST"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    let session = body["session"]["id"]
        .as_str()
        .expect("session id")
        .to_owned();
    // The frame's capture time, after the start, well before the loop hears of the crossing
    // (a crossing is decided up to a second after it happens).
    let seen = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The first crossing comes without a frame (the footage ended), the others with theirs.
    for (n, d) in [Direction::In, Direction::In, Direction::Out, Direction::In]
        .into_iter()
        .enumerate()
    {
        inputs
            .send(Input::Crossing {
                direction: d,
                track: 1,
                at: seen,
                shot: (n > 0).then(shot),
            })
            .await
            .expect("send");
    }
    eventually(10, "count 3 on the relay", || async {
        bay_view()
            .await
            .filter(|b| b["count"] == 3 && b["out"] == 1)
    })
    .await;
    let r = http
        .post(format!("{base}/api/bays/bay-1/stop"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(
        (
            body["session"]["count"].clone(),
            body["session"]["out"].clone()
        ),
        (json!(3), json!(1))
    );

    // A JSON answer of the relay's API, if any.
    let get_json = |path: String| {
        let (http, url) = (http.clone(), format!("{base}{path}"));
        async move { http.get(url).send().await.ok()?.json::<Value>().await.ok() }
    };
    let stored = eventually(10, "session stored as stopped", || async {
        let v = get_json(format!("/api/sessions/{session}")).await?;
        (!v["stopped_at"].is_null()).then_some(v)
    })
    .await;
    assert_eq!(
        (stored["count"].clone(), stored["out"].clone()),
        (json!(3), json!(1))
    );
    assert_eq!(stored["events"].as_array().map(Vec::len), Some(6));
    // Every event has its evidence, stored by the relay: the pictures of the crossings that had
    // a frame, and word that there is none for the start and stop (no camera here) and the first
    // crossing. Once stored, the edge forgets them.
    let listed = eventually(10, "the relay's evidence of six events", || async {
        let v = get_json(format!("/api/sessions/{session}/evidence")).await?;
        let all = v["evidence"].as_array()?.clone();
        (all.len() == 6).then_some(all)
    })
    .await;
    for (e, (seq, kind, pictured)) in listed.iter().zip([
        (1, "start", false),
        (2, "crossing", false),
        (3, "crossing", true),
        (4, "crossing", true),
        (5, "crossing", true),
        (6, "stop", false),
    ]) {
        assert_eq!(
            (e["seq"].clone(), e["kind"].clone()),
            (json!(seq), json!(kind))
        );
        assert_eq!(e["dropped"], json!(!pictured), "{e}");
        if pictured {
            // At the capture time of the frame shown: the one the count was decided on.
            let at: chrono::DateTime<chrono::Utc> =
                e["time"].as_str().expect("time").parse().expect("RFC 3339");
            assert!(
                e["track"] == 1 && e["direction"].is_string() && at >= seen.trunc_subsecs(3),
                "{e}"
            );
            let url = e["url"].as_str().expect("a url");
            let jpeg = http
                .get(format!("{base}{url}"))
                .send()
                .await
                .expect("picture")
                .bytes()
                .await
                .expect("bytes");
            let (_, w, h) = decode_mjpeg(&jpeg).expect("a JPEG");
            assert!(w > 0 && h > 0);
        }
    }
    eventually(10, "the edge forgets the stored evidence", || async {
        evidence
            .unconfirmed(usize::MAX)
            .ok()?
            .is_empty()
            .then_some(())
    })
    .await;
    // Each count carries the time its frame was captured, not when it was handled.
    for e in stored["events"].as_array().expect("events") {
        if e["kind"] == "counted" {
            let at: chrono::DateTime<chrono::Utc> =
                e["at"].as_str().expect("at").parse().expect("RFC 3339");
            assert!((at - seen).num_milliseconds().abs() < 2, "{e} vs {seen}");
        }
    }
    eventually(10, "the journal forgets the stored session", || async {
        (journal.backlog().await.ok()? == 0).then_some(())
    })
    .await;

    // The button at the bay: the relay shows the session without being asked.
    inputs.send(Input::Press).await.expect("press");
    let b = eventually(10, "a button session", || async {
        bay_view().await.filter(|b| b["phase"] == "loading")
    })
    .await;
    assert_eq!(
        (b["plate"].clone(), b["started_by"].clone()),
        (json!("UNASSIGNED"), json!("button"))
    );

    edge.stop().await;
    eventually(10, "bay offline after a clean stop", || async {
        bay_view().await.filter(|b| b["online"] == false)
    })
    .await;
    relay.stop().await;
}

#[tokio::test]
async fn counts_made_while_the_relay_is_down_are_replayed_from_the_journal() {
    let dir = tempfile::tempdir().expect("tmp");
    // A broker that outlives the relay, as a site's Mosquitto does (the embedded one stops with
    // its relay).
    let mosquitto = baycount_testkit::Mosquitto::start();
    let port = mosquitto.port;
    let broker = || external(port);
    let first = Relay::start(relay_config(dir.path(), broker()), CancellationToken::new())
        .await
        .expect("relay");
    let edge = Edge::start(port, dir.path()).await;
    let inputs = edge.inputs.clone();
    let http = reqwest::Client::new();
    let get = |base: String, path: String| {
        let http = http.clone();
        async move {
            http.get(format!("{base}{path}"))
                .send()
                .await
                .ok()?
                .json::<Value>()
                .await
                .ok()
        }
    };

    let base = format!("http://{}", first.http_addr);
    eventually(10, "bay online", || async {
        get(base.clone(), "/api/state".into())
            .await
            .filter(|v| v["bays"][0]["online"] == true)
    })
    .await;
    let r = http
        .post(format!("{base}/api/bays/bay-1/start"))
        .json(&json!({"plate": "B 1 A"}))
        .send()
        .await
        .expect("post");
    let session = r.json::<Value>().await.expect("json")["session"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    for _ in 0..2 {
        inputs
            .send(Input::Crossing {
                direction: Direction::In,
                track: 1,
                at: chrono::Utc::now(),
                shot: None,
            })
            .await
            .expect("send");
    }
    eventually(10, "count 2", || async {
        get(base.clone(), "/api/state".into())
            .await
            .filter(|v| v["bays"][0]["count"] == 2)
    })
    .await;

    // The relay goes away (its broker stays); the bay keeps counting.
    first.stop().await;
    for _ in 0..3 {
        inputs
            .send(Input::Crossing {
                direction: Direction::In,
                track: 2,
                at: chrono::Utc::now(),
                shot: None,
            })
            .await
            .expect("send");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = Relay::start(relay_config(dir.path(), broker()), CancellationToken::new())
        .await
        .expect("relay again");
    let base = format!("http://{}", second.http_addr);
    let path = format!("/api/sessions/{session}");
    let stored = eventually(10, "all 5 counts stored", || async {
        get(base.clone(), path.clone())
            .await
            .filter(|v| v["count"] == 5)
    })
    .await;
    assert_eq!(
        stored["events"].as_array().map(Vec::len),
        Some(6),
        "start + 5 counts, none twice"
    );

    edge.stop().await;
    second.stop().await;
}

/// A crossing's frame: a 300x300 frame of the whole picture with the object in it.
fn shot() -> Box<Shot> {
    Box::new(Shot {
        frame: Frame {
            index: 9,
            time: 0.9,
            captured: chrono::Utc::now(),
            width: 300,
            height: 300,
            rgb: vec![90; 300 * 300 * 3],
            region: BBox::FULL,
            windows: None,
        },
        native: (640, 480),
        track: 1,
        bbox: BBox::new(0.4, 0.3, 0.5, 0.7),
        path: vec![Point::new(0.3, 0.7), Point::new(0.45, 0.7)],
        lines: vec!["0.5,0,0.5,1".parse().expect("line")],
    })
}

#[tokio::test]
async fn a_line_set_through_the_api_reaches_the_bay_and_is_refused_while_loading() {
    let dir = tempfile::tempdir().expect("tmp");
    let (_relay, base, mut edge) = relay_and_edge(dir.path()).await;
    let http = reqwest::Client::new();
    let counting = || async {
        let r = http
            .get(format!("{base}/api/bays/bay-1/counting"))
            .send()
            .await
            .ok()?;
        (r.status() == 200).then_some(r.json::<Value>().await.ok()?)
    };
    let before = eventually(10, "the bay reports what it counts", counting).await;
    assert_eq!(
        before,
        json!({"bay": "bay-1", "line": "0,0.5,1,0.5", "classes": ["person"], "band": 0.01, "anchor": "bottom-center"})
    );
    let put = |body: Value| {
        let (http, url) = (http.clone(), format!("{base}/api/bays/bay-1/counting"));
        async move { http.put(url).json(&body).send().await.expect("put") }
    };

    let r = put(json!({"line": "0.5,0.1,0.5,0.9", "by": "dashboard:ana"})).await;
    assert_eq!(r.status(), 200);
    let now: Value = r.json().await.expect("json");
    assert_eq!(
        (now["line"].clone(), now["band"].clone()),
        (json!("0.5,0.1,0.5,0.9"), json!(0.01))
    );
    assert!(
        edge.spec.has_changed().expect("open"),
        "the counting thread is told"
    );
    assert_eq!(
        edge.spec.borrow_and_update().counter.line.to_string(),
        "0.5,0.1,0.5,0.9"
    );
    eventually(10, "the state says the new line", || async {
        counting().await.filter(|c| c["line"] == "0.5,0.1,0.5,0.9")
    })
    .await;
    let audit: Value = http
        .get(format!("{base}/api/audit"))
        .send()
        .await
        .expect("audit")
        .json()
        .await
        .expect("json");
    let row = audit["audit"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["action"] == "configure"))
        .cloned()
        .unwrap_or_else(|| panic!("a configure row in {audit}"));
    assert_eq!(
        (row["actor"].clone(), row["outcome"].clone()),
        (json!("dashboard:ana"), json!("ok"))
    );
    assert!(
        row["detail"]
            .as_str()
            .is_some_and(|d| d.contains("0.5,0.1,0.5,0.9")),
        "{row}"
    );

    // Settings nobody could count with: refused by the relay, nothing sent.
    for bad in [json!({"line": "0,0.5,1"}), json!({"band": 0.9})] {
        let r = put(bad.clone()).await;
        assert_eq!(r.status(), 422, "{bad}");
        let e: Value = r.json().await.expect("json");
        assert_eq!(e["code"], "invalid_settings", "{e}");
        assert!(e["error"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
    }
    let r = put(json!({"lines": "0,0,1,1"})).await;
    assert!(
        r.status().is_client_error(),
        "a misspelt key is refused: {}",
        r.status()
    );
    // Nothing to change: the settings as they are.
    let r = put(json!({})).await;
    assert_eq!(r.status(), 200);
    let same: Value = r.json().await.expect("json");
    assert_eq!(same["line"], "0.5,0.1,0.5,0.9");
    // A line no bay can count on, though the document cannot say so: the bay refuses it.
    let r = put(json!({"line": "0.5,0.5,0.5,0.5"})).await;
    assert_eq!(r.status(), 409);
    let e: Value = r.json().await.expect("json");
    assert!(
        e["error"]
            .as_str()
            .is_some_and(|m| m.contains("same point")),
        "{e}"
    );
    // A class the model does not know: the bay's detector refuses it, with its reason.
    let r = put(json!({"classes": ["forklift"]})).await;
    assert_eq!(r.status(), 409);
    let e: Value = r.json().await.expect("json");
    assert!(
        e["error"].as_str().is_some_and(|m| m.contains("forklift")),
        "{e}"
    );
    assert!(!edge.spec.has_changed().expect("open"), "nothing changed");

    // While loading, the line stays.
    let r = http
        .post(format!("{base}/api/bays/bay-1/start"))
        .json(&json!({"plate": "KT 8899 TEST"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    let r = put(json!({"line": "0,0.2,1,0.2"})).await;
    assert_eq!(r.status(), 409);
    let e: Value = r.json().await.expect("json");
    assert_eq!(e["code"], "loading", "{e}");
    assert_eq!(
        edge.spec.borrow().counter.line.to_string(),
        "0.5,0.1,0.5,0.9"
    );
    edge.stop().await;
}

#[tokio::test]
async fn a_full_evidence_budget_drops_pictures_never_counts() {
    let dir = tempfile::tempdir().expect("tmp");
    // The relay is away for the whole session (its broker is up): nothing is confirmed, and
    // the pictures fill a budget of a few of them.
    let mosquitto = baycount_testkit::Mosquitto::start();
    let port = mosquitto.port;
    // Room for three crossings' pictures (and the words of the dropped ones).
    let picture = shot().jpeg().expect("a picture").bytes.len() as u64;
    let edge = Edge::start_keeping(port, dir.path(), 3 * picture + 1024).await;
    let inputs = edge.inputs.clone();
    inputs.send(Input::Press).await.expect("press: start");
    // Counts are of frames captured after the start.
    eventually(10, "the session open", || async {
        (!edge.journal.held().await.ok()?.is_empty()).then_some(())
    })
    .await;
    for n in 0..8 {
        inputs
            .send(Input::Crossing {
                direction: Direction::In,
                track: n,
                at: chrono::Utc::now(),
                shot: Some(shot()),
            })
            .await
            .expect("send");
    }
    inputs.send(Input::Press).await.expect("press: stop");
    eventually(10, "the pictures made and kept", || async {
        let kept = edge.evidence.unconfirmed(usize::MAX).ok()?;
        (kept.len() == 10).then_some(())
    })
    .await;

    let relay = Relay::start(
        relay_config(dir.path(), external(port)),
        CancellationToken::new(),
    )
    .await
    .expect("relay");
    let base = format!("http://{}", relay.http_addr);
    let http = reqwest::Client::new();
    let get = |path: String| {
        let (http, url) = (http.clone(), format!("{base}{path}"));
        async move { http.get(url).send().await.ok()?.json::<Value>().await.ok() }
    };
    // Every count is there.
    let session = eventually(
        20,
        "the button's session stored with its 8 counts",
        || async {
            let v = get("/api/sessions".into()).await?;
            let s = v["sessions"].as_array()?.first()?.clone();
            (s["count"] == 8 && !s["stopped_at"].is_null()).then_some(s)
        },
    )
    .await;
    let id = session["id"].as_str().expect("id").to_owned();
    // Every event has its evidence: the newest as pictures, the oldest as word that they were
    // dropped to stay within the budget.
    let pieces = eventually(20, "ten pieces of evidence", || async {
        let v = get(format!("/api/sessions/{id}/evidence")).await?;
        let all = v["evidence"].as_array()?.clone();
        (all.len() == 10).then_some(all)
    })
    .await;
    let dropped: Vec<u64> = pieces
        .iter()
        .filter(|p| p["dropped"] == true)
        .map(|p| p["seq"].as_u64().expect("seq"))
        .collect();
    // The start and stop have no frame here (no camera); of the crossings, the newest are kept
    // as pictures (two or three, as the words of the dropped ones take room too).
    let pictured: Vec<u64> = pieces
        .iter()
        .filter(|p| p["dropped"] == false)
        .map(|p| p["seq"].as_u64().expect("seq"))
        .collect();
    assert!((2..=3).contains(&pictured.len()), "{pieces:?}");
    assert_eq!(
        pictured,
        (10 - pictured.len() as u64..10).collect::<Vec<_>>()
    );
    assert_eq!(dropped.len() + pictured.len(), 10, "{pieces:?}");
    edge.stop().await;
    relay.stop().await;
}
