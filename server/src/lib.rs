//! fieldstar: quarterly on-site verification of star-rated villages.
//! `app` wires the routes; each capability (auth, org, users, …) owns its rules and queries.

pub mod alloc;
pub mod app;
pub mod audit;
pub mod auth;
pub mod bench;
pub mod benefits;
pub mod checklist;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod declarations;
pub mod demo;
pub mod error;
pub mod geo;
pub mod http;
pub mod i18n;
pub mod ids;
pub mod inspection;
mod layering;
pub mod lease;
pub mod mentoring;
pub mod metrics;
pub mod ops;
pub mod org;
pub mod photo;
pub mod quarter;
pub mod reports;
pub mod review;
pub mod scope;
pub mod spec;
pub mod stars;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod users;
pub mod web;
pub mod webhooks;

pub use app::Application;
pub use config::Config;
