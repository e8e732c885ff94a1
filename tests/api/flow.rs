//! The phone's flow as helpers: a county near the test photos, declarations, a passing set of
//! answers for any template, photos made with EXIF, and the PUTs.

use chrono::{Duration, NaiveDateTime, Utc};
use fieldstar::photo::fixtures::{self, FixtureExif};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::helpers::*;

/// A county whose villages sit where the real test photos were taken (43.4675 N, 11.8840 E),
/// one 10 km north, and a third at the first one's position.
pub const FIELD_COUNTY_CSV: &str = "code,name,level,parent_code,lat,lon,radius_m\n\
FIELD,Field County,county,,,,\n\
FIELD-T1,Field Township,township,FIELD,,,\n\
FIELD-V1,Field Village One,village,FIELD-T1,43.4675,11.8840,1500\n\
FIELD-V2,Field Village North,village,FIELD-T1,43.5575,11.8840,1500\n\
FIELD-V3,Field Village Three,village,FIELD-T1,43.4675,11.8840,1500\n";

pub const VILLAGE: (f64, f64) = (43.4675, 11.8840);
pub const OFFSET_MINUTES: i32 = 480;

pub struct Field {
    pub admin: Session,
    pub inspector: Session,
    /// The programme department's reviewer.
    pub reviewer: Session,
    /// The association's reviewer: with joint approval (the programme's default) an approval
    /// needs both.
    pub associate: Session,
    pub secretary: Session,
}

/// The FIELD county with an admin, inspector, a reviewer of each verifying body and FIELD-V1's
/// secretary.
pub async fn field_county(app: &TestApp) -> Field {
    app.import_org(FIELD_COUNTY_CSV).await;
    app.create_user("field-admin", "admin", "FIELD").await;
    app.create_user("field-inspector", "inspector", "FIELD")
        .await;
    app.create_user("field-reviewer", "reviewer", "FIELD").await;
    app.create_reviewer("field-assoc", "FIELD", "association")
        .await;
    app.create_user("field-secretary", "secretary", "FIELD-V1")
        .await;
    Field {
        admin: app.login("field-admin").await,
        inspector: app.login("field-inspector").await,
        reviewer: app.login("field-reviewer").await,
        associate: app.login("field-assoc").await,
        secretary: app.login("field-secretary").await,
    }
}

pub async fn declare(app: &TestApp, token: &str, village_code: &str, level: i32) -> Value {
    let village = app.unit_id(token, village_code).await;
    let res = app
        .post(
            "/api/v1/declarations",
            token,
            &json!({"village_id": village, "star_level": level}),
        )
        .await;
    assert_eq!(res.status(), 201, "declare {village_code}");
    res.json().await.unwrap()
}

pub async fn template(app: &TestApp, token: &str, code: &str, version: i64) -> Value {
    json_of(
        app.get(
            &format!("/api/v1/checklists/{code}/versions/{version}"),
            token,
        )
        .await,
    )
    .await
}

fn visible(item: &Value, answers: &Map<String, Value>) -> bool {
    match item.get("visible_if") {
        None => true,
        Some(cond) => {
            let other = cond["item"].as_str().unwrap();
            match answers.get(other) {
                Some(Value::Array(chosen)) => chosen.contains(&cond["equals"]),
                Some(v) => *v == cond["equals"],
                None => false,
            }
        }
    }
}

/// Answers that pass every rule of `t`; the photo items each photo-bearing item needs.
pub fn passing_answers(t: &Value) -> (Map<String, Value>, Vec<(String, u64)>) {
    let mut answers = Map::new();
    let mut needs = Vec::new();
    for section in t["sections"].as_array().unwrap() {
        for item in section["items"].as_array().unwrap() {
            if !visible(item, &answers) {
                continue;
            }
            let id = item["id"].as_str().unwrap().to_string();
            let pass = &item["pass"];
            let value = match item["kind"].as_str().unwrap() {
                "yes_no" => Some(pass.get("equals").cloned().unwrap_or(json!(true))),
                "number" => Some(
                    pass.get("min")
                        .or(item.get("min"))
                        .cloned()
                        .unwrap_or(json!(1)),
                ),
                "choice" => Some(
                    pass.get("in")
                        .map(|v| v[0].clone())
                        .unwrap_or_else(|| item["options"][0]["id"].clone()),
                ),
                "multi_choice" => Some(Value::Array(
                    item["options"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|o| o["id"].clone())
                        .collect(),
                )),
                "text" if item["required"] == true => Some(json!("fine")),
                _ => None,
            };
            if let Some(v) = value {
                answers.insert(id.clone(), v);
            }
            if let Some(n) = item.get("photos_min").and_then(Value::as_u64) {
                needs.push((id, n));
            }
        }
    }
    (answers, needs)
}

pub struct Photo {
    pub id: String,
    pub item: String,
    pub bytes: Vec<u8>,
}

impl Photo {
    pub fn new(item: &str, bytes: Vec<u8>) -> Self {
        Photo {
            id: uuid::Uuid::new_v4().to_string(),
            item: item.into(),
            bytes,
        }
    }

    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(&self.bytes))
    }

    pub fn manifest(&self) -> Value {
        json!({"id": self.id, "item": self.item, "sha256": self.sha256()})
    }
}

/// A phone photo taken `minutes_ago` at (lat, lon), local time at UTC+8.
pub fn phone_photo(seed: u64, lat: f64, lon: f64, minutes_ago: i64) -> Vec<u8> {
    let local: NaiveDateTime = (Utc::now() - Duration::minutes(minutes_ago)).naive_utc()
        + Duration::minutes(OFFSET_MINUTES as i64);
    let exif = FixtureExif {
        lat: Some(lat),
        lon: Some(lon),
        taken_at_local: Some(local),
        make: Some("Fieldphone".into()),
        model: Some("F1".into()),
        ..Default::default()
    };
    fixtures::jpeg(800, 600, seed, Some(&exif))
}

pub struct Submission {
    pub id: String,
    pub body: Value,
    pub photos: Vec<Photo>,
}

/// An inspection body for `declaration` that passes, standing at `at`, with fresh photos.
pub async fn submission(
    app: &TestApp,
    token: &str,
    declaration: &Value,
    at: (f64, f64),
    seed: u64,
) -> Submission {
    let level = declaration["star_level"].as_i64().unwrap();
    let t = template(app, token, &format!("star-{level}"), 1).await;
    let (answers, needs) = passing_answers(&t);
    let mut photos = Vec::new();
    for (n, (item, count)) in needs.iter().enumerate() {
        for k in 0..*count {
            photos.push(Photo::new(
                item,
                phone_photo(seed * 100 + n as u64 * 10 + k, at.0, at.1, 20),
            ));
        }
    }
    let now = Utc::now();
    let body = json!({
        "declaration_id": declaration["id"],
        "checklist": {"code": format!("star-{level}"), "version": 1},
        "started_at": (now - Duration::minutes(40)).to_rfc3339(),
        "submitted_at": (now - Duration::minutes(1)).to_rfc3339(),
        "location": {"lat": at.0, "lon": at.1, "accuracy_m": 12.5, "captured_at": (now - Duration::minutes(2)).to_rfc3339(), "mock": false},
        "utc_offset_minutes": OFFSET_MINUTES,
        "answers": answers,
        "photos": photos.iter().map(Photo::manifest).collect::<Vec<_>>(),
    });
    Submission {
        id: uuid::Uuid::new_v4().to_string(),
        body,
        photos,
    }
}

pub async fn put_photo(
    app: &TestApp,
    token: &str,
    inspection: &str,
    photo_id: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    app.request(
        reqwest::Method::PUT,
        &format!("/api/v1/inspections/{inspection}/photos/{photo_id}"),
        Some(token),
    )
    .header("content-type", "image/jpeg")
    .body(bytes)
    .send()
    .await
    .unwrap()
}

/// PUTs the inspection and every photo; returns the final inspection.
pub async fn submit(app: &TestApp, token: &str, s: &Submission) -> Value {
    let res = app
        .put(&format!("/api/v1/inspections/{}", s.id), token, &s.body)
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    for p in &s.photos {
        let res = put_photo(app, token, &s.id, &p.id, p.bytes.clone()).await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    }
    json_of(
        app.get(&format!("/api/v1/inspections/{}", s.id), token)
            .await,
    )
    .await
}

pub fn flag_codes(inspection: &Value) -> Vec<String> {
    inspection["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

/// Claims the inspection as the reviewer (deciding needs the live claim), then decides it.
/// Approves as both verifying bodies: the department's reviewer, then the association's
/// (each claims first). Returns the second answer, which takes the decision.
pub async fn approve_jointly(app: &TestApp, f: &Field, id: &str, body: Value) -> reqwest::Response {
    let first = decide_claimed(app, &f.reviewer.token, id, body.clone()).await;
    assert_eq!(first.status(), 201, "the department's approval");
    let first: Value = first.json().await.unwrap();
    assert_eq!(
        first["inspection_status"], "awaiting_second_approval",
        "{first}"
    );
    decide_claimed(app, &f.associate.token, id, body).await
}

pub async fn decide_claimed(
    app: &TestApp,
    token: &str,
    id: &str,
    body: Value,
) -> reqwest::Response {
    app.post(
        &format!("/api/v1/inspections/{id}/claim"),
        token,
        &json!({}),
    )
    .await;
    app.post(&format!("/api/v1/inspections/{id}/decision"), token, &body)
        .await
}
