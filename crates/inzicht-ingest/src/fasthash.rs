//! A fast, non-cryptographic hasher for the validator's lookups (field positions, code lists,
//! person keys, the duplicate check's row hashes): the multiply-rotate "Fx" hash of the Rust
//! compiler (Firefox's hash; rustc's `FxHasher`). The standard library's SipHash-1-3 spent about
//! a seventh of reading and validating in hashing short keys.
//!
//! Not resistant to hash flooding: a file crafted to collide could slow a load down, not change
//! its result (the maps stay exact). The inputs are the municipality's own exports; the row
//! hashes of the duplicate check itself stay keyed SipHash (`pipeline::row_hash`).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// The multiplier of rustc's FxHasher (64-bit).
const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            // The length distinguishes "ab" from "ab\0".
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;
pub type FastSet<K> = HashSet<K, BuildHasherDefault<FxHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::Hash;

    fn hash<T: Hash>(t: &T) -> u64 {
        let mut h = FxHasher::default();
        t.hash(&mut h);
        h.finish()
    }

    #[test]
    fn distinguishes_nearby_keys_and_keeps_maps_exact() {
        assert_ne!(hash(&"ab"), hash(&"ab\0"));
        assert_ne!(hash(&"123456782"), hash(&"123456783"));
        assert_ne!(hash(&(1u64, 2u64)), hash(&(2u64, 1u64)));
        let mut m: FastMap<String, usize> = FastMap::default();
        for i in 0..10_000 {
            m.insert(format!("{i:09}"), i);
        }
        assert_eq!(m.len(), 10_000);
        assert!((0..10_000).all(|i| m[&format!("{i:09}")] == i));
    }
}
