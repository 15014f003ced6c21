//! Attention's bfloat16 helpers on AVX-512: scores of a query against cached keys, and the
//! weighted sum of cached values, for one head or several that share their keys and values.

use std::arch::x86_64::*;

use super::has_avx512_vnni;

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
pub(in crate::qmatmul) fn add_scaled_bf16_avx512(out: &mut [f32], p: f32, v: &[u16]) {
    assert!(has_avx512_vnni(), "this CPU has no AVX-512");
    let n = out.len().min(v.len());
    // SAFETY: the CPU has the features; both slices are cut to the same length `n`.
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

/// `out[g·n + j] = q_g · keys[j·stride..j·stride + hd]` for `G` query heads that share their
/// bfloat16 keys (grouped-query attention; a lone head is a group of one), eight keys at a
/// time, each key read and widened once for all the heads: `q` holds the heads one after
/// another, `out` their `n` scores each.
pub(in crate::qmatmul) fn scores_bf16_heads_avx512<const G: usize>(
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

/// `out_g = Σ_j p_g[j] · values[j·stride..j·stride + hd]` for `G` heads that share their
/// bfloat16 values (one head's weighted sum of the cached values, for each head), keeping the
/// sums in registers across all the keys; each value row is read and widened once. `p` holds
/// each head's `n` weights, `out` each head's sum. `None` when the head size is not a
/// multiple of 64 (the caller then takes the plain path).
pub(in crate::qmatmul) fn weighted_sum_bf16_heads_avx512<const G: usize>(
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
