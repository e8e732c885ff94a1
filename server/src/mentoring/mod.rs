//! Mentoring: association members, their 1–3 mentees, visits, and quarterly coverage.

pub mod coverage;
