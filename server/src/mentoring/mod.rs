//! Mentoring: association members, their 1–3 mentees, visits, and quarterly coverage.
//! The rules and queries (`model` re-exports `member`, `mentee` and `visit`; `coverage`,
//! `report`), the routes, and the demo village's data.

pub mod coverage;
pub mod member;
pub mod mentee;
pub mod model;
pub mod report;
pub mod routes;
pub mod visit;

use chrono::{Days, NaiveDate};
use diesel::prelude::*;
use diesel::QueryResult;

use crate::auth::{Actor, Role};
use crate::db::schema::{members, visits};
use crate::db::DbConn;
use crate::error::ApiError;
use crate::org::OrgUnit;
use crate::quarter::Quarter;
use crate::users::User;

use coverage::{MemberRow, MenteeRow, VisitRow};

/// One row of `CoverageRows`: which part it belongs to, an id, and up to three values.
type CoverageRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<NaiveDate>,
);

/// What a village's coverage is computed from, in one statement of fixed shape (one round trip
/// on PostgreSQL instead of four; prepared once per connection): its active members (`member`,
/// id, name), its mentees (`mentee`, id, code, member), the visits dated in the quarter
/// (`visit`, mentee, member, kind, day) and each mentee's latest visit before it (`before`,
/// mentee, day). The NULLs are typed: PostgreSQL resolves the types of a UNION pair by pair.
struct CoverageRows<'a> {
    village_id: &'a str,
    first: NaiveDate,
    last: NaiveDate,
}

impl diesel::query_builder::QueryId for CoverageRows<'_> {
    type QueryId = CoverageRows<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::Query for CoverageRows<'_> {
    type SqlType = (
        diesel::sql_types::Text,
        diesel::sql_types::Text,
        diesel::sql_types::Nullable<diesel::sql_types::Text>,
        diesel::sql_types::Nullable<diesel::sql_types::Text>,
        diesel::sql_types::Nullable<diesel::sql_types::Date>,
    );
}

impl<DB> diesel::query_builder::QueryFragment<DB> for CoverageRows<'_>
where
    DB: diesel::backend::Backend + diesel::sql_types::HasSqlType<diesel::sql_types::Bool>,
    str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
    bool: diesel::serialize::ToSql<diesel::sql_types::Bool, DB>,
    NaiveDate: diesel::serialize::ToSql<diesel::sql_types::Date, DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Bool, Date, Text};
        out.push_sql(
            "SELECT 'member', id, name, CAST(NULL AS TEXT), CAST(NULL AS DATE) \
             FROM members WHERE village_id = ",
        );
        out.push_bind_param::<Text, str>(self.village_id)?;
        out.push_sql(" AND active = ");
        out.push_bind_param::<Bool, bool>(&true)?;
        out.push_sql(
            " UNION ALL SELECT 'mentee', id, code, member_id, CAST(NULL AS DATE) \
             FROM mentees WHERE village_id = ",
        );
        out.push_bind_param::<Text, str>(self.village_id)?;
        out.push_sql(
            " UNION ALL SELECT 'visit', mentee_id, member_id, kind, visited_on \
             FROM visits WHERE village_id = ",
        );
        out.push_bind_param::<Text, str>(self.village_id)?;
        out.push_sql(" AND visited_on BETWEEN ");
        out.push_bind_param::<Date, _>(&self.first)?;
        out.push_sql(" AND ");
        out.push_bind_param::<Date, _>(&self.last)?;
        out.push_sql(
            " UNION ALL SELECT 'before', mentee_id, CAST(NULL AS TEXT), CAST(NULL AS TEXT), \
             max(visited_on) FROM visits WHERE village_id = ",
        );
        out.push_bind_param::<Text, str>(self.village_id)?;
        out.push_sql(" AND visited_on < ");
        out.push_bind_param::<Date, _>(&self.first)?;
        out.push_sql(" GROUP BY mentee_id");
        Ok(())
    }
}

impl<C> RunQueryDsl<C> for CoverageRows<'_> {}

/// A village's mentoring coverage for `quarter`: the value the checklists' computed item
/// `mentoring.coverage` takes. Loads the village's active members, its mentees, the visits
/// dated in the quarter, and each mentee's latest visit before it (for the overdue list).
pub fn village_coverage(
    conn: &mut DbConn,
    village_id: &str,
    quarter: Quarter,
) -> QueryResult<coverage::Coverage> {
    let query = CoverageRows {
        village_id,
        first: quarter.first_day(),
        last: quarter.last_day(),
    };
    // Read for every submitted inspection: on the backend's own connection (`on_backend!`).
    let rows: Vec<CoverageRow> = crate::db::on_backend!(conn, |c| query.load(c))?;
    let (mut members, mut mentees, mut visits) = (Vec::new(), Vec::new(), Vec::new());
    for (part, id, a, b, on) in rows {
        match (part.as_str(), a, b, on) {
            ("member", Some(name), _, _) => members.push(MemberRow {
                member_id: id,
                name,
            }),
            ("mentee", Some(code), Some(member_id), _) => mentees.push(MenteeRow {
                mentee_id: id,
                code,
                member_id,
            }),
            ("visit", Some(member_id), Some(kind), Some(visited_on)) => visits.push(VisitRow {
                mentee_id: id,
                member_id,
                visited_on,
                kind: model::parse_kind(&kind),
            }),
            // Earlier visits only tell each mentee's last visit; being outside the quarter,
            // neither their kind nor their member counts.
            ("before", _, _, Some(visited_on)) => visits.push(VisitRow {
                mentee_id: id,
                member_id: String::new(),
                visited_on,
                kind: coverage::VisitKind::Outreach,
            }),
            _ => {}
        }
    }
    Ok(coverage::coverage(quarter, &members, &mentees, &visits))
}

/// The demo village's association: three members (the first linked to `member1` when that login
/// is a member of this village), six mentees and some visits in the current quarter. Does
/// nothing when the village already has members, so seeding twice changes nothing.
pub fn seed_demo(
    conn: &mut DbConn,
    village: &OrgUnit,
    member1_user_id: Option<&str>,
) -> Result<(), ApiError> {
    let has_members: i64 = members::table
        .filter(members::village_id.eq(&village.id))
        .count()
        .get_result(conn)?;
    if has_members > 0 {
        return Ok(());
    }
    let actor = Actor::cli();
    // The demo county keeps the default time zone.
    let today = crate::clock::today(crate::clock::DEFAULT_TIMEZONE);
    let quarter = Quarter::containing(today);
    let registered = quarter.first_day() - Days::new(30);
    let login = match member1_user_id {
        Some(id) => User::find(conn, id)?.filter(|u| {
            u.role() == Role::Member && u.village_id.as_deref() == Some(village.id.as_str())
        }),
        None => None,
    };
    let roster: [(&str, &[(&str, &str)]); 3] = [
        (
            "李秀英",
            &[
                ("DM-001", "王大娘"),
                ("DM-002", "赵阿姨"),
                ("DM-003", "孙奶奶"),
            ],
        ),
        ("王芳", &[("DM-004", "刘婶"), ("DM-005", "陈姐")]),
        ("张丽", &[("DM-006", "周大姐")]),
    ];
    let mut all_mentees = Vec::new();
    for (i, (name, their_mentees)) in roster.iter().enumerate() {
        let new = model::NewMember {
            name: name.to_string(),
            user_id: if i == 0 {
                login.as_ref().map(|u| u.id.clone())
            } else {
                None
            },
        };
        let member = new.insert(conn, village, &actor)?;
        for (code, display_name) in their_mentees.iter() {
            let new = model::NewMentee {
                code: code.to_string(),
                display_name: display_name.to_string(),
            };
            all_mentees.push((
                new.insert(conn, &member, registered, &actor)?,
                member.id.clone(),
            ));
        }
    }
    // Follow-ups for every other mentee, outreach for the rest: the demo shows 50 % coverage.
    let days_in = (today - quarter.first_day()).num_days().max(0) as u64;
    for (i, (mentee, member_id)) in all_mentees.iter().enumerate() {
        let on = quarter.first_day() + Days::new(days_in * (i as u64 + 1) / 7);
        let kind = if i % 2 == 0 {
            coverage::VisitKind::QuarterlyFollowup
        } else {
            coverage::VisitKind::Outreach
        };
        let body = model::VisitBody {
            mentee_id: mentee.id.clone(),
            visited_on: on,
            kind,
            note: None,
            location: village
                .lat
                .zip(village.lon)
                .map(|(lat, lon)| model::Location { lat, lon }),
        };
        let id = uuid::Uuid::now_v7().to_string();
        diesel::insert_into(visits::table)
            .values((
                visits::id.eq(&id),
                visits::mentee_id.eq(&mentee.id),
                visits::member_id.eq(member_id),
                visits::village_id.eq(&mentee.village_id),
                visits::township_id.eq(&mentee.township_id),
                visits::county_id.eq(&mentee.county_id),
                visits::visited_on.eq(on),
                visits::kind.eq(model::kind_str(kind)),
                visits::note.eq(None::<String>),
                visits::lat.eq(body.location.map(|l| l.lat)),
                visits::lon.eq(body.location.map(|l| l.lon)),
                visits::body_hash.eq(body.hash()),
                visits::created_by.eq("cli"),
                visits::created_at.eq(crate::clock::now()),
            ))
            .execute(conn)?;
    }
    Ok(())
}
