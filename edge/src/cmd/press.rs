//! `baycount-edge press`: presses the running edge's button over its local socket.

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use crate::panel::press_socket::{ANSWER_WITHIN, PressError, Pressed};

/// Presses the button of the edge listening at `path`; returns the bay's state after it.
pub async fn press(path: &Path) -> Result<Pressed, PressError> {
    let stream = UnixStream::connect(path)
        .await
        .map_err(|e| PressError::Connect {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    let (read, mut write) = stream.into_split();
    write
        .write_all(b"press\n")
        .await
        .map_err(|e| PressError::Answer(e.to_string()))?;
    let mut line = String::new();
    tokio::time::timeout(
        ANSWER_WITHIN + Duration::from_secs(3),
        BufReader::new(read).read_line(&mut line),
    )
    .await
    .map_err(|_| PressError::Answer("no answer within 5 s".into()))?
    .map_err(|e| PressError::Answer(e.to_string()))?;
    serde_json::from_str(&line).map_err(|_| PressError::Answer(line.trim().to_owned()))
}
