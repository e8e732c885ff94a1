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

    /// Whether the store answers (for `/readyz`).
    pub async fn check(&self) -> Result<(), StorageError> {
        self.exists("readyz-probe").await.map(|_| ())
    }
}
