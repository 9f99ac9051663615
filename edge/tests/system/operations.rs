//! The edge as it is operated: under systemd (readiness, watchdog), over mutual TLS, and
//! resting its detector while the bay is idle.

use std::process::Command;
use std::time::{Duration, Instant};

use baycount_testkit::{TestRelay, Which, closed_port, eventually};
use serde_json::Value;

use crate::SERIAL;
use crate::edge::Edge;
use crate::flow::*;

#[tokio::test]
async fn systemd_hears_ready_and_a_watchdog_fed_only_while_frames_flow() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    // Two seconds of footage, played as fast as it goes: frames flow, then stop.
    let clip = dir.path().join("clip.mp4");
    let made = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-f", "lavfi", "-i"])
        .arg("testsrc=duration=2:size=320x240:rate=10")
        .arg(&clip)
        .status()
        .unwrap();
    assert!(made.success());
    let notify = dir.path().join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&notify).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let source = format!("file:{}", clip.display());
    // Nothing listens on the broker's port: the edge counts without one.
    let mut edge = Edge::new(
        dir.path(),
        closed_port(),
        &["--source", &source, "--no-realtime"],
    );
    edge.env.push(("NOTIFY_SOCKET".into(), notify.clone()));
    edge.spawn();
    let mut heard: Vec<(Instant, String)> = Vec::new();
    let t0 = Instant::now();
    let mut buf = [0u8; 256];
    while t0.elapsed() < Duration::from_secs(20) {
        if let Ok(n) = socket.recv(&mut buf) {
            heard.push((
                Instant::now(),
                String::from_utf8_lossy(&buf[..n]).into_owned(),
            ));
        }
        if edge.log().contains("the footage ended") {
            break;
        }
    }
    let ended = Instant::now();
    assert!(edge.log().contains("the footage ended"), "{}", edge.log());
    assert_eq!(
        heard.first().map(|h| h.1.trim()),
        Some("READY=1"),
        "{heard:?}"
    );
    assert!(
        heard.iter().any(|h| h.1.trim() == "WATCHDOG=1"),
        "fed while frames flowed: {heard:?}"
    );
    // No frames, no watchdog: systemd would restart a stuck edge.
    while ended.elapsed() < Duration::from_secs(3) {
        if let Ok(n) = socket.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            assert_ne!(msg.trim(), "WATCHDOG=1", "fed after the frames stopped");
        }
    }
    edge.terminate();
    let mut stopping = false;
    while let Ok(n) = socket.recv(&mut buf) {
        stopping |= String::from_utf8_lossy(&buf[..n]).trim() == "STOPPING=1";
    }
    assert!(stopping, "STOPPING=1 on SIGTERM");
}

#[tokio::test]
async fn an_idle_bay_rests_its_detector_and_looks_at_every_frame_while_loading() {
    let _serial = SERIAL.lock().await;
    let relay = TestRelay::start(Which::Embedded).await;
    let dir = tempfile::tempdir().unwrap();
    // The synthetic camera plays at 10 frames a second.
    let mut args = synthetic().to_vec();
    args.extend(["--idle-fps", "1"]);
    let _edge = Edge::start(dir.path(), relay.mqtt_port, &args);
    wait_online(&relay).await;
    let rates = |b: &Value| {
        let h = &b["health"];
        (h["fps"].as_f64().unwrap_or(0.0), h["detect_fps"].as_f64())
    };
    let health = |what: &'static str, f: fn(f64, f64) -> bool| {
        let relay = &relay;
        async move {
            eventually(60, what, || async {
                let bay = relay.bay("bay-1").await?;
                let (fps, detect) = rates(&bay);
                f(fps, detect?).then_some(bay)
            })
            .await
        }
    };
    let idle = health("idle: 1 look a second of 10 frames", |fps, detect| {
        fps >= 5.0 && detect <= 1.5
    })
    .await;
    assert_eq!(idle["phase"], "idle", "{idle}");
    let session = start(&relay, "B 1 IDL").await;
    health(
        "loading: the detector at the camera's rate",
        |fps, detect| fps >= 5.0 && detect >= 3.0,
    )
    .await;
    let count = stop(&relay).await;
    assert_eq!(stored(&relay, session).await["count"], count);
    health("idle again after STOP", |fps, detect| {
        fps >= 5.0 && detect <= 1.5
    })
    .await;
}

#[tokio::test]
async fn the_edge_counts_over_mutual_tls_with_its_own_login_only() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = baycount_testkit::ca::TestCa::new(dir.path(), "site-ca");
    let (server_cert, server_key) = ca.issue("relay");
    let (edge_cert, edge_key) = ca.issue("bay-1");
    let passwords = dir.path().join("mqtt.passwd");
    baycount_relay::broker::users::set_password(&passwords, "bay-1", "bay-1-pw").unwrap();
    let relay = TestRelay::start_with(Which::Embedded, |c| {
        c.broker_security = baycount_relay::broker::Security {
            password_file: Some(passwords),
            tls_cert: Some(server_cert),
            tls_key: Some(server_key),
            client_ca: Some(ca.cert.clone()),
        };
    })
    .await;
    let tls_flags = |e: &mut Edge| {
        e.mqtt = format!("mqtts://127.0.0.1:{}", e.mqtt_port);
        for (flag, path) in [
            ("--mqtt-ca", &ca.cert),
            ("--mqtt-cert", &edge_cert),
            ("--mqtt-key", &edge_key),
        ] {
            e.extra.push(flag.to_owned());
            e.extra.push(path.display().to_string());
        }
    };

    // A wrong password: refused, said plainly in the edge's log, never online.
    let wrong_dir = tempfile::tempdir().unwrap();
    let mut wrong = Edge::new(wrong_dir.path(), relay.mqtt_port, &synthetic());
    tls_flags(&mut wrong);
    wrong
        .env
        .push(("BAYCOUNT_MQTT_PASSWORD".into(), "guess".into()));
    wrong.spawn();
    eventually(10, "the refusal in the edge's log", || async {
        wrong
            .log()
            .contains("refused bay bay-1's login")
            .then_some(())
    })
    .await;
    assert!(relay.bay("bay-1").await.is_none_or(|b| b["online"] != true));
    assert!(!wrong.log().contains("guess"), "the password is not logged");
    drop(wrong);

    let mut edge = Edge::new(dir.path(), relay.mqtt_port, &synthetic());
    tls_flags(&mut edge);
    edge.env
        .push(("BAYCOUNT_MQTT_PASSWORD".into(), "bay-1-pw".into()));
    edge.spawn();
    wait_online(&relay).await;
    let session = start(&relay, "KT 4 TLS").await;
    wait_count(&relay, 2).await;
    let count = stop(&relay).await;
    agrees(&relay, &edge, session, count).await;
}

#[tokio::test]
async fn the_live_view_shows_what_the_edge_sees_and_an_offline_bay_says_so() {
    let _serial = SERIAL.lock().await;
    let relay = TestRelay::start(Which::Embedded).await;
    let dir = tempfile::tempdir().unwrap();
    let foot = format!("file:{}", crate::footage::footage().display());
    // Real footage in real time, the detector looking around the line as by default.
    let mut edge = Edge::start(
        dir.path(),
        relay.mqtt_port,
        &["--source", &foot, "--line", crate::footage::LINE, "--loop"],
    );
    wait_online(&relay).await;
    let url = relay.url("/api/bays/bay-1/snapshot.jpg");
    let picture = eventually(60, "a picture of the first frames", || async {
        let r = relay.client.get(&url).send().await.ok()?;
        (r.status() == 200).then_some(r.bytes().await.ok()?)
    })
    .await;
    let (rgb, w, h) = baycount_edge::vision::camera::v4l::decode_mjpeg(&picture).expect("a JPEG");
    // The square part of the 768x576 picture around the line (as the detector sees it), at
    // 640 px, within the contract's 64 KiB.
    assert!(picture.len() <= 64 * 1024, "{} bytes", picture.len());
    assert_eq!((w, h), (640, 640));
    // The counting line is drawn: yellow pixels down the picture's middle column band.
    let yellow = (0..h)
        .filter(|&y| {
            (w / 2 - 6..w / 2 + 6).any(|x| {
                let p = ((y * w + x) * 3) as usize;
                rgb[p] > 180 && rgb[p + 1] > 180 && rgb[p + 2] < 90
            })
        })
        .count();
    assert!(yellow as u32 > h / 2, "line rows {yellow} of {h}");
    // The bay's page in a browser shows the pictures as they come (README's screenshot).
    let b = baycount_testkit::browser::Browser::start().await;
    b.client.goto(&relay.url("/#/bay/bay-1")).await.unwrap();
    b.until(
        30,
        "the bay page's pictures",
        "const i = document.querySelector('#bay-live'); \
         return !!i && !i.hidden && i.naturalWidth === 640 && Number(i.dataset.frames) >= 3",
    )
    .await;
    b.screenshot(&shots(), "live-view.png").await;
    b.close().await;
    edge.kill();
    relay
        .wait_bay("bay-1", "offline", |b| b["online"] == false)
        .await;
    let (status, body) = relay.get("/api/bays/bay-1/snapshot.jpg").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "bay_offline");
}

fn shots() -> std::path::PathBuf {
    baycount_testkit::browser::screenshots(env!("CARGO_TARGET_TMPDIR"))
}

#[tokio::test]
async fn a_line_drawn_in_the_dashboard_changes_what_the_edge_counts_and_outlives_a_restart() {
    let _serial = SERIAL.lock().await;
    let relay = TestRelay::start(Which::Embedded).await;
    let dir = tempfile::tempdir().unwrap();
    // The synthetic scene's boxes move down the picture: across `0,0.5,1,0.5` that is `in`.
    let mut edge = Edge::start(dir.path(), relay.mqtt_port, &synthetic());
    wait_online(&relay).await;
    let reported = eventually(10, "the bay reports its line", || async {
        let (s, b) = relay.get("/api/bays/bay-1/counting").await;
        (s == 200).then_some(b)
    })
    .await;
    assert_eq!(reported["line"], "0,0.5,1,0.5", "{reported}");
    // On the bay's page: flip the line (the same boxes now go out) and drag its far end down
    // a little, as a person would, over the live picture.
    let b = baycount_testkit::browser::Browser::start().await;
    b.client.goto(&relay.url("/#/bay/bay-1")).await.unwrap();
    b.until(
        30,
        "the bay's picture",
        "const i = document.querySelector('#bay-live'); return !!i && !i.hidden && i.naturalWidth > 0",
    )
    .await;
    b.click("#edit-line-button").await;
    b.click("#flip-line").await;
    b.until(
        10,
        "the line flipped",
        "return document.querySelector('#line-value').textContent === 'line 1,0.5,0,0.5'",
    )
    .await;
    b.until(
        10,
        "the flipped line dragged",
        "const h = document.querySelector('#edit-p2'), box = document.querySelector('#line-editor').getBoundingClientRect(); \
         const [rx1, ry1, rx2, ry2] = editor.region; \
         const at = (x, y) => ({ clientX: box.left + (x - rx1) / (rx2 - rx1) * box.width, \
           clientY: box.top + (y - ry1) / (ry2 - ry1) * box.height, pointerId: 7, bubbles: true }); \
         h.dispatchEvent(new PointerEvent('pointerdown', at(0, 0.5))); \
         h.dispatchEvent(new PointerEvent('pointermove', at(0, 0.53))); \
         h.dispatchEvent(new PointerEvent('pointermove', at(0, 0.55))); \
         h.dispatchEvent(new PointerEvent('pointerup', at(0, 0.55))); \
         return document.querySelector('#line-value').textContent",
    )
    .await;
    assert_eq!(b.text("#line-value").await, "line 1,0.5,0,0.55");
    b.screenshot(&shots(), "line-editor.png").await;
    b.click("#save-line").await;
    b.until(
        15,
        "saved",
        "return document.querySelector('#line-value').textContent.startsWith('saved')",
    )
    .await;
    assert_eq!(b.text("#line-value").await, "saved: line 1,0.5,0,0.55");
    let (_, now) = relay.get("/api/bays/bay-1/counting").await;
    assert_eq!(now["line"], "1,0.5,0,0.55", "{now}");
    start(&relay, "KT 1 LINE").await;
    relay
        .wait_bay("bay-1", "counted out on the new line", |b| {
            b["out"].as_u64() >= Some(2) && b["count"] == 0
        })
        .await;
    // Not while loading: the page says why.
    b.click("#edit-line-button").await;
    b.click("#flip-line").await;
    b.click("#save-line").await;
    let why = b
        .until(
            15,
            "refused while loading",
            "const e = document.querySelector('#line-error'); return !e.hidden && e.textContent",
        )
        .await;
    assert!(why.as_str().is_some_and(|w| w.contains("loading")), "{why}");
    b.close().await;
    stop(&relay).await;
    let (_, audit) = relay.get("/api/audit").await;
    let changes: Vec<&Value> = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "configure")
        .collect();
    assert_eq!(changes.len(), 2, "{audit}");
    assert!(
        changes
            .iter()
            .any(|e| e["outcome"] == "ok" && e["actor"] == "dashboard"),
        "{audit}"
    );
    assert!(
        edge.log().contains("counting again with new settings"),
        "{}",
        edge.log()
    );
    // The edge restarted with the same config keeps the line it was given.
    edge.kill();
    relay
        .wait_bay("bay-1", "offline", |b| b["online"] == false)
        .await;
    let edge = Edge::start(dir.path(), relay.mqtt_port, &synthetic());
    wait_online(&relay).await;
    let (_, after) = relay.get("/api/bays/bay-1/counting").await;
    assert_eq!(after["line"], "1,0.5,0,0.55", "{after}");
    assert!(
        edge.log().contains("counting as dashboard set at"),
        "{}",
        edge.log()
    );
}
