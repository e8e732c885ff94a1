//! Photo blob storage through `object_store`: local files by default, S3-compatible at scale.
//! Writes go to a temporary name and are renamed into place, so no reader sees half a blob.

use std::sync::Arc;

use actix_web::web::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    pub url: String,
    /// The folder of a `file://` store: where a killed write can leave a staging file.
    local_root: Option<std::path::PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Other(String),
}

impl From<object_store::Error> for StorageError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { .. } => StorageError::NotFound,
            other => StorageError::Other(other.to_string()),
        }
    }
}

impl Storage {
    pub fn from_url(url: &str) -> Result<Self, String> {
        if let Some(path) = url.strip_prefix("file://") {
            std::fs::create_dir_all(path).map_err(|e| format!("cannot create {path}: {e}"))?;
            let fs = LocalFileSystem::new_with_prefix(path).map_err(|e| e.to_string())?;
            return Ok(Storage {
                store: Arc::new(fs),
                url: url.to_string(),
                local_root: Some(std::path::PathBuf::from(path)),
            });
        }
        if url.starts_with("s3://") {
            return Err(
                "S3-compatible storage is not in this build yet: use file:// (see docs/operations.md, Photo storage)"
                    .into(),
            );
        }
        Err(format!("unsupported storage URL {url}"))
    }

    /// Writes `bytes` at `key` atomically: a temporary object first, then a rename.
    pub async fn put_atomic(&self, key: &str, bytes: Bytes) -> Result<(), StorageError> {
        let tmp = Path::from(format!("tmp/{}", uuid::Uuid::now_v7()));
        self.store.put(&tmp, PutPayload::from_bytes(bytes)).await?;
        if let Err(e) = self.store.rename(&tmp, &Path::from(key)).await {
            let _ = self.store.delete(&tmp).await;
            return Err(e.into());
        }
        Ok(())
    }

    pub async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        Ok(self.store.get(&Path::from(key)).await?.bytes().await?)
    }

    pub async fn exists(&self, key: &str) -> Result<bool, StorageError> {
        match self.store.head(&Path::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Every key under `prefix` last written before `cutoff`.
    pub async fn list_older_than(
        &self,
        prefix: &str,
        cutoff: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<String>, StorageError> {
        use futures_util::TryStreamExt;
        let prefix = Path::from(prefix);
        let metas: Vec<_> = self.store.list(Some(&prefix)).try_collect().await?;
        Ok(metas
            .into_iter()
            .filter(|m| m.last_modified < cutoff)
            .map(|m| m.location.to_string())
            .collect())
    }

    /// Removes the staging files a killed write left under `tmp/` of a local store, older than
    /// `cutoff`. The local store writes `tmp/<id>#<n>` and renames it into place; listings
    /// never show such files, so the orphan sweep needs this to see them. Returns how many.
    pub async fn sweep_staged(
        &self,
        cutoff: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize, StorageError> {
        let Some(root) = self.local_root.clone() else {
            return Ok(0);
        };
        let cutoff = std::time::SystemTime::from(cutoff);
        let sweep = move || -> std::io::Result<usize> {
            let dir = root.join("tmp");
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
                Err(e) => return Err(e),
            };
            let mut removed = 0;
            for entry in entries {
                let entry = entry?;
                let staged = entry.file_name().to_string_lossy().contains('#');
                let old = entry.metadata()?.modified()? < cutoff;
                if staged && old && std::fs::remove_file(entry.path()).is_ok() {
                    removed += 1;
                }
            }
            Ok(removed)
        };
        tokio::task::spawn_blocking(sweep)
            .await
            .map_err(|e| StorageError::Other(e.to_string()))?
            .map_err(|e| StorageError::Other(format!("sweeping staged files: {e}")))
    }

    /// Whether the store answers (for `/readyz`).
    pub async fn check(&self) -> Result<(), StorageError> {
        self.exists("readyz-probe").await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_sweep_removes_old_staging_files_and_nothing_else() {
        let dir = tempfile::tempdir().expect("temp dir");
        let storage =
            Storage::from_url(&format!("file://{}", dir.path().display())).expect("store");
        storage
            .put_atomic("original/ab", Bytes::from_static(b"photo"))
            .await
            .expect("put");
        let tmp = dir.path().join("tmp");
        std::fs::create_dir_all(&tmp).expect("tmp");
        std::fs::write(tmp.join("0193-left-by-a-kill#1"), b"half").expect("staged");
        std::fs::write(tmp.join("0193-not-staged"), b"whole").expect("tmp blob");

        let past = chrono::Utc::now() - chrono::Duration::minutes(10);
        assert_eq!(
            storage.sweep_staged(past).await.expect("sweep"),
            0,
            "too young"
        );
        let future = chrono::Utc::now() + chrono::Duration::seconds(5);
        assert_eq!(storage.sweep_staged(future).await.expect("sweep"), 1);
        assert!(!tmp.join("0193-left-by-a-kill#1").exists());
        assert!(
            tmp.join("0193-not-staged").exists(),
            "plain tmp blobs are the listing's job"
        );
        assert_eq!(
            storage.get("original/ab").await.expect("kept"),
            Bytes::from_static(b"photo")
        );
    }
}
