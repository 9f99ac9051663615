//! The local socket through which `baycount-edge press --bay ID` presses the running edge's
//! button (the `sim` panel's button, or a real one from a shell at the bay): the edge's side,
//! and what is said over it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use baycount_protocol::{BayState, Phase};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::bay::event_loop::Input;

/// How long a press waits to see the bay's state change before answering.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// The answer to a press: the bay's state after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pressed {
    pub phase: Phase,
    pub session: Option<String>,
    pub plate: Option<String>,
    pub count: u64,
    /// The session this press stopped, with its final count.
    #[serde(default)]
    pub stopped: Option<Stopped>,
}

/// A session a press stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stopped {
    pub session: String,
    pub count: u64,
}

/// Why a press did not reach the edge.
#[derive(Debug, thiserror::Error)]
pub enum PressError {
    #[error(
        "no edge is listening at {path}: {reason}; is `baycount-edge run` running for this bay (or give its --socket)?"
    )]
    Connect { path: PathBuf, reason: String },
    #[error("the edge did not answer the press properly: {0}")]
    Answer(String),
    #[error("cannot listen on {path}: {reason}")]
    Listen { path: PathBuf, reason: String },
}

/// Listens on `path` until `shutdown`, then removes it.
pub async fn serve(
    path: &Path,
    inputs: mpsc::Sender<Input>,
    shown: watch::Receiver<BayState>,
    shutdown: CancellationToken,
) -> Result<(), PressError> {
    let listen = |reason: String| PressError::Listen {
        path: path.to_owned(),
        reason,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| listen(e.to_string()))?;
    }
    // A socket left by a killed edge is replaced; a live edge for the same bay would answer.
    if UnixStream::connect(path).await.is_ok() {
        return Err(listen("another edge is running with this socket".into()));
    }
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).map_err(|e| listen(e.to_string()))?;
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660));
    }
    log::info!("press socket at {}", path.display());
    let mut clients = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    clients.spawn(answer(stream, inputs.clone(), shown.clone()));
                }
                Err(e) => log::warn!("press socket: {e}"),
            },
            Some(_) = clients.join_next(), if !clients.is_empty() => {}
        }
    }
    clients.shutdown().await;
    let _ = std::fs::remove_file(path);
    Ok(())
}

async fn answer(
    stream: UnixStream,
    inputs: mpsc::Sender<Input>,
    mut shown: watch::Receiver<BayState>,
) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let read = tokio::time::timeout(
        Duration::from_secs(5),
        BufReader::new(read.take(256)).read_line(&mut line),
    )
    .await;
    let reply = match read {
        Ok(Ok(_)) if line.trim() == "press" => {
            let (before, mut last) = {
                let s = shown.borrow_and_update();
                (s.phase, (s.session, s.count))
            };
            log::info!("button pressed over the local socket");
            if inputs.send(Input::Press).await.is_err() {
                serde_json::json!({"error": "the edge is shutting down"})
            } else {
                // The last loading state seen is the stopped session's final count.
                let _ = tokio::time::timeout(
                    ANSWER_WITHIN,
                    shown.wait_for(|s| {
                        if s.phase == Phase::Loading {
                            last = (s.session, s.count);
                        }
                        s.phase != before
                    }),
                )
                .await;
                let s = shown.borrow();
                let stopped = (before == Phase::Loading && s.phase == Phase::Idle)
                    .then(|| last.0.map(|id| (id.to_string(), last.1)))
                    .flatten();
                serde_json::json!(Pressed {
                    phase: s.phase,
                    session: s.session.map(|id| id.to_string()),
                    plate: s.plate.as_ref().map(|p| p.to_string()),
                    count: s.count,
                    stopped: stopped.map(|(session, count)| Stopped { session, count }),
                })
            }
        }
        _ => serde_json::json!({"error": "unknown request; send `press`"}),
    };
    let _ = write.write_all(format!("{reply}\n").as_bytes()).await;
}
