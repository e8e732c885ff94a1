use chrono::{Days, NaiveDate, Utc};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

fn today_in_shanghai() -> NaiveDate {
    Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
}

fn current_quarter() -> fieldstar::quarter::Quarter {
    fieldstar::quarter::Quarter::containing(today_in_shanghai())
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The second demo village, `DEMO-T01-V002`, with its secretary `secretary2` and a member
/// login `member2` (the first village holds the demo's own mentoring data).
struct Village {
    id: String,
    admin: Session,
    secretary: Session,
    member_login: Session,
}

async fn second_village(app: &TestApp) -> Village {
    app.seed_demo().await;
    app.create_user("secretary2", "secretary", "DEMO-T01-V002")
        .await;
    app.create_user("member2", "member", "DEMO-T01-V002").await;
    let admin = app.login("admin").await;
    let id = app.unit_id(&admin.token, "DEMO-T01-V002").await;
    Village {
        id,
        admin,
        secretary: app.login("secretary2").await,
        member_login: app.login("member2").await,
    }
}

async fn add_member(app: &TestApp, token: &str, village: &str, body: Value) -> Value {
    let res = app
        .post(&format!("/api/v1/villages/{village}/members"), token, &body)
        .await;
    assert_eq!(res.status(), 201, "add member {body}");
    json_of(res).await
}

async fn add_mentee(app: &TestApp, token: &str, member: &str, code: &str, name: &str) -> Value {
    let res = app
        .post(
            &format!("/api/v1/members/{member}/mentees"),
            token,
            &json!({"code": code, "display_name": name}),
        )
        .await;
    assert_eq!(res.status(), 201, "add mentee {code}");
    json_of(res).await
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

async fn put_visit(app: &TestApp, token: &str, id: &str, body: &Value) -> reqwest::Response {
    app.put(&format!("/api/v1/visits/{id}"), token, body).await
}

fn followup(mentee: &str, on: NaiveDate) -> Value {
    json!({"mentee_id": mentee, "visited_on": on.to_string(), "kind": "quarterly_followup"})
}

/// Moves every mentee's registration date back a year, so that tests may date visits in the past.
async fn backdate_mentees(app: &TestApp) {
    use diesel::prelude::*;
    use fieldstar::db::schema::mentees;
    let db = app.state.db.clone();
    let year_ago = today_in_shanghai() - Days::new(400);
    fieldstar::db::blocking(move || {
        let mut conn = db.get()?;
        diesel::update(mentees::table)
            .set(mentees::created_on.eq(year_ago))
            .execute(&mut *conn)?;
        Ok(())
    })
    .await
    .expect("backdate");
}

fn codes(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|v| v[key].as_str().expect("string").to_string())
        .collect()
}

both_backends!(
    a_secretary_runs_her_associations_mentoring_as_the_issue_describes,
    coverage_counts_follow_ups_on_the_first_and_last_local_day_of_the_quarter,
    concurrent_puts_of_one_visit_make_one_row,
    concurrent_registrations_never_give_a_member_a_fourth_mentee,
    roles_and_bad_input_get_clear_answers,
    the_demo_village_has_members_mentees_and_visits_this_quarter,
    members_without_mentees_are_listed_and_counted_up_to_the_county
);

async fn a_secretary_runs_her_associations_mentoring_as_the_issue_describes(app: TestApp) {
    let v = second_village(&app).await;
    let sec = &v.secretary.token;
    let member_user = v.member_login.user["id"].as_str().unwrap().to_string();

    // Two members, one linked to a login.
    let li = add_member(
        &app,
        sec,
        &v.id,
        json!({"name": "Li Na", "user_id": member_user}),
    )
    .await;
    assert_eq!(
        (li["user_id"].as_str(), li["village_id"].as_str()),
        (Some(member_user.as_str()), Some(v.id.as_str()))
    );
    let wang = add_member(&app, sec, &v.id, json!({"name": "Wang Fang"})).await;
    assert!(wang.get("user_id").is_none());
    let (li_id, wang_id) = (id_of(&li), id_of(&wang));
    // Only a member login of the same village, not yet linked, may be linked.
    let sec_user = v.secretary.user["id"].as_str().unwrap();
    for user_id in [sec_user, member_user.as_str()] {
        let res = app
            .post(
                &format!("/api/v1/villages/{}/members", v.id),
                sec,
                &json!({"name": "X", "user_id": user_id}),
            )
            .await;
        assert_eq!(
            assert_problem(res, 422).await["errors"][0]["field"],
            "user_id"
        );
    }

    // Three mentees for Li Na; a fourth is refused with a reason.
    let l1 = add_mentee(&app, sec, &li_id, "L-001", "Auntie Sun").await;
    let l2 = add_mentee(&app, sec, &li_id, "L-002", "Granny Qian").await;
    let l3 = add_mentee(&app, sec, &li_id, "L-003", "Sister Zhou").await;
    let res = app
        .post(
            &format!("/api/v1/members/{li_id}/mentees"),
            sec,
            &json!({"code": "L-004", "display_name": "Uncle Wu"}),
        )
        .await;
    let body = assert_problem(res, 422).await;
    assert_eq!(body["code"], "mentee_limit");
    assert!(body["detail"].as_str().unwrap().contains("3"), "{body}");
    let w1 = add_mentee(&app, sec, &wang_id, "W-001", "Madam Zheng").await;
    assert_eq!(w1["member_id"], wang_id.as_str());

    // Nothing but a code and a display name.
    for (field, value) in [
        ("phone", json!("13800000000")),
        ("health_notes", json!("diabetic")),
    ] {
        let mut body = json!({"code": "W-009", "display_name": "Someone"});
        body[field] = value;
        let res = app
            .post(&format!("/api/v1/members/{wang_id}/mentees"), sec, &body)
            .await;
        assert_eq!(assert_problem(res, 422).await["errors"][0]["field"], field);
    }
    let res = app
        .post(
            &format!("/api/v1/members/{wang_id}/mentees"),
            sec,
            &json!({"code": "L-001", "display_name": "Dup"}),
        )
        .await;
    assert_eq!(assert_problem(res, 409).await["code"], "mentee_code_taken");
    let res = app
        .post(
            &format!("/api/v1/members/{wang_id}/mentees"),
            sec,
            &json!({"code": "李 1", "display_name": ""}),
        )
        .await;
    let fields = codes(&assert_problem(res, 422).await["errors"], "field");
    assert_eq!(fields, vec!["code", "display_name"]);

    // The member logs her visit, replays it, and cannot change it under the same id.
    let me = &v.member_login.token;
    let today = today_in_shanghai();
    let visit_id = new_id();
    let mut visit = followup(&id_of(&l1), today);
    visit["note"] = json!("talked about the village policies");
    visit["location"] = json!({"lat": 36.41, "lon": 114.33});
    let res = put_visit(&app, me, &visit_id, &visit).await;
    assert_eq!(res.status(), 201);
    let first = json_of(res).await;
    assert_eq!(
        (first["member_id"].as_str(), first["kind"].as_str()),
        (Some(li_id.as_str()), Some("quarterly_followup"))
    );
    let res = put_visit(&app, me, &visit_id, &visit).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        json_of(res).await,
        first,
        "a replay answers the same representation"
    );
    let mut changed = visit.clone();
    changed["note"] = json!("another note");
    assert_eq!(
        assert_problem(put_visit(&app, me, &visit_id, &changed).await, 409).await["code"],
        "visit_conflict"
    );

    // Not another member's mentees: neither a visit nor the list.
    assert_problem(
        put_visit(&app, me, &new_id(), &followup(&id_of(&w1), today)).await,
        404,
    )
    .await;
    assert_problem(
        app.get(&format!("/api/v1/members/{wang_id}/mentees"), me)
            .await,
        404,
    )
    .await;
    let own = json_of(
        app.get(&format!("/api/v1/members/{li_id}/mentees"), me)
            .await,
    )
    .await;
    assert_eq!(
        codes(&own["items"], "code"),
        vec!["L-001", "L-002", "L-003"]
    );
    let listed = json_of(
        app.get(&format!("/api/v1/villages/{}/members", v.id), me)
            .await,
    )
    .await;
    assert_eq!(
        codes(&listed["items"], "id"),
        vec![li_id.clone()],
        "a member sees only herself"
    );

    // A future date (in the county's time zone) and a 501-character note are refused.
    let tomorrow = today + Days::new(1);
    let res = put_visit(&app, me, &new_id(), &followup(&id_of(&l2), tomorrow)).await;
    assert_eq!(
        assert_problem(res, 422).await["errors"][0]["field"],
        "visited_on"
    );
    let mut long = followup(&id_of(&l2), today);
    long["note"] = json!("字".repeat(501));
    assert_eq!(
        assert_problem(put_visit(&app, me, &new_id(), &long).await, 422).await["errors"][0]
            ["field"],
        "note"
    );
    // Nor a visit before the mentee was registered (today).
    let res = put_visit(
        &app,
        me,
        &new_id(),
        &followup(&id_of(&l2), today - Days::new(1)),
    )
    .await;
    assert_eq!(
        assert_problem(res, 422).await["errors"][0]["field"],
        "visited_on"
    );

    // The secretary follows up a second mentee and reaches out to two others.
    assert_eq!(
        put_visit(&app, sec, &new_id(), &followup(&id_of(&l2), today))
            .await
            .status(),
        201
    );
    let outreach = |m: &Value| json!({"mentee_id": id_of(m), "visited_on": today.to_string(), "kind": "outreach"});
    assert_eq!(
        put_visit(&app, sec, &new_id(), &outreach(&l3))
            .await
            .status(),
        201
    );
    assert_eq!(
        put_visit(&app, sec, &new_id(), &outreach(&w1))
            .await
            .status(),
        201
    );

    // Coverage: 2 of 4, the two without a follow-up overdue.
    let q = current_quarter().to_string();
    let res = app
        .get(
            &format!("/api/v1/villages/{}/mentoring?quarter={q}", v.id),
            sec,
        )
        .await;
    assert_eq!(res.status(), 200);
    let cov = json_of(res).await;
    assert_eq!(
        (
            cov["quarter"].as_str(),
            cov["mentees"].as_u64(),
            cov["covered"].as_u64()
        ),
        (Some(q.as_str()), Some(4), Some(2))
    );
    assert_eq!(cov["coverage"], 0.5);
    assert_eq!(codes(&cov["overdue"], "code"), vec!["L-003", "W-001"]);
    assert_eq!(cov["overdue"][0]["last_visit_on"], today.to_string());
    assert_eq!(cov["overdue"][1]["member_id"], wang_id.as_str());
    let activity: Vec<(String, u64, u64)> = cov["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                m["mentees"].as_u64().unwrap(),
                m["visits"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        activity,
        vec![("Li Na".into(), 3, 3), ("Wang Fang".into(), 1, 1)]
    );
    assert_eq!(cov["members_without_mentees"], 0);
    // Without a quarter: the current one.
    let current = json_of(
        app.get(&format!("/api/v1/villages/{}/mentoring", v.id), sec)
            .await,
    )
    .await;
    assert_eq!(current, cov);
    // Another village's secretary does not see it; a member may not read the village's coverage.
    let other = app.login("secretary1").await;
    assert_problem(
        app.get(
            &format!("/api/v1/villages/{}/mentoring?quarter={q}", v.id),
            &other.token,
        )
        .await,
        404,
    )
    .await;
    assert_problem(
        app.get(&format!("/api/v1/villages/{}/members", v.id), &other.token)
            .await,
        404,
    )
    .await;
    assert_problem(
        app.get(&format!("/api/v1/members/{li_id}/mentees"), &other.token)
            .await,
        404,
    )
    .await;
    assert_problem(
        app.get(&format!("/api/v1/villages/{}/mentoring", v.id), me)
            .await,
        403,
    )
    .await;

    // Visits: the member sees her own mentees' visits only; the secretary sees all four.
    let mine = json_of(app.get("/api/v1/visits", me).await).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 3);
    let all = json_of(app.get(&format!("/api/v1/visits?quarter={q}"), sec).await).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 4);
    let wangs = json_of(
        app.get(&format!("/api/v1/visits?member={wang_id}"), sec)
            .await,
    )
    .await;
    assert_eq!(codes(&wangs["items"], "mentee_id"), vec![id_of(&w1)]);
    assert_eq!(
        json_of(
            app.get(&format!("/api/v1/visits?member={li_id}"), &other.token)
                .await
        )
        .await["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // The county roll-up names the village, in JSON and in a CSV that names no mentee.
    let report = json_of(
        app.get(
            &format!("/api/v1/reports/mentoring?quarter={q}"),
            &v.admin.token,
        )
        .await,
    )
    .await;
    assert_eq!(report["quarter"], q.as_str());
    let t01 = report["townships"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["code"] == "DEMO-T01")
        .expect("DEMO-T01");
    let v002 = t01["villages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["code"] == "DEMO-T01-V002")
        .expect("V002");
    assert_eq!(
        (
            v002["mentees"].as_u64(),
            v002["covered"].as_u64(),
            v002["overdue"].as_u64()
        ),
        (Some(4), Some(2), Some(2))
    );
    assert_eq!(v002["coverage"], 0.5);
    assert_eq!(v002["members_without_mentees"], 0);
    assert_eq!(v002["village_id"], v.id.as_str());
    assert_eq!(report["townships"].as_array().unwrap().len(), 19);
    assert!(report["mentees"].as_u64().unwrap() >= 4);
    let res = app
        .get(
            &format!("/api/v1/reports/mentoring?quarter={q}&format=csv"),
            &v.admin.token,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv_text(res).await;
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("quarter,township_code,township_name,village_code,village_name,mentees,covered,coverage,overdue,members_without_mentees"));
    let row = csv
        .lines()
        .find(|l| l.contains("DEMO-T01-V002"))
        .expect("the village's row");
    assert!(
        row.starts_with(&format!("{q},DEMO-T01,")) && row.ends_with(",4,2,0.5000,2,0"),
        "{row}"
    );
    assert_eq!(csv.lines().count(), 1 + 376);
    for name in [
        "Auntie Sun",
        "Granny Qian",
        "Sister Zhou",
        "Madam Zheng",
        "L-00",
        "W-001",
    ] {
        assert!(!csv.contains(name), "the CSV names {name}");
    }
    // The secretary's roll-up is her village; another village's is out of her scope.
    let own = json_of(app.get("/api/v1/reports/mentoring", sec).await).await;
    assert_eq!(own["mentees"], 4);
    assert_problem(
        app.get(
            &format!("/api/v1/reports/mentoring?org_unit={}", v.id),
            &other.token,
        )
        .await,
        404,
    )
    .await;

    // Moving a mentee frees a place for a new one; a member with three takes no more.
    let res = app
        .patch(
            &format!("/api/v1/mentees/{}", id_of(&l3)),
            sec,
            &json!({"member_id": wang_id}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(json_of(res).await["member_id"], wang_id.as_str());
    add_mentee(&app, sec, &li_id, "L-004", "Uncle Wu").await;
    let res = app
        .patch(
            &format!("/api/v1/mentees/{}", id_of(&w1)),
            sec,
            &json!({"member_id": li_id}),
        )
        .await;
    assert_eq!(assert_problem(res, 422).await["code"], "mentee_limit");
    let res = app
        .patch(
            &format!("/api/v1/mentees/{}", id_of(&w1)),
            sec,
            &json!({"phone": "138"}),
        )
        .await;
    assert_eq!(
        assert_problem(res, 422).await["errors"][0]["field"],
        "phone"
    );

    // Removing a member waits until her mentees are moved.
    let res = app
        .patch(
            &format!("/api/v1/members/{wang_id}"),
            sec,
            &json!({"active": false}),
        )
        .await;
    assert_eq!(assert_problem(res, 422).await["code"], "member_has_mentees");

    // Every change is in the audit log.
    let audit = json_of(
        app.get("/api/v1/audit?entity_type=visit", &v.admin.token)
            .await,
    )
    .await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 4);
    let moved = json_of(
        app.get(
            &format!("/api/v1/audit?entity_type=mentee&entity_id={}", id_of(&l3)),
            &v.admin.token,
        )
        .await,
    )
    .await;
    assert_eq!(
        codes(&moved["items"], "action"),
        vec!["mentee.moved", "mentee.created"]
    );
    assert!(
        !moved.to_string().contains("Sister Zhou"),
        "the audit log names no mentee"
    );
}

async fn coverage_counts_follow_ups_on_the_first_and_last_local_day_of_the_quarter(app: TestApp) {
    let v = second_village(&app).await;
    let sec = &v.secretary.token;
    let member = id_of(&add_member(&app, sec, &v.id, json!({"name": "Zhao Lei"})).await);
    let other = id_of(&add_member(&app, sec, &v.id, json!({"name": "Qian Yu"})).await);
    let mut mentees = Vec::new();
    for (i, m) in [&member, &member, &member, &other].into_iter().enumerate() {
        mentees.push(id_of(
            &add_mentee(&app, sec, m, &format!("B-{i}"), &format!("Person {i}")).await,
        ));
    }
    backdate_mentees(&app).await;
    // The last complete quarter, reckoned in Asia/Shanghai.
    let q = current_quarter().prev();
    let (first, last) = (q.first_day(), q.last_day());
    let dates = [first, last, first - Days::new(1), last + Days::new(1)];
    for (mentee, on) in mentees.iter().zip(dates) {
        assert_eq!(
            put_visit(&app, sec, &new_id(), &followup(mentee, on))
                .await
                .status(),
            201,
            "{on}"
        );
    }
    let cov = json_of(
        app.get(
            &format!("/api/v1/villages/{}/mentoring?quarter={q}", v.id),
            sec,
        )
        .await,
    )
    .await;
    assert_eq!(
        (cov["mentees"].as_u64(), cov["covered"].as_u64()),
        (Some(4), Some(2)),
        "{cov}"
    );
    assert_eq!(codes(&cov["overdue"], "code"), vec!["B-2", "B-3"]);
    assert_eq!(
        cov["overdue"][0]["last_visit_on"],
        (first - Days::new(1)).to_string()
    );
    assert_eq!(
        cov["overdue"][1]["last_visit_on"],
        Value::Null,
        "a visit after the quarter is not its last visit"
    );
    let in_q = json_of(app.get(&format!("/api/v1/visits?quarter={q}"), sec).await).await;
    let days = codes(&in_q["items"], "visited_on");
    assert_eq!(
        days,
        vec![last.to_string(), first.to_string()],
        "newest first"
    );
    // The roll-up counts the same quarter the same way.
    let report = json_of(
        app.get(
            &format!("/api/v1/reports/mentoring?quarter={q}&org_unit={}", v.id),
            &v.admin.token,
        )
        .await,
    )
    .await;
    assert_eq!(
        (report["mentees"].as_u64(), report["covered"].as_u64()),
        (Some(4), Some(2))
    );
    assert_eq!(report["townships"][0]["villages"][0]["overdue"], 2);
    // The next quarter starts with the follow-up on its first day.
    let next = json_of(
        app.get(
            &format!("/api/v1/villages/{}/mentoring?quarter={}", v.id, q.next()),
            sec,
        )
        .await,
    )
    .await;
    assert_eq!(next["covered"], 1);
    // Bad quarters are 422 naming the field.
    for bad in ["2026-Q5", "2026Q4", "q4"] {
        let res = app
            .get(
                &format!("/api/v1/villages/{}/mentoring?quarter={bad}", v.id),
                sec,
            )
            .await;
        assert_eq!(
            assert_problem(res, 422).await["errors"][0]["field"],
            "quarter"
        );
        let res = app
            .get(&format!("/api/v1/reports/mentoring?quarter={bad}"), sec)
            .await;
        assert_eq!(
            assert_problem(res, 422).await["errors"][0]["field"],
            "quarter"
        );
    }
    let res = app.get("/api/v1/reports/mentoring?format=xml", sec).await;
    assert_eq!(
        assert_problem(res, 422).await["errors"][0]["field"],
        "format"
    );
}

async fn concurrent_puts_of_one_visit_make_one_row(app: TestApp) {
    let v = second_village(&app).await;
    let sec = v.secretary.token.clone();
    let member = id_of(&add_member(&app, &sec, &v.id, json!({"name": "Sun Li"})).await);
    let mentee = id_of(&add_mentee(&app, &sec, &member, "C-1", "Someone").await);
    let id = new_id();
    let body = followup(&mentee, today_in_shanghai());
    let puts = (0..8).map(|_| put_visit(&app, &sec, &id, &body));
    let statuses: Vec<u16> = futures_util::future::join_all(puts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        7,
        "{statuses:?}"
    );
    let list = json_of(
        app.get(&format!("/api/v1/visits?mentee={mentee}"), &sec)
            .await,
    )
    .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    // Different bodies raced under one id: one wins, the others conflict.
    let id = new_id();
    let puts = (0..6).map(|i| {
        let mut b = body.clone();
        b["note"] = json!(format!("note {i}"));
        let (app, sec, id) = (&app, &sec, &id);
        async move { put_visit(app, sec, id, &b).await.status().as_u16() }
    });
    let mut statuses = futures_util::future::join_all(puts).await;
    statuses.sort();
    assert_eq!(statuses, vec![201, 409, 409, 409, 409, 409]);
}

async fn concurrent_registrations_never_give_a_member_a_fourth_mentee(app: TestApp) {
    let v = second_village(&app).await;
    let sec = v.secretary.token.clone();
    let member = id_of(&add_member(&app, &sec, &v.id, json!({"name": "Hu Jing"})).await);
    let path = format!("/api/v1/members/{member}/mentees");
    let posts = (0..6).map(|i| {
        let (app, sec, path) = (&app, &sec, &path);
        async move {
            app.post(
                path,
                sec,
                &json!({"code": format!("R-{i}"), "display_name": "Someone"}),
            )
            .await
            .status()
            .as_u16()
        }
    });
    let mut statuses = futures_util::future::join_all(posts).await;
    statuses.sort();
    assert_eq!(statuses, vec![201, 201, 201, 422, 422, 422]);
    let list = json_of(app.get(&path, &sec).await).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 3);
}

async fn roles_and_bad_input_get_clear_answers(app: TestApp) {
    let v = second_village(&app).await;
    let sec = &v.secretary.token;
    let member = id_of(&add_member(&app, sec, &v.id, json!({"name": "Ma Li"})).await);
    let spare = id_of(&add_member(&app, sec, &v.id, json!({"name": "Gao Yan"})).await);
    let mentee = id_of(&add_mentee(&app, sec, &member, "D-1", "Someone").await);
    let body = followup(&mentee, today_in_shanghai());
    // A visit id must be a UUID; unknown fields are refused by name.
    let res = put_visit(&app, sec, "not-a-uuid", &body).await;
    assert_eq!(assert_problem(res, 422).await["errors"][0]["field"], "id");
    let mut extra = body.clone();
    extra["health"] = json!("x");
    assert_eq!(
        assert_problem(put_visit(&app, sec, &new_id(), &extra).await, 422).await["errors"][0]
            ["field"],
        "health"
    );
    let mut bad_kind = body.clone();
    bad_kind["kind"] = json!("home_call");
    assert_eq!(
        assert_problem(put_visit(&app, sec, &new_id(), &bad_kind).await, 422).await["errors"][0]
            ["field"],
        "kind"
    );
    let mut far = body.clone();
    far["location"] = json!({"lat": 95.0, "lon": 0.0});
    assert_eq!(
        assert_problem(put_visit(&app, sec, &new_id(), &far).await, 422).await["errors"][0]
            ["field"],
        "location.lat"
    );
    // County readers read but do not write; members do not manage.
    for who in ["inspector1", "reviewer1"] {
        let s = app.login(who).await;
        assert_eq!(
            app.get(&format!("/api/v1/villages/{}/mentoring", v.id), &s.token)
                .await
                .status(),
            200
        );
        assert_eq!(
            app.get(&format!("/api/v1/villages/{}/members", v.id), &s.token)
                .await
                .status(),
            200
        );
        assert_eq!(
            app.get("/api/v1/reports/mentoring", &s.token)
                .await
                .status(),
            200
        );
        assert_problem(put_visit(&app, &s.token, &new_id(), &body).await, 403).await;
        assert_problem(
            app.post(
                &format!("/api/v1/villages/{}/members", v.id),
                &s.token,
                &json!({"name": "X"}),
            )
            .await,
            403,
        )
        .await;
    }
    let me = &v.member_login.token;
    assert_problem(
        app.post(
            &format!("/api/v1/members/{member}/mentees"),
            me,
            &json!({"code": "D-2", "display_name": "X"}),
        )
        .await,
        403,
    )
    .await;
    assert_problem(
        app.patch(
            &format!("/api/v1/mentees/{mentee}"),
            me,
            &json!({"code": "D-9"}),
        )
        .await,
        403,
    )
    .await;
    assert_problem(app.get("/api/v1/reports/mentoring", me).await, 403).await;
    // A member login not linked to any member sees nothing of hers.
    assert_eq!(
        json_of(app.get("/api/v1/visits", me).await).await["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_problem(put_visit(&app, me, &new_id(), &body).await, 404).await;
    // Another county's admin sees nothing.
    app.import_org(SECOND_COUNTY_CSV).await;
    app.create_user("east-admin", "admin", "EAST").await;
    let east = app.login("east-admin").await;
    assert_problem(
        app.get(&format!("/api/v1/villages/{}/mentoring", v.id), &east.token)
            .await,
        404,
    )
    .await;
    assert_problem(
        app.get(&format!("/api/v1/members/{member}/mentees"), &east.token)
            .await,
        404,
    )
    .await;
    assert_problem(
        app.patch(
            &format!("/api/v1/mentees/{mentee}"),
            &east.token,
            &json!({"code": "E-1"}),
        )
        .await,
        404,
    )
    .await;
    assert_problem(put_visit(&app, &east.token, &new_id(), &body).await, 404).await;
    // A visit id taken in DEMO, reused in EAST with EAST's own mentee: 404 as for any object
    // out of scope, never a 409 that tells the id exists.
    let taken = new_id();
    assert_eq!(put_visit(&app, sec, &taken, &body).await.status(), 201);
    let east_village = app.unit_id(&east.token, "EAST-V1").await;
    let east_member = id_of(
        &add_member(
            &app,
            &east.token,
            &east_village,
            json!({"name": "East member"}),
        )
        .await,
    );
    let east_mentee =
        id_of(&add_mentee(&app, &east.token, &east_member, "E-1", "East mentee").await);
    let east_body = followup(&east_mentee, today_in_shanghai());
    let problem = assert_problem(put_visit(&app, &east.token, &taken, &east_body).await, 404).await;
    assert_eq!(problem["code"], "not_found", "{problem}");
    assert_eq!(
        json_of(app.get("/api/v1/reports/mentoring", &east.token).await).await["mentees"],
        1
    );
    // Renaming, linking later, and removal once her mentees have moved.
    let member_user = v.member_login.user["id"].as_str().unwrap();
    let res = app
        .patch(
            &format!("/api/v1/members/{spare}"),
            sec,
            &json!({"name": "Gao Yan (sec.)", "user_id": member_user}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(json_of(res).await["user_id"], member_user);
    assert_eq!(
        app.patch(
            &format!("/api/v1/mentees/{mentee}"),
            sec,
            &json!({"member_id": spare, "code": "D-10"})
        )
        .await
        .status(),
        200
    );
    let res = app
        .patch(
            &format!("/api/v1/members/{member}"),
            sec,
            &json!({"active": false}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(json_of(res).await["active"], false);
    let listed = json_of(
        app.get(&format!("/api/v1/villages/{}/members", v.id), sec)
            .await,
    )
    .await;
    assert_eq!(codes(&listed["items"], "id"), vec![spare.clone()]);
    // The linked member now logs visits to her mentee.
    assert_eq!(put_visit(&app, me, &new_id(), &body).await.status(), 201);
}

async fn the_demo_village_has_members_mentees_and_visits_this_quarter(app: TestApp) {
    app.seed_demo().await;
    app.seed_demo().await;
    let admin = app.login("admin").await;
    let v1 = app.unit_id(&admin.token, "DEMO-T01-V001").await;
    let cov = json_of(
        app.get(&format!("/api/v1/villages/{v1}/mentoring"), &admin.token)
            .await,
    )
    .await;
    assert_eq!(
        (cov["mentees"].as_u64(), cov["covered"].as_u64()),
        (Some(6), Some(3)),
        "{cov}"
    );
    assert_eq!(cov["members"].as_array().unwrap().len(), 3);
    let member1 = app.login("member1").await;
    let me = json_of(
        app.get(&format!("/api/v1/villages/{v1}/members"), &member1.token)
            .await,
    )
    .await;
    assert_eq!(me["items"].as_array().unwrap().len(), 1);
    let my_id = id_of(&me["items"][0]);
    let mine = json_of(
        app.get(&format!("/api/v1/members/{my_id}/mentees"), &member1.token)
            .await,
    )
    .await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 3);
    let visits = json_of(app.get("/api/v1/visits", &member1.token).await).await;
    assert_eq!(visits["items"].as_array().unwrap().len(), 3);
}

async fn members_without_mentees_are_listed_and_counted_up_to_the_county(app: TestApp) {
    let v = second_village(&app).await;
    let sec = &v.secretary.token;
    let q = current_quarter().to_string();
    // Two members and nobody to mentor: coverage 0, both listed with mentees 0.
    let zhao = id_of(&add_member(&app, sec, &v.id, json!({"name": "Zhao Lei"})).await);
    add_member(&app, sec, &v.id, json!({"name": "Qian Yu"})).await;
    let cov = json_of(
        app.get(
            &format!("/api/v1/villages/{}/mentoring?quarter={q}", v.id),
            sec,
        )
        .await,
    )
    .await;
    assert_eq!(
        (cov["mentees"].as_u64(), cov["coverage"].as_f64()),
        (Some(0), Some(0.0)),
        "{cov}"
    );
    let listed: Vec<(String, u64)> = cov["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                m["mentees"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(listed, vec![("Qian Yu".into(), 0), ("Zhao Lei".into(), 0)]);
    assert_eq!(cov["members_without_mentees"], 2);

    // One of them takes a mentee; an inactive member is not counted.
    add_mentee(&app, sec, &zhao, "Z-001", "Auntie Ma").await;
    let idle = id_of(&add_member(&app, sec, &v.id, json!({"name": "Sun Mei"})).await);
    assert_eq!(
        app.patch(
            &format!("/api/v1/members/{idle}"),
            sec,
            &json!({"active": false})
        )
        .await
        .status(),
        200
    );
    let cov = json_of(
        app.get(
            &format!("/api/v1/villages/{}/mentoring?quarter={q}", v.id),
            sec,
        )
        .await,
    )
    .await;
    assert_eq!(cov["members_without_mentees"], 1, "{cov}");
    assert_eq!(cov["members"].as_array().unwrap().len(), 2);

    // The county's report counts them per village, township and in total, JSON and CSV.
    let report = json_of(
        app.get(
            &format!("/api/v1/reports/mentoring?quarter={q}"),
            &v.admin.token,
        )
        .await,
    )
    .await;
    let t01 = report["townships"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["code"] == "DEMO-T01")
        .expect("DEMO-T01");
    let v002 = t01["villages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["code"] == "DEMO-T01-V002")
        .expect("V002");
    assert_eq!(
        (
            v002["mentees"].as_u64(),
            v002["members_without_mentees"].as_u64()
        ),
        (Some(1), Some(1))
    );
    // The demo village's three members each mentor someone.
    let v001 = t01["villages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["code"] == "DEMO-T01-V001")
        .expect("V001");
    assert_eq!(v001["members_without_mentees"], 0);
    assert_eq!(t01["members_without_mentees"], 1);
    assert_eq!(report["members_without_mentees"], 1);
    let own = json_of(
        app.get(
            &format!("/api/v1/reports/mentoring?quarter={q}&org_unit={}", v.id),
            &v.admin.token,
        )
        .await,
    )
    .await;
    assert_eq!(own["members_without_mentees"], 1);
    let csv = csv_text(
        app.get(
            &format!("/api/v1/reports/mentoring?quarter={q}&format=csv"),
            &v.admin.token,
        )
        .await,
    )
    .await;
    let row = csv
        .lines()
        .find(|l| l.contains("DEMO-T01-V002"))
        .expect("the village's row");
    assert!(row.ends_with(",1,0,0.0000,1,1"), "{row}");
}
