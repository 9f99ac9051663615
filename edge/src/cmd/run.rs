//! `baycount-edge run`: the appliance at the bay, wired together: journal, MQTT link, counting
//! pipeline, bay loop, panel (lamps and button), press socket and systemd, under one shutdown
//! signal; nothing is left running when it returns.

use std::time::Duration;

use anyhow::Context;
use baycount_plumbing::mqtt::Endpoint;
use baycount_protocol::{BayState, Health};
use chrono::Utc;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::bay::counting::Control;
use crate::bay::event_loop::{self, Io};
use crate::bay::evidence::EvidenceStore;
use crate::bay::journal::Journal;
use crate::bay::link::{Link, LinkOptions};
use crate::bay::pictures::Pictures;
use crate::config::EdgeConfig;
use crate::panel::{self, gpio, press_socket};
use crate::systemd;
use crate::vision::live_view::LiveView;
use crate::vision::pipeline_thread;

/// Runs the bay until `shutdown` (or a fatal journal error, returned).
pub async fn run(c: EdgeConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    log::info!(
        "bay {}: counting {:?} across {:?}, broker {:?}, journal {}",
        c.bay,
        c.counting.pipeline.source,
        c.counting.pipeline.counter.line,
        c.mqtt,
        c.journal.display()
    );
    let journal = Journal::open_limited(&c.journal, c.journal_max_bytes)
        .await
        .with_context(|| format!("journal {}", c.journal.display()))?;
    let gpio = gpio::open(&c.gpio)?;
    let (link, inbound, link_task) = Link::start(
        &LinkOptions {
            bay: c.bay.clone(),
            broker: Endpoint::from_url(&c.mqtt, c.mqtt_tls.as_ref())
                .context("cannot set up TLS for the MQTT link")?,
        },
        shutdown.clone(),
    );
    let (inputs_tx, inputs) = mpsc::channel(256);
    let (health_tx, health) = watch::channel(Health::default());
    let (shown, shown_rx) = watch::channel(BayState::idle(Utc::now()));
    let view = LiveView::default();
    let (counting, spec) = Control::beside(&c.journal, c.counting.pipeline.clone());
    let pipeline_thread = pipeline_thread::spawn(
        c.counting.clone(),
        pipeline_thread::Links {
            inputs: inputs_tx.clone(),
            health: health_tx,
            bay: shown_rx.clone(),
            view: view.clone(),
            spec,
        },
        shutdown.clone(),
    )
    .context("cannot start the counting thread")?;
    let panel = tokio::spawn(panel::task::run(
        gpio,
        Duration::from_millis(c.gpio.debounce_ms),
        shown_rx.clone(),
        inputs_tx.clone(),
        shutdown.clone(),
    ));
    let socket = {
        let (path, inputs, shutdown) = (c.socket.clone(), inputs_tx.clone(), shutdown.clone());
        tokio::spawn(async move {
            if let Err(e) = press_socket::serve(&path, inputs, shown_rx, shutdown).await {
                log::error!("{e}; `baycount-edge press` will not reach this edge");
            }
        })
    };
    drop(inputs_tx);
    systemd::ready();
    let pictures = Pictures {
        view,
        store: EvidenceStore::beside(&c.journal, c.evidence_max_bytes)?,
        link: link.clone(),
        relay_keeps: Default::default(),
    };
    let io = Io {
        link,
        inbound,
        journal: journal.clone(),
        inputs,
        health,
        shown,
        pictures,
        counting,
    };
    let result = event_loop::run(io, shutdown.clone()).await;
    systemd::stopping();
    shutdown.cancel();
    let _ = panel.await;
    let _ = socket.await;
    let _ = link_task.await;
    // The pipeline thread notices the shutdown within a frame wait (200 ms).
    let _ = tokio::task::spawn_blocking(move || pipeline_thread.join()).await;
    journal.close().await;
    log::info!("bay {}: stopped", c.bay);
    result.context("the bay's journal failed")
}
