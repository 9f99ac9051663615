//! `/api/ws`: a snapshot of every bay on connect, then each change as it happens.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::AppState;
use crate::live::Live;
use crate::metrics::Metrics;

/// A client that cannot take a message within this long is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Upgrades to a WebSocket of live updates.
#[utoipa::path(get, path = "/api/ws", responses((status = 400, body = String, description = "not a WebSocket upgrade request"), (status = 101, description = "WebSocket: {\"type\":\"snapshot\",\"bays\":[...]}, then {\"type\":\"bay\",\"bay\":{...}} and {\"type\":\"count\",\"event\":{...},\"bay\":{...}}")))]
pub async fn ws(State(s): State<Arc<AppState>>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket: WebSocket| {
        let (sink, stream) = socket.split();
        serve(
            sink,
            stream,
            s.live.clone(),
            s.metrics.clone(),
            s.shutdown.clone(),
        )
    })
}

/// Feeds one client until it leaves, falls too far behind to catch up, or the relay stops.
/// A slow client only waits on itself: updates reach it through its own broadcast receiver,
/// and when it lags it gets a fresh snapshot instead of the missed updates.
pub async fn serve<W, R>(
    mut sink: W,
    mut stream: R,
    live: Arc<Live>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) where
    W: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    metrics.ws_clients.inc();
    let mut rx = live.subscribe();
    let mut next = Some(live.snapshot_json());
    loop {
        if let Some(text) = next.take() {
            match tokio::time::timeout(SEND_TIMEOUT, sink.send(Message::Text(text.into()))).await {
                Ok(Ok(())) => {}
                _ => break,
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => {
                let _ = sink.send(Message::Close(None)).await;
                break;
            }
            update = rx.recv() => match update {
                Ok(json) => next = Some(json.to_string()),
                Err(RecvError::Lagged(_)) => next = Some(live.snapshot_json()),
                Err(RecvError::Closed) => break,
            },
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
    metrics.ws_clients.dec();
}

#[cfg(test)]
mod tests {
    use baycount_protocol::{BayId, Status};
    use chrono::Utc;
    use tokio::sync::mpsc;
    use tokio_util::sync::PollSender;

    use super::*;

    #[tokio::test]
    async fn snapshot_then_updates_over_any_sink_and_stream() {
        let live = Arc::new(Live::default());
        let bay = BayId::parse("b1").expect("bay");
        live.declare(bay.clone(), None, None);
        let (out_tx, mut out_rx) = mpsc::channel::<Message>(16);
        let (in_tx, in_rx) = mpsc::channel::<Result<Message, axum::Error>>(16);
        let incoming = futures_util::stream::unfold(in_rx, |mut rx| async move {
            rx.recv().await.map(|m| (m, rx))
        });
        let metrics = Arc::new(Metrics::default());
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(serve(
            PollSender::new(out_tx),
            Box::pin(incoming),
            live.clone(),
            metrics,
            shutdown.clone(),
        ));
        let first = out_rx.recv().await.expect("snapshot");
        assert!(
            matches!(&first, Message::Text(t) if t.contains("\"snapshot\"")),
            "{first:?}"
        );
        live.apply_status(&bay, Status::Online, Utc::now());
        let second = out_rx.recv().await.expect("update");
        assert!(
            matches!(&second, Message::Text(t) if t.contains("\"online\":true")),
            "{second:?}"
        );
        drop(in_tx);
        task.await.expect("ends when the client leaves");
    }
}
