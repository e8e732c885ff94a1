//! A WGS84 position in degrees, and the one check of its ranges that every body carrying a
//! position uses (inspections, org units, mentoring visits).

use crate::error::FieldError;
use crate::i18n::Rule;

/// A position as received: latitude and longitude in degrees, not yet checked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GeoPoint {
    pub lat: f64,
    pub lon: f64,
}

impl GeoPoint {
    pub const fn new(lat: f64, lon: f64) -> Self {
        Self { lat, lon }
    }

    /// Pushes a field error for a latitude outside −90..=90 (`{prefix}.lat`, `Rule::LatRange`)
    /// and one for a longitude outside −180..=180 (`{prefix}.lon`, `Rule::LonRange`). An empty
    /// prefix names the bare fields (`lat`, `lon`). NaN and infinities are out of range.
    pub fn check(self, prefix: &str, errors: &mut Vec<FieldError>) {
        let field = |name: &str| {
            if prefix.is_empty() {
                name.to_owned()
            } else {
                format!("{prefix}.{name}")
            }
        };
        if !(-90.0..=90.0).contains(&self.lat) {
            errors.push(FieldError::new(field("lat"), Rule::LatRange));
        }
        if !(-180.0..=180.0).contains(&self.lon) {
            errors.push(FieldError::new(field("lon"), Rule::LonRange));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(p: GeoPoint, prefix: &str) -> Vec<(String, Rule)> {
        let mut errors = Vec::new();
        p.check(prefix, &mut errors);
        errors
            .into_iter()
            .map(|e| (e.field.clone(), e.rule))
            .collect()
    }

    #[test]
    fn in_range_positions_pass_including_the_edges() {
        for (lat, lon) in [(0.0, 0.0), (36.37, 114.38), (90.0, 180.0), (-90.0, -180.0)] {
            assert!(fields(GeoPoint::new(lat, lon), "location").is_empty());
        }
    }

    #[test]
    fn out_of_range_names_the_field_under_its_prefix() {
        assert_eq!(
            fields(GeoPoint::new(90.5, 114.0), "location"),
            vec![("location.lat".to_owned(), Rule::LatRange)]
        );
        assert_eq!(
            fields(GeoPoint::new(36.0, -180.1), "location"),
            vec![("location.lon".to_owned(), Rule::LonRange)]
        );
        assert_eq!(
            fields(GeoPoint::new(-91.0, 181.0), ""),
            vec![
                ("lat".to_owned(), Rule::LatRange),
                ("lon".to_owned(), Rule::LonRange)
            ]
        );
    }

    #[test]
    fn nan_and_infinity_are_out_of_range() {
        assert_eq!(
            fields(GeoPoint::new(f64::NAN, f64::INFINITY), "").len(),
            2,
            "NaN and ∞ must not pass as positions"
        );
    }
}
