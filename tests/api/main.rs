//! Integration tests: each module drives a real server over HTTP, on SQLite and PostgreSQL.

mod helpers;

mod auth;
mod cli;
mod errors;
mod ops;
mod org_units;
mod schema;
mod spec;
mod stars;
mod users;
mod webhooks;
