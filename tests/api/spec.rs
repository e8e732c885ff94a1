//! The committed API spec is what the code generates, and every routed path is in it.

use std::collections::BTreeSet;
use std::path::Path;

const SPEC: &str = "api-spec/openapi.yaml";

#[test]
fn the_committed_spec_is_the_generated_one() {
    let generated = fieldstar::app::openapi_yaml();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SPEC);
    if std::env::var("FIELDSTAR_UPDATE_SPEC").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{SPEC} is out of date: run `FIELDSTAR_UPDATE_SPEC=1 cargo test --test api spec` and commit it"
    );
}

/// Scans the sources for route attributes, so a handler registered without the spec fails.
fn routed_paths(dir: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            routed_paths(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for line in text.lines() {
                let line = line.trim();
                for prefix in [
                    "#[get(\"",
                    "#[post(\"",
                    "#[put(\"",
                    "#[patch(\"",
                    "#[delete(\"",
                    "web::resource(\"",
                    ".route(\"",
                ] {
                    if let Some(rest) = line
                        .strip_prefix(prefix)
                        .or_else(|| line.split_once(prefix).map(|(_, r)| r))
                    {
                        if let Some(p) = rest.split('"').next() {
                            out.insert(p.to_string());
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn every_routed_path_is_in_the_spec() {
    let api = fieldstar::app::openapi();
    let documented: BTreeSet<String> = api.paths.paths.keys().cloned().collect();
    let mut routed = BTreeSet::new();
    routed_paths(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("server/src"),
        &mut routed,
    );
    assert!(
        routed.len() >= 10,
        "the scan found too few routes: {routed:?}"
    );
    let missing: Vec<_> = routed.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "routed but not in the spec: {missing:?}"
    );
}

/// Found by schemathesis: two `200` entries in one annotation keep only the last, so a report
/// answered JSON while the spec said CSV. Every report documents both.
#[test]
fn every_report_documents_json_csv_and_xlsx() {
    let api = fieldstar::app::openapi();
    let reports: Vec<_> = api
        .paths
        .paths
        .iter()
        .filter(|(p, _)| p.starts_with("/api/v1/reports/"))
        .collect();
    assert_eq!(reports.len(), 6);
    for (path, item) in reports {
        let get = item.get.as_ref().unwrap();
        let ok = match get.responses.responses.get("200") {
            Some(utoipa::openapi::RefOr::T(r)) => r,
            _ => panic!("{path} has no 200"),
        };
        let mut types: Vec<&str> = ok.content.keys().map(String::as_str).collect();
        types.sort_unstable();
        // Every report: JSON, CSV and XLSX; the inspections export also a ZIP with photos.
        let mut expected = vec![
            "application/json",
            "text/csv",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ];
        if path == "/api/v1/reports/inspections" {
            expected.push("application/zip");
        }
        expected.sort_unstable();
        assert_eq!(types, expected, "{path}");
    }
}
