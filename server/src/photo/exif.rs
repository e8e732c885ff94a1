//! Reads the EXIF facts the integrity checks need from an evidence photo: position, capture
//! time, device, editing software and orientation. Never fails: what cannot be read becomes a problem.

use chrono::NaiveDateTime;
use exif::{Field, In, Reader, Tag, Value};
use serde::Serialize;

#[derive(Serialize, Default, Clone, Debug, PartialEq)]
pub struct ExifInfo {
    pub present: bool,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub taken_at_local: Option<NaiveDateTime>,
    pub offset_minutes: Option<i32>,
    pub make: Option<String>,
    pub model: Option<String>,
    pub software: Option<String>,
    pub orientation: Option<u16>,
    pub problems: Vec<String>,
}

/// At most this many problems are kept per photo; the rest are counted in one last line. A
/// hostile EXIF block can hold thousands of broken entries, and every one would otherwise
/// travel into the photo's flag, its stored EXIF and every list that shows them.
pub const MAX_PROBLEMS: usize = 8;
/// Each kept problem, and each text read from EXIF (make, model, software), at most this long.
pub const MAX_TEXT_CHARS: usize = 160;

/// Reads EXIF from a JPEG, PNG or WebP file (or a bare TIFF/EXIF block). What it returns is
/// bounded whatever the file holds: [`MAX_PROBLEMS`] problems and [`MAX_TEXT_CHARS`] a text.
pub fn read_exif(bytes: &[u8]) -> ExifInfo {
    let mut info = read_unbounded(bytes);
    info.bound();
    info
}

impl ExifInfo {
    /// Keeps the first [`MAX_PROBLEMS`] − 1 problems (each shortened) and counts the others.
    pub fn bound(&mut self) {
        for text in [&mut self.make, &mut self.model, &mut self.software]
            .into_iter()
            .flatten()
        {
            *text = shorten(text, MAX_TEXT_CHARS);
        }
        if self.problems.len() > MAX_PROBLEMS {
            let more = self.problems.len() - (MAX_PROBLEMS - 1);
            self.problems.truncate(MAX_PROBLEMS - 1);
            self.problems.push(format!("{more} more problems"));
        }
        for p in &mut self.problems {
            *p = shorten(p, MAX_TEXT_CHARS);
        }
    }
}

/// `text` cut to at most `max` characters, on a character boundary, with `…` when cut.
pub fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max.saturating_sub(1)) {
        Some((i, _)) if text[i..].chars().nth(1).is_some() => format!("{}…", &text[..i]),
        _ => text.to_owned(),
    }
}

fn read_unbounded(bytes: &[u8]) -> ExifInfo {
    let mut info = ExifInfo::default();
    let raw = match exif_block(bytes) {
        Block::Absent => return info,
        Block::Found(raw) => raw,
        Block::Truncated(raw) => {
            info.problems.push("EXIF block truncated".to_owned());
            raw
        }
        Block::Container => match container_block(bytes) {
            Some(raw) => raw,
            None => return info,
        },
    };
    info.present = true;
    let exif = match Reader::new().continue_on_error(true).read_raw(raw) {
        Ok(exif) => exif,
        Err(err) => {
            let mut ignored = Vec::new();
            match err.distill_partial_result(|errors| ignored = errors) {
                Ok(exif) => {
                    info.problems.extend(
                        ignored
                            .iter()
                            .map(|e| format!("EXIF partly unreadable: {e}")),
                    );
                    exif
                }
                Err(err) => {
                    info.problems.push(format!("EXIF unreadable: {err}"));
                    return info;
                }
            }
        }
    };
    let field = |tag: Tag| exif.get_field(tag, In::PRIMARY);

    info.make = field(Tag::Make).and_then(text);
    info.model = field(Tag::Model).and_then(text);
    info.software = field(Tag::Software).and_then(text);
    info.orientation = field(Tag::Orientation).and_then(|f| orientation(f, &mut info.problems));

    let original = field(Tag::DateTimeOriginal).and_then(|f| capture_time(f, &mut info.problems));
    let (taken, offset_tag) = match original {
        Some(t) => (Some(t), Tag::OffsetTimeOriginal),
        None => (
            field(Tag::DateTime).and_then(|f| capture_time(f, &mut info.problems)),
            Tag::OffsetTime,
        ),
    };
    info.taken_at_local = taken;
    if taken.is_some() {
        info.offset_minutes = field(offset_tag)
            .or_else(|| field(Tag::OffsetTimeOriginal))
            .and_then(|f| offset(f, &mut info.problems));
    }

    let lat = coordinate(
        field(Tag::GPSLatitude),
        field(Tag::GPSLatitudeRef),
        Axis::Latitude,
        &mut info.problems,
    );
    let lon = coordinate(
        field(Tag::GPSLongitude),
        field(Tag::GPSLongitudeRef),
        Axis::Longitude,
        &mut info.problems,
    );
    match (lat, lon) {
        (Some(lat), Some(lon)) => {
            info.lat = Some(lat);
            info.lon = Some(lon);
        }
        (None, None) => {}
        _ => info
            .problems
            .push("GPS position incomplete: only one coordinate readable".to_owned()),
    }
    info
}

enum Block {
    Absent,
    Found(Vec<u8>),
    Truncated(Vec<u8>),
    /// Not a JPEG: let kamadak-exif find the block in PNG, WebP or TIFF.
    Container,
}

/// "Exif\0" then a pad byte that some writers leave as 0xFF instead of 0.
const EXIF_ID: &[u8] = b"Exif\0";

/// Walks JPEG marker segments up to the first scan, tolerating a block cut short by the file end.
fn exif_block(bytes: &[u8]) -> Block {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return Block::Container;
    }
    let mut pos = 2;
    while pos + 4 <= bytes.len() {
        if bytes[pos] != 0xFF {
            return Block::Absent;
        }
        let marker = bytes[pos + 1];
        if marker == 0xFF {
            pos += 1;
            continue;
        }
        if marker == 0xDA || marker == 0xD9 {
            return Block::Absent;
        }
        let len = usize::from(u16::from_be_bytes([bytes[pos + 2], bytes[pos + 3]]));
        if len < 2 {
            return Block::Absent;
        }
        let start = pos + 4;
        let end = pos + 2 + len;
        let available = &bytes[start..end.min(bytes.len())];
        if marker == 0xE1 && available.starts_with(EXIF_ID) {
            let tiff = available
                .get(EXIF_ID.len() + 1..)
                .unwrap_or_default()
                .to_vec();
            return if end > bytes.len() {
                Block::Truncated(tiff)
            } else {
                Block::Found(tiff)
            };
        }
        pos = end;
    }
    Block::Absent
}

fn container_block(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut cursor = std::io::Cursor::new(bytes);
    match Reader::new().read_from_container(&mut cursor) {
        Ok(exif) => Some(exif.buf().to_vec()),
        Err(exif::Error::PartialResult(partial)) => Some(partial.into_inner().0.buf().to_vec()),
        Err(_) => None,
    }
}

fn text(field: &Field) -> Option<String> {
    let raw: &[u8] = match &field.value {
        Value::Ascii(parts) => parts.iter().find(|p| !p.is_empty())?,
        Value::Byte(b) | Value::Undefined(b, _) => b,
        _ => return None,
    };
    let s = String::from_utf8_lossy(raw);
    let s = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!s.is_empty()).then(|| s.to_owned())
}

fn orientation(field: &Field, problems: &mut Vec<String>) -> Option<u16> {
    match field.value.get_uint(0) {
        Some(v @ 1..=8) => u16::try_from(v).ok(),
        Some(v) => {
            problems.push(format!("Orientation {v} out of range 1-8"));
            None
        }
        None => {
            problems.push("Orientation unreadable".to_owned());
            None
        }
    }
}

fn capture_time(field: &Field, problems: &mut Vec<String>) -> Option<NaiveDateTime> {
    let s = text(field)?;
    // Cameras without a set clock write blanks or zeros, which the EXIF spec means as "unknown".
    if s.chars().all(|c| matches!(c, '0' | ':' | ' ' | '-')) {
        return None;
    }
    let head = s.get(..19).unwrap_or(&s);
    [
        "%Y:%m:%d %H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y:%m:%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
    ]
    .iter()
    .find_map(|fmt| NaiveDateTime::parse_from_str(head, fmt).ok())
    .or_else(|| {
        problems.push(format!("{} unreadable: {s:?}", field.tag));
        None
    })
}

fn offset(field: &Field, problems: &mut Vec<String>) -> Option<i32> {
    let s = text(field)?;
    let parsed = (|| {
        let (sign, rest) = match s.as_bytes().first()? {
            b'+' => (1, &s[1..]),
            b'-' => (-1, &s[1..]),
            _ => return None,
        };
        let (h, m) = rest.split_once(':')?;
        let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
        (h <= 14 && m < 60).then_some(sign * (h * 60 + m))
    })();
    if parsed.is_none() {
        problems.push(format!("{} unreadable: {s:?}", field.tag));
    }
    parsed
}

#[derive(Clone, Copy)]
enum Axis {
    Latitude,
    Longitude,
}

impl Axis {
    fn name(self) -> &'static str {
        match self {
            Axis::Latitude => "GPSLatitude",
            Axis::Longitude => "GPSLongitude",
        }
    }
    fn limit(self) -> f64 {
        match self {
            Axis::Latitude => 90.0,
            Axis::Longitude => 180.0,
        }
    }
    fn negative_ref(self) -> char {
        match self {
            Axis::Latitude => 'S',
            Axis::Longitude => 'W',
        }
    }
    fn positive_ref(self) -> char {
        match self {
            Axis::Latitude => 'N',
            Axis::Longitude => 'E',
        }
    }
}

/// Degrees, minutes, seconds in any rational encoding; the sign may sit in the numbers, the
/// reference letter, or both (phones disagree), so either one makes the coordinate negative.
fn coordinate(
    value: Option<&Field>,
    reference: Option<&Field>,
    axis: Axis,
    problems: &mut Vec<String>,
) -> Option<f64> {
    let value = value?;
    let name = axis.name();
    let parts: Vec<Option<f64>> = match &value.value {
        Value::Rational(v) => v
            .iter()
            .map(|r| (r.denom != 0).then(|| f64::from(r.num) / f64::from(r.denom)))
            .collect(),
        Value::SRational(v) => v
            .iter()
            .map(|r| (r.denom != 0).then(|| f64::from(r.num) / f64::from(r.denom)))
            .collect(),
        Value::Double(v) => v.iter().map(|d| Some(*d)).collect(),
        Value::Float(v) => v.iter().map(|d| Some(f64::from(*d))).collect(),
        _ => {
            problems.push(format!("{name} unreadable: not a rational value"));
            return None;
        }
    };
    if parts.is_empty() || parts.len() > 3 {
        problems.push(format!("{name} unreadable: {} components", parts.len()));
        return None;
    }
    let Some(parts) = parts.into_iter().collect::<Option<Vec<f64>>>() else {
        problems.push(format!("{name} unreadable: zero denominator"));
        return None;
    };
    let magnitude: f64 = parts
        .iter()
        .zip([1.0, 60.0, 3600.0])
        .map(|(p, scale)| p.abs() / scale)
        .sum();
    let negative_number = parts.iter().any(|p| *p < 0.0);
    let letter = reference
        .and_then(text)
        .and_then(|s| s.chars().next())
        .map(|c| c.to_ascii_uppercase());
    let negative_ref = match letter {
        Some(c) if c == axis.negative_ref() => true,
        Some(c) if c == axis.positive_ref() => false,
        Some(c) => {
            problems.push(format!(
                "{name}Ref {c:?} is not {} or {}",
                axis.positive_ref(),
                axis.negative_ref()
            ));
            false
        }
        None if negative_number => false,
        None => {
            problems.push(format!(
                "{name}Ref missing, assumed {}",
                axis.positive_ref()
            ));
            false
        }
    };
    if !magnitude.is_finite() || magnitude > axis.limit() {
        problems.push(format!("{name} out of range: {magnitude}"));
        return None;
    }
    Some(if negative_number || negative_ref {
        -magnitude
    } else {
        magnitude
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::photo::fixtures::{self, FixtureExif};
    use chrono::NaiveDate;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|d| d.and_hms_opt(h, mi, s))
            .expect("valid date")
    }

    fn full_exif(signed: bool, lat: f64, lon: f64) -> FixtureExif {
        FixtureExif {
            lat: Some(lat),
            lon: Some(lon),
            taken_at_local: Some(at(2024, 5, 17, 9, 30, 12)),
            offset: Some("+08:00".to_owned()),
            orientation: Some(6),
            software: Some("Snapseed 2.0".to_owned()),
            make: Some("Xiaomi".to_owned()),
            model: Some("Redmi Note 12".to_owned()),
            signed_rational_gps: signed,
        }
    }

    fn read_fixture(exif: &FixtureExif) -> ExifInfo {
        read_exif(&fixtures::jpeg(64, 48, 1, Some(exif)))
    }

    #[test]
    fn rational_gps_in_the_north_east_reads_positive() {
        let info = read_fixture(&full_exif(false, 30.123456, 120.654321));
        assert!(info.present);
        assert!((info.lat.unwrap() - 30.123456).abs() < 1e-6);
        assert!((info.lon.unwrap() - 120.654321).abs() < 1e-6);
        assert!(info.problems.is_empty(), "{:?}", info.problems);
    }

    #[test]
    fn south_and_west_refs_make_coordinates_negative() {
        let info = read_fixture(&full_exif(false, -33.8568, -70.6483));
        assert!((info.lat.unwrap() + 33.8568).abs() < 1e-6);
        assert!((info.lon.unwrap() + 70.6483).abs() < 1e-6);
    }

    #[test]
    fn signed_rational_gps_reads_with_the_sign_in_number_and_ref() {
        for (lat, lon) in [(22.5, 114.0), (-22.5, -114.25), (-0.5, 0.75)] {
            let info = read_fixture(&full_exif(true, lat, lon));
            assert!(
                (info.lat.unwrap() - lat).abs() < 1e-6,
                "{lat} -> {:?}",
                info.lat
            );
            assert!(
                (info.lon.unwrap() - lon).abs() < 1e-6,
                "{lon} -> {:?}",
                info.lon
            );
            assert!(info.problems.is_empty(), "{:?}", info.problems);
        }
    }

    #[test]
    fn capture_time_offset_device_software_and_orientation_are_read() {
        let info = read_fixture(&full_exif(false, 30.0, 120.0));
        assert_eq!(info.taken_at_local, Some(at(2024, 5, 17, 9, 30, 12)));
        assert_eq!(info.offset_minutes, Some(480));
        assert_eq!(info.make.as_deref(), Some("Xiaomi"));
        assert_eq!(info.model.as_deref(), Some("Redmi Note 12"));
        assert_eq!(info.software.as_deref(), Some("Snapseed 2.0"));
        assert_eq!(info.orientation, Some(6));
    }

    #[test]
    fn photo_without_exif_reads_as_absent() {
        let info = read_exif(&fixtures::jpeg(64, 48, 1, None));
        assert_eq!(info, ExifInfo::default());
        assert_eq!(read_exif(&fixtures::png(8, 8, 1)), ExifInfo::default());
        assert_eq!(read_exif(b""), ExifInfo::default());
    }

    #[test]
    fn strings_are_trimmed_of_nuls_and_spaces() {
        let exif = FixtureExif {
            make: Some("  NIKON\0\0 ".to_owned()),
            model: Some("\0 ".to_owned()),
            ..FixtureExif::default()
        };
        let info = read_fixture(&exif);
        assert_eq!(info.make.as_deref(), Some("NIKON"));
        assert_eq!(info.model, None);
    }

    /// Hand-built little-endian TIFF block with an IFD0 holding a GPS IFD pointer.
    fn tiff_with_gps(lat_type: u16, lat: &[(i64, i64)], lat_ref: &[u8]) -> Vec<u8> {
        let mut t = b"II*\0".to_vec();
        t.extend(8u32.to_le_bytes());
        // IFD0: one entry (GPS pointer) at 8; GPS IFD at 26.
        t.extend(1u16.to_le_bytes());
        t.extend(0x8825u16.to_le_bytes());
        t.extend(4u16.to_le_bytes());
        t.extend(1u32.to_le_bytes());
        t.extend(26u32.to_le_bytes());
        t.extend(0u32.to_le_bytes());
        // GPS IFD at 26: LatitudeRef, Latitude; then data at 26 + 2 + 24 + 4 = 56.
        t.extend(2u16.to_le_bytes());
        t.extend(1u16.to_le_bytes());
        t.extend(2u16.to_le_bytes());
        t.extend((lat_ref.len() as u32).to_le_bytes());
        let mut inline = [0u8; 4];
        inline[..lat_ref.len().min(4)].copy_from_slice(&lat_ref[..lat_ref.len().min(4)]);
        t.extend(inline);
        t.extend(2u16.to_le_bytes());
        t.extend(lat_type.to_le_bytes());
        t.extend((lat.len() as u32).to_le_bytes());
        t.extend(56u32.to_le_bytes());
        t.extend(0u32.to_le_bytes());
        for (n, d) in lat {
            t.extend((*n as u32).to_le_bytes());
            t.extend((*d as u32).to_le_bytes());
        }
        t
    }

    fn jpeg_with_tiff(tiff: &[u8]) -> Vec<u8> {
        fixtures::with_app1(&fixtures::jpeg(16, 16, 3, None), tiff)
    }

    #[test]
    fn zero_denominator_is_a_problem_not_a_panic() {
        let info = read_exif(&jpeg_with_tiff(&tiff_with_gps(
            5,
            &[(43, 1), (28, 0), (4, 1)],
            b"N\0",
        )));
        assert!(info.present);
        assert_eq!(info.lat, None);
        assert!(info
            .problems
            .iter()
            .any(|p| p.contains("GPSLatitude unreadable: zero denominator")));
    }

    #[test]
    fn one_two_or_three_components_with_any_denominator_are_accepted() {
        let cases: [(&[(i64, i64)], f64); 3] = [
            (&[(4346745, 100000)], 43.46745),
            (&[(43, 1), (280467, 10000)], 43.0 + 28.0467 / 60.0),
            (
                &[(430, 10), (28, 1), (404, 100)],
                43.0 + 28.0 / 60.0 + 4.04 / 3600.0,
            ),
        ];
        for (parts, expected) in cases {
            let bytes = jpeg_with_tiff(&tiff_with_gps(5, parts, b"N\0"));
            let tiff = match exif_block(&bytes) {
                Block::Found(t) => t,
                _ => panic!("block"),
            };
            let exif = Reader::new().read_raw(tiff).expect("parses");
            let mut problems = Vec::new();
            let lat = coordinate(
                exif.get_field(Tag::GPSLatitude, In::PRIMARY),
                exif.get_field(Tag::GPSLatitudeRef, In::PRIMARY),
                Axis::Latitude,
                &mut problems,
            );
            assert!((lat.unwrap() - expected).abs() < 1e-9, "{parts:?}");
            assert!(problems.is_empty());
        }
    }

    #[test]
    fn srational_with_negative_degrees_and_south_ref_is_not_flipped_back() {
        let bytes = jpeg_with_tiff(&tiff_with_gps(10, &[(-33, 1), (30, 1), (0, 1)], b"S\0"));
        let tiff = match exif_block(&bytes) {
            Block::Found(t) => t,
            _ => panic!("block"),
        };
        let exif = Reader::new().read_raw(tiff).expect("parses");
        let lat = coordinate(
            exif.get_field(Tag::GPSLatitude, In::PRIMARY),
            exif.get_field(Tag::GPSLatitudeRef, In::PRIMARY),
            Axis::Latitude,
            &mut Vec::new(),
        );
        assert_eq!(lat, Some(-33.5));
    }

    #[test]
    fn out_of_range_latitude_is_a_problem() {
        let info = read_exif(&jpeg_with_tiff(&tiff_with_gps(5, &[(91, 1)], b"N\0")));
        assert_eq!(info.lat, None);
        assert!(info
            .problems
            .iter()
            .any(|p| p.contains("GPSLatitude out of range")));
    }

    #[test]
    fn truncated_exif_block_reports_problems_and_never_panics() {
        let exif = full_exif(false, 30.0, 120.0);
        let whole = fixtures::jpeg(32, 32, 2, Some(&exif));
        let block_len = usize::from(u16::from_be_bytes([whole[4], whole[5]]));
        for cut in [6, 8, 12, 20, 40, block_len / 2, block_len] {
            let info = read_exif(&whole[..cut.min(whole.len())]);
            if cut > 10 {
                assert!(info.present, "cut {cut}");
                assert!(!info.problems.is_empty(), "cut {cut}: {info:?}");
            }
        }
    }

    #[test]
    fn bad_ifd_offsets_report_problems() {
        let mut tiff = tiff_with_gps(5, &[(43, 1)], b"N\0");
        tiff[4..8].copy_from_slice(&9999u32.to_le_bytes());
        let info = read_exif(&jpeg_with_tiff(&tiff));
        assert!(info.present);
        assert!(!info.problems.is_empty());

        let mut tiff = tiff_with_gps(5, &[(43, 1)], b"N\0");
        tiff[18..22].copy_from_slice(&60000u32.to_le_bytes());
        let info = read_exif(&jpeg_with_tiff(&tiff));
        assert!(!info.problems.is_empty(), "{info:?}");
    }

    #[test]
    fn unparsable_capture_time_and_orientation_are_problems() {
        let exif = FixtureExif {
            orientation: Some(9),
            ..FixtureExif::default()
        };
        let info = read_fixture(&exif);
        assert_eq!(info.orientation, None);
        assert!(info.problems.iter().any(|p| p.contains("Orientation 9")));
    }

    #[test]
    fn thousands_of_broken_entries_make_a_bounded_list_of_problems() {
        let bytes = fixtures::exif_flood_jpeg(4);
        assert!(bytes.len() > 65_000);
        let unbounded = read_unbounded(&bytes);
        assert!(
            unbounded.problems.len() > 1000,
            "{}",
            unbounded.problems.len()
        );
        let info = read_exif(&bytes);
        assert!(info.present);
        assert_eq!(info.problems.len(), MAX_PROBLEMS);
        assert!(info
            .problems
            .iter()
            .all(|p| p.chars().count() <= MAX_TEXT_CHARS));
        let more = unbounded.problems.len() - (MAX_PROBLEMS - 1);
        assert_eq!(
            info.problems.last().unwrap(),
            &format!("{more} more problems")
        );
        assert!(serde_json::to_string(&info).unwrap().len() < 2_000);
    }

    #[test]
    fn long_texts_are_shortened_on_a_character_boundary() {
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("abcd", 3), "ab…");
        assert_eq!(shorten("验收验收", 3), "验收…");
        let exif = FixtureExif {
            software: Some("编辑".repeat(500)),
            ..FixtureExif::default()
        };
        let info = read_fixture(&exif);
        assert_eq!(info.software.unwrap().chars().count(), MAX_TEXT_CHARS);
    }
}
