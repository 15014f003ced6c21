//! x86-64 kernels: AVX-512 VNNI (`vpdpbusd`, 64 weights an instruction; 16 interleaved rows at
//! a time) and AVX2 (`vpmaddubsw` + `vpmaddwd`, 32; one row at a time, blocks in pairs). Both
//! walk the output columns (weight rows) in the outer loop and the activation rows in groups
//! of up to [`GROUP`] inside it, so each weight row is read and unpacked once per group while
//! the group's accumulators stay in registers. Also here: the AVX-512 activation quantiser and
//! attention's bfloat16 helpers.
//!
//! The only module of Nuri's allowed `unsafe`: intrinsics need it. The safe entry points check
//! the CPU's features and every shape the kernels rely on ([`check`], the `assert!`s of the
//! attention helpers); the raw pointers below stay inside the rows those checks cover.

#![allow(unsafe_code)]

use std::arch::x86_64::*;
use std::ops::Range;

use half::f16;

use super::{Packing, QActs, QMatrix, BLOCK, RUN};

/// Activation rows one pass over a weight row serves.
const GROUP: usize = 8;

/// Whether the AVX2 kernel can run.
pub(super) fn has_avx2() -> bool {
    is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c")
}

/// Whether the AVX-512 VNNI kernel can run (detected once: the attention helpers ask per call).
pub(super) fn has_avx512_vnni() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(detect_avx512_vnni)
}

fn detect_avx512_vnni() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512vnni")
        && is_x86_feature_detected!("f16c")
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
            let sums = match (n, nib) {
                (8, true) => $body::<8, true>(&tile),
                (8, false) => $body::<8, false>(&tile),
                (7, true) => $body::<7, true>(&tile),
                (7, false) => $body::<7, false>(&tile),
                (6, true) => $body::<6, true>(&tile),
                (6, false) => $body::<6, false>(&tile),
                (5, true) => $body::<5, true>(&tile),
                (5, false) => $body::<5, false>(&tile),
                (4, true) => $body::<4, true>(&tile),
                (4, false) => $body::<4, false>(&tile),
                (3, true) => $body::<3, true>(&tile),
                (3, false) => $body::<3, false>(&tile),
                (2, true) => $body::<2, true>(&tile),
                (2, false) => $body::<2, false>(&tile),
                (_, true) => $body::<1, true>(&tile),
                (_, false) => $body::<1, false>(&tile),
            };
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

/// Whether the AMX kernel can run: the CPU has AMX-TILE and AMX-INT8 (besides the AVX-512 the
/// rest of it uses) and Linux lets this process use tile data. Asked once per process.
pub(super) fn has_amx() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| has_avx512_vnni() && cpu_has_amx_int8() && request_tile_data())
}

fn cpu_has_amx_int8() -> bool {
    // CPUID leaf 7: EDX bit 24 is AMX-TILE, bit 25 AMX-INT8.
    let leaf = __cpuid_count(7, 0);
    leaf.edx & (1 << 24) != 0 && leaf.edx & (1 << 25) != 0
}

/// Asks Linux for the tile-data state (`arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`),
/// which a process must do before its first tile instruction.
#[cfg(target_os = "linux")]
fn request_tile_data() -> bool {
    const ARCH_PRCTL: i64 = 158;
    const ARCH_REQ_XCOMP_PERM: i64 = 0x1023;
    const XFEATURE_XTILEDATA: i64 = 18;
    let result: i64;
    // SAFETY: a plain system call that changes no memory of ours; `syscall` clobbers rcx and
    // r11 only.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") ARCH_PRCTL => result,
            in("rdi") ARCH_REQ_XCOMP_PERM,
            in("rsi") XFEATURE_XTILEDATA,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    result == 0
}

#[cfg(not(target_os = "linux"))]
fn request_tile_data() -> bool {
    false
}

/// AMX matmul ([`super::Layout::Rows16`]); see [`super::Kernel::run`]. Fewer than
/// [`AMX_MIN_ROWS`] activation rows take the AVX-512 VNNI path. Panics on a CPU without AMX.
pub(super) fn matmul_amx(w: &QMatrix, x: &QActs, cols: Range<usize>, out: &mut [f32]) {
    check(w, x, &cols, out);
    assert!(has_amx(), "this CPU has no usable AMX");
    // SAFETY: the CPU has the features and the process has tile data; `check` bounds every row
    // the kernel reads and writes.
    unsafe {
        if x.rows < AMX_MIN_ROWS {
            avx512_vnni(w, x, cols, out)
        } else {
            amx(w, x, cols, out)
        }
    }
}

/// Activation rows from which the tiles are used. With 8 rows (8 streams decoding) they
/// measured no faster than the `vpdpbusd` chains, since scaling the sums per block stays in
/// vector registers either way; prompts (hundreds of rows) ran 10–45 % faster.
const AMX_MIN_ROWS: usize = 16;

/// Rows of activations one AMX pass serves (a tile's 16 rows).
const AMX_ROWS: usize = 16;

/// The tile configuration (`ldtilecfg`'s 64-byte operand): tiles 0 and 3 hold sums (`m` rows
/// × 16 i32), 1 and 4 activations (`m` rows × 32 bytes), 2 and 5 weights (8 rows × 64 bytes:
/// one block of 16 interleaved rows, exactly [`super::Layout::Rows16`]'s order).
#[repr(C, align(64))]
struct TileConfig {
    palette: u8,
    start_row: u8,
    reserved: [u8; 14],
    colsb: [u16; 16],
    rows: [u8; 16],
}

impl TileConfig {
    fn for_rows(m: usize) -> Self {
        let m = m as u8;
        let mut c = Self {
            palette: 1,
            start_row: 0,
            reserved: [0; 14],
            colsb: [0; 16],
            rows: [0; 16],
        };
        let tiles = [(m, 64), (m, 32), (8, 64), (m, 64), (m, 32), (8, 64)];
        for (t, (rows, colsb)) in tiles.into_iter().enumerate() {
            c.rows[t] = rows;
            c.colsb[t] = colsb;
        }
        c
    }
}

/// 64-byte aligned scratch for tiles: a pair of blocks' unpacked weights and stored sums.
#[repr(C, align(64))]
struct Scratch {
    weights: [[u8; 512]; 2],
    sums: [[[i32; RUN]; AMX_ROWS]; 2],
}

/// AMX: for each pass of up to 16 activation rows, each group of 16 weight rows takes one
/// `tdpbsud` per block (16 × m × 32 products), two blocks in flight; the sums are scaled and
/// accumulated in AVX-512 registers as on the VNNI path.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,f16c")]
unsafe fn amx(w: &QMatrix, x: &QActs, cols: Range<usize>, out: &mut [f32]) {
    let nib = w.packing == Packing::Nibbles;
    let width = cols.len();
    let mut sums = [[0f32; RUN]; AMX_ROWS];
    let mut scratch = Scratch {
        weights: [[0; 512]; 2],
        sums: [[[0; RUN]; AMX_ROWS]; 2],
    };
    let mut r0 = 0;
    while r0 < x.rows {
        let m = (x.rows - r0).min(AMX_ROWS);
        let config = TileConfig::for_rows(m);
        std::arch::asm!("ldtilecfg [{}]", in(reg) &config, options(nostack, readonly));
        let mut g = cols.start / RUN;
        while g * RUN < cols.end {
            let (first, last) = (cols.start.max(g * RUN), cols.end.min((g + 1) * RUN));
            let t = Rows16Tile::new(w, x, g).at_row(r0);
            macro_rules! dispatch {
                ($($n:literal)*) => {
                    match (m, nib) {
                        $(
                            ($n, true) => amx_group::<$n, true>(&t, &mut scratch, &mut sums),
                            ($n, false) => amx_group::<$n, false>(&t, &mut scratch, &mut sums),
                        )*
                        _ => {}
                    }
                };
            }
            dispatch!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);
            for (i, row) in sums.iter().take(m).enumerate() {
                let at = (r0 + i) * width;
                out[at + first - cols.start..at + last - cols.start]
                    .copy_from_slice(&row[first - g * RUN..last - g * RUN]);
            }
            g += 1;
        }
        r0 += m;
    }
    std::arch::asm!("tilerelease", options(nostack, nomem));
}

/// Sixteen interleaved weight rows against `M` activation rows with tiles configured for `M`
/// rows: `sums[i][lane]` as [`rows16_group`] gives them. Two blocks are in flight on the tiles
/// at a time. (Overlapping one pair's tile products with the previous pair's scaling, in two
/// more sum tiles, measured slower.)
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,f16c")]
unsafe fn amx_group<const M: usize, const NIB: bool>(
    t: &Rows16Tile,
    scratch: &mut Scratch,
    sums: &mut [[f32; RUN]; AMX_ROWS],
) {
    let Rows16Tile {
        blocks,
        values: wv,
        scale: ws,
        offset: wo,
        x_values: xq,
        x_scale: xsc,
        x_sum: xm,
    } = *t;
    let step = RUN * if NIB { BLOCK / 2 } else { BLOCK };
    let x_stride = blocks * BLOCK;
    let low4 = _mm512_set1_epi8(0x0F);
    let mut acc = [_mm512_setzero_ps(); M];
    // Blocks come in pairs (rows are padded to an even count of blocks).
    let mut b = 0;
    while b < blocks {
        let ahead = wv.wrapping_add((b + PREFETCH_BLOCKS) * step);
        let mut line = 0;
        while line < 2 * step {
            _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(line).cast());
            line += 64;
        }
        let mut src = [std::ptr::null::<u8>(); 2];
        for (h, s) in src.iter_mut().enumerate() {
            let base = wv.add((b + h) * step);
            *s = if NIB {
                let dst = scratch.weights[h].as_mut_ptr();
                for v in 0..4 {
                    let packed = _mm512_loadu_si512(base.add(v * 64).cast());
                    _mm512_store_si512(dst.add(v * 64).cast(), _mm512_and_si512(packed, low4));
                    _mm512_store_si512(
                        dst.add((v + 4) * 64).cast(),
                        _mm512_and_si512(_mm512_srli_epi16::<4>(packed), low4),
                    );
                }
                dst
            } else {
                base
            };
        }
        // Signed activations (m rows × 32) times unsigned weights (8 × 64, four weights of
        // each of the 16 rows a line), accumulated in i32 (m × 16).
        std::arch::asm!(
            "tilezero tmm0",
            "tilezero tmm3",
            "tileloadd tmm1, [{a0} + {sa}*1]",
            "tileloadd tmm2, [{w0} + {sw}*1]",
            "tdpbsud tmm0, tmm1, tmm2",
            "tileloadd tmm4, [{a1} + {sa}*1]",
            "tileloadd tmm5, [{w1} + {sw}*1]",
            "tdpbsud tmm3, tmm4, tmm5",
            "tilestored [{c0} + {sw}*1], tmm0",
            "tilestored [{c1} + {sw}*1], tmm3",
            a0 = in(reg) xq.add(b * BLOCK),
            a1 = in(reg) xq.add((b + 1) * BLOCK),
            sa = in(reg) x_stride,
            w0 = in(reg) src[0],
            w1 = in(reg) src[1],
            sw = in(reg) 64usize,
            c0 = in(reg) scratch.sums[0].as_mut_ptr(),
            c1 = in(reg) scratch.sums[1].as_mut_ptr(),
            options(nostack),
        );
        for h in 0..2 {
            let bb = b + h;
            let dw = _mm512_cvtph_ps(_mm256_loadu_si256(ws.add(bb * RUN).cast()));
            let mw = _mm512_cvtph_ps(_mm256_loadu_si256(wo.add(bb * RUN).cast()));
            for (i, a) in acc.iter_mut().enumerate() {
                let dot = _mm512_load_si512(scratch.sums[h][i].as_ptr().cast());
                let at = i * blocks + bb;
                let s = _mm512_mul_ps(dw, _mm512_set1_ps(*xsc.add(at)));
                *a = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), s, *a);
                *a = _mm512_fmadd_ps(mw, _mm512_set1_ps(*xm.add(at)), *a);
            }
        }
        b += 2;
    }
    for (sum, a) in sums.iter_mut().zip(&acc) {
        _mm512_storeu_ps(sum.as_mut_ptr(), *a);
    }
}

/// AVX-512 VNNI matmul; see [`super::Kernel::run`]. Panics on a CPU without it.
pub(super) fn matmul_avx512_vnni(w: &QMatrix, x: &QActs, cols: Range<usize>, out: &mut [f32]) {
    check(w, x, &cols, out);
    assert!(has_avx512_vnni(), "this CPU has no AVX-512 VNNI");
    // SAFETY: the CPU has the features; `check` bounds every row the kernel reads and writes.
    unsafe { avx512_vnni(w, x, cols, out) }
}

/// AVX2 matmul; see [`super::Kernel::run`]. Panics on a CPU without it.
pub(super) fn matmul_avx2(w: &QMatrix, x: &QActs, cols: Range<usize>, out: &mut [f32]) {
    check(w, x, &cols, out);
    assert!(has_avx2(), "this CPU has no AVX2");
    // SAFETY: as above.
    unsafe { avx2(w, x, cols, out) }
}

/// The shapes the kernels rely on: matching widths, whole pairs of blocks, columns inside the
/// matrix and an output of `x.rows × cols.len()`.
fn check(w: &QMatrix, x: &QActs, cols: &Range<usize>, out: &[f32]) {
    assert_eq!(
        w.blocks, x.blocks,
        "activation width does not match the matrix"
    );
    assert_eq!(w.blocks % 2, 0, "blocks come in pairs");
    assert!(cols.end <= w.rows, "columns outside the matrix");
    assert_eq!(out.len(), x.rows * cols.len(), "output size");
    assert_eq!(x.values.len(), x.rows * x.blocks * BLOCK, "activation size");
    assert_eq!(x.scale.len(), x.rows * x.blocks, "activation scales");
    assert_eq!(x.sum.len(), x.rows * x.blocks, "activation sums");
    let stored = w.layout.stored_rows(w.rows);
    assert_eq!(w.values.len(), stored * w.row_bytes(), "weight size");
    assert_eq!(w.scale.len(), stored * w.blocks, "weight scales");
    assert_eq!(w.offset.len(), stored * w.blocks, "weight offsets");
}

/// [`super::Layout::Rows16`]: each group of 16 weight rows against the activation rows, up to
/// [`GROUP`] at a time; the group's 16 outputs per activation row are one vector.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,f16c")]
unsafe fn avx512_vnni(w: &QMatrix, x: &QActs, cols: Range<usize>, out: &mut [f32]) {
    let nib = w.packing == Packing::Nibbles;
    let width = cols.len();
    let mut sums = [[0f32; RUN]; GROUP];
    let mut g = cols.start / RUN;
    while g * RUN < cols.end {
        // The outputs of this group that fall inside `cols`.
        let (first, last) = (cols.start.max(g * RUN), cols.end.min((g + 1) * RUN));
        let tile = Rows16Tile::new(w, x, g);
        let mut r0 = 0;
        while r0 < x.rows {
            let n = (x.rows - r0).min(GROUP);
            let t = tile.at_row(r0);
            match (n, nib) {
                (8, true) => rows16_group::<8, true>(&t, &mut sums),
                (8, false) => rows16_group::<8, false>(&t, &mut sums),
                (7, true) => rows16_group::<7, true>(&t, &mut sums),
                (7, false) => rows16_group::<7, false>(&t, &mut sums),
                (6, true) => rows16_group::<6, true>(&t, &mut sums),
                (6, false) => rows16_group::<6, false>(&t, &mut sums),
                (5, true) => rows16_group::<5, true>(&t, &mut sums),
                (5, false) => rows16_group::<5, false>(&t, &mut sums),
                (4, true) => rows16_group::<4, true>(&t, &mut sums),
                (4, false) => rows16_group::<4, false>(&t, &mut sums),
                (3, true) => rows16_group::<3, true>(&t, &mut sums),
                (3, false) => rows16_group::<3, false>(&t, &mut sums),
                (2, true) => rows16_group::<2, true>(&t, &mut sums),
                (2, false) => rows16_group::<2, false>(&t, &mut sums),
                (_, true) => rows16_group::<1, true>(&t, &mut sums),
                (_, false) => rows16_group::<1, false>(&t, &mut sums),
            }
            for (i, row) in sums.iter().take(n).enumerate() {
                let at = (r0 + i) * width;
                out[at + first - cols.start..at + last - cols.start]
                    .copy_from_slice(&row[first - g * RUN..last - g * RUN]);
            }
            r0 += n;
        }
        g += 1;
    }
}

/// Where a group of 16 interleaved weight rows and a group of activation rows begin.
#[derive(Clone, Copy)]
struct Rows16Tile {
    blocks: usize,
    values: *const u8,
    scale: *const f16,
    offset: *const f16,
    x_values: *const i8,
    x_scale: *const f32,
    x_sum: *const f32,
}

impl Rows16Tile {
    /// Weight row group `g` (`g · 16 < w.rows`) against activation rows from 0.
    ///
    /// # Safety
    /// `check(w, x, …)` held and `w` is in [`super::Layout::Rows16`].
    unsafe fn new(w: &QMatrix, x: &QActs, g: usize) -> Self {
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

    /// The same weights against activation rows from `r0` (`r0 < x.rows`).
    unsafe fn at_row(&self, r0: usize) -> Self {
        Self {
            x_values: self.x_values.add(r0 * self.blocks * BLOCK),
            x_scale: self.x_scale.add(r0 * self.blocks),
            x_sum: self.x_sum.add(r0 * self.blocks),
            ..*self
        }
    }
}

/// Blocks of a [`super::Layout::Rows16`] group fetched ahead of the one being multiplied (6 KiB
/// of 4-bit weights): single-stream decoding measured about a fifth faster than with 8, batched
/// decoding the same.
const PREFETCH_BLOCKS: usize = 24;

/// Sixteen interleaved weight rows against `R` activation rows: `sums[i][lane]` is activation
/// row `i` times weight row `lane` of the group.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,f16c")]
unsafe fn rows16_group<const R: usize, const NIB: bool>(
    t: &Rows16Tile,
    sums: &mut [[f32; RUN]; GROUP],
) {
    let Rows16Tile {
        blocks,
        values: wv,
        scale: ws,
        offset: wo,
        x_values: xq,
        x_scale: xsc,
        x_sum: xm,
    } = *t;
    let step = RUN * if NIB { BLOCK / 2 } else { BLOCK };
    let low4 = _mm512_set1_epi8(0x0F);
    let mut acc = [_mm512_setzero_ps(); R];
    for b in 0..blocks {
        let base = wv.add(b * step);
        // Past the end only for the group's last blocks: prefetching never faults.
        let ahead = wv.wrapping_add((b + PREFETCH_BLOCKS) * step);
        let mut line = 0;
        while line < step {
            _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(line).cast());
            line += 64;
        }
        _mm_prefetch::<_MM_HINT_T0>(ws.wrapping_add((b + PREFETCH_BLOCKS) * RUN).cast());
        _mm_prefetch::<_MM_HINT_T0>(wo.wrapping_add((b + PREFETCH_BLOCKS) * RUN).cast());
        let mut wq = [_mm512_setzero_si512(); 8];
        if NIB {
            for v in 0..4 {
                let packed = _mm512_loadu_si512(base.add(v * 64).cast());
                wq[v] = _mm512_and_si512(packed, low4);
                wq[v + 4] = _mm512_and_si512(_mm512_srli_epi16::<4>(packed), low4);
            }
        } else {
            for (j, v) in wq.iter_mut().enumerate() {
                *v = _mm512_loadu_si512(base.add(j * 64).cast());
            }
        }
        let dw = _mm512_cvtph_ps(_mm256_loadu_si256(ws.add(b * RUN).cast()));
        let mw = _mm512_cvtph_ps(_mm256_loadu_si256(wo.add(b * RUN).cast()));
        for (i, a) in acc.iter_mut().enumerate() {
            let xa = xq.add(i * blocks * BLOCK + b * BLOCK).cast::<i32>();
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
            let at = i * blocks + b;
            let s = _mm512_mul_ps(dw, _mm512_set1_ps(*xsc.add(at)));
            *a = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), s, *a);
            *a = _mm512_fmadd_ps(mw, _mm512_set1_ps(*xm.add(at)), *a);
        }
    }
    for (sum, a) in sums.iter_mut().zip(&acc) {
        _mm512_storeu_ps(sum.as_mut_ptr(), *a);
    }
}

/// Quantises rows of `cols` values into `blocks` blocks a row, in order ([`super::Layout::Pairs`]'
/// activations), exactly as [`super::quantize_block`] does: the same scale, the same rounding
/// (half away from zero), the same values. Blocks past `cols` are zero.
pub(super) fn quantize_rows_avx512(x: &[f32], cols: usize, a: &mut QActs) {
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

/// The lane sums of up to eight accumulators, in order. Pairs of accumulators are folded
/// together (512 → 256 → 128 bits, then within 128 bits), which takes about half the shuffles
/// of reducing each on its own.
#[target_feature(enable = "avx512f")]
unsafe fn reduce_rows<const R: usize>(acc: &[__m512; R]) -> [f32; 16] {
    let zero = _mm512_setzero_ps();
    let get = |i: usize| if i < R { acc[i] } else { zero };
    // [a.0 + a.2, a.1 + a.3, b.0 + b.2, b.1 + b.3] in 128-bit quarters.
    let halve = |a: __m512, b: __m512| {
        _mm512_add_ps(
            _mm512_shuffle_f32x4::<0b01_00_01_00>(a, b),
            _mm512_shuffle_f32x4::<0b11_10_11_10>(a, b),
        )
    };
    // [a.0 + a.1, b.0 + b.1, c.0 + c.1, d.0 + d.1]: one 128-bit partial per accumulator.
    let quarter = |ab: __m512, cd: __m512| {
        _mm512_add_ps(
            _mm512_shuffle_f32x4::<0b10_00_10_00>(ab, cd),
            _mm512_shuffle_f32x4::<0b11_01_11_01>(ab, cd),
        )
    };
    let lo = quarter(halve(get(0), get(1)), halve(get(2), get(3)));
    let mut sums = [0f32; 16];
    if R <= 4 {
        // Within each quarter: x0 + x1 + x2 + x3.
        let t = _mm512_add_ps(lo, _mm512_permute_ps::<0b10_11_00_01>(lo));
        let t = _mm512_add_ps(t, _mm512_permute_ps::<0b01_00_11_10>(t));
        let mut all = [0f32; 16];
        _mm512_storeu_ps(all.as_mut_ptr(), t);
        for (i, s) in sums.iter_mut().take(4).enumerate() {
            *s = all[4 * i];
        }
    } else {
        let hi = quarter(halve(get(4), get(5)), halve(get(6), get(7)));
        // Per quarter q: [lo.q0 + lo.q2, hi.q0 + hi.q2, lo.q1 + lo.q3, hi.q1 + hi.q3].
        let t = _mm512_add_ps(_mm512_unpacklo_ps(lo, hi), _mm512_unpackhi_ps(lo, hi));
        // Lane 4q: accumulator q's total; lane 4q + 1: accumulator q + 4's.
        let t = _mm512_add_ps(t, _mm512_permute_ps::<0b01_00_11_10>(t));
        let mut all = [0f32; 16];
        _mm512_storeu_ps(all.as_mut_ptr(), t);
        for q in 0..4 {
            sums[q] = all[4 * q];
            sums[q + 4] = all[4 * q + 1];
        }
    }
    sums
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

/// `Σ a[i] · b[i]` for f32 `a` and bfloat16 `b` of the same length: one attention score.
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn dot_bf16(a: &[f32], b: &[u16]) -> f32 {
    let mut acc = _mm512_setzero_ps();
    let mut i = 0;
    while i + 16 <= a.len() {
        let x = _mm512_loadu_ps(a.as_ptr().add(i));
        acc = _mm512_fmadd_ps(x, bf16x16(b.as_ptr().add(i)), acc);
        i += 16;
    }
    let tail: f32 = a[i..]
        .iter()
        .zip(&b[i..])
        .map(|(x, &y)| x * f32::from_bits(u32::from(y) << 16))
        .sum();
    _mm512_reduce_add_ps(acc) + tail
}

/// `out[i] += p · v[i]` for bfloat16 `v` (attention's weighted sum of the cached values).
pub(super) fn add_scaled_bf16_avx512(out: &mut [f32], p: f32, v: &[u16]) {
    assert!(has_avx512_vnni(), "this CPU has no AVX-512");
    let n = out.len().min(v.len());
    // SAFETY: as above.
    unsafe { add_scaled_bf16(&mut out[..n], p, &v[..n]) }
}

#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn add_scaled_bf16(out: &mut [f32], p: f32, v: &[u16]) {
    let scale = _mm512_set1_ps(p);
    let mut i = 0;
    while i + 16 <= out.len() {
        let o = out.as_mut_ptr().add(i);
        _mm512_storeu_ps(
            o,
            _mm512_fmadd_ps(scale, bf16x16(v.as_ptr().add(i)), _mm512_loadu_ps(o)),
        );
        i += 16;
    }
    for (o, &x) in out[i..].iter_mut().zip(&v[i..]) {
        *o += p * f32::from_bits(u32::from(x) << 16);
    }
}

/// Sixteen bfloat16 values at `p` as f32.
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn bf16x16(p: *const u16) -> __m512 {
    let h = _mm256_loadu_si256(p.cast());
    _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(h)))
}

/// `out[j] = q · keys[j·stride..j·stride + q.len()]` for bfloat16 keys (one head's attention
/// scores), eight keys at a time.
pub(super) fn scores_bf16_avx512(q: &[f32], keys: &[u16], stride: usize, out: &mut [f32]) {
    assert!(has_avx512_vnni(), "this CPU has no AVX-512");
    let n = out.len();
    assert!(
        n == 0 || (n - 1) * stride + q.len() <= keys.len(),
        "keys out of range"
    );
    // SAFETY: the CPU has the features; every key read lies inside `keys` (checked above).
    unsafe { scores_bf16(q, keys, stride, out) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn scores_bf16(q: &[f32], keys: &[u16], stride: usize, out: &mut [f32]) {
    let hd = q.len();
    let full = hd / 16;
    let mask: __mmask16 = ((1u32 << (hd % 16)) - 1) as u16;
    let mut j = 0;
    while j + 8 <= out.len() {
        let mut acc = [_mm512_setzero_ps(); 8];
        for c in 0..full {
            let qv = _mm512_loadu_ps(q.as_ptr().add(c * 16));
            for (i, a) in acc.iter_mut().enumerate() {
                let k = bf16x16(keys.as_ptr().add((j + i) * stride + c * 16));
                *a = _mm512_fmadd_ps(qv, k, *a);
            }
        }
        if mask != 0 {
            let qv = _mm512_maskz_loadu_ps(mask, q.as_ptr().add(full * 16));
            for (i, a) in acc.iter_mut().enumerate() {
                let h = _mm256_maskz_loadu_epi16(
                    mask,
                    keys.as_ptr().add((j + i) * stride + full * 16).cast(),
                );
                let k = _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(h)));
                *a = _mm512_fmadd_ps(qv, k, *a);
            }
        }
        out[j..j + 8].copy_from_slice(&reduce_rows(&acc)[..8]);
        j += 8;
    }
    for (jj, o) in out.iter_mut().enumerate().skip(j) {
        *o = dot_bf16(q, &keys[jj * stride..jj * stride + hd]);
    }
}

/// [`scores_bf16_avx512`] for `G` query heads that share their keys (grouped-query
/// attention), each key read and widened once for all of them: `q` holds the heads one after
/// another, `out` their `n` scores each.
pub(super) fn scores_bf16_heads_avx512<const G: usize>(
    q: &[f32],
    keys: &[u16],
    stride: usize,
    out: &mut [f32],
) {
    assert!(has_avx512_vnni(), "this CPU has no AVX-512");
    assert!(G > 0 && q.len().is_multiple_of(G) && out.len().is_multiple_of(G));
    let (hd, n) = (q.len() / G, out.len() / G);
    assert!(
        n == 0 || (n - 1) * stride + hd <= keys.len(),
        "keys out of range"
    );
    // SAFETY: the CPU has the features; every key read lies inside `keys` (checked above).
    unsafe { scores_bf16_heads::<G>(q, keys, stride, out) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn scores_bf16_heads<const G: usize>(
    q: &[f32],
    keys: &[u16],
    stride: usize,
    out: &mut [f32],
) {
    let (hd, n) = (q.len() / G, out.len() / G);
    let full = hd / 16;
    let mask: __mmask16 = ((1u32 << (hd % 16)) - 1) as u16;
    let key = |j: usize, c: usize, m: __mmask16| {
        let h = _mm256_maskz_loadu_epi16(m, keys.as_ptr().add(j * stride + c * 16).cast());
        _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(h)))
    };
    let mut j = 0;
    while j + 8 <= n {
        let mut acc = [[_mm512_setzero_ps(); 8]; G];
        for c in 0..full + usize::from(mask != 0) {
            let m = if c < full { u16::MAX } else { mask };
            let qv: [__m512; G] =
                std::array::from_fn(|g| _mm512_maskz_loadu_ps(m, q.as_ptr().add(g * hd + c * 16)));
            for i in 0..8 {
                let k = key(j + i, c, m);
                for (a, qg) in acc.iter_mut().zip(&qv) {
                    a[i] = _mm512_fmadd_ps(*qg, k, a[i]);
                }
            }
        }
        for (g, a) in acc.iter().enumerate() {
            out[g * n + j..g * n + j + 8].copy_from_slice(&reduce_rows(a)[..8]);
        }
        j += 8;
    }
    for jj in j..n {
        for g in 0..G {
            out[g * n + jj] = dot_bf16(
                &q[g * hd..(g + 1) * hd],
                &keys[jj * stride..jj * stride + hd],
            );
        }
    }
}

/// [`weighted_sum_bf16_avx512`] for `G` heads that share their values: `p` holds each
/// head's `n` weights, `out` each head's sum; each value row is read and widened once.
/// `None` when the head size is not a multiple of 64.
pub(super) fn weighted_sum_bf16_heads_avx512<const G: usize>(
    p: &[f32],
    values: &[u16],
    stride: usize,
    out: &mut [f32],
) -> Option<()> {
    assert!(has_avx512_vnni(), "this CPU has no AVX-512");
    assert!(G > 0 && p.len().is_multiple_of(G) && out.len().is_multiple_of(G));
    let (n, hd) = (p.len() / G, out.len() / G);
    if !hd.is_multiple_of(64) {
        return None;
    }
    assert!(
        n == 0 || (n - 1) * stride + hd <= values.len(),
        "values out of range"
    );
    for chunk in 0..hd / 64 {
        // SAFETY: the CPU has the features; reads stay inside `values` (checked above) and
        // the chunk writes 64 values of each head's part of `out`.
        unsafe { weighted_sum_heads_64::<G>(p, &values[chunk * 64..], stride, out, chunk * 64) };
    }
    Some(())
}

#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn weighted_sum_heads_64<const G: usize>(
    p: &[f32],
    values: &[u16],
    stride: usize,
    out: &mut [f32],
    at: usize,
) {
    let (n, hd) = (p.len() / G, out.len() / G);
    let mut acc = [[_mm512_setzero_ps(); 4]; G];
    for j in 0..n {
        let base = values.as_ptr().add(j * stride);
        let v: [__m512; 4] = std::array::from_fn(|c| bf16x16(base.add(c * 16)));
        for (g, a) in acc.iter_mut().enumerate() {
            let pv = _mm512_set1_ps(*p.get_unchecked(g * n + j));
            for (ac, vc) in a.iter_mut().zip(&v) {
                *ac = _mm512_fmadd_ps(pv, *vc, *ac);
            }
        }
    }
    for (g, a) in acc.iter().enumerate() {
        for (c, ac) in a.iter().enumerate() {
            _mm512_storeu_ps(out.as_mut_ptr().add(g * hd + at + c * 16), *ac);
        }
    }
}

/// `out = Σ_j p[j] · values[j·stride..j·stride + out.len()]` for bfloat16 values (one head's
/// weighted sum), keeping `out` in registers across all the keys. `None` when the head size is
/// not a multiple of 64 (the caller then takes the plain path).
pub(super) fn weighted_sum_bf16_avx512(
    p: &[f32],
    values: &[u16],
    stride: usize,
    out: &mut [f32],
) -> Option<()> {
    assert!(has_avx512_vnni(), "this CPU has no AVX-512");
    let (n, hd) = (p.len(), out.len());
    if !hd.is_multiple_of(64) {
        return None;
    }
    assert!(
        n == 0 || (n - 1) * stride + hd <= values.len(),
        "values out of range"
    );
    for chunk in 0..hd / 64 {
        let at = chunk * 64;
        // SAFETY: the CPU has the features; reads stay inside `values` (checked above) and the
        // chunk writes 64 values of `out`.
        unsafe { weighted_sum_64(p, &values[at..], stride, &mut out[at..at + 64]) };
    }
    Some(())
}

#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn weighted_sum_64(p: &[f32], values: &[u16], stride: usize, out: &mut [f32]) {
    let mut acc = [_mm512_setzero_ps(); 4];
    for (j, &pj) in p.iter().enumerate() {
        let pv = _mm512_set1_ps(pj);
        let base = values.as_ptr().add(j * stride);
        for (v, a) in acc.iter_mut().enumerate() {
            *a = _mm512_fmadd_ps(pv, bf16x16(base.add(v * 16)), *a);
        }
    }
    for (v, a) in acc.iter().enumerate() {
        _mm512_storeu_ps(out.as_mut_ptr().add(v * 16), *a);
    }
}
