//! Org units: county → township → village, with villages' positions and geofences.
//! The model and its rules, the HTTP routes, and the operator's CSV import.

pub mod decode;
pub mod import;
pub mod model;
pub mod routes;

pub use model::{NewOrgUnit, OrgUnit, OrgUnitView};
