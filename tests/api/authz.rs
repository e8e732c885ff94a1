//! The authorization matrix, derived from the spec: every route, called as every role of the
//! DEMO county, as the same roles of a second county (EAST) and anonymously. A route in the
//! spec that `recipe` cannot call fails the test, so a new route must be added here.

use serde_json::{json, Value};

use crate::both_backends;
use crate::flow::*;
use crate::helpers::*;

/// Who a route's ids belong to, which decides what a caller of another county may see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// No token needed (ops, login, refresh, logout).
    Public,
    /// The caller's own scope (lists, `me`, global checklists): any status but 5xx, and an
    /// EAST caller's answer names no DEMO object.
    Own,
    /// Names a DEMO object (path, filter or body): EAST callers never get a 2xx, and a GET
    /// answers them 404.
    Demo,
}

enum Body {
    None,
    Json(Value),
    Bytes(Vec<u8>, &'static str),
    /// A tus request: its headers and body.
    Tus(Vec<(&'static str, String)>, Vec<u8>),
}

struct Call {
    path: String,
    body: Body,
    kind: Kind,
}

/// The DEMO objects the matrix points at.
struct Ctx {
    county: String,
    township: String,
    village: String,
    village2: String,
    org_unit: String,
    user: String,
    declaration: String,
    inspection: String,
    inspection_body: Value,
    photo: String,
    photo_bytes: Vec<u8>,
    /// inspector1's resumable upload of `photo`, and its `Upload-Metadata`.
    upload: String,
    upload_metadata: String,
    member: String,
    spare_member: String,
    mentee: String,
    visit: String,
    visit_body: Value,
    webhook: String,
}

impl Ctx {
    /// Every DEMO id an EAST caller must never see.
    fn secrets(&self) -> Vec<&str> {
        vec![
            &self.county,
            &self.township,
            &self.village,
            &self.village2,
            &self.org_unit,
            &self.user,
            &self.declaration,
            &self.inspection,
            &self.photo,
            &self.member,
            &self.spare_member,
            &self.mentee,
            &self.visit,
        ]
    }
}

/// How to call `method template`: the table every route of the spec must be in. `n` makes
/// created names unique; `caller` is the username (for login).
fn recipe(c: &Ctx, method: &str, template: &str, n: usize, caller: &str) -> Option<Call> {
    use Kind::*;
    let call = |path: String, body: Body, kind: Kind| Some(Call { path, body, kind });
    let none = || Body::None;
    match (method, template) {
        ("get", "/healthz" | "/readyz" | "/metrics" | "/api/openapi.yaml" | "/docs") => {
            call(template.into(), none(), Public)
        }
        ("post", "/api/v1/auth/login") => call(
            template.into(),
            Body::Json(json!({"username": caller, "password": PASSWORD})),
            Public,
        ),
        ("post", "/api/v1/auth/refresh" | "/api/v1/auth/logout") => call(
            template.into(),
            Body::Json(json!({"refresh_token": "not-a-refresh-token"})),
            Public,
        ),
        ("get", "/api/v1/me") => call(template.into(), none(), Own),
        ("get", "/api/v1/audit") => call(
            format!(
                "/api/v1/audit?entity_type=inspection&entity_id={}",
                c.inspection
            ),
            none(),
            Own,
        ),
        ("get", "/api/v1/org-units") => call(template.into(), none(), Own),
        ("post", "/api/v1/org-units") => call(
            template.into(),
            Body::Json(
                json!({"code": format!("AZ-V{n}"), "name": "Matrix village", "level": "village",
                "parent_id": c.township, "lat": 36.3, "lon": 114.3}),
            ),
            Demo,
        ),
        ("post", "/api/v1/org-units/import") => call(
            format!("{template}?dry_run=true"),
            Body::Bytes(
                format!(
                    "code,name,level,parent_code,lat,lon,radius_m\nAZ-I{n},导入村,village,DEMO-T01,36.3,114.3,\n"
                )
                .into_bytes(),
                "text/csv",
            ),
            Own,
        ),
        ("get", "/api/v1/org-units/{id}") => {
            call(format!("/api/v1/org-units/{}", c.org_unit), none(), Demo)
        }
        ("patch", "/api/v1/org-units/{id}") => call(
            format!("/api/v1/org-units/{}", c.org_unit),
            Body::Json(json!({"name": format!("Renamed {n}")})),
            Demo,
        ),
        ("get", "/api/v1/users") => call(template.into(), none(), Own),
        ("post", "/api/v1/users") => call(
            template.into(),
            Body::Json(
                json!({"username": format!("az-user-{n}"), "password": PASSWORD,
                "role": "inspector", "org_unit_id": c.county}),
            ),
            Demo,
        ),
        ("patch", "/api/v1/users/{id}") => call(
            format!("/api/v1/users/{}", c.user),
            Body::Json(json!({"active": true})),
            Demo,
        ),
        ("get", "/api/v1/checklists") => call(template.into(), none(), Own),
        ("post", "/api/v1/checklists") => {
            let mut t =
                serde_json::to_value(&fieldstar::checklist::template::default_templates()[0])
                    .unwrap();
            t["code"] = json!(format!("matrix-{n}"));
            call(template.into(), Body::Json(t), Own)
        }
        ("get", "/api/v1/checklists/{code}/versions/{version}") => {
            call("/api/v1/checklists/star-1/versions/1".into(), none(), Own)
        }
        ("post", "/api/v1/checklists/{code}/versions/{version}/publish") => call(
            "/api/v1/checklists/star-1/versions/1/publish".into(),
            none(),
            Own,
        ),
        ("post", "/api/v1/declarations") => call(
            template.into(),
            Body::Json(json!({"village_id": c.village2, "star_level": 1})),
            Demo,
        ),
        ("post", "/api/v1/declarations/{id}/forward") => call(
            format!("/api/v1/declarations/{}/forward", c.declaration),
            Body::Json(json!({})),
            Demo,
        ),
        ("post", "/api/v1/declarations/{id}/send-back") => call(
            format!("/api/v1/declarations/{}/send-back", c.declaration),
            Body::Json(json!({"comment": "the ledger is missing"})),
            Demo,
        ),
        ("get", "/api/v1/declarations") => call(
            format!("/api/v1/declarations?village={}", c.village),
            none(),
            Own,
        ),
        ("get", "/api/v1/inspections/worklist") => call(template.into(), none(), Own),
        ("get", "/api/v1/inspections") => call(template.into(), none(), Own),
        ("put", "/api/v1/inspections/{id}") => call(
            format!("/api/v1/inspections/{}", c.inspection),
            Body::Json(c.inspection_body.clone()),
            Demo,
        ),
        ("get", "/api/v1/inspections/{id}") => call(
            format!("/api/v1/inspections/{}", c.inspection),
            none(),
            Demo,
        ),
        ("put", "/api/v1/inspections/{id}/photos/{photo_id}") => call(
            format!("/api/v1/inspections/{}/photos/{}", c.inspection, c.photo),
            Body::Bytes(c.photo_bytes.clone(), "image/jpeg"),
            Demo,
        ),
        ("post", "/api/v1/uploads") => call(
            "/api/v1/uploads".into(),
            Body::Tus(
                vec![
                    ("Tus-Resumable", "1.0.0".into()),
                    ("Upload-Length", c.photo_bytes.len().to_string()),
                    ("Upload-Metadata", c.upload_metadata.clone()),
                ],
                Vec::new(),
            ),
            Demo,
        ),
        ("patch", "/api/v1/uploads/{id}") => call(
            c.upload.clone(),
            Body::Tus(
                vec![
                    ("Tus-Resumable", "1.0.0".into()),
                    ("Content-Type", "application/offset+octet-stream".into()),
                    ("Upload-Offset", "0".into()),
                ],
                Vec::new(),
            ),
            Demo,
        ),
        ("delete", "/api/v1/uploads/{id}") => call(
            c.upload.clone(),
            Body::Tus(vec![("Tus-Resumable", "1.0.0".into())], Vec::new()),
            Demo,
        ),
        ("get", "/api/v1/photos/{photo_id}") => call(
            format!("/api/v1/photos/{}?size=original", c.photo),
            none(),
            Demo,
        ),
        ("get", "/api/v1/villages/{id}/members") => call(
            format!("/api/v1/villages/{}/members", c.village),
            none(),
            Demo,
        ),
        ("post", "/api/v1/villages/{id}/members") => call(
            format!("/api/v1/villages/{}/members", c.village),
            Body::Json(json!({"name": format!("Matrix member {n}")})),
            Demo,
        ),
        ("patch", "/api/v1/members/{id}") => call(
            format!("/api/v1/members/{}", c.member),
            Body::Json(json!({"name": "Member One"})),
            Demo,
        ),
        ("get", "/api/v1/members/{id}/mentees") => call(
            format!("/api/v1/members/{}/mentees", c.member),
            none(),
            Demo,
        ),
        ("post", "/api/v1/members/{id}/mentees") => call(
            format!("/api/v1/members/{}/mentees", c.spare_member),
            Body::Json(json!({"code": format!("AZ-{n}"), "display_name": "Matrix mentee"})),
            Demo,
        ),
        ("patch", "/api/v1/mentees/{id}") => call(
            format!("/api/v1/mentees/{}", c.mentee),
            Body::Json(json!({"display_name": "Mentee renamed"})),
            Demo,
        ),
        ("put", "/api/v1/visits/{id}") => call(
            format!("/api/v1/visits/{}", c.visit),
            Body::Json(c.visit_body.clone()),
            Demo,
        ),
        ("get", "/api/v1/visits") => {
            call(format!("/api/v1/visits?mentee={}", c.mentee), none(), Own)
        }
        ("get", "/api/v1/villages/{id}/mentoring") => call(
            format!("/api/v1/villages/{}/mentoring", c.village),
            none(),
            Demo,
        ),
        (
            "get",
            "/api/v1/reports/mentoring"
            | "/api/v1/reports/stars"
            | "/api/v1/reports/reviews"
            | "/api/v1/reports/unverified"
            | "/api/v1/reports/benefits"
            | "/api/v1/reports/inspections",
        ) => call(format!("{template}?org_unit={}", c.county), none(), Demo),
        // The printable record: county staff and the inspector who submitted it.
        ("get", "/api/v1/inspections/{id}/record") => call(
            format!("/api/v1/inspections/{}/record", c.inspection),
            none(),
            Demo,
        ),
        // An id nobody has: approving the real inspection would end it for the routes called
        // after; each id's refusal is in the answer (and the desk tests cover real approvals).
        ("post", "/api/v1/review/bulk-approve") => call(
            template.into(),
            Body::Json(json!({"inspection_ids": [uuid::Uuid::new_v4().to_string()]})),
            Own,
        ),
        // Review, stars and webhooks (design.md's contract).
        ("get", "/api/v1/review-queue") => call(template.into(), none(), Own),
        ("post", "/api/v1/inspections/{id}/claim") => call(
            format!("/api/v1/inspections/{}/claim", c.inspection),
            none(),
            Demo,
        ),
        ("post", "/api/v1/inspections/{id}/decision") => call(
            format!("/api/v1/inspections/{}/decision", c.inspection),
            Body::Json(json!({"decision": "return", "comment": "authorization matrix"})),
            Demo,
        ),
        ("post", "/api/v1/inspections/{id}/reopen") => call(
            format!("/api/v1/inspections/{}/reopen", c.inspection),
            Body::Json(json!({"reason": "authorization matrix"})),
            Demo,
        ),
        // The inspection is submitted: its owner and admins get 409, nobody cancels it.
        ("delete", "/api/v1/inspections/{id}") => call(
            format!("/api/v1/inspections/{}", c.inspection),
            none(),
            Demo,
        ),
        ("get", "/api/v1/quarters/{quarter}") => {
            call(format!("/api/v1/quarters/{}", this_quarter()), none(), Own)
        }
        ("put", "/api/v1/quarters/{quarter}") => {
            let q = this_quarter();
            let body = json!({"opens_on": q.first_day(), "closes_on": q.last_day() + chrono::Days::new(15)});
            call(format!("/api/v1/quarters/{q}"), Body::Json(body), Own)
        }
        ("get", "/api/v1/villages/{id}/star-status") => call(
            format!("/api/v1/villages/{}/star-status", c.village),
            none(),
            Demo,
        ),
        ("delete", "/api/v1/inspections/{id}/claim") => call(
            format!("/api/v1/inspections/{}/claim", c.inspection),
            none(),
            Demo,
        ),
        ("get", "/api/v1/policy") => call(template.into(), none(), Own),
        // The caller's county's catalogue: an EAST admin saves EAST's.
        ("get", "/api/v1/benefits" | "/api/v1/benefits/versions") => {
            call(template.into(), none(), Own)
        }
        ("put", "/api/v1/benefits") => call(
            template.into(),
            Body::Json(json!({"benefits": [{"code": format!("matrix_{n}"),
                "name": {"zh": "矩阵", "en": "Matrix"}, "min_level": 1,
                "applies_to": "households", "amount": "1 yuan"}]})),
            Own,
        ),
        ("get", "/api/v1/benefits/versions/{version}") => {
            call("/api/v1/benefits/versions/1".into(), none(), Own)
        }
        ("patch", "/api/v1/policy") => {
            call(template.into(), Body::Json(json!({"max_step": 1})), Own)
        }
        // A webhook no one has: deleting the real one would empty its delivery log for the
        // routes called after it. Every caller gets 404 (or 403 before the lookup).
        ("delete", "/api/v1/webhooks/{id}") => call(
            format!("/api/v1/webhooks/{}", uuid::Uuid::new_v4()),
            none(),
            Demo,
        ),
        ("get", "/api/v1/webhooks") => call(template.into(), none(), Own),
        ("post", "/api/v1/webhooks") => call(
            template.into(),
            Body::Json(
                json!({"url": "https://hooks.example.invalid/fieldstar", "events": ["inspection.submitted"]}),
            ),
            Own,
        ),
        ("get", "/api/v1/webhooks/{id}/deliveries") => call(
            format!("/api/v1/webhooks/{}/deliveries", c.webhook),
            none(),
            Demo,
        ),
        _ => None,
    }
}

fn this_quarter() -> fieldstar::quarter::Quarter {
    fieldstar::quarter::Quarter::of_instant(chrono::Utc::now(), chrono_tz::Asia::Shanghai)
}

/// The answers that matter most, for DEMO's own roles (`(method, template, caller, status)`).
const EXPECTED: &[(&str, &str, &str, u16)] = &[
    // The record and the export are for county staff: villagers and township staff are out.
    ("get", "/api/v1/inspections/{id}/record", "admin", 200),
    ("get", "/api/v1/inspections/{id}/record", "reviewer1", 200),
    ("get", "/api/v1/inspections/{id}/record", "township1", 403),
    ("get", "/api/v1/inspections/{id}/record", "secretary1", 403),
    ("get", "/api/v1/inspections/{id}/record", "member1", 403),
    ("get", "/api/v1/reports/inspections", "admin", 200),
    ("get", "/api/v1/reports/inspections", "reviewer1", 200),
    ("get", "/api/v1/reports/inspections", "inspector1", 200),
    ("get", "/api/v1/reports/inspections", "township1", 403),
    ("get", "/api/v1/reports/inspections", "secretary1", 403),
    ("get", "/api/v1/reports/inspections", "member1", 403),
    ("post", "/api/v1/review/bulk-approve", "reviewer1", 200),
    ("post", "/api/v1/review/bulk-approve", "admin", 403),
    ("post", "/api/v1/review/bulk-approve", "inspector1", 403),
    ("post", "/api/v1/review/bulk-approve", "secretary1", 403),
    ("post", "/api/v1/review/bulk-approve", "member1", 403),
    ("post", "/api/v1/inspections/{id}/claim", "admin", 403),
    ("post", "/api/v1/inspections/{id}/reopen", "reviewer1", 403),
    ("post", "/api/v1/inspections/{id}/reopen", "inspector1", 403),
    ("delete", "/api/v1/inspections/{id}", "reviewer1", 403),
    ("put", "/api/v1/quarters/{quarter}", "admin", 200),
    ("put", "/api/v1/quarters/{quarter}", "reviewer1", 403),
    ("get", "/api/v1/quarters/{quarter}", "inspector1", 200),
    ("patch", "/api/v1/policy", "admin", 200),
    ("patch", "/api/v1/policy", "reviewer1", 403),
    (
        "delete",
        "/api/v1/inspections/{id}/claim",
        "inspector1",
        403,
    ),
    ("get", "/api/v1/me", "member1", 200),
    ("get", "/api/v1/users", "admin", 200),
    ("get", "/api/v1/users", "inspector1", 403),
    ("get", "/api/v1/users", "secretary1", 403),
    ("post", "/api/v1/users", "admin", 201),
    ("post", "/api/v1/users", "inspector1", 403),
    ("post", "/api/v1/users", "reviewer1", 403),
    ("post", "/api/v1/users", "secretary1", 403),
    ("post", "/api/v1/users", "member1", 403),
    ("patch", "/api/v1/users/{id}", "admin", 200),
    ("patch", "/api/v1/users/{id}", "reviewer1", 403),
    ("post", "/api/v1/org-units", "admin", 201),
    ("post", "/api/v1/org-units", "inspector1", 403),
    ("post", "/api/v1/org-units", "secretary1", 403),
    ("patch", "/api/v1/org-units/{id}", "admin", 200),
    ("post", "/api/v1/org-units/import", "admin", 200),
    ("post", "/api/v1/org-units/import", "inspector1", 403),
    ("post", "/api/v1/org-units/import", "township1", 403),
    ("post", "/api/v1/org-units/import", "secretary1", 403),
    ("patch", "/api/v1/org-units/{id}", "inspector1", 403),
    ("get", "/api/v1/org-units/{id}", "inspector1", 200),
    ("post", "/api/v1/checklists", "admin", 201),
    ("post", "/api/v1/checklists", "inspector1", 403),
    ("post", "/api/v1/checklists", "reviewer1", 403),
    ("post", "/api/v1/declarations", "inspector1", 403),
    ("post", "/api/v1/declarations", "reviewer1", 403),
    ("post", "/api/v1/declarations", "member1", 403),
    ("post", "/api/v1/declarations", "admin", 201),
    // Township staff declare for their villages (the admin's declaration came first: 409).
    ("post", "/api/v1/declarations", "township1", 409),
    // Only a declaration awaiting its township is checked: the matrix's is not (409), and only
    // township staff and admins check at all.
    (
        "post",
        "/api/v1/declarations/{id}/forward",
        "township1",
        409,
    ),
    ("post", "/api/v1/declarations/{id}/forward", "admin", 409),
    (
        "post",
        "/api/v1/declarations/{id}/forward",
        "inspector1",
        403,
    ),
    (
        "post",
        "/api/v1/declarations/{id}/forward",
        "secretary1",
        403,
    ),
    (
        "post",
        "/api/v1/declarations/{id}/send-back",
        "township1",
        409,
    ),
    (
        "post",
        "/api/v1/declarations/{id}/send-back",
        "reviewer1",
        403,
    ),
    (
        "post",
        "/api/v1/declarations/{id}/send-back",
        "member1",
        403,
    ),
    ("get", "/api/v1/review-queue", "township1", 403),
    ("get", "/api/v1/inspections/{id}", "township1", 200),
    // The county's report is outside a township's scope (her own is tested in verifiers.rs).
    ("get", "/api/v1/reports/stars", "township1", 404),
    ("get", "/api/v1/users", "township1", 403),
    ("patch", "/api/v1/policy", "township1", 403),
    ("get", "/api/v1/inspections/worklist", "inspector1", 200),
    ("get", "/api/v1/inspections/worklist", "secretary1", 403),
    ("get", "/api/v1/inspections/worklist", "member1", 403),
    ("put", "/api/v1/inspections/{id}", "inspector1", 200),
    ("put", "/api/v1/inspections/{id}", "reviewer1", 403),
    ("put", "/api/v1/inspections/{id}", "secretary1", 403),
    ("put", "/api/v1/inspections/{id}", "member1", 403),
    ("get", "/api/v1/inspections/{id}", "reviewer1", 200),
    // The village reads its own view of an inspection (no evidence); members nothing.
    ("get", "/api/v1/inspections/{id}", "secretary1", 200),
    ("get", "/api/v1/inspections/{id}", "member1", 403),
    ("get", "/api/v1/inspections", "secretary1", 200),
    ("get", "/api/v1/inspections", "member1", 403),
    (
        "put",
        "/api/v1/inspections/{id}/photos/{photo_id}",
        "inspector1",
        200,
    ),
    (
        "put",
        "/api/v1/inspections/{id}/photos/{photo_id}",
        "reviewer1",
        403,
    ),
    (
        "put",
        "/api/v1/inspections/{id}/photos/{photo_id}",
        "secretary1",
        403,
    ),
    (
        "put",
        "/api/v1/inspections/{id}/photos/{photo_id}",
        "member1",
        403,
    ),
    ("post", "/api/v1/uploads", "inspector1", 201),
    ("post", "/api/v1/uploads", "admin", 201),
    ("post", "/api/v1/uploads", "reviewer1", 403),
    ("post", "/api/v1/uploads", "secretary1", 403),
    ("post", "/api/v1/uploads", "member1", 403),
    ("patch", "/api/v1/uploads/{id}", "inspector1", 204),
    ("patch", "/api/v1/uploads/{id}", "admin", 404),
    ("patch", "/api/v1/uploads/{id}", "reviewer1", 403),
    ("delete", "/api/v1/uploads/{id}", "admin", 404),
    ("delete", "/api/v1/uploads/{id}", "inspector1", 204),
    ("delete", "/api/v1/uploads/{id}", "reviewer1", 404),
    ("get", "/api/v1/photos/{photo_id}", "reviewer1", 200),
    ("get", "/api/v1/photos/{photo_id}", "admin", 200),
    ("get", "/api/v1/photos/{photo_id}", "inspector1", 403),
    ("get", "/api/v1/photos/{photo_id}", "secretary1", 403),
    ("get", "/api/v1/photos/{photo_id}", "member1", 403),
    ("get", "/api/v1/audit", "admin", 200),
    ("get", "/api/v1/audit", "reviewer1", 200),
    ("get", "/api/v1/audit", "inspector1", 403),
    ("get", "/api/v1/audit", "secretary1", 403),
    ("get", "/api/v1/audit", "member1", 403),
    ("post", "/api/v1/villages/{id}/members", "secretary1", 201),
    ("post", "/api/v1/villages/{id}/members", "inspector1", 403),
    ("post", "/api/v1/villages/{id}/members", "member1", 403),
    ("post", "/api/v1/members/{id}/mentees", "secretary1", 201),
    ("post", "/api/v1/members/{id}/mentees", "reviewer1", 403),
    ("patch", "/api/v1/mentees/{id}", "secretary1", 200),
    ("patch", "/api/v1/mentees/{id}", "inspector1", 403),
    ("put", "/api/v1/visits/{id}", "secretary1", 200),
    ("put", "/api/v1/visits/{id}", "inspector1", 403),
    ("put", "/api/v1/visits/{id}", "reviewer1", 403),
    ("get", "/api/v1/villages/{id}/mentoring", "inspector1", 200),
    ("get", "/api/v1/villages/{id}/mentoring", "member1", 403),
    ("get", "/api/v1/reports/mentoring", "admin", 200),
    ("get", "/api/v1/reports/mentoring", "member1", 403),
    ("get", "/api/v1/reports/benefits", "admin", 200),
    ("get", "/api/v1/reports/benefits", "inspector1", 200),
    ("get", "/api/v1/reports/benefits", "secretary1", 403),
    ("get", "/api/v1/benefits", "reviewer1", 200),
    ("get", "/api/v1/benefits", "member1", 403),
    ("put", "/api/v1/benefits", "admin", 200),
    ("put", "/api/v1/benefits", "east-admin", 200),
    ("put", "/api/v1/benefits", "reviewer1", 403),
    ("put", "/api/v1/benefits", "secretary1", 403),
    ("get", "/api/v1/benefits/versions/{version}", "admin", 200),
];

const DEMO_CALLERS: [&str; 6] = [
    "admin",
    "inspector1",
    "reviewer1",
    "township1",
    "secretary1",
    "member1",
];
const EAST_CALLERS: [&str; 6] = [
    "east-admin",
    "east-inspector",
    "east-reviewer",
    "east-township",
    "east-secretary",
    "east-member",
];

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
}

async fn demo_objects(app: &TestApp) -> Ctx {
    seed_two_counties(app).await;
    app.create_user("east-inspector", "inspector", "EAST").await;
    app.create_user("east-reviewer", "reviewer", "EAST").await;
    app.create_user("east-township", "township", "EAST-T1")
        .await;
    app.create_user("east-secretary", "secretary", "EAST-V1")
        .await;
    app.create_user("east-member", "member", "EAST-V1").await;
    let admin = app.login("admin").await;
    let inspector = app.login("inspector1").await;
    let secretary = app.login("secretary1").await;
    let me = json_of(app.get("/api/v1/me", &admin.token).await).await;
    let county = me["county_id"].as_str().unwrap().to_string();
    let township = app.unit_id(&admin.token, "DEMO-T01").await;
    let village = app.unit_id(&admin.token, "DEMO-T01-V001").await;
    let village2 = app.unit_id(&admin.token, "DEMO-T01-V002").await;

    let res = app
        .post(
            "/api/v1/org-units",
            &admin.token,
            &json!({"code": "AZ-TARGET", "name": "Matrix target", "level": "village",
                "parent_id": township, "lat": 36.3, "lon": 114.3}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let org_unit = id(&json_of(res).await);
    let res = app
        .post(
            "/api/v1/users",
            &admin.token,
            &json!({"username": "az-target", "password": PASSWORD, "role": "inspector", "org_unit_id": county}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let user = id(&json_of(res).await);

    let d = declare(app, &secretary.token, "DEMO-T01-V001", 1).await;
    let s = submission(app, &inspector.token, &d, (36.3, 114.3), 91).await;
    submit(app, &inspector.token, &s).await;
    let b64 = |v: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(v)
    };
    let upload_metadata = format!(
        "inspection_id {},photo_id {},sha256 {}",
        b64(&s.id),
        b64(&s.photos[0].id),
        b64(&s.photos[0].sha256())
    );
    let res = app
        .request(
            reqwest::Method::POST,
            "/api/v1/uploads",
            Some(&inspector.token),
        )
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", s.photos[0].bytes.len().to_string())
        .header("Upload-Metadata", &upload_metadata)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let upload = res.headers()["location"].to_str().unwrap().to_owned();

    let members = json_of(
        app.get(
            &format!("/api/v1/villages/{village}/members"),
            &secretary.token,
        )
        .await,
    )
    .await;
    let member = id(&members["items"][0]);
    let mentees = json_of(
        app.get(
            &format!("/api/v1/members/{member}/mentees"),
            &secretary.token,
        )
        .await,
    )
    .await;
    let mentee = id(&mentees["items"][0]);
    let res = app
        .post(
            &format!("/api/v1/villages/{village}/members"),
            &secretary.token,
            &json!({"name": "Spare member"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let spare_member = id(&json_of(res).await);
    let visit = uuid::Uuid::new_v4().to_string();
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let visit_body =
        json!({"mentee_id": mentee, "visited_on": today.to_string(), "kind": "outreach"});
    let res = app
        .put(
            &format!("/api/v1/visits/{visit}"),
            &secretary.token,
            &visit_body,
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());

    // Webhooks exist once their routes do; otherwise any id serves.
    let mut webhook = uuid::Uuid::new_v4().to_string();
    let res = app
        .post(
            "/api/v1/webhooks",
            &admin.token,
            &json!({"url": "https://hooks.example.invalid/fieldstar", "events": ["inspection.submitted"]}),
        )
        .await;
    if res.status() == 201 {
        webhook = id(&json_of(res).await);
    }

    Ctx {
        county,
        township,
        village,
        village2,
        org_unit,
        user,
        declaration: id(&d),
        inspection: s.id.clone(),
        inspection_body: s.body.clone(),
        photo: s.photos[0].id.clone(),
        photo_bytes: s.photos[0].bytes.clone(),
        upload,
        upload_metadata,
        member,
        spare_member,
        mentee,
        visit,
        visit_body,
        webhook,
    }
}

/// Every (method, path template, needs a token) of the spec.
fn operations() -> Vec<(String, String, bool)> {
    let spec = serde_json::to_value(fieldstar::app::openapi()).unwrap();
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if let Some(op) = item.get(method) {
                let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
                ops.push((method.to_string(), path.clone(), secured));
            }
        }
    }
    ops
}

async fn send(app: &TestApp, method: &str, call: &Call, token: Option<&str>) -> (u16, String) {
    let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let mut rb = app.request(m, &call.path, token);
    rb = match &call.body {
        Body::None => rb,
        Body::Json(v) => rb.json(v),
        Body::Bytes(b, ct) => rb.header("content-type", *ct).body(b.clone()),
        Body::Tus(headers, b) => headers
            .iter()
            .fold(rb, |rb, (k, v)| rb.header(*k, v))
            .body(b.clone()),
    };
    let res = rb.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.text().await.unwrap_or_default())
}

both_backends!(every_route_answers_every_role_of_both_counties_as_the_matrix_expects);

async fn every_route_answers_every_role_of_both_counties_as_the_matrix_expects(app: TestApp) {
    let ctx = demo_objects(&app).await;
    let ops = operations();
    let unknown: Vec<String> = ops
        .iter()
        .filter(|(m, p, _)| recipe(&ctx, m, p, 0, "admin").is_none())
        .map(|(m, p, _)| format!("{} {p}", m.to_uppercase()))
        .collect();
    assert!(
        unknown.is_empty(),
        "the authorization matrix does not know how to call {unknown:?}: add them to `recipe` in tests/api/authz.rs"
    );
    for (m, p, _, _) in EXPECTED {
        assert!(
            ops.iter().any(|(om, op, _)| om == m && op == p),
            "EXPECTED names {m} {p}, which is not in the spec"
        );
    }

    let mut sessions = Vec::new();
    // DEMO's roles first: an EAST role may get 403 where the same DEMO role does (a role
    // check before any loading says nothing about DEMO's objects).
    for u in DEMO_CALLERS.iter().chain(EAST_CALLERS.iter()) {
        sessions.push((*u, app.login(u).await.token));
    }
    let secrets = ctx.secrets();
    let mut n = 0;
    let mut failures = Vec::new();
    for (method, template, secured) in &ops {
        // Anonymous first: a secured route answers 401 before anything else.
        n += 1;
        let call = recipe(&ctx, method, template, n, "nobody").unwrap();
        let (status, body) = send(&app, method, &call, None).await;
        if *secured && status != 401 {
            failures.push(format!(
                "anonymous {method} {}: {status} (expected 401) {body}",
                call.path
            ));
        }
        if status >= 500 {
            failures.push(format!("anonymous {method} {}: {status} {body}", call.path));
        }
        let mut demo_status = std::collections::HashMap::new();
        for (caller, token) in &sessions {
            n += 1;
            let call = recipe(&ctx, method, template, n, caller).unwrap();
            let (status, body) = send(&app, method, &call, Some(token)).await;
            let who = format!("{caller} {} {}", method.to_uppercase(), call.path);
            if status >= 500 {
                failures.push(format!("{who}: {status} {body}"));
                continue;
            }
            let east = caller.starts_with("east-");
            if !east {
                demo_status.insert(DEMO_CALLERS.iter().position(|c| c == caller), status);
            }
            let same_role_in_demo = EAST_CALLERS
                .iter()
                .position(|c| c == caller)
                .and_then(|i| demo_status.get(&Some(i)).copied());
            if east && call.kind == Kind::Demo {
                if (200..300).contains(&status) {
                    failures.push(format!("{who}: {status} for a DEMO object {body}"));
                } else if method == "get" && status == 403 && same_role_in_demo == Some(403) {
                    // refused by role before loading: nothing learnt
                } else if method == "get" && status != 404 {
                    failures.push(format!("{who}: {status}, expected 404 for a DEMO object"));
                } else if ![403, 404, 409, 422].contains(&status) {
                    failures.push(format!("{who}: {status}, expected a refusal"));
                }
            }
            if east && call.kind != Kind::Demo {
                if let Some(s) = secrets.iter().find(|s| body.contains(**s)) {
                    failures.push(format!("{who}: {status}, the answer names DEMO's {s}"));
                }
            }
            if let Some((.., want)) = EXPECTED
                .iter()
                .find(|(m, p, c, _)| m == method && p == template && c == caller)
            {
                if status != *want {
                    failures.push(format!("{who}: {status}, expected {want} {body}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
