//! The audit log: every command given to a bay, who gave it and what became of it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{History, HistoryError, from_ms, to_ms};

/// One audit row.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub bay: Option<String>,
    /// `start`, `stop`, `assign`, ...
    pub action: String,
    /// The command id, when a command was sent.
    pub command: Option<String>,
    /// `ok`, `refused`, `rejected`, `timeout`, `error`.
    pub outcome: String,
    pub detail: Option<String>,
}

impl History {
    pub async fn audit(&self, e: &AuditEntry) -> Result<(), HistoryError> {
        sqlx::query(
            "INSERT INTO audit (at_ms, actor, bay, action, command, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(to_ms(e.at))
        .bind(&e.actor)
        .bind(&e.bay)
        .bind(&e.action)
        .bind(&e.command)
        .bind(&e.outcome)
        .bind(&e.detail)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// The newest audit rows first.
    pub async fn audit_log(&self, limit: i64) -> Result<Vec<AuditEntry>, HistoryError> {
        let rows = sqlx::query(
            "SELECT at_ms, actor, bay, action, command, outcome, detail FROM audit ORDER BY id DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    at: from_ms(r.try_get("at_ms")?),
                    actor: r.try_get("actor")?,
                    bay: r.try_get("bay")?,
                    action: r.try_get("action")?,
                    command: r.try_get("command")?,
                    outcome: r.try_get("outcome")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }
}
