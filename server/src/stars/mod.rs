//! Star status: the pure engine over a village's baseline and decisions, the county's policy,
//! the queries that feed the engine, the star-status and policy routes, and the baseline import.

pub mod engine;
pub mod import;
pub mod policy;
pub mod routes;
pub mod status;

pub use policy::policy_of;
pub use status::{status_of, StarStatusView};
