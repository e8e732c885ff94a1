//! HTTPS served directly: with `FIELDSTAR_TLS_CERT` and `FIELDSTAR_TLS_KEY` (a certificate made
//! here) the server answers HTTPS, with HSTS, and `fieldstar serve` refuses a bad file by name.

use std::process::{Command, Stdio};

use crate::both_backends;
use crate::helpers::*;

pub struct Certificate {
    pub cert: String,
    pub key: String,
    pub pem: String,
}

/// A self-signed certificate for `localhost` and 127.0.0.1, written under `dir`.
pub fn certificate(dir: &std::path::Path) -> Certificate {
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.key_pair.serialize_pem()).unwrap();
    Certificate {
        cert: cert.display().to_string(),
        key: key.display().to_string(),
        pem: made.cert.pem(),
    }
}

both_backends!(with_a_certificate_the_server_answers_https_with_hsts);

async fn with_a_certificate_the_server_answers_https_with_hsts(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let c = certificate(dir.path());
    let app = app
        .restart(&[
            ("FIELDSTAR_TLS_CERT", &c.cert),
            ("FIELDSTAR_TLS_KEY", &c.key),
        ])
        .await;
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(c.pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    for host in ["localhost", "127.0.0.1"] {
        let res = client
            .get(format!("https://{host}:{port}/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{host}");
        assert_eq!(
            res.headers()["strict-transport-security"],
            "max-age=31536000"
        );
    }
    // The API itself, over TLS: a login and an authenticated read.
    let res = client
        .post(format!("https://localhost:{port}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "nobody", "password": "wrong-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // Plain HTTP on the HTTPS port gets no answer.
    assert!(reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .map(|r| !r.status().is_success())
        .unwrap_or(true));
    let handle = app.stop_handle();
    handle.stop(false).await;
}

#[test]
fn serve_refuses_a_bad_certificate_or_key_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let c = certificate(dir.path());
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "-----BEGIN NOTHING-----\n").unwrap();
    let junk = junk.display().to_string();
    for (cert, key, named) in [
        (Some(junk.as_str()), Some(c.key.as_str()), junk.as_str()),
        (Some(c.cert.as_str()), Some(junk.as_str()), junk.as_str()),
        (Some(c.cert.as_str()), None, "FIELDSTAR_TLS_KEY"),
    ] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fieldstar"));
        cmd.args(["serve", "--bind", "127.0.0.1:0"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("FIELDSTAR_DATA_DIR", dir.path())
            .stdin(Stdio::null());
        if let Some(cert) = cert {
            cmd.env("FIELDSTAR_TLS_CERT", cert);
        }
        if let Some(key) = key {
            cmd.env("FIELDSTAR_TLS_KEY", key);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(stderr.contains(named), "{stderr}");
    }
}
