//! Integrity flags: the never-blocking warnings a reviewer sees on an inspection and its photos
//! (position, photo metadata, duplicates, timing), computed purely from facts the server gathered.

use std::cmp::Reverse;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// The flag codes of the wire format.
pub mod codes {
    pub const LOCATION_MISSING: &str = "location.missing";
    pub const LOCATION_OUTSIDE_GEOFENCE: &str = "location.outside_geofence";
    pub const LOCATION_LOW_ACCURACY: &str = "location.low_accuracy";
    pub const LOCATION_MOCK_SUSPECTED: &str = "location.mock_suspected";
    pub const PHOTO_NO_EXIF: &str = "photo.no_exif";
    pub const PHOTO_GPS_FAR: &str = "photo.gps_far";
    pub const PHOTO_TIME_OUTSIDE_VISIT: &str = "photo.time_outside_visit";
    pub const PHOTO_DUPLICATE: &str = "photo.duplicate";
    pub const PHOTO_NEAR_DUPLICATE: &str = "photo.near_duplicate";
    pub const PHOTO_EDITED: &str = "photo.edited";
    pub const TIMING_CLOCK_SKEW: &str = "timing.clock_skew";
    pub const TIMING_TOO_FAST: &str = "timing.too_fast";
}

/// Beyond this a phone fix cannot tell whether the inspector stood in the village or next door.
pub const LOW_ACCURACY_M: f64 = 100.0;
/// A photo this close to the device position is consistent with it whatever the GPS noise.
pub const PHOTO_DEVICE_MIN_M: f64 = 500.0;
/// Two fixes of a given accuracy can honestly disagree by about twice that accuracy.
pub const PHOTO_DEVICE_ACCURACY_FACTOR: f64 = 2.0;
/// Inspectors often photograph on the way in, before opening the form.
pub const PHOTO_EARLY_MINUTES: i64 = 30;
/// A photo taken after submitting can only be a late addition, short of a sync delay.
pub const PHOTO_LATE_MINUTES: i64 = 10;
/// Phone clocks drift and networks lag a little; more than this and the phone clock is wrong.
pub const CLOCK_SKEW_MINUTES: i64 = 5;
/// No one walks a village's boards and ledgers in less time than this.
pub const MIN_VISIT_SECONDS: i64 = 120;
/// Each checklist item needs at least a look and a tap.
pub const SECONDS_PER_ITEM: i64 = 10;
/// A photo this far from the village or the phone was not taken on this visit: an alert.
pub const PHOTO_FAR_ALERT_M: f64 = 5_000.0;
/// A photo taken this long before or after the visit is an old (or later) photo: an alert.
pub const PHOTO_TIME_ALERT: TimeDelta = TimeDelta::days(1);
/// The mean Earth radius (IUGG), good to 0.5 % for haversine distances.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// How bad a flag is; `Alert` sorts greatest.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Alert,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flag {
    pub code: String,
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_id: Option<String>,
    /// For the reviewer, in English, with the numbers behind the flag.
    pub detail: String,
}

/// A flag's detail is at most this many characters, whatever produced it (the EXIF problems
/// of a hostile file included); a longer one is cut and ends with `…`.
pub const MAX_DETAIL_CHARS: usize = 1_000;

/// `detail` within [`MAX_DETAIL_CHARS`].
pub fn bounded_detail(detail: &str) -> String {
    crate::photo::exif::shorten(detail, MAX_DETAIL_CHARS)
}

/// What lists and the queue show of an inspection's flags: one entry per code, with its worst
/// severity and how many times it was raised. The details are on the inspection's own page,
/// so a list entry is bounded by the number of codes, however many photos were flagged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagCount {
    pub code: String,
    pub severity: Severity,
    pub count: usize,
}

/// One [`FlagCount`] per code, worst first, then by code.
pub fn count_by_code<'a>(flags: impl IntoIterator<Item = &'a Flag>) -> Vec<FlagCount> {
    let mut counts: Vec<FlagCount> = Vec::new();
    for f in flags {
        match counts.iter_mut().find(|c| c.code == f.code) {
            Some(c) => {
                c.count += 1;
                c.severity = c.severity.max(f.severity);
            }
            None => counts.push(FlagCount {
                code: f.code.clone(),
                severity: f.severity,
                count: 1,
            }),
        }
    }
    counts.sort_by(|a, b| (Reverse(a.severity), &a.code).cmp(&(Reverse(b.severity), &b.code)));
    counts
}

impl Flag {
    fn new(code: &str, severity: Severity, detail: String) -> Flag {
        Flag {
            code: code.to_owned(),
            severity,
            item: None,
            photo_id: None,
            detail: bounded_detail(&detail),
        }
    }

    /// The flag with its detail within [`MAX_DETAIL_CHARS`] (flags stored before the bound).
    pub fn bounded(mut self) -> Flag {
        if self.detail.len() > MAX_DETAIL_CHARS {
            self.detail = bounded_detail(&self.detail);
        }
        self
    }

    fn on_photo(mut self, photo: &PhotoFacts) -> Flag {
        self.item = Some(photo.item.to_owned());
        self.photo_id = Some(photo.photo_id.to_owned());
        self
    }
}

/// Worst first; then by code and photo so that the order is stable.
pub fn sort_worst_first(flags: &mut [Flag]) {
    flags.sort_by(|a, b| {
        (Reverse(a.severity), &a.code, &a.photo_id).cmp(&(
            Reverse(b.severity),
            &b.code,
            &b.photo_id,
        ))
    });
}

/// The village centre and its geofence.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Village {
    pub lat: f64,
    pub lon: f64,
    pub radius_m: f64,
}

/// The phone's position as sent with the inspection.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct DeviceLocation {
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
    pub captured_at: Option<DateTime<Utc>>,
    pub mock: bool,
}

/// The inspection's times: the first two from the phone's clock, `received_at` from the server's.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Visit {
    pub started_at: DateTime<Utc>,
    pub submitted_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub utc_offset_minutes: Option<i32>,
    pub item_count: usize,
}

/// Flags on the inspection as a whole: its position and its timing. Sorted worst first.
pub fn inspection_flags(
    village: &Village,
    location: Option<&DeviceLocation>,
    visit: &Visit,
) -> Vec<Flag> {
    let mut flags = Vec::new();
    match location {
        None => flags.push(Flag::new(
            codes::LOCATION_MISSING,
            Severity::Warning,
            "the phone sent no position with this inspection".to_owned(),
        )),
        Some(location) => location_flags(village, location, &mut flags),
    }
    flags.extend(clock_skew(location, visit));
    flags.extend(too_fast(visit));
    sort_worst_first(&mut flags);
    flags
}

fn location_flags(village: &Village, location: &DeviceLocation, flags: &mut Vec<Flag>) {
    let from_village = haversine_m(village.lat, village.lon, location.lat, location.lon);
    if from_village > village.radius_m {
        flags.push(Flag::new(
            codes::LOCATION_OUTSIDE_GEOFENCE,
            Severity::Alert,
            format!(
                "the device was {} from the village centre, outside its {} geofence \
                 (reported accuracy {})",
                distance_beyond(from_village),
                distance(village.radius_m),
                distance(location.accuracy_m)
            ),
        ));
    }
    // A real receiver always reports some uncertainty; exactly 0 m is what location spoofers send.
    if location.mock || location.accuracy_m <= 0.0 {
        let why = if location.mock {
            "the phone reported the position as coming from a mock location provider"
        } else {
            "the position claims an accuracy of 0 m, which no real receiver reports"
        };
        flags.push(Flag::new(
            codes::LOCATION_MOCK_SUSPECTED,
            Severity::Alert,
            why.to_owned(),
        ));
    }
    if location.accuracy_m > LOW_ACCURACY_M {
        flags.push(Flag::new(
            codes::LOCATION_LOW_ACCURACY,
            Severity::Warning,
            format!(
                "the position is only accurate to {} (flagged above {})",
                distance_beyond(location.accuracy_m),
                distance(LOW_ACCURACY_M)
            ),
        ));
    }
}

fn clock_skew(location: Option<&DeviceLocation>, visit: &Visit) -> Option<Flag> {
    let tolerance = TimeDelta::minutes(CLOCK_SKEW_MINUTES);
    let mut reasons = Vec::new();
    let ahead = visit.submitted_at - visit.received_at;
    if ahead > tolerance {
        reasons.push(format!(
            "the phone's submission time is {} ahead of the server clock",
            duration(ahead)
        ));
    }
    if visit.started_at > visit.submitted_at {
        reasons.push(format!(
            "the inspection was started {} after it was submitted",
            duration(visit.started_at - visit.submitted_at)
        ));
    }
    if let Some(captured_at) = location.and_then(|location| location.captured_at) {
        let ahead = captured_at - visit.received_at;
        if ahead > tolerance {
            reasons.push(format!(
                "the position was captured {} after the server received the inspection",
                duration(ahead)
            ));
        }
    }
    (!reasons.is_empty()).then(|| {
        Flag::new(
            codes::TIMING_CLOCK_SKEW,
            Severity::Warning,
            format!(
                "{} (tolerance {CLOCK_SKEW_MINUTES} minutes)",
                reasons.join("; ")
            ),
        )
    })
}

/// An inspection that ends before it starts is a clock problem, not a fast inspector.
fn too_fast(visit: &Visit) -> Option<Flag> {
    if visit.started_at > visit.submitted_at {
        return None;
    }
    let taken = (visit.submitted_at - visit.started_at).num_seconds();
    let items = i64::try_from(visit.item_count).unwrap_or(i64::MAX);
    let needed = MIN_VISIT_SECONDS.max(items.saturating_mul(SECONDS_PER_ITEM));
    (taken < needed).then(|| {
        Flag::new(
            codes::TIMING_TOO_FAST,
            Severity::Warning,
            format!(
                "the checklist was completed in {taken} seconds; {} items need at least \
                 {needed} seconds",
                visit.item_count
            ),
        )
    })
}

/// Facts the photo pipeline read from one photo.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct PhotoFacts<'a> {
    pub photo_id: &'a str,
    pub item: &'a str,
    pub exif_present: bool,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// EXIF DateTimeOriginal: wall-clock time without a zone.
    pub taken_at_local: Option<NaiveDateTime>,
    /// EXIF OffsetTimeOriginal, when the camera wrote it.
    pub exif_offset_minutes: Option<i32>,
    pub software: Option<&'a str>,
    /// What of a present EXIF block could not be read (never fails the upload).
    pub exif_problems: &'a [String],
}

/// A stored photo of another inspection that this one matches.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Match<'a> {
    pub inspection_id: &'a str,
    pub photo_id: &'a str,
    /// Hamming distance of the 64-bit perceptual hashes (0 for exact duplicates).
    pub distance: u32,
}

/// Flags on one photo. Sorted worst first.
pub fn photo_flags(
    village: &Village,
    location: Option<&DeviceLocation>,
    visit: &Visit,
    photo: &PhotoFacts,
    exact_duplicate_of: Option<Match>,
    near_duplicate_of: Option<Match>,
) -> Vec<Flag> {
    let mut flags = Vec::new();
    if !photo.exif_present {
        flags.push(Flag::new(
            codes::PHOTO_NO_EXIF,
            Severity::Info,
            "the photo carries no EXIF metadata: no capture time, position or camera".to_owned(),
        ));
    } else if !photo.exif_problems.is_empty() {
        // EXIF that is there but cannot be read in full: the reviewer sees what could not.
        flags.push(Flag::new(
            codes::PHOTO_NO_EXIF,
            Severity::Info,
            format!(
                "the photo's EXIF could not be read in full: {}",
                photo.exif_problems.join("; ")
            ),
        ));
    }
    flags.extend(gps_far(village, location, photo));
    flags.extend(time_outside_visit(visit, photo));
    if let Some(other) = exact_duplicate_of {
        flags.push(Flag::new(
            codes::PHOTO_DUPLICATE,
            Severity::Alert,
            format!(
                "identical to photo {} of inspection {}",
                other.photo_id, other.inspection_id
            ),
        ));
    }
    if let Some(other) = near_duplicate_of.filter(|near| {
        exact_duplicate_of.is_none_or(|exact| {
            (exact.inspection_id, exact.photo_id) != (near.inspection_id, near.photo_id)
        })
    }) {
        flags.push(Flag::new(
            codes::PHOTO_NEAR_DUPLICATE,
            Severity::Warning,
            format!(
                "nearly identical to photo {} of inspection {} (perceptual hash distance {} of 64)",
                other.photo_id, other.inspection_id, other.distance
            ),
        ));
    }
    if let Some((software, editor)) = photo
        .software
        .and_then(|software| Some((software, known_editor(software)?)))
    {
        flags.push(Flag::new(
            codes::PHOTO_EDITED,
            Severity::Warning,
            format!(
                "the photo was saved by {editor} (EXIF software \"{}\")",
                shortened(software)
            ),
        ));
    }
    let mut flags: Vec<Flag> = flags.into_iter().map(|flag| flag.on_photo(photo)).collect();
    sort_worst_first(&mut flags);
    flags
}

fn gps_far(
    village: &Village,
    location: Option<&DeviceLocation>,
    photo: &PhotoFacts,
) -> Option<Flag> {
    let (lat, lon) = photo.lat.zip(photo.lon)?;
    // Cameras without a fix write 0/0, which is in the Gulf of Guinea, not a village.
    if lat == 0.0 && lon == 0.0 {
        return None;
    }
    let mut reasons = Vec::new();
    let mut farthest: f64 = 0.0;
    let from_village = haversine_m(village.lat, village.lon, lat, lon);
    if from_village > village.radius_m {
        farthest = farthest.max(from_village);
        reasons.push(format!(
            "{} from the village centre (geofence {})",
            distance_beyond(from_village),
            distance(village.radius_m)
        ));
    }
    if let Some(location) = location {
        let from_device = haversine_m(location.lat, location.lon, lat, lon);
        let tolerance = PHOTO_DEVICE_MIN_M.max(PHOTO_DEVICE_ACCURACY_FACTOR * location.accuracy_m);
        if from_device > tolerance {
            farthest = farthest.max(from_device);
            reasons.push(format!(
                "{} from the device position (tolerance {})",
                distance_beyond(from_device),
                distance(tolerance)
            ));
        }
    }
    (!reasons.is_empty()).then(|| {
        // Judged on whole metres, as the detail shows them.
        let severity = if farthest.round() > PHOTO_FAR_ALERT_M {
            Severity::Alert
        } else {
            Severity::Warning
        };
        Flag::new(
            codes::PHOTO_GPS_FAR,
            severity,
            format!("the photo's GPS position is {}", reasons.join(" and ")),
        )
    })
}

/// When a photo was taken. EXIF capture time is wall-clock time without a zone: it is read with
/// the camera's offset, else the phone's, else (when `county` is given) the county's time zone.
/// The visit flag passes no county: a time known only in the county's zone is not judged.
pub fn capture_time(
    local: NaiveDateTime,
    exif_offset_minutes: Option<i32>,
    phone_offset_minutes: Option<i32>,
    county: Option<chrono_tz::Tz>,
) -> Option<DateTime<Utc>> {
    let minutes = match exif_offset_minutes.or(phone_offset_minutes) {
        Some(m) => m,
        None => {
            use chrono::{Offset, TimeZone};
            county?
                .offset_from_local_datetime(&local)
                .earliest()
                .map_or(0, |o| o.fix().local_minus_utc() / 60)
        }
    };
    Some(
        local
            .checked_sub_signed(TimeDelta::minutes(i64::from(minutes)))?
            .and_utc(),
    )
}

fn time_outside_visit(visit: &Visit, photo: &PhotoFacts) -> Option<Flag> {
    let taken = capture_time(
        photo.taken_at_local?,
        photo.exif_offset_minutes,
        visit.utc_offset_minutes,
        None,
    )?;
    let earliest = visit.started_at - TimeDelta::minutes(PHOTO_EARLY_MINUTES);
    let latest = visit.submitted_at + TimeDelta::minutes(PHOTO_LATE_MINUTES);
    let (gap, detail) = if taken < earliest {
        let gap = visit.started_at - taken;
        (
            gap,
            format!(
                "the photo was taken {} before the inspection started (up to \
                 {PHOTO_EARLY_MINUTES} minutes allowed)",
                duration(gap)
            ),
        )
    } else if taken > latest {
        let gap = taken - visit.submitted_at;
        (
            gap,
            format!(
                "the photo was taken {} after the inspection was submitted (up to \
                 {PHOTO_LATE_MINUTES} minutes allowed)",
                duration(gap)
            ),
        )
    } else {
        return None;
    };
    // Judged on whole seconds, as the detail shows them.
    let severity = if gap.num_seconds() > PHOTO_TIME_ALERT.num_seconds() {
        Severity::Alert
    } else {
        Severity::Warning
    };
    Some(Flag::new(codes::PHOTO_TIME_OUTSIDE_VISIT, severity, detail))
}

/// Great-circle distance in metres between two WGS84 positions given in degrees.
pub fn haversine_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let d_phi = (lat2 - lat1).to_radians();
    let d_lambda = (lon2 - lon1).to_radians();
    let a = (d_phi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (d_lambda / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
}

/// Needles (lower case) in EXIF `Software` tags that name photo editors, with the editor's
/// name. Camera firmware (`Ver.1.00`, `HDR+ 1.0…`, `G998BXXU…`, `17.1`) names none of them.
/// Lightroom comes before Photoshop because Lightroom tags read "Adobe Photoshop Lightroom".
const EDITORS: &[(&str, &str)] = &[
    ("lightroom", "Adobe Lightroom"),
    ("photoshop", "Adobe Photoshop"),
    ("gimp", "GIMP"),
    ("snapseed", "Snapseed"),
    ("picsart", "PicsArt"),
    ("vsco", "VSCO"),
    ("美图秀秀", "Meitu (美图秀秀)"),
    ("meitu", "Meitu (美图秀秀)"),
    ("美图", "Meitu (美图秀秀)"),
    ("醒图", "Xingtu (醒图)"),
    ("xingtu", "Xingtu (醒图)"),
    ("美颜相机", "BeautyCam (美颜相机)"),
    ("beautycam", "BeautyCam (美颜相机)"),
    ("beautyplus", "BeautyPlus"),
    ("轻颜", "Ulike (轻颜)"),
    ("黄油相机", "Huangyou (黄油相机)"),
    ("affinity", "Affinity Photo"),
    ("pixelmator", "Pixelmator"),
    ("facetune", "Facetune"),
    ("faceapp", "FaceApp"),
    ("airbrush", "AirBrush"),
    ("canva", "Canva"),
    ("polarr", "Polarr"),
    ("fotor", "Fotor"),
    ("pixlr", "Pixlr"),
    ("photopea", "Photopea"),
    ("photodirector", "PhotoDirector"),
    ("paint.net", "Paint.NET"),
    ("paintshop", "PaintShop Pro"),
    ("luminar", "Luminar"),
    ("capture one", "Capture One"),
    ("darktable", "darktable"),
    ("rawtherapee", "RawTherapee"),
    ("acdsee", "ACDSee"),
    ("picasa", "Picasa"),
    ("remini", "Remini"),
    ("photoroom", "PhotoRoom"),
];

/// The photo editor an EXIF `Software` tag names, if any (case-insensitive substring match).
pub fn known_editor(software: &str) -> Option<&'static str> {
    let software = software.to_lowercase();
    EDITORS
        .iter()
        .find(|(needle, _)| software.contains(needle))
        .map(|(_, editor)| *editor)
}

/// A distance for reading: whole metres below 1 km (`850 m`), kilometres with one decimal from
/// 1 km (`12.3 km`), to the nearest unit shown. For limits and tolerances.
fn distance(metres: f64) -> String {
    distance_rounded(metres, f64::round)
}

/// A measured distance that broke a limit: rounded up at the precision shown, so that a breach
/// never reads as the limit itself (1501 m beyond a 1.5 km geofence reads `1.6 km`).
fn distance_beyond(metres: f64) -> String {
    distance_rounded(metres, f64::ceil)
}

fn distance_rounded(metres: f64, round: fn(f64) -> f64) -> String {
    // Whole metres first: haversine noise (1501.0000001 m) must not round up a tenth of a km.
    let whole = metres.max(0.0).round();
    if whole < 1000.0 {
        format!("{whole:.0} m")
    } else {
        format!("{:.1} km", round(whole / 100.0) / 10.0)
    }
}

/// A duration for reading, rounded up at the precision shown so that a breach never reads as
/// the tolerance itself: whole minutes below an hour (`45 minutes`), hours below a day
/// (`5 hours`, `1.5 hours`), days from a day on (`3 days`, `6613.1 days`); one decimal, dropped
/// when it is 0.
fn duration(delta: TimeDelta) -> String {
    let seconds = delta.num_seconds().max(0);
    let minutes = ceil_div(seconds, 60);
    if minutes < 60 {
        return counted(minutes as f64, "minute");
    }
    let tenths_of_hours = ceil_div(seconds, 360);
    if tenths_of_hours < 240 {
        return counted(tenths_of_hours as f64 / 10.0, "hour");
    }
    counted(ceil_div(seconds, 8640) as f64 / 10.0, "day")
}

fn ceil_div(n: i64, d: i64) -> i64 {
    n / d + i64::from(n % d != 0)
}

/// `1 hour`, `5 hours`, `1.5 hours`.
fn counted(value: f64, unit: &str) -> String {
    let number = if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    };
    if value == 1.0 {
        format!("1 {unit}")
    } else {
        format!("{number} {unit}s")
    }
}

/// EXIF strings are untrusted and unbounded; reviewers need only the start.
fn shortened(text: &str) -> String {
    const MAX_CHARS: usize = 64;
    let mut short: String = text
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_CHARS)
        .collect();
    if text.chars().count() > MAX_CHARS {
        short.push('…');
    }
    short
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    const VILLAGE: Village = Village {
        lat: 36.37,
        lon: 114.38,
        radius_m: 1500.0,
    };

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("test instant")
            .with_timezone(&Utc)
    }

    fn local(hour: u32, minute: u32, second: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 20)
            .and_then(|day| day.and_hms_opt(hour, minute, second))
            .expect("test time")
    }

    /// The position `metres` due north of (lat, lon).
    fn north(lat: f64, lon: f64, metres: f64) -> (f64, f64) {
        (lat + (metres / EARTH_RADIUS_M).to_degrees(), lon)
    }

    fn location() -> DeviceLocation {
        DeviceLocation {
            lat: VILLAGE.lat,
            lon: VILLAGE.lon,
            accuracy_m: 12.5,
            captured_at: Some(at("2026-11-20T03:04:40Z")),
            mock: false,
        }
    }

    fn visit() -> Visit {
        Visit {
            started_at: at("2026-11-20T02:10:00Z"),
            submitted_at: at("2026-11-20T03:05:00Z"),
            received_at: at("2026-11-20T03:06:00Z"),
            utc_offset_minutes: Some(480),
            item_count: 10,
        }
    }

    fn photo() -> PhotoFacts<'static> {
        PhotoFacts {
            photo_id: "p1",
            item: "board_posted",
            exif_present: true,
            lat: Some(VILLAGE.lat),
            lon: Some(VILLAGE.lon),
            taken_at_local: Some(local(10, 30, 0)),
            exif_offset_minutes: None,
            software: Some("Ver.1.00"),
            exif_problems: &[],
        }
    }

    fn codes_of(flags: &[Flag]) -> Vec<&str> {
        flags.iter().map(|flag| flag.code.as_str()).collect()
    }

    fn inspection_codes(location: Option<&DeviceLocation>, visit: &Visit) -> Vec<String> {
        inspection_flags(&VILLAGE, location, visit)
            .into_iter()
            .map(|flag| flag.code)
            .collect()
    }

    fn photo_codes(
        location: Option<&DeviceLocation>,
        visit: &Visit,
        photo: &PhotoFacts,
    ) -> Vec<String> {
        photo_flags(&VILLAGE, location, visit, photo, None, None)
            .into_iter()
            .map(|flag| flag.code)
            .collect()
    }

    fn only<'a>(flags: &'a [Flag], code: &str) -> &'a Flag {
        let matching: Vec<&Flag> = flags.iter().filter(|flag| flag.code == code).collect();
        assert_eq!(matching.len(), 1, "{code} in {flags:?}");
        matching[0]
    }

    #[test]
    fn a_clean_inspection_has_no_flags() {
        assert!(inspection_flags(&VILLAGE, Some(&location()), &visit()).is_empty());
    }

    #[test]
    fn a_clean_photo_has_no_flags() {
        assert!(
            photo_flags(&VILLAGE, Some(&location()), &visit(), &photo(), None, None).is_empty()
        );
    }

    #[test]
    fn a_missing_position_is_a_warning() {
        let flags = inspection_flags(&VILLAGE, None, &visit());
        assert_eq!(codes_of(&flags), vec![codes::LOCATION_MISSING]);
        assert_eq!(flags[0].severity, Severity::Warning);
    }

    #[test]
    fn a_position_outside_the_geofence_is_an_alert() {
        let mut inside = location();
        (inside.lat, inside.lon) = north(VILLAGE.lat, VILLAGE.lon, 1499.0);
        assert!(inspection_codes(Some(&inside), &visit()).is_empty());

        let mut outside = location();
        (outside.lat, outside.lon) = north(VILLAGE.lat, VILLAGE.lon, 1501.0);
        let flags = inspection_flags(&VILLAGE, Some(&outside), &visit());
        let flag = only(&flags, codes::LOCATION_OUTSIDE_GEOFENCE);
        assert_eq!(flag.severity, Severity::Alert);
        assert!(
            flag.detail.contains(
                "the device was 1.6 km from the village centre, outside its 1.5 km geofence \
                 (reported accuracy 13 m)"
            ),
            "{}",
            flag.detail
        );
    }

    #[test]
    fn accuracy_worse_than_one_hundred_metres_is_a_warning() {
        let mut borderline = location();
        borderline.accuracy_m = 100.0;
        assert!(inspection_codes(Some(&borderline), &visit()).is_empty());

        let mut poor = location();
        poor.accuracy_m = 100.5;
        let flags = inspection_flags(&VILLAGE, Some(&poor), &visit());
        let flag = only(&flags, codes::LOCATION_LOW_ACCURACY);
        assert_eq!(flag.severity, Severity::Warning);
        assert!(flag.detail.contains("100 m") && flag.detail.contains("accurate to"));
    }

    #[test]
    fn a_mock_provider_is_an_alert() {
        let mut mocked = location();
        mocked.mock = true;
        let flags = inspection_flags(&VILLAGE, Some(&mocked), &visit());
        let flag = only(&flags, codes::LOCATION_MOCK_SUSPECTED);
        assert_eq!(flag.severity, Severity::Alert);
        assert!(flag.detail.contains("mock"));
    }

    #[test]
    fn a_perfect_zero_metre_accuracy_is_an_alert() {
        let mut perfect = location();
        perfect.accuracy_m = 0.0;
        let flags = inspection_flags(&VILLAGE, Some(&perfect), &visit());
        assert!(only(&flags, codes::LOCATION_MOCK_SUSPECTED)
            .detail
            .contains("0 m"));

        let mut sharp = location();
        sharp.accuracy_m = 0.1;
        assert!(inspection_codes(Some(&sharp), &visit()).is_empty());
    }

    #[test]
    fn a_submission_more_than_five_minutes_ahead_of_the_server_is_clock_skew() {
        let mut visit = visit();
        visit.received_at = at("2026-11-20T03:00:00Z");
        assert!(inspection_codes(Some(&location()), &visit).is_empty());

        visit.received_at = at("2026-11-20T02:59:59Z");
        let mut location = location();
        location.captured_at = None;
        let flags = inspection_flags(&VILLAGE, Some(&location), &visit);
        let flag = only(&flags, codes::TIMING_CLOCK_SKEW);
        assert_eq!(flag.severity, Severity::Warning);
        assert!(
            flag.detail.contains("6 minutes ahead of the server"),
            "{}",
            flag.detail
        );
    }

    #[test]
    fn a_phone_behind_the_server_is_an_offline_sync_not_skew() {
        let mut visit = visit();
        visit.received_at = at("2026-11-22T09:00:00Z");
        assert!(inspection_codes(Some(&location()), &visit).is_empty());
    }

    #[test]
    fn starting_after_submitting_is_clock_skew_not_too_fast() {
        let mut visit = visit();
        visit.started_at = at("2026-11-20T03:05:30Z");
        let flags = inspection_flags(&VILLAGE, Some(&location()), &visit);
        assert_eq!(codes_of(&flags), vec![codes::TIMING_CLOCK_SKEW]);
        assert!(flags[0]
            .detail
            .contains("started 1 minute after it was submitted"));
    }

    #[test]
    fn a_position_captured_after_the_server_received_it_is_clock_skew() {
        let mut location = location();
        location.captured_at = Some(at("2026-11-20T03:11:00Z"));
        assert!(inspection_codes(Some(&location), &visit()).is_empty());

        location.captured_at = Some(at("2026-11-20T03:11:01Z"));
        let flags = inspection_flags(&VILLAGE, Some(&location), &visit());
        assert!(only(&flags, codes::TIMING_CLOCK_SKEW)
            .detail
            .contains("position was captured 6 minutes"));
    }

    #[test]
    fn several_skew_reasons_make_one_flag() {
        let mut visit = visit();
        visit.received_at = at("2026-11-20T02:00:00Z");
        let flags = inspection_flags(&VILLAGE, Some(&location()), &visit);
        let flag = only(&flags, codes::TIMING_CLOCK_SKEW);
        assert!(
            flag.detail.contains("submission time")
                && flag.detail.contains("position was captured")
        );
    }

    #[test]
    fn an_inspection_under_two_minutes_is_too_fast() {
        let mut visit = visit();
        visit.item_count = 5;
        visit.submitted_at = visit.started_at + TimeDelta::seconds(120);
        assert!(inspection_codes(Some(&location()), &visit).is_empty());

        visit.submitted_at = visit.started_at + TimeDelta::seconds(119);
        let flags = inspection_flags(&VILLAGE, Some(&location()), &visit);
        let flag = only(&flags, codes::TIMING_TOO_FAST);
        assert_eq!(flag.severity, Severity::Warning);
        assert!(flag.detail.contains("119 seconds") && flag.detail.contains("120 seconds"));
    }

    #[test]
    fn long_checklists_need_ten_seconds_an_item() {
        let mut visit = visit();
        visit.item_count = 30;
        visit.submitted_at = visit.started_at + TimeDelta::seconds(300);
        assert!(inspection_codes(Some(&location()), &visit).is_empty());

        visit.submitted_at = visit.started_at + TimeDelta::seconds(299);
        let flags = inspection_flags(&VILLAGE, Some(&location()), &visit);
        assert!(only(&flags, codes::TIMING_TOO_FAST)
            .detail
            .contains("30 items need at least 300 seconds"));
    }

    #[test]
    fn an_instant_submission_is_too_fast() {
        let mut visit = visit();
        visit.submitted_at = visit.started_at;
        visit.item_count = 0;
        assert_eq!(
            inspection_codes(Some(&location()), &visit),
            vec![codes::TIMING_TOO_FAST]
        );
    }

    #[test]
    fn a_photo_without_exif_is_info() {
        let bare = PhotoFacts {
            exif_present: false,
            lat: None,
            lon: None,
            taken_at_local: None,
            software: None,
            ..photo()
        };
        let flags = photo_flags(&VILLAGE, Some(&location()), &visit(), &bare, None, None);
        assert_eq!(codes_of(&flags), vec![codes::PHOTO_NO_EXIF]);
        assert_eq!(flags[0].severity, Severity::Info);
        assert_eq!(flags[0].item.as_deref(), Some("board_posted"));
        assert_eq!(flags[0].photo_id.as_deref(), Some("p1"));
    }

    #[test]
    fn a_photo_outside_the_geofence_is_far() {
        let (lat, lon) = north(VILLAGE.lat, VILLAGE.lon, 1499.0);
        let near = PhotoFacts {
            lat: Some(lat),
            lon: Some(lon),
            ..photo()
        };
        assert!(photo_codes(None, &visit(), &near).is_empty());

        let (lat, lon) = north(VILLAGE.lat, VILLAGE.lon, 1501.0);
        let far = PhotoFacts {
            lat: Some(lat),
            lon: Some(lon),
            ..photo()
        };
        let flags = photo_flags(&VILLAGE, None, &visit(), &far, None, None);
        let flag = only(&flags, codes::PHOTO_GPS_FAR);
        assert_eq!(flag.severity, Severity::Warning);
        assert!(
            flag.detail
                .contains("1.6 km from the village centre (geofence 1.5 km)"),
            "{}",
            flag.detail
        );
        assert!(!flag.detail.contains("device"));
    }

    #[test]
    fn a_photo_far_from_the_device_is_far() {
        let (lat, lon) = north(VILLAGE.lat, VILLAGE.lon, 499.0);
        let close = PhotoFacts {
            lat: Some(lat),
            lon: Some(lon),
            ..photo()
        };
        assert!(photo_codes(Some(&location()), &visit(), &close).is_empty());

        let (lat, lon) = north(VILLAGE.lat, VILLAGE.lon, 501.0);
        let away = PhotoFacts {
            lat: Some(lat),
            lon: Some(lon),
            ..photo()
        };
        let flags = photo_flags(&VILLAGE, Some(&location()), &visit(), &away, None, None);
        let flag = only(&flags, codes::PHOTO_GPS_FAR);
        assert!(
            flag.detail
                .contains("501 m from the device position (tolerance 500 m)"),
            "{}",
            flag.detail
        );
        assert!(!flag.detail.contains("village centre"));
    }

    #[test]
    fn a_poor_device_fix_widens_the_device_tolerance_to_twice_its_accuracy() {
        let mut vague = location();
        vague.accuracy_m = 300.0;
        let (lat, lon) = north(VILLAGE.lat, VILLAGE.lon, 599.0);
        let within = PhotoFacts {
            lat: Some(lat),
            lon: Some(lon),
            ..photo()
        };
        let (lat, lon) = north(VILLAGE.lat, VILLAGE.lon, 601.0);
        let beyond = PhotoFacts {
            lat: Some(lat),
            lon: Some(lon),
            ..photo()
        };
        assert!(!photo_codes(Some(&vague), &visit(), &within)
            .contains(&codes::PHOTO_GPS_FAR.to_owned()));
        let flags = photo_flags(&VILLAGE, Some(&vague), &visit(), &beyond, None, None);
        assert!(only(&flags, codes::PHOTO_GPS_FAR)
            .detail
            .contains("tolerance 600 m"));
    }

    #[test]
    fn a_photo_far_from_both_names_both() {
        let (lat, lon) = north(VILLAGE.lat, VILLAGE.lon, 5000.0);
        let elsewhere = PhotoFacts {
            lat: Some(lat),
            lon: Some(lon),
            ..photo()
        };
        let flags = photo_flags(
            &VILLAGE,
            Some(&location()),
            &visit(),
            &elsewhere,
            None,
            None,
        );
        let flag = only(&flags, codes::PHOTO_GPS_FAR);
        assert!(flag.detail.contains("village centre") && flag.detail.contains("device position"));
    }

    #[test]
    fn a_photo_without_a_gps_fix_is_not_far() {
        let null_island = PhotoFacts {
            lat: Some(0.0),
            lon: Some(0.0),
            ..photo()
        };
        assert!(photo_codes(Some(&location()), &visit(), &null_island).is_empty());
        let half = PhotoFacts {
            lat: Some(10.0),
            lon: None,
            ..photo()
        };
        assert!(photo_codes(Some(&location()), &visit(), &half).is_empty());
    }

    #[test]
    fn exif_read_only_in_part_is_info_naming_what_failed() {
        let problems = vec!["DateTimeOriginal: not a date".to_owned()];
        let partial = PhotoFacts {
            exif_problems: &problems,
            ..photo()
        };
        let flags = photo_flags(&VILLAGE, Some(&location()), &visit(), &partial, None, None);
        assert_eq!(codes_of(&flags), vec![codes::PHOTO_NO_EXIF]);
        assert_eq!(flags[0].severity, Severity::Info);
        assert!(
            flags[0].detail.contains("not a date"),
            "{}",
            flags[0].detail
        );
    }

    #[test]
    fn capture_time_takes_the_camera_then_the_phone_then_the_county_offset() {
        let at = local(10, 0, 0);
        let tz: chrono_tz::Tz = "Asia/Shanghai".parse().unwrap();
        let utc = |s: &str| Some(self::at(s));
        assert_eq!(
            capture_time(at, Some(60), Some(480), Some(tz)),
            utc("2026-11-20T09:00:00Z")
        );
        assert_eq!(
            capture_time(at, None, Some(480), Some(tz)),
            utc("2026-11-20T02:00:00Z")
        );
        assert_eq!(
            capture_time(at, None, None, Some(tz)),
            utc("2026-11-20T02:00:00Z")
        );
        assert_eq!(capture_time(at, None, None, None), None);
    }

    fn taken(at: NaiveDateTime, exif_offset_minutes: Option<i32>) -> PhotoFacts<'static> {
        PhotoFacts {
            taken_at_local: Some(at),
            exif_offset_minutes,
            ..photo()
        }
    }

    #[test]
    fn a_photo_taken_more_than_thirty_minutes_before_the_start_is_outside_the_visit() {
        // Started 02:10Z = 10:10 at UTC+8, so 09:40 local is the earliest allowed.
        assert!(photo_codes(None, &visit(), &taken(local(9, 40, 0), None))
            .iter()
            .all(|code| code != codes::PHOTO_TIME_OUTSIDE_VISIT));
        let flags = photo_flags(
            &VILLAGE,
            None,
            &visit(),
            &taken(local(9, 39, 59), None),
            None,
            None,
        );
        let flag = only(&flags, codes::PHOTO_TIME_OUTSIDE_VISIT);
        assert_eq!(flag.severity, Severity::Warning);
        assert!(
            flag.detail
                .contains("31 minutes before the inspection started"),
            "{}",
            flag.detail
        );
    }

    #[test]
    fn a_photo_taken_more_than_ten_minutes_after_submitting_is_outside_the_visit() {
        // Submitted 03:05Z = 11:05 at UTC+8, so 11:15 local is the latest allowed.
        assert!(
            photo_codes(Some(&location()), &visit(), &taken(local(11, 15, 0), None)).is_empty()
        );
        let flags = photo_flags(
            &VILLAGE,
            None,
            &visit(),
            &taken(local(11, 15, 1), None),
            None,
            None,
        );
        assert!(only(&flags, codes::PHOTO_TIME_OUTSIDE_VISIT)
            .detail
            .contains("11 minutes after the inspection was submitted"));
    }

    #[test]
    fn the_exif_offset_wins_over_the_phone_offset() {
        // 02:30 read as UTC is inside the visit; read at UTC+8 it would be 18:30Z the day before.
        assert!(photo_codes(
            Some(&location()),
            &visit(),
            &taken(local(2, 30, 0), Some(0))
        )
        .is_empty());
        assert_eq!(
            photo_codes(Some(&location()), &visit(), &taken(local(2, 30, 0), None)),
            vec![codes::PHOTO_TIME_OUTSIDE_VISIT]
        );
    }

    #[test]
    fn a_capture_time_without_any_offset_is_not_judged() {
        let mut visit = visit();
        visit.utc_offset_minutes = None;
        assert!(photo_codes(Some(&location()), &visit, &taken(local(1, 0, 0), None)).is_empty());
        let no_time = PhotoFacts {
            taken_at_local: None,
            ..photo()
        };
        assert!(photo_codes(Some(&location()), &visit, &no_time).is_empty());
    }

    const OTHER: Match<'static> = Match {
        inspection_id: "0193a1b2-0000-7000-8000-000000000001",
        photo_id: "q9",
        distance: 0,
    };

    #[test]
    fn an_exact_duplicate_is_an_alert_naming_the_other_inspection() {
        let flags = photo_flags(
            &VILLAGE,
            Some(&location()),
            &visit(),
            &photo(),
            Some(OTHER),
            None,
        );
        let flag = only(&flags, codes::PHOTO_DUPLICATE);
        assert_eq!(flag.severity, Severity::Alert);
        assert!(flag.detail.contains(OTHER.inspection_id) && flag.detail.contains("q9"));
    }

    #[test]
    fn a_near_duplicate_is_a_warning_with_its_distance() {
        let near = Match {
            distance: 6,
            ..OTHER
        };
        let flags = photo_flags(
            &VILLAGE,
            Some(&location()),
            &visit(),
            &photo(),
            None,
            Some(near),
        );
        let flag = only(&flags, codes::PHOTO_NEAR_DUPLICATE);
        assert_eq!(flag.severity, Severity::Warning);
        assert!(
            flag.detail.contains("distance 6 of 64") && flag.detail.contains(OTHER.inspection_id)
        );
    }

    #[test]
    fn a_near_match_of_the_exact_duplicate_is_not_repeated() {
        let flags = photo_flags(
            &VILLAGE,
            Some(&location()),
            &visit(),
            &photo(),
            Some(OTHER),
            Some(OTHER),
        );
        assert_eq!(codes_of(&flags), vec![codes::PHOTO_DUPLICATE]);
        let another = Match {
            photo_id: "q10",
            distance: 3,
            ..OTHER
        };
        let flags = photo_flags(
            &VILLAGE,
            Some(&location()),
            &visit(),
            &photo(),
            Some(OTHER),
            Some(another),
        );
        assert_eq!(
            codes_of(&flags),
            vec![codes::PHOTO_DUPLICATE, codes::PHOTO_NEAR_DUPLICATE]
        );
    }

    #[test]
    fn an_editor_software_tag_is_a_warning_naming_it() {
        let edited = PhotoFacts {
            software: Some("Adobe Photoshop 25.0 (Windows)"),
            ..photo()
        };
        let flags = photo_flags(&VILLAGE, Some(&location()), &visit(), &edited, None, None);
        let flag = only(&flags, codes::PHOTO_EDITED);
        assert_eq!(flag.severity, Severity::Warning);
        assert!(
            flag.detail
                .contains("Adobe Photoshop (EXIF software \"Adobe Photoshop 25.0 (Windows)\")"),
            "{}",
            flag.detail
        );
    }

    #[test]
    fn lists_count_flags_by_code_with_the_worst_severity() {
        let flag = |code: &str, severity, photo: &str| Flag {
            photo_id: Some(photo.to_owned()),
            ..Flag::new(code, severity, "x".repeat(5_000))
        };
        assert!(flag("a", Severity::Info, "p").detail.chars().count() <= MAX_DETAIL_CHARS);
        let mut flags: Vec<Flag> = (0..200)
            .map(|i| flag(codes::PHOTO_NO_EXIF, Severity::Info, &format!("p{i}")))
            .collect();
        flags.push(flag(codes::PHOTO_NO_EXIF, Severity::Warning, "q"));
        flags.push(flag(codes::PHOTO_GPS_FAR, Severity::Alert, "q"));
        let counts = count_by_code(&flags);
        assert_eq!(
            counts,
            vec![
                FlagCount {
                    code: codes::PHOTO_GPS_FAR.into(),
                    severity: Severity::Alert,
                    count: 1
                },
                FlagCount {
                    code: codes::PHOTO_NO_EXIF.into(),
                    severity: Severity::Warning,
                    count: 201
                },
            ]
        );
    }

    #[test]
    fn a_long_software_tag_is_shortened_in_the_detail() {
        let long = format!("Snapseed {}", "x".repeat(500));
        let edited = PhotoFacts {
            software: Some(&long),
            ..photo()
        };
        let flags = photo_flags(&VILLAGE, Some(&location()), &visit(), &edited, None, None);
        assert!(only(&flags, codes::PHOTO_EDITED).detail.chars().count() < 150);
    }

    #[test]
    fn known_editors_are_recognised_in_any_case() {
        let expected = [
            (
                "Adobe Photoshop Lightroom Classic 12.0 (Windows)",
                "Adobe Lightroom",
            ),
            ("Adobe Photoshop CC 2019 (Macintosh)", "Adobe Photoshop"),
            ("adobe photoshop express", "Adobe Photoshop"),
            ("GIMP 2.10.34", "GIMP"),
            ("Snapseed 2.0", "Snapseed"),
            ("PicsArt", "PicsArt"),
            ("VSCO", "VSCO"),
            ("美图秀秀", "Meitu (美图秀秀)"),
            ("MeiTu", "Meitu (美图秀秀)"),
            ("醒图", "Xingtu (醒图)"),
            ("Affinity Photo 2.4", "Affinity Photo"),
            ("Pixelmator Pro 3.5", "Pixelmator"),
            ("Facetune2", "Facetune"),
            ("Canva", "Canva"),
            ("Polarr", "Polarr"),
            ("Paint.NET v5.0", "Paint.NET"),
        ];
        for (software, editor) in expected {
            assert_eq!(known_editor(software), Some(editor), "{software}");
        }
    }

    #[test]
    fn camera_firmware_is_not_an_editor() {
        for software in [
            "Ver.1.00",
            "HDR+ 1.0.199571065zd",
            "G998BXXU5CVDD",
            "17.1",
            "MediaTek Camera Application",
            "ILCE-7M3 v3.01",
            "Android",
            "HUAWEI P30 Pro",
            "Xiaomi Camera",
            "Photos 8.0",
            "",
        ] {
            assert_eq!(known_editor(software), None, "{software}");
        }
    }

    #[test]
    fn flags_are_sorted_worst_first() {
        let mut location = location();
        location.accuracy_m = 0.0;
        (location.lat, location.lon) = north(VILLAGE.lat, VILLAGE.lon, 3000.0);
        let mut hurried = visit();
        hurried.submitted_at = hurried.started_at + TimeDelta::seconds(30);
        let flags = inspection_flags(&VILLAGE, Some(&location), &hurried);
        assert_eq!(
            codes_of(&flags),
            vec![
                codes::LOCATION_MOCK_SUSPECTED,
                codes::LOCATION_OUTSIDE_GEOFENCE,
                codes::TIMING_TOO_FAST
            ]
        );

        let bare = PhotoFacts {
            exif_present: false,
            software: Some("GIMP"),
            ..photo()
        };
        let flags = photo_flags(&VILLAGE, None, &visit(), &bare, Some(OTHER), None);
        let severities: Vec<Severity> = flags.iter().map(|flag| flag.severity).collect();
        assert_eq!(
            severities,
            vec![Severity::Alert, Severity::Warning, Severity::Info]
        );
    }

    #[test]
    fn severity_orders_alert_worst() {
        assert!(Severity::Alert > Severity::Warning && Severity::Warning > Severity::Info);
    }

    #[test]
    fn flags_serialize_to_the_wire_shape() {
        let flags = inspection_flags(&VILLAGE, None, &visit());
        let json = serde_json::to_value(&flags[0]).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "code": "location.missing",
                "severity": "warning",
                "detail": "the phone sent no position with this inspection",
            })
        );
        let photo_flag = &photo_flags(&VILLAGE, None, &visit(), &photo(), Some(OTHER), None)[0];
        let json = serde_json::to_value(photo_flag).expect("json");
        assert_eq!(json["severity"], "alert");
        assert_eq!(json["item"], "board_posted");
        assert_eq!(json["photo_id"], "p1");
        let back: Flag = serde_json::from_value(json).expect("flag");
        assert_eq!(&back, photo_flag);
    }

    #[test]
    fn haversine_matches_known_distances() {
        assert_eq!(haversine_m(36.37, 114.38, 36.37, 114.38), 0.0);
        let one_degree = haversine_m(0.0, 0.0, 1.0, 0.0);
        assert!((one_degree - 111_195.0).abs() < 5.0, "{one_degree}");
        let beijing_shanghai = haversine_m(39.9042, 116.4074, 31.2304, 121.4737);
        assert!(
            (beijing_shanghai - 1_067_000.0).abs() < 5_000.0,
            "{beijing_shanghai}"
        );
        let antipodes = haversine_m(0.0, 0.0, 0.0, 180.0);
        assert!((antipodes - std::f64::consts::PI * EARTH_RADIUS_M).abs() < 1.0);
    }

    fn photo_at(metres_north: f64) -> PhotoFacts<'static> {
        let (lat, lon) = north(VILLAGE.lat, VILLAGE.lon, metres_north);
        PhotoFacts {
            lat: Some(lat),
            lon: Some(lon),
            ..photo()
        }
    }

    fn gps_far_flag(location: Option<&DeviceLocation>, photo: &PhotoFacts) -> Flag {
        only(
            &photo_flags(&VILLAGE, location, &visit(), photo, None, None),
            codes::PHOTO_GPS_FAR,
        )
        .clone()
    }

    #[test]
    fn a_photo_up_to_five_km_from_the_village_is_a_warning_beyond_it_an_alert() {
        for (metres, severity, shown) in [
            (1501.0, Severity::Warning, "1.6 km"),
            (4999.0, Severity::Warning, "5.0 km"),
            (5000.0, Severity::Warning, "5.0 km"),
            (5001.0, Severity::Alert, "5.1 km"),
            (12_300.0, Severity::Alert, "12.3 km"),
        ] {
            let flag = gps_far_flag(None, &photo_at(metres));
            assert_eq!(flag.severity, severity, "{metres} m: {}", flag.detail);
            assert_eq!(
                flag.detail,
                format!(
                    "the photo's GPS position is {shown} from the village centre (geofence 1.5 km)"
                ),
                "{metres} m"
            );
        }
    }

    #[test]
    fn a_photo_more_than_five_km_from_the_device_is_an_alert() {
        // The phone stood 4 km south of the centre; the photo is 1 km north of the centre,
        // inside the geofence, but 5 km or just over from the phone.
        let mut south = location();
        (south.lat, south.lon) = north(VILLAGE.lat, VILLAGE.lon, -4000.0);
        let at_limit = gps_far_flag(Some(&south), &photo_at(1000.0));
        assert_eq!(at_limit.severity, Severity::Warning, "{}", at_limit.detail);
        assert_eq!(
            at_limit.detail,
            "the photo's GPS position is 5.0 km from the device position (tolerance 500 m)"
        );
        let beyond = gps_far_flag(Some(&south), &photo_at(1001.0));
        assert_eq!(beyond.severity, Severity::Alert, "{}", beyond.detail);
        assert!(beyond.detail.contains("5.1 km from the device position"));
    }

    #[test]
    fn a_photo_far_from_both_is_judged_by_the_farther() {
        let mut near = location();
        (near.lat, near.lon) = north(VILLAGE.lat, VILLAGE.lon, 2000.0);
        // 6 km from the centre, 4 km from the phone.
        let flag = gps_far_flag(Some(&near), &photo_at(6000.0));
        assert_eq!(flag.severity, Severity::Alert);
        assert_eq!(
            flag.detail,
            "the photo's GPS position is 6.0 km from the village centre (geofence 1.5 km) and \
             4.0 km from the device position (tolerance 500 m)"
        );
    }

    fn time_flag(at: NaiveDateTime) -> Flag {
        only(
            &photo_flags(&VILLAGE, None, &visit(), &taken(at, Some(0)), None, None),
            codes::PHOTO_TIME_OUTSIDE_VISIT,
        )
        .clone()
    }

    /// The visit started 2026-11-20 02:10Z and was submitted 03:05Z; offsets in seconds.
    fn utc(seconds_from_start: i64) -> NaiveDateTime {
        (at("2026-11-20T02:10:00Z") + TimeDelta::seconds(seconds_from_start)).naive_utc()
    }

    #[test]
    fn a_photo_up_to_a_day_before_the_visit_is_a_warning_beyond_it_an_alert() {
        const DAY: i64 = 86_400;
        for (before, severity, shown) in [
            (31 * 60, Severity::Warning, "31 minutes"),
            (DAY - 1, Severity::Warning, "1 day"),
            (DAY, Severity::Warning, "1 day"),
            (DAY + 1, Severity::Alert, "1.1 days"),
            (3 * DAY, Severity::Alert, "3 days"),
        ] {
            let flag = time_flag(utc(-before));
            assert_eq!(flag.severity, severity, "{before} s: {}", flag.detail);
            assert_eq!(
                flag.detail,
                format!(
                    "the photo was taken {shown} before the inspection started (up to 30 \
                     minutes allowed)"
                )
            );
        }
    }

    #[test]
    fn a_photo_up_to_a_day_after_submitting_is_a_warning_beyond_it_an_alert() {
        const DAY: i64 = 86_400;
        let submitted = 55 * 60;
        for (after, severity, shown) in [
            (11 * 60, Severity::Warning, "11 minutes"),
            (5 * 3600, Severity::Warning, "5 hours"),
            (DAY, Severity::Warning, "1 day"),
            (DAY + 1, Severity::Alert, "1.1 days"),
        ] {
            let flag = time_flag(utc(submitted + after));
            assert_eq!(flag.severity, severity, "{after} s: {}", flag.detail);
            assert_eq!(
                flag.detail,
                format!(
                    "the photo was taken {shown} after the inspection was submitted (up to 10 \
                     minutes allowed)"
                )
            );
        }
    }

    #[test]
    fn a_photo_taken_years_before_reads_in_days() {
        let flag = time_flag(utc(-9_522_858 * 60));
        assert_eq!(flag.severity, Severity::Alert);
        assert!(
            flag.detail.contains("taken 6613.1 days before"),
            "{}",
            flag.detail
        );
    }

    #[test]
    fn distances_read_in_metres_below_a_kilometre_and_tenths_of_km_above() {
        let cases = [
            (0.0, "0 m", "0 m"),
            (12.4, "12 m", "12 m"),
            (850.0, "850 m", "850 m"),
            (999.4, "999 m", "999 m"),
            (999.6, "1.0 km", "1.0 km"),
            (1000.0, "1.0 km", "1.0 km"),
            (1040.0, "1.0 km", "1.1 km"),
            (1500.0, "1.5 km", "1.5 km"),
            (1501.0, "1.5 km", "1.6 km"),
            (1500.0000001, "1.5 km", "1.5 km"),
            (12_345.0, "12.3 km", "12.4 km"),
            (1_067_000.0, "1067.0 km", "1067.0 km"),
        ];
        for (metres, nearest, beyond) in cases {
            assert_eq!(distance(metres), nearest, "{metres}");
            assert_eq!(distance_beyond(metres), beyond, "{metres}");
        }
    }

    #[test]
    fn durations_read_in_minutes_hours_or_days_rounded_up() {
        let cases = [
            (0, "0 minutes"),
            (1, "1 minute"),
            (60, "1 minute"),
            (61, "2 minutes"),
            (45 * 60, "45 minutes"),
            (59 * 60, "59 minutes"),
            (59 * 60 + 1, "1 hour"),
            (3600, "1 hour"),
            (3601, "1.1 hours"),
            (90 * 60, "1.5 hours"),
            (5 * 3600, "5 hours"),
            (23 * 3600 + 54 * 60, "23.9 hours"),
            (23 * 3600 + 54 * 60 + 1, "1 day"),
            (86_400, "1 day"),
            (86_401, "1.1 days"),
            (3 * 86_400, "3 days"),
            (9_522_858 * 60, "6613.1 days"),
            (-5, "0 minutes"),
        ];
        for (seconds, shown) in cases {
            assert_eq!(duration(TimeDelta::seconds(seconds)), shown, "{seconds} s");
        }
    }
}
