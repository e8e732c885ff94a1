//! Photo evidence: the pipeline (sniff, bounded decode, orientation, EXIF, hashes,
//! metadata-free display and thumbnail copies), test fixtures, and the upload and read routes.

pub mod decoders;
pub mod exif;
pub mod fixtures;
pub mod phash;
pub mod pipeline;
pub mod quota;
pub mod routes;
pub mod store;
pub mod tus;
pub mod upload;

#[cfg(test)]
mod fuzz_tests;
