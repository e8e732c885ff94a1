//! The process's memory allocator: small blocks from mimalloc, large ones from the system's.

use std::alloc::{GlobalAlloc, Layout, System};

/// Small blocks from mimalloc, large ones (photo pixels, decode buffers) from the system's.
///
/// A request allocates and frees thousands of small blocks (JSON values, strings, futures):
/// glibc's malloc spent ~15 % of the server's CPU under the ingest load, mimalloc much less
/// (docs/performance.md). But mimalloc made the photo pipeline slower (its multi-megabyte
/// buffers, zeroed and reused or returned and faulted in again, cost ~5 ms a photo), where
/// glibc hands out fresh zero pages by `mmap`. So each side gets what it does best; every
/// block is freed by the allocator that made it, told apart by its size (a `Layout` is the
/// same at allocation and release).
pub struct Split;

/// From this size up, blocks come from the system allocator.
pub const LARGE: usize = 32 * 1024;

// SAFETY: every call is forwarded to one of two sound allocators, chosen by the block's size,
// which Rust passes unchanged to the matching `dealloc`; a `realloc` that crosses the line
// moves the block from one to the other.
unsafe impl GlobalAlloc for Split {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= LARGE {
            unsafe { System.alloc(layout) }
        } else {
            unsafe { mimalloc::MiMalloc.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= LARGE {
            unsafe { System.alloc_zeroed(layout) }
        } else {
            unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.size() >= LARGE {
            unsafe { System.dealloc(ptr, layout) }
        } else {
            unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        match (layout.size() >= LARGE, new_size >= LARGE) {
            (true, true) => unsafe { System.realloc(ptr, layout, new_size) },
            (false, false) => unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) },
            _ => {
                // SAFETY: the caller guarantees `new_size` with `layout`'s alignment is valid.
                let new_layout =
                    unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
                let new = unsafe { self.alloc(new_layout) };
                if !new.is_null() {
                    unsafe {
                        std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                }
                new
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(size: usize) -> (*mut u8, Layout) {
        let layout = Layout::from_size_align(size, 16).unwrap();
        // SAFETY: a non-zero size; the block is written within its size only.
        let p = unsafe { Split.alloc(layout) };
        assert!(!p.is_null());
        for i in 0..size {
            unsafe { p.add(i).write((i % 251) as u8) };
        }
        (p, layout)
    }

    fn holds_pattern(p: *const u8, len: usize) -> bool {
        (0..len).all(|i| unsafe { p.add(i).read() } == (i % 251) as u8)
    }

    #[test]
    fn a_block_keeps_its_bytes_when_it_grows_or_shrinks_across_the_line() {
        for (from, to) in [
            (100, LARGE + 100),     // small → large: moves to the system allocator
            (LARGE + 100, 100),     // large → small: moves back
            (LARGE - 1, LARGE),     // the line itself
            (200, 4000),            // within mimalloc
            (LARGE * 2, LARGE * 4), // within the system allocator
        ] {
            let (p, layout) = filled(from);
            // SAFETY: `p` was allocated by `Split` with `layout`; `to` is non-zero.
            let q = unsafe { Split.realloc(p, layout, to) };
            assert!(!q.is_null());
            assert!(holds_pattern(q, from.min(to)), "{from} → {to}");
            assert_eq!(q as usize % 16, 0, "alignment kept");
            unsafe { Split.dealloc(q, Layout::from_size_align(to, 16).unwrap()) };
        }
    }

    #[test]
    fn zeroed_blocks_are_zero_on_both_sides() {
        for size in [64, LARGE, LARGE * 3] {
            let layout = Layout::from_size_align(size, 8).unwrap();
            // SAFETY: non-zero size; read within it; freed with the same layout.
            let p = unsafe { Split.alloc_zeroed(layout) };
            assert!(!p.is_null());
            assert!((0..size).all(|i| unsafe { p.add(i).read() } == 0));
            unsafe { Split.dealloc(p, layout) };
        }
    }
}
