//! Integration tests: each module drives a real server over HTTP, on SQLite and PostgreSQL.

mod flow;
mod helpers;

mod auth;
mod cli;
mod errors;
mod inspections;
mod mentoring;
mod ops;
mod org_units;
mod reports;
mod review;
mod schema;
mod spec;
mod stars;
mod users;
mod webhooks;
