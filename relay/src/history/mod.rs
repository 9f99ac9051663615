//! The SQLite history (sqlx): opened and migrated at start-up, one write connection, WAL.
//!
//! Writes go through [`History::write`] only (one writer); reads use a small pool beside it.

mod audit;
mod bays;
mod events;
mod sessions;

use std::path::Path;
use std::str::FromStr;

use baycount_plumbing::sqlite::{OpenError, SqliteFile};
use chrono::{DateTime, TimeZone, Utc};
use sqlx::sqlite::{SqlitePool, SqliteSynchronous};

pub use audit::AuditEntry;
pub use bays::{KnownBay, PlateRow};
pub use events::{EventWrite, SessionCursor, StoreOutcome};
pub use sessions::{
    Correction, CorrectionInput, EventRow, SessionDetail, SessionFilter, SessionRow,
};

/// Why the history could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("cannot migrate the history database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("history database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error(
        "the history holds a value it cannot read back ({0}); the database may have been edited by hand"
    )]
    Corrupt(String),
}

/// The history database.
#[derive(Debug, Clone)]
pub struct History {
    /// The one connection that writes (SQLite has one writer; this keeps the queue in our hands).
    write: SqlitePool,
    /// Connections for the API's reads, which WAL lets run beside the writer.
    read: SqlitePool,
}

impl History {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub async fn open(path: &Path) -> Result<Self, HistoryError> {
        let file = SqliteFile {
            path,
            what: "history database",
            check: None,
            synchronous: SqliteSynchronous::Normal,
            max_bytes: None,
        };
        let write = file.pool(1).await?;
        sqlx::migrate!("../migrations").run(&write).await?;
        let read = file.read_only_pool(4).await?;
        Ok(Self { write, read })
    }

    /// Closes both pools, waiting for queries under way.
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.read).await.is_ok()
    }
}

/// Milliseconds since the epoch, as the history stores times.
pub fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// A stored time back as a `DateTime`.
pub fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// Parses a value the history stored as text.
fn parse_stored<T: FromStr>(what: &str, s: &str) -> Result<T, HistoryError> {
    s.parse()
        .map_err(|_| HistoryError::Corrupt(format!("{what} {s:?}")))
}
