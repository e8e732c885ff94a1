//! The org unit row, its API view, the parsed input shared by the API and the CSV import,
//! and the scoped queries.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Actor;
use crate::db::schema::{
    decisions, declarations, inspections, members, mentees, org_units, photos, users, visits,
    webhooks,
};
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult, FieldError, OrNotFound};
use crate::geo::GeoPoint;
use crate::i18n::{Msg, Rule};
use crate::scope::{OrgLevel, Placement, Scope};
use crate::{audit, clock::now, scoped};

pub const DEFAULT_RADIUS_M: f64 = 1500.0;
pub const MIN_RADIUS_M: f64 = 50.0;
pub const MAX_RADIUS_M: f64 = 50_000.0;

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = org_units)]
pub struct OrgUnit {
    pub id: String,
    pub code: String,
    pub name: String,
    pub level: String,
    pub parent_id: Option<String>,
    pub county_id: String,
    pub township_id: Option<String>,
    pub village_id: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub radius_m: Option<f64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct OrgUnitView {
    pub id: String,
    pub code: String,
    pub name: String,
    pub level: OrgLevel,
    pub parent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub radius_m: Option<f64>,
}

impl OrgUnit {
    pub fn level(&self) -> OrgLevel {
        OrgLevel::parse(&self.level).unwrap_or(OrgLevel::Village)
    }

    /// The scope of this unit's subtree: what a report on it may read.
    pub fn subtree(&self) -> crate::scope::Scope {
        crate::scope::Scope {
            unit_id: self.id.clone(),
            level: self.level(),
            county_id: self.county_id.clone(),
        }
    }

    pub fn placement(&self) -> Placement {
        Placement {
            county_id: self.county_id.clone(),
            township_id: self.township_id.clone(),
            village_id: self.village_id.clone(),
        }
    }

    pub fn view(self) -> OrgUnitView {
        OrgUnitView {
            level: self.level(),
            id: self.id,
            code: self.code,
            name: self.name,
            parent_id: self.parent_id,
            lat: self.lat,
            lon: self.lon,
            radius_m: self.radius_m,
        }
    }

    pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<OrgUnit>> {
        crate::db::on_backend!(conn, |c| org_units::table
            .find(id)
            .select(OrgUnit::as_select())
            .first(c)
            .optional())
    }

    pub fn find_by_code(conn: &mut DbConn, code: &str) -> QueryResult<Option<OrgUnit>> {
        org_units::table
            .filter(org_units::code.eq(code))
            .select(OrgUnit::as_select())
            .first(conn)
            .optional()
    }

    /// The unit with `id` if it lies inside `scope`; otherwise 404, as if it did not exist.
    pub fn find_scoped(conn: &mut DbConn, scope: &Scope, id: &str) -> ApiResult<OrgUnit> {
        let q = org_units::table.filter(org_units::id.eq(id)).into_boxed();
        scoped!(q, org_units, scope)
            .select(OrgUnit::as_select())
            .first(conn)
            .optional()
            .or_not_found("org unit")
    }

    /// A village inside `scope`, or 404.
    pub fn find_village(conn: &mut DbConn, scope: &Scope, id: &str) -> ApiResult<OrgUnit> {
        let unit = Self::find_scoped(conn, scope, id)?;
        if unit.level() != OrgLevel::Village {
            return Err(ApiError::not_found("village"));
        }
        Ok(unit)
    }
}

/// A new or updated org unit, parsed and checked: what the API and the CSV import share.
#[derive(Clone, Debug, PartialEq)]
pub struct NewOrgUnit {
    pub code: String,
    pub name: String,
    pub level: OrgLevel,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub radius_m: Option<f64>,
}

pub fn check_code(code: &str) -> Result<(), Rule> {
    let ok = !code.is_empty()
        && code.len() <= 64
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(Rule::OrgCodeFormat)
    }
}

pub fn check_name(name: &str) -> Result<(), Msg> {
    let n = name.trim().chars().count();
    if n == 0 || n > 200 {
        Err(Rule::LengthRange.with("max", 200))
    } else {
        Ok(())
    }
}

/// Checks a position and geofence; villages need a position, other levels may have one.
pub fn check_position(
    level: OrgLevel,
    lat: Option<f64>,
    lon: Option<f64>,
    radius_m: Option<f64>,
    errors: &mut Vec<FieldError>,
) {
    match (lat, lon) {
        (Some(lat), Some(lon)) => GeoPoint::new(lat, lon).check("", errors),
        (None, None) if level != OrgLevel::Village => {}
        (None, _) => errors.push(FieldError::new("lat", Rule::VillageNeedsPosition)),
        (_, None) => errors.push(FieldError::new("lon", Rule::VillageNeedsPosition)),
    }
    if let Some(r) = radius_m {
        if !(MIN_RADIUS_M..=MAX_RADIUS_M).contains(&r) {
            errors.push(FieldError::new(
                "radius_m",
                Rule::BetweenMetres
                    .with("min", MIN_RADIUS_M)
                    .with("max", MAX_RADIUS_M),
            ));
        }
    }
}

impl NewOrgUnit {
    pub fn parse(
        code: &str,
        name: &str,
        level: &str,
        lat: Option<f64>,
        lon: Option<f64>,
        radius_m: Option<f64>,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Err(m) = check_code(code) {
            errors.push(FieldError::new("code", m));
        }
        if let Err(m) = check_name(name) {
            errors.push(FieldError::new("name", m));
        }
        let parsed_level = OrgLevel::parse(level);
        if parsed_level.is_none() {
            errors.push(FieldError::new(
                "level",
                Rule::OneOf.with("allowed", vec!["county", "township", "village"]),
            ));
        }
        let level = parsed_level.unwrap_or(OrgLevel::Village);
        check_position(level, lat, lon, radius_m, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        let radius_m = match level {
            OrgLevel::Village => Some(radius_m.unwrap_or(DEFAULT_RADIUS_M)),
            _ => radius_m,
        };
        Ok(NewOrgUnit {
            code: code.to_string(),
            name: name.trim().to_string(),
            level,
            lat,
            lon,
            radius_m,
        })
    }

    /// Inserts the unit under `parent` (None only for a county). The parent must be of the
    /// level above.
    pub fn insert(
        &self,
        conn: &mut DbConn,
        parent: Option<&OrgUnit>,
        actor: &Actor,
    ) -> ApiResult<OrgUnit> {
        check_parent(self.level, parent)?;
        let id = uuid::Uuid::now_v7().to_string();
        let placement = match (self.level, parent) {
            (OrgLevel::County, _) => Placement {
                county_id: id.clone(),
                township_id: None,
                village_id: None,
            },
            (OrgLevel::Township, Some(p)) => Placement {
                county_id: p.county_id.clone(),
                township_id: Some(id.clone()),
                village_id: None,
            },
            (OrgLevel::Village, Some(p)) => Placement {
                county_id: p.county_id.clone(),
                township_id: Some(p.id.clone()),
                village_id: Some(id.clone()),
            },
            _ => return Err(ApiError::field("parent_id", Rule::ParentRequired)),
        };
        let t = now();
        let inserted = diesel::insert_into(org_units::table)
            .values((
                org_units::id.eq(&id),
                org_units::code.eq(&self.code),
                org_units::name.eq(&self.name),
                org_units::level.eq(self.level.as_str()),
                org_units::parent_id.eq(parent.map(|p| p.id.clone())),
                org_units::county_id.eq(&placement.county_id),
                org_units::township_id.eq(&placement.township_id),
                org_units::village_id.eq(&placement.village_id),
                org_units::lat.eq(self.lat),
                org_units::lon.eq(self.lon),
                org_units::radius_m.eq(self.radius_m),
                org_units::created_at.eq(t),
                org_units::updated_at.eq(t),
            ))
            .execute(conn);
        match inserted {
            Err(e) if crate::db::is_unique_violation(&e) => {
                return Err(ApiError::conflict(
                    "code_taken",
                    format!("an org unit with code {} exists", self.code),
                ))
            }
            other => other?,
        };
        audit::record(
            conn,
            actor,
            "org_unit.created",
            "org_unit",
            &id,
            Some(&placement.county_id),
            format!("{} {} ({})", self.level.as_str(), self.code, self.name),
        )?;
        OrgUnit::find(conn, &id)?.ok_or_else(|| ApiError::internal())
    }
}

pub fn check_parent(level: OrgLevel, parent: Option<&OrgUnit>) -> ApiResult<()> {
    match (level.parent_level(), parent) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(ApiError::field("parent_id", Rule::CountyNoParent)),
        (Some(_), None) => Err(ApiError::field("parent_id", Rule::ParentRequired)),
        (Some(want), Some(p)) if p.level() == want => Ok(()),
        (Some(want), Some(_)) => Err(ApiError::field(
            "parent_id",
            Rule::ParentLevel
                .with("level", level.as_str())
                .with("parent", want.as_str()),
        )),
    }
}

/// Applies changes to a unit's name, position or geofence, and audits them.
pub fn update(
    conn: &mut DbConn,
    unit: &OrgUnit,
    name: Option<String>,
    lat: Option<f64>,
    lon: Option<f64>,
    radius_m: Option<f64>,
    actor: &Actor,
) -> ApiResult<OrgUnit> {
    let mut errors = Vec::new();
    if let Some(n) = &name {
        if let Err(m) = check_name(n) {
            errors.push(FieldError::new("name", m));
        }
    }
    let new_lat = lat.or(unit.lat);
    let new_lon = lon.or(unit.lon);
    check_position(unit.level(), new_lat, new_lon, radius_m, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let new_name = name
        .map(|n| n.trim().to_string())
        .unwrap_or_else(|| unit.name.clone());
    let new_radius = radius_m.or(unit.radius_m);
    if new_name == unit.name
        && new_lat == unit.lat
        && new_lon == unit.lon
        && new_radius == unit.radius_m
    {
        return Ok(unit.clone());
    }
    diesel::update(org_units::table.find(&unit.id))
        .set((
            org_units::name.eq(&new_name),
            org_units::lat.eq(new_lat),
            org_units::lon.eq(new_lon),
            org_units::radius_m.eq(new_radius),
            org_units::updated_at.eq(now()),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        actor,
        "org_unit.updated",
        "org_unit",
        &unit.id,
        Some(&unit.county_id),
        format!(
            "name {:?} → {:?}; position {:?},{:?} → {:?},{:?}; radius {:?} → {:?}",
            unit.name, new_name, unit.lat, unit.lon, new_lat, new_lon, unit.radius_m, new_radius
        ),
    )?;
    OrgUnit::find(conn, &unit.id)?.ok_or_else(|| ApiError::internal())
}

/// Moves a village to another township of its county, in the caller's transaction. Refused
/// (409) once the village has declarations, inspections or decisions: that history was
/// pre-checked and verified under its township and stays there. Otherwise every row placed in
/// the village (its users, members, mentees, visits, photos, webhooks) follows it, so scoped
/// reads stay consistent. Moving to the parent it has changes nothing.
pub fn move_village(
    conn: &mut DbConn,
    unit: &OrgUnit,
    parent: &OrgUnit,
    actor: &Actor,
) -> ApiResult<OrgUnit> {
    if unit.parent_id.as_deref() == Some(parent.id.as_str()) {
        return Ok(unit.clone());
    }
    if unit.level() != OrgLevel::Village {
        return Err(ApiError::field("parent_id", Rule::OnlyVillageMoves));
    }
    if parent.level() != OrgLevel::Township || parent.county_id != unit.county_id {
        return Err(ApiError::field("parent_id", Rule::TownshipOfCounty));
    }
    let id = unit.id.as_str();
    let history: i64 = declarations::table
        .filter(declarations::village_id.eq(id))
        .count()
        .get_result::<i64>(conn)?
        + inspections::table
            .filter(inspections::village_id.eq(id))
            .count()
            .get_result::<i64>(conn)?
        + decisions::table
            .filter(decisions::village_id.eq(id))
            .count()
            .get_result::<i64>(conn)?;
    if history > 0 {
        return Err(ApiError::conflict(
            "village_has_history",
            format!(
                "{} has declarations or inspections under its township; a village with a \
                 verification history does not move",
                unit.name
            ),
        ));
    }
    let to = Some(parent.id.clone());
    macro_rules! follow {
        ($($t:ident),*) => {$(
            diesel::update($t::table.filter($t::village_id.eq(id)))
                .set($t::township_id.eq(&to))
                .execute(conn)?;
        )*};
    }
    follow!(users, members, mentees, visits, photos, webhooks);
    diesel::update(org_units::table.find(id))
        .set((
            org_units::parent_id.eq(&to),
            org_units::township_id.eq(&to),
            org_units::updated_at.eq(now()),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        actor,
        "org_unit.moved",
        "org_unit",
        id,
        Some(&unit.county_id),
        format!(
            "{} ({}) moved from {:?} to {} ({})",
            unit.code, unit.name, unit.township_id, parent.code, parent.name
        ),
    )?;
    OrgUnit::find(conn, id)?.ok_or_else(|| ApiError::internal())
}
