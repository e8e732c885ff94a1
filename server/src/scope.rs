//! Scoped access: a user sees only her org unit's subtree. Every scoped table carries
//! `county_id`, `township_id` and `village_id`, so one filter (`scoped!`) serves them all.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OrgLevel {
    County,
    Township,
    Village,
}

impl OrgLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            OrgLevel::County => "county",
            OrgLevel::Township => "township",
            OrgLevel::Village => "village",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "county" => Some(OrgLevel::County),
            "township" => Some(OrgLevel::Township),
            "village" => Some(OrgLevel::Village),
            _ => None,
        }
    }

    /// The level a unit of this level must have as its parent (`None`: it has no parent).
    pub fn parent_level(self) -> Option<OrgLevel> {
        match self {
            OrgLevel::County => None,
            OrgLevel::Township => Some(OrgLevel::County),
            OrgLevel::Village => Some(OrgLevel::Township),
        }
    }
}

/// Where a row sits in the org tree: the three ids every scoped table stores.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Placement {
    pub county_id: String,
    pub township_id: Option<String>,
    pub village_id: Option<String>,
}

/// A user's scope: her org unit and its level.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    pub unit_id: String,
    pub level: OrgLevel,
    pub county_id: String,
}

impl Scope {
    /// Whether a row placed at `p` lies inside this scope.
    pub fn contains(&self, p: &Placement) -> bool {
        match self.level {
            OrgLevel::County => p.county_id == self.unit_id,
            OrgLevel::Township => p.township_id.as_deref() == Some(self.unit_id.as_str()),
            OrgLevel::Village => p.village_id.as_deref() == Some(self.unit_id.as_str()),
        }
    }
}

/// Filters a boxed diesel query on `$table` to the rows inside `$scope`.
#[macro_export]
macro_rules! scoped {
    ($query:expr, $table:ident, $scope:expr) => {{
        let scope: &$crate::scope::Scope = $scope;
        let id = scope.unit_id.clone();
        match scope.level {
            $crate::scope::OrgLevel::County => $query.filter($table::county_id.eq(id)),
            $crate::scope::OrgLevel::Township => $query.filter($table::township_id.eq(id)),
            $crate::scope::OrgLevel::Village => $query.filter($table::village_id.eq(id)),
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placement(c: &str, t: Option<&str>, v: Option<&str>) -> Placement {
        Placement {
            county_id: c.into(),
            township_id: t.map(Into::into),
            village_id: v.map(Into::into),
        }
    }

    #[test]
    fn a_scope_contains_exactly_its_subtree() {
        let county = Scope {
            unit_id: "c1".into(),
            level: OrgLevel::County,
            county_id: "c1".into(),
        };
        let township = Scope {
            unit_id: "t1".into(),
            level: OrgLevel::Township,
            county_id: "c1".into(),
        };
        let village = Scope {
            unit_id: "v1".into(),
            level: OrgLevel::Village,
            county_id: "c1".into(),
        };
        let v1 = placement("c1", Some("t1"), Some("v1"));
        let v2 = placement("c1", Some("t2"), Some("v2"));
        let other = placement("c2", Some("t9"), Some("v9"));
        assert!(county.contains(&v1) && county.contains(&v2) && !county.contains(&other));
        assert!(township.contains(&v1) && !township.contains(&v2));
        assert!(village.contains(&v1) && !village.contains(&v2));
        assert!(!village.contains(&placement("c1", Some("t1"), None)));
    }
}
