//! Where photo blobs live: content-addressed keys for the original and its two derivatives,
//! and the clean-up of blobs that no committed row points to.

use diesel::prelude::*;

use crate::db::schema::photos;
use crate::db::DbConn;
use crate::storage::Storage;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    Thumb,
    Display,
    Original,
}

impl Size {
    pub fn parse(s: &str) -> Option<Size> {
        match s {
            "thumb" => Some(Size::Thumb),
            "display" => Some(Size::Display),
            "original" => Some(Size::Original),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Size::Thumb => "thumb",
            Size::Display => "display",
            Size::Original => "original",
        }
    }
}

pub fn key(size: Size, sha256: &str) -> String {
    let shard = sha256.get(..2).unwrap_or("00");
    match size {
        Size::Original => format!("original/{shard}/{sha256}"),
        Size::Display => format!("display/{shard}/{sha256}.jpg"),
        Size::Thumb => format!("thumb/{shard}/{sha256}.jpg"),
    }
}

/// Whether any received photo row points at these bytes.
pub fn referenced(conn: &mut DbConn, sha256: &str) -> QueryResult<bool> {
    let n: i64 = photos::table
        .filter(photos::expected_sha256.eq(sha256))
        .filter(photos::received.eq(true))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

pub async fn delete_all(storage: &Storage, sha256: &str) {
    for size in [Size::Original, Size::Display, Size::Thumb] {
        if let Err(e) = storage.delete(&key(size, sha256)).await {
            tracing::warn!(error = %e, sha256, "could not delete an orphan photo blob");
        }
    }
}

/// Deletes blobs that no committed row references: left by a crash between the blob write and
/// the database commit, or by an interrupted temporary write. Run at start-up.
pub async fn sweep_orphans(state: &crate::state::AppState) -> Result<usize, String> {
    // Uploads in flight write their blobs before they commit: leave anything recent alone.
    let min_age = chrono::Duration::from_std(state.config.orphan_min_age)
        .unwrap_or_else(|_| chrono::Duration::minutes(10));
    let cutoff = chrono::Utc::now() - min_age;
    let mut removed = state
        .storage
        .sweep_staged(cutoff)
        .await
        .map_err(|e| e.to_string())?;
    for tmp in state
        .storage
        .list_older_than("tmp", cutoff)
        .await
        .map_err(|e| e.to_string())?
    {
        if state.storage.delete(&tmp).await.is_ok() {
            removed += 1;
        }
    }
    let originals = state
        .storage
        .list_older_than("original", cutoff)
        .await
        .map_err(|e| e.to_string())?;
    for chunk in originals.chunks(500) {
        let shas: Vec<String> = chunk
            .iter()
            .filter_map(|k| k.rsplit('/').next().map(str::to_string))
            .collect();
        let wanted = shas.clone();
        let kept: Vec<String> = state
            .db
            .read(move |conn| {
                Ok(photos::table
                    .filter(photos::expected_sha256.eq_any(&wanted))
                    .filter(photos::received.eq(true))
                    .select(photos::expected_sha256)
                    .load::<String>(conn)?)
            })
            .await
            .map_err(|e| e.detail)?;
        for sha in shas.iter().filter(|s| !kept.contains(s)) {
            delete_all(&state.storage, sha).await;
            removed += 1;
        }
    }
    Ok(removed)
}
