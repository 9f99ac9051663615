//! baycount's relay: mirrors every bay's edge from MQTT, keeps the history, serves the API.
//!
//! # Layout
//! - [`config`]: the TOML file, flags and environment.
//! - [`broker`]: the embedded MQTT broker (rumqttd) a site runs by default.
//! - [`mqtt`]: the relay's own MQTT connection. It hands out the bays' messages, parsed, and an
//!   [`mqtt::Outbox`] that publishes with the contract's QoS and retain flags; it uses none of
//!   the modules below, which use only its outbox.
//! - [`ingest`]: what each message means: live state ([`live`]), history records (the
//!   [`recorder`] writes them, events and their evidence, to [`history`] and publishes
//!   `stored`) and acks for [`control`]; [`retention`] deletes old pictures of counts.
//! - [`control`]: the one command path (start, stop) every surface uses.
//! - [`bot`]: the operators' Telegram bot (teloxide).
//! - [`api`]: REST and WebSocket (axum) and the dashboard; [`metrics`]: Prometheus counters;
//!   [`logging`]: journald or stderr; [`systemd`]: readiness and watchdog.
//! - [`limits`]: the file-descriptor budget and the connection caps it allows; [`admission`]:
//!   who gets a connection (per-address counts, refusals, the HTTP listener).
//!
//! [`Relay::start`] wires these together and runs them until its shutdown token is cancelled:
//! the link stops on it, and ingest then the recorder stop when their input ends, after
//! draining it. Tests start it on port 0 and drive the real thing.

pub mod admission;
pub mod api;
pub mod bot;
pub mod broker;
pub mod config;
pub mod control;
pub mod history;
pub mod ingest;
pub mod limits;
pub mod live;
pub mod lockout;
pub mod logging;
pub mod metrics;
pub mod mqtt;
pub mod recorder;
pub mod retention;
pub mod snapshots;
pub mod systemd;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use baycount_plumbing::mqtt::Endpoint;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Broker, Config};
use crate::history::History;

/// How long shutdown waits for tasks to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why the relay could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    History(#[from] history::HistoryError),
    #[error(transparent)]
    Broker(#[from] broker::BrokerError),
    #[error(
        "cannot listen for HTTP on {addr}: {source}; choose another --http address or stop what holds it"
    )]
    Http {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A running relay.
#[derive(Debug)]
pub struct Relay {
    /// Where the API listens.
    pub http_addr: SocketAddr,
    /// Where the embedded broker listens, when there is one.
    pub mqtt_addr: Option<SocketAddr>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    history: History,
}

impl Relay {
    /// Opens the history, starts the broker (if embedded), the MQTT link, ingest, the recorder
    /// and the HTTP server. Everything stops when `shutdown` is cancelled.
    pub async fn start(config: Config, shutdown: CancellationToken) -> Result<Self, StartError> {
        let history = History::open(&config.db).await?;
        let metrics = Arc::new(metrics::Metrics::default());
        let live = Arc::new(live::Live::default());
        let now = chrono::Utc::now();
        for decl in &config.bays {
            history
                .upsert_bay(&decl.id, decl.name.as_deref(), now)
                .await?;
        }
        for bay in history.bays().await? {
            live.declare(bay.id, bay.name, Some(bay.last_seen));
        }

        let budget = limits::Budget::current();
        budget.log();
        metrics.limits(&budget, matches!(config.broker, Broker::Embedded { .. }));
        let tasks = TaskTracker::new();
        let lockout = Arc::new(lockout::Lockout::default());
        let (mqtt_addr, link_options) = match &config.broker {
            Broker::Embedded { listen } => {
                let broker = broker::EmbeddedBroker::start(
                    *listen,
                    &config.broker_security,
                    lockout.clone(),
                    &budget,
                    metrics.clone(),
                    &tasks,
                    shutdown.clone(),
                )
                .await?;
                let opts = Endpoint {
                    host: broker.internal.ip().to_string(),
                    port: broker.internal.port(),
                    username: Some(broker.login.username),
                    password: Some(broker.login.password),
                    tls: None,
                };
                (Some(broker.addr), opts)
            }
            Broker::External(url) => (
                None,
                Endpoint::from_url(url, config.mqtt_tls.as_ref())
                    .map_err(broker::BrokerError::Tls)?,
            ),
        };
        let (link, incoming) = mqtt::Link::new(&link_options);
        let outbox = link.outbox();
        let control = Arc::new(control::Control::new(
            live.clone(),
            history.clone(),
            outbox.clone(),
            metrics.clone(),
            config.ack_timeout,
        ));
        let (record_tx, record_rx) = mpsc::channel(recorder::QUEUE);
        let ingest = ingest::Ingest {
            live: live.clone(),
            control: control.clone(),
            metrics: metrics.clone(),
            recorder: record_tx,
        };
        let (connected_tx, connected_rx) = watch::channel(false);

        let listener = TcpListener::bind(config.http)
            .await
            .map_err(|source| StartError::Http {
                addr: config.http,
                source,
            })?;
        let http_addr = listener.local_addr().map_err(|source| StartError::Http {
            addr: config.http,
            source,
        })?;

        let listener = admission::HttpListener::new(listener, &budget, metrics.clone());

        let recorder = recorder::Recorder {
            history: history.clone(),
            outbox,
            metrics: metrics.clone(),
        };
        tasks.spawn(recorder.run(record_rx));
        tasks.spawn(retention::run(
            history.clone(),
            config.evidence_days,
            metrics.clone(),
            shutdown.clone(),
        ));
        tasks.spawn(ingest.run(incoming));
        tasks.spawn(link.run(metrics.clone(), connected_tx, shutdown.clone()));
        match config.telegram.clone() {
            Some(bot) => bot::start(
                bot,
                bot::Deps {
                    control: control.clone(),
                    live: live.clone(),
                    history: history.clone(),
                },
                &tasks,
                shutdown.clone(),
            ),
            None => log::info!(
                "telegram: no token (TELOXIDE_TOKEN or [telegram] token): running without the bot"
            ),
        }
        let state = Arc::new(api::AppState {
            live,
            control,
            history: history.clone(),
            metrics,
            api_token: config.api_token.clone(),
            viewer_token: config.viewer_token.clone(),
            lockout,
            mqtt_connected: connected_rx,
            shutdown: shutdown.clone(),
            time_zone: config.time_zone,
            hosts: api::Hosts::new(http_addr, &config.http_hosts),
        });
        let app = api::app(state);
        let http_shutdown = shutdown.clone();
        tasks.spawn(async move {
            // `tap_io` (doing nothing) gives the connections their peer's address through
            // axum's own `Connected` impl.
            let serve = axum::serve(
                listener.tap_io(|_| {}),
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(http_shutdown.cancelled_owned());
            if let Err(e) = serve.await {
                log::error!("HTTP server stopped: {e}");
            }
        });
        log::info!("relay listening on http://{http_addr}");
        // READY first: systemd expects no watchdog ping before it.
        systemd::ready();
        tasks.spawn(systemd::watchdog(history.clone(), shutdown.clone()));
        tasks.close();
        Ok(Self {
            http_addr,
            mqtt_addr,
            shutdown,
            tasks,
            history,
        })
    }

    /// Runs until the shutdown token is cancelled, then waits (bounded) for every task.
    pub async fn wait(self) {
        self.shutdown.cancelled().await;
        systemd::stopping();
        if tokio::time::timeout(SHUTDOWN_GRACE, self.tasks.wait())
            .await
            .is_err()
        {
            log::warn!(
                "some tasks did not stop within {} s",
                SHUTDOWN_GRACE.as_secs()
            );
        }
        self.history.close().await;
        log::info!("relay stopped");
    }

    /// Stops the relay and waits for it.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.wait().await;
    }
}
