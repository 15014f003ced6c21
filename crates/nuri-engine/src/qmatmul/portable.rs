//! The portable kernel: plain Rust, one block at a time. It is the reference the SIMD kernels
//! are tested against, and the kernel on CPUs without them.

use std::ops::Range;

use super::{QActs, QMatrix, BLOCK};

/// See [`super::Kernel::run`].
pub(super) fn matmul(w: &QMatrix, x: &QActs, cols: Range<usize>, out: &mut [f32]) {
    let width = cols.len();
    for r in 0..x.rows {
        for c in cols.clone() {
            let mut acc = 0f32;
            for b in 0..w.blocks {
                let (at_w, at_x) = (c * w.blocks + b, r * x.blocks + b);
                let dot: i32 = (0..BLOCK)
                    .map(|j| i32::from(w.value(c, b, j)) * i32::from(x.value(r, b, j)))
                    .sum();
                acc += w.scale[at_w].to_f32() * x.scale[at_x] * dot as f32
                    + w.offset[at_w].to_f32() * x.sum[at_x];
            }
            out[r * width + (c - cols.start)] = acc;
        }
    }
}
