//! A model's weight matrices in whichever form runs fastest for their type, and the inputs they
//! read.
//!
//! Quantised GGUF types run in Nuri's own kernels ([`crate::qmatmul`]); float types (F32, F16,
//! BF16) stay dense and run in candle's f32 GEMM, so a model shipped unquantised keeps its full
//! precision.

use std::cell::OnceCell;

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Result, Tensor};

use crate::qmatmul::{Layout, QActs, QMatrix, Threads};

/// A weight matrix `(out, in)`: `y = x · Wᵀ`.
#[derive(Debug)]
pub(crate) enum Linear {
    /// 4- or 8-bit blocks.
    Quantised(QMatrix),
    /// f32, `(out, in)`.
    Dense(Tensor),
}

impl Linear {
    /// Takes a GGUF tensor: float types dense, every other type quantised.
    pub fn load(t: &QTensor) -> Result<Self> {
        match t.dtype() {
            GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16 => {
                Ok(Self::Dense(t.dequantize(&Device::Cpu)?.contiguous()?))
            }
            _ => Ok(Self::Quantised(QMatrix::from_qtensor(t)?)),
        }
    }

    /// Output rows.
    pub fn rows(&self) -> usize {
        match self {
            Self::Quantised(m) => m.rows(),
            Self::Dense(t) => t.dims()[0],
        }
    }

    /// Input columns.
    pub fn cols(&self) -> usize {
        match self {
            Self::Quantised(m) => m.cols(),
            Self::Dense(t) => t.dims()[1],
        }
    }

    /// Row `r` as f32 (an embedding lookup).
    pub fn row(&self, r: usize) -> Result<Vec<f32>> {
        match self {
            Self::Quantised(m) => Ok(m.row(r)),
            Self::Dense(t) => t.get(r)?.to_vec1::<f32>(),
        }
    }

    /// `input · Wᵀ` → `input.rows × self.rows()`, row-major.
    pub fn forward(&self, input: &Input<'_>, threads: &Threads) -> Result<Vec<f32>> {
        match self {
            Self::Quantised(m) => Ok(threads.matmul(m, input.quantised(m.layout()))),
            Self::Dense(w) => {
                let x = Tensor::from_slice(input.x, (input.rows, input.cols), &Device::Cpu)?;
                x.matmul(&w.t()?)?.flatten_all()?.to_vec1::<f32>()
            }
        }
    }
}

/// Rows of one matmul input, quantised at most once however many matrices read them.
pub(crate) struct Input<'a> {
    x: &'a [f32],
    rows: usize,
    cols: usize,
    quantised: OnceCell<QActs>,
}

impl<'a> Input<'a> {
    /// `rows` rows of `cols` values.
    pub fn new(x: &'a [f32], rows: usize, cols: usize) -> Self {
        debug_assert_eq!(x.len(), rows * cols);
        Self {
            x,
            rows,
            cols,
            quantised: OnceCell::new(),
        }
    }

    /// The rows quantised for matrices in `layout`, kept for the next matrix that reads them
    /// (a model loads every matrix in the layout of this CPU's kernel).
    fn quantised(&self, layout: Layout) -> &QActs {
        let x = self
            .quantised
            .get_or_init(|| QActs::quantize(self.x, self.rows, self.cols, layout));
        assert_eq!(
            x.layout(),
            layout.activations(),
            "one input read by matrices in two layouts"
        );
        x
    }
}
