//! Star status: the pure engine over a village's baseline and decisions, and what serves it.

pub mod engine;
