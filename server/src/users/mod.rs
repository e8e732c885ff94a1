//! Users: one role and one scope each. The row and its rules (shared by the API and
//! `fieldstar user create`), and the admin routes.

pub mod model;
pub mod routes;

pub use model::{NewUser, User, UserView};
