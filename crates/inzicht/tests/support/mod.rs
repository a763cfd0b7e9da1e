//! Test support for the web tool: a demo store with a running `inzicht serve`, a minimal
//! HTTP/1.1 client (cookies by hand, so that every request states exactly what it sends), and
//! a Chrome DevTools Protocol client over `--remote-debugging-pipe` (no WebSocket library, no
//! driver: Chromium reads commands on fd 3 and writes replies on fd 4, each a JSON text ended by
//! a NUL byte).

#![allow(dead_code)]

/// The demo store and its server, shared by the tests of one test binary.
pub struct Fixture {
    pub dir: PathBuf,
    pub addr: String,
    pub password: String,
}

pub fn fixture() -> &'static Fixture {
    static F: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    F.get_or_init(|| {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let d = demo();
            let s = serve(&d.dir.join("store"));
            let _ = tx.send(Fixture {
                dir: d.dir.clone(),
                addr: s.addr.clone(),
                password: d.password.clone(),
            });
            // Keep the store and the server for the life of the test process.
            let _keep = (d, s);
            loop {
                std::thread::park();
            }
        });
        rx.recv_timeout(Duration::from_secs(900))
            .expect("the demo and server did not start")
    })
}

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_inzicht")
}

/// The demo (no server), once: a synthetic municipality in a store, demo accounts.
pub struct Demo {
    pub _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub password: String,
}

pub fn demo() -> Demo {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("demo");
    let o = Command::new(bin())
        .args(["demo", "--no-serve", "--dir"])
        .arg(&dir)
        .output()
        .expect("run inzicht demo");
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "inzicht demo failed:\n{err}");
    let password = err
        .lines()
        .find_map(|l| l.split("wachtwoord/password ").nth(1))
        .map(|p| p.trim().to_string())
        .unwrap_or_else(|| panic!("the demo printed no password:\n{err}"));
    Demo {
        _tmp: tmp,
        dir,
        password,
    }
}

/// A running `inzicht serve` on an ephemeral port; killed on drop.
pub struct Server {
    child: Child,
    pub addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(store: &Path) -> Server {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(bin());
    cmd.args(["serve", "--bind", "127.0.0.1:0", "--store"])
        .arg(store)
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    // SAFETY: prctl only, between fork and exec: the server dies with the thread that started
    // it (a shared fixture starts it from a thread that lives as long as the test process).
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("start inzicht serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("http://").nth(1) {
                let _ = tx.send(rest.split('/').next().unwrap_or("").to_string());
            }
            eprintln!("[serve] {line}");
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("inzicht serve did not print its address");
    Server { child, addr }
}

/// One HTTP response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
    pub fn cookies(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|(_, v)| {
                let (kv, _) = v.split_once(';').unwrap_or((v, ""));
                let (k, v) = kv.split_once('=')?;
                Some((k.trim().to_string(), v.trim().to_string()))
            })
            .collect()
    }
}

/// A request on a fresh connection (`Connection: close`).
pub fn request(addr: &str, method: &str, path: &str, cookie: &str, body: &str) -> Reply {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(120))).ok();
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
    s.write_all(req.as_bytes()).expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no header end");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(nl) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..nl]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + size]);
        b = &b[nl + 2 + size + 2..];
    }
    out
}

/// The value of `name="csrf" value="…"` in a page.
pub fn csrf_of(html: &str) -> Option<String> {
    let i = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(html[i..].chars().take_while(|c| *c != '"').collect())
}

/// Logs in over HTTP; returns the session cookie header value.
pub fn login(addr: &str, user: &str, password: &str) -> String {
    let form = request(addr, "GET", "/login", "", "");
    let token = csrf_of(&form.text()).expect("login form without csrf");
    let login_cookie = form
        .cookies()
        .into_iter()
        .find(|(k, _)| k == "inzicht_login")
        .expect("login cookie");
    let r = request(
        addr,
        "POST",
        "/login",
        &format!("inzicht_login={}", login_cookie.1),
        &format!("csrf={token}&naam={user}&wachtwoord={password}"),
    );
    assert_eq!(r.status, 303, "login of {user} failed: {}", r.text());
    let (k, v) = r
        .cookies()
        .into_iter()
        .find(|(k, _)| k == "inzicht_sessie")
        .expect("session cookie");
    format!("{k}={v}")
}

// ---------------------------------------------------------------- Chromium over a pipe

pub fn chromium_path() -> Option<PathBuf> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

pub struct Browser {
    child: Child,
    to: std::fs::File,
    from: mpsc::Receiver<Value>,
    next_id: u64,
    session: String,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    /// Starts Chromium and opens a page. A Chromium that exits before it answers (seen once
    /// on a loaded CI machine, with the other tests starting processes beside it) is started
    /// again, up to three times, with a fresh profile.
    pub fn start(chromium: &Path) -> Browser {
        let mut why = Vec::new();
        for attempt in 1..=3 {
            let mut b = Browser::launch(chromium);
            match b.first_answer("Target.createTarget", json!({"url": "about:blank"})) {
                Ok(target) => {
                    let id = target["targetId"].as_str().expect("targetId").to_string();
                    let att = b.call_browser(
                        "Target.attachToTarget",
                        json!({"targetId": id, "flatten": true}),
                    );
                    b.session = att["sessionId"].as_str().expect("sessionId").to_string();
                    b.call("Page.enable", json!({}));
                    b.call("Runtime.enable", json!({}));
                    // The pages' CSP allows only their own scripts; the test injects axe-core.
                    b.call("Page.setBypassCSP", json!({"enabled": true}));
                    return b;
                }
                Err(e) => why.push(format!("attempt {attempt}: {e}")),
            }
        }
        panic!("chromium did not start: {}", why.join("; "))
    }

    /// The answer to the first command of a fresh Chromium, or why there is none (it exited, or
    /// did not answer within two minutes).
    fn first_answer(&mut self, method: &str, params: Value) -> Result<Value, String> {
        match self.exchange(method, params, None) {
            Ok(answer) => answer.map_err(|e| format!("{method}: {e}")),
            Err(why) => Err(format!("{method}: {why}")),
        }
    }

    fn exit_status(&mut self) -> String {
        match self.child.try_wait() {
            Ok(Some(status)) => format!("chromium exited ({status})"),
            Ok(None) => "chromium closed its pipe".into(),
            Err(e) => format!("chromium: {e}"),
        }
    }

    /// One Chromium process with the DevTools protocol on fds 3 and 4, no page yet.
    fn launch(chromium: &Path) -> Browser {
        use std::os::unix::io::FromRawFd;
        use std::os::unix::process::CommandExt;
        let profile = tempfile::tempdir().expect("profile dir");
        let mut cmd_pipe = [0i32; 2];
        let mut resp_pipe = [0i32; 2];
        // Close-on-exec: the processes other tests start meanwhile must not inherit this
        // browser's pipes (an inherited write end keeps a pipe open after Chromium exits).
        // SAFETY: plain pipe2(2) calls; the fds are owned below.
        unsafe {
            assert_eq!(libc::pipe2(cmd_pipe.as_mut_ptr(), libc::O_CLOEXEC), 0);
            assert_eq!(libc::pipe2(resp_pipe.as_mut_ptr(), libc::O_CLOEXEC), 0);
        }
        let (cmd_read, cmd_write) = (cmd_pipe[0], cmd_pipe[1]);
        let (resp_read, resp_write) = (resp_pipe[0], resp_pipe[1]);
        let mut c = Command::new(chromium);
        c.args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--remote-debugging-pipe",
            "--window-size=1280,1000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("about:blank")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        // SAFETY: only async-signal-safe dup2/close between fork and exec.
        unsafe {
            c.pre_exec(move || {
                // First to fds ≥ 10, so that neither end can be one of 3 and 4 when the other
                // is put there; dup2 gives 3 and 4 without close-on-exec, and the originals
                // (close-on-exec) close at exec.
                let (a, b) = (
                    libc::fcntl(cmd_read, libc::F_DUPFD, 10),
                    libc::fcntl(resp_write, libc::F_DUPFD, 10),
                );
                if a < 0 || b < 0 || libc::dup2(a, 3) < 0 || libc::dup2(b, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(a);
                libc::close(b);
                Ok(())
            });
        }
        let child = c.spawn().expect("start chromium");
        // SAFETY: the parent's ends, owned from here on; the child's ends are closed here.
        let (to, from_file) = unsafe {
            libc::close(cmd_read);
            libc::close(resp_write);
            (
                std::fs::File::from_raw_fd(cmd_write),
                std::fs::File::from_raw_fd(resp_read),
            )
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(from_file);
            loop {
                let mut buf = Vec::new();
                match r.read_until(0, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        buf.pop();
                        if let Ok(v) = serde_json::from_slice::<Value>(&buf) {
                            if tx.send(v).is_err() {
                                break;
                            }
                        }
                    }
                }
            }
        });
        Browser {
            child,
            to,
            from: rx,
            next_id: 0,
            session: String::new(),
            _profile: profile,
        }
    }

    fn send(&mut self, method: &str, params: Value, session: Option<&str>) -> Value {
        self.try_send(method, params, session)
            .unwrap_or_else(|e| panic!("chromium: {method}: {e}"))
    }

    /// As `send`, but an error answer is returned, not a panic.
    fn try_send(
        &mut self,
        method: &str,
        params: Value,
        session: Option<&str>,
    ) -> Result<Value, Value> {
        self.exchange(method, params, session)
            .unwrap_or_else(|why| panic!("chromium did not answer {method}: {why}"))
    }

    /// Sends a command and waits for its answer: `Ok` with the result or the error answer,
    /// `Err` with why there is none (Chromium exited, or two minutes passed).
    fn exchange(
        &mut self,
        method: &str,
        params: Value,
        session: Option<&str>,
    ) -> Result<Result<Value, Value>, String> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).expect("json");
        bytes.push(0);
        if let Err(e) = self.to.write_all(&bytes) {
            return Err(format!("writing to chromium: {e}; {}", self.exit_status()));
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.from.recv_timeout(left) {
                Ok(v) if v["id"].as_u64() == Some(id) => {
                    return Ok(match v.get("error") {
                        Some(e) => Err(e.clone()),
                        None => Ok(v["result"].clone()),
                    })
                }
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return Err(self.exit_status()),
                Err(mpsc::RecvTimeoutError::Timeout) => return Err("no answer within 120 s".into()),
            }
        }
    }

    fn call_browser(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, None)
    }

    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let s = self.session.clone();
        self.send(method, params, Some(&s))
    }

    /// Evaluates JavaScript in the page (promises awaited) and returns its value.
    pub fn eval(&mut self, js: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": js, "awaitPromise": true, "returnByValue": true}),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("JavaScript failed: {e}\n{}", &js[..js.len().min(300)]);
        }
        r["result"]["value"].clone()
    }

    /// As `eval`, for polling while the page may navigate: an evaluation that the navigation
    /// cut off (Chromium answers "Inspected target navigated or closed") gives `None`, to be
    /// asked again on the next page.
    fn poll(&mut self, js: &str) -> Option<Value> {
        let s = self.session.clone();
        match self.try_send(
            "Runtime.evaluate",
            json!({"expression": js, "awaitPromise": true, "returnByValue": true}),
            Some(&s),
        ) {
            Ok(r) => {
                if let Some(e) = r.get("exceptionDetails") {
                    panic!("JavaScript failed: {e}\n{}", &js[..js.len().min(300)]);
                }
                Some(r["result"]["value"].clone())
            }
            Err(e) if e.to_string().contains("navigated or closed") => None,
            Err(e) => panic!("chromium: Runtime.evaluate: {e}"),
        }
    }

    /// Waits until the document has loaded and its address starts with `prefix`.
    pub fn wait_for(&mut self, prefix: &str) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let v = self
                .poll("JSON.stringify([document.readyState, location.href])")
                .unwrap_or_default();
            let v: Value = serde_json::from_str(v.as_str().unwrap_or("[]")).unwrap_or_default();
            if v[0] == "complete" && v[1].as_str().is_some_and(|h| h.starts_with(prefix)) {
                return;
            }
            assert!(Instant::now() < deadline, "page {prefix} did not load: {v}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}));
        self.wait_for(url.split('?').next().unwrap_or(url));
    }

    /// Submits the first form matching `selector` after running `setup` (JS statements with the
    /// form as `f`), and waits for the next page.
    pub fn submit(&mut self, selector: &str, setup: &str, next: &str) {
        self.eval("window.__old = true");
        self.eval(&format!(
            "(() => {{ const f = document.querySelector({sel}); {setup}; f.requestSubmit ? f.requestSubmit() : f.submit(); return true; }})()",
            sel = serde_json::to_string(selector).unwrap_or_default()
        ));
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.poll("window.__old === true") != Some(json!(false)) {
            assert!(
                Instant::now() < deadline,
                "the form {selector} did not navigate"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        self.wait_for(next);
    }

    pub fn screenshot(&mut self, path: &Path) {
        use std::io::Write as _;
        let r = self.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true}),
        );
        let data = r["data"].as_str().unwrap_or("");
        let bytes = base64_decode(data);
        if let Ok(mut f) = std::fs::File::create(path) {
            let _ = f.write_all(&bytes);
        }
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in s.as_bytes() {
        let Some(v) = val(c) else { continue };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Percent-encoding of a query value (everything but unreserved characters).
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// axe-core, as `./scripts/test-all` installs it.
pub fn axe_source() -> String {
    let dir =
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    let p = std::path::Path::new(&dir).join("../../tests/browser/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&p).unwrap_or_else(|_| {
        panic!(
            "{} is missing: run ./scripts/test-all (it installs axe-core with npm)",
            p.display()
        )
    })
}

/// axe-core's WCAG 2.1 A/AA rules on the current page: the violations as text.
pub fn axe_violations(b: &mut Browser, axe: &str) -> Vec<String> {
    if b.eval("typeof axe") != Value::String("object".into()) {
        b.eval(&format!("{axe};true"));
    }
    let v = b.eval("axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}}).then(r => JSON.stringify(r.violations.map(v => v.id + ' (' + v.impact + '): ' + v.nodes.length + ' × ' + JSON.stringify(v.nodes[0].target) + ' ' + v.nodes[0].failureSummary)))");
    serde_json::from_str(v.as_str().unwrap_or("[]")).unwrap_or_default()
}
