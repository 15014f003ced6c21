//! Nuri's own quantised matrix multiply: `y = x · Wᵀ` with 8-bit activations against 4- or
//! 8-bit weights, written for small batches on a CPU.
//!
//! Why not candle's `QMatMul`: it re-quantises the activations on every call, keeps a second,
//! repacked copy of every matrix it runs through its VNNI kernels, has no fast kernel for the
//! 4-bit types small models ship in (so they had to be widened to 8 bits), and its batch kernels
//! redo the weight work for each row. Here:
//!
//! - Weights are stored once, in the layout the kernels read: a row is a run of 32-weight blocks,
//!   each an unsigned integer per weight plus a scale `d` and an offset `m`, so that
//!   `w = d·u + m`. GGUF's Q4_0 and Q4_1 stay 4-bit ([`Packing::Nibbles`], two blocks share 32
//!   bytes); Q8_0 stays 8-bit ([`Packing::Bytes`], `u = q + 128`); every other type is
//!   dequantised and quantised to 8 bits once at load.
//! - Activations are quantised once per input ([`QActs`]: 8-bit values, a scale and the scaled
//!   sum per block), then shared by every matrix that reads the same input (q/k/v, gate/up).
//! - With `a = d_a·q`, a block's dot product is `d_w·d_a·Σ u·q + m·(d_a·Σ q)`: an unsigned ×
//!   signed byte dot product — one `vpdpbusd` per 64 weights on AVX-512 VNNI — plus one
//!   multiply-add per block that the kernels fold into the same accumulators.
//! - Each weight row is unpacked once per step and multiplied against every row of the batch
//!   while it is in registers, so 8 decode streams cost far less than 8 passes.
//!
//! The kernel is picked at run time: AMX (tiles for prompts, AVX-512 VNNI for the rest), then
//! AVX-512 VNNI (both read 16 rows interleaved, [`Layout::Rows16`]), then AVX2, then portable
//! Rust (also the reference the SIMD kernels are tested against); `NURI_ENGINE_KERNEL`
//! overrides the choice. The attention helpers
//! ([`scores_bf16_heads`], [`weighted_sum_bf16_heads`]) dispatch the same way.

mod portable;
#[cfg(target_arch = "x86_64")]
mod x86;

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Result};
use half::f16;

/// Weights per block.
pub(crate) const BLOCK: usize = 32;

/// How a matrix stores its unsigned weight values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Packing {
    /// 4-bit values: byte `j` of a pair of blocks holds weight `j` of the first block in its low
    /// nibble and weight `j` of the second in its high nibble (16 bytes a block).
    Nibbles,
    /// 8-bit values `q + 128` of a signed 8-bit quantisation, whose offset is `-128·d` (32 bytes
    /// a block).
    Bytes,
}

impl Packing {
    /// Bytes one block's values take.
    fn block_bytes(self) -> usize {
        match self {
            Packing::Nibbles => BLOCK / 2,
            Packing::Bytes => BLOCK,
        }
    }
}

/// How a matrix's blocks are ordered in memory. Activations are laid out to match
/// ([`Layout::activations`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Row by row, blocks in order; two 4-bit blocks share their 32 bytes.
    Pairs,
    /// Sixteen rows interleaved, block by block: lane `i` of vector `j` of a block holds row
    /// `i`'s weights `4j..4j + 4` of that block (4-bit vectors keep vector `j + 4` in their high
    /// nibbles), and the 16 rows' scales and offsets of a block sit side by side. One
    /// `vpdpbusd` against a broadcast group of four activations then advances 16 outputs, whose
    /// sums need no horizontal reduction and no special case for a row's last blocks. (Its
    /// predecessor transposed runs of 16 blocks within a row: the two blocks left over of a
    /// 576-wide row, the width of small models, took a third of the instructions.) Rows are
    /// padded with zero rows to a multiple of 16.
    Rows16,
}

/// Rows per interleaved group of [`Layout::Rows16`].
pub(crate) const RUN: usize = 16;

impl Layout {
    /// The layout of the activations a matrix in this layout reads.
    pub fn activations(self) -> Layout {
        match self {
            Layout::Rows16 => Layout::Pairs,
            other => other,
        }
    }

    /// Rows stored for a matrix of `rows` rows (with padding).
    fn stored_rows(self, rows: usize) -> usize {
        match self {
            Layout::Rows16 => rows.next_multiple_of(RUN),
            _ => rows,
        }
    }

    /// Where each run of four consecutive weights of block `b` of row `r` starts (every layout
    /// keeps them together), with their nibble shift; see [`Layout::locate`].
    fn fours(
        self,
        packing: Packing,
        blocks: usize,
        r: usize,
        b: usize,
    ) -> impl Iterator<Item = (usize, u32)> {
        (0..BLOCK / 4).map(move |four| self.locate(packing, blocks, r, b, 4 * four))
    }

    /// Where weight `j` of block `b` of row `r` lives in a matrix of `blocks` blocks a row:
    /// the byte, and the shift of its nibble (0 for 8-bit values).
    fn locate(self, packing: Packing, blocks: usize, r: usize, b: usize, j: usize) -> (usize, u32) {
        let block_bytes = packing.block_bytes();
        if self == Layout::Rows16 {
            // One 64-byte vector: four weights of each of the group's 16 rows.
            let (vector, e, lane) = (j / 4, j % 4, r % RUN);
            let block = (r / RUN) * RUN * blocks * block_bytes + b * RUN * block_bytes;
            return match packing {
                Packing::Bytes => (block + vector * 64 + lane * 4 + e, 0),
                Packing::Nibbles => (
                    block + (vector % 4) * 64 + lane * 4 + e,
                    if vector < 4 { 0 } else { 4 },
                ),
            };
        }
        let base = r * blocks * block_bytes;
        match packing {
            Packing::Bytes => (base + b * BLOCK + j, 0),
            Packing::Nibbles => (
                base + (b / 2) * BLOCK + j,
                if b.is_multiple_of(2) { 0 } else { 4 },
            ),
        }
    }

    /// Where block `b` of row `r`'s scale and offset live.
    fn param(self, blocks: usize, r: usize, b: usize) -> usize {
        match self {
            Layout::Rows16 => ((r / RUN) * blocks + b) * RUN + r % RUN,
            _ => r * blocks + b,
        }
    }
}

/// A quantised weight matrix of `rows` outputs by `cols` inputs.
#[derive(Debug)]
pub(crate) struct QMatrix {
    rows: usize,
    cols: usize,
    /// Blocks per row: `cols / 32` rounded up to an even count (the padding blocks are zero).
    blocks: usize,
    packing: Packing,
    layout: Layout,
    values: Vec<u8>,
    /// Per block, as half floats (GGUF's own precision for them): a quarter of the traffic
    /// that 4-bit values take, where f32 would be half.
    scale: Vec<f16>,
    offset: Vec<f16>,
}

/// Blocks a row of `cols` values takes, padded to an even count.
fn blocks_for(cols: usize) -> usize {
    cols.div_ceil(BLOCK).next_multiple_of(2)
}

impl QMatrix {
    /// Takes a GGUF tensor of shape `(rows, cols)` in the layout this CPU's kernel reads:
    /// 4-bit and 8-bit types as they are, any other type quantised to 8 bits.
    pub fn from_qtensor(t: &QTensor) -> Result<Self> {
        Self::from_qtensor_in(t, kernel().layout())
    }

    /// [`QMatrix::from_qtensor`] in a given layout.
    pub fn from_qtensor_in(t: &QTensor, layout: Layout) -> Result<Self> {
        let (rows, cols) = t.shape().dims2()?;
        match t.dtype() {
            GgmlDType::Q4_0 | GgmlDType::Q4_1 | GgmlDType::Q8_0 if cols % BLOCK == 0 => Ok(
                Self::from_ggml_blocks(t.dtype(), &t.data()?, rows, cols, layout),
            ),
            _ => {
                let dense = t
                    .dequantize(&Device::Cpu)?
                    .flatten_all()?
                    .to_vec1::<f32>()?;
                Ok(Self::quantize(&dense, rows, cols, layout))
            }
        }
    }

    /// Quantises a dense row-major matrix to 8 bits (ggml's Q8_0 rule: `d = max|w| / 127`).
    pub fn quantize(dense: &[f32], rows: usize, cols: usize, layout: Layout) -> Self {
        let mut m = Self::empty(rows, cols, Packing::Bytes, layout);
        let mut q = [0i8; BLOCK];
        for r in 0..rows {
            let row = &dense[r * cols..(r + 1) * cols];
            for (b, chunk) in row.chunks(BLOCK).enumerate() {
                let d = quantize_block(chunk, &mut q);
                let at = m.param(r, b);
                m.scale[at] = f16::from_f32(d);
                m.offset[at] = f16::from_f32(-128.0 * d);
                m.place(r, b, &q.map(|v| (v as u8) ^ 0x80));
            }
        }
        m
    }

    /// A zero matrix (zero blocks have scale and offset 0, so padding adds nothing).
    fn empty(rows: usize, cols: usize, packing: Packing, layout: Layout) -> Self {
        let blocks = blocks_for(cols);
        let fill = match packing {
            Packing::Nibbles => 0,
            Packing::Bytes => 0x80,
        };
        let stored = layout.stored_rows(rows);
        Self {
            rows,
            cols,
            blocks,
            packing,
            layout,
            values: vec![fill; stored * blocks * packing.block_bytes()],
            scale: vec![f16::ZERO; stored * blocks],
            offset: vec![f16::ZERO; stored * blocks],
        }
    }

    /// Repacks raw ggml Q4_0 / Q4_1 / Q8_0 blocks.
    fn from_ggml_blocks(
        dtype: GgmlDType,
        data: &[u8],
        rows: usize,
        cols: usize,
        layout: Layout,
    ) -> Self {
        let packing = if dtype == GgmlDType::Q8_0 {
            Packing::Bytes
        } else {
            Packing::Nibbles
        };
        let mut m = Self::empty(rows, cols, packing, layout);
        let size = dtype.type_size();
        let half = |b: &[u8], at: usize| f16::from_le_bytes([b[at], b[at + 1]]);
        for (i, block) in data.chunks_exact(size).enumerate() {
            let (r, b) = (i / (cols / BLOCK), i % (cols / BLOCK));
            let at = m.param(r, b);
            let d = half(block, 0);
            match dtype {
                GgmlDType::Q8_0 => {
                    m.scale[at] = d;
                    // Exact: a power-of-two multiple of a half float.
                    m.offset[at] = f16::from_f32(-128.0 * d.to_f32());
                    let mut u = [0u8; BLOCK];
                    for (o, &v) in u.iter_mut().zip(&block[2..2 + BLOCK]) {
                        *o = v ^ 0x80;
                    }
                    m.place(r, b, &u);
                }
                _ => {
                    let (offset, qs) = if dtype == GgmlDType::Q4_1 {
                        (half(block, 2), &block[4..20])
                    } else {
                        (f16::from_f32(-8.0 * d.to_f32()), &block[2..18])
                    };
                    m.scale[at] = d;
                    m.offset[at] = offset;
                    // ggml: byte j holds weight j (low nibble) and weight j + 16 (high).
                    let mut u = [0u8; BLOCK];
                    for (j, &byte) in qs.iter().enumerate() {
                        u[j] = byte & 0x0F;
                        u[j + BLOCK / 2] = byte >> 4;
                    }
                    m.place(r, b, &u);
                }
            }
        }
        m
    }

    /// The layout of the values.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Output rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Input columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Bytes one row's values take.
    fn row_bytes(&self) -> usize {
        self.blocks * self.packing.block_bytes()
    }

    /// Where block `b` of row `r`'s scale and offset live.
    fn param(&self, r: usize, b: usize) -> usize {
        self.layout.param(self.blocks, r, b)
    }

    /// Stores the unsigned values of block `b` of row `r` (4-bit values: into zeroed nibbles).
    fn place(&mut self, r: usize, b: usize, u: &[u8; BLOCK]) {
        for ((at, shift), four) in self
            .layout
            .fours(self.packing, self.blocks, r, b)
            .zip(u.chunks_exact(4))
        {
            let bytes = &mut self.values[at..at + 4];
            for (byte, &v) in bytes.iter_mut().zip(four) {
                match self.packing {
                    Packing::Bytes => *byte = v,
                    Packing::Nibbles => *byte |= (v & 0x0F) << shift,
                }
            }
        }
    }

    /// Unsigned value `j` of block `b` of row `r`.
    fn value(&self, r: usize, b: usize, j: usize) -> u8 {
        let (at, shift) = self.layout.locate(self.packing, self.blocks, r, b, j);
        let byte = self.values[at];
        match self.packing {
            Packing::Bytes => byte,
            Packing::Nibbles => (byte >> shift) & 0x0F,
        }
    }

    /// Row `r` as f32 (an embedding lookup).
    pub fn row(&self, r: usize) -> Vec<f32> {
        (0..self.cols)
            .map(|c| {
                let (b, j) = (c / BLOCK, c % BLOCK);
                let at = self.param(r, b);
                let u = f32::from(self.value(r, b, j));
                match self.packing {
                    // Exactly ggml's d·q for Q8_0.
                    Packing::Bytes => self.scale[at].to_f32() * (u - 128.0),
                    Packing::Nibbles => self.scale[at].to_f32() * u + self.offset[at].to_f32(),
                }
            })
            .collect()
    }

    /// `x · Wᵀ`: `x.rows() × self.rows()` values, row-major.
    pub fn matmul(&self, x: &QActs) -> Vec<f32> {
        assert_eq!(
            x.blocks, self.blocks,
            "activation width does not match the matrix"
        );
        let mut out = vec![0f32; x.rows * self.rows];
        kernel_for(self.layout).run(self, x, 0..self.rows, &mut out);
        out
    }
}

/// Quantises one block of up to 32 values to signed 8 bits; returns its scale (ggml's Q8_0
/// rule). Values past the chunk's end are zero.
fn quantize_block(chunk: &[f32], q: &mut [i8; BLOCK]) -> f32 {
    // Lane-wise maxima so the loop vectorises.
    let mut lanes = [0f32; 8];
    for (i, v) in chunk.iter().enumerate() {
        let (m, a) = (&mut lanes[i % 8], v.abs());
        *m = if a > *m { a } else { *m };
    }
    let amax = lanes.iter().fold(0f32, |m, &v| m.max(v));
    let d = amax / 127.0;
    let id = if d == 0.0 { 0.0 } else { 1.0 / d };
    q.fill(0);
    for (o, v) in q.iter_mut().zip(chunk) {
        // Round half away from zero, like ggml's `roundf`, without the library call.
        let r = v * id;
        *o = (r + 0.5f32.copysign(r)) as i8;
    }
    d
}

/// Rows of activations quantised to 8 bits, ready for [`QMatrix::matmul`].
#[derive(Debug)]
pub(crate) struct QActs {
    rows: usize,
    blocks: usize,
    layout: Layout,
    values: Vec<i8>,
    scale: Vec<f32>,
    /// `scale · Σ values` per block (multiplies a weight block's offset).
    sum: Vec<f32>,
}

impl QActs {
    /// The layout of the values (see [`Layout::activations`]).
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Stores block `b` of row `r` where the layout wants it.
    fn place(&mut self, r: usize, b: usize, q: &[i8; BLOCK]) {
        if self.layout == Layout::Pairs {
            // Blocks in order: one copy (the hot case).
            let at = (r * self.blocks + b) * BLOCK;
            self.values[at..at + BLOCK].copy_from_slice(q);
            return;
        }
        for ((at, _), four) in self
            .layout
            .fours(Packing::Bytes, self.blocks, r, b)
            .zip(q.chunks_exact(4))
        {
            self.values[at..at + 4].copy_from_slice(four);
        }
    }

    /// Value `j` of block `b` of row `r`.
    fn value(&self, r: usize, b: usize, j: usize) -> i8 {
        let (i, _) = self.layout.locate(Packing::Bytes, self.blocks, r, b, j);
        self.values[i]
    }

    /// Quantises `rows` rows of `cols` values, laid out for matrices in `layout`.
    pub fn quantize(x: &[f32], rows: usize, cols: usize, layout: Layout) -> Self {
        let mut a = Self::empty(rows, cols, layout);
        #[cfg(target_arch = "x86_64")]
        if a.layout == Layout::Pairs && kernel().has_avx512() {
            x86::quantize_rows_avx512(x, cols, &mut a);
            return a;
        }
        a.fill(x, cols);
        a
    }

    /// Zeroed rows for matrices in `layout`.
    fn empty(rows: usize, cols: usize, layout: Layout) -> Self {
        let blocks = blocks_for(cols);
        Self {
            rows,
            blocks,
            layout: layout.activations(),
            values: vec![0; rows * blocks * BLOCK],
            scale: vec![0.0; rows * blocks],
            sum: vec![0.0; rows * blocks],
        }
    }

    /// Quantises `x` (rows of `cols` values) in plain Rust: the reference.
    fn fill(&mut self, x: &[f32], cols: usize) {
        let mut q = [0i8; BLOCK];
        for r in 0..self.rows {
            for (b, chunk) in x[r * cols..(r + 1) * cols].chunks(BLOCK).enumerate() {
                let at = r * self.blocks + b;
                let d = quantize_block(chunk, &mut q);
                self.place(r, b, &q);
                self.scale[at] = d;
                self.sum[at] = d * q.iter().map(|&v| i32::from(v)).sum::<i32>() as f32;
            }
        }
    }
}

/// A matmul implementation for one instruction set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kernel {
    /// Plain Rust; the reference.
    Portable,
    /// AVX2 (+ FMA).
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// AVX-512 F/BW with VNNI.
    #[cfg(target_arch = "x86_64")]
    Avx512Vnni,
    /// AMX-INT8 tiles for batches of 16 or more rows (prompts); AVX-512 VNNI otherwise.
    #[cfg(target_arch = "x86_64")]
    Amx,
}

impl Kernel {
    /// Every kernel this CPU can run, fastest last.
    pub fn available() -> Vec<Kernel> {
        let mut k = vec![Kernel::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            if x86::has_avx2() {
                k.push(Kernel::Avx2);
            }
            if x86::has_avx512_vnni() {
                k.push(Kernel::Avx512Vnni);
            }
            if x86::has_amx() {
                k.push(Kernel::Amx);
            }
        }
        k
    }

    /// The kernel's name, as `NURI_ENGINE_KERNEL` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Portable => "portable",
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => "avx2",
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512Vnni => "avx512-vnni",
            #[cfg(target_arch = "x86_64")]
            Kernel::Amx => "amx",
        }
    }

    /// Whether the kernel's CPU has AVX-512 (the attention helpers and quantiser use it).
    pub fn has_avx512(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512Vnni | Kernel::Amx => true,
            _ => false,
        }
    }

    /// The layout this kernel reads fastest.
    pub fn layout(self) -> Layout {
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512Vnni | Kernel::Amx => Layout::Rows16,
            _ => Layout::Pairs,
        }
    }

    /// Whether this kernel reads matrices in `layout`.
    pub fn reads(self, layout: Layout) -> bool {
        match self {
            Kernel::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512Vnni | Kernel::Amx => layout == Layout::Rows16,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => layout == Layout::Pairs,
        }
    }

    /// Computes output columns `cols` (weight rows) of `x · Wᵀ` into `out`
    /// (`x.rows × cols.len()`, row-major).
    pub fn run(self, w: &QMatrix, x: &QActs, cols: std::ops::Range<usize>, out: &mut [f32]) {
        assert!(
            self.reads(w.layout),
            "{self:?} does not read {:?}",
            w.layout
        );
        assert_eq!(
            w.layout.activations(),
            x.layout,
            "activations laid out for another matrix"
        );
        match self {
            Kernel::Portable => portable::matmul(w, x, cols, out),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => x86::matmul_avx2(w, x, cols, out),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512Vnni => x86::matmul_avx512_vnni(w, x, cols, out),
            #[cfg(target_arch = "x86_64")]
            Kernel::Amx => x86::matmul_amx(w, x, cols, out),
        }
    }
}

/// The fastest kernel on this CPU that reads `layout`.
pub(crate) fn kernel_for(layout: Layout) -> Kernel {
    let fastest = kernel();
    if fastest.reads(layout) {
        fastest
    } else {
        Kernel::Portable
    }
}

/// The kernel the engine uses: the fastest this CPU has, unless `NURI_ENGINE_KERNEL` names
/// another one it can run (`portable`, `avx2`, `avx512-vnni`, `amx`; for diagnosis and
/// comparison).
/// Decided once per process.
pub(crate) fn kernel() -> Kernel {
    static KERNEL: std::sync::OnceLock<Kernel> = std::sync::OnceLock::new();
    *KERNEL.get_or_init(|| {
        let available = Kernel::available();
        let fastest = available.last().copied().unwrap_or(Kernel::Portable);
        let Ok(wanted) = std::env::var("NURI_ENGINE_KERNEL") else {
            return fastest;
        };
        match available.iter().find(|k| k.name() == wanted) {
            Some(k) => *k,
            None => {
                tracing::warn!(
                    wanted,
                    using = fastest.name(),
                    "NURI_ENGINE_KERNEL names no kernel this CPU runs"
                );
                fastest
            }
        }
    })
}

/// `out[g·n + j] = q_g · keys[j·stride..j·stride + hd]` for `heads` query heads that share
/// their bfloat16 keys (grouped-query attention; one head is a group of one): `q` holds the
/// heads one after another (`hd` values each), `out` each head's `n` scores.
pub(crate) fn scores_bf16_heads(
    q: &[f32],
    keys: &[u16],
    stride: usize,
    heads: usize,
    out: &mut [f32],
) {
    let (hd, n) = (q.len() / heads, out.len() / heads);
    if n == 0 {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if kernel().has_avx512() {
        match heads {
            2 => x86::scores_bf16_heads_avx512::<2>(q, keys, stride, out),
            3 => x86::scores_bf16_heads_avx512::<3>(q, keys, stride, out),
            _ => {
                for (qh, oh) in q.chunks_exact(hd).zip(out.chunks_exact_mut(n)) {
                    x86::scores_bf16_heads_avx512::<1>(qh, keys, stride, oh);
                }
            }
        }
        return;
    }
    for (qh, oh) in q.chunks_exact(hd).zip(out.chunks_exact_mut(n)) {
        for (j, o) in oh.iter_mut().enumerate() {
            *o = portable::dot_bf16(qh, &keys[j * stride..j * stride + hd]);
        }
    }
}

/// `out_g = Σ_j p_g[j] · values[j·stride..j·stride + hd]` for `heads` heads that share their
/// bfloat16 values (each head's weighted sum of the cached values): `p` holds each head's `n`
/// weights, `out` each head's sum, one after another.
pub(crate) fn weighted_sum_bf16_heads(
    p: &[f32],
    values: &[u16],
    stride: usize,
    heads: usize,
    out: &mut [f32],
) {
    let (n, hd) = (p.len() / heads, out.len() / heads);
    if n == 0 {
        out.fill(0.0);
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if kernel().has_avx512() {
        let done = match heads {
            2 => x86::weighted_sum_bf16_heads_avx512::<2>(p, values, stride, out),
            3 => x86::weighted_sum_bf16_heads_avx512::<3>(p, values, stride, out),
            // One head at a time; every head has the same size, so all or none are done.
            _ => p
                .chunks_exact(n)
                .zip(out.chunks_exact_mut(hd))
                .map(|(ph, oh)| x86::weighted_sum_bf16_heads_avx512::<1>(ph, values, stride, oh))
                .collect(),
        };
        if done.is_some() {
            return;
        }
    }
    let add_scaled: fn(&mut [f32], f32, &[u16]) = match kernel() {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512Vnni | Kernel::Amx => x86::add_scaled_bf16_avx512,
        _ => portable::add_scaled_bf16,
    };
    out.fill(0.0);
    for (ph, oh) in p.chunks_exact(n).zip(out.chunks_exact_mut(hd)) {
        for (j, &pj) in ph.iter().enumerate() {
            add_scaled(oh, pj, &values[j * stride..j * stride + hd]);
        }
    }
}

/// Where matmuls run: on the calling thread, or split by output columns across a pool.
#[derive(Debug)]
pub(crate) struct Threads {
    pool: Option<rayon::ThreadPool>,
}

/// Below this many block products (weight rows × activation rows × blocks) a matmul stays on
/// one thread: handing it out costs more than it saves.
const MIN_SPLIT_WORK: usize = 64 * 1024;

impl Threads {
    /// `count` compute threads (1: no pool).
    pub fn new(count: usize) -> Self {
        let count = count.max(1);
        let pool = (count > 1)
            .then(|| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(count)
                    .thread_name(|i| format!("nuri-matmul-{i}"))
                    .build()
                    .ok()
            })
            .flatten();
        Self { pool }
    }

    /// `x · Wᵀ`, split across the pool when there is enough work.
    pub fn matmul(&self, w: &QMatrix, x: &QActs) -> Vec<f32> {
        let pool = match &self.pool {
            Some(pool) if w.rows * x.rows * w.blocks >= MIN_SPLIT_WORK => pool,
            _ => return w.matmul(x),
        };
        assert_eq!(
            x.blocks, w.blocks,
            "activation width does not match the matrix"
        );
        // Whole groups of interleaved rows per thread.
        let chunk = w
            .rows
            .div_ceil(pool.current_num_threads())
            .next_multiple_of(RUN);
        let ranges: Vec<std::ops::Range<usize>> = (0..w.rows)
            .step_by(chunk)
            .map(|start| start..(start + chunk).min(w.rows))
            .collect();
        let pieces: Vec<Vec<f32>> = pool.install(|| {
            use rayon::prelude::*;
            ranges
                .par_iter()
                .map(|cols| {
                    let mut part = vec![0f32; x.rows * cols.len()];
                    kernel_for(w.layout).run(w, x, cols.clone(), &mut part);
                    part
                })
                .collect()
        });
        let mut out = vec![0f32; x.rows * w.rows];
        for (cols, part) in ranges.iter().zip(&pieces) {
            for r in 0..x.rows {
                out[r * w.rows + cols.start..r * w.rows + cols.end]
                    .copy_from_slice(&part[r * cols.len()..(r + 1) * cols.len()]);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
