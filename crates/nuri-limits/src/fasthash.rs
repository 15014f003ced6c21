//! A small, fast hasher for the in-process limiter's shard maps (FxHash's mixing with a random
//! per-process seed). Subject keys are Nuri's own ids and model names, short and not chosen by
//! an attacker after authentication, so SipHash's DoS resistance buys little on this hot path.

use std::hash::{BuildHasher, Hasher};

const K: u64 = 0x517c_c1b7_2722_0a95;

/// Builds [`FxHasher`]s sharing one random seed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FxBuildHasher {
    seed: u64,
}

impl FxBuildHasher {
    /// A builder with a seed drawn from the process' random state.
    pub fn random() -> Self {
        Self {
            seed: std::collections::hash_map::RandomState::new().hash_one(0u64),
        }
    }
}

impl BuildHasher for FxBuildHasher {
    type Hasher = FxHasher;
    fn build_hasher(&self) -> FxHasher {
        FxHasher { hash: self.seed }
    }
}

/// FxHash: rotate, xor, multiply, eight bytes at a time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn spreads_similar_keys() {
        let build = FxBuildHasher::random();
        let hashes: HashSet<u64> = (0..10_000)
            .map(|i| build.hash_one(format!("key:{i}")))
            .collect();
        assert_eq!(hashes.len(), 10_000);
        assert_ne!(build.hash_one("ab"), build.hash_one("ab\0"));
    }
}
