//! `inzicht bench --web`: the web tool under load on loopback (issue 7's targets).
//!
//! A synthetic municipality is generated and loaded, an account is added, and `inzicht serve`
//! runs as a child process (its own cores, as in production). A load generator in this process
//! then measures, from the client side of loopback:
//!
//! 1. **per page**: the first request for each of several parameter sets (computed, not cached)
//!    and then repeated requests over the same sets (served from the per-snapshot cache), p50 and
//!    p95 of all requests of the page;
//! 2. **concurrency**: 50 sessions, each logged in on its own, requesting a mix of pages with
//!    varying parameters for 60 s; the number of requests, errors (any status but 200, or a
//!    failed connection) and p50 / p95 / p99.
//!
//! Timings are reported, never asserted. There is no reference stack for a web tool like this in
//! R or Python, so there is no ratio column.

use crate::cli::Failure;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// The parameter sets each page is asked with: what an analyst clicks through.
const PAGES: &[(&str, &[&str])] = &[
    (
        "/monitor",
        &[
            "",
            "indeling=wijk",
            "indeling=age_band",
            "indeling=household_type",
            "cohortindeling=geslacht",
        ],
    ),
    (
        "/tabel",
        &[
            "indeling=age_band&indeling=sex",
            "indeling=wijk&maat=person_months",
            "indeling=outflow&waar=year%20%3D%202023",
            "indeling=provision_group&indeling=duration_band",
        ],
    ),
    (
        "/beslisboom",
        &[
            "",
            "diepte=2",
            "diepte=4&min_blad=50",
            "horizon=6",
            "peil=duur%3A12",
            "leeftijd_max=26",
        ],
    ),
    (
        "/overleving",
        &["", "groep=geslacht", "leeftijd_max=26", "maanden=24"],
    ),
    ("/voorspelmodel", &["", "horizon=6"]),
    ("/clusters", &[""]),
];

struct Reply {
    status: u16,
    set_cookies: Vec<String>,
    body: Vec<u8>,
}

/// One request on a fresh connection (`Connection: close`), as a browser without keep-alive.
fn request(
    addr: &str,
    method: &str,
    path: &str,
    cookie: &str,
    body: &str,
) -> std::io::Result<Reply> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if !cookie.is_empty() {
        req.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    if method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let bad = || std::io::Error::other("malformed HTTP reply");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(bad)?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(bad)?;
    let set_cookies = lines
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.trim().split(';').next().unwrap_or("").to_string())
        .collect();
    Ok(Reply {
        status,
        set_cookies,
        body: raw[split + 4..].to_vec(),
    })
}

/// Logs in through the form; returns the session cookie (`name=value`).
fn login(addr: &str, user: &str, password: &str) -> Result<String, Failure> {
    let fail = |what: &str| Failure::io(format!("web benchmark: login failed ({what})"));
    let form = request(addr, "GET", "/login", "", "").map_err(|e| fail(&e.to_string()))?;
    let html = String::from_utf8_lossy(&form.body).to_string();
    let marker = "name=\"csrf\" value=\"";
    let token: String = html
        .find(marker)
        .map(|i| {
            html[i + marker.len()..]
                .chars()
                .take_while(|c| *c != '"')
                .collect()
        })
        .ok_or_else(|| fail("no token in the form"))?;
    let login_cookie = form
        .set_cookies
        .iter()
        .find(|c| c.starts_with("inzicht_login="))
        .ok_or_else(|| fail("no login cookie"))?;
    let r = request(
        addr,
        "POST",
        "/login",
        login_cookie,
        &format!("csrf={token}&naam={user}&wachtwoord={password}"),
    )
    .map_err(|e| fail(&e.to_string()))?;
    r.set_cookies
        .into_iter()
        .find(|c| c.starts_with("inzicht_sessie="))
        .ok_or_else(|| fail(&format!("status {}", r.status)))
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // Nearest-rank percentile (the smallest value with at least q of the values at or below it).
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(x: f64) -> String {
    format!("{:.1} ms", x * 1e3)
}

/// The peak resident memory of a running process (Linux: `VmHWM` in /proc/PID/status).
fn peak_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// A running `inzicht serve`; killed on drop.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(exe: &Path, store: &Path, key: &Path) -> Result<(Server, String), Failure> {
    let mut child = Command::new(exe)
        .args(["serve", "--bind", "127.0.0.1:0", "--store"])
        .arg(store)
        .arg("--key-file")
        .arg(key)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Failure::io(format!("cannot start inzicht serve: {e}")))?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| Failure::io("no stderr of inzicht serve"))?;
    let server = Server(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("http://").nth(1) {
                let _ = tx.send(rest.split('/').next().unwrap_or("").to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .map_err(|_| Failure::io("inzicht serve did not print its address"))?;
    Ok((server, addr))
}

/// Rows for docs/benchmarks.md (the table's nine columns).
pub fn bench_web(
    exe: &Path,
    synth_dir: &Path,
    clients: u32,
    seconds: u64,
    sessions: usize,
) -> Result<Vec<String>, Failure> {
    let (base, key) = crate::bench::loaded_store(synth_dir, "web")?;
    let store = base.join("store");
    let secrets = inzicht_store::recordkeys::secrets_dir(&key);
    let password = inzicht_web::auth::random_bytes()
        .map(|b| inzicht_web::auth::hex(&b[..12]))
        .map_err(Failure::io)?;
    let mut users = inzicht_web::auth::Users::load(&secrets).map_err(Failure::usage)?;
    users
        .set("bench", inzicht_web::auth::Role::Analist, &password)
        .map_err(Failure::usage)?;
    users.save(&secrets).map_err(Failure::io)?;
    let (server, addr) = start_server(exe, &store, &key)?;
    let cookie = login(&addr, "bench", &password)?;
    let scale = format!("{clients} clients");
    let mut rows = Vec::new();

    // 1. Per page: the first request per parameter set (computed), then 20 rounds over the sets.
    for (page, sets) in PAGES {
        let mut first = Vec::new();
        let mut all = Vec::new();
        for round in 0..21 {
            for q in *sets {
                let path = if q.is_empty() {
                    page.to_string()
                } else {
                    format!("{page}?{q}")
                };
                let t = Instant::now();
                let r = request(&addr, "GET", &path, &cookie, "")
                    .map_err(|e| Failure::io(format!("{path}: {e}")))?;
                let dt = t.elapsed().as_secs_f64();
                if r.status != 200 {
                    return Err(Failure::io(format!(
                        "web benchmark: {path} answered {}: {}",
                        r.status,
                        String::from_utf8_lossy(&r.body)
                            .chars()
                            .take(300)
                            .collect::<String>()
                    )));
                }
                // The default choices of the first pages are computed when the server starts
                // (warm-up), so only the other sets show the cost of computing.
                if round == 0 && !q.is_empty() {
                    first.push(dt);
                }
                all.push(dt);
            }
        }
        first.sort_by(f64::total_cmp);
        all.sort_by(f64::total_cmp);
        let computed = if first.is_empty() {
            "only the default choices, computed at start-up".to_string()
        } else {
            format!(
                "first request of the {} non-default sets (computed): median {}, slowest {}",
                first.len(),
                ms(percentile(&first, 0.5)),
                ms(percentile(&first, 1.0))
            )
        };
        rows.push(format!(
            "| web page `{page}`, {} parameter sets × 21 requests | {scale} | {} | {} | {} | — | p95 < 100 ms | {computed} | — |\n",
            sets.len(),
            all.len(),
            ms(percentile(&all, 0.5)),
            ms(percentile(&all, 0.95)),
        ));
    }

    // 2. Concurrency: `sessions` sessions for `seconds`, each its own login and its own sequence.
    let cookies: Vec<String> = (0..sessions)
        .map(|_| login(&addr, "bench", &password))
        .collect::<Result<_, _>>()?;
    let paths: Arc<Vec<String>> = Arc::new(
        PAGES
            .iter()
            .flat_map(|(page, sets)| {
                sets.iter().map(move |q| {
                    if q.is_empty() {
                        page.to_string()
                    } else {
                        format!("{page}?{q}")
                    }
                })
            })
            .chain(["/".to_string(), "/api/monitor".to_string()])
            .collect(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let workers: Vec<_> = cookies
        .into_iter()
        .enumerate()
        .map(|(i, cookie)| {
            let (addr, paths, stop) = (addr.clone(), paths.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                let mut errors = 0usize;
                let mut first_error: Option<String> = None;
                // A fixed, per-session sequence through the pages (SplitMix64-style stepping).
                let mut state = 0x9E37_79B9_7F4A_7C15u64.wrapping_mul(i as u64 + 1);
                while !stop.load(Ordering::Relaxed) {
                    state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                    let mut z = state;
                    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                    let path = &paths[(z ^ (z >> 31)) as usize % paths.len()];
                    let t = Instant::now();
                    match request(&addr, "GET", path, &cookie, "") {
                        Ok(r) if r.status == 200 => lat.push(t.elapsed().as_secs_f64()),
                        Ok(r) => {
                            errors += 1;
                            first_error.get_or_insert(format!("{path}: status {}", r.status));
                        }
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert(format!("{path}: {e}"));
                        }
                    }
                }
                (lat, errors, first_error)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    let mut lat = Vec::new();
    let mut errors = 0;
    let mut error_example: Option<String> = None;
    for w in workers {
        let (l, e, first) = w.join().map_err(|_| Failure::io("a load thread failed"))?;
        lat.extend(l);
        errors += e;
        if let Some(f) = first {
            error_example.get_or_insert(f);
        }
    }
    let wall = started.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    let peak = peak_mib(server.0.id()).map_or("—".into(), |m| format!("{m:.0} MiB (server)"));
    rows.push(format!(
        "| web load: {sessions} sessions for {seconds} s, mix of {} pages and parameter sets | {scale} | {} requests ({:.0}/s), {errors} errors | {} | {} | {peak} | 0 errors, p95 < 300 ms | p99 {}{} | — |\n",
        paths.len(),
        lat.len() + errors,
        (lat.len() + errors) as f64 / wall,
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.95)),
        ms(percentile(&lat, 0.99)),
        error_example.map_or(String::new(), |e| format!("; first error: {e}")),
    ));
    drop(server);
    let _ = std::fs::remove_dir_all(&base);
    Ok(rows)
}
