//! Integration tests: each module drives a real server over HTTP, on SQLite and PostgreSQL.

mod flow;
mod helpers;

mod amplification;
mod auth;
mod authz;
mod bench;
mod benefits;
mod certification;
mod checklist_rules;
mod cli;
mod crash;
mod desk;
mod errors;
mod etag;
mod hostile;
mod inspections;
mod limits;
mod mentoring;
mod observability;
mod ops;
mod org_units;
mod reports;
mod review;
mod schema;
mod schema_fuzz;
mod slow_bodies;
mod spec;
mod stars;
mod tokens;
mod uploads;
mod users;
mod verifiers;
mod village_view;
mod webhooks;
