//! Id newtypes where two ids travel side by side and a swap would still type-check as `&str`:
//! an inspection's id and a photo's id (`photo::upload::locate`, `record`). Ids are UUID text
//! in the database; these wrap that text and give it back with `as_str()`.

use std::fmt;

/// The id of an inspection, as the caller named it (a path segment, tus metadata, a row).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InspectionId(String);

impl InspectionId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The id of a photo: a client-chosen UUID, kept in lower case as the manifest stores it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PhotoId(String);

impl PhotoId {
    /// The id in lower case (`ABC…` and `abc…` name one photo).
    pub fn new(id: &str) -> Self {
        Self(id.to_ascii_lowercase())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InspectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for PhotoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_photo_id_is_lower_case_and_an_inspection_id_as_given() {
        let p = PhotoId::new("0190ABCD-0000-7000-8000-00000000000A");
        assert_eq!(p.as_str(), "0190abcd-0000-7000-8000-00000000000a");
        assert_eq!(InspectionId::new("X-1").to_string(), "X-1");
    }
}
