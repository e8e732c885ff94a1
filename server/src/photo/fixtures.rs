//! Generates test photos in memory (no files): JPEGs with chosen EXIF, PNGs, and hostile files
//! such as pixel floods and JPEGs whose header lies about their size. Used by unit and integration tests.

use std::io::Cursor;

use chrono::NaiveDateTime;
use exif::experimental::Writer;
use exif::{Field, In, Rational, SRational, Tag, Value};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{ImageEncoder, Rgb, RgbImage};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct FixtureExif {
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub taken_at_local: Option<NaiveDateTime>,
    /// `OffsetTimeOriginal`, e.g. "+08:00".
    pub offset: Option<String>,
    pub orientation: Option<u16>,
    pub software: Option<String>,
    pub make: Option<String>,
    pub model: Option<String>,
    /// Write GPS as SRATIONAL with the sign in the degrees as well as in the reference letter.
    pub signed_rational_gps: bool,
}

/// The marker colour: the pattern never uses saturated red, so a test can find the marker.
pub const MARKER: [u8; 3] = [255, 0, 0];

/// True for pixels that look like the marker after JPEG compression and resampling.
pub fn is_marker(pixel: [u8; 3]) -> bool {
    pixel[0] > 180 && pixel[1] < 90 && pixel[2] < 90
}

/// Where the marker sits in the stored pixels: a square in the top-left quadrant.
pub fn marker_rect(width: u32, height: u32) -> (u32, u32, u32, u32) {
    let side = (width.min(height) / 5).max(1);
    (width / 12, height / 12, side, side)
}

/// A smooth grid of seed-chosen tones (so different seeds have distant perceptual hashes), light
/// noise (so it compresses like a photo), and the red marker in the top-left quadrant.
pub fn pattern(width: u32, height: u32, seed: u64) -> RgbImage {
    const GRID: usize = 6;
    let mut rng = SplitMix(seed ^ 0x5EED_F1E1_D57A_0000);
    let cells: Vec<[f32; 3]> = (0..GRID * GRID)
        .map(|_| {
            let l = 30.0 + (rng.next() % 190) as f32;
            let tint = (rng.next() % 40) as f32;
            [l * 0.55, l, (l + tint).min(255.0)]
        })
        .collect();
    let (mx, my, ms, _) = marker_rect(width, height);
    let mut noise = SplitMix(seed);
    RgbImage::from_fn(width, height, |x, y| {
        if x >= mx && x < mx + ms && y >= my && y < my + ms {
            return Rgb(MARKER);
        }
        // Bilinear blend of the four surrounding cells keeps the picture smooth like a scene.
        let fx = (x as f32 + 0.5) / width as f32 * GRID as f32 - 0.5;
        let fy = (y as f32 + 0.5) / height as f32 * GRID as f32 - 0.5;
        let (x0, y0) = (fx.floor().max(0.0) as usize, fy.floor().max(0.0) as usize);
        let (x1, y1) = ((x0 + 1).min(GRID - 1), (y0 + 1).min(GRID - 1));
        let (tx, ty) = (
            (fx - x0 as f32).clamp(0.0, 1.0),
            (fy - y0 as f32).clamp(0.0, 1.0),
        );
        let jitter = (noise.next() % 17) as f32 - 8.0;
        let mut out = [0u8; 3];
        for (c, o) in out.iter_mut().enumerate() {
            let top = cells[y0 * GRID + x0][c] * (1.0 - tx) + cells[y0 * GRID + x1][c] * tx;
            let bottom = cells[y1 * GRID + x0][c] * (1.0 - tx) + cells[y1 * GRID + x1][c] * tx;
            *o = (top * (1.0 - ty) + bottom * ty + jitter).clamp(0.0, 255.0) as u8;
        }
        Rgb(out)
    })
}

/// A real baseline JPEG of the seed's pattern, with an EXIF APP1 right after SOI when asked.
pub fn jpeg(width: u32, height: u32, seed: u64, exif: Option<&FixtureExif>) -> Vec<u8> {
    let plain = encode_jpeg(&pattern(width, height, seed), 90);
    match exif {
        Some(e) => with_app1(&plain, &tiff(e)),
        None => plain,
    }
}

/// What a phone camera writes: the seed's pattern as a baseline JPEG at quality 90 with 4:2:0
/// chroma subsampling (Android and iPhone cameras subsample; `jpeg` keeps full-resolution
/// chroma, which costs a decoder about a third more), with the EXIF block when asked.
pub fn phone_jpeg(width: u16, height: u16, seed: u64, exif: Option<&FixtureExif>) -> Vec<u8> {
    let img = pattern(u32::from(width), u32::from(height), seed);
    let mut plain = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut plain, 90);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
    encoder
        .encode(img.as_raw(), width, height, jpeg_encoder::ColorType::Rgb)
        .expect("fixture JPEG encodes");
    match exif {
        Some(e) => with_app1(&plain, &tiff(e)),
        None => plain,
    }
}

pub fn encode_jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .expect("fixture JPEG encodes");
    out
}

pub fn png(width: u32, height: u32, seed: u64) -> Vec<u8> {
    let img = pattern(width, height, seed);
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(img.as_raw(), width, height, image::ExtendedColorType::Rgb8)
        .expect("fixture PNG encodes");
    out
}

/// Inserts `Exif\0\0` + `tiff` as an APP1 segment right after SOI.
pub fn with_app1(jpeg: &[u8], tiff: &[u8]) -> Vec<u8> {
    let len = u16::try_from(2 + 6 + tiff.len()).expect("EXIF block fits one APP1 segment");
    let mut out = Vec::with_capacity(jpeg.len() + usize::from(len) + 2);
    out.extend_from_slice(&jpeg[..2]);
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(b"Exif\0\0");
    out.extend_from_slice(tiff);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// The little-endian TIFF structure (IFD0, Exif IFD, GPS IFD) for `exif`.
pub fn tiff(exif: &FixtureExif) -> Vec<u8> {
    let ascii = |tag: Tag, s: &str| Field {
        tag,
        ifd_num: In::PRIMARY,
        value: Value::Ascii(vec![s.as_bytes().to_vec()]),
    };
    let mut fields = vec![
        Field {
            tag: Tag::XResolution,
            ifd_num: In::PRIMARY,
            value: Value::Rational(vec![Rational { num: 72, denom: 1 }]),
        },
        Field {
            tag: Tag::ExifVersion,
            ifd_num: In::PRIMARY,
            value: Value::Undefined(b"0232".to_vec(), 0),
        },
    ];
    if let Some(s) = &exif.make {
        fields.push(ascii(Tag::Make, s));
    }
    if let Some(s) = &exif.model {
        fields.push(ascii(Tag::Model, s));
    }
    if let Some(s) = &exif.software {
        fields.push(ascii(Tag::Software, s));
    }
    if let Some(o) = exif.orientation {
        fields.push(Field {
            tag: Tag::Orientation,
            ifd_num: In::PRIMARY,
            value: Value::Short(vec![o]),
        });
    }
    if let Some(t) = exif.taken_at_local {
        let s = t.format("%Y:%m:%d %H:%M:%S").to_string();
        fields.push(ascii(Tag::DateTimeOriginal, &s));
        fields.push(ascii(Tag::DateTime, &s));
    }
    if let Some(s) = &exif.offset {
        fields.push(ascii(Tag::OffsetTimeOriginal, s));
    }
    for (value, tag, ref_tag, refs) in [
        (exif.lat, Tag::GPSLatitude, Tag::GPSLatitudeRef, ["N", "S"]),
        (
            exif.lon,
            Tag::GPSLongitude,
            Tag::GPSLongitudeRef,
            ["E", "W"],
        ),
    ] {
        let Some(v) = value else { continue };
        fields.push(ascii(ref_tag, refs[usize::from(v < 0.0)]));
        fields.push(Field {
            tag,
            ifd_num: In::PRIMARY,
            value: dms(v, exif.signed_rational_gps),
        });
    }
    let mut writer = Writer::new();
    for f in &fields {
        writer.push_field(f);
    }
    let mut out = Cursor::new(Vec::new());
    writer.write(&mut out, true).expect("fixture EXIF encodes");
    out.into_inner()
}

fn dms(v: f64, signed: bool) -> Value {
    let a = v.abs();
    let deg = a.trunc();
    let min = ((a - deg) * 60.0).trunc();
    let sec_e4 = ((a - deg - min / 60.0) * 3600.0 * 10_000.0).round();
    let parts = [(deg, 1.0), (min, 1.0), (sec_e4, 10_000.0)];
    if signed {
        let sign = if v < 0.0 { -1 } else { 1 };
        Value::SRational(
            parts
                .iter()
                .enumerate()
                .map(|(i, (n, d))| SRational {
                    num: if i == 0 {
                        sign * (*n as i32)
                    } else {
                        *n as i32
                    },
                    denom: *d as i32,
                })
                .collect(),
        )
    } else {
        Value::Rational(
            parts
                .iter()
                .map(|(n, d)| Rational {
                    num: *n as u32,
                    denom: *d as u32,
                })
                .collect(),
        )
    }
}

/// A tiny PNG whose IHDR declares `w` x `h` RGB pixels, with valid CRCs and one empty IDAT.
pub fn pixel_flood_png(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    // zlib stream of one empty stored block: the decoder runs out of data immediately.
    chunk(
        &mut out,
        b"IDAT",
        &[
            0x78, 0x01, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01,
        ],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    let len = u32::try_from(data.len()).expect("chunk fits");
    out.extend_from_slice(&len.to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A TIFF block (little-endian) whose one IFD holds `entries` fields, each pointing its value
/// outside the file: an EXIF reader that reports each broken field reports `entries` problems.
/// 5,459 entries fill one APP1 segment.
pub fn exif_flood_tiff(entries: u16) -> Vec<u8> {
    let mut out = b"II*\0\x08\0\0\0".to_vec();
    out.extend_from_slice(&entries.to_le_bytes());
    for i in 0..entries {
        // A private tag per entry, type LONG, 64 values (more than fit inline), far away.
        out.extend_from_slice(&(0xC000u16.wrapping_add(i)).to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&64u32.to_le_bytes());
        out.extend_from_slice(&0x7FFF_FF00u32.wrapping_add(u32::from(i)).to_le_bytes());
    }
    out.extend_from_slice(&0u32.to_le_bytes());
    out
}

/// A small JPEG carrying [`exif_flood_tiff`] with as many entries as one APP1 segment holds.
pub fn exif_flood_jpeg(seed: u64) -> Vec<u8> {
    with_app1(&jpeg(320, 240, seed, None), &exif_flood_tiff(5459))
}

/// A small real JPEG whose SOF header is patched to declare `declared_w` x `declared_h`.
pub fn lying_jpeg(declared_w: u16, declared_h: u16) -> Vec<u8> {
    let mut bytes = jpeg(16, 16, 7, None);
    let sof = bytes
        .windows(2)
        .position(|w| w[0] == 0xFF && (w[1] == 0xC0 || w[1] == 0xC2))
        .expect("fixture JPEG has a SOF");
    bytes[sof + 5..sof + 7].copy_from_slice(&declared_h.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&declared_w.to_be_bytes());
    bytes
}

/// Deterministic generator so fixtures are identical on every run and machine.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_fixture_decodes_to_the_requested_size() {
        let img = image::load_from_memory(&jpeg(120, 80, 1, Some(&FixtureExif::default())))
            .expect("decodes");
        assert_eq!((img.width(), img.height()), (120, 80));
    }

    #[test]
    fn phone_jpeg_is_subsampled_like_a_camera_and_keeps_its_exif() {
        let exif = FixtureExif {
            lat: Some(30.5),
            lon: Some(120.25),
            ..FixtureExif::default()
        };
        let bytes = phone_jpeg(160, 120, 3, Some(&exif));
        let mut d = jpeg_decoder::Decoder::new(&bytes[..]);
        d.read_info().expect("header reads");
        let info = d.info().expect("info");
        assert_eq!((info.width, info.height), (160, 120));
        // The SOF0 segment: luma sampled 2x2, each chroma component 1x1.
        let sof = bytes
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .expect("baseline frame");
        assert_eq!(bytes[sof + 9], 3);
        assert_eq!(
            [bytes[sof + 11], bytes[sof + 14], bytes[sof + 17]],
            [0x22, 0x11, 0x11]
        );
        assert_eq!(crate::photo::exif::read_exif(&bytes).lat, Some(30.5));
    }

    #[test]
    fn pixel_flood_png_declares_the_size_in_a_valid_ihdr() {
        let bytes = pixel_flood_png(60_000, 60_000);
        assert!(bytes.len() < 100);
        assert_eq!(&bytes[16..20], &60_000u32.to_be_bytes());
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    }

    #[test]
    fn lying_jpeg_declares_the_patched_size() {
        let bytes = lying_jpeg(60_000, 50_000);
        let mut d = jpeg_decoder::Decoder::new(&bytes[..]);
        d.read_info().expect("header reads");
        let info = d.info().expect("info");
        assert_eq!((info.width, info.height), (60_000, 50_000));
    }

    #[test]
    fn marker_is_inside_the_top_left_quadrant() {
        let (x, y, s, _) = marker_rect(400, 300);
        assert!(x + s <= 200 && y + s <= 150);
        assert!(is_marker(pattern(400, 300, 9).get_pixel(x + 1, y + 1).0));
    }
}
