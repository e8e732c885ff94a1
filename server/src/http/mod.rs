//! HTTP plumbing shared by every route: the strict JSON extractor, cursor paging, ETags, and
//! the middleware that gives each response a request id, metrics and security headers.

pub mod client;
pub mod etag;
pub mod json;
pub mod middleware;
pub mod pace;
pub mod paging;
pub mod tls;

pub use json::{Json, RawJson};
pub use paging::{Page, PageParams};
