//! The key file and pseudonymisation.
//!
//! The ADS holds a keyed pseudonym of the BSN, never the BSN: HMAC-SHA-256 (RFC 2104) of the
//! person key under a 256-bit secret, truncated to 128 bits and written as 32 hexadecimal
//! characters (NIST SP 800-107 allows truncating HMAC output; 128 bits leave collisions among
//! millions of people at odds below 10⁻²⁵). The key lives in a key file outside the store,
//! created on first use with mode 0600 and never logged. Beside it, the file holds the secret from
//! which disclosure control derives its per-person record keys, so that holding the ADS does not
//! let anyone strip the noise.

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct KeyFile {
    pub path: PathBuf,
    pseudonym_key: [u8; 32],
    record_key_secret: [u8; 32],
    pub created: String,
}

/// Lower-case hexadecimal of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 32 bytes from 64 hexadecimal digits (None for anything else).
pub fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn random_32() -> Result<[u8; 32], String> {
    let mut buf = [0u8; 32];
    let mut f = std::fs::File::open("/dev/urandom")
        .map_err(|e| format!("cannot read /dev/urandom for a new key: {e}"))?;
    std::io::Read::read_exact(&mut f, &mut buf)
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    Ok(buf)
}

/// HMAC-SHA-256 (RFC 2104): H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m)), block size 64 bytes.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

impl KeyFile {
    /// Opens the key file, or creates it (mode 0600) when it does not exist. Refuses a key file
    /// inside the store directory.
    pub fn open_or_create(path: &Path, store: &Path) -> Result<(Self, bool), String> {
        let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let (kp, sp) = (abs(path), abs(store));
        let store_real = std::fs::canonicalize(&sp).unwrap_or(sp.clone());
        let key_parent_real = kp
            .parent()
            .and_then(|p| std::fs::canonicalize(p).ok())
            .unwrap_or_else(|| kp.clone());
        if kp.starts_with(&sp) || key_parent_real.starts_with(&store_real) {
            return Err(format!("the key file {} lies inside the store {}; keep it outside, so that access to the store never gives the key", path.display(), store.display()));
        }
        if path.exists() {
            return Ok((Self::load(path)?, false));
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !parent.exists() {
                // A new directory for the secrets: only the owner may enter it.
                std::fs::create_dir_all(parent).map_err(|e| {
                    format!(
                        "cannot create the key file's directory {}: {e}",
                        parent.display()
                    )
                })?;
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    let _ =
                        std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o700));
                }
            }
        }
        let key = KeyFile {
            path: path.to_path_buf(),
            pseudonym_key: random_32()?,
            record_key_secret: random_32()?,
            created: crate::now_utc(),
        };
        key.save()?;
        Ok((key, true))
    }

    pub fn load(path: &Path) -> Result<Self, String> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|e| format!("{}: {e}", path.display()))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(format!(
                    "the key file {} can be read by others (mode {:o}); run: chmod 600 {}",
                    path.display(),
                    mode & 0o777,
                    path.display()
                ));
            }
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read the key file: {e}", path.display()))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|_| format!("{}: not an inzicht key file", path.display()))?;
        let get = |k: &str| {
            v[k].as_str()
                .and_then(unhex)
                .ok_or_else(|| format!("{}: key file lacks a valid {k}", path.display()))
        };
        Ok(KeyFile {
            path: path.to_path_buf(),
            pseudonym_key: get("pseudonym_key")?,
            record_key_secret: get("record_key_secret")?,
            created: v["created"].as_str().unwrap_or("").to_string(),
        })
    }

    /// Writes the key file atomically with mode 0600.
    pub fn save(&self) -> Result<(), String> {
        self.save_as(&self.path)
    }

    /// Writes the key to `path` atomically with mode 0600.
    pub fn save_as(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::json!({
            "format": "inzicht-key-v1",
            "warning": "Geheim: wie deze sleutel heeft, kan pseudoniemen aan BSN's koppelen. Bewaar buiten de opslagmap. / Secret: keep outside the store.",
            "created": self.created,
            "pseudonym_key": hex(&self.pseudonym_key),
            "record_key_secret": hex(&self.record_key_secret),
        })
        .to_string();
        let tmp = path.with_extension("tmp");
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts
            .open(&tmp)
            .map_err(|e| format!("cannot write the key file {}: {e}", tmp.display()))?;
        f.write_all(text.as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| format!("cannot write the key file: {e}"))?;
        std::fs::rename(&tmp, path)
            .map_err(|e| format!("cannot write the key file {}: {e}", path.display()))
    }

    /// A new pseudonymisation key, keeping the path: for `inzicht key rotate`. The record-key
    /// secret stays: a new one would give the same persons fresh, independent noise in the new
    /// snapshot, and comparing old and new snapshots would average the noise away.
    pub fn rotated(&self) -> Result<Self, String> {
        Ok(KeyFile {
            path: self.path.clone(),
            pseudonym_key: random_32()?,
            record_key_secret: self.record_key_secret,
            created: crate::now_utc(),
        })
    }

    /// A fingerprint that identifies the key without revealing it (first 8 bytes of SHA-256 of
    /// the key, hex): recorded with each load.
    pub fn key_id(&self) -> String {
        hex(&Sha256::digest(self.pseudonym_key)[..8])
    }

    /// The pseudonym of a person key.
    pub fn pseudonym(&self, person_key: &str) -> String {
        hex(&hmac_sha256(&self.pseudonym_key, person_key.as_bytes())[..16])
    }

    /// The cell-key record key of a person: a 63-bit integer (disclosure control uses the sum
    /// of a cell's keys modulo 2³², i.e. the cell-key method's "sum modulo 1" in fixed point).
    /// Derived from the person key, so a person keeps their record key across loads and key
    /// rotations: the same persons always get the same noise, also between snapshots.
    pub fn record_key(&self, person_key: &str) -> u64 {
        let h = hmac_sha256(&self.record_key_secret, person_key.as_bytes());
        u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]) >> 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231 test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block.
        let mac = hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        assert_eq!(
            hex(&mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn key_file_is_private_and_outside_the_store() {
        let tmp = tempfile::tempdir().unwrap();
        let store = tmp.path().join("store");
        std::fs::create_dir(&store).unwrap();
        assert!(KeyFile::open_or_create(&store.join("k.json"), &store).is_err());
        let (k, created) = KeyFile::open_or_create(&tmp.path().join("k.json"), &store).unwrap();
        assert!(created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(tmp.path().join("k.json"))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777,
                0o600
            );
        }
        let (again, created) = KeyFile::open_or_create(&tmp.path().join("k.json"), &store).unwrap();
        assert!(!created);
        assert_eq!(k.pseudonym("111222333"), again.pseudonym("111222333"));
        assert_eq!(k.pseudonym("111222333").len(), 32);
        assert_ne!(
            k.pseudonym("111222333"),
            k.rotated().unwrap().pseudonym("111222333")
        );
        let r = k.record_key("111222333");
        assert!(r < 1 << 63);
        assert_ne!(r, k.record_key("111222334"));
        // Rotation changes pseudonyms, not record keys (noise stays consistent over snapshots).
        assert_eq!(k.rotated().unwrap().record_key("111222333"), r);
    }
}
