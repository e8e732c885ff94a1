//! Mentoring: association members, their 1–3 mentees, visits, and quarterly coverage.

pub mod coverage;

use diesel::QueryResult;

use crate::db::DbConn;
use crate::quarter::Quarter;

/// A village's mentoring coverage for `quarter`: the value the checklists' computed item
/// `mentoring.coverage` takes. (Filled in by the mentoring routes' queries.)
pub fn village_coverage(
    _conn: &mut DbConn,
    _village_id: &str,
    quarter: Quarter,
) -> QueryResult<coverage::Coverage> {
    Ok(coverage::coverage(quarter, &[], &[], &[]))
}
