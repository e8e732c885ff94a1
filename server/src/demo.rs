//! The demo county `DEMO`: 19 townships, 376 villages around 36.37 N, 114.38 E, the demo
//! users, and (through the other modules' seeders) checklists and mentoring data. Idempotent.

use rand::Rng;

use crate::auth::{Actor, Role};
use crate::db::{write_tx, DbConn};
use crate::error::ApiError;
use crate::org::{NewOrgUnit, OrgUnit};
use crate::review::rules::ReviewBody;
use crate::scope::OrgLevel;
use crate::users::{NewUser, User};

pub const COUNTY_CODE: &str = "DEMO";
pub const TOWNSHIPS: usize = 19;
pub const VILLAGES: usize = 376;
pub const CENTER: (f64, f64) = (36.37, 114.38);

const TOWNSHIP_NAMES: [&str; TOWNSHIPS] = [
    "城关镇",
    "东关镇",
    "西岗镇",
    "南旺镇",
    "北留镇",
    "柳园镇",
    "石桥镇",
    "河湾乡",
    "青山乡",
    "杏花乡",
    "白马乡",
    "龙泉镇",
    "双庙乡",
    "高庄镇",
    "新店乡",
    "马头镇",
    "古城乡",
    "槐树乡",
    "枣林镇",
];
const VILLAGE_FIRST: [&str; 16] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "孙", "马", "胡", "郭", "何", "高",
];
const VILLAGE_SECOND: [&str; 8] = ["庄", "屯", "寨", "营", "店", "堡", "桥", "洼"];

/// The demo users and their roles: county roles sit at the county (reviewer1 for the
/// programme department, reviewer2 for the association, so that joint approval works),
/// township1 at the first village's township, village roles at the first village.
pub const USERS: [(&str, Role); 8] = [
    ("admin", Role::Admin),
    ("inspector1", Role::Inspector),
    ("inspector2", Role::Inspector),
    ("reviewer1", Role::Reviewer),
    ("reviewer2", Role::Reviewer),
    ("township1", Role::Township),
    ("secretary1", Role::Secretary),
    ("member1", Role::Member),
];

/// A demo reviewer's verifying body.
fn demo_body(name: &str) -> Option<&'static str> {
    match name {
        "reviewer1" => Some(ReviewBody::Department.as_str()),
        "reviewer2" => Some(ReviewBody::Association.as_str()),
        _ => None,
    }
}

#[derive(Debug, serde::Serialize)]
pub struct DemoSummary {
    pub county_id: String,
    pub created_units: usize,
    pub created_users: Vec<String>,
    /// The password of the users created now; `None` when none were created.
    pub password: Option<String>,
    pub password_was_generated: bool,
}

/// A deterministic spread of villages: the demo looks the same on every machine.
fn village_position(t: usize, v: usize) -> (f64, f64) {
    let angle = t as f64 / TOWNSHIPS as f64 * std::f64::consts::TAU;
    let ring = 0.08 + 0.12 * ((t % 3) as f64 / 2.0);
    let (tlat, tlon) = (
        CENTER.0 + ring * angle.sin(),
        CENTER.1 + ring * 1.25 * angle.cos(),
    );
    let seed = (t * 131 + v * 977) as f64;
    (
        tlat + 0.035 * (seed * 0.618).sin(),
        tlon + 0.045 * (seed * 0.371).cos(),
    )
}

pub fn seed(conn: &mut DbConn, password: Option<&str>) -> Result<DemoSummary, ApiError> {
    let actor = Actor::cli();
    write_tx(conn, |conn| {
        let mut created_units = 0;
        let mut ensure = |conn: &mut DbConn,
                          unit: NewOrgUnit,
                          parent: Option<&OrgUnit>|
         -> Result<OrgUnit, ApiError> {
            if let Some(u) = OrgUnit::find_by_code(conn, &unit.code)? {
                return Ok(u);
            }
            created_units += 1;
            unit.insert(conn, parent, &actor)
        };
        let county = ensure(
            conn,
            NewOrgUnit {
                code: COUNTY_CODE.into(),
                name: "示范县 (Demo County)".into(),
                level: OrgLevel::County,
                lat: Some(CENTER.0),
                lon: Some(CENTER.1),
                radius_m: None,
            },
            None,
        )?;
        let mut first_village: Option<OrgUnit> = None;
        let mut first_township: Option<OrgUnit> = None;
        let per_township = VILLAGES / TOWNSHIPS; // 19 × 19 = 361, the rest go to the first ones
        let extra = VILLAGES - per_township * TOWNSHIPS;
        for (t, tname) in TOWNSHIP_NAMES.iter().enumerate() {
            let township = ensure(
                conn,
                NewOrgUnit {
                    code: format!("{COUNTY_CODE}-T{:02}", t + 1),
                    name: tname.to_string(),
                    level: OrgLevel::Township,
                    lat: None,
                    lon: None,
                    radius_m: None,
                },
                Some(&county),
            )?;
            let count = per_township + usize::from(t < extra);
            for v in 0..count {
                let (lat, lon) = village_position(t, v);
                let name = format!(
                    "{}{}{}村",
                    &tname[..tname.len() - 3],
                    VILLAGE_FIRST[(t + v) % VILLAGE_FIRST.len()],
                    VILLAGE_SECOND[(v / VILLAGE_FIRST.len() + t) % VILLAGE_SECOND.len()]
                );
                let village = ensure(
                    conn,
                    NewOrgUnit {
                        code: format!("{COUNTY_CODE}-T{:02}-V{:03}", t + 1, v + 1),
                        name,
                        level: OrgLevel::Village,
                        lat: Some((lat * 1e6).round() / 1e6),
                        lon: Some((lon * 1e6).round() / 1e6),
                        radius_m: Some(crate::org::model::DEFAULT_RADIUS_M),
                    },
                    Some(&township),
                )?;
                if first_village.is_none() {
                    first_village = Some(village);
                    first_township = Some(township.clone());
                }
            }
        }
        let first_village = first_village.ok_or_else(|| ApiError::internal())?;
        let first_township = first_township.ok_or_else(|| ApiError::internal())?;
        crate::benefits::store::seed_defaults(
            conn,
            &county.id,
            &actor,
            crate::clock::today(crate::clock::DEFAULT_TIMEZONE),
        )?;

        let missing: Vec<_> = USERS
            .iter()
            .filter(|(name, _)| matches!(User::find_by_username(conn, name), Ok(None)))
            .collect();
        let generated = password.is_none() && !missing.is_empty();
        let password = match password {
            Some(p) => Some(p.to_string()),
            None if generated => Some(random_password()),
            None => None,
        };
        let mut created_users = Vec::new();
        for (name, role) in missing {
            let unit = match role.levels()[0] {
                OrgLevel::County => &county,
                OrgLevel::Township => &first_township,
                OrgLevel::Village => &first_village,
            };
            let pw = password.clone().unwrap_or_default();
            let new = NewUser::parse(name, &pw, role.as_str(), demo_body(name))
                .map_err(ApiError::validation)?;
            new.insert(conn, unit, &actor)?;
            created_users.push(name.to_string());
        }
        let member1 = User::find_by_username(conn, "member1")?;
        crate::mentoring::seed_demo(
            conn,
            &first_village,
            member1.as_ref().map(|u| u.id.as_str()),
        )?;
        Ok(DemoSummary {
            county_id: county.id,
            created_units,
            password: if created_users.is_empty() {
                None
            } else {
                password
            },
            password_was_generated: generated,
            created_users,
        })
    })
}

pub fn random_password_for_cli() -> String {
    random_password()
}

fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..16)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn villages_lie_around_the_demo_centre() {
        for t in 0..TOWNSHIPS {
            for v in 0..20 {
                let (lat, lon) = village_position(t, v);
                assert!((lat - CENTER.0).abs() < 0.3 && (lon - CENTER.1).abs() < 0.35);
            }
        }
        assert_eq!(VILLAGES / TOWNSHIPS * TOWNSHIPS + VILLAGES % TOWNSHIPS, 376);
    }
}
