//! The embedded MQTT broker (rumqttd), so that one `baycount-relay` is a whole site.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use baycount_protocol::codec::MAX_PAYLOAD;
use rumqttd::{ConnectionSettings, RouterConfig, ServerSettings};

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
}

/// A running embedded broker. Its threads live until the process exits (rumqttd has no stop).
#[derive(Debug)]
pub struct EmbeddedBroker {
    /// Where it listens (the real port when 0 was asked for).
    pub addr: SocketAddr,
}

impl EmbeddedBroker {
    /// Starts rumqttd on `listen` and returns once it accepts connections.
    pub fn start(listen: SocketAddr) -> Result<Self, BrokerError> {
        // rumqttd only logs a bind failure from its own thread: find it out here first,
        // and learn the real port if 0 was asked for.
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
                auth: None,
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
                log::info!("embedded MQTT broker listening on {addr}");
                return Ok(Self { addr });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(BrokerError::NotListening(addr))
    }
}
