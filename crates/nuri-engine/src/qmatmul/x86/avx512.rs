//! The AVX-512 VNNI kernel for [`crate::qmatmul::Layout::Rows16`], and the AVX-512
//! activation quantiser.

use std::arch::x86_64::*;
use std::ops::Range;

use half::f16;

use super::{check, has_avx512_vnni, GROUP};
use crate::qmatmul::{Packing, QActs, QMatrix, BLOCK, RUN};

/// AVX-512 VNNI matmul; see [`crate::qmatmul::Kernel::run`]. Panics on a CPU without it.
pub(in crate::qmatmul) fn matmul_avx512_vnni(
    w: &QMatrix,
    x: &QActs,
    cols: Range<usize>,
    out: &mut [f32],
) {
    check(w, x, &cols, out);
    assert!(has_avx512_vnni(), "this CPU has no AVX-512 VNNI");
    // SAFETY: the CPU has the features; `check` bounds every row the kernel reads and writes.
    unsafe { avx512_vnni(w, x, cols, out) }
}

/// [`crate::qmatmul::Layout::Rows16`]: each group of 16 weight rows against the activation
/// rows, up to [`GROUP`] at a time; the group's 16 outputs per activation row are one vector.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,f16c")]
pub(super) unsafe fn avx512_vnni(w: &QMatrix, x: &QActs, cols: Range<usize>, out: &mut [f32]) {
    let nib = w.packing == Packing::Nibbles;
    let mut sums = [[0f32; RUN]; GROUP];
    for g in groups(&cols) {
        let tile = Rows16Tile::new(w, x, g);
        let mut r0 = 0;
        while r0 < x.rows {
            let n = (x.rows - r0).min(GROUP);
            let t = tile.at_row(r0);
            by_rows!(n, nib, rows16_group(&t, &mut sums), [1 2 3 4 5 6 7 8]);
            store_group(out, &cols, g, r0, &sums[..n]);
            r0 += n;
        }
    }
}

/// The groups of 16 interleaved weight rows that the output columns `cols` fall in.
pub(super) fn groups(cols: &Range<usize>) -> Range<usize> {
    cols.start / RUN..cols.end.div_ceil(RUN)
}

/// Writes group `g`'s sums for activation rows `r0..r0 + sums.len()` into `out`
/// (`rows × cols.len()`), keeping the outputs that fall inside `cols`.
pub(super) fn store_group(
    out: &mut [f32],
    cols: &Range<usize>,
    g: usize,
    r0: usize,
    sums: &[[f32; RUN]],
) {
    let (first, last) = (cols.start.max(g * RUN), cols.end.min((g + 1) * RUN));
    let width = cols.len();
    for (i, row) in sums.iter().enumerate() {
        let at = (r0 + i) * width;
        out[at + first - cols.start..at + last - cols.start]
            .copy_from_slice(&row[first - g * RUN..last - g * RUN]);
    }
}

/// Where a group of 16 interleaved weight rows and a group of activation rows begin.
#[derive(Clone, Copy)]
pub(super) struct Rows16Tile {
    pub(super) blocks: usize,
    pub(super) values: *const u8,
    scale: *const f16,
    offset: *const f16,
    pub(super) x_values: *const i8,
    x_scale: *const f32,
    x_sum: *const f32,
}

impl Rows16Tile {
    /// Weight row group `g` (`g · 16 < w.rows`) against activation rows from 0.
    ///
    /// # Safety
    /// `check(w, x, …)` held and `w` is in [`crate::qmatmul::Layout::Rows16`].
    pub(super) unsafe fn new(w: &QMatrix, x: &QActs, g: usize) -> Self {
        let blocks = w.blocks;
        Self {
            blocks,
            values: w.values.as_ptr().add(g * RUN * w.row_bytes()),
            scale: w.scale.as_ptr().add(g * RUN * blocks),
            offset: w.offset.as_ptr().add(g * RUN * blocks),
            x_values: x.values.as_ptr(),
            x_scale: x.scale.as_ptr(),
            x_sum: x.sum.as_ptr(),
        }
    }

    /// Bytes one block of the group's 16 rows takes.
    pub(super) fn block_step<const NIB: bool>(&self) -> usize {
        RUN * if NIB { BLOCK / 2 } else { BLOCK }
    }

    /// Asks for `count` blocks [`PREFETCH_BLOCKS`] past block `b` (values, scales, offsets) to
    /// be brought into cache. Past the end only for the group's last blocks: prefetching never
    /// faults.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn prefetch_ahead<const NIB: bool>(&self, b: usize, count: usize) {
        let step = self.block_step::<NIB>();
        let ahead = self.values.wrapping_add((b + PREFETCH_BLOCKS) * step);
        let mut line = 0;
        while line < count * step {
            _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(line).cast());
            line += 64;
        }
        let params = (b + PREFETCH_BLOCKS) * RUN;
        _mm_prefetch::<_MM_HINT_T0>(self.scale.wrapping_add(params).cast());
        _mm_prefetch::<_MM_HINT_T0>(self.offset.wrapping_add(params).cast());
    }

    /// Block `b`'s scales and offsets of the group's 16 rows.
    #[target_feature(enable = "avx512f,f16c")]
    pub(super) unsafe fn params(&self, b: usize) -> (__m512, __m512) {
        (
            _mm512_cvtph_ps(_mm256_loadu_si256(self.scale.add(b * RUN).cast())),
            _mm512_cvtph_ps(_mm256_loadu_si256(self.offset.add(b * RUN).cast())),
        )
    }

    /// Adds block `b`'s contribution to activation row `i`'s 16 sums: the integer dot products
    /// `dot` scaled by both scales, plus the weight offsets times the activations' sum.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn accumulate(
        &self,
        acc: &mut __m512,
        dot: __m512i,
        (dw, mw): (__m512, __m512),
        i: usize,
        b: usize,
    ) {
        let at = i * self.blocks + b;
        let s = _mm512_mul_ps(dw, _mm512_set1_ps(*self.x_scale.add(at)));
        *acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), s, *acc);
        *acc = _mm512_fmadd_ps(mw, _mm512_set1_ps(*self.x_sum.add(at)), *acc);
    }

    /// The same weights against activation rows from `r0` (`r0 < x.rows`).
    pub(super) unsafe fn at_row(&self, r0: usize) -> Self {
        Self {
            x_values: self.x_values.add(r0 * self.blocks * BLOCK),
            x_scale: self.x_scale.add(r0 * self.blocks),
            x_sum: self.x_sum.add(r0 * self.blocks),
            ..*self
        }
    }
}

/// Blocks of a [`crate::qmatmul::Layout::Rows16`] group fetched ahead of the one being multiplied (6 KiB
/// of 4-bit weights): single-stream decoding measured about a fifth faster than with 8, batched
/// decoding the same.
pub(super) const PREFETCH_BLOCKS: usize = 24;

/// Sixteen interleaved weight rows against `R` activation rows: `sums[i][lane]` is activation
/// row `i` times weight row `lane` of the group.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,f16c")]
unsafe fn rows16_group<const R: usize, const NIB: bool>(
    t: &Rows16Tile,
    sums: &mut [[f32; RUN]; GROUP],
) {
    let step = t.block_step::<NIB>();
    let mut acc = [_mm512_setzero_ps(); R];
    for b in 0..t.blocks {
        t.prefetch_ahead::<NIB>(b, 1);
        let base = t.values.add(b * step);
        let wq = if NIB {
            unpack_nibbles(base)
        } else {
            std::array::from_fn(|j| _mm512_loadu_si512(base.add(j * 64).cast()))
        };
        let params = t.params(b);
        for (i, a) in acc.iter_mut().enumerate() {
            let xa = t
                .x_values
                .add(i * t.blocks * BLOCK + b * BLOCK)
                .cast::<i32>();
            let four = |j: usize| _mm512_set1_epi32(xa.add(j).read_unaligned());
            // Fewer rows in flight: split the chain so each waits on fewer latencies.
            let dot = if R >= 4 {
                let mut d = _mm512_setzero_si512();
                for (j, wj) in wq.iter().enumerate() {
                    d = _mm512_dpbusd_epi32(d, *wj, four(j));
                }
                d
            } else {
                let mut d = [_mm512_setzero_si512(); 4];
                for (j, wj) in wq.iter().enumerate() {
                    d[j % 4] = _mm512_dpbusd_epi32(d[j % 4], *wj, four(j));
                }
                _mm512_add_epi32(_mm512_add_epi32(d[0], d[1]), _mm512_add_epi32(d[2], d[3]))
            };
            t.accumulate(a, dot, params, i, b);
        }
    }
    for (sum, a) in sums.iter_mut().zip(&acc) {
        _mm512_storeu_ps(sum.as_mut_ptr(), *a);
    }
}

/// The eight vectors of a block of 4-bit interleaved weights at `base` (four 64-byte vectors:
/// vector `v`'s low nibbles are weights `4v..4v + 4` of each row, its high nibbles `4v + 16..`).
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) unsafe fn unpack_nibbles(base: *const u8) -> [__m512i; 8] {
    let low4 = _mm512_set1_epi8(0x0F);
    let mut wq = [_mm512_setzero_si512(); 8];
    for v in 0..4 {
        let packed = _mm512_loadu_si512(base.add(v * 64).cast());
        wq[v] = _mm512_and_si512(packed, low4);
        wq[v + 4] = _mm512_and_si512(_mm512_srli_epi16::<4>(packed), low4);
    }
    wq
}

/// Quantises rows of `cols` values into `blocks` blocks a row, in order ([`crate::qmatmul::Layout::Pairs`]'
/// activations), exactly as [`crate::qmatmul::quantize_block`] does: the same scale, the same rounding
/// (half away from zero), the same values. Blocks past `cols` are zero.
pub(in crate::qmatmul) fn quantize_rows_avx512(x: &[f32], cols: usize, a: &mut QActs) {
    assert!(has_avx512_vnni(), "this CPU has no AVX-512");
    assert_eq!(x.len(), a.rows * cols, "input size");
    assert!(cols <= a.blocks * BLOCK, "input wider than its blocks");
    assert_eq!(a.values.len(), a.rows * a.blocks * BLOCK, "activation size");
    assert_eq!(a.scale.len(), a.rows * a.blocks, "activation scales");
    assert_eq!(a.sum.len(), a.rows * a.blocks, "activation sums");
    for r in 0..a.rows {
        let row = &x[r * cols..(r + 1) * cols];
        for b in 0..a.blocks {
            let chunk = &row[(b * BLOCK).min(cols)..((b + 1) * BLOCK).min(cols)];
            let at = r * a.blocks + b;
            let out = &mut a.values[at * BLOCK..(at + 1) * BLOCK];
            // SAFETY: the CPU has the features; the block reads `chunk` (≤ 32 values, masked)
            // and writes the 32 bytes of `out`.
            let (d, total) = unsafe { quantize_block(chunk, out) };
            a.scale[at] = d;
            a.sum[at] = d * total as f32;
        }
    }
}

/// One block: writes its 32 signed values and returns its scale and their sum.
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn quantize_block(chunk: &[f32], out: &mut [i8]) -> (f32, i32) {
    let n = chunk.len().min(BLOCK);
    let mask = |from: usize| -> __mmask16 {
        let k = n.saturating_sub(from).min(16);
        ((1u32 << k) - 1) as u16
    };
    let (m0, m1) = (mask(0), mask(16));
    let v0 = _mm512_maskz_loadu_ps(m0, chunk.as_ptr());
    let v1 = _mm512_maskz_loadu_ps(m1, chunk.as_ptr().wrapping_add(16));
    let amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    let d = amax / 127.0;
    let id = _mm512_set1_ps(if d == 0.0 { 0.0 } else { 1.0 / d });
    let half = _mm512_set1_ps(0.5);
    let sign = _mm512_set1_epi32(i32::MIN);
    let round = |v: __m512| {
        let r = _mm512_mul_ps(v, id);
        let h = _mm512_or_ps(half, _mm512_and_ps(r, _mm512_castsi512_ps(sign)));
        _mm512_cvttps_epi32(_mm512_add_ps(r, h))
    };
    let (q0, q1) = (round(v0), round(v1));
    _mm_storeu_si128(out.as_mut_ptr().cast(), _mm512_cvtepi32_epi8(q0));
    _mm_storeu_si128(out.as_mut_ptr().add(16).cast(), _mm512_cvtepi32_epi8(q1));
    (d, _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1)))
}
