//! Fuzz targets (proptest): EXIF blocks built from random IFD entries (any tag, type, count
//! and offset) never panic the EXIF reader or the pipeline.

use proptest::prelude::*;

use super::exif::read_exif;
use super::fixtures;
use super::pipeline::{process, Limits};

/// A little- or big-endian TIFF with one IFD0 of `entries`, an Exif and a GPS pointer among them.
fn tiff(big_endian: bool, entries: &[(u16, u16, u32, u32)], tail: &[u8]) -> Vec<u8> {
    let u16b = |v: u16| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let u32b = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut out = if big_endian {
        b"MM".to_vec()
    } else {
        b"II".to_vec()
    };
    out.extend(u16b(42));
    out.extend(u32b(8));
    out.extend(u16b(entries.len() as u16));
    for (tag, kind, count, value) in entries {
        out.extend(u16b(*tag));
        out.extend(u16b(*kind));
        out.extend(u32b(*count));
        out.extend(u32b(*value));
    }
    out.extend(u32b(0));
    out.extend_from_slice(tail);
    out
}

fn tag() -> impl Strategy<Value = u16> {
    prop_oneof![
        // Make, Model, Software, Orientation, DateTime, Exif IFD, GPS IFD
        prop::sample::select(vec![0x010F, 0x0110, 0x0131, 0x0112, 0x0132, 0x8769, 0x8825]),
        // DateTimeOriginal, OffsetTimeOriginal, GPS lat/lon and their refs
        prop::sample::select(vec![0x9003, 0x9011, 0x0001, 0x0002, 0x0003, 0x0004]),
        any::<u16>(),
    ]
}

fn entry() -> impl Strategy<Value = (u16, u16, u32, u32)> {
    (
        tag(),
        prop_oneof![1u16..=12, any::<u16>()],
        prop_oneof![0u32..8, Just(u32::MAX), Just(0x4000_0000), any::<u32>()],
        prop_oneof![0u32..64, Just(u32::MAX), any::<u32>()],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_ifd_entries_never_panic_the_exif_reader_or_the_pipeline(
        big_endian in any::<bool>(),
        entries in prop::collection::vec(entry(), 0..24),
        tail in prop::collection::vec(any::<u8>(), 0..128),
    ) {
        let jpeg = fixtures::jpeg(24, 16, 3, None);
        let bytes = fixtures::with_app1(&jpeg, &tiff(big_endian, &entries, &tail));
        let info = read_exif(&bytes);
        prop_assert!(info.present);
        // The image itself is sound, so the upload goes through whatever the EXIF says.
        let p = process(&bytes, &Limits::default());
        prop_assert!(p.is_ok(), "{:?}", p.err());
    }
}

/// Findings kept as regressions: a GPS IFD pointing at itself and an entry count of 65535.
#[test]
fn self_referencing_and_oversized_ifds_are_read_without_a_panic() {
    let jpeg = fixtures::jpeg(24, 16, 3, None);
    for entries in [
        vec![(0x8825u16, 4u16, 1u32, 8u32)],
        vec![(0x8769, 4, 1, 8), (0x8825, 4, 1, 8)],
        vec![(0x0002, 5, u32::MAX, 0)],
        vec![(0x0112, 3, 0x4000_0000, 1)],
    ] {
        for be in [false, true] {
            let bytes = fixtures::with_app1(&jpeg, &tiff(be, &entries, &[]));
            assert!(read_exif(&bytes).present);
            assert!(process(&bytes, &Limits::default()).is_ok());
        }
    }
}
