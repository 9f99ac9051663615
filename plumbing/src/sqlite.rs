//! SQLite files as both sides keep them: created if missing, WAL, a busy timeout, clear errors.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// How long a query waits for a lock another connection holds.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// SQLite's page size (the `max_page_count` limit is in pages).
const PAGE_BYTES: u64 = 4096;

/// SQLite's primary result codes, as [`result_code`] gives them, for the failures that can pass:
/// another connection holds the database, or a table in it.
pub const BUSY: i32 = 5;
pub const LOCKED: i32 = 6;
/// The disk failed a read or write.
pub const IOERR: i32 = 10;
/// The disk (or the file's size limit) is full.
pub const FULL: i32 = 13;
/// The file cannot be opened (now).
pub const CANTOPEN: i32 = 14;

/// A database file that cannot be opened, named with what it is and what to check.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the {what} {path}: {source}{}", .check.map(|c| format!("; {c}")).unwrap_or_default())]
pub struct OpenError {
    what: &'static str,
    path: String,
    source: sqlx::Error,
    check: Option<&'static str>,
}

/// How one database file is opened. Every connection is in WAL mode, waits up to 5 s for a
/// lock another holds, enforces foreign keys, and creates the file if it is missing.
#[derive(Debug, Clone)]
pub struct SqliteFile<'a> {
    pub path: &'a Path,
    /// What the file is, in errors ("journal", "history database").
    pub what: &'static str,
    /// What to check when it cannot be opened ("check that the directory exists and is writable").
    pub check: Option<&'static str>,
    /// How hard each commit waits for the disk.
    pub synchronous: SqliteSynchronous,
    /// The most the file may grow to: past it, writes fail with [`FULL`], as on a full disk.
    pub max_bytes: Option<u64>,
}

impl SqliteFile<'_> {
    /// The connection options these settings make.
    pub fn options(&self) -> Result<SqliteConnectOptions, OpenError> {
        let mut options =
            SqliteConnectOptions::from_str(&format!("sqlite://{}", self.path.display()))
                .map_err(|e| self.error(e))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(self.synchronous)
                .busy_timeout(BUSY_TIMEOUT)
                .foreign_keys(true);
        if let Some(max) = self.max_bytes {
            options = options.pragma("max_page_count", (max / PAGE_BYTES).max(16).to_string());
        }
        Ok(options)
    }

    /// A pool of up to `connections` connections that read and write.
    pub async fn pool(&self, connections: u32) -> Result<SqlitePool, OpenError> {
        self.connect(connections, self.options()?).await
    }

    /// A pool of up to `connections` connections that only read (beside a writer, in WAL).
    pub async fn read_only_pool(&self, connections: u32) -> Result<SqlitePool, OpenError> {
        self.connect(connections, self.options()?.read_only(true))
            .await
    }

    async fn connect(
        &self,
        connections: u32,
        options: SqliteConnectOptions,
    ) -> Result<SqlitePool, OpenError> {
        SqlitePoolOptions::new()
            .max_connections(connections)
            .connect_with(options)
            .await
            .map_err(|e| self.error(e))
    }

    /// `source` as this file's [`OpenError`] (for a step of opening the caller takes, such as
    /// creating the tables).
    pub fn error(&self, source: sqlx::Error) -> OpenError {
        OpenError {
            what: self.what,
            path: self.path.display().to_string(),
            source,
            check: self.check,
        }
    }
}

/// SQLite's primary result code behind `e` (such as [`BUSY`] or [`FULL`]; an extended code keeps
/// its primary one in its low byte), if it is a database error.
pub fn result_code(e: &sqlx::Error) -> Option<i32> {
    match e {
        sqlx::Error::Database(d) => d.code()?.parse::<i32>().ok().map(|c| c & 0xff),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_file(path: &Path) -> SqliteFile<'_> {
        SqliteFile {
            path,
            what: "test base",
            check: None,
            synchronous: SqliteSynchronous::Full,
            max_bytes: None,
        }
    }

    #[tokio::test]
    async fn creates_a_wal_file_and_says_what_cannot_be_opened() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("t.db");
        let file = test_file(&path);
        let pool = file.pool(1).await.expect("created");
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&pool)
            .await
            .expect("mode");
        assert_eq!(mode, "wal");

        let missing = dir.path().join("no/such/dir/t.db");
        let no_dir = SqliteFile {
            path: &missing,
            ..file.clone()
        };
        let text = no_dir.pool(1).await.expect_err("no directory").to_string();
        assert!(text.starts_with("cannot open the test base "), "{text}");
        assert!(!text.contains("; check"), "{text}");
        let checked = SqliteFile {
            check: Some("check the directory"),
            ..no_dir
        };
        let text = checked.pool(1).await.expect_err("no directory").to_string();
        assert!(text.ends_with("; check the directory"), "{text}");
    }

    #[tokio::test]
    async fn a_size_limit_fails_writes_as_a_full_disk() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("t.db");
        let pool = SqliteFile {
            max_bytes: Some(0),
            ..test_file(&path)
        }
        .pool(1)
        .await
        .expect("created");
        sqlx::raw_sql("CREATE TABLE t (x TEXT)")
            .execute(&pool)
            .await
            .expect("table");
        let mut full = None;
        for _ in 0..1000 {
            if let Err(e) = sqlx::query("INSERT INTO t VALUES (?)")
                .bind("x".repeat(4000))
                .execute(&pool)
                .await
            {
                full = Some(e);
                break;
            }
        }
        let full = full.expect("the limit is reached");
        assert_eq!(result_code(&full), Some(FULL), "{full}");
    }
}
