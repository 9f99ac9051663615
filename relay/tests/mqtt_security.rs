//! Who may use MQTT: per-bay users and the ACL, on the embedded broker and on Mosquitto run with
//! the shipped `mosquitto/` config; TLS with a certificate authority made here; mutual TLS; and
//! password guessing locked out.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use baycount_plumbing::mqtt_tls::ClientTls;
use baycount_protocol::*;
use baycount_relay::broker::Security;
use baycount_relay::config::{Broker, MqttUrl};
use baycount_testkit::bays::login;
use baycount_testkit::ca::TestCa;
use baycount_testkit::*;
use rumqttc::{
    AsyncClient, ConnectionError, Event as MqttEvent, MqttOptions, Packet, QoS, TlsConfiguration,
    Transport,
};
use serde_json::json;

const PASSWORDS: [(&str, &str); 3] = [
    ("relay", "relay-pw"),
    ("bay-1", "one-pw"),
    ("bay-2", "two-pw"),
];

fn password_file(dir: &Path) -> PathBuf {
    bays::password_file(dir, &PASSWORDS)
}

/// `login`, over TLS with `config`.
fn tls_login(
    user: &'static str,
    password: &'static str,
    config: Arc<rustls::ClientConfig>,
) -> impl FnOnce(&mut MqttOptions) {
    move |o| {
        o.set_credentials(user, password);
        o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(config)));
    }
}

/// Connects a bare client and returns it once the broker accepted it, or how it refused.
async fn connect(
    port: u16,
    configure: impl FnOnce(&mut MqttOptions),
) -> Result<(AsyncClient, rumqttc::EventLoop), String> {
    let mut opts = MqttOptions::new(unique_client_id("probe"), "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(5));
    configure(&mut opts);
    let (client, mut eventloop) = AsyncClient::new(opts, 100);
    let outcome = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match eventloop.poll().await {
                Ok(MqttEvent::Incoming(Packet::ConnAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(ConnectionError::ConnectionRefused(code)) => return Err(format!("{code:?}")),
                Err(e) => return Err(e.to_string()),
            }
        }
    })
    .await
    .unwrap_or_else(|_| Err("no answer within 10 s".into()));
    outcome.map(|()| (client, eventloop))
}

/// Everything a client received within `secs`, as (topic, payload).
async fn received(eventloop: &mut rumqttc::EventLoop, secs: f64) -> Vec<(String, Vec<u8>)> {
    let mut got = vec![];
    let _ = tokio::time::timeout(Duration::from_secs_f64(secs), async {
        while let Ok(ev) = eventloop.poll().await {
            if let MqttEvent::Incoming(Packet::Publish(p)) = ev {
                got.push((p.topic.clone(), p.payload.to_vec()));
            }
        }
    })
    .await;
    got
}

/// The rules every broker must enforce, checked through the relay's view of bay-1.
async fn each_bay_keeps_to_its_own_topics(relay: &TestRelay) {
    let port = relay.mqtt_port;
    let edge =
        ScriptedEdge::connect_with(port, "bay-1", Mode::Respond, login("bay-1", "one-pw")).await;
    relay
        .wait_bay("bay-1", "bay-1 online", |b| b["online"] == true)
        .await;

    // Wrong or missing credentials are refused.
    for (what, result) in [
        (
            "a wrong password",
            connect(port, login("bay-1", "two-pw")).await,
        ),
        (
            "an unknown user",
            connect(port, login("bay-9", "one-pw")).await,
        ),
        ("no credentials", connect(port, |_| {}).await),
    ] {
        let refused = result.err().unwrap_or_else(|| panic!("{what} was let in"));
        assert!(
            refused.contains("BadUserNamePassword") || refused.contains("NotAuthorized"),
            "{what}: {refused}"
        );
    }

    // bay-2's credentials cannot read bay-1's commands...
    let (intruder, mut intruder_loop) = connect(port, login("bay-2", "two-pw"))
        .await
        .expect("bay-2 may connect");
    for filter in [
        "baycount/v1/bay-1/cmd",
        "baycount/v1/+/cmd",
        "baycount/v1/#",
        "#",
    ] {
        intruder
            .subscribe(filter, QoS::AtLeastOnce)
            .await
            .expect("queued");
    }
    let (s, _) = relay
        .post("/api/bays/bay-1/start", json!({"plate": "KT 1 AB"}))
        .await;
    assert!(s.is_success(), "start reaches bay-1 through the ACL: {s}");
    let session = relay
        .wait_bay("bay-1", "loading", |b| b["phase"] == "loading")
        .await["session"]
        .as_str()
        .expect("session")
        .to_owned();
    let first = edge.count(Direction::In).await;
    relay
        .wait_bay("bay-1", "count 1", |b| b["count"] == 1)
        .await;

    // ...nor fake bay-1's counts or state.
    let mut fake = first.clone();
    fake.seq += 1;
    fake.count += 1;
    let mut fake_state = edge.state();
    fake_state.count = 999;
    for (kind, payload) in [
        (Kind::Event, encode(&fake)),
        (Kind::State, encode(&fake_state)),
        (Kind::Status, b"offline".to_vec()),
    ] {
        intruder
            .publish(
                Topic::new(BayId::parse("bay-1").expect("bay"), kind).to_string(),
                QoS::AtLeastOnce,
                false,
                payload,
            )
            .await
            .expect("queued");
    }
    let heard = received(&mut intruder_loop, 1.5).await;
    assert!(
        heard
            .iter()
            .all(|(t, _)| !t.starts_with("baycount/v1/bay-1/")),
        "bay-2 heard bay-1's topics: {heard:?}"
    );
    let bay = relay.bay("bay-1").await.expect("bay-1");
    assert_eq!(
        (bay["count"].clone(), bay["online"].clone()),
        (json!(1), json!(true)),
        "{bay}"
    );
    let (_, detail) = relay.get(&format!("/api/sessions/{session}")).await;
    assert_eq!(detail["count"], 1, "{detail}");
    drop(edge);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_broker_keeps_each_bay_to_its_own_topics() {
    let dir = tempfile::tempdir().expect("dir");
    let file = password_file(dir.path());
    let relay = TestRelay::start_with(Which::Embedded, |c| {
        c.broker_security.password_file = Some(file);
    })
    .await;
    each_bay_keeps_to_its_own_topics(&relay).await;
}

/// The shipped Mosquitto config and ACL, with paths and port for this test, and a password
/// file written by `baycount-relay mqtt-user`'s code (so one file serves either broker).
fn shipped_mosquitto(extra: &str) -> Mosquitto {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../mosquitto");
    let conf = std::fs::read_to_string(root.join("baycount.conf")).expect("shipped conf");
    let acl = root.join("baycount.acl");
    let extra = extra.to_owned();
    Mosquitto::start_with_conf(move |port, dir| {
        let passwd = password_file(dir);
        let mut text: String = conf
            .lines()
            .filter(|l| !l.starts_with("listener"))
            .map(|l| {
                l.replace(
                    "/etc/mosquitto/baycount.passwd",
                    &passwd.display().to_string(),
                )
                .replace(
                    "/etc/mosquitto/conf.d/baycount.acl",
                    &acl.display().to_string(),
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        // `user root`: when the tests run as root, Mosquitto would otherwise switch to its own
        // user, who cannot read this test's private files (no effect as any other user).
        text.push_str(&format!(
            "\nuser root\nlistener {port} 127.0.0.1\npersistence false\n{extra}\n"
        ));
        text
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_with_the_shipped_config_does_the_same() {
    let mosquitto = shipped_mosquitto("");
    let port = mosquitto.port;
    let relay = TestRelay::start_with(Which::Embedded, |c| {
        c.broker = Broker::External(
            MqttUrl::parse(&format!("mqtt://relay:relay-pw@127.0.0.1:{port}")).expect("url"),
        );
    })
    .await;
    each_bay_keeps_to_its_own_topics(&relay).await;
    drop(mosquitto);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bay_cannot_leave_a_last_will_on_another_bays_topic() {
    let dir = tempfile::tempdir().expect("dir");
    let file = password_file(dir.path());
    let relay = TestRelay::start_with(Which::Embedded, |c| {
        c.broker_security.password_file = Some(file);
    })
    .await;
    let refused = connect(relay.mqtt_port, |o| {
        o.set_credentials("bay-2", "two-pw")
            .set_last_will(rumqttc::LastWill::new(
                "baycount/v1/bay-1/status",
                "offline",
                QoS::AtLeastOnce,
                true,
            ));
    })
    .await
    .err()
    .expect("refused");
    assert!(refused.contains("NotAuthorized"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_guessing_is_locked_out() {
    let dir = tempfile::tempdir().expect("dir");
    let file = password_file(dir.path());
    let relay = TestRelay::start_with(Which::Embedded, |c| {
        c.broker_security.password_file = Some(file);
    })
    .await;
    let port = relay.mqtt_port;
    for i in 0..baycount_relay::lockout::MAX_FAILURES {
        let r = connect(port, move |o| {
            o.set_credentials("bay-1", format!("guess-{i}"));
        })
        .await;
        assert!(r.is_err(), "guess {i} let in");
    }
    let refused = connect(port, login("bay-1", "one-pw"))
        .await
        .err()
        .expect("locked out");
    assert!(
        refused.contains("NotAuthorized"),
        "even the right password waits: {refused}"
    );
    // The relay's own link is not behind the gate: it carries on.
    assert!(relay.get("/healthz").await.0.is_success());
}

fn client_config(ca: &Path, identity: Option<&(PathBuf, PathBuf)>) -> Arc<rustls::ClientConfig> {
    Arc::new(
        ClientTls {
            ca: Some(ca.to_owned()),
            cert: identity.map(|i| i.0.clone()),
            key: identity.map(|i| i.1.clone()),
        }
        .client_config()
        .expect("client TLS"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_broker_over_tls_and_mutual_tls() {
    let dir = tempfile::tempdir().expect("dir");
    let ca = TestCa::new(dir.path(), "site-ca");
    let server = ca.issue("relay");
    let edge_id = ca.issue("bay-1");
    let stranger = TestCa::new(dir.path(), "other-ca");
    let stranger_id = stranger.issue("bay-1-forged");
    let file = password_file(dir.path());
    let relay = TestRelay::start_with(Which::Embedded, |c| {
        c.broker_security = Security {
            password_file: Some(file),
            tls_cert: Some(server.0.clone()),
            tls_key: Some(server.1.clone()),
            client_ca: Some(ca.cert.clone()),
        };
    })
    .await;
    let port = relay.mqtt_port;
    let _edge = ScriptedEdge::connect_with(
        port,
        "bay-1",
        Mode::Respond,
        tls_login("bay-1", "one-pw", client_config(&ca.cert, Some(&edge_id))),
    )
    .await;
    relay
        .wait_bay("bay-1", "bay-1 online over mutual TLS", |b| {
            b["online"] == true
        })
        .await;
    let (s, _) = relay
        .post("/api/bays/bay-1/start", json!({"plate": "KT 2 CD"}))
        .await;
    assert!(s.is_success(), "commands flow over TLS: {s}");

    for (what, result) in [
        ("plain TCP", connect(port, login("bay-2", "two-pw")).await),
        (
            "TLS without a client certificate",
            connect(
                port,
                tls_login("bay-2", "two-pw", client_config(&ca.cert, None)),
            )
            .await,
        ),
        (
            "a certificate from another authority",
            connect(
                port,
                tls_login(
                    "bay-2",
                    "two-pw",
                    client_config(&ca.cert, Some(&stranger_id)),
                ),
            )
            .await,
        ),
        (
            "a client that does not trust the site's authority",
            connect(
                port,
                tls_login(
                    "bay-2",
                    "two-pw",
                    client_config(&stranger.cert, Some(&edge_id)),
                ),
            )
            .await,
        ),
    ] {
        assert!(result.is_err(), "{what} was let in");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_and_edge_reach_mosquitto_over_mutual_tls() {
    let dir = tempfile::tempdir().expect("dir");
    let ca = TestCa::new(dir.path(), "site-ca");
    let broker = ca.issue("broker");
    let relay_id = ca.issue("relay");
    let edge_id = ca.issue("bay-1");
    let mosquitto = shipped_mosquitto(&format!(
        "cafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\n",
        ca.cert.display(),
        broker.0.display(),
        broker.1.display()
    ));
    let port = mosquitto.port;
    let relay = TestRelay::start_with(Which::Embedded, |c| {
        c.broker = Broker::External(
            MqttUrl::parse(&format!("mqtts://relay:relay-pw@127.0.0.1:{port}")).expect("url"),
        );
        c.mqtt_tls = Some(ClientTls {
            ca: Some(ca.cert.clone()),
            cert: Some(relay_id.0.clone()),
            key: Some(relay_id.1.clone()),
        });
    })
    .await;
    let _edge = ScriptedEdge::connect_with(
        port,
        "bay-1",
        Mode::Respond,
        tls_login("bay-1", "one-pw", client_config(&ca.cert, Some(&edge_id))),
    )
    .await;
    relay
        .wait_bay("bay-1", "bay-1 online through Mosquitto over mTLS", |b| {
            b["online"] == true
        })
        .await;
    let (s, _) = relay
        .post("/api/bays/bay-1/start", json!({"plate": "KT 3 EF"}))
        .await;
    assert!(s.is_success(), "commands flow: {s}");
    assert!(
        connect(
            port,
            tls_login("bay-2", "two-pw", client_config(&ca.cert, None))
        )
        .await
        .is_err(),
        "Mosquitto wants a client certificate"
    );
    drop(mosquitto);
}

#[test]
fn private_keys_anyone_can_read_are_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let ca = TestCa::new(dir.path(), "site-ca");
    let (cert, key) = ca.issue("bay-1");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    let err = ClientTls {
        ca: Some(ca.cert.clone()),
        cert: Some(cert),
        key: Some(key),
    }
    .client_config()
    .expect_err("world-readable key");
    assert!(err.to_string().contains("chmod o-rwx"), "{err}");
}
