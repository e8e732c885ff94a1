//! The evidence-photo pipeline: sniff, refuse floods, decode once under limits, orient, and
//! derive the metadata-free display copy and thumbnail, SHA-256, EXIF facts and perceptual hash.

use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{
    DynamicImage, GenericImageView, GrayImage, ImageBuffer, ImageDecoder, ImageReader, Pixel,
    RgbImage,
};
use serde::{Deserialize, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::photo::exif::{read_exif, ExifInfo};
use crate::photo::phash::phash;

pub const DISPLAY_SIDE: u32 = 1600;
pub const THUMB_SIDE: u32 = 320;
const DISPLAY_QUALITY: u8 = 82;
const THUMB_QUALITY: u8 = 80;
/// Even a flat grey JPEG with optimised Huffman tables needs a byte per ~170 pixels; a header
/// declaring more than this many pixels per byte of file is lying, and decoding it would
/// spend seconds inventing pixels.
const MAX_JPEG_PIXELS_PER_BYTE: u64 = 2048;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_width: u32,
    pub max_height: u32,
    pub max_pixels: u64,
    pub max_alloc: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_width: 20_000,
            max_height: 20_000,
            max_pixels: 100_000_000,
            max_alloc: 512 * 1024 * 1024,
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Jpeg,
    Png,
    WebP,
}

impl Format {
    pub fn mime(&self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::WebP => "image/webp",
        }
    }
}

#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum PhotoError {
    #[error("{}", unsupported_message(*.detected))]
    Unsupported { detected: Option<&'static str> },
    #[error("the photo could not be decoded: {0}")]
    Undecodable(String),
    #[error("the photo declares {width}x{height} pixels, more than the server accepts")]
    TooLarge { width: u32, height: u32 },
}

fn unsupported_message(detected: Option<&'static str>) -> String {
    const ACCEPTED: &str = "accepted formats are JPEG, PNG and WebP";
    match detected {
        Some(name @ ("HEIC" | "HEIF")) => format!(
            "{name} photos are not accepted (on an iPhone choose Settings > Camera > Formats > \
             Most Compatible); {ACCEPTED}"
        ),
        Some(name) => format!("{name} files are not accepted; {ACCEPTED}"),
        None => format!("the file is not a recognised photo; {ACCEPTED}"),
    }
}

/// Milliseconds per step; `sniff` includes reading EXIF, and the thumbnail's resize, encode and
/// hash run beside the display copy's encoding, so the steps can add up to more than `total`.
#[derive(Serialize, Clone, Debug, Default, PartialEq)]
pub struct Timings {
    pub sniff: f64,
    pub decode: f64,
    pub resize: f64,
    pub encode: f64,
    pub hash: f64,
    pub total: f64,
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Processed {
    pub format: Format,
    pub bytes: usize,
    pub sha256: String,
    /// After orientation, as a viewer sees the photo.
    pub width: u32,
    pub height: u32,
    pub orientation: u16,
    pub exif: ExifInfo,
    #[serde(serialize_with = "hex16")]
    pub phash: u64,
    #[serde(skip)]
    pub display_jpeg: Vec<u8>,
    #[serde(skip)]
    pub thumb_jpeg: Vec<u8>,
    pub display: (u32, u32),
    pub thumb: (u32, u32),
    pub timings_ms: Timings,
}

fn hex16<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format!("{value:016x}"))
}

/// Names the format from its magic bytes alone; the file name and declared type are not trusted.
pub fn sniff(bytes: &[u8]) -> Result<Format, PhotoError> {
    let unsupported = |name| {
        Err(PhotoError::Unsupported {
            detected: Some(name),
        })
    };
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(Format::Jpeg);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(Format::Png);
    }
    if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        return Ok(Format::WebP);
    }
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        if let Some(name) = iso_media_kind(bytes) {
            return unsupported(name);
        }
    }
    if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        return unsupported("GIF");
    }
    if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        return unsupported("TIFF");
    }
    if bytes.starts_with(b"BM") && bytes.len() >= 14 {
        return unsupported("BMP");
    }
    if bytes.starts_with(b"%PDF") {
        return unsupported("PDF");
    }
    Err(PhotoError::Unsupported { detected: None })
}

/// HEIC, HEIF or AVIF from the `ftyp` box's major and compatible brands.
fn iso_media_kind(bytes: &[u8]) -> Option<&'static str> {
    let box_len = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    let end = box_len.clamp(12, 64).min(bytes.len());
    let brands: Vec<&[u8]> = std::iter::once(&bytes[8..12])
        .chain(bytes[16.min(end)..end].chunks_exact(4))
        .collect();
    let has = |names: &[&[u8]]| brands.iter().any(|b| names.contains(b));
    if has(&[
        b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs",
    ]) {
        Some("HEIC")
    } else if has(&[b"avif", b"avis"]) {
        Some("AVIF")
    } else if has(&[b"mif1", b"msf1", b"heif"]) {
        Some("HEIF")
    } else {
        None
    }
}

pub fn process(bytes: &[u8], limits: &Limits) -> Result<Processed, PhotoError> {
    process_hashed(bytes, None, limits)
}

/// `process` for bytes whose SHA-256 (lowercase hex) the caller already has, as the upload
/// route does from hashing the body while it arrived.
pub fn process_hashed(
    bytes: &[u8],
    sha256: Option<String>,
    limits: &Limits,
) -> Result<Processed, PhotoError> {
    let start = Instant::now();
    let mut timings = Timings::default();
    let format = sniff(bytes)?;
    let exif = read_exif(bytes);
    let orientation = exif.orientation.unwrap_or(1);
    timings.sniff = ms_since(start);

    let t = Instant::now();
    let (mut img, (width, height)) =
        catch_unwind(AssertUnwindSafe(|| decode(format, bytes, limits))).map_err(|panic| {
            PhotoError::Undecodable(format!("decoder crashed: {}", panic_text(&panic)))
        })??;
    if let Some(o) = Orientation::from_exif(orientation as u8) {
        img.apply_orientation(o);
    }
    timings.decode = ms_since(t);

    let t = Instant::now();
    let display = shrink(&img, DISPLAY_SIDE).unwrap_or(img);
    timings.resize = ms_since(t);

    // The display copy's encoding is the longest step; everything else runs beside it.
    let (display_jpeg, side) = std::thread::scope(|s| {
        let side = s.spawn(|| {
            let t = Instant::now();
            let thumb = shrink(&display, THUMB_SIDE).unwrap_or_else(|| display.clone());
            let resize = ms_since(t);
            let t = Instant::now();
            let thumb_jpeg = encode(&thumb, THUMB_QUALITY);
            let encode = ms_since(t);
            let t = Instant::now();
            let sha256 = sha256.unwrap_or_else(|| hex::encode(Sha256::digest(bytes)));
            let phash = phash(&thumb);
            (
                thumb.dimensions(),
                thumb_jpeg,
                sha256,
                phash,
                [resize, encode, ms_since(t)],
            )
        });
        let t = Instant::now();
        let display_jpeg = encode(&display, DISPLAY_QUALITY);
        timings.encode = ms_since(t);
        (display_jpeg, side.join())
    });
    let (thumb, thumb_jpeg, sha256, phash, [resize, encode, hash]) =
        side.map_err(|_| PhotoError::Undecodable("thumbnail step crashed".to_owned()))?;
    let (display_jpeg, thumb_jpeg) = (display_jpeg?, thumb_jpeg?);
    timings.resize += resize;
    timings.encode = timings.encode.max(encode);
    timings.hash = hash;
    timings.total = ms_since(start);

    Ok(Processed {
        format,
        bytes: bytes.len(),
        sha256,
        width: if orientation >= 5 { height } else { width },
        height: if orientation >= 5 { width } else { height },
        orientation,
        exif,
        phash,
        display: display.dimensions(),
        thumb,
        display_jpeg,
        thumb_jpeg,
        timings_ms: timings,
    })
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

fn check_dimensions(width: u32, height: u32, limits: &Limits) -> Result<(), PhotoError> {
    if width == 0 || height == 0 {
        return Err(PhotoError::Undecodable(format!(
            "the header declares {width}x{height} pixels"
        )));
    }
    if width > limits.max_width
        || height > limits.max_height
        || u64::from(width) * u64::from(height) > limits.max_pixels
    {
        return Err(PhotoError::TooLarge { width, height });
    }
    Ok(())
}

/// The decoded pixels (maybe at a reduced JPEG scale) and the stored full size.
fn decode(
    format: Format,
    bytes: &[u8],
    limits: &Limits,
) -> Result<(DynamicImage, (u32, u32)), PhotoError> {
    match format {
        Format::Jpeg => decode_jpeg(bytes, limits),
        Format::Png => {
            if bytes.len() >= 24 && &bytes[12..16] == b"IHDR" {
                let w = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
                let h = u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
                check_dimensions(w, h, limits)?;
            }
            decode_with_image(bytes, image::ImageFormat::Png, limits)
        }
        Format::WebP => decode_with_image(bytes, image::ImageFormat::WebP, limits),
    }
}

fn undecodable(err: impl std::fmt::Display) -> PhotoError {
    PhotoError::Undecodable(err.to_string())
}

fn decode_jpeg(bytes: &[u8], limits: &Limits) -> Result<(DynamicImage, (u32, u32)), PhotoError> {
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    decoder.read_info().map_err(undecodable)?;
    let info = decoder
        .info()
        .ok_or_else(|| PhotoError::Undecodable("no frame header".to_owned()))?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    check_dimensions(width, height, limits)?;
    let pixels = u64::from(width) * u64::from(height);
    if pixels > bytes.len() as u64 * MAX_JPEG_PIXELS_PER_BYTE {
        return Err(PhotoError::Undecodable(format!(
            "the header declares {width}x{height} pixels but the file holds only {} bytes",
            bytes.len()
        )));
    }
    let channels = info.pixel_format.pixel_bytes() as u64;
    // Progressive JPEGs keep every coefficient (2 bytes per sample) at full size while decoding.
    let coefficients = match info.coding_process {
        jpeg_decoder::CodingProcess::DctProgressive => pixels * channels * 2,
        _ => 0,
    };
    // The smallest DCT scale (1/8, 1/4, 1/2, 1) whose longer side still covers the display size.
    let (w, h) = decoder
        .scale(DISPLAY_SIDE as u16, DISPLAY_SIDE as u16)
        .map_err(undecodable)?;
    let (w, h) = (u32::from(w), u32::from(h));
    let output = u64::from(w) * u64::from(h) * channels;
    if output + coefficients > limits.max_alloc {
        return Err(PhotoError::TooLarge { width, height });
    }
    decoder.set_max_decoding_buffer_size(usize::try_from(limits.max_alloc).unwrap_or(usize::MAX));
    let data = decoder.decode().map_err(undecodable)?;
    let short = || PhotoError::Undecodable("decoder returned too few pixels".to_owned());
    let img = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => {
            DynamicImage::ImageLuma8(GrayImage::from_raw(w, h, data).ok_or_else(short)?)
        }
        jpeg_decoder::PixelFormat::L16 => {
            // Big-endian samples; the high byte is the 8-bit value.
            let high = data.chunks_exact(2).map(|s| s[0]).collect();
            DynamicImage::ImageLuma8(GrayImage::from_raw(w, h, high).ok_or_else(short)?)
        }
        jpeg_decoder::PixelFormat::RGB24 => {
            DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, data).ok_or_else(short)?)
        }
        jpeg_decoder::PixelFormat::CMYK32 => {
            let rgb = data
                .chunks_exact(4)
                .flat_map(|p| {
                    let k = 255 - u32::from(p[3]);
                    [0, 1, 2].map(|i| ((255 - u32::from(p[i])) * k / 255) as u8)
                })
                .collect();
            DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, rgb).ok_or_else(short)?)
        }
    };
    Ok((img, (width, height)))
}

fn decode_with_image(
    bytes: &[u8],
    format: image::ImageFormat,
    limits: &Limits,
) -> Result<(DynamicImage, (u32, u32)), PhotoError> {
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(limits.max_width);
    image_limits.max_image_height = Some(limits.max_height);
    image_limits.max_alloc = Some(limits.max_alloc);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(image_limits);
    let decoder = reader.into_decoder().map_err(|err| match err {
        image::ImageError::Limits(_) => {
            PhotoError::Undecodable(format!("over the decoding limits: {err}"))
        }
        err => undecodable(err),
    })?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, limits)?;
    if decoder.total_bytes() > limits.max_alloc {
        return Err(PhotoError::TooLarge { width, height });
    }
    let img = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    Ok((flatten(img), (width, height)))
}

/// Memory a decode takes besides the decoded pixels: the original bytes are counted apart;
/// this is the display copy, the thumbnail and their JPEG encodings (1600 × 1200 × 3 ≈ 6 MB).
const DERIVATIVES_BYTES: u64 = 16 << 20;

/// The most memory decoding this photo takes, in bytes, from its header (`head`, the file's
/// first bytes) and its length: the decoded pixels (a JPEG at its reduced DCT scale, with a
/// progressive JPEG's coefficients), any conversion copy to 8-bit RGB, the original bytes and
/// the derivatives. `None` when the header does not tell: the caller assumes the worst.
pub fn decode_cost(head: &[u8], file_len: u64) -> Option<u64> {
    let pixels_and_copies = match sniff(head).ok()? {
        Format::Jpeg => {
            let mut decoder = jpeg_decoder::Decoder::new(head);
            decoder.read_info().ok()?;
            let info = decoder.info()?;
            let channels = info.pixel_format.pixel_bytes() as u64;
            let full = u64::from(info.width) * u64::from(info.height);
            let coefficients = match info.coding_process {
                jpeg_decoder::CodingProcess::DctProgressive => full * channels * 2,
                _ => 0,
            };
            let (w, h) = decoder
                .scale(DISPLAY_SIDE as u16, DISPLAY_SIDE as u16)
                .ok()?;
            // CMYK and 16-bit gray are converted to a second buffer.
            let output = u64::from(w) * u64::from(h) * channels;
            coefficients + output * 2
        }
        format @ (Format::Png | Format::WebP) => {
            let format = match format {
                Format::Png => image::ImageFormat::Png,
                _ => image::ImageFormat::WebP,
            };
            let decoder = ImageReader::with_format(Cursor::new(head), format)
                .into_decoder()
                .ok()?;
            let (w, h) = decoder.dimensions();
            let pixels = u64::from(w) * u64::from(h);
            let copies = match decoder.color_type() {
                // Kept as decoded, or flattened in place.
                image::ColorType::Rgb8 | image::ColorType::L8 | image::ColorType::Rgba8 => 0,
                // Converted to 8-bit RGBA, then flattened in place.
                _ => pixels * 4,
            };
            decoder.total_bytes() + copies
        }
    };
    Some(pixels_and_copies + file_len + DERIVATIVES_BYTES)
}

/// 8-bit gray or RGB; transparency is composited over white, as a viewer shows it.
fn flatten(img: DynamicImage) -> DynamicImage {
    let color = img.color();
    match (color.has_alpha(), color.has_color()) {
        (false, false) => DynamicImage::ImageLuma8(img.into_luma8()),
        (false, true) => DynamicImage::ImageRgb8(img.into_rgb8()),
        (true, _) => {
            // In place: a 64 MP RGBA image and an RGB copy of it would hold 448 MB at once.
            let rgba = img.into_rgba8();
            let (width, height) = rgba.dimensions();
            let mut buf = rgba.into_raw();
            let pixels = buf.len() / 4;
            for i in 0..pixels {
                let a = u32::from(buf[i * 4 + 3]);
                for c in 0..3 {
                    let v = u32::from(buf[i * 4 + c]);
                    buf[i * 3 + c] = ((v * a + 255 * (255 - a)) / 255) as u8;
                }
            }
            buf.truncate(pixels * 3);
            buf.shrink_to_fit();
            match RgbImage::from_raw(width, height, buf) {
                Some(rgb) => DynamicImage::ImageRgb8(rgb),
                None => DynamicImage::new_rgb8(width, height),
            }
        }
    }
}

/// The straightforward flatten, which the in-place one must equal.
#[cfg(test)]
fn flatten_by_copy(img: DynamicImage) -> DynamicImage {
    let color = img.color();
    match (color.has_alpha(), color.has_color()) {
        (false, false) => DynamicImage::ImageLuma8(img.into_luma8()),
        (false, true) => DynamicImage::ImageRgb8(img.into_rgb8()),
        (true, _) => {
            let rgba = img.into_rgba8();
            let rgb = RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
                let p = rgba.get_pixel(x, y).0;
                let a = u32::from(p[3]);
                image::Rgb([0, 1, 2].map(|i| ((u32::from(p[i]) * a + 255 * (255 - a)) / 255) as u8))
            });
            DynamicImage::ImageRgb8(rgb)
        }
    }
}

/// Longest side at most `side`, never upscaled.
pub fn fit(width: u32, height: u32, side: u32) -> (u32, u32) {
    let longest = width.max(height);
    if longest <= side {
        return (width, height);
    }
    let scale = |v: u32| {
        ((u64::from(v) * u64::from(side) + u64::from(longest) / 2) / u64::from(longest)).max(1)
            as u32
    };
    (scale(width), scale(height))
}

/// A copy whose longest side is at most `side`, or None when the image already fits.
fn shrink(img: &DynamicImage, side: u32) -> Option<DynamicImage> {
    let (w, h) = fit(img.width(), img.height(), side);
    if (w, h) == (img.width(), img.height()) {
        return None;
    }
    Some(match img {
        DynamicImage::ImageRgb8(rgb) => DynamicImage::ImageRgb8(triangle(rgb, w, h)),
        DynamicImage::ImageLuma8(gray) => DynamicImage::ImageLuma8(triangle(gray, w, h)),
        other => DynamicImage::ImageRgb8(triangle(&other.to_rgb8(), w, h)),
    })
}

/// The triangle (bilinear) filter of `imageops::resize`, from fast_image_resize's SIMD
/// convolution. `imageops::resize` was the slowest step (43 ms of 88 on a 3264x2448 phone
/// photo); a hand-written fixed-point version on two threads still took 30 ms for both copies.
fn triangle<P>(src: &ImageBuffer<P, Vec<u8>>, width: u32, height: u32) -> ImageBuffer<P, Vec<u8>>
where
    P: Pixel<Subpixel = u8> + 'static,
{
    use fast_image_resize as fir;
    let pixel_type = if P::CHANNEL_COUNT == 1 {
        fir::PixelType::U8
    } else {
        fir::PixelType::U8x3
    };
    let resized = fir::images::ImageRef::new(src.width(), src.height(), src.as_raw(), pixel_type)
        .ok()
        .and_then(|source| {
            let mut out = fir::images::Image::new(width, height, pixel_type);
            let bilinear = fir::ResizeAlg::Convolution(fir::FilterType::Bilinear);
            fir::Resizer::new()
                .resize(
                    &source,
                    &mut out,
                    &fir::ResizeOptions::new().resize_alg(bilinear),
                )
                .ok()?;
            ImageBuffer::from_raw(width, height, out.into_vec())
        });
    resized.unwrap_or_else(|| image::imageops::resize(src, width, height, FilterType::Triangle))
}

/// Baseline JPEG with a JFIF header only: no EXIF, XMP or ICC, so no position leaks.
/// jpeg-encoder (AVX2 when the CPU has it) encodes the 1600 px copy in a quarter of the time
/// `image`'s encoder took (about 12 ms against 50).
fn encode(img: &DynamicImage, quality: u8) -> Result<Vec<u8>, PhotoError> {
    use jpeg_encoder::{ColorType, Encoder};
    let failed = |err: &dyn std::fmt::Display| {
        PhotoError::Undecodable(format!("could not encode the derived copy: {err}"))
    };
    let (Ok(width), Ok(height)) = (u16::try_from(img.width()), u16::try_from(img.height())) else {
        return Err(failed(&"a side is longer than 65535 pixels"));
    };
    let mut out = Vec::new();
    let encoder = Encoder::new(&mut out, quality);
    let encoded = match img {
        DynamicImage::ImageRgb8(rgb) => encoder.encode(rgb.as_raw(), width, height, ColorType::Rgb),
        DynamicImage::ImageLuma8(gray) => {
            encoder.encode(gray.as_raw(), width, height, ColorType::Luma)
        }
        other => encoder.encode(other.to_rgb8().as_raw(), width, height, ColorType::Rgb),
    };
    encoded.map_err(|err| failed(&err))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::photo::fixtures::{self, FixtureExif};
    use proptest::prelude::*;
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    fn processed(bytes: &[u8]) -> Processed {
        process(bytes, &Limits::default()).expect("processes")
    }

    fn oriented(orientation: u16) -> FixtureExif {
        FixtureExif {
            orientation: Some(orientation),
            ..FixtureExif::default()
        }
    }

    fn heic_header(brand: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
        let len = 16 + 4 * compatible.len() as u32;
        let mut b = len.to_be_bytes().to_vec();
        b.extend_from_slice(b"ftyp");
        b.extend_from_slice(brand);
        b.extend_from_slice(&0u32.to_be_bytes());
        for c in compatible {
            b.extend_from_slice(*c);
        }
        b.extend_from_slice(&[0; 32]);
        b
    }

    fn webp(width: u32, height: u32, seed: u64) -> Vec<u8> {
        let img = fixtures::pattern(width, height, seed);
        let mut out = Vec::new();
        image::codecs::webp::WebPEncoder::new_lossless(&mut out)
            .encode(img.as_raw(), width, height, image::ExtendedColorType::Rgb8)
            .expect("encodes");
        out
    }

    #[test]
    fn sniff_accepts_jpeg_png_and_webp_by_magic_bytes() {
        assert_eq!(sniff(&fixtures::jpeg(8, 8, 1, None)), Ok(Format::Jpeg));
        assert_eq!(sniff(&fixtures::png(8, 8, 1)), Ok(Format::Png));
        assert_eq!(sniff(&webp(8, 8, 1)), Ok(Format::WebP));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Ok(Format::WebP));
    }

    #[test]
    fn sniff_names_the_formats_it_refuses() {
        let named = |bytes: &[u8]| match sniff(bytes) {
            Err(PhotoError::Unsupported { detected }) => detected,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            named(&heic_header(b"heic", &[b"mif1", b"heic"])),
            Some("HEIC")
        );
        assert_eq!(named(&heic_header(b"mif1", &[b"heic"])), Some("HEIC"));
        assert_eq!(named(&heic_header(b"mif1", &[b"miaf"])), Some("HEIF"));
        assert_eq!(named(&heic_header(b"avif", &[b"mif1"])), Some("AVIF"));
        assert_eq!(named(b"GIF89a\x01\0\x01\0"), Some("GIF"));
        assert_eq!(named(b"II*\0\x08\0\0\0"), Some("TIFF"));
        assert_eq!(named(b"MM\0*\0\0\0\x08"), Some("TIFF"));
        assert_eq!(named(b"BM\x36\0\0\0\0\0\0\0\x36\0\0\0"), Some("BMP"));
        assert_eq!(named(&heic_header(b"isom", &[b"mp41"])), None);
        assert_eq!(named(b"hello, this is not a photo"), None);
        assert_eq!(named(b""), None);
        assert_eq!(named(&[0xFF, 0xD8]), None);
        assert_eq!(named(b"RIFF\0\0\0\0WAVE"), None);
    }

    #[test]
    fn unsupported_message_lists_accepted_formats_and_names_heic() {
        let heic = PhotoError::Unsupported {
            detected: Some("HEIC"),
        }
        .to_string();
        assert!(
            heic.contains("HEIC") && heic.contains("accepted formats are JPEG, PNG and WebP"),
            "{heic}"
        );
        let unknown = PhotoError::Unsupported { detected: None }.to_string();
        assert!(
            unknown.contains("accepted formats are JPEG, PNG and WebP"),
            "{unknown}"
        );
        let gif = process(b"GIF89a\x01\0\x01\0", &Limits::default()).expect_err("refused");
        assert!(gif.to_string().contains("GIF"));
    }

    #[test]
    fn format_serializes_lowercase_with_its_mime_type() {
        assert_eq!(
            serde_json::to_string(&Format::WebP).ok().as_deref(),
            Some("\"webp\"")
        );
        assert_eq!(Format::Jpeg.mime(), "image/jpeg");
        assert_eq!(Format::Png.mime(), "image/png");
        assert_eq!(Format::WebP.mime(), "image/webp");
    }

    /// Which quadrant of the decoded copy holds the marker, as (right, bottom).
    fn marker_quadrant(jpeg: &[u8]) -> (bool, bool) {
        let img = image::load_from_memory(jpeg)
            .expect("derivative decodes")
            .to_rgb8();
        let (mut sx, mut sy, mut n) = (0u64, 0u64, 0u64);
        for (x, y, p) in img.enumerate_pixels() {
            if fixtures::is_marker(p.0) {
                sx += u64::from(x);
                sy += u64::from(y);
                n += 1;
            }
        }
        assert!(n > 0, "marker not found");
        (
            sx / n > u64::from(img.width() / 2),
            sy / n > u64::from(img.height() / 2),
        )
    }

    #[test]
    fn every_orientation_puts_the_marker_where_a_viewer_sees_it() {
        // The marker sits at the stored image's top-left; EXIF says where that corner is viewed.
        let expected = [
            (1, (false, false)),
            (2, (true, false)),
            (3, (true, true)),
            (4, (false, true)),
            (5, (false, false)),
            (6, (true, false)),
            (7, (true, true)),
            (8, (false, true)),
        ];
        for (orientation, quadrant) in expected {
            let p = processed(&fixtures::jpeg(400, 240, 5, Some(&oriented(orientation))));
            assert_eq!(p.orientation, orientation);
            let swapped = orientation >= 5;
            assert_eq!(
                (p.width, p.height),
                if swapped { (240, 400) } else { (400, 240) }
            );
            assert_eq!(p.display, (p.width, p.height));
            assert_eq!(
                marker_quadrant(&p.display_jpeg),
                quadrant,
                "orientation {orientation} display"
            );
            assert_eq!(
                marker_quadrant(&p.thumb_jpeg),
                quadrant,
                "orientation {orientation} thumb"
            );
        }
    }

    #[test]
    fn orientation_is_applied_to_a_dct_scaled_decode_too() {
        let p = processed(&fixtures::jpeg(3400, 2000, 6, Some(&oriented(6))));
        assert_eq!((p.width, p.height), (2000, 3400));
        assert_eq!(p.display, (941, 1600));
        assert_eq!(marker_quadrant(&p.display_jpeg), (true, false));
    }

    #[test]
    fn display_and_thumb_fit_their_sides_and_keep_the_aspect() {
        let p = processed(&fixtures::jpeg(4000, 2250, 1, None));
        assert_eq!((p.width, p.height), (4000, 2250));
        assert_eq!(p.display, (1600, 900));
        assert_eq!(p.thumb, (320, 180));
        let p = processed(&fixtures::png(1000, 3000, 2));
        assert_eq!(p.display, (533, 1600));
        assert_eq!(p.thumb, (107, 320));
        let decoded = image::load_from_memory(&p.display_jpeg).expect("decodes");
        assert_eq!((decoded.width(), decoded.height()), (533, 1600));
        let decoded = image::load_from_memory(&p.thumb_jpeg).expect("decodes");
        assert_eq!((decoded.width(), decoded.height()), (107, 320));
    }

    #[test]
    fn small_photos_are_never_upscaled() {
        let p = processed(&fixtures::jpeg(300, 200, 3, None));
        assert_eq!(p.display, (300, 200));
        assert_eq!(p.thumb, (300, 200));
        let p = processed(&fixtures::jpeg(1000, 700, 3, None));
        assert_eq!(p.display, (1000, 700));
        assert_eq!(p.thumb, (320, 224));
    }

    #[test]
    fn simd_triangle_matches_imageops_triangle() {
        let src = fixtures::pattern(1632, 1224, 3);
        for (w, h) in [(1600, 1200), (320, 240), (7, 1)] {
            let ours = triangle(&src, w, h);
            let reference = image::imageops::resize(&src, w, h, FilterType::Triangle);
            let diff: u64 = ours
                .as_raw()
                .iter()
                .zip(reference.as_raw())
                .map(|(a, b)| u64::from(a.abs_diff(*b)))
                .sum();
            let mean = diff as f64 / ours.as_raw().len() as f64;
            assert!(mean < 1.0, "{w}x{h}: mean difference {mean}");
        }
    }

    #[test]
    fn fit_never_returns_a_zero_side() {
        assert_eq!(fit(20_000, 1, 320), (320, 1));
        assert_eq!(fit(1, 20_000, 1600), (1, 1600));
        assert_eq!(fit(1600, 1600, 1600), (1600, 1600));
    }

    fn has_app1_or_exif(jpeg: &[u8]) -> bool {
        let mut pos = 2;
        while pos + 4 <= jpeg.len() && jpeg[pos] == 0xFF && jpeg[pos + 1] != 0xDA {
            if (0xE1..=0xEF).contains(&jpeg[pos + 1]) {
                return true;
            }
            pos += 2 + usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
        }
        jpeg.windows(4).any(|w| w == b"Exif")
    }

    #[test]
    fn derived_copies_carry_no_metadata() {
        let exif = FixtureExif {
            lat: Some(30.5),
            lon: Some(120.25),
            make: Some("Xiaomi".to_owned()),
            orientation: Some(1),
            ..FixtureExif::default()
        };
        let original = fixtures::jpeg(2000, 1500, 8, Some(&exif));
        assert!(has_app1_or_exif(&original));
        let p = processed(&original);
        assert_eq!(p.exif.lat, Some(30.5));
        assert!(!has_app1_or_exif(&p.display_jpeg));
        assert!(!has_app1_or_exif(&p.thumb_jpeg));
        assert!(!crate::photo::exif::read_exif(&p.display_jpeg).present);
        assert!(!p.display_jpeg.windows(6).any(|w| w == b"Xiaomi"));
    }

    #[test]
    fn hashes_and_sizes_describe_the_original() {
        let bytes = fixtures::jpeg(640, 480, 9, None);
        let p = processed(&bytes);
        assert_eq!(p.format, Format::Jpeg);
        assert_eq!(p.bytes, bytes.len());
        assert_eq!(p.sha256, hex::encode(Sha256::digest(&bytes)));
        assert_eq!(p.sha256.len(), 64);
        let json = serde_json::to_value(&p).expect("serializes");
        assert_eq!(
            json["phash"],
            serde_json::json!(format!("{:016x}", p.phash))
        );
        assert_eq!(json["format"], "jpeg");
        assert!(json.get("display_jpeg").is_none());
        assert!(json["timings_ms"]["total"]
            .as_f64()
            .is_some_and(|t| t > 0.0));
    }

    #[test]
    fn png_and_webp_are_processed_like_jpeg() {
        let png = processed(&fixtures::png(900, 600, 4));
        assert_eq!(
            (png.format, png.width, png.height, png.display),
            (Format::Png, 900, 600, (900, 600))
        );
        let webp = processed(&webp(500, 400, 4));
        assert_eq!((webp.format, webp.thumb), (Format::WebP, (320, 256)));
        assert!(crate::photo::phash::hamming(png.phash, webp.phash) > 0);
    }

    #[test]
    fn transparent_png_is_flattened_onto_white() {
        let img = image::RgbaImage::from_pixel(10, 10, image::Rgba([0, 0, 0, 0]));
        let mut bytes = Vec::new();
        image::ImageEncoder::write_image(
            image::codecs::png::PngEncoder::new(&mut bytes),
            img.as_raw(),
            10,
            10,
            image::ExtendedColorType::Rgba8,
        )
        .expect("encodes");
        let p = processed(&bytes);
        let display = image::load_from_memory(&p.display_jpeg)
            .expect("decodes")
            .to_rgb8();
        assert!(display.get_pixel(5, 5).0.iter().all(|c| *c > 245));
    }

    #[test]
    fn pixel_flood_png_is_refused_before_decoding() {
        let started = Instant::now();
        let err = process(
            &fixtures::pixel_flood_png(60_000, 60_000),
            &Limits::default(),
        )
        .expect_err("refused");
        assert_eq!(
            err,
            PhotoError::TooLarge {
                width: 60_000,
                height: 60_000
            }
        );
        // Within width and height limits but over the pixel count.
        let err = process(
            &fixtures::pixel_flood_png(15_000, 15_000),
            &Limits::default(),
        )
        .expect_err("refused");
        assert_eq!(
            err,
            PhotoError::TooLarge {
                width: 15_000,
                height: 15_000
            }
        );
        assert!(started.elapsed() < Duration::from_millis(200));
    }

    #[test]
    fn pixel_flood_within_limits_is_undecodable_not_a_hang() {
        let started = Instant::now();
        let err = process(&fixtures::pixel_flood_png(8_000, 8_000), &Limits::default())
            .expect_err("refused");
        assert!(matches!(err, PhotoError::Undecodable(_)), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn limits_are_the_callers() {
        let tight = Limits {
            max_width: 100,
            ..Limits::default()
        };
        let err = process(&fixtures::jpeg(200, 50, 1, None), &tight).expect_err("refused");
        assert_eq!(
            err,
            PhotoError::TooLarge {
                width: 200,
                height: 50
            }
        );
        let err = process(&fixtures::png(200, 50, 1), &tight).expect_err("refused");
        assert_eq!(
            err,
            PhotoError::TooLarge {
                width: 200,
                height: 50
            }
        );
        let tiny_alloc = Limits {
            max_alloc: 1000,
            ..Limits::default()
        };
        assert!(process(&fixtures::jpeg(200, 50, 1, None), &tiny_alloc).is_err());
    }

    #[test]
    fn lying_jpeg_is_refused_quickly() {
        let started = Instant::now();
        let err = process(&fixtures::lying_jpeg(60_000, 60_000), &Limits::default())
            .expect_err("refused");
        assert_eq!(
            err,
            PhotoError::TooLarge {
                width: 60_000,
                height: 60_000
            }
        );
        for (w, h) in [(10_000, 10_000), (4000, 3000), (1600, 1200)] {
            let err =
                process(&fixtures::lying_jpeg(w, h), &Limits::default()).expect_err("refused");
            assert!(
                matches!(err, PhotoError::Undecodable(_)),
                "{w}x{h}: {err:?}"
            );
        }
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn truncated_jpeg_is_undecodable_or_processed_never_a_panic() {
        let whole = fixtures::jpeg(800, 600, 12, Some(&oriented(6)));
        for cut in [whole.len() / 2, whole.len() / 4, whole.len() - 2, 3, 200] {
            match process(&whole[..cut], &Limits::default()) {
                Ok(p) => assert_eq!(p.display, (600, 800)),
                Err(e) => assert!(matches!(e, PhotoError::Undecodable(_)), "{cut}: {e:?}"),
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096), prefix in 0usize..4) {
            let magic: [&[u8]; 4] = [b"", &[0xFF, 0xD8, 0xFF], b"\x89PNG\r\n\x1a\n", b"RIFF\0\0\0\0WEBP"];
            let mut input = magic[prefix].to_vec();
            input.extend(bytes);
            let _ = process(&input, &Limits::default());
            let _ = crate::photo::exif::read_exif(&input);
        }

        #[test]
        fn mutated_jpeg_never_panics(
            edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..12),
            cut in any::<proptest::sample::Index>(),
            truncate in any::<bool>(),
        ) {
            let exif = FixtureExif { lat: Some(-12.5), lon: Some(130.75), orientation: Some(6), signed_rational_gps: true, ..FixtureExif::default() };
            let mut bytes = fixtures::jpeg(96, 64, 1, Some(&exif));
            for (at, value) in edits {
                let i = at.index(bytes.len());
                bytes[i] = value;
            }
            if truncate {
                bytes.truncate(cut.index(bytes.len()));
            }
            let _ = process(&bytes, &Limits::default());
            let _ = crate::photo::exif::read_exif(&bytes);
        }

        #[test]
        fn mutated_exif_block_never_panics(
            edits in proptest::collection::vec((0usize..400, any::<u8>()), 1..16),
        ) {
            let exif = FixtureExif { lat: Some(43.4), lon: Some(-11.8), make: Some("NIKON".into()), offset: Some("+02:00".into()), taken_at_local: chrono::NaiveDate::from_ymd_opt(2008, 10, 22).and_then(|d| d.and_hms_opt(16, 28, 39)), ..FixtureExif::default() };
            let mut bytes = fixtures::jpeg(32, 32, 1, Some(&exif));
            let block_end = 4 + usize::from(u16::from_be_bytes([bytes[4], bytes[5]]));
            for (at, value) in edits {
                let i = 12 + at % (block_end - 12);
                bytes[i] = value;
            }
            let info = crate::photo::exif::read_exif(&bytes);
            prop_assert!(info.present);
            let _ = process(&bytes, &Limits::default());
        }
    }

    fn photos_dir() -> Option<PathBuf> {
        std::env::var_os("FIELDSTAR_TEST_PHOTOS").map(PathBuf::from)
    }

    fn files_in(dir: &Path) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort();
        files
    }

    /// Runs only when FIELDSTAR_TEST_PHOTOS names the real-photo folder (see its README.md).
    #[test]
    fn real_photos_behave_as_the_readme_says() {
        let Some(root) = photos_dir() else { return };
        let table = [
            ("DSCN0010.jpg", 43.467448, 11.885127, "2008-10-22T16:28:39"),
            ("DSCN0012.jpg", 43.467157, 11.885395, "2008-10-22T16:29:49"),
            ("DSCN0021.jpg", 43.467082, 11.884538, "2008-10-22T16:38:20"),
            ("DSCN0025.jpg", 43.468365, 11.881635, "2008-10-22T16:43:21"),
            ("DSCN0027.jpg", 43.468442, 11.881515, "2008-10-22T16:44:01"),
        ];
        let gps = files_in(&root.join("gps"));
        assert_eq!(gps.len(), table.len());
        for (name, lat, lon, taken) in table {
            let p = processed(&std::fs::read(root.join("gps").join(name)).expect("reads"));
            assert!(
                (p.exif.lat.expect("lat") - lat).abs() < 1e-5,
                "{name} {:?}",
                p.exif.lat
            );
            assert!(
                (p.exif.lon.expect("lon") - lon).abs() < 1e-5,
                "{name} {:?}",
                p.exif.lon
            );
            assert_eq!(
                p.exif
                    .taken_at_local
                    .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
                    .as_deref(),
                Some(taken)
            );
            assert_eq!((p.width, p.height), (640, 480));
        }

        let jolla = processed(&std::fs::read(root.join("no-gps/jolla.jpg")).expect("reads"));
        assert_eq!(
            (jolla.width, jolla.height, jolla.display),
            (3264, 2448, (1600, 1200))
        );
        assert!(jolla.exif.present && jolla.exif.lat.is_none());

        for path in files_in(&root.join("broken")) {
            let bytes = std::fs::read(&path).expect("reads");
            let started = Instant::now();
            match process(&bytes, &Limits::default()) {
                Ok(p) => println!("{}: decodable, {}x{}", path.display(), p.width, p.height),
                Err(e) => {
                    println!("{}: {e}", path.display());
                    assert!(
                        matches!(e, PhotoError::Undecodable(_)),
                        "{}: {e:?}",
                        path.display()
                    );
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "{}",
                path.display()
            );
        }

        for path in files_in(&root.join("unsupported")) {
            let err = process(&std::fs::read(&path).expect("reads"), &Limits::default())
                .expect_err("refused");
            assert_eq!(
                err,
                PhotoError::Unsupported {
                    detected: Some("HEIC")
                },
                "{}",
                path.display()
            );
            assert!(err.to_string().contains("HEIC"));
        }

        for path in files_in(&root.join("malformed-exif")) {
            let p = processed(&std::fs::read(&path).expect("reads"));
            println!(
                "{}: present {} problems {:?}",
                path.display(),
                p.exif.present,
                p.exif.problems
            );
        }

        for path in files_in(&root.join("orientation")) {
            let p = processed(&std::fs::read(&path).expect("reads"));
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let portrait = p.display.1 > p.display.0;
            assert_eq!(
                portrait,
                name.starts_with("portrait"),
                "{name} {:?}",
                p.display
            );
        }
    }

    #[test]
    fn flattening_in_place_equals_compositing_over_white_by_copy() {
        let rgba = image::RgbaImage::from_fn(37, 23, |x, y| {
            image::Rgba([
                (x * 7) as u8,
                (y * 11) as u8,
                (x * y) as u8,
                ((x + y) * 9) as u8,
            ])
        });
        let img = DynamicImage::ImageRgba8(rgba);
        assert_eq!(flatten(img.clone()), flatten_by_copy(img));
    }

    #[test]
    fn the_decode_cost_is_read_from_the_header() {
        let png = fixtures::pixel_flood_png(8_000, 8_000);
        let cost = decode_cost(&png, png.len() as u64).expect("a PNG header");
        assert!(cost >= 8_000 * 8_000 * 3, "{cost}");
        let jpeg = fixtures::jpeg(4000, 3000, 1, None);
        let cost = decode_cost(&jpeg, jpeg.len() as u64).expect("a JPEG header");
        // Decoded at 1/2 scale (2000 × 1500), far below the full 36 MB.
        assert!(cost < 40 << 20, "{cost}");
        assert_eq!(decode_cost(b"GIF89a", 6), None);
    }
}
