//! Integration tests: each module drives a real server over HTTP, on SQLite and PostgreSQL.

mod flow;
mod helpers;

mod auth;
mod bench;
mod cli;
mod errors;
mod inspections;
mod mentoring;
mod ops;
mod org_units;
mod schema;
mod spec;
mod users;
