//! The query log and the budget against averaging attacks.
//!
//! Cell keys give the same set of persons the same noise, so repeating a query or differencing
//! two tables of the same persons reveals nothing new. The remaining danger (Asghar & Kaafar
//! 2019, "Averaging attacks on bounded noise-based disclosure control algorithms") is a series of
//! *different* target groups whose person sets differ by fewer than the threshold: each pair is
//! a fresh noisy look at a handful of persons, and averaging many such looks removes the noise.
//!
//! Every query's target group (the persons its `--where` selects) is summarised by a
//! [`SetSketch`] — size, an exact set fingerprint, and a bottom-k sketch of the persons' record
//! keys (Broder 1997; Cohen & Kaplan 2007) — and appended to a per-user log beside the key file.
//! A target group that differs from an earlier one of the same user (within the window) by
//! more than 0 and fewer than `threshold` persons is *near-identical* and spends one unit of the
//! budget; past the budget such queries are refused. Identical sets are free (same noise).
//!
//! The log is append-only and hash-chained (each entry carries the SHA-256 of the previous one),
//! so an edit is detectable with [`verify`]; keeping analysts from writing to it at all is the
//! file system's job (the directory of the key file; docs/protection.md).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{BufRead, Write};

use std::path::{Path, PathBuf};

/// The number of smallest record keys kept per set. Sets of at most this size are compared
/// exactly.
pub const SKETCH_SIZE: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetSketch {
    pub n: u64,
    /// Σ record keys modulo 2⁶³ (as a decimal string: JSON numbers lose precision).
    pub fingerprint: String,
    /// The smallest record keys, ascending, at most [`SKETCH_SIZE`].
    pub bottom: Vec<u64>,
}

impl SetSketch {
    /// From every record key of the set (tests and small sets).
    pub fn from_keys(keys: &[u64]) -> Self {
        let mut sorted = keys.to_vec();
        sorted.sort_unstable();
        let sum = keys
            .iter()
            .fold(0u128, |a, &k| (a + k as u128) % (1u128 << 63));
        sorted.truncate(SKETCH_SIZE);
        SetSketch {
            n: keys.len() as u64,
            fingerprint: sum.to_string(),
            bottom: sorted,
        }
    }

    fn complete(&self) -> bool {
        self.n as usize <= self.bottom.len()
    }

    /// True when both describe exactly the same set (same size, fingerprint and sketch).
    pub fn same_set(&self, other: &SetSketch) -> bool {
        self.n == other.n && self.fingerprint == other.fingerprint && self.bottom == other.bottom
    }

    /// Compares the sketches: `(mismatches, region)` — among the `region` smallest keys of the
    /// union (the bottom-k of A ∪ B), how many lie in one set only. When both sketches hold
    /// their whole set the region is the whole union and the mismatches are exactly |A Δ B|.
    fn mismatches(&self, other: &SetSketch) -> (u64, u64) {
        let (a, b) = (&self.bottom, &other.bottom);
        let complete = self.complete() && other.complete();
        let k = if complete {
            usize::MAX
        } else {
            a.len().min(b.len())
        };
        let a_max = a.last().copied().unwrap_or(0);
        let b_max = b.last().copied().unwrap_or(0);
        let (mut i, mut j, mut taken, mut diff) = (0, 0, 0u64, 0u64);
        while (taken as usize) < k && (i < a.len() || j < b.len()) {
            let x = a.get(i).copied().unwrap_or(u64::MAX);
            let y = b.get(j).copied().unwrap_or(u64::MAX);
            if x == y {
                i += 1;
                j += 1;
            } else if x < y {
                // Beyond the end of an incomplete sketch, membership is unknown: stop.
                if !other.complete() && x > b_max {
                    break;
                }
                diff += 1;
                i += 1;
            } else {
                if !self.complete() && y > a_max {
                    break;
                }
                diff += 1;
                j += 1;
            }
            taken += 1;
        }
        (diff, taken)
    }

    /// Could the two sets differ by more than 0 and fewer than `threshold` persons?
    ///
    /// Exact when both sketches are complete. Otherwise the size difference is a lower bound of
    /// |A Δ B|, and the m mismatches among the r smallest keys of the union are a Poisson count
    /// with mean ≈ |A Δ B|·r/|A ∪ B|. The sets count as near-identical unless m rules out
    /// |A Δ B| < threshold beyond reasonable doubt: P(M ≥ m | |A Δ B| = threshold − 1) < 10⁻⁶.
    /// Conservative on purpose — a false alarm costs a refusal, a miss could leak a person.
    pub fn near_identical(&self, other: &SetSketch, threshold: u64) -> bool {
        if self.same_set(other) {
            return false;
        }
        if self.n.abs_diff(other.n) >= threshold {
            return false;
        }
        let (m, r) = self.mismatches(other);
        if self.complete() && other.complete() {
            return m > 0 && m < threshold;
        }
        if r == 0 {
            return true;
        }
        let union = self.n.max(other.n).max(1) as f64;
        let lambda = (threshold.saturating_sub(1)) as f64 * r as f64 / union;
        poisson_upper_tail(lambda, m) >= 1e-6
    }
}

/// P(X ≥ m) for X ~ Poisson(λ), summed from the tail side so that tiny values stay accurate.
pub fn poisson_upper_tail(lambda: f64, m: u64) -> f64 {
    if m == 0 {
        return 1.0;
    }
    // Σ_{i ≥ m} e^{−λ} λ^i / i!, starting at i = m (log space for the first term).
    let mut log_term = -lambda + m as f64 * lambda.max(1e-300).ln();
    for i in 1..=m {
        log_term -= (i as f64).ln();
    }
    let mut term = log_term.exp();
    let mut sum = 0.0;
    let mut i = m;
    while term > sum * 1e-17 && i < m + 10_000 {
        sum += term;
        i += 1;
        term *= lambda / i as f64;
    }
    sum.min(1.0)
}

/// The one-sided 95% lower confidence bound of a Poisson mean after observing `m` (Garwood
/// 1936): the λ with P(X ≥ m | λ) = 0.05; 0 for m = 0.
pub fn poisson_lower_95(m: u64) -> f64 {
    if m == 0 {
        return 0.0;
    }
    let tail = |lambda: f64| {
        // P(X ≥ m) = 1 − Σ_{i<m} e^{−λ} λ^i / i!
        let mut term = (-lambda).exp();
        let mut cdf = term;
        for i in 1..m {
            term *= lambda / i as f64;
            cdf += term;
        }
        1.0 - cdf
    };
    let (mut lo, mut hi) = (0.0, m as f64 + 10.0 * (m as f64).sqrt() + 10.0);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if tail(mid) < 0.05 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// Seconds since 1970 (UTC).
    pub time: u64,
    pub user: String,
    pub snapshot: String,
    /// SHA-256 of the canonical query (command, dimensions, filter, measure).
    pub query: String,
    pub set: SetSketch,
    /// True when this target group spent a unit of the budget.
    pub near_identical: bool,
    /// True when the query was refused (not answered; not charged).
    pub refused: bool,
    pub prev: String,
    pub hash: String,
}

fn entry_hash(e: &Entry) -> String {
    let mut copy = e.clone();
    copy.hash = String::new();
    let text = serde_json::to_string(&copy).unwrap_or_default();
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What the log says about a new query.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Answer it. `charged` when it spent a unit of the budget.
    Answer { charged: bool, remaining: u32 },
    /// Refuse it, with the explanation for the user.
    Refuse(String),
}

/// The log of one user, in `dir/<user>.jsonl`. What a decision needs of each entry already
/// read is kept in memory (the file only grows), so a long session (the web tool) reads each
/// entry once.
pub struct QueryLog {
    path: PathBuf,
    user: String,
    cache: std::cell::RefCell<(u64, Vec<Summary>)>,
}

/// What a decision needs of every entry; the sketch itself (most of an entry's ~5 KB) is read
/// only for the few entries whose set size lies within the threshold of the new set's size,
/// the only ones that can be the same or a near-identical set. Reading every sketch made the
/// log check cost ~15 ms per 1,000 entries on the command line, which re-reads the log on every
/// query; the summaries cost well under 1 ms per 1,000.
#[derive(Debug, Clone)]
struct Summary {
    time: u64,
    n: u64,
    fingerprint: String,
    near_identical: bool,
    refused: bool,
    hash: String,
    /// Where the entry's line starts in the file, and its length in bytes.
    offset: u64,
    len: usize,
}

impl Summary {
    /// One line of the summary file: offset, length, time, n, fingerprint, flags and hash,
    /// tab-separated (~120 bytes where the entry takes ~5 KB).
    fn index_line(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            self.offset,
            self.len,
            self.time,
            self.n,
            self.fingerprint,
            self.near_identical as u8,
            self.refused as u8,
            self.hash
        )
    }

    fn from_index_line(line: &str) -> Option<Self> {
        let mut f = line.strip_suffix('\n')?.split('\t');
        let mut next = || f.next();
        let s = Summary {
            offset: next()?.parse().ok()?,
            len: next()?.parse().ok()?,
            time: next()?.parse().ok()?,
            n: next()?.parse().ok()?,
            fingerprint: next()?.to_string(),
            near_identical: next()? == "1",
            refused: next()? == "1",
            hash: next()?.to_string(),
        };
        next().is_none().then_some(s)
    }

    fn of(e: &Entry, offset: u64, len: usize) -> Self {
        Summary {
            time: e.time,
            n: e.set.n,
            fingerprint: e.set.fingerprint.clone(),
            near_identical: e.near_identical,
            refused: e.refused,
            hash: e.hash.clone(),
            offset,
            len,
        }
    }

    /// The summary of a line as this module writes it (`serde_json::to_string(&Entry)`: the
    /// fields in declaration order, no spaces), read from its first and last few hundred bytes.
    /// `None` for any other layout, which is then parsed in full. The markers cannot occur
    /// inside the string fields before them: JSON escapes every quote in a string.
    fn scan(line: &str, offset: u64) -> Option<Self> {
        fn number(s: &str) -> Option<(u64, &str)> {
            let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            Some((s[..end].parse().ok()?, &s[end..]))
        }
        fn boolean(s: &str) -> Option<(bool, &str)> {
            if let Some(rest) = s.strip_prefix("true") {
                Some((true, rest))
            } else {
                s.strip_prefix("false").map(|rest| (false, rest))
            }
        }
        let text = line.trim_end_matches('\n');
        let (time, _) = number(text.strip_prefix("{\"time\":")?)?;
        let at = text.find("\"set\":{\"n\":")?;
        let (n, rest) = number(&text[at + 11..])?;
        let rest = rest.strip_prefix(",\"fingerprint\":\"")?;
        let fingerprint = &rest[..rest.find('"')?];
        let at = text.rfind(",\"near_identical\":")?;
        let (near_identical, rest) = boolean(&text[at + 18..])?;
        let (refused, rest) = boolean(rest.strip_prefix(",\"refused\":")?)?;
        let rest = rest.strip_prefix(",\"prev\":\"")?;
        let rest = &rest[rest.find('"')? + 1..];
        let hash = rest.strip_prefix(",\"hash\":\"")?.strip_suffix("\"}")?;
        if hash.contains('"') || fingerprint.contains('\\') {
            return None;
        }
        Some(Summary {
            time,
            n,
            fingerprint: fingerprint.to_string(),
            near_identical,
            refused,
            hash: hash.to_string(),
            offset,
            len: line.len(),
        })
    }
}

/// A file name for a user name: letters, digits, `.`, `_` and `-` stay; anything else is hex.
fn file_name(user: &str) -> String {
    if !user.is_empty()
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !user.starts_with('.')
    {
        format!("{user}.jsonl")
    } else {
        let hex: String = user.bytes().map(|b| format!("{b:02x}")).collect();
        format!("u-{hex}.jsonl")
    }
}

/// The log opened at byte `offset`; `None` when there is no log yet.
fn open_at(path: &Path, offset: u64) -> Result<Option<std::fs::File>, String> {
    use std::io::Seek;
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    file.seek(std::io::SeekFrom::Start(offset))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Some(file))
}

fn read_entries(path: &Path) -> Result<Vec<Entry>, String> {
    read_entries_from(path, 0).map(|(_, e)| e)
}

/// Entries from byte `offset` on; returns the offset after the last complete line.
fn read_entries_from(path: &Path, offset: u64) -> Result<(u64, Vec<Entry>), String> {
    let Some(file) = open_at(path, offset)? else {
        return Ok((0, Vec::new()));
    };
    let mut out = Vec::new();
    let mut at = offset;
    let mut reader = std::io::BufReader::new(file);
    let mut i = 0;
    loop {
        let mut line = String::new();
        let n = reader
            .read_line(&mut line)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 || !line.ends_with('\n') {
            break;
        }
        at += n as u64;
        i += 1;
        if line.trim().is_empty() {
            continue;
        }
        let e: Entry = serde_json::from_str(&line).map_err(|e| {
            format!(
                "{} (entry {i} after byte {offset}): not a query-log entry ({e}); the log may have been edited",
                path.display(),
            )
        })?;
        out.push(e);
    }
    Ok((at, out))
}

/// Summaries of the entries from byte `offset` on; returns the offset after the last complete
/// line. Lines this module did not write are parsed in full (and must still be entries).
fn read_summaries_from(path: &Path, offset: u64) -> Result<(u64, Vec<Summary>), String> {
    use std::io::Read;
    let Some(mut file) = open_at(path, offset)? else {
        return Ok((0, Vec::new()));
    };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    // Only complete lines: a line being appended by another process is read next time.
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let text = std::str::from_utf8(&bytes[..complete]).map_err(|e| {
        format!(
            "{} (after byte {offset}): not UTF-8 ({e}); the log may have been edited",
            path.display()
        )
    })?;
    let mut out = Vec::new();
    let mut at = offset;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let start = at;
        at += line.len() as u64;
        if line.trim().is_empty() {
            continue;
        }
        let summary = match Summary::scan(line, start) {
            Some(s) => s,
            None => {
                let e: Entry = serde_json::from_str(line).map_err(|e| {
                    format!(
                        "{} (entry {} after byte {offset}): not a query-log entry ({e}); the log may have been edited",
                        path.display(),
                        i + 1
                    )
                })?;
                Summary::of(&e, start, line.len())
            }
        };
        out.push(summary);
    }
    Ok((at, out))
}

/// The full entry of a summary, read from its line.
fn read_entry(path: &Path, s: &Summary) -> Result<Entry, String> {
    use std::io::Read;
    let mut file =
        open_at(path, s.offset)?.ok_or_else(|| format!("{}: the log is gone", path.display()))?;
    let mut line = vec![0u8; s.len];
    file.read_exact(&mut line)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&line).map_err(|e| {
        format!(
            "{} (entry at byte {}): not a query-log entry ({e}); the log may have been edited",
            path.display(),
            s.offset
        )
    })
}

/// The summary file beside a log (`<user>.jsonl.summary`): a cache of [`Summary`] lines, so that
/// a fresh process (every `inzicht table` on the command line) reads ~120 bytes per earlier
/// query instead of ~5 KB. It is checked against the log before use — its entries must lie
/// within the log and its last entry's hash must be that of the log line it points at — and
/// rebuilt from the log when it is missing or does not match; [`verify`] compares it in full.
fn summary_path(log: &Path) -> PathBuf {
    let mut name = log
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".summary");
    log.with_file_name(name)
}

/// The summaries of the summary file, if it matches the first `log_len` bytes of the log.
fn read_summary_file(log: &Path, log_len: u64) -> Option<Vec<Summary>> {
    let text = std::fs::read_to_string(summary_path(log)).ok()?;
    let mut out: Vec<Summary> = Vec::new();
    for line in text.split_inclusive('\n') {
        let s = Summary::from_index_line(line)?;
        // Contiguous from the log's first byte: a line missing from the summary file (an
        // entry hidden from the budget) makes it unusable, and the log is read instead.
        let expected = out.last().map_or(0, |p| p.offset + p.len as u64);
        if s.offset != expected || s.offset + s.len as u64 > log_len {
            return None;
        }
        out.push(s);
    }
    if let Some(last) = out.last() {
        let entry = read_entry(log, last).ok()?;
        if entry.hash != last.hash {
            return None;
        }
    }
    Some(out)
}

/// Rewrites the summary file whole (a temporary file renamed into place). Best effort: without
/// it the log is read in full, which is slower but gives the same decisions.
fn write_summary_file(log: &Path, summaries: &[Summary]) {
    let path = summary_path(log);
    let tmp = path.with_extension("summary.tmp");
    let text: String = summaries.iter().map(Summary::index_line).collect();
    if std::fs::write(&tmp, text).is_ok() {
        let _ = std::fs::rename(&tmp, &path);
    }
}

/// Checks the hash chain of a log; returns the number of entries or the first broken line.
pub fn verify(path: &Path) -> Result<usize, String> {
    let entries = read_entries(path)?;
    let mut prev = String::new();
    for (i, e) in entries.iter().enumerate() {
        if e.prev != prev || entry_hash(e) != e.hash {
            return Err(format!(
                "{} line {}: the hash chain is broken — the log was edited",
                path.display(),
                i + 1
            ));
        }
        prev = e.hash.clone();
    }
    // The summary file, if any, must describe the log's entries exactly (an edited summary
    // could otherwise hide spent budget from the check).
    if let Ok(text) = std::fs::read_to_string(summary_path(path)) {
        let (_, from_log) = read_summaries_from(path, 0)?;
        for (i, line) in text.split_inclusive('\n').enumerate() {
            let matches = Summary::from_index_line(line)
                .zip(from_log.get(i))
                .is_some_and(|(a, b)| a.index_line() == b.index_line());
            if !matches {
                return Err(format!(
                    "{} line {}: does not match the log — the summary file was edited; delete it (inzicht rebuilds it from the log)",
                    summary_path(path).display(),
                    i + 1
                ));
            }
        }
    }
    Ok(entries.len())
}

impl QueryLog {
    pub fn new(dir: &Path, user: &str) -> Self {
        QueryLog {
            path: dir.join(file_name(user)),
            user: user.to_string(),
            cache: std::cell::RefCell::new((0, Vec::new())),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Decides on a query and appends it to the log (answered or refused), under a file lock so
    /// that parallel queries of one user are serialised.
    pub fn check_and_record(
        &self,
        policy: &crate::Policy,
        snapshot: &str,
        query: &str,
        set: &SetSketch,
        now: u64,
    ) -> Result<Decision, String> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        file.lock()
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        let mut cache = self.cache.borrow_mut();
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len < cache.0 {
            // The file shrank: it was replaced or edited. Read it again from the start.
            *cache = (0, Vec::new());
        }
        let mut rewrite_summaries = false;
        if cache.0 == 0 && len > 0 {
            match read_summary_file(&self.path, len) {
                Some(known) => {
                    cache.0 = known.last().map_or(0, |s| s.offset + s.len as u64);
                    cache.1 = known;
                }
                None => rewrite_summaries = true,
            }
        }
        if len > cache.0 {
            let (offset, new) = read_summaries_from(&self.path, cache.0)?;
            rewrite_summaries |= !new.is_empty();
            cache.0 = offset;
            cache.1.extend(new);
        }
        let entries = &cache.1;
        let window_start = now.saturating_sub(policy.budget_window_days as u64 * 86_400);
        let recent: Vec<&Summary> = entries
            .iter()
            .filter(|e| e.time >= window_start && !e.refused)
            .collect();
        let spent = recent.iter().filter(|e| e.near_identical).count() as u32;
        // Only sets whose size differs by less than the threshold can be the same set or a
        // near-identical one (`SetSketch::near_identical`); each distinct set (size and
        // fingerprint) among them is read once.
        let mut candidates: Vec<&Summary> = recent
            .iter()
            .copied()
            .filter(|e| e.n.abs_diff(set.n) < policy.threshold)
            .collect();
        candidates.sort_by(|a, b| (a.n, &a.fingerprint).cmp(&(b.n, &b.fingerprint)));
        candidates.dedup_by(|a, b| a.n == b.n && a.fingerprint == b.fingerprint);
        let mut sets = Vec::with_capacity(candidates.len());
        for c in candidates {
            sets.push(read_entry(&self.path, c)?.set);
        }
        let identical_seen = sets.iter().any(|s| s.same_set(set));
        let near = !identical_seen && sets.iter().any(|s| s.near_identical(set, policy.threshold));
        let decision = if near && spent >= policy.query_budget {
            Decision::Refuse(format!(
                "Geweigerd: deze doelgroep verschilt minder dan {t} personen van een doelgroep die u eerder opvroeg (budget: {b} zulke vragen per {w} dagen). Het verschil tussen twee bijna gelijke doelgroepen gaat over een handvol personen en kan hen onthullen. Tip: zet wat u varieert in --by (bijvoorbeeld --by month) in plaats van in --where, of kies een wezenlijk andere doelgroep; de privacy officer kan het log inzien ({p}). / Refused: this target group differs by fewer than {t} persons from one you asked for before (budget {b} per {w} days); the difference concerns a handful of persons. Put what you vary in --by instead of --where, or choose a clearly different group.",
                t = policy.threshold,
                b = policy.query_budget,
                w = policy.budget_window_days,
                p = self.path.display()
            ))
        } else {
            Decision::Answer {
                charged: near,
                remaining: policy.query_budget.saturating_sub(spent + near as u32),
            }
        };
        let mut entry = Entry {
            time: now,
            user: self.user.clone(),
            snapshot: snapshot.to_string(),
            query: query.to_string(),
            set: set.clone(),
            near_identical: near && matches!(decision, Decision::Answer { .. }),
            refused: matches!(decision, Decision::Refuse(_)),
            prev: entries.last().map(|e| e.hash.clone()).unwrap_or_default(),
            hash: String::new(),
        };
        entry.hash = entry_hash(&entry);
        let line = serde_json::to_string(&entry).map_err(|e| e.to_string())? + "\n";
        file.write_all(line.as_bytes())
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        let summary = Summary::of(&entry, cache.0, line.len());
        if rewrite_summaries {
            cache.1.push(summary);
            write_summary_file(&self.path, &cache.1);
        } else {
            // Appended after the log line: a process killed in between leaves the summary file
            // one entry short, which the next check reads from the log.
            let appended = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(summary_path(&self.path))
                .and_then(|mut f| f.write_all(summary.index_line().as_bytes()));
            cache.1.push(summary);
            if appended.is_err() {
                write_summary_file(&self.path, &cache.1);
            }
        }
        cache.0 += line.len() as u64;
        Ok(decision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;

    fn keys(range: std::ops::Range<u64>) -> Vec<u64> {
        range
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 1)
            .collect()
    }

    #[test]
    fn near_identical_is_exact_for_small_sets_and_conservative_for_large() {
        let a = SetSketch::from_keys(&keys(0..100));
        let b = SetSketch::from_keys(&keys(1..100));
        assert!(a.near_identical(&b, 10));
        assert!(!a.near_identical(&a, 10));
        assert!(!a.near_identical(&SetSketch::from_keys(&keys(50..150)), 10));
        assert!(!a.near_identical(&SetSketch::from_keys(&keys(0..90)), 10));
        assert!(a.near_identical(&SetSketch::from_keys(&keys(0..91)), 10));
        // Large sets: one person less is always caught, wherever that person's key lies.
        for missing in [0u64, 1, 5_000, 19_999] {
            let mut k = keys(0..20_000);
            k.remove(missing as usize);
            assert!(SetSketch::from_keys(&keys(0..20_000))
                .near_identical(&SetSketch::from_keys(&k), 10));
        }
        // A swap of one person for another, same size.
        let mut swapped = keys(1..20_000);
        swapped.push(u64::MAX >> 2);
        assert!(SetSketch::from_keys(&keys(0..20_000))
            .near_identical(&SetSketch::from_keys(&swapped), 10));
        // Sets of equal size that differ by thousands are not near-identical.
        let big = SetSketch::from_keys(&keys(0..20_000));
        assert!(!big.near_identical(&SetSketch::from_keys(&keys(5_000..25_000)), 10));
        // Differing by 2,000 of 20,000 persons while the sizes match: not near-identical.
        let mut k = keys(0..18_000);
        k.extend(keys(30_000..32_000));
        assert!(!big.near_identical(&SetSketch::from_keys(&k), 10));
        // One person less in a set of 200,000, even when that person's key is in the sketch.
        let huge: Vec<u64> = keys(0..200_000);
        let smallest = {
            let mut k = huge.clone();
            k.sort_unstable();
            k[0]
        };
        let without: Vec<u64> = huge.iter().copied().filter(|&k| k != smallest).collect();
        assert!(SetSketch::from_keys(&huge).near_identical(&SetSketch::from_keys(&without), 10));
        assert!((poisson_upper_tail(2.0, 1) - (1.0 - (-2.0f64).exp())).abs() < 1e-12);
        assert!((poisson_lower_95(1) - 0.0513).abs() < 1e-3);
        assert!((poisson_lower_95(3) - 0.8177).abs() < 1e-3);
    }

    #[test]
    fn near_identical_groups_spend_the_budget_and_are_then_refused() {
        let dir = tempfile::tempdir().unwrap();
        let policy = Policy {
            query_budget: 3,
            ..Policy::default()
        };
        let log = QueryLog::new(dir.path(), "analist");
        let base = SetSketch::from_keys(&keys(0..500));
        let now = 1_800_000_000;
        assert_eq!(
            log.check_and_record(&policy, "s", "q0", &base, now)
                .unwrap(),
            Decision::Answer {
                charged: false,
                remaining: 3
            }
        );
        // The same group again is free.
        assert!(matches!(
            log.check_and_record(&policy, "s", "q0", &base, now)
                .unwrap(),
            Decision::Answer { charged: false, .. }
        ));
        for i in 1..=3u64 {
            let mut k = keys(0..500);
            k.remove(i as usize);
            let d = log
                .check_and_record(&policy, "s", "qi", &SetSketch::from_keys(&k), now + i)
                .unwrap();
            assert!(matches!(d, Decision::Answer { charged: true, .. }), "{d:?}");
        }
        let mut k = keys(0..500);
        k.remove(7);
        let d = log
            .check_and_record(&policy, "s", "q7", &SetSketch::from_keys(&k), now + 10)
            .unwrap();
        assert!(matches!(d, Decision::Refuse(_)));
        // A clearly different group is still answered.
        let d = log
            .check_and_record(
                &policy,
                "s",
                "other",
                &SetSketch::from_keys(&keys(1000..1300)),
                now + 11,
            )
            .unwrap();
        assert!(matches!(d, Decision::Answer { charged: false, .. }));
        // After the window the budget is back.
        let d = log
            .check_and_record(
                &policy,
                "s",
                "q7",
                &SetSketch::from_keys(&k),
                now + 31 * 86_400,
            )
            .unwrap();
        assert!(matches!(d, Decision::Answer { .. }), "{d:?}");
        // Another user has an own budget.
        let other = QueryLog::new(dir.path(), "collega");
        assert!(matches!(
            other.check_and_record(&policy, "s", "q7", &SetSketch::from_keys(&k), now + 12),
            Ok(Decision::Answer { .. })
        ));
        assert_eq!(verify(log.path()).unwrap(), 8);
    }

    #[test]
    fn the_summary_of_a_written_line_equals_that_of_the_parsed_entry() {
        let mut e = Entry {
            time: 1_800_000_000,
            user: "an\"a \\ \"set\":{\"n\":9,".into(),
            snapshot: "s".into(),
            query: "q".into(),
            set: SetSketch::from_keys(&keys(0..300)),
            near_identical: true,
            refused: false,
            prev: "ab".into(),
            hash: String::new(),
        };
        e.hash = entry_hash(&e);
        let line = serde_json::to_string(&e).unwrap() + "\n";
        let scanned = Summary::scan(&line, 7).expect("the layout this module writes");
        let parsed = Summary::of(&e, 7, line.len());
        assert_eq!(format!("{scanned:?}"), format!("{parsed:?}"));
        assert_eq!(
            (scanned.n, scanned.near_identical, scanned.refused),
            (300, true, false)
        );
        // Another layout (pretty-printed, as an editor might leave it) is not guessed at.
        let pretty = serde_json::to_string_pretty(&e).unwrap().replace('\n', " ");
        assert!(Summary::scan(&pretty, 0).is_none());
    }

    #[test]
    fn the_summary_file_gives_the_same_decisions_and_an_edit_of_it_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let policy = Policy {
            query_budget: 3,
            ..Policy::default()
        };
        // Target groups that differ by one person from the previous one: near-identical.
        let decide = |user: &str, i: u64, drop: u64| {
            let k = keys(drop..5_000);
            QueryLog::new(dir.path(), user)
                .check_and_record(&policy, "s", "q", &SetSketch::from_keys(&k), 100 + i)
                .unwrap()
        };
        // A fresh log per query, as on the command line: the same sequence of decisions with
        // and without a summary file (deleted before every query for "b").
        for i in 0..(policy.query_budget as u64 + 3) {
            let a = decide("a", i, i + 1);
            let _ = std::fs::remove_file(summary_path(&dir.path().join("b.jsonl")));
            let b = decide("b", i, i + 1);
            let kind = |d: &Decision| match d {
                Decision::Refuse(_) => None,
                Decision::Answer { charged, remaining } => Some((*charged, *remaining)),
            };
            assert_eq!(kind(&a), kind(&b), "query {i}");
            assert_eq!(
                matches!(a, Decision::Refuse(_)),
                i > policy.query_budget as u64
            );
        }
        // The same set as an earlier answered one: free.
        assert!(matches!(decide("a", 99, 1), Decision::Answer { .. }));
        let log = dir.path().join("a.jsonl");
        assert!(verify(&log).is_ok());
        // Freeing budget by editing the summary file is caught by verify …
        let summary = std::fs::read_to_string(summary_path(&log)).unwrap();
        let edited: String = summary
            .lines()
            .map(|l| {
                let mut f: Vec<&str> = l.split('\t').collect();
                f[5] = "0";
                f.join("\t") + "\n"
            })
            .collect();
        std::fs::write(summary_path(&log), &edited).unwrap();
        assert!(verify(&log).unwrap_err().contains("summary file"));
        // … a summary file with an entry left out is not used: the log is read instead …
        let mut lines: Vec<String> = summary.lines().map(|l| format!("{l}\n")).collect();
        let charged = lines
            .iter()
            .position(|l| l.split('\t').nth(5) == Some("1"))
            .unwrap();
        lines.remove(charged);
        std::fs::write(summary_path(&log), lines.concat()).unwrap();
        assert!(matches!(decide("a", 99, 5), Decision::Refuse(_)));
        assert!(verify(&log).is_ok(), "rebuilt from the log");
        // … and garbage in it is ignored: rebuilt from the log.
        std::fs::write(summary_path(&log), "garbage\n").unwrap();
        assert!(matches!(decide("a", 100, 1), Decision::Answer { .. }));
        assert!(matches!(decide("a", 101, 5), Decision::Refuse(_)));
        assert!(verify(&log).is_ok());
    }

    #[test]
    fn an_edited_log_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let log = QueryLog::new(dir.path(), "a b/c");
        assert!(log
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("u-"));
        let policy = Policy::default();
        for i in 0..3 {
            log.check_and_record(
                &policy,
                "s",
                "q",
                &SetSketch::from_keys(&keys(i * 1000..i * 1000 + 50)),
                i,
            )
            .unwrap();
        }
        assert_eq!(verify(log.path()).unwrap(), 3);
        let text = std::fs::read_to_string(log.path()).unwrap();
        let edited = text.replacen("\"near_identical\":false", "\"near_identical\":true", 1);
        std::fs::write(log.path(), edited).unwrap();
        assert!(verify(log.path()).is_err());
        let lines: Vec<&str> = text.lines().collect();
        std::fs::write(log.path(), format!("{}\n{}\n", lines[0], lines[2])).unwrap();
        assert!(verify(log.path()).is_err());
    }
}
