use super::*;
use candle_core::Tensor;

/// A deterministic pseudo-random matrix in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn ggml(w: &[f32], rows: usize, cols: usize, dtype: GgmlDType) -> QTensor {
    let t = Tensor::from_vec(w.to_vec(), (rows, cols), &Device::Cpu).unwrap();
    QTensor::quantize(&t, dtype).unwrap()
}

fn exact(w: &[f32], x: &[f32], n: usize, k: usize, rows: usize) -> Vec<f32> {
    let mut out = vec![0f32; rows * n];
    for r in 0..rows {
        for c in 0..n {
            out[r * n + c] = (0..k).map(|i| x[r * k + i] * w[c * k + i]).sum();
        }
    }
    out
}

#[test]
fn every_kernel_matches_the_portable_one_for_every_packing_and_batch_size() {
    // 576 = 18 blocks (the SmolLM2 width), 608 = 19 (odd: padded to 20), 96 = 3, 1536 = 48;
    // 24, 5, 3 and 4 rows: none a whole group of 16 interleaved rows.
    for &(n, k) in &[(24, 576), (5, 608), (3, 96), (4, 1536)] {
        let w = values(n * k, 7);
        for dtype in [
            GgmlDType::Q4_0,
            GgmlDType::Q4_1,
            GgmlDType::Q8_0,
            GgmlDType::Q6K,
        ] {
            if dtype == GgmlDType::Q6K && k % 256 != 0 {
                continue;
            }
            for layout in [Layout::Pairs, Layout::Rows16] {
                let m = QMatrix::from_qtensor_in(&ggml(&w, n, k, dtype), layout).unwrap();
                for rows in [1, 2, 3, 7, 8, 9, 16, 17, 35] {
                    let x = QActs::quantize(&values(rows * k, rows as u64), rows, k, layout);
                    let mut reference = vec![0f32; rows * n];
                    Kernel::Portable.run(&m, &x, 0..n, &mut reference);
                    for kernel in Kernel::available().into_iter().filter(|k| k.reads(layout)) {
                        let mut got = vec![0f32; rows * n];
                        kernel.run(&m, &x, 0..n, &mut got);
                        for (i, (a, b)) in got.iter().zip(&reference).enumerate() {
                            assert!(
                            (a - b).abs() <= 1e-3 * b.abs().max(1.0),
                            "{kernel:?} {layout:?} {dtype:?} {n}x{k} rows {rows} at {i}: {a} vs {b}"
                        );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn the_simd_quantiser_matches_the_portable_one_exactly() {
    if !kernel().has_avx512() {
        return;
    }
    // 70: a partial last block; the scaled values include exact halves and zeros.
    for (rows, cols) in [(3, 576), (2, 70), (1, 32)] {
        let mut x = values(rows * cols, 5);
        x[3] = 0.0;
        x[cols - 1] = -x[0];
        let simd = QActs::quantize(&x, rows, cols, Layout::Pairs);
        let mut plain = QActs::empty(rows, cols, Layout::Pairs);
        plain.fill(&x, cols);
        assert_eq!(simd.values, plain.values, "{rows}x{cols}");
        assert_eq!(simd.scale, plain.scale, "{rows}x{cols}");
        assert_eq!(simd.sum, plain.sum, "{rows}x{cols}");
    }
    let zeros = QActs::quantize(&[0.0; 64], 1, 64, Layout::Pairs);
    assert!(zeros.values.iter().all(|&v| v == 0) && zeros.scale == [0.0, 0.0]);
}

#[test]
fn results_are_close_to_the_exact_product() {
    let (n, k, rows) = (16, 576, 4);
    let w = values(n * k, 3);
    let x = values(rows * k, 4);
    let want = exact(&w, &x, n, k, rows);
    for dtype in [
        GgmlDType::Q4_0,
        GgmlDType::Q4_1,
        GgmlDType::Q8_0,
        GgmlDType::F32,
    ] {
        let m = QMatrix::from_qtensor(&ggml(&w, n, k, dtype)).unwrap();
        let got = m.matmul(&QActs::quantize(&x, rows, k, m.layout()));
        // Each product of k ≈ 576 terms in [-1, 1): 4-bit weights err by ~1/15 of the range.
        let tolerance = if dtype == GgmlDType::Q8_0 || dtype == GgmlDType::F32 {
            0.2
        } else {
            1.5
        };
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() < tolerance, "{dtype:?}: {a} vs {b}");
        }
    }
}

#[test]
fn a_column_range_computes_just_those_outputs() {
    // Inside one group of 16 interleaved rows, and across three of them.
    for (n, range) in [(10, 3..7), (40, 5..37)] {
        let (k, rows) = (64, 3);
        let m = QMatrix::from_qtensor(&ggml(&values(n * k, 1), n, k, GgmlDType::Q4_1)).unwrap();
        let x = QActs::quantize(&values(rows * k, 2), rows, k, m.layout());
        let full = m.matmul(&x);
        let width = range.len();
        let mut part = vec![0f32; rows * width];
        kernel().run(&m, &x, range.clone(), &mut part);
        for r in 0..rows {
            for c in range.clone() {
                assert_eq!(part[r * width + c - range.start], full[r * n + c]);
            }
        }
    }
}

#[test]
fn bf16_dot_matches_plain_arithmetic() {
    for n in [64, 37, 5] {
        let a = values(n, 11);
        let b: Vec<u16> = values(n, 12)
            .iter()
            .map(|v| (v.to_bits() >> 16) as u16)
            .collect();
        let wide = |x: u16| f32::from_bits(u32::from(x) << 16);
        let want: f32 = a.iter().zip(&b).map(|(x, &y)| x * wide(y)).sum();
        let mut got = [0f32];
        scores_bf16_heads(&a, &b, n, 1, &mut got);
        assert!((got[0] - want).abs() < 1e-4, "dot, n = {n}");
    }
}

#[test]
fn attention_helpers_match_plain_arithmetic() {
    let wide = |x: u16| f32::from_bits(u32::from(x) << 16);
    // Head sizes: 64 (SmolLM2), 256 (Gemma 3), 40 (neither a multiple of 16 nor of 64).
    for (hd, keys) in [(64, 19), (256, 9), (40, 13)] {
        let stride = hd * 3;
        let q = values(hd, 21);
        let cache: Vec<u16> = values(stride * keys, 22)
            .iter()
            .map(|v| (v.to_bits() >> 16) as u16)
            .collect();
        let mut scores = vec![0f32; keys];
        scores_bf16_heads(&q, &cache[hd..], stride, 1, &mut scores);
        for (j, s) in scores.iter().enumerate() {
            let k = &cache[hd + j * stride..hd + j * stride + hd];
            let want: f32 = q.iter().zip(k).map(|(a, &b)| a * wide(b)).sum();
            assert!((s - want).abs() < 1e-4, "score {j}, head size {hd}");
        }
        let p = values(keys, 23);
        let mut out = vec![0f32; hd];
        weighted_sum_bf16_heads(&p, &cache[hd..], stride, 1, &mut out);
        for (i, o) in out.iter().enumerate() {
            let want: f32 = (0..keys)
                .map(|j| p[j] * wide(cache[hd + j * stride + i]))
                .sum();
            assert!((o - want).abs() < 1e-4, "value {i}, head size {hd}");
        }
    }
}

#[test]
fn grouped_heads_match_one_head_at_a_time() {
    let wide = |x: u16| f32::from_bits(u32::from(x) << 16);
    for (hd, keys, heads) in [
        (64, 19, 3),
        (64, 8, 2),
        (40, 13, 3),
        (64, 5, 4),
        (128, 9, 2),
    ] {
        let stride = hd * 2;
        let q = values(hd * heads, 41);
        let cache: Vec<u16> = values(stride * keys, 42)
            .iter()
            .map(|v| (v.to_bits() >> 16) as u16)
            .collect();
        let mut scores = vec![0f32; heads * keys];
        scores_bf16_heads(&q, &cache[hd..], stride, heads, &mut scores);
        let p = values(heads * keys, 43);
        let mut out = vec![0f32; heads * hd];
        weighted_sum_bf16_heads(&p, &cache[hd..], stride, heads, &mut out);
        for g in 0..heads {
            for j in 0..keys {
                let k = &cache[hd + j * stride..hd + j * stride + hd];
                let want: f32 = q[g * hd..(g + 1) * hd]
                    .iter()
                    .zip(k)
                    .map(|(a, &b)| a * wide(b))
                    .sum();
                let got = scores[g * keys + j];
                assert!(
                    (got - want).abs() < 1e-4,
                    "score {g}/{j}, {heads} heads of {hd}"
                );
            }
            for i in 0..hd {
                let want: f32 = (0..keys)
                    .map(|j| p[g * keys + j] * wide(cache[hd + j * stride + i]))
                    .sum();
                let got = out[g * hd + i];
                assert!(
                    (got - want).abs() < 1e-4,
                    "value {g}/{i}, {heads} heads of {hd}"
                );
            }
        }
    }
}

#[test]
fn rows_dequantise_like_ggml() {
    let (n, k) = (3, 64);
    let w = values(n * k, 9);
    for dtype in [GgmlDType::Q4_0, GgmlDType::Q4_1, GgmlDType::Q8_0] {
        let q = ggml(&w, n, k, dtype);
        let dense = q
            .dequantize(&Device::Cpu)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        for layout in [Layout::Pairs, Layout::Rows16] {
            let m = QMatrix::from_qtensor_in(&q, layout).unwrap();
            for r in 0..n {
                for (a, b) in m.row(r).iter().zip(&dense[r * k..(r + 1) * k]) {
                    assert!((a - b).abs() < 1e-6, "{dtype:?}: {a} vs {b}");
                }
            }
        }
    }
}

#[test]
fn a_pool_of_threads_gives_the_same_product() {
    // Large enough to be split (rows × activation rows × blocks ≥ MIN_SPLIT_WORK).
    let (n, k, rows) = (1000, 576, 8);
    let m = QMatrix::from_qtensor(&ggml(&values(n * k, 31), n, k, GgmlDType::Q4_1)).unwrap();
    let x = QActs::quantize(&values(rows * k, 32), rows, k, m.layout());
    assert!(n * rows * m.blocks >= MIN_SPLIT_WORK);
    assert_eq!(Threads::new(3).matmul(&m, &x), m.matmul(&x));
}
