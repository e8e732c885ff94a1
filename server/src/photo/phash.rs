//! The 64-bit perceptual hash (DCT pHash) that finds the same scene re-submitted as evidence,
//! and the distance below which two photos count as near duplicates.

use image::imageops::{self, FilterType};
use image::DynamicImage;

/// Measured on /work/shared/testdata/photos (`near_duplicate_threshold_separates_the_real_photos`,
/// run with FIELDSTAR_TEST_PHOTOS and --nocapture): the HDR off/on pair is 8 apart and lightly
/// edited copies (+10% brightness, 2% crop, quality 70) at most 6, while the closest pair of
/// distinct scenes is 22 apart. 14 leaves a margin of 6 above the HDR pair and 8 below the
/// closest distinct scenes. (Without the histogram equalisation the HDR pair was 16 apart and
/// distinct scenes as close as 20: no usable gap.)
pub const NEAR_DUPLICATE_MAX_DISTANCE: u32 = 14;

const SIDE: usize = 64;
const LOW: usize = 8;

/// DCT pHash with one addition: the 64x64 grayscale is histogram-equalised first, so the hash
/// ignores tone curves (HDR, brightness, contrast, filters) and keeps the scene's layout.
/// Then 2-D DCT-II -> top-left 8x8 low frequencies -> one bit per coefficient above their
/// median. Bit 63 is the DC term, bit 0 the highest of the 8x8 frequencies.
pub fn phash(img: &DynamicImage) -> u64 {
    let gray = imageops::resize(
        &img.to_luma8(),
        SIDE as u32,
        SIDE as u32,
        FilterType::Lanczos3,
    );
    let pixels = equalized(gray.as_raw());
    let cos = cosines();

    // Rows first: row_dct[y][u] for the first LOW frequencies only.
    let mut row_dct = [[0.0f64; LOW]; SIDE];
    for (y, out) in row_dct.iter_mut().enumerate() {
        for (u, o) in out.iter_mut().enumerate() {
            *o = (0..SIDE).map(|x| pixels[y * SIDE + x] * cos[u][x]).sum();
        }
    }
    let mut coeffs = [0.0f64; LOW * LOW];
    for v in 0..LOW {
        for u in 0..LOW {
            coeffs[v * LOW + u] = (0..SIDE).map(|y| row_dct[y][u] * cos[v][y]).sum();
        }
    }
    let mut sorted = coeffs;
    sorted.sort_by(f64::total_cmp);
    let median = (sorted[LOW * LOW / 2 - 1] + sorted[LOW * LOW / 2]) / 2.0;
    coeffs
        .iter()
        .fold(0u64, |hash, c| (hash << 1) | u64::from(*c > median))
}

/// Each level becomes its cumulative share of the pixels, spread over 0..=255.
fn equalized(gray: &[u8]) -> Vec<f64> {
    let mut histogram = [0u32; 256];
    for p in gray {
        histogram[usize::from(*p)] += 1;
    }
    let mut cumulative = [0u32; 256];
    let mut total = 0;
    for (c, h) in cumulative.iter_mut().zip(histogram) {
        total += h;
        *c = total;
    }
    let n = f64::from(total.max(1));
    gray.iter()
        .map(|p| f64::from(cumulative[usize::from(*p)]) / n * 255.0)
        .collect()
}

pub fn hamming(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

fn cosines() -> [[f64; SIDE]; LOW] {
    let mut table = [[0.0; SIDE]; LOW];
    for (k, row) in table.iter_mut().enumerate() {
        for (n, c) in row.iter_mut().enumerate() {
            *c = (std::f64::consts::PI / SIDE as f64 * (n as f64 + 0.5) * k as f64).cos();
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::photo::fixtures;
    use crate::photo::pipeline::{process, Limits};
    use std::path::{Path, PathBuf};

    fn hash_of(bytes: &[u8]) -> u64 {
        process(bytes, &Limits::default()).expect("processes").phash
    }

    #[test]
    fn hamming_counts_differing_bits() {
        assert_eq!(hamming(0, 0), 0);
        assert_eq!(hamming(0b1011, 0b0001), 2);
        assert_eq!(hamming(u64::MAX, 0), 64);
    }

    #[test]
    fn the_same_picture_at_other_sizes_and_qualities_is_a_near_duplicate() {
        let original = fixtures::pattern(1200, 900, 4);
        let small = image::imageops::resize(&original, 400, 300, FilterType::CatmullRom);
        let a = hash_of(&fixtures::encode_jpeg(&original, 92));
        let b = hash_of(&fixtures::encode_jpeg(&small, 60));
        assert!(
            hamming(a, b) <= NEAR_DUPLICATE_MAX_DISTANCE,
            "{}",
            hamming(a, b)
        );
    }

    #[test]
    fn fixtures_with_different_seeds_are_far_apart() {
        let hashes: Vec<u64> = (0..8)
            .map(|s| hash_of(&fixtures::jpeg(320, 240, s, None)))
            .collect();
        for i in 0..hashes.len() {
            for j in i + 1..hashes.len() {
                let d = hamming(hashes[i], hashes[j]);
                assert!(d > NEAR_DUPLICATE_MAX_DISTANCE, "seeds {i} and {j}: {d}");
            }
        }
    }

    /// +10% brightness, 2% crop from each edge, re-encoded at quality 70.
    fn lightly_edited(bytes: &[u8]) -> Vec<u8> {
        let mut img = image::load_from_memory(bytes).expect("decodes");
        let orientation = crate::photo::exif::read_exif(bytes)
            .orientation
            .unwrap_or(1);
        if let Some(o) = image::metadata::Orientation::from_exif(orientation as u8) {
            img.apply_orientation(o);
        }
        let img = img.to_rgb8();
        let (w, h) = img.dimensions();
        let (dx, dy) = (w / 50, h / 50);
        let mut cropped = imageops::crop_imm(&img, dx, dy, w - 2 * dx, h - 2 * dy).to_image();
        for p in cropped.pixels_mut() {
            for c in p.0.iter_mut() {
                *c = (f32::from(*c) * 1.1).min(255.0) as u8;
            }
        }
        fixtures::encode_jpeg(&cropped, 70)
    }

    #[test]
    fn a_lightly_edited_copy_is_a_near_duplicate() {
        let original = fixtures::jpeg(1600, 1200, 11, None);
        let d = hamming(hash_of(&original), hash_of(&lightly_edited(&original)));
        assert!(d <= NEAR_DUPLICATE_MAX_DISTANCE, "{d}");
    }

    fn photos_dir() -> Option<PathBuf> {
        std::env::var_os("FIELDSTAR_TEST_PHOTOS").map(PathBuf::from)
    }

    fn jpegs_in(dir: &Path) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("jpg")));
        files.sort();
        files
    }

    /// Prints every pair's distance (run with --nocapture) and checks the threshold separates
    /// the HDR pair and edited copies from distinct scenes. Skipped without FIELDSTAR_TEST_PHOTOS.
    #[test]
    fn near_duplicate_threshold_separates_the_real_photos() {
        let Some(root) = photos_dir() else { return };
        let mut photos: Vec<(String, String, u64)> = Vec::new();
        for folder in [
            "gps",
            "no-gps",
            "malformed-exif",
            "near-duplicates",
            "orientation",
        ] {
            for path in jpegs_in(&root.join(folder)) {
                let bytes = std::fs::read(&path).expect("reads");
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                photos.push((folder.to_owned(), name, hash_of(&bytes)));
            }
        }
        let mut closest_distinct = u32::MAX;
        for (i, (fa, na, ha)) in photos.iter().enumerate() {
            for (fb, nb, hb) in &photos[i + 1..] {
                let d = hamming(*ha, *hb);
                let same_scene = fa == fb && (fa == "orientation" || fa == "near-duplicates");
                println!(
                    "{d:>3}  {fa}/{na}  {fb}/{nb}{}",
                    if same_scene { "  (same scene)" } else { "" }
                );
                if fa == "near-duplicates" && fb == "near-duplicates" {
                    assert!(d <= NEAR_DUPLICATE_MAX_DISTANCE, "HDR pair {d}");
                } else if !same_scene {
                    closest_distinct = closest_distinct.min(d);
                }
            }
        }
        println!("closest distinct scenes: {closest_distinct}");
        assert!(closest_distinct > NEAR_DUPLICATE_MAX_DISTANCE);
        for (folder, name, hash) in &photos {
            if folder == "orientation" {
                continue;
            }
            let bytes = std::fs::read(root.join(folder).join(name)).expect("reads");
            let d = hamming(*hash, hash_of(&lightly_edited(&bytes)));
            println!("edited copy {d:>3}  {folder}/{name}");
            assert!(
                d <= NEAR_DUPLICATE_MAX_DISTANCE,
                "{folder}/{name} edited: {d}"
            );
        }
    }
}
