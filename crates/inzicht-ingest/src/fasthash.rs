//! A fast, non-cryptographic hasher for the validator's lookups (field positions, code lists,
//! person keys, the duplicate check's row hashes): the multiply-rotate "Fx" hash of the Rust
//! compiler (Firefox's hash; rustc's `FxHasher`). The standard library's SipHash-1-3 spent about
//! a seventh of reading and validating in hashing short keys.
//!
//! Not resistant to hash flooding: a file crafted to collide could slow a load down, not change
//! its result (the maps stay exact). The inputs are the municipality's own exports. The row
//! hashes of the duplicate check are SipHash-1-3 instead (`pipeline::row_hash`: two 64-bit
//! hashes under different prefixes, so that an accidental collision, which would quarantine a
//! row as a duplicate, has probability about 2⁻¹²⁸ per pair).

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

/// A map keyed by a person key (text). Keys of 1 to 19 ASCII digits — BSNs and most client
/// numbers — are held as their number together with their length (so "012" and "12" stay
/// apart: the map is exact), which a lookup hashes and compares as one integer, without
/// following a pointer to text; other keys are held as text. Every source after the persons
/// looks its person key up here once per row.
#[derive(Debug)]
pub struct KeyMap<V> {
    digits: FastMap<u128, V>,
    text: FastMap<String, V>,
}

impl<V> Default for KeyMap<V> {
    fn default() -> Self {
        KeyMap {
            digits: FastMap::default(),
            text: FastMap::default(),
        }
    }
}

/// The number and length of a key of 1 to 19 ASCII digits (19 digits fit in a u64).
fn digits_key(k: &str) -> Option<u128> {
    if k.is_empty() || k.len() > 19 || !k.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value = k.bytes().fold(0u64, |v, b| v * 10 + u64::from(b - b'0'));
    Some(((k.len() as u128) << 64) | u128::from(value))
}

impl<V> KeyMap<V> {
    pub fn get(&self, k: &str) -> Option<&V> {
        match digits_key(k) {
            Some(d) => self.digits.get(&d),
            None => self.text.get(k),
        }
    }

    pub fn contains_key(&self, k: &str) -> bool {
        self.get(k).is_some()
    }

    /// The value of `k`, inserted as the default first if `k` is new.
    pub fn entry_or_default(&mut self, k: String) -> &mut V
    where
        V: Default,
    {
        match digits_key(&k) {
            Some(d) => self.digits.entry(d).or_default(),
            None => self.text.entry(k).or_default(),
        }
    }
}

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

    #[test]
    fn a_key_map_keeps_digit_keys_exact() {
        let mut m: KeyMap<Vec<u32>> = KeyMap::default();
        m.entry_or_default("12".into()).push(1);
        m.entry_or_default("012".into()).push(2);
        m.entry_or_default("9999999999999999999".into()).push(3);
        m.entry_or_default("99999999999999999999".into()).push(4);
        m.entry_or_default("A12".into()).push(5);
        m.entry_or_default("12".into()).push(6);
        assert_eq!(m.get("12"), Some(&vec![1, 6]));
        assert_eq!(m.get("012"), Some(&vec![2]));
        assert_eq!(m.get("9999999999999999999"), Some(&vec![3]));
        assert_eq!(m.get("99999999999999999999"), Some(&vec![4]));
        assert_eq!(m.get("A12"), Some(&vec![5]));
        assert!(!m.contains_key("0012"));
        assert!(!m.contains_key("a12"));
        assert!(!m.contains_key(""));
        assert!(!m.contains_key("13"));
    }
}
