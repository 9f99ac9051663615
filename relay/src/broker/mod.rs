//! The embedded MQTT broker (rumqttd), so that one `baycount-relay` is a whole site.
//!
//! Clients reach it through the [`gate`] (TLS, the [`users`] password file, the per-bay ACL);
//! rumqttd itself listens on loopback behind it with a login only the relay knows.

pub mod gate;
pub mod users;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use baycount_plumbing::mqtt_tls::{self, TlsError};
use baycount_protocol::codec::MAX_PAYLOAD;
use rumqttd::protocol::Login;
use rumqttd::{ConnectionSettings, RouterConfig, ServerSettings};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admission::{PerAddress, Refusals, Slots};
use crate::limits::Budget;
use crate::lockout::Lockout;
use crate::metrics::Metrics;

/// Why the embedded broker did not start.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error(
        "cannot listen for MQTT on {addr}: {source}; another broker (e.g. mosquitto) may hold the port: stop it, choose another --mqtt-listen, or use it with --mqtt mqtt://{addr}"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the embedded MQTT broker's thread: {0}")]
    Thread(std::io::Error),
    #[error("the embedded MQTT broker did not accept connections on {0} within 5 s")]
    NotListening(SocketAddr),
    #[error(transparent)]
    Users(#[from] users::UsersError),
    #[error("MQTT TLS: {0}")]
    Tls(#[from] TlsError),
}

/// Who may use the embedded broker and how (the config's `[broker]` section).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Security {
    /// Mosquitto-format password file; each bay's user name is its bay id.
    pub password_file: Option<PathBuf>,
    /// Serve TLS with this certificate chain and key.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Mutual TLS: clients must present a certificate signed by this authority.
    pub client_ca: Option<PathBuf>,
}

impl Security {
    fn tls_acceptor(&self) -> Result<Option<tokio_rustls::TlsAcceptor>, BrokerError> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        let builder = rustls::ServerConfig::builder_with_provider(mqtt_tls::provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::from)?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(mqtt_tls::load_roots(ca)?),
                    mqtt_tls::provider(),
                )
                .build()
                .map_err(|e| TlsError::Certs {
                    path: ca.clone(),
                    reason: e.to_string(),
                })?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder
            .with_single_cert(mqtt_tls::load_certs(cert)?, mqtt_tls::load_key(key)?)
            .map_err(TlsError::from)?;
        Ok(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
    }
}

/// A running embedded broker. rumqttd's threads live until the process exits (it has no
/// stop); the gate stops with `shutdown`.
pub struct EmbeddedBroker {
    /// Where clients connect (the real port when 0 was asked for).
    pub addr: SocketAddr,
    /// rumqttd itself, on loopback, and the login it wants: for the relay's own connection.
    pub internal: SocketAddr,
    pub login: Login,
}

impl std::fmt::Debug for EmbeddedBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The internal login's password stays out of every log.
        f.debug_struct("EmbeddedBroker")
            .field("addr", &self.addr)
            .field("internal", &self.internal)
            .finish_non_exhaustive()
    }
}

impl EmbeddedBroker {
    /// Starts rumqttd on a loopback port and the gate on `listen`; returns once both accept
    /// connections.
    /// The gate serves at most `budget`'s MQTT connections and counts its refusals in `metrics`.
    pub async fn start(
        listen: SocketAddr,
        security: &Security,
        lockout: Arc<Lockout>,
        budget: &Budget,
        metrics: Arc<Metrics>,
        tasks: &TaskTracker,
        shutdown: CancellationToken,
    ) -> Result<Self, BrokerError> {
        let users = security
            .password_file
            .as_deref()
            .map(users::Users::load)
            .transpose()?;
        if let Some(users) = &users {
            log::info!(
                "embedded MQTT broker: {} users, each bay under its own topics",
                users.len()
            );
        }
        let tls = security.tls_acceptor()?;
        let public = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| BrokerError::Bind {
                addr: listen,
                source,
            })?;
        let addr = public.local_addr().map_err(|source| BrokerError::Bind {
            addr: listen,
            source,
        })?;
        let login = Login {
            username: "baycount-relay".into(),
            password: uuid::Uuid::new_v4().simple().to_string(),
        };
        let internal = tokio::task::spawn_blocking({
            let login = login.clone();
            move || start_rumqttd(login)
        })
        .await
        .map_err(|e| BrokerError::Thread(std::io::Error::other(e)))??;
        let gate = Arc::new(gate::Gate {
            users,
            tls,
            lockout,
            upstream: internal,
            upstream_login: login.clone(),
            max_packet: MAX_PAYLOAD + 1024,
            slots: Slots::new(budget.mqtt_connections, metrics.connections_open("mqtt")),
            handshakes: PerAddress::new(budget.mqtt_handshakes_per_address),
            refusals: Refusals::new(
                "MQTT",
                metrics,
                budget.mqtt_handshakes_per_address,
                budget.mqtt_connections,
                budget.open_files,
            ),
        });
        tasks.spawn(gate.run(public, tasks.clone(), shutdown));
        log::info!(
            "embedded MQTT broker listening on {addr}{}",
            if security.tls_cert.is_some() {
                " (TLS)"
            } else {
                ""
            }
        );
        Ok(Self {
            addr,
            internal,
            login,
        })
    }
}

/// rumqttd on a free loopback port, wanting `login`.
fn start_rumqttd(login: Login) -> Result<SocketAddr, BrokerError> {
    let listen: SocketAddr = ([127, 0, 0, 1], 0).into();
    // rumqttd only logs a bind failure from its own thread: find it out here first,
    // and learn the real port.
    let addr = TcpListener::bind(listen)
        .and_then(|l| l.local_addr())
        .map_err(|source| BrokerError::Bind {
            addr: listen,
            source,
        })?;
    let server = ServerSettings {
        name: "baycount".into(),
        listen: addr,
        tls: None,
        next_connection_delay_ms: 1,
        connections: ConnectionSettings {
            connection_timeout_ms: 60_000,
            max_payload_size: MAX_PAYLOAD + 1024,
            max_inflight_count: 500,
            auth: Some(HashMap::from([(login.username, login.password)])),
            external_auth: None,
            dynamic_filters: true,
        },
    };
    let config = rumqttd::Config {
        id: 0,
        router: RouterConfig {
            max_connections: 10_000,
            max_outgoing_packet_count: 500,
            max_segment_size: 16 * 1024 * 1024,
            max_segment_count: 10,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
        v4: Some(HashMap::from([("baycount".to_owned(), server)])),
        ..Default::default()
    };
    let mut broker = rumqttd::Broker::new(config);
    std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            if let Err(e) = broker.start() {
                log::error!("embedded MQTT broker stopped: {e}");
            }
        })
        .map_err(BrokerError::Thread)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(addr);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(BrokerError::NotListening(addr))
}
