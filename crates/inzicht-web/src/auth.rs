//! Local accounts, roles and sessions.
//!
//! - Accounts live in `users.json` in the secrets directory (beside the key file, never in the
//!   store), written atomically with mode 0600. Passwords are hashed with Argon2id (RFC 9106;
//!   the `argon2` crate's defaults: m = 19 MiB, t = 2, p = 1, the OWASP minimum).
//! - A session is a 256-bit random token in a cookie (`HttpOnly; Secure; SameSite=Strict`),
//!   with its own CSRF token (synchroniser-token pattern: every POST carries it in a hidden field
//!   and it is compared in constant time). Sessions expire after 30 minutes idle or 8 hours.
//! - Failed logins: after 5 failures for an account, further attempts for it are refused for
//!   60 seconds (slows guessing without locking an account out for good).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Analyses on the ADS.
    Analist,
    /// Ingest, data quality, the ODS.
    DataTeam,
    /// Decision-support pages only; may look up one client by BSN.
    Consulent,
    /// The audit log.
    Auditor,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "analist" | "analyst" => Some(Role::Analist),
            "data-team" | "datateam" => Some(Role::DataTeam),
            "consulent" | "consultant" => Some(Role::Consulent),
            "auditor" => Some(Role::Auditor),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Role::Analist => "analist",
            Role::DataTeam => "data-team",
            Role::Consulent => "consulent",
            Role::Auditor => "auditor",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub role: Role,
    /// PHC string of the Argon2id hash.
    pub hash: String,
    pub created: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Users {
    pub users: Vec<User>,
}

pub fn users_path(secrets: &Path) -> PathBuf {
    secrets.join("users.json")
}

/// 32 random bytes from the operating system.
pub fn random_bytes() -> Result<[u8; 32], String> {
    use std::io::Read;
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    Ok(b)
}

pub use inzicht_store::secrets::hex;

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Users {
    pub fn load(secrets: &Path) -> Result<Users, String> {
        let p = users_path(secrets);
        match std::fs::read_to_string(&p) {
            Ok(t) => serde_json::from_str(&t).map_err(|e| {
                format!(
                    "{}: not a valid accounts file ({e}); restore it from a backup or remove it and add the accounts again with `inzicht user add`",
                    p.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Users::default()),
            Err(e) => Err(format!("{}: {e}", p.display())),
        }
    }

    pub fn save(&self, secrets: &Path) -> Result<(), String> {
        let p = users_path(secrets);
        let tmp = secrets.join(".users.json.tmp");
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        write_private(&tmp, text.as_bytes())?;
        std::fs::rename(&tmp, &p).map_err(|e| format!("{}: {e}", p.display()))
    }

    /// Adds or replaces an account.
    pub fn set(&mut self, name: &str, role: Role, password: &str) -> Result<(), String> {
        validate_name(name)?;
        if password.chars().count() < 12 {
            return Err("a password needs at least 12 characters".into());
        }
        let salt = SaltString::encode_b64(&random_bytes()?[..16]).map_err(|e| e.to_string())?;
        let hash = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| format!("hashing the password: {e}"))?
            .to_string();
        self.users.retain(|u| u.name != name);
        self.users.push(User {
            name: name.to_string(),
            role,
            hash,
            created: inzicht_store::now_utc(),
        });
        self.users.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(())
    }

    /// The account if the password matches. A missing account costs the same work (a hash of a
    /// fixed dummy), so response times do not tell which accounts exist.
    pub fn check(&self, name: &str, password: &str) -> Option<&User> {
        let user = self.users.iter().find(|u| u.name == name);
        let phc = user.map(|u| u.hash.as_str()).unwrap_or(DUMMY_HASH);
        let ok = PasswordHash::new(phc)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false);
        if ok {
            user
        } else {
            None
        }
    }
}

/// Argon2id of a random password nobody knows (for timing equality of unknown accounts).
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$1rP2k5H4Qp1mTtJXrsy9PtV9d3XJ0jvtsBz1bH6Ur2E";

pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "account name '{name}': use 1–64 letters, digits, '-', '_' or '.'"
        ));
    }
    Ok(())
}

/// Writes a file readable by its owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub user: String,
    pub role: Role,
    pub csrf: String,
    created: Instant,
    last_seen: Instant,
}

const IDLE: Duration = Duration::from_secs(30 * 60);
const ABSOLUTE: Duration = Duration::from_secs(8 * 3600);
const MAX_FAILURES: u32 = 5;
const LOCKOUT: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct Sessions {
    by_token: Mutex<HashMap<String, SessionInfo>>,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Sessions {
    pub fn create(&self, user: &str, role: Role) -> Result<(String, SessionInfo), String> {
        let token = hex(&random_bytes()?);
        let now = Instant::now();
        let info = SessionInfo {
            user: user.to_string(),
            role,
            csrf: hex(&random_bytes()?),
            created: now,
            last_seen: now,
        };
        let mut m = self.by_token.lock().map_err(|_| "session table poisoned")?;
        m.retain(|_, s| now.duration_since(s.last_seen) < IDLE);
        m.insert(token.clone(), info.clone());
        Ok((token, info))
    }

    pub fn get(&self, token: &str) -> Option<SessionInfo> {
        let mut m = self.by_token.lock().ok()?;
        let now = Instant::now();
        let s = m.get_mut(token)?;
        if now.duration_since(s.last_seen) > IDLE || now.duration_since(s.created) > ABSOLUTE {
            m.remove(token);
            return None;
        }
        s.last_seen = now;
        Some(s.clone())
    }

    pub fn remove(&self, token: &str) {
        if let Ok(mut m) = self.by_token.lock() {
            m.remove(token);
        }
    }

    /// Whether a login for `name` may be tried now.
    pub fn may_try(&self, name: &str) -> bool {
        let Ok(m) = self.failures.lock() else {
            return false;
        };
        match m.get(name) {
            Some((n, at)) if *n >= MAX_FAILURES => at.elapsed() > LOCKOUT,
            _ => true,
        }
    }

    pub fn failed(&self, name: &str) {
        if let Ok(mut m) = self.failures.lock() {
            let e = m.entry(name.to_string()).or_insert((0, Instant::now()));
            if e.1.elapsed() > LOCKOUT {
                e.0 = 0;
            }
            e.0 += 1;
            e.1 = Instant::now();
        }
    }

    pub fn succeeded(&self, name: &str) {
        if let Ok(mut m) = self.failures.lock() {
            m.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_round_trip_and_wrong_passwords_fail() {
        let dir = tempfile::tempdir().unwrap();
        let mut u = Users::load(dir.path()).unwrap();
        assert!(u.set("anna", Role::Analist, "kort").is_err());
        assert!(u
            .set("an na", Role::Analist, "lang genoeg wachtwoord")
            .is_err());
        u.set("anna", Role::Analist, "lang genoeg wachtwoord")
            .unwrap();
        u.save(dir.path()).unwrap();
        let mode = std::fs::metadata(users_path(dir.path())).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.permissions().mode() & 0o777, 0o600);
        let u = Users::load(dir.path()).unwrap();
        assert!(u.users[0].hash.starts_with("$argon2id$"));
        assert_eq!(
            u.check("anna", "lang genoeg wachtwoord").map(|x| x.role),
            Some(Role::Analist)
        );
        assert!(u.check("anna", "lang genoeg wachtwoorD").is_none());
        assert!(u.check("bert", "lang genoeg wachtwoord").is_none());
    }

    #[test]
    fn lockout_after_repeated_failures() {
        let s = Sessions::default();
        for _ in 0..MAX_FAILURES {
            assert!(s.may_try("x"));
            s.failed("x");
        }
        assert!(!s.may_try("x"));
        assert!(s.may_try("y"));
    }
}
