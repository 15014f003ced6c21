//! The AMX kernel for [`crate::qmatmul::Layout::Rows16`]: tiles for batches of
//! [`AMX_MIN_ROWS`] rows or more (prompts), the AVX-512 VNNI kernel below that.

use std::arch::x86_64::*;
use std::ops::Range;

use super::avx512::{avx512_vnni, groups, store_group, unpack_nibbles, Rows16Tile};
use super::{check, has_avx512_vnni};
use crate::qmatmul::{Packing, QActs, QMatrix, BLOCK, RUN};

/// Whether the AMX kernel can run: the CPU has AMX-TILE and AMX-INT8 (besides the AVX-512 the
/// rest of it uses) and Linux lets this process use tile data. Asked once per process.
pub(in crate::qmatmul) fn has_amx() -> bool {
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

/// AMX matmul ([`crate::qmatmul::Layout::Rows16`]); see [`crate::qmatmul::Kernel::run`]. Fewer than
/// [`AMX_MIN_ROWS`] activation rows take the AVX-512 VNNI path. Panics on a CPU without AMX.
pub(in crate::qmatmul) fn matmul_amx(w: &QMatrix, x: &QActs, cols: Range<usize>, out: &mut [f32]) {
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
/// one block of 16 interleaved rows, exactly [`crate::qmatmul::Layout::Rows16`]'s order).
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
        for g in groups(&cols) {
            let t = Rows16Tile::new(w, x, g).at_row(r0);
            by_rows!(
                m,
                nib,
                amx_group(&t, &mut scratch, &mut sums),
                [1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16]
            );
            store_group(out, &cols, g, r0, &sums[..m]);
        }
        r0 += m;
    }
    std::arch::asm!("tilerelease", options(nostack, nomem));
}

/// Sixteen interleaved weight rows against `M` activation rows with tiles configured for `M`
/// rows: `sums[i][lane]` as the VNNI kernel gives them. Two blocks are in flight on the tiles
/// at a time. (Overlapping one pair's tile products with the previous pair's scaling, in two
/// more sum tiles, measured slower.)
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,f16c")]
unsafe fn amx_group<const M: usize, const NIB: bool>(
    t: &Rows16Tile,
    scratch: &mut Scratch,
    sums: &mut [[f32; RUN]; AMX_ROWS],
) {
    let step = t.block_step::<NIB>();
    let x_stride = t.blocks * BLOCK;
    let mut acc = [_mm512_setzero_ps(); M];
    // Blocks come in pairs (rows are padded to an even count of blocks).
    let mut b = 0;
    while b < t.blocks {
        t.prefetch_ahead::<NIB>(b, 2);
        let mut src = [std::ptr::null::<u8>(); 2];
        for (h, s) in src.iter_mut().enumerate() {
            let base = t.values.add((b + h) * step);
            *s = if NIB {
                let dst = scratch.weights[h].as_mut_ptr();
                for (v, wv) in unpack_nibbles(base).iter().enumerate() {
                    _mm512_store_si512(dst.add(v * 64).cast(), *wv);
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
            a0 = in(reg) t.x_values.add(b * BLOCK),
            a1 = in(reg) t.x_values.add((b + 1) * BLOCK),
            sa = in(reg) x_stride,
            w0 = in(reg) src[0],
            w1 = in(reg) src[1],
            sw = in(reg) 64usize,
            c0 = in(reg) scratch.sums[0].as_mut_ptr(),
            c1 = in(reg) scratch.sums[1].as_mut_ptr(),
            options(nostack),
        );
        for h in 0..2 {
            let params = t.params(b + h);
            for (i, a) in acc.iter_mut().enumerate() {
                let dot = _mm512_load_si512(scratch.sums[h][i].as_ptr().cast());
                t.accumulate(a, dot, params, i, b + h);
            }
        }
        b += 2;
    }
    for (sum, a) in sums.iter_mut().zip(&acc) {
        _mm512_storeu_ps(sum.as_mut_ptr(), *a);
    }
}
