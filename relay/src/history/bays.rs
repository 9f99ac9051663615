//! Bays the relay has ever heard of, and the plates used recently.

use baycount_protocol::{BayId, Plate};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{History, HistoryError, from_ms, parse_stored, to_ms};

/// A bay as remembered across restarts.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownBay {
    pub id: BayId,
    pub name: Option<String>,
    pub last_seen: DateTime<Utc>,
}

/// A plate with when it was last used, for the plate menus.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PlateRow {
    pub plate: Plate,
    pub last_used_at: DateTime<Utc>,
    /// Sessions started for this plate.
    pub uses: i64,
}

impl History {
    /// Records a bay (declared in config, or heard from), keeping its first sighting.
    /// `name` replaces the stored name only when given.
    pub async fn upsert_bay(
        &self,
        id: &BayId,
        name: Option<&str>,
        seen: DateTime<Utc>,
    ) -> Result<(), HistoryError> {
        sqlx::query(
            "INSERT INTO bays (id, name, first_seen_ms, last_seen_ms) VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT (id) DO UPDATE SET name = COALESCE(?2, name),
                 last_seen_ms = MAX(last_seen_ms, ?3)",
        )
        .bind(id.as_str())
        .bind(name)
        .bind(to_ms(seen))
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Every bay ever recorded.
    pub async fn bays(&self) -> Result<Vec<KnownBay>, HistoryError> {
        let rows = sqlx::query("SELECT id, name, last_seen_ms FROM bays ORDER BY id")
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(KnownBay {
                    id: parse_stored("bay", r.try_get("id")?)?,
                    name: r.try_get("name")?,
                    last_seen: from_ms(r.try_get("last_seen_ms")?),
                })
            })
            .collect()
    }

    /// Plates, most recently used first.
    pub async fn plates(&self, limit: i64) -> Result<Vec<PlateRow>, HistoryError> {
        let rows = sqlx::query("SELECT plate, last_used_ms, uses FROM plates ORDER BY last_used_ms DESC, plate LIMIT ?")
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(PlateRow {
                    plate: super::sessions::stored_plate(r.try_get("plate")?)?,
                    last_used_at: from_ms(r.try_get("last_used_ms")?),
                    uses: r.try_get("uses")?,
                })
            })
            .collect()
    }
}
