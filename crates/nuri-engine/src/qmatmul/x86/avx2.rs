//! The AVX2 kernel: one weight row at a time, its blocks in pairs, against up to [`GROUP`]
//! activation rows.

use std::arch::x86_64::*;
use std::ops::Range;

use half::f16;

use super::{check, has_avx2, GROUP};
use crate::qmatmul::{Packing, QActs, QMatrix, BLOCK};

/// AVX2 matmul; see [`crate::qmatmul::Kernel::run`]. Panics on a CPU without it.
pub(in crate::qmatmul) fn matmul_avx2(w: &QMatrix, x: &QActs, cols: Range<usize>, out: &mut [f32]) {
    check(w, x, &cols, out);
    assert!(has_avx2(), "this CPU has no AVX2");
    // SAFETY: the CPU has the features; `check` bounds every row the kernel reads and writes.
    unsafe { avx2(w, x, cols, out) }
}

/// Runs `body::<R, NIB>(tile)` for weight row `c` against each group of activation rows (`R`
/// the group's size, `NIB` whether the weights are 4-bit) and writes the sums it returns.
macro_rules! for_each_group {
    ($body:ident, $w:expr, $x:expr, $c:expr, $cols:expr, $out:expr) => {{
        let (w, x, c, cols, out): (&QMatrix, &QActs, usize, &Range<usize>, &mut [f32]) =
            ($w, $x, $c, $cols, $out);
        let nib = w.packing == Packing::Nibbles;
        let mut r0 = 0;
        while r0 < x.rows {
            let n = (x.rows - r0).min(GROUP);
            let tile = Tile::new(w, x, c, r0);
            let sums = by_rows!(n, nib, $body(&tile), [1 2 3 4 5 6 7 8]);
            for (i, sum) in sums.iter().take(n).enumerate() {
                out[(r0 + i) * cols.len() + (c - cols.start)] = *sum;
            }
            r0 += n;
        }
    }};
}

/// Where weight row `c` and a group of activation rows starting at `r0` begin; activation
/// row `i` of the group starts `i` rows after these.
#[derive(Clone, Copy)]
struct Tile {
    blocks: usize,
    values: *const u8,
    scale: *const f16,
    offset: *const f16,
    x_values: *const i8,
    x_scale: *const f32,
    x_sum: *const f32,
}

impl Tile {
    /// # Safety
    /// `c < w.rows`, `r0 < x.rows` and `check(w, x, …)` held.
    unsafe fn new(w: &QMatrix, x: &QActs, c: usize, r0: usize) -> Self {
        let blocks = w.blocks;
        Self {
            blocks,
            values: w.values.as_ptr().add(c * w.row_bytes()),
            scale: w.scale.as_ptr().add(c * blocks),
            offset: w.offset.as_ptr().add(c * blocks),
            x_values: x.values.as_ptr().add(r0 * blocks * BLOCK),
            x_scale: x.scale.as_ptr().add(r0 * blocks),
            x_sum: x.sum.as_ptr().add(r0 * blocks),
        }
    }
}

/// Weight rows fetched ahead of the one being multiplied: without it, single-stream decoding
/// waited on memory about a third longer (4 and 12 measured alike within the noise).
const PREFETCH_ROWS: usize = 16;

/// Asks for weight row `c`'s values, scales and offsets to be brought into cache.
#[inline(always)]
unsafe fn prefetch_row(w: &QMatrix, c: usize) {
    if c >= w.rows {
        return;
    }
    let row_bytes = w.row_bytes();
    let values = w.values.as_ptr().add(c * row_bytes);
    let mut at = 0;
    while at < row_bytes {
        _mm_prefetch::<_MM_HINT_T0>(values.add(at).cast());
        at += 64;
    }
    let (scale, offset) = (
        w.scale.as_ptr().add(c * w.blocks).cast::<u8>(),
        w.offset.as_ptr().add(c * w.blocks).cast::<u8>(),
    );
    let mut at = 0;
    while at < 2 * w.blocks {
        _mm_prefetch::<_MM_HINT_T0>(scale.add(at).cast());
        _mm_prefetch::<_MM_HINT_T0>(offset.add(at).cast());
        at += 64;
    }
}

/// Two half floats at `p`, as the first two lanes of a vector.
#[target_feature(enable = "avx2,f16c")]
unsafe fn two_halves(p: *const f16) -> __m128 {
    _mm_cvtph_ps(_mm_cvtsi32_si128(p.cast::<i32>().read_unaligned()))
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn avx2(w: &QMatrix, x: &QActs, cols: Range<usize>, out: &mut [f32]) {
    for c in cols.clone() {
        prefetch_row(w, c + PREFETCH_ROWS);
        for_each_group!(group_avx2, w, x, c, &cols, out);
    }
}

/// One weight row `c` against activation rows `r0..r0 + R`. Byte weights are turned back into
/// signed values (`u ^ 0x80`) and multiplied with the sign trick (`|w|` × `sign(w)·a`), since
/// `vpmaddubsw` would saturate on 255 × 127 + 255 × 127; that product is the whole dot product,
/// so their offsets are not added.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn group_avx2<const R: usize, const NIB: bool>(t: &Tile) -> [f32; 16] {
    let Tile {
        blocks,
        values: wv,
        scale: ws,
        offset: wo,
        ..
    } = *t;
    let (xq, xs, xm) = (t.x_values, t.x_scale, t.x_sum);
    let low4 = _mm256_set1_epi8(0x0F);
    let flip = _mm256_set1_epi8(-128);
    let ones = _mm256_set1_epi16(1);
    let mut acc = [_mm256_setzero_ps(); R];
    for p in 0..blocks / 2 {
        let (w0, w1) = if NIB {
            let v = _mm256_loadu_si256(wv.add(p * BLOCK).cast());
            (
                _mm256_and_si256(v, low4),
                _mm256_and_si256(_mm256_srli_epi16::<4>(v), low4),
            )
        } else {
            (
                _mm256_xor_si256(_mm256_loadu_si256(wv.add(2 * p * BLOCK).cast()), flip),
                _mm256_xor_si256(_mm256_loadu_si256(wv.add((2 * p + 1) * BLOCK).cast()), flip),
            )
        };
        let d = two_halves(ws.add(2 * p));
        let dw = [_mm_cvtss_f32(d), _mm_cvtss_f32(_mm_movehdup_ps(d))];
        for (i, a) in acc.iter_mut().enumerate() {
            for (half, wh) in [(0, w0), (1, w1)] {
                let blk = i * blocks + 2 * p + half;
                let q = _mm256_loadu_si256(xq.add(blk * BLOCK).cast());
                let pairs = if NIB {
                    _mm256_maddubs_epi16(wh, q)
                } else {
                    _mm256_maddubs_epi16(_mm256_abs_epi8(wh), _mm256_sign_epi8(q, wh))
                };
                let dot = _mm256_madd_epi16(pairs, ones);
                let s = _mm256_set1_ps(dw[half] * *xs.add(blk));
                *a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), s, *a);
            }
        }
    }
    let mut sums = [0f32; 16];
    if NIB {
        // Offsets × activation sums, eight blocks at a time, into the same lanes.
        let mut b = 0;
        while b + 8 <= blocks {
            let o = _mm256_cvtph_ps(_mm_loadu_si128(wo.add(b).cast()));
            for (i, a) in acc.iter_mut().enumerate() {
                *a = _mm256_fmadd_ps(o, _mm256_loadu_ps(xm.add(i * blocks + b)), *a);
            }
            b += 8;
        }
        for (i, a) in acc.iter().enumerate() {
            let tail: f32 = (b..blocks)
                .map(|k| (*wo.add(k)).to_f32() * *xm.add(i * blocks + k))
                .sum();
            sums[i] = hsum256(*a) + tail;
        }
    } else {
        for (i, a) in acc.iter().enumerate() {
            sums[i] = hsum256(*a);
        }
    }
    sums
}

/// Sum of the eight lanes.
#[target_feature(enable = "avx2")]
unsafe fn hsum256(v: __m256) -> f32 {
    let h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    let h = _mm_add_ss(h, _mm_shuffle_ps::<1>(h, h));
    _mm_cvtss_f32(h)
}
