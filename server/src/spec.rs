//! What the handlers' annotations leave out of the OpenAPI document, added in one pass over the
//! generated document rather than in a hundred attributes: the answers every authenticated
//! operation can give (401 with its `WWW-Authenticate` challenge, 404 for an id out of scope,
//! 429 with `Retry-After`), `Location` on every 201, `ETag`/`If-None-Match` where the server
//! revalidates, photo bodies as binary in each accepted format, a summary and explicit security
//! on every operation, tag descriptions and examples of the main request bodies.
//!
//! The pass edits the document as JSON and reads it back, so it can say anything OpenAPI can.

use serde_json::{json, Map, Value};
use utoipa::openapi::OpenApi;

/// The image types a photo upload accepts (sniffed from the bytes; see `photo::pipeline`).
pub const PHOTO_TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/webp"];

const METHODS: [&str; 7] = ["get", "put", "post", "patch", "delete", "head", "options"];

pub fn complete(api: OpenApi) -> OpenApi {
    let mut doc = serde_json::to_value(&api).expect("the OpenAPI document is JSON");
    complete_json(&mut doc);
    serde_json::from_value(doc).expect("the completed OpenAPI document reads back")
}

fn complete_json(doc: &mut Value) {
    doc["info"]["license"]["identifier"] = json!("Apache-2.0");
    doc["servers"] = json!([{"url": "/", "description": "The server that serves this document"}]);
    if let Some(tags) = doc["tags"].as_array_mut() {
        for tag in tags {
            if let Some(d) = tag_description(tag["name"].as_str().unwrap_or_default()) {
                tag["description"] = json!(d);
            }
        }
    }
    let responses = &mut doc["components"]["responses"];
    if !responses.is_object() {
        *responses = json!({});
    }
    responses["Unauthorized"] = problem_response(
        "No valid access token (missing, expired, or its user was deactivated or changed role or \
         scope), or for login a wrong username or password",
        json!({"WWW-Authenticate": header(
            "`Bearer realm=\"fieldstar\"`, with `error=\"invalid_token\"` when a token was sent")}),
    );
    responses["NotFound"] = problem_response(
        "Nothing with this id in the caller's scope (an id from another scope answers the same)",
        json!({}),
    );
    responses["TooManyRequests"] = problem_response(
        "Throttled: try again after `Retry-After` seconds",
        json!({"Retry-After": {"description": "Seconds to wait before trying again",
                               "schema": {"type": "integer", "minimum": 1}}}),
    );

    // A page of T names T's schema rather than repeating it inline.
    if let Some(schemas) = doc["components"]["schemas"].as_object_mut() {
        // Every problem code, from the catalogue that holds their Chinese texts.
        if let Some(code) = schemas
            .get_mut("Problem")
            .and_then(|p| p["properties"].get_mut("code"))
        {
            let codes: Vec<&str> = crate::i18n::CODES.iter().map(|c| c.code).collect();
            code["enum"] = json!(codes);
        }
        let named: Vec<String> = schemas.keys().cloned().collect();
        for (name, schema) in schemas.iter_mut() {
            let Some(item) = name.strip_prefix("Page_") else {
                continue;
            };
            if named.iter().any(|n| n == item) {
                schema["properties"]["items"]["items"] =
                    json!({"$ref": format!("#/components/schemas/{item}")});
            }
        }
    }

    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        for method in METHODS {
            let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) else {
                continue;
            };
            complete_operation(path, method, op);
        }
    }
}

fn complete_operation(path: &str, method: &str, op: &mut Map<String, Value>) {
    if !op.contains_key("summary") {
        let id = op["operationId"].as_str().unwrap_or(path).replace('_', " ");
        let mut chars = id.chars();
        let summary = match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
            None => id,
        };
        op.insert("summary".into(), json!(summary));
    }
    let authenticated = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
    if !op.contains_key("security") {
        // Public: say so explicitly (no requirement: no credentials needed).
        op.insert("security".into(), json!([]));
    }
    let responses = op
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("responses");
    let reference = |name: &str| json!({"$ref": format!("#/components/responses/{name}")});
    if authenticated || responses.contains_key("401") {
        responses.insert("401".into(), reference("Unauthorized"));
    }
    if authenticated && path.contains('{') {
        responses
            .entry("404")
            .or_insert_with(|| reference("NotFound"));
    }
    let throttled = matches!(
        (method, path),
        ("post", "/api/v1/auth/login") | ("put", "/api/v1/inspections/{id}/photos/{photo_id}")
    );
    if throttled || responses.contains_key("429") {
        responses.insert("429".into(), reference("TooManyRequests"));
    }
    if let Some(created) = responses.get_mut("201") {
        add_header(
            created,
            "Location",
            "The created resource's URL (a photo: `/api/v1/photos/{photo_id}`; a decision: its \
             inspection)",
        );
    }
    let etag = matches!(
        (method, path),
        ("get", "/api/v1/checklists/{code}/versions/{version}")
            | ("get", "/api/v1/photos/{photo_id}")
            | ("get", "/api/v1/inspections/worklist")
            | ("get", "/api/v1/policy")
            | ("post", "/api/v1/checklists")
    );
    if etag {
        for status in ["200", "201", "304"] {
            if let Some(r) = responses.get_mut(status) {
                add_header(
                    r,
                    "ETag",
                    "The representation's version, for `If-None-Match`",
                );
            }
        }
        if method == "get" {
            let params = op
                .entry("parameters")
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .expect("parameters");
            params.push(json!({
                "name": "If-None-Match", "in": "header", "required": false,
                "description": "ETags the client holds: 304 when one is current",
                "schema": {"type": "string"}
            }));
        }
    }
    let binary = |types: &[&str]| -> Value {
        types
            .iter()
            .map(|t| {
                (
                    t.to_string(),
                    json!({"schema": {"type": "string", "format": "binary"}}),
                )
            })
            .collect::<Map<String, Value>>()
            .into()
    };
    match (method, path) {
        ("put", "/api/v1/inspections/{id}/photos/{photo_id}") => {
            op.insert(
                "requestBody".into(),
                json!({
                    "description": "The image bytes: JPEG, PNG or WebP (the format is read from \
                                    the bytes; anything else, HEIC included, is 415)",
                    "content": binary(&PHOTO_TYPES), "required": true
                }),
            );
        }
        ("patch", "/api/v1/uploads/{id}") => {
            op.insert(
                "requestBody".into(),
                json!({
                    "description": "The next bytes of the photo, from `Upload-Offset` (tus 1.0.0)",
                    "content": binary(&["application/offset+octet-stream"]), "required": true
                }),
            );
        }
        ("get", "/api/v1/photos/{photo_id}") => {
            if let Some(ok) = op
                .get_mut("responses")
                .and_then(|r| r.get_mut("200"))
                .and_then(Value::as_object_mut)
            {
                ok.insert("description".into(), json!(
                    "The image: thumbnails and display copies are JPEG; an original keeps its format"));
                ok.insert("content".into(), binary(&PHOTO_TYPES));
            }
        }
        _ => {}
    }
    if let Some(example) = example(method, path) {
        if let Some(content) = op
            .get_mut("requestBody")
            .and_then(|b| b.get_mut("content"))
            .and_then(|c| c.get_mut("application/json"))
            .and_then(Value::as_object_mut)
        {
            content.insert("example".into(), example);
        }
    }
}

fn problem_response(description: &str, headers: Value) -> Value {
    json!({
        "description": description,
        "headers": headers,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    })
}

fn header(description: &str) -> Value {
    json!({"description": description, "schema": {"type": "string"}})
}

fn add_header(response: &mut Value, name: &str, description: &str) {
    if let Some(r) = response.as_object_mut() {
        let headers = r.entry("headers").or_insert_with(|| json!({}));
        headers[name] = header(description);
    }
}

fn tag_description(name: &str) -> Option<&'static str> {
    Some(match name {
        "auth" => "Login, token refresh and logout; the caller's identity",
        "org" => "Org units: county, township, village",
        "users" => "Users, their role and scope",
        "checklists" => "Versioned checklist templates per star level",
        "declarations" => {
            "Star-level declarations, the township's pre-check and the quarter's verification window"
        }
        "inspections" => "On-site inspections submitted from the phone",
        "photos" => "Photo evidence: upload and derivatives",
        "uploads" => "Resumable photo uploads (tus 1.0.0: creation, termination, checksum)",
        "review" => "The county review queue, claims and decisions (joint approval)",
        "stars" => "Star status and the county's policy",
        "mentoring" => "Members, mentees and visits",
        "benefits" => "The county's benefit catalogue, by star level",
        "reports" => "Reports (JSON or CSV; the benefits report also XLSX)",
        "webhooks" => "Subscriptions and their delivery log",
        "audit" => "Who did what",
        "ops" => "Health, readiness, metrics and this document",
        _ => return None,
    })
}

/// Examples of the main request bodies, in the contract's wire format.
fn example(method: &str, path: &str) -> Option<Value> {
    Some(match (method, path) {
        ("post", "/api/v1/auth/login") => {
            json!({"username": "inspector1", "password": "correct horse battery"})
        }
        ("post", "/api/v1/auth/refresh") | ("post", "/api/v1/auth/logout") => {
            json!({"refresh_token": "rt_3q2+7w…"})
        }
        ("post", "/api/v1/org-units") => json!({
            "code": "DEMO-T01-V01", "name": "East Hill", "level": "village",
            "parent_id": "0193a4f0-5b1e-7c3a-9d2e-4f5a6b7c8d9e",
            "lat": 36.37, "lon": 114.38, "radius_m": 1500
        }),
        ("post", "/api/v1/users") => json!({
            "username": "inspector3", "password": "a long passphrase", "role": "inspector",
            "org_unit_id": "0193a4f0-5b1e-7c3a-9d2e-4f5a6b7c8d9e"
        }),
        ("post", "/api/v1/declarations") => json!({
            "village_id": "0193a4f0-5b1e-7c3a-9d2e-4f5a6b7c8d9e", "star_level": 2
        }),
        ("put", "/api/v1/inspections/{id}") => json!({
            "declaration_id": "0193a4f1-0c2d-7e3f-8a4b-5c6d7e8f9a0b",
            "checklist": {"code": "star-1", "version": 1},
            "started_at": "2026-11-20T02:10:00Z", "submitted_at": "2026-11-20T03:05:00Z",
            "location": {"lat": 36.37, "lon": 114.38, "accuracy_m": 12.5,
                         "captured_at": "2026-11-20T03:04:40Z", "mock": false},
            "utc_offset_minutes": 480,
            "answers": {"board_posted": true, "policy_count": 3, "association": "complete"},
            "photos": [{"id": "0193a4f2-1d3e-7f4a-9b5c-6d7e8f9a0b1c", "item": "board_posted",
                        "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}]
        }),
        ("post", "/api/v1/inspections/{id}/decision") => json!({
            "decision": "reject", "consequence": "downgrade",
            "comment": "The commitment board was not posted"
        }),
        ("put", "/api/v1/visits/{id}") => json!({
            "mentee_id": "0193a4f3-2e4f-7a5b-8c6d-7e8f9a0b1c2d", "visited_on": "2026-11-18",
            "kind": "quarterly_followup", "note": "Discussed the savings plan"
        }),
        ("post", "/api/v1/webhooks") => json!({
            "url": "https://county.example.org/fieldstar/hook",
            "events": ["inspection.submitted", "inspection.decided"]
        }),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_authenticated_operation_lists_401_and_every_201_a_location() {
        let doc = serde_json::to_value(crate::app::openapi()).unwrap();
        let mut authenticated = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                assert!(op["summary"].is_string(), "{method} {path}");
                assert!(op["security"].is_array(), "{method} {path}");
                let responses = &op["responses"];
                if op["security"][0].get("bearer").is_some() {
                    authenticated += 1;
                    assert!(responses.get("401").is_some(), "{method} {path}");
                }
                if let Some(created) = responses.get("201") {
                    assert!(
                        created["headers"].get("Location").is_some(),
                        "{method} {path}"
                    );
                }
            }
        }
        assert!(authenticated > 40, "{authenticated}");
    }
}
