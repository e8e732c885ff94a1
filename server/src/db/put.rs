//! The idempotent `PUT` of a client-chosen id, raced.
//!
//! A phone retries a `PUT` until it hears an answer, so two copies of one request can arrive
//! together. Each runs in its own transaction: the loser's insert fails on the primary key and
//! rolls back (the write returns [`lost_race`]); run again, it finds the winner's row and
//! answers as a replay (200) or a conflict. [`Db::write_put`] is that loop, for every such
//! route (inspections, visits).

use actix_web::HttpResponse;
use serde::Serialize;

use super::{Db, DbConn};
use crate::error::{ApiError, ApiResult};

/// What an idempotent `PUT` did: stored a new row (201) or found this very request stored (200).
#[derive(Debug)]
pub enum Put<T> {
    Created(T),
    Replayed(T),
}

impl<T> Put<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Put<U> {
        match self {
            Put::Created(t) => Put::Created(f(t)),
            Put::Replayed(t) => Put::Replayed(f(t)),
        }
    }
}

impl<T: Serialize> Put<T> {
    /// 201 with the stored view, or 200 with it for a replay.
    pub fn respond(self) -> HttpResponse {
        match self {
            Put::Created(view) => HttpResponse::Created().json(view),
            Put::Replayed(view) => HttpResponse::Ok().json(view),
        }
    }
}

/// The code of a lost insert race: a signal between the write and [`Db::write_put`], which
/// runs the write again; never sent to a client.
pub const LOST_RACE: &str = "lost_race";

/// What a write returns when its insert lost the race for `what`'s id.
pub fn lost_race(what: &str) -> ApiError {
    ApiError::conflict(
        LOST_RACE,
        format!("{what} is being written by another request; retry"),
    )
}

impl Db {
    /// Runs the write made by `make` until it does not lose an insert race, at most `attempts`
    /// times; after that, answers `exhausted()`.
    pub async fn write_put<T, F, W>(
        &self,
        attempts: u32,
        make: F,
        exhausted: impl FnOnce() -> ApiError,
    ) -> ApiResult<Put<T>>
    where
        F: Fn() -> W,
        W: FnOnce(&mut DbConn) -> ApiResult<Put<T>> + Send + 'static,
        T: Send + 'static,
    {
        for _ in 0..attempts {
            match self.write(make()).await {
                Err(e) if e.code == LOST_RACE => continue,
                other => return other,
            }
        }
        Err(exhausted())
    }
}
