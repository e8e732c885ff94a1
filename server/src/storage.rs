//! Photo blob storage through `object_store`: local files by default, S3-compatible at scale.
//! Every write is atomic: the local store writes a temporary file and renames it into place;
//! S3 makes an object visible only whole (one PUT, or a multipart upload once completed).

use std::sync::Arc;

use actix_web::web::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, RetryConfig, WriteMultipart};

/// Bodies above this size go to S3 as a multipart upload, in parts of this size (S3's
/// smallest part is 5 MiB); smaller ones in one PUT.
pub const MULTIPART_PART: usize = 8 * 1024 * 1024;

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

/// A blob being read: its size and its bytes as they arrive.
pub struct BlobStream {
    pub size: u64,
    pub bytes: BoxStream<'static, Result<Bytes, StorageError>>,
}

/// The variables an S3 store reads besides `FIELDSTAR_STORAGE_URL`, the names every S3 tool
/// uses (docs/operations.md, Photo storage).
pub const S3_VARIABLES: &[&str] = &[
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ALLOW_HTTP",
    "AWS_VIRTUAL_HOSTED_STYLE_REQUEST",
];

impl Storage {
    /// Opens the store named by `url`: `file:///path` or `s3://bucket/prefix`, the latter with
    /// the `AWS_*` settings in `s3` (name, value). Errors name the variable at fault.
    pub fn from_url(url: &str, s3: &[(String, String)]) -> Result<Self, String> {
        if let Some(path) = url.strip_prefix("file://") {
            std::fs::create_dir_all(path)
                .map_err(|e| format!("FIELDSTAR_STORAGE_URL: cannot create {path}: {e}"))?;
            let fs = LocalFileSystem::new_with_prefix(path)
                .map_err(|e| format!("FIELDSTAR_STORAGE_URL: {e}"))?;
            return Ok(Storage {
                store: Arc::new(fs),
                url: url.to_string(),
                local_root: Some(std::path::PathBuf::from(path)),
            });
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let prefix = prefix.trim_matches('/');
            if bucket.is_empty() {
                return Err("FIELDSTAR_STORAGE_URL: expected s3://bucket/prefix".into());
            }
            let store = s3_store(bucket, s3)?;
            let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
                Arc::new(store)
            } else {
                Arc::new(PrefixStore::new(store, prefix))
            };
            return Ok(Storage {
                store,
                url: url.to_string(),
                local_root: None,
            });
        }
        Err(format!(
            "FIELDSTAR_STORAGE_URL: unsupported storage URL {url}"
        ))
    }

    pub fn is_s3(&self) -> bool {
        self.local_root.is_none()
    }

    /// Writes `bytes` at `key` atomically. Returns once the blob is durable: the local store
    /// after its rename, S3 after the PUT (or the multipart upload's completion) is answered.
    pub async fn put_atomic(&self, key: &str, bytes: Bytes) -> Result<(), StorageError> {
        let key = Path::from(key);
        if self.is_s3() {
            if bytes.len() <= MULTIPART_PART {
                self.store.put(&key, PutPayload::from_bytes(bytes)).await?;
                return Ok(());
            }
            let upload = self.store.put_multipart(&key).await?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, MULTIPART_PART);
            let mut rest = bytes;
            while !rest.is_empty() {
                if let Err(e) = writer.wait_for_capacity(2).await {
                    let _ = writer.abort().await;
                    return Err(e.into());
                }
                let part = rest.split_to(rest.len().min(MULTIPART_PART));
                writer.put(part);
            }
            // An error aborts the upload (its parts are discarded); the object never appears.
            writer.finish().await?;
            return Ok(());
        }
        let tmp = Path::from(format!("tmp/{}", uuid::Uuid::now_v7()));
        self.store.put(&tmp, PutPayload::from_bytes(bytes)).await?;
        if let Err(e) = self.store.rename(&tmp, &key).await {
            let _ = self.store.delete(&tmp).await;
            return Err(e.into());
        }
        Ok(())
    }

    pub async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        Ok(self.store.get(&Path::from(key)).await?.bytes().await?)
    }

    /// Reads a blob as a stream, so a large original is never held whole in memory.
    pub async fn get_stream(&self, key: &str) -> Result<BlobStream, StorageError> {
        let got = self.store.get(&Path::from(key)).await?;
        let size = got.meta.size;
        Ok(BlobStream {
            size,
            bytes: got.into_stream().map_err(StorageError::from).boxed(),
        })
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

    /// Whether the store answers (for `/readyz`): a listing, which a missing bucket or wrong
    /// credentials refuse (a read of a missing key would not tell a missing bucket apart).
    pub async fn check(&self) -> Result<(), StorageError> {
        self.store
            .list_with_delimiter(Some(&Path::from("readyz")))
            .await
            .map(|_| ())
            .map_err(|e| match e {
                object_store::Error::NotFound { .. } => {
                    StorageError::Other("the bucket does not exist".into())
                }
                other => other.into(),
            })
    }
}

/// An S3 client for `bucket`, from the `AWS_*` settings. Path-style requests unless
/// `AWS_VIRTUAL_HOSTED_STYLE_REQUEST=true`; a few quick retries rather than minutes of them, so
/// an upload fails (503, retried by the phone) instead of hanging when the store is down.
fn s3_store(bucket: &str, s3: &[(String, String)]) -> Result<object_store::aws::AmazonS3, String> {
    // reqwest 0.13 (object_store's client) takes rustls's process-wide provider: ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region("us-east-1")
        .with_retry(RetryConfig {
            max_retries: 3,
            retry_timeout: std::time::Duration::from_secs(20),
            ..RetryConfig::default()
        });
    let value = |name: &str| {
        s3.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    if let Some(v) = value("AWS_ENDPOINT_URL") {
        let ok = (v.starts_with("http://") || v.starts_with("https://"))
            && v.split("://").nth(1).is_some_and(|h| !h.is_empty());
        if !ok {
            return Err(format!(
                "AWS_ENDPOINT_URL: expected http(s)://host[:port], got {v}"
            ));
        }
    }
    for name in ["AWS_ALLOW_HTTP", "AWS_VIRTUAL_HOSTED_STYLE_REQUEST"] {
        if let Some(v) = value(name) {
            if !matches!(v, "true" | "false" | "1" | "0") {
                return Err(format!("{name}: expected true or false, got {v}"));
            }
        }
    }
    match (value("AWS_ACCESS_KEY_ID"), value("AWS_SECRET_ACCESS_KEY")) {
        (Some(_), None) => {
            return Err("AWS_SECRET_ACCESS_KEY: required with AWS_ACCESS_KEY_ID".into())
        }
        (None, Some(_)) => {
            return Err("AWS_ACCESS_KEY_ID: required with AWS_SECRET_ACCESS_KEY".into())
        }
        _ => {}
    }
    // AWS_DEFAULT_REGION first, so that AWS_REGION wins when both are set.
    let mut names: Vec<&str> = S3_VARIABLES.to_vec();
    names.sort_by_key(|n| *n != "AWS_DEFAULT_REGION");
    for name in names {
        if let Some(v) = value(name) {
            let v = match v {
                "1" => "true",
                "0" => "false",
                v => v,
            };
            let key: AmazonS3ConfigKey = name
                .to_ascii_lowercase()
                .parse()
                .map_err(|e| format!("{name}: {e}"))?;
            builder = builder.with_config(key, v);
        }
    }
    builder
        .build()
        .map_err(|e| format!("FIELDSTAR_STORAGE_URL: cannot set up the S3 store: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_sweep_removes_old_staging_files_and_nothing_else() {
        let dir = tempfile::tempdir().expect("temp dir");
        let storage =
            Storage::from_url(&format!("file://{}", dir.path().display()), &[]).expect("store");
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
