//! Review: the county's queue of submitted inspections, claims that keep two reviewers off one
//! inspection, and decisions — final, audited, announced, and fed to the star engine.

pub mod bulk;
pub mod decide;
pub mod routes;
pub mod rules;
