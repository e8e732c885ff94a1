//! What schemathesis (`.ci/run`) found, kept as regression tests: error answers documented as
//! problem+json, every content type a route sends is in the spec, and no 500 from a patch
//! that links an unknown login.

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

fn spec() -> Value {
    serde_json::to_value(fieldstar::app::openapi()).unwrap()
}

#[test]
fn every_problem_answer_is_documented_as_problem_json() {
    let spec = spec();
    let mut wrong = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, res) in op["responses"].as_object().into_iter().flatten() {
                for (ct, content) in res["content"].as_object().into_iter().flatten() {
                    let is_problem = content["schema"]["$ref"]
                        .as_str()
                        .is_some_and(|r| r.ends_with("/Problem"));
                    if is_problem != (ct == "application/problem+json") {
                        wrong.push(format!("{method} {path} {status}: {ct}"));
                    }
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn reports_and_metrics_document_the_types_they_send() {
    let spec = spec();
    let report = &spec["paths"]["/api/v1/reports/mentoring"]["get"]["responses"]["200"]["content"];
    assert!(
        report.get("application/json").is_some() && report.get("text/csv").is_some(),
        "{report}"
    );
    let metrics = &spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"];
    assert!(
        metrics.get("application/openmetrics-text").is_some(),
        "{metrics}"
    );
}

both_backends!(removing_a_member_while_linking_an_unknown_login_is_422_not_500);

async fn removing_a_member_while_linking_an_unknown_login_is_422_not_500(app: TestApp) {
    app.seed_demo().await;
    let secretary = app.login("secretary1").await;
    let village = app.unit_id(&secretary.token, "DEMO-T01-V001").await;
    let res = app
        .post(
            &format!("/api/v1/villages/{village}/members"),
            &secretary.token,
            &json!({"name": "Temporary"}),
        )
        .await;
    let member = json_of(res).await["id"].as_str().unwrap().to_string();
    let res = app
        .patch(
            &format!("/api/v1/members/{member}"),
            &secretary.token,
            &json!({"active": false, "name": null, "user_id": "__main__"}),
        )
        .await;
    let body = assert_problem(res, 422).await;
    assert_eq!(body["errors"][0]["field"], "user_id", "{body}");
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
}
