//! Snapshots and the `current` pointer.

use crate::StoreError;
use std::path::{Path, PathBuf};

pub struct Store {
    pub dir: PathBuf,
}

impl Store {
    pub fn new(dir: &Path) -> Self {
        Store {
            dir: dir.to_path_buf(),
        }
    }

    pub fn snapshots_dir(&self) -> PathBuf {
        self.dir.join("snapshots")
    }

    /// The committed snapshots, oldest first.
    pub fn list(&self) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(self.snapshots_dir())
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    /// The load id `current` points to.
    pub fn current(&self) -> Option<String> {
        let target = std::fs::read_link(self.dir.join("current")).ok()?;
        target.file_name().map(|n| n.to_string_lossy().into_owned())
    }

    /// The directory of a snapshot: `as_of` names a load id (or a unique prefix of one); `None`
    /// means the current snapshot.
    pub fn resolve(&self, as_of: Option<&str>) -> Result<PathBuf, StoreError> {
        let id = match as_of {
            None => self.current().ok_or_else(|| {
                StoreError::Input(format!(
                    "{} holds no loaded snapshot yet; run inzicht ingest first",
                    self.dir.display()
                ))
            })?,
            Some(prefix) => {
                let matches: Vec<String> = self
                    .list()
                    .into_iter()
                    .filter(|s| s.starts_with(prefix))
                    .collect();
                match matches.len() {
                    1 => matches[0].clone(),
                    0 => {
                        return Err(StoreError::Input(format!(
                            "no snapshot '{prefix}' in {}; available: {}",
                            self.dir.display(),
                            self.list().join(", ")
                        )))
                    }
                    _ => {
                        return Err(StoreError::Input(format!(
                            "'{prefix}' matches several snapshots: {}",
                            matches.join(", ")
                        )))
                    }
                }
            }
        };
        Ok(self.snapshots_dir().join(id))
    }

    /// Points `current` at `id` atomically (a new link renamed over the old one) and makes sure
    /// the fixed links at the store root exist.
    pub fn commit(&self, id: &str) -> Result<(), StoreError> {
        let io = |e: std::io::Error| StoreError::Internal(format!("{}: {e}", self.dir.display()));
        let tmp = self.dir.join(".current.new");
        let _ = std::fs::remove_file(&tmp);
        symlink(Path::new("snapshots").join(id).as_path(), &tmp).map_err(io)?;
        std::fs::rename(&tmp, self.dir.join("current")).map_err(io)?;
        for name in [
            "ods.duckdb",
            "ads.duckdb",
            "reconciliation.json",
            "quality.json",
            "quality.html",
        ] {
            let link = self.dir.join(name);
            if std::fs::symlink_metadata(&link).is_err() {
                symlink(Path::new("current").join(name).as_path(), &link).map_err(io)?;
            }
        }
        Ok(())
    }

    /// Removes directories of loads that were killed halfway (never the current snapshot).
    pub fn clean_stale(&self) {
        if let Ok(rd) = std::fs::read_dir(self.snapshots_dir()) {
            for e in rd.filter_map(Result::ok) {
                if e.file_name().to_string_lossy().starts_with(".tmp-") {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
    }
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(_target: &Path, _link: &Path) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "the store needs symbolic links (Linux or macOS)",
    ))
}
