//! The audit log: every query and export of the web tool, with user, time, parameters (a BSN
//! replaced by its HMAC) and a fingerprint (SHA-256) of the result.
//!
//! Append-only JSON lines in `audit/audit.log` in the secrets directory, chained with a keyed
//! MAC: `mac_i = HMAC-SHA256(K, mac_{i−1} ‖ canonical(entry_i))` with `mac_0` = 64 zeros and `K`
//! in `audit/audit.key` (0600). Someone who can edit the file but does not hold the key cannot
//! change, insert or remove an entry without `inzicht audit verify` noticing; cutting entries off
//! the end is caught by comparing with a head kept elsewhere (`inzicht audit head` prints the
//! current head and count for the privacy officer to keep).

use crate::auth::{hex, random_bytes, write_private};
use inzicht_store::secrets::{hmac_sha256, unhex};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    pub seq: u64,
    pub time: String,
    pub user: String,
    pub role: String,
    pub action: String,
    pub params: Value,
    /// SHA-256 of the result as served (hex), or empty for an action without a result.
    pub result: String,
    pub prev: String,
    pub mac: String,
}

impl Entry {
    /// The bytes the MAC covers: every field but `mac`, in a fixed order.
    fn canonical(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!([
            self.seq,
            self.time,
            self.user,
            self.role,
            self.action,
            self.params,
            self.result,
            self.prev
        ]))
        .unwrap_or_default()
    }
}

pub struct AuditLog {
    path: PathBuf,
    key: [u8; 32],
    /// (entries so far, MAC of the last).
    head: Mutex<(u64, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Head {
    pub count: u64,
    pub mac: String,
}

fn key_path(dir: &Path) -> PathBuf {
    dir.join("audit.key")
}

pub fn log_dir(secrets: &Path) -> PathBuf {
    secrets.join("audit")
}

impl AuditLog {
    /// Opens the log in `secrets/audit/` (creating it and its key on first use) and checks the
    /// whole chain: a server does not start on a log that was tampered with.
    pub fn open(secrets: &Path) -> Result<AuditLog, String> {
        let dir = log_dir(secrets);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let kp = key_path(&dir);
        let key = match std::fs::read_to_string(&kp) {
            Ok(t) => {
                let b = unhex(t.trim())
                    .ok_or_else(|| format!("{}: not a 64-digit hex key", kp.display()))?;
                b
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let k = random_bytes()?;
                write_private(&kp, hex(&k).as_bytes())?;
                k
            }
            Err(e) => return Err(format!("{}: {e}", kp.display())),
        };
        let path = dir.join("audit.log");
        let head = verify_file(&path, &key)?;
        Ok(AuditLog {
            path,
            key,
            head: Mutex::new((head.count, head.mac)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// HMAC of a BSN (or any identifier) for the parameters: the same BSN gives the same
    /// value, so an auditor can ask "who looked up this person" without the log holding it.
    pub fn identifier_mac(&self, id: &str) -> String {
        hex(&hmac_sha256(
            &self.key,
            format!("identifier:{id}").as_bytes(),
        ))
    }

    /// Appends one entry; returns its sequence number.
    pub fn append(
        &self,
        user: &str,
        role: &str,
        action: &str,
        params: Value,
        result: &[u8],
    ) -> Result<u64, String> {
        let mut head = self.head.lock().map_err(|_| "audit log lock poisoned")?;
        let fingerprint = if result.is_empty() {
            String::new()
        } else {
            use sha2::Digest;
            hex(&sha2::Sha256::digest(result))
        };
        let mut e = Entry {
            seq: head.0 + 1,
            time: inzicht_store::now_utc(),
            user: user.to_string(),
            role: role.to_string(),
            action: action.to_string(),
            params,
            result: fingerprint,
            prev: head.1.clone(),
            mac: String::new(),
        };
        e.mac = mac(&self.key, &e);
        let mut line = serde_json::to_vec(&e).map_err(|x| x.to_string())?;
        line.push(b'\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|x| format!("{}: {x}", self.path.display()))?;
        f.write_all(&line)
            .and_then(|_| f.sync_data())
            .map_err(|x| format!("{}: {x}", self.path.display()))?;
        *head = (e.seq, e.mac);
        Ok(head.0)
    }

    pub fn head(&self) -> Head {
        let h = self
            .head
            .lock()
            .map(|h| h.clone())
            .unwrap_or((0, GENESIS.into()));
        Head {
            count: h.0,
            mac: h.1,
        }
    }

    /// The last `n` entries (for the auditor's page).
    pub fn tail(&self, n: usize) -> Result<Vec<Entry>, String> {
        let all = read_entries(&self.path)?;
        let skip = all.len().saturating_sub(n);
        Ok(all.into_iter().skip(skip).collect())
    }
}

fn mac(key: &[u8; 32], e: &Entry) -> String {
    let mut msg = e.prev.as_bytes().to_vec();
    msg.extend_from_slice(&e.canonical());
    hex(&hmac_sha256(key, &msg))
}

fn read_entries(path: &Path) -> Result<Vec<Entry>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                format!(
                    "{} line {}: not an audit entry ({e}): the log was edited",
                    path.display(),
                    i + 1
                )
            })
        })
        .collect()
}

/// Checks the chain of the file; returns its head.
pub fn verify_file(path: &Path, key: &[u8; 32]) -> Result<Head, String> {
    let entries = read_entries(path)?;
    let mut prev = GENESIS.to_string();
    for (i, e) in entries.iter().enumerate() {
        let line = i + 1;
        if e.seq != line as u64 {
            return Err(format!(
                "{} line {line}: sequence number {} where {line} was expected: entries were removed or inserted",
                path.display(),
                e.seq
            ));
        }
        if e.prev != prev {
            return Err(format!(
                "{} line {line}: does not follow the entry before it: the chain is broken",
                path.display()
            ));
        }
        if mac(key, e) != e.mac {
            return Err(format!(
                "{} line {line}: the MAC does not match: the entry was changed",
                path.display()
            ));
        }
        prev = e.mac.clone();
    }
    Ok(Head {
        count: entries.len() as u64,
        mac: prev,
    })
}

/// `inzicht audit verify`: checks the chain and, if given, that the log still reaches a head
/// kept elsewhere (`count` entries, the `count`-th with MAC `mac`) — which catches truncation.
pub fn verify(secrets: &Path, expect: Option<(u64, &str)>) -> Result<Head, String> {
    let dir = log_dir(secrets);
    let kp = key_path(&dir);
    let key_text = std::fs::read_to_string(&kp).map_err(|e| format!("{}: {e}", kp.display()))?;
    let key = unhex(key_text.trim())
        .ok_or_else(|| format!("{}: not a 64-digit hex key", kp.display()))?;
    let path = dir.join("audit.log");
    let head = verify_file(&path, &key)?;
    if let Some((count, mac)) = expect {
        if head.count < count {
            return Err(format!(
                "the log has {} entries but {count} were recorded at the kept head: entries were cut off the end",
                head.count
            ));
        }
        let entries = read_entries(&path)?;
        let at = entries
            .get(count.saturating_sub(1) as usize)
            .map(|e| e.mac.as_str());
        if count > 0 && at != Some(mac) {
            return Err(format!(
                "entry {count} does not have the kept head's MAC: the log was rewritten"
            ));
        }
    }
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_detects_edits_removals_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path()).unwrap();
        for i in 0..5 {
            log.append(
                "anna",
                "analist",
                "monitor",
                serde_json::json!({"i": i}),
                b"x",
            )
            .unwrap();
        }
        let head = log.head();
        assert_eq!(head.count, 5);
        assert_eq!(verify(dir.path(), Some((5, &head.mac))).unwrap(), head);
        let path = log.path().to_path_buf();
        let original = std::fs::read_to_string(&path).unwrap();
        // An edited parameter.
        std::fs::write(&path, original.replace("\"i\":2", "\"i\":7")).unwrap();
        assert!(verify(dir.path(), None).unwrap_err().contains("line 3"));
        // A removed line.
        let lines: Vec<&str> = original.lines().collect();
        let removed = [lines[0], lines[1], lines[3], lines[4]].join("\n") + "\n";
        std::fs::write(&path, removed).unwrap();
        assert!(verify(dir.path(), None).is_err());
        // Truncation is consistent on its own, but not with the kept head.
        let cut = [lines[0], lines[1], lines[2]].join("\n") + "\n";
        std::fs::write(&path, cut).unwrap();
        assert!(verify(dir.path(), None).is_ok());
        assert!(verify(dir.path(), Some((5, &head.mac)))
            .unwrap_err()
            .contains("cut off"));
        // A server refuses to start on a broken log.
        std::fs::write(&path, original.replace("anna", "bert")).unwrap();
        assert!(AuditLog::open(dir.path()).is_err());
    }
}
