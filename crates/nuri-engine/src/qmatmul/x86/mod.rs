//! x86-64 kernels, one module per instruction set: [`avx512`] (`vpdpbusd`, 64 weights an
//! instruction, 16 interleaved rows at a time; also the activation quantiser), [`amx`] (tiles,
//! for prompts), [`avx2`] (`vpmaddubsw` + `vpmaddwd`, 32; one row at a time, blocks in pairs)
//! and [`attention`] (the bfloat16 helpers). The matmuls walk the output columns (weight rows)
//! in the outer loop and the activation rows in groups inside it, so each weight row is read
//! and unpacked once per group while the group's accumulators stay in registers.
//!
//! The only module of Nuri's allowed `unsafe`: intrinsics need it. The safe entry points check
//! the CPU's features and every shape the kernels rely on ([`check`], the `assert!`s of the
//! attention helpers); the raw pointers below stay inside the rows those checks cover.

#![allow(unsafe_code)]

use std::ops::Range;

use super::{QActs, QMatrix, BLOCK};

/// Calls `$f::<N, NIB>(args)` with `N` the row count `$n` (one of `$lits`) and `NIB` whether
/// the weights are 4-bit: the kernels are compiled once per group size, so the group's
/// accumulators are registers.
macro_rules! by_rows {
    ($n:expr, $nib:expr, $f:ident $args:tt, [$($lit:literal)*]) => {
        match ($n, $nib) {
            $(
                ($lit, true) => $f::<$lit, true> $args,
                ($lit, false) => $f::<$lit, false> $args,
            )*
            _ => unreachable!("a group of rows outside the dispatch table"),
        }
    };
}

mod amx;
mod attention;
mod avx2;
mod avx512;

pub(super) use amx::{has_amx, matmul_amx};
pub(super) use attention::{
    add_scaled_bf16_avx512, scores_bf16_heads_avx512, weighted_sum_bf16_heads_avx512,
};
pub(super) use avx2::matmul_avx2;
pub(super) use avx512::{matmul_avx512_vnni, quantize_rows_avx512};

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

/// The shapes the kernels rely on: matching widths, whole pairs of blocks, columns inside the
/// matrix and an output of `x.rows × cols.len()`.
pub(super) fn check(w: &QMatrix, x: &QActs, cols: &Range<usize>, out: &[f32]) {
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
