//! The SQLite history (sqlx): opened and migrated at start-up, one write connection, WAL.
//!
//! Writes go through [`History::write`] only (one writer); reads use a small pool beside it.

mod audit;
mod bays;
mod chain;
mod commands;
mod events;
mod evidence;
#[cfg(test)]
pub(crate) mod fixtures;
mod sessions;

use std::path::Path;
use std::str::FromStr;

use baycount_plumbing::sqlite::{OpenError, SqliteFile};
use chrono::{DateTime, TimeZone, Utc};
use sqlx::sqlite::{SqlitePool, SqliteSynchronous};

pub use audit::AuditEntry;
pub use bays::{KnownBay, PlateRow};
pub use chain::{ChainBreak, ChainReport, SessionDigest};
pub use commands::CommandRecord;
pub use events::{EventWrite, Refusal, SessionCursor, StoreOutcome};
pub use evidence::{BadEvidenceId, EvidenceId, EvidenceRow, EvidenceWrite, Picture};
pub use sessions::{
    Corrected, Correction, CorrectionInput, EventRow, SessionDetail, SessionFilter, SessionRow,
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
    #[error("{0}")]
    Unusable(String),
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
        let file = file(path);
        let write = file.pool(1).await?;
        sqlx::migrate!("../migrations").run(&write).await?;
        let sealed = chain::seal_history_before_chain(&write).await?;
        if sealed > 0 {
            log::info!("sealed {sealed} finished sessions from before the history kept a chain");
        }
        let read = file.read_only_pool(4).await?;
        Ok(Self { write, read })
    }

    /// Checks the history file at `path` against its chain, reading only (`baycount-relay
    /// verify`): nothing is migrated or sealed.
    pub async fn verify_file(path: &Path) -> Result<ChainReport, HistoryError> {
        if !path.is_file() {
            return Err(HistoryError::Unusable(format!(
                "{} is not a file; give the history database's path (--db)",
                path.display()
            )));
        }
        let pool = file(path).read_only_pool(1).await?;
        let mut conn = pool.acquire().await?;
        let has_chain: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'chain')",
        )
        .fetch_one(&mut *conn)
        .await?;
        if !has_chain {
            return Err(HistoryError::Unusable(
                "this history has no chain yet: run this version of the relay on it once".into(),
            ));
        }
        let report = chain::verify(&mut conn).await;
        drop(conn);
        pool.close().await;
        report
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

/// The history's SQLite file at `path`.
fn file(path: &Path) -> SqliteFile<'_> {
    SqliteFile {
        path,
        what: "history database",
        check: None,
        synchronous: SqliteSynchronous::Normal,
        max_bytes: None,
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
