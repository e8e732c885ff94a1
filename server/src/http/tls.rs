//! HTTPS served by fieldstar itself: `FIELDSTAR_TLS_CERT` and `FIELDSTAR_TLS_KEY` (PEM files)
//! make a rustls server configuration, with the ring provider reqwest already builds.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::ConfigError;

/// The certificate chain and private key files, both PEM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Both variables or neither: one alone is an error naming the missing one.
pub fn files(cert: Option<&str>, key: Option<&str>) -> Result<Option<TlsFiles>, ConfigError> {
    match (cert, key) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => {
            let files = TlsFiles {
                cert: PathBuf::from(cert),
                key: PathBuf::from(key),
            };
            // Read now, so that a bad file stops start-up naming it.
            server_config(&files)?;
            Ok(Some(files))
        }
        (Some(_), None) => Err(ConfigError {
            var: "FIELDSTAR_TLS_KEY",
            message: "must be set with FIELDSTAR_TLS_CERT (HTTPS needs both, or neither)".into(),
        }),
        (None, Some(_)) => Err(ConfigError {
            var: "FIELDSTAR_TLS_CERT",
            message: "must be set with FIELDSTAR_TLS_KEY (HTTPS needs both, or neither)".into(),
        }),
    }
}

fn err(var: &'static str, path: &Path, message: impl std::fmt::Display) -> ConfigError {
    ConfigError {
        var,
        message: format!("{}: {message}", path.display()),
    }
}

/// The rustls server configuration: TLS 1.2 and 1.3, no client certificates.
pub fn server_config(files: &TlsFiles) -> Result<rustls::ServerConfig, ConfigError> {
    let cert_err = |m: String| err("FIELDSTAR_TLS_CERT", &files.cert, m);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| cert_err(format!("cannot read a PEM certificate: {e}")))?
        .collect::<Result<_, _>>()
        .map_err(|e| cert_err(format!("not a PEM certificate chain: {e}")))?;
    if certs.is_empty() {
        return Err(cert_err("holds no PEM certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| {
        err(
            "FIELDSTAR_TLS_KEY",
            &files.key,
            format!("cannot read a PEM private key: {e}"),
        )
    })?;
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| cert_err(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            err(
                "FIELDSTAR_TLS_KEY",
                &files.key,
                format!(
                    "does not go with the certificate {}: {e}",
                    files.cert.display()
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(dir: &Path) -> (String, String) {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&c, cert.cert.pem()).unwrap();
        std::fs::write(&k, cert.key_pair.serialize_pem()).unwrap();
        (c.display().to_string(), k.display().to_string())
    }

    #[test]
    fn both_files_or_neither() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair(dir.path());
        assert_eq!(files(None, None).unwrap(), None);
        assert!(files(Some(&cert), Some(&key)).unwrap().is_some());
        assert_eq!(
            files(Some(&cert), None).unwrap_err().var,
            "FIELDSTAR_TLS_KEY"
        );
        assert_eq!(
            files(None, Some(&key)).unwrap_err().var,
            "FIELDSTAR_TLS_CERT"
        );
    }

    #[test]
    fn unreadable_or_invalid_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair(dir.path());
        let other = tempfile::tempdir().unwrap();
        let (_, other_key) = pair(other.path());
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let missing = dir.path().join("missing.pem").display().to_string();
        let junk = junk.display().to_string();
        for (c, k, var, named) in [
            (&missing, &key, "FIELDSTAR_TLS_CERT", &missing),
            (&junk, &key, "FIELDSTAR_TLS_CERT", &junk),
            (&cert, &missing, "FIELDSTAR_TLS_KEY", &missing),
            (&cert, &junk, "FIELDSTAR_TLS_KEY", &junk),
            (&cert, &other_key, "FIELDSTAR_TLS_KEY", &other_key),
        ] {
            let e = files(Some(c), Some(k)).unwrap_err();
            assert_eq!(e.var, var, "{c} {k}");
            assert!(e.to_string().contains(named.as_str()), "{e}");
        }
    }
}
