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
                let (at_w, at_x) = (w.param(c, b), r * x.blocks + b);
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

/// A bfloat16 value as f32.
#[inline(always)]
fn bf16_to_f32(b: u16) -> f32 {
    f32::from_bits(u32::from(b) << 16)
}

/// Dot product of f32 values with bfloat16 ones, eight accumulators wide so it vectorises.
pub(super) fn dot_bf16(a: &[f32], b: &[u16]) -> f32 {
    let mut acc = [0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for i in 0..8 {
            acc[i] += x[i] * bf16_to_f32(y[i]);
        }
    }
    let tail: f32 = ar.iter().zip(br).map(|(x, &y)| x * bf16_to_f32(y)).sum();
    acc.iter().sum::<f32>() + tail
}

/// `out[i] += p · v[i]` for bfloat16 `v` (the plain path of [`super::weighted_sum_bf16_heads`]).
pub(super) fn add_scaled_bf16(out: &mut [f32], p: f32, v: &[u16]) {
    for (o, &x) in out.iter_mut().zip(v) {
        *o += p * bf16_to_f32(x);
    }
}
