//! Token sampling: greedy at temperature 0, else temperature-scaled softmax with nucleus
//! (`top_p`) truncation, drawn from the request's own seeded generator, so the same seed, prompt
//! and parameters give the same tokens.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Per-request sampler.
pub(crate) struct Sampler {
    temperature: f32,
    top_p: f32,
    rng: StdRng,
}

impl Sampler {
    /// `temperature` ≤ 1e-5 means greedy; `top_p` in (0, 1].
    pub fn new(temperature: f32, top_p: f32, seed: u64) -> Self {
        Self {
            temperature,
            top_p,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// Picks the next token from the logits (which it may overwrite).
    pub fn sample(&mut self, logits: &mut [f32]) -> u32 {
        if self.temperature <= 1e-5 {
            return argmax(logits);
        }
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let inv_t = 1.0 / self.temperature;
        let mut sum = 0.0f64;
        for l in logits.iter_mut() {
            *l = ((*l - max) * inv_t).exp();
            sum += f64::from(*l);
        }
        if self.top_p < 1.0 {
            // Nucleus: the most probable tokens whose mass reaches top_p.
            let mut order: Vec<u32> = (0..logits.len() as u32)
                .filter(|&i| logits[i as usize] > 0.0)
                .collect();
            order.sort_unstable_by(|&a, &b| {
                logits[b as usize]
                    .total_cmp(&logits[a as usize])
                    .then(a.cmp(&b))
            });
            let target = f64::from(self.top_p) * sum;
            let mut kept = 0.0f64;
            let mut cut = order.len();
            for (n, &i) in order.iter().enumerate() {
                kept += f64::from(logits[i as usize]);
                if kept >= target {
                    cut = n + 1;
                    break;
                }
            }
            let r = self.rng.gen::<f64>() * kept;
            let mut acc = 0.0f64;
            for &i in &order[..cut] {
                acc += f64::from(logits[i as usize]);
                if acc >= r {
                    return i;
                }
            }
            return order.get(cut.saturating_sub(1)).copied().unwrap_or(0);
        }
        let r = self.rng.gen::<f64>() * sum;
        let mut acc = 0.0f64;
        for (i, &p) in logits.iter().enumerate() {
            acc += f64::from(p);
            if acc >= r && p > 0.0 {
                return i as u32;
            }
        }
        argmax(logits)
    }
}

fn argmax(xs: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &x) in xs.iter().enumerate() {
        if x > xs[best] {
            best = i;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_picks_the_max() {
        let mut s = Sampler::new(0.0, 1.0, 1);
        assert_eq!(s.sample(&mut [0.1, 3.0, -1.0, 2.9]), 1);
    }

    #[test]
    fn same_seed_same_draws() {
        let logits = vec![1.0, 1.1, 0.9, 1.05, 0.2];
        let draw = |seed| {
            let mut s = Sampler::new(1.0, 0.9, seed);
            (0..20)
                .map(|_| s.sample(&mut logits.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn tiny_top_p_is_greedy() {
        let mut s = Sampler::new(1.0, 1e-6, 3);
        for _ in 0..10 {
            assert_eq!(s.sample(&mut [0.0, 5.0, 4.9]), 1);
        }
    }
}
