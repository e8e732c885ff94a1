//! The operator's command line, against the same database the running server uses.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::both_backends;
use crate::helpers::*;

pub fn fieldstar(app: &TestApp, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fieldstar"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("FIELDSTAR_DATA_DIR", app.data_dir.path())
        .env("FIELDSTAR_DATABASE_URL", &app.database_url)
        .env("FIELDSTAR_DEMO_PASSWORD", PASSWORD)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

both_backends!(
    org_import_and_user_create_make_a_second_county_with_its_admin,
    a_missing_or_bad_csv_is_a_clear_error_and_writes_nothing,
    org_and_stars_imports_read_gb18030_and_refuse_what_does_not_decode
);

async fn org_import_and_user_create_make_a_second_county_with_its_admin(app: TestApp) {
    let out = fieldstar(&app, &["demo"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("secretary1"));
    let again = fieldstar(&app, &["demo"], None);
    assert!(
        text(&again).contains("users created: none"),
        "{}",
        text(&again)
    );

    let csv = app.data_dir.path().join("east.csv");
    std::fs::write(&csv, SECOND_COUNTY_CSV).unwrap();
    let out = fieldstar(&app, &["org", "import", csv.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("4 created"));
    let out = fieldstar(&app, &["org", "import", csv.to_str().unwrap()], None);
    assert!(
        text(&out).contains("0 created, 0 updated, 4 unchanged"),
        "{}",
        text(&out)
    );

    let out = fieldstar(
        &app,
        &[
            "user",
            "create",
            "--username",
            "east-admin",
            "--role",
            "admin",
            "--org",
            "EAST",
            "--password-stdin",
        ],
        Some("east-password-1\n"),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        app.login_raw("east-admin", "east-password-1")
            .await
            .status(),
        200
    );
    let out = fieldstar(
        &app,
        &[
            "user",
            "create",
            "--username",
            "east-insp",
            "--role",
            "inspector",
            "--org",
            "EAST",
        ],
        None,
    );
    assert!(
        text(&out).contains("password: "),
        "a generated password is printed once"
    );
    // A reviewer names her verifying body; a township user sits at a township.
    let out = fieldstar(
        &app,
        &[
            "user",
            "create",
            "--username",
            "east-rev",
            "--role",
            "reviewer",
            "--org",
            "EAST",
        ],
        None,
    );
    assert!(
        !out.status.success() && text(&out).contains("body"),
        "{}",
        text(&out)
    );
    let out = fieldstar(
        &app,
        &[
            "user",
            "create",
            "--username",
            "east-rev",
            "--role",
            "reviewer",
            "--org",
            "EAST",
            "--body",
            "association",
        ],
        None,
    );
    assert!(
        out.status.success() && text(&out).contains("association"),
        "{}",
        text(&out)
    );
    let out = fieldstar(
        &app,
        &[
            "user",
            "create",
            "--username",
            "east-town",
            "--role",
            "township",
            "--org",
            "EAST-T1",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
}

async fn a_missing_or_bad_csv_is_a_clear_error_and_writes_nothing(app: TestApp) {
    let out = fieldstar(&app, &["org", "import", "/nonexistent/units.csv"], None);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("cannot open /nonexistent/units.csv"),
        "{}",
        text(&out)
    );
    let csv = app.data_dir.path().join("bad.csv");
    std::fs::write(&csv, "code,name,level,parent_code,lat,lon,radius_m\nC9,Nine,county,,,,\nV9,Vee,village,NOPE,1,2,\n").unwrap();
    let out = fieldstar(&app, &["org", "import", csv.to_str().unwrap()], None);
    assert!(!out.status.success());
    assert!(text(&out).contains("line 3"), "{}", text(&out));
    // All or nothing: the good county row was not kept.
    let out = fieldstar(
        &app,
        &[
            "user",
            "create",
            "--username",
            "c9-admin",
            "--role",
            "admin",
            "--org",
            "C9",
        ],
        None,
    );
    assert!(
        text(&out).contains("no org unit has code C9"),
        "{}",
        text(&out)
    );
}

async fn org_and_stars_imports_read_gb18030_and_refuse_what_does_not_decode(app: TestApp) {
    let units = "code,name,level,parent_code,lat,lon,radius_m\nGB,新县,county,,,,\nGB-T1,新镇,township,GB,,,\nGB-V1,王家庄村,village,GB-T1,36.1,114.2,\n";
    let gbk = encoding_rs::GB18030.encode(units).0.into_owned();
    let csv = app.data_dir.path().join("gbk.csv");
    // Stated as UTF-8, a GB18030 file is refused with its line and a hint.
    std::fs::write(&csv, &gbk).unwrap();
    let out = fieldstar(
        &app,
        &[
            "org",
            "import",
            csv.to_str().unwrap(),
            "--encoding",
            "utf-8",
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("line 2: not UTF-8") && text(&out).contains("gb18030"),
        "{}",
        text(&out)
    );
    let out = fieldstar(
        &app,
        &[
            "org",
            "import",
            csv.to_str().unwrap(),
            "--encoding",
            "latin1",
        ],
        None,
    );
    assert!(
        !out.status.success() && text(&out).contains("--encoding"),
        "{}",
        text(&out)
    );
    // Detected, the names arrive intact.
    let out = fieldstar(&app, &["org", "import", csv.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("3 created"), "{}", text(&out));
    let out = fieldstar(
        &app,
        &[
            "user",
            "create",
            "--username",
            "gb-admin",
            "--role",
            "admin",
            "--org",
            "GB",
            "--password-stdin",
        ],
        Some("gb-password-1\n"),
    );
    assert!(out.status.success(), "{}", text(&out));
    let admin = app
        .login_raw("gb-admin", "gb-password-1")
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let token = admin["access_token"].as_str().unwrap();
    let page = json_of(app.get("/api/v1/org-units?code=GB-V1", token).await).await;
    assert_eq!(page["items"][0]["name"], "王家庄村");
    // The same file as UTF-8 with a byte-order mark changes nothing.
    std::fs::write(
        &csv,
        [b"\xEF\xBB\xBF".as_slice(), units.as_bytes()].concat(),
    )
    .unwrap();
    let out = fieldstar(
        &app,
        &[
            "org",
            "import",
            csv.to_str().unwrap(),
            "--encoding",
            "utf-8",
        ],
        None,
    );
    assert!(
        text(&out).contains("0 created, 0 updated, 3 unchanged"),
        "{}",
        text(&out)
    );
    // Bytes that are neither UTF-8 nor GB18030 are refused with their line.
    std::fs::write(
        &csv,
        b"village_code,level,since_quarter\nGB-V1,1,2025-Q1\nGB-V1\xFF,1,2025-Q1\n",
    )
    .unwrap();
    let out = fieldstar(&app, &["stars", "import", csv.to_str().unwrap()], None);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("line 3: neither UTF-8 nor GB18030"),
        "{}",
        text(&out)
    );
    std::fs::write(
        &csv,
        encoding_rs::GB18030
            .encode("village_code,level,since_quarter\nGB-V1,1,2025-Q1\n")
            .0,
    )
    .unwrap();
    let out = fieldstar(
        &app,
        &[
            "stars",
            "import",
            csv.to_str().unwrap(),
            "--encoding",
            "gb18030",
        ],
        None,
    );
    assert!(
        out.status.success() && text(&out).contains("1 created"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_bad_configuration_value_names_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fieldstar"))
        .arg("migrate")
        .env("FIELDSTAR_DATA_DIR", dir.path())
        .env("FIELDSTAR_TIMEZONE", "Mars/Olympus")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("FIELDSTAR_TIMEZONE"));
}

#[test]
fn a_sqlite_file_in_a_missing_directory_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir").join("fieldstar.db");
    for args in [&["migrate"][..], &["serve"][..]] {
        let out = Command::new(env!("CARGO_BIN_EXE_fieldstar"))
            .args(args)
            .env("FIELDSTAR_DATA_DIR", dir.path())
            .env("FIELDSTAR_BIND", "127.0.0.1:0")
            .env(
                "FIELDSTAR_DATABASE_URL",
                format!("sqlite://{}", missing.display()),
            )
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("FIELDSTAR_DATABASE_URL") && err.contains("does not exist"),
            "{err}"
        );
        assert!(!missing.parent().unwrap().exists(), "nothing is created");
    }
}

#[test]
fn a_misspelt_variable_is_warned_about_with_the_closest_name() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fieldstar"))
        .arg("migrate")
        .env("FIELDSTAR_DATA_DIR", dir.path())
        .env("FIELDSTAR_DATABSE_URL", "postgres://nowhere/x")
        .output()
        .unwrap();
    assert!(out.status.success(), "a warning, not a failure");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("FIELDSTAR_DATABSE_URL")
            && err.contains("did you mean FIELDSTAR_DATABASE_URL?"),
        "{err}"
    );
}

both_backends!(checklist_import_adds_a_version_and_refuses_a_bad_template_naming_the_item);

async fn checklist_import_adds_a_version_and_refuses_a_bad_template_naming_the_item(app: TestApp) {
    let mut t: serde_json::Value = serde_json::from_str(include_str!(
        "../../server/src/checklist/defaults/star-1.json"
    ))
    .unwrap();
    t["code"] = serde_json::json!("county-star-1");
    let good = app.data_dir.path().join("good.json");
    std::fs::write(&good, t.to_string()).unwrap();
    let out = fieldstar(
        &app,
        &["checklist", "import", good.to_str().unwrap(), "--publish"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("county-star-1 version 1 (published)"),
        "{}",
        text(&out)
    );
    t["sections"][0]["items"][0]["visible_if"] =
        serde_json::json!({"item": "nowhere", "equals": true});
    let bad = app.data_dir.path().join("bad.json");
    std::fs::write(&bad, t.to_string()).unwrap();
    let out = fieldstar(&app, &["checklist", "import", bad.to_str().unwrap()], None);
    assert!(!out.status.success());
    assert!(text(&out).contains("visible_if"), "{}", text(&out));
}

#[test]
fn photo_inspect_prints_the_pipeline_and_writes_metadata_free_derivatives() {
    let dir = tempfile::tempdir().unwrap();
    let exif = fieldstar::photo::fixtures::FixtureExif {
        lat: Some(43.4675),
        lon: Some(11.884),
        orientation: Some(6),
        ..Default::default()
    };
    let file = dir.path().join("phone.jpg");
    std::fs::write(
        &file,
        fieldstar::photo::fixtures::jpeg(2000, 1500, 9, Some(&exif)),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fieldstar"))
        .args([
            "photo",
            "inspect",
            file.to_str().unwrap(),
            "--out",
            dir.path().join("out").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (doc["format"].as_str(), doc["orientation"].as_u64()),
        (Some("jpeg"), Some(6))
    );
    assert_eq!(
        (doc["width"].as_u64(), doc["height"].as_u64()),
        (Some(1500), Some(2000))
    );
    assert!((doc["exif"]["lat"].as_f64().unwrap() - 43.4675).abs() < 1e-6);
    assert_eq!(doc["sha256"].as_str().unwrap().len(), 64);
    assert!(doc["timings_ms"]["total"].as_f64().is_some());
    let thumb = std::fs::read(dir.path().join("out/thumb.jpg")).unwrap();
    assert!(!thumb.windows(4).any(|w| w == b"Exif"));
    let out = Command::new(env!("CARGO_BIN_EXE_fieldstar"))
        .args(["photo", "inspect", "/nonexistent.jpg"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}
