//! `fieldstar bench` as a user runs it: one JSON line with every field (never timed: the
//! numbers themselves belong in docs/performance.md, not in assertions).

use std::process::Command;

use serde_json::Value;

#[test]
fn bench_ingest_prints_one_json_line_with_every_field() {
    let out = Command::new(env!("CARGO_BIN_EXE_fieldstar"))
        .args([
            "bench",
            "ingest",
            "--seconds",
            "1",
            "--concurrency",
            "2",
            "--rows",
            "2000",
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "exactly one line on stdout: {stdout}");
    let doc: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(doc["scenario"], "ingest");
    assert_eq!(doc["backend"], "sqlite");
    assert!(doc["requests"].as_u64().unwrap() > 0, "{doc}");
    assert_eq!(doc["errors"], 0, "{doc}");
    assert_eq!(doc["items"], 30);
    for field in [
        "per_second",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "peak_rss_mib",
        "startup_ms",
    ] {
        assert!(doc[field].as_f64().is_some(), "{field} missing in {doc}");
    }
    assert!(lines[0].starts_with(r#"{"scenario":"ingest","backend":"sqlite","requests":"#));
}

#[test]
fn bench_refuses_a_bad_argument_in_one_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_fieldstar"))
        .args(["bench", "ingest", "--concurrency", "0"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--concurrency"), "{stderr}");
}
