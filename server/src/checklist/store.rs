//! Checklist versions in the database. A published version never changes; `county_id` NULL
//! marks the defaults every county may use.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::template::{self, Template};
use super::versions::Published;
use crate::auth::Actor;
use crate::db::schema::checklist_versions;
use crate::db::{is_unique_violation, DbConn};
use crate::error::{ApiError, ApiResult};
use crate::{audit, clock::now};

/// Where a checklist version stands (`checklist_versions.status`), stored and sent under its
/// snake_case name. A published version never changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VersionStatus {
    Draft,
    Published,
}

impl VersionStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Published => "published",
        }
    }

    /// A stored status. Only `as_str` values are ever written; anything else is a damaged row,
    /// logged and treated as a draft so that no inspection answers it.
    pub fn stored(text: &str) -> Self {
        match text {
            "draft" => Self::Draft,
            "published" => Self::Published,
            _ => {
                tracing::error!(
                    status = text,
                    "a checklist version row holds an unknown status"
                );
                Self::Draft
            }
        }
    }
}

crate::db::stored_as_text!(VersionStatus);

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = checklist_versions)]
pub struct ChecklistVersion {
    pub id: String,
    pub county_id: Option<String>,
    pub code: String,
    pub version: i32,
    pub star_level: i32,
    pub body: String,
    pub status: String,
    pub etag: String,
    pub created_at: NaiveDateTime,
    pub published_at: Option<NaiveDateTime>,
}

impl ChecklistVersion {
    pub fn template(&self) -> ApiResult<Template> {
        serde_json::from_str(&self.body).map_err(|e| {
            tracing::error!(error = %e, code = %self.code, "stored checklist does not parse");
            ApiError::internal()
        })
    }

    /// The parsed template, shared: a published version never changes, so each is parsed once
    /// per process (keyed by id and etag) instead of on every inspection that answers it.
    pub fn template_shared(&self) -> ApiResult<std::sync::Arc<Template>> {
        type Cache =
            std::sync::Mutex<std::collections::HashMap<(String, String), std::sync::Arc<Template>>>;
        static CACHE: std::sync::OnceLock<Cache> = std::sync::OnceLock::new();
        if !self.is_published() {
            return self.template().map(std::sync::Arc::new);
        }
        let cache = CACHE.get_or_init(Default::default);
        let key = (self.id.clone(), self.etag.clone());
        if let Some(t) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(t);
        }
        let parsed = std::sync::Arc::new(self.template()?);
        if let Ok(mut c) = cache.lock() {
            if c.len() < 4096 {
                c.insert(key, parsed.clone());
            }
        }
        Ok(parsed)
    }

    pub fn status(&self) -> VersionStatus {
        VersionStatus::stored(&self.status)
    }

    pub fn is_published(&self) -> bool {
        self.status() == VersionStatus::Published
    }

    /// Whether a user of `county_id` may use this version.
    pub fn visible_to(&self, county_id: &str) -> bool {
        self.county_id.as_deref().is_none_or(|c| c == county_id)
    }

    /// The wire form: the template plus the server-set `version`, `status`, `published_at`.
    pub fn document(&self) -> ApiResult<serde_json::Value> {
        let mut doc = serde_json::to_value(self.template()?).map_err(|_| ApiError::internal())?;
        if let Some(obj) = doc.as_object_mut() {
            obj.insert("version".into(), self.version.into());
            obj.insert("status".into(), self.status().as_str().into());
            obj.insert(
                "published_at".into(),
                self.published_at
                    .map(|t| serde_json::Value::String(t.and_utc().to_rfc3339()))
                    .unwrap_or(serde_json::Value::Null),
            );
        }
        Ok(doc)
    }

    pub fn find(conn: &mut DbConn, code: &str, version: i32) -> QueryResult<Option<Self>> {
        crate::db::on_backend!(conn, |c| checklist_versions::table
            .filter(checklist_versions::code.eq(code))
            .filter(checklist_versions::version.eq(version))
            .select(Self::as_select())
            .first(c)
            .optional())
    }

    /// Version `version` of `code` and, when it exists, every published version of the same
    /// code and level (what `versions::check_version` needs), in one query: what each submitted
    /// inspection reads. Only the asked-for version's body is read.
    pub fn find_with_published(
        conn: &mut DbConn,
        code: &str,
        version: i32,
    ) -> QueryResult<(Option<Self>, Vec<Published>)> {
        use checklist_versions as cv;
        type Row = (
            String,
            Option<String>,
            String,
            i32,
            i32,
            Option<String>,
            String,
            String,
            NaiveDateTime,
            Option<NaiveDateTime>,
        );
        let rows: Vec<Row> = crate::db::on_backend!(conn, |c| cv::table
            .filter(cv::code.eq(code))
            .filter(
                cv::version
                    .eq(version)
                    .or(cv::status.eq(VersionStatus::Published)),
            )
            .select((
                cv::id,
                cv::county_id,
                cv::code,
                cv::version,
                cv::star_level,
                diesel::dsl::case_when::<_, _, diesel::sql_types::Text>(
                    cv::version.eq(version),
                    cv::body,
                ),
                cv::status,
                cv::etag,
                cv::created_at,
                cv::published_at,
            ))
            .load(c))?;
        let mut asked = None;
        let mut published = Vec::new();
        for (id, county_id, code, v, star_level, body, status, etag, created_at, published_at) in
            rows
        {
            if VersionStatus::stored(&status) == VersionStatus::Published {
                if let Some(at) = published_at {
                    published.push((
                        star_level,
                        Published {
                            version: v,
                            published_at: at.and_utc(),
                        },
                    ));
                }
            }
            if let (true, Some(body)) = (v == version, body) {
                asked = Some(Self {
                    id,
                    county_id,
                    code,
                    version: v,
                    star_level,
                    body,
                    status,
                    etag,
                    created_at,
                    published_at,
                });
            }
        }
        let level = asked.as_ref().map(|a| a.star_level);
        let published = published
            .into_iter()
            .filter(|(l, _)| Some(*l) == level)
            .map(|(_, p)| p)
            .collect();
        Ok((asked, published))
    }

    /// The newest published version of a level that a county may use: its own before the defaults.
    pub fn latest_for_level(
        conn: &mut DbConn,
        county_id: &str,
        level: i32,
    ) -> QueryResult<Option<Self>> {
        let rows: Vec<Self> = checklist_versions::table
            .filter(checklist_versions::star_level.eq(level))
            .filter(checklist_versions::status.eq(VersionStatus::Published))
            .filter(
                checklist_versions::county_id
                    .eq(county_id)
                    .or(checklist_versions::county_id.is_null()),
            )
            .select(Self::as_select())
            .order((
                checklist_versions::version.desc(),
                checklist_versions::id.desc(),
            ))
            .load(conn)?;
        Ok(rows
            .iter()
            .find(|r| r.county_id.is_some())
            .or_else(|| rows.first())
            .cloned())
    }
}

fn etag_of(body: &str, version: i32, status: VersionStatus) -> String {
    let digest = Sha256::digest(format!("{version}:{status}:{body}").as_bytes());
    format!("\"{}\"", &hex::encode(digest)[..32])
}

/// Adds a new version of `t` (draft, or published when `publish`), numbered after the last.
pub fn add_version(
    conn: &mut DbConn,
    t: &Template,
    county_id: Option<&str>,
    publish: bool,
    actor: &Actor,
) -> ApiResult<ChecklistVersion> {
    template::validate(t).map_err(ApiError::validation)?;
    let existing: Vec<(Option<String>, i32)> = checklist_versions::table
        .filter(checklist_versions::code.eq(&t.code))
        .select((checklist_versions::county_id, checklist_versions::version))
        .order(checklist_versions::version.desc())
        .load(conn)?;
    if let Some((owner, _)) = existing.first() {
        if owner.as_deref() != county_id {
            return Err(ApiError::conflict(
                "checklist_code_taken",
                format!(
                    "the checklist code {} belongs to another owner; choose another code",
                    t.code
                ),
            ));
        }
    }
    let version = existing.first().map_or(1, |(_, v)| v + 1);
    let body = serde_json::to_string(t).map_err(|_| ApiError::internal())?;
    let status = if publish {
        VersionStatus::Published
    } else {
        VersionStatus::Draft
    };
    let id = uuid::Uuid::now_v7().to_string();
    let t_now = now();
    let res = diesel::insert_into(checklist_versions::table)
        .values((
            checklist_versions::id.eq(&id),
            checklist_versions::county_id.eq(county_id),
            checklist_versions::code.eq(&t.code),
            checklist_versions::version.eq(version),
            checklist_versions::star_level.eq(t.star_level as i32),
            checklist_versions::etag.eq(etag_of(&body, version, status)),
            checklist_versions::body.eq(&body),
            checklist_versions::status.eq(status),
            checklist_versions::created_at.eq(t_now),
            checklist_versions::published_at.eq(publish.then_some(t_now)),
        ))
        .execute(conn);
    match res {
        Err(e) if is_unique_violation(&e) => {
            return Err(ApiError::conflict(
                "checklist_version_race",
                "another version was added at the same time; retry",
            ))
        }
        other => other?,
    };
    audit::record(
        conn,
        actor,
        if publish {
            "checklist.published"
        } else {
            "checklist.drafted"
        },
        "checklist",
        &format!("{}/{}", t.code, version),
        county_id,
        format!("{} version {version} ({status})", t.code),
    )?;
    ChecklistVersion::find(conn, &t.code, version)?.ok_or_else(|| ApiError::internal())
}

pub fn publish(
    conn: &mut DbConn,
    v: &ChecklistVersion,
    actor: &Actor,
) -> ApiResult<ChecklistVersion> {
    if v.is_published() {
        return Err(ApiError::conflict(
            "already_published",
            "this version is published and never changes",
        ));
    }
    let t = now();
    diesel::update(checklist_versions::table.find(&v.id))
        .set((
            checklist_versions::status.eq(VersionStatus::Published),
            checklist_versions::published_at.eq(t),
            checklist_versions::etag.eq(etag_of(&v.body, v.version, VersionStatus::Published)),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        actor,
        "checklist.published",
        "checklist",
        &format!("{}/{}", v.code, v.version),
        v.county_id.as_deref(),
        format!("{} version {}", v.code, v.version),
    )?;
    ChecklistVersion::find(conn, &v.code, v.version)?.ok_or_else(|| ApiError::internal())
}

/// Makes the built-in one-, two- and three-star templates available (once, idempotently).
pub fn ensure_defaults(conn: &mut DbConn) -> ApiResult<usize> {
    let mut added = 0;
    for t in template::default_templates() {
        let exists = checklist_versions::table
            .filter(checklist_versions::code.eq(&t.code))
            .count()
            .get_result::<i64>(conn)?
            > 0;
        if !exists {
            match add_version(conn, &t, None, true, &Actor::cli()) {
                Ok(_) => added += 1,
                // Another process seeded it first.
                Err(e) if e.status.as_u16() == 409 => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(added)
}
