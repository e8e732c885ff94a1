//! Checklists: versioned templates per star level (data, never code), the answer rules that
//! score an inspection, the rule of which version an inspection may use, and the routes and CLI import that manage versions.

pub mod answers;
pub mod routes;
pub mod store;
pub mod template;
pub mod versions;

#[cfg(test)]
mod fuzz_tests;
