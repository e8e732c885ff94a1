//! Seeding for the benchmarks: a county through the model's own code, then villages,
//! declarations, inspections and mentoring rows in bulk (multi-row INSERTs in large
//! transactions), and generated checklists of any size.

use chrono::{Duration, NaiveDateTime, Utc};
use diesel::connection::SimpleConnection;
use serde_json::{json, Value};

use crate::auth::{Actor, Role};
use crate::checklist::template::Template;
use crate::db::DbConn;
use crate::org::{NewOrgUnit, OrgUnit};
use crate::quarter::Quarter;
use crate::scope::{OrgLevel, Scope};
use crate::users::NewUser;

/// Villages per township in the seeded county (a real county has 15–25 townships of ~20).
pub const VILLAGES_PER_TOWNSHIP: usize = 25;
pub const CENTER: (f64, f64) = (36.37, 114.38);

/// A SQL string literal; every value seeded here is generated, but quote it properly anyway.
pub fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

pub fn ts(t: NaiveDateTime) -> String {
    q(&t.format("%Y-%m-%d %H:%M:%S%.6f").to_string())
}

/// Accumulates rows of one table and writes them as multi-row INSERTs.
pub struct Bulk<'a> {
    conn: &'a mut DbConn,
    head: String,
    rows: Vec<String>,
    pub written: u64,
}

impl<'a> Bulk<'a> {
    pub fn new(conn: &'a mut DbConn, table: &str, columns: &[&str]) -> Self {
        Bulk {
            conn,
            head: format!("INSERT INTO {table} ({}) VALUES ", columns.join(", ")),
            rows: Vec::with_capacity(500),
            written: 0,
        }
    }

    pub fn row(&mut self, values: &[String]) -> Result<(), String> {
        self.rows.push(format!("({})", values.join(", ")));
        if self.rows.len() >= 500 {
            self.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> Result<(), String> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let sql = format!("{}{}", self.head, self.rows.join(", "));
        self.conn
            .batch_execute(&sql)
            .map_err(|e| format!("seeding failed: {e}"))?;
        self.written += self.rows.len() as u64;
        self.rows.clear();
        Ok(())
    }
}

/// Runs `f` in batches of transactions of about `per_tx` rows each (`f` gets the row range).
pub fn in_transactions(
    conn: &mut DbConn,
    total: u64,
    per_tx: u64,
    mut f: impl FnMut(&mut DbConn, std::ops::Range<u64>) -> Result<(), String>,
) -> Result<(), String> {
    let mut start = 0;
    while start < total {
        let end = (start + per_tx).min(total);
        conn.batch_execute("BEGIN")
            .map_err(|e| format!("seeding failed: {e}"))?;
        match f(conn, start..end) {
            Ok(()) => conn
                .batch_execute("COMMIT")
                .map_err(|e| format!("seeding failed: {e}"))?,
            Err(e) => {
                let _ = conn.batch_execute("ROLLBACK");
                return Err(e);
            }
        }
        start = end;
    }
    Ok(())
}

/// A checklist of `items` items (level 1), ten to a section, cycling yes/no, number, choice
/// and text; every item is required and all but text ones score.
pub fn template(items: usize) -> Template {
    let label = |zh: String, en: String| json!({"zh": zh, "en": en});
    let sections: Vec<Value> = (0..items.div_ceil(10))
        .map(|s| {
            let items: Vec<Value> = (s * 10..((s + 1) * 10).min(items))
                .map(|i| {
                    let id = format!("i{i:04}");
                    let l = label(
                        format!("第{}项检查内容已落实", i + 1),
                        format!("Check {} is in place", i + 1),
                    );
                    match i % 4 {
                        0 => json!({"id": id, "kind": "yes_no", "label": l, "required": true,
                                    "pass": {"equals": true}, "weight": 1}),
                        1 => json!({"id": id, "kind": "number", "label": l, "required": true,
                                    "min": 0, "max": 1000, "pass": {"min": 1}, "weight": 1}),
                        2 => json!({"id": id, "kind": "choice", "label": l, "required": true,
                                    "options": [
                                        {"id": "complete", "label": {"zh": "完整", "en": "Complete"}},
                                        {"id": "partial", "label": {"zh": "部分", "en": "Partial"}},
                                        {"id": "none", "label": {"zh": "没有", "en": "None"}}
                                    ],
                                    "pass": {"in": ["complete"]}, "weight": 1}),
                        _ => json!({"id": id, "kind": "text", "label": l, "required": true,
                                    "max_length": 500}),
                    }
                })
                .collect();
            json!({
                "id": format!("s{s:03}"),
                "title": label(format!("第{}部分", s + 1), format!("Part {}", s + 1)),
                "items": items,
            })
        })
        .collect();
    let doc = json!({
        "code": format!("bench-{items}"),
        "star_level": 1,
        "title": label(format!("基准测试清单（{items}项）"), format!("Benchmark checklist ({items} items)")),
        "sections": sections,
    });
    serde_json::from_value(doc).expect("the generated template has the wire shape")
}

/// Answers that pass every item of `template(items)`, as a JSON object's text.
pub fn answers(items: usize) -> String {
    let map: serde_json::Map<String, Value> = (0..items)
        .map(|i| {
            let v = match i % 4 {
                0 => json!(true),
                1 => json!(3 + i % 7),
                2 => json!("complete"),
                _ => json!("公示栏内容完整，与村民访谈一致。"),
            };
            (format!("i{i:04}"), v)
        })
        .collect();
    Value::Object(map).to_string()
}

/// The seeded county and the logins the scenarios use.
#[derive(Clone)]
pub struct County {
    pub county: OrgUnit,
    pub checklist_code: String,
    pub checklist_version: i32,
    pub inspector: Login,
    pub reviewer: Login,
    pub admin: Login,
}

#[derive(Clone)]
pub struct Login {
    pub id: String,
    pub token: String,
}

/// A county (through the model, with its audit entries), a published checklist of `items`
/// items for it, and an inspector, a reviewer and an admin.
pub fn county(conn: &mut DbConn, items: usize, tokens: &TokenIssuer) -> Result<County, String> {
    let actor = Actor::cli();
    crate::db::write_tx(conn, |conn| {
        let county = NewOrgUnit {
            code: "BENCH".into(),
            name: "基准县 (Bench County)".into(),
            level: OrgLevel::County,
            lat: Some(CENTER.0),
            lon: Some(CENTER.1),
            radius_m: None,
        }
        .insert(conn, None, &actor)?;
        let checklist = crate::checklist::store::add_version(
            conn,
            &template(items),
            Some(&county.id),
            true,
            &actor,
        )?;
        let mut login = |name: &str, role: Role| -> Result<Login, crate::error::ApiError> {
            // The password is never used: the bench mints tokens like the login route does.
            let body = (role == Role::Reviewer).then_some("department");
            let user = NewUser::parse(name, "bench-password-not-used-1", role.as_str(), body)
                .map_err(crate::error::ApiError::validation)?
                .insert(conn, &county, &actor)?;
            Ok(Login {
                token: tokens.issue(&user.id, name, role, &county),
                id: user.id,
            })
        };
        let inspector = login("bench-inspector", Role::Inspector)?;
        let reviewer = login("bench-reviewer", Role::Reviewer)?;
        let admin = login("bench-admin", Role::Admin)?;
        Ok(County {
            checklist_code: checklist.code,
            checklist_version: checklist.version,
            county,
            inspector,
            reviewer,
            admin,
        })
    })
    .map_err(|e: crate::error::ApiError| format!("seeding the county failed: {}", e.detail))
}

/// Mints access tokens the way the login route does, from the server's own keys.
pub struct TokenIssuer(pub actix_web::web::Data<crate::state::AppState>);

impl TokenIssuer {
    fn issue(&self, id: &str, name: &str, role: Role, county: &OrgUnit) -> String {
        let scope = Scope {
            unit_id: county.id.clone(),
            level: OrgLevel::County,
            county_id: county.id.clone(),
        };
        self.0
            .tokens
            .issue(id, name, role, &scope, Utc::now().timestamp())
    }
}

/// A seeded village: id, township id, position.
#[derive(Clone, Debug)]
pub struct Village {
    pub id: String,
    pub township_id: String,
    pub lat: f64,
    pub lon: f64,
}

/// `count` villages in townships of `VILLAGES_PER_TOWNSHIP`, spread around the centre.
pub fn villages(conn: &mut DbConn, county: &OrgUnit, count: u64) -> Result<Vec<Village>, String> {
    let t = crate::clock::now();
    let mut out = Vec::with_capacity(count as usize);
    let townships = count.div_ceil(VILLAGES_PER_TOWNSHIP as u64);
    let cols = [
        "id",
        "code",
        "name",
        "level",
        "parent_id",
        "county_id",
        "township_id",
        "village_id",
        "lat",
        "lon",
        "radius_m",
        "created_at",
        "updated_at",
    ];
    let mut township_ids = Vec::with_capacity(townships as usize);
    in_transactions(conn, townships, 20_000, |conn, range| {
        let mut bulk = Bulk::new(conn, "org_units", &cols);
        for n in range {
            let id = uuid::Uuid::now_v7().to_string();
            bulk.row(&[
                q(&id),
                q(&format!("BENCH-T{n:05}")),
                q(&format!("第{}镇", n + 1)),
                q("township"),
                q(&county.id),
                q(&county.id),
                q(&id),
                "NULL".into(),
                "NULL".into(),
                "NULL".into(),
                "NULL".into(),
                ts(t),
                ts(t),
            ])?;
            township_ids.push(id);
        }
        bulk.flush()
    })?;
    in_transactions(conn, count, 20_000, |conn, range| {
        let mut bulk = Bulk::new(conn, "org_units", &cols);
        for n in range {
            let id = uuid::Uuid::now_v7().to_string();
            let township = &township_ids[(n / VILLAGES_PER_TOWNSHIP as u64) as usize];
            let angle = n as f64 * 2.399_963;
            let r = 0.25 * ((n % 997) as f64 / 997.0).sqrt();
            let (lat, lon) = (
                ((CENTER.0 + r * angle.sin()) * 1e6).round() / 1e6,
                ((CENTER.1 + r * 1.25 * angle.cos()) * 1e6).round() / 1e6,
            );
            bulk.row(&[
                q(&id),
                q(&format!("BENCH-V{n:07}")),
                q(&format!("第{}村", n + 1)),
                q("village"),
                q(township),
                q(&county.id),
                q(township),
                q(&id),
                lat.to_string(),
                lon.to_string(),
                "500".into(),
                ts(t),
                ts(t),
            ])?;
            out.push(Village {
                id,
                township_id: township.clone(),
                lat,
                lon,
            });
        }
        bulk.flush()
    })?;
    Ok(out)
}

/// A seeded declaration: id and its village (index into the villages).
pub struct SeededDeclaration {
    pub id: String,
    pub village: usize,
}

/// `count` level-1 declarations, one per (village, quarter): as many quarters back from
/// `quarter` as needed, so that every one is open (`status`) without breaking the rule of one
/// open declaration per village and quarter. Each of those quarters gets a verification window
/// open until a year from now, so that the load inspects them today (a bench-only window: the
/// API refuses a window that long).
pub fn declarations(
    conn: &mut DbConn,
    county: &OrgUnit,
    villages: &[Village],
    count: u64,
    quarter: Quarter,
    status: &str,
) -> Result<Vec<SeededDeclaration>, String> {
    let t = crate::clock::now();
    let per_quarter = villages.len() as u64;
    let quarters: Vec<String> = std::iter::successors(Some(quarter), |q| Some(q.prev()))
        .take(count.div_ceil(per_quarter.max(1)) as usize)
        .map(|q| q.to_string())
        .collect();
    let mut out = Vec::with_capacity(count as usize);
    in_transactions(conn, count, 20_000, |conn, range| {
        let mut bulk = Bulk::new(
            conn,
            "declarations",
            &[
                "id",
                "village_id",
                "township_id",
                "county_id",
                "quarter",
                "star_level",
                "kind",
                "status",
                "created_by",
                "created_at",
                "updated_at",
            ],
        );
        for n in range {
            let id = uuid::Uuid::now_v7().to_string();
            let v = (n % per_quarter) as usize;
            let village = &villages[v];
            bulk.row(&[
                q(&id),
                q(&village.id),
                q(&village.township_id),
                q(&county.id),
                q(&quarters[(n / per_quarter) as usize]),
                "1".into(),
                q("upgrade"),
                q(status),
                "NULL".into(),
                ts(t),
                ts(t),
            ])?;
            out.push(SeededDeclaration { id, village: v });
        }
        bulk.flush()
    })?;
    let closes_on = t.date() + chrono::Days::new(365);
    for text in &quarters {
        let Ok(q) = Quarter::parse(text) else {
            continue;
        };
        use crate::db::schema::quarter_windows as w;
        use diesel::prelude::*;
        diesel::insert_into(w::table)
            .values((
                w::county_id.eq(&county.id),
                w::quarter.eq(text),
                w::opens_on.eq(q.first_day()),
                w::closes_on.eq(closes_on),
                w::updated_by.eq(None::<String>),
                w::updated_at.eq(t),
            ))
            .execute(conn)
            .map_err(|e| format!("bench windows: {e}"))?;
    }
    Ok(out)
}

/// Submitted inspections, one per declaration, submitted over the last 90 days in order; the
/// stored body, evaluation and flags are those of one real submission (`sample`).
pub fn inspections(
    conn: &mut DbConn,
    county: &County,
    villages: &[Village],
    declarations: &[SeededDeclaration],
    sample: &crate::inspection::model::Inspection,
) -> Result<(), String> {
    let now = crate::clock::now();
    let total = declarations.len() as u64;
    let span = Duration::days(90).num_milliseconds() as f64;
    let (body, evaluation, flags) = (q(&sample.body), q(&sample.evaluation), q(&sample.flags));
    let (code, version) = (q(&county.checklist_code), county.checklist_version);
    in_transactions(conn, total, 20_000, |conn, range| {
        let mut bulk = Bulk::new(
            conn,
            "inspections",
            &[
                "id",
                "declaration_id",
                "village_id",
                "township_id",
                "county_id",
                "inspector_id",
                "checklist_code",
                "checklist_version",
                "status",
                "revision",
                "body_hash",
                "body",
                "evaluation",
                "score",
                "passed",
                "flags",
                "flag_severity",
                "started_at",
                "client_submitted_at",
                "received_at",
                "submitted_at",
                "updated_at",
            ],
        );
        for n in range {
            let d = &declarations[n as usize];
            let v = &villages[d.village];
            let at = now
                - Duration::milliseconds((span * (1.0 - n as f64 / total as f64)) as i64)
                - Duration::minutes(1);
            bulk.row(&[
                q(&uuid::Uuid::now_v7().to_string()),
                q(&d.id),
                q(&v.id),
                q(&v.township_id),
                q(&county.county.id),
                q(&county.inspector.id),
                code.clone(),
                version.to_string(),
                q("submitted"),
                "1".into(),
                q(&format!("{n:064x}")),
                body.clone(),
                evaluation.clone(),
                sample.score.to_string(),
                if sample.passed { "TRUE" } else { "FALSE" }.into(),
                flags.clone(),
                sample.flag_severity.to_string(),
                ts(at - Duration::minutes(40)),
                ts(at),
                ts(at),
                ts(at),
                ts(at),
            ])?;
        }
        bulk.flush()
    })
}

/// One member, two mentees and (for every other village) a quarterly follow-up in `quarter`
/// per village: what the mentoring roll-up counts.
pub fn mentoring(
    conn: &mut DbConn,
    county: &OrgUnit,
    villages: &[Village],
    quarter: Quarter,
) -> Result<(), String> {
    let t = crate::clock::now();
    let day = quarter.first_day();
    in_transactions(conn, villages.len() as u64, 10_000, |conn, range| {
        let mut members = Bulk::new(
            conn,
            "members",
            &[
                "id",
                "village_id",
                "township_id",
                "county_id",
                "name",
                "user_id",
                "active",
                "created_at",
            ],
        );
        let mut rest: Vec<(String, String, String)> = Vec::new();
        for n in range.clone() {
            let v = &villages[n as usize];
            let member = uuid::Uuid::now_v7().to_string();
            members.row(&[
                q(&member),
                q(&v.id),
                q(&v.township_id),
                q(&county.id),
                q("协会会员"),
                "NULL".into(),
                "TRUE".into(),
                ts(t),
            ])?;
            rest.push((member, v.id.clone(), v.township_id.clone()));
        }
        members.flush()?;
        drop(members);
        let mut mentees = Bulk::new(
            conn,
            "mentees",
            &[
                "id",
                "member_id",
                "village_id",
                "township_id",
                "county_id",
                "code",
                "display_name",
                "created_on",
                "created_at",
                "updated_at",
            ],
        );
        let mut visited = Vec::new();
        for (k, (member, village, township)) in rest.iter().enumerate() {
            for m in 0..2 {
                let id = uuid::Uuid::now_v7().to_string();
                mentees.row(&[
                    q(&id),
                    q(member),
                    q(village),
                    q(township),
                    q(&county.id),
                    q(&format!("M{m}")),
                    q(&format!("学员{m}")),
                    q(&day.to_string()),
                    ts(t),
                    ts(t),
                ])?;
                if m == 0 && k % 2 == 0 {
                    visited.push((id, member.clone(), village.clone(), township.clone()));
                }
            }
        }
        mentees.flush()?;
        drop(mentees);
        let mut visits = Bulk::new(
            conn,
            "visits",
            &[
                "id",
                "mentee_id",
                "member_id",
                "village_id",
                "township_id",
                "county_id",
                "visited_on",
                "kind",
                "note",
                "lat",
                "lon",
                "body_hash",
                "created_by",
                "created_at",
            ],
        );
        for (n, (mentee, member, village, township)) in visited.iter().enumerate() {
            visits.row(&[
                q(&uuid::Uuid::now_v7().to_string()),
                q(mentee),
                q(member),
                q(village),
                q(township),
                q(&county.id),
                q(&day.to_string()),
                q("quarterly_followup"),
                "NULL".into(),
                "NULL".into(),
                "NULL".into(),
                q(&format!("{n:064x}")),
                q("bench"),
                ts(t),
            ])?;
        }
        visits.flush()
    })
}

/// PostgreSQL's autovacuum analyzes a table after bulk loading; do it now rather than race it.
/// SQLite keeps no statistics unless told to, and fieldstar never tells it: its plans are
/// measured as they come.
pub fn analyze(conn: &mut DbConn) -> Result<(), String> {
    match conn {
        DbConn::Pg(_) => conn
            .batch_execute("ANALYZE")
            .map_err(|e| format!("ANALYZE failed: {e}")),
        DbConn::Sqlite(_) => Ok(()),
    }
}
