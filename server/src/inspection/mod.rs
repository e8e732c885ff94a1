//! Inspections: what an inspector submits from the village, its validation and scoring, its
//! integrity flags, and the idempotent PUT that stores it.

pub mod flags;
pub mod model;
pub mod record;
pub mod routes;
pub mod submit;
pub mod village;
