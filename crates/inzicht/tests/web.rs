//! The web tool end to end (issue 7): access control, CSRF, path traversal, exports, the JSON
//! twins, the consultant's BSN lookup, the audit log — over HTTP — and, in headless Chromium,
//! every page, every control of the tree tool, a download, the provision question of the issue
//! and axe-core's accessibility check. One demo store and one server serve all tests.

mod support;

use serde_json::Value;
use std::io::Write;
use support::{fixture, login, request};

/// The analyst's pages (the data team's quality page is checked on its own).
const PAGES: &[&str] = &[
    "/monitor",
    "/tabel",
    "/clusters",
    "/beslisboom",
    "/overleving",
    "/voorzieningen",
    "/voorspelmodel",
];

#[test]
fn every_route_checks_the_session_the_role_and_csrf() {
    let f = fixture();
    let a = &f.addr;
    // Without a session: pages redirect to the login, data routes answer 401.
    for p in PAGES.iter().chain(&["/", "/consulent", "/audit"]) {
        let r = request(a, "GET", p, "", "");
        assert_eq!(r.status, 303, "{p} without a session");
        assert_eq!(r.header("location"), Some("/login"), "{p}");
    }
    for p in [
        "/api/monitor",
        "/export/monitor?tabel=maanden&formaat=csv",
        "/grafiek/monitor/bestand.svg",
        "/api/voorzieningen",
    ] {
        let r = request(a, "GET", p, "", "");
        assert_eq!(r.status, 401, "{p} without a session");
        assert!(!r.text().contains("caseload"), "{p} leaked data");
    }
    for p in ["/voorzieningen", "/consulent", "/uitloggen"] {
        let r = request(a, "POST", p, "", "csrf=x");
        assert!(
            r.status == 303 || r.status == 401,
            "POST {p} without a session: {}",
            r.status
        );
    }
    // A wrong password gives no session, and says so without telling whether the name exists.
    let form = request(a, "GET", "/login", "", "");
    let token = support::csrf_of(&form.text()).unwrap();
    let lc = form
        .cookies()
        .into_iter()
        .find(|(k, _)| k == "inzicht_login")
        .unwrap();
    let r = request(
        a,
        "POST",
        "/login",
        &format!("inzicht_login={}", lc.1),
        &format!("csrf={token}&naam=demo&wachtwoord=fout"),
    );
    assert_eq!(r.status, 401);
    assert!(r.cookies().iter().all(|(k, _)| k != "inzicht_sessie"));
    // Login without the login form's token (login CSRF) is refused.
    let r = request(
        a,
        "POST",
        "/login",
        "",
        &format!("csrf={token}&naam=demo&wachtwoord={}", f.password),
    );
    assert!(
        r.cookies().iter().all(|(k, _)| k != "inzicht_sessie"),
        "login CSRF"
    );
    // Roles.
    let analist = login(a, "demo", &f.password);
    let consulent = login(a, "consulent", &f.password);
    let auditor = login(a, "auditor", &f.password);
    let datateam = login(a, "datateam", &f.password);
    let forbidden = [
        (&consulent, "/monitor"),
        (&consulent, "/api/beslisboom"),
        (&consulent, "/export/monitor?tabel=maanden&formaat=csv"),
        (&consulent, "/audit"),
        (&analist, "/audit"),
        (&analist, "/consulent"),
        (&auditor, "/monitor"),
        (&auditor, "/consulent"),
        (&datateam, "/beslisboom"),
        (&datateam, "/api/voorspelmodel"),
        (&analist, "/datakwaliteit"),
        (&analist, "/api/datakwaliteit"),
    ];
    for (cookie, p) in forbidden {
        let r = request(a, "GET", p, cookie, "");
        assert_eq!(r.status, 403, "{p} must be forbidden for this role");
    }
    assert_eq!(
        request(a, "GET", "/datakwaliteit", &datateam, "").status,
        200
    );
    assert_eq!(request(a, "GET", "/audit", &auditor, "").status, 200);
    assert_eq!(request(a, "GET", "/consulent", &consulent, "").status, 200);
    // POST without (or with a wrong) CSRF token is refused.
    for (cookie, p, body) in [
        (&analist, "/voorzieningen", "leeftijd_max=26"),
        (&analist, "/voorzieningen", "csrf=00&leeftijd_max=26"),
        (&consulent, "/consulent", "bsn=123456782"),
        (&analist, "/uitloggen", ""),
    ] {
        let r = request(a, "POST", p, cookie, body);
        assert_eq!(r.status, 403, "POST {p} without a valid CSRF token");
    }
    // Path traversal and unknown names never reach a file.
    let key = std::fs::read_to_string(f.dir.join("sleutel.json")).unwrap();
    for p in [
        "/export/..%2f..%2fsleutel.json?tabel=maanden&formaat=csv",
        "/export/monitor?tabel=..%2f..%2fsleutel.json&formaat=csv",
        "/assets/..%2f..%2fsleutel.json",
        "/assets/%2e%2e/Cargo.toml",
        "/grafiek/monitor/..%2f..%2fsleutel.json",
        "/grafiek/..%2f/x.svg",
        "/../sleutel.json",
        "/export/monitor?tabel=maanden&formaat=../../x",
    ] {
        let r = request(a, "GET", p, &analist, "");
        assert!(matches!(r.status, 400 | 404), "{p}: {}", r.status);
        assert!(
            !r.text().contains(key.trim().get(10..40).unwrap_or("")),
            "{p} leaked the key"
        );
    }
    // No open redirect through the language toggle.
    let r = request(a, "GET", "/taal?naar=en&terug=//evil.example/x", "", "");
    assert_eq!(r.header("location"), Some("/"));
    // Security headers on every page.
    let r = request(a, "GET", "/monitor", &analist, "");
    assert!(r
        .header("content-security-policy")
        .is_some_and(|c| c.contains("default-src 'none'")));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    let set = request(a, "GET", "/login", "", "");
    assert!(set
        .headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("set-cookie")
            && v.contains("HttpOnly")
            && v.contains("SameSite=Strict")));
}

#[test]
fn pages_have_json_twins_and_protected_stamped_exports() {
    let f = fixture();
    let a = &f.addr;
    let analist = login(a, "demo", &f.password);
    let datateam = login(a, "datateam", &f.password);
    for p in [
        "/monitor",
        "/datakwaliteit",
        "/clusters",
        "/beslisboom",
        "/overleving",
        "/voorspelmodel",
        "/tabel?indeling=age_band&indeling=sex",
    ] {
        let s = if p == "/datakwaliteit" {
            &datateam
        } else {
            &analist
        };
        let page = request(a, "GET", p, s, "");
        assert_eq!(page.status, 200, "{p}: {}", page.text());
        let api = request(a, "GET", &format!("/api{}", p), s, "");
        assert_eq!(api.status, 200, "/api{p}");
        let env: Value = serde_json::from_slice(&api.body).unwrap();
        assert!(
            env["protection"]["threshold"]
                .as_u64()
                .is_some_and(|t| t >= 5),
            "{p}: protection in the envelope"
        );
        assert!(
            env["meta"]["snapshot"].is_string(),
            "{p}: snapshot in the envelope"
        );
        // The page shows the same result as its twin.
        let html = page.text();
        assert!(
            html.contains(env["meta"]["snapshot"].as_str().unwrap()),
            "{p}: stamp"
        );
        if p == "/beslisboom" {
            let first = env["tree"]["rules"][0]["conditions"][0].as_str().unwrap();
            assert!(
                html.contains(&first.replace('<', "&lt;").replace('>', "&gt;")),
                "tree rule {first} missing on the page"
            );
        }
        if p == "/monitor" {
            let last = env["months"].as_array().unwrap().last().unwrap().clone();
            let month = last["month"].as_str().unwrap();
            assert!(html.contains(month));
            // Counts are perturbed and suppressed like every protected table: never below the threshold.
            for m in env["months"].as_array().unwrap() {
                if let Some(v) = m["caseload"].as_f64() {
                    assert!(v >= env["protection"]["threshold"].as_f64().unwrap());
                }
            }
        }
    }
    let s = analist.clone();
    // A target group of one wijk, chosen as the form offers it, is a cohort in the tree tool
    // and on the survival page (the form's value is what the cohort compares).
    let form = request(a, "GET", "/beslisboom", &s, "").text();
    let i = form.find("id=\"f-wijk\"").expect("no wijk choice");
    let option = form[i..]
        .split("<option value=\"")
        .nth(2)
        .and_then(|o| o.split('"').next())
        .expect("no wijk option")
        .to_string();
    assert!(!option.is_empty());
    for page in ["/api/beslisboom", "/api/overleving"] {
        let q = format!("{page}?wijk={}", support::url_encode(&option));
        let r = request(a, "GET", &q, &s, "");
        assert_eq!(r.status, 200, "{q}: {}", r.text());
        let env: Value = serde_json::from_slice(&r.body).unwrap();
        let n = env["cohort"]["labelled"]
            .as_f64()
            .or(env["cohort"]["spells"].as_f64());
        assert!(
            n.is_none_or(|n| n > 0.0),
            "{q}: an empty cohort: {}",
            env["cohort"]
        );
    }
    // Exports: Dutch CSV, international CSV, XLSX; stamped; BOM for Excel.
    let nl = request(
        a,
        "GET",
        "/export/monitor?tabel=maanden&formaat=csv-nl",
        &s,
        "",
    );
    assert_eq!(nl.status, 200);
    let text = nl.text();
    assert!(
        text.starts_with("\u{feff}maand;bestand;instroom;uitstroom"),
        "{}",
        &text[..80.min(text.len())]
    );
    assert!(text.contains("# inzicht") && text.contains("drempel/threshold"));
    assert!(text.lines().nth(1).is_some_and(|l| l.contains(';')));
    assert!(nl
        .header("content-disposition")
        .is_some_and(|d| d.contains("attachment") && d.contains(".csv")));
    let intl = request(
        a,
        "GET",
        "/export/monitor?tabel=instroomcohorten&formaat=csv",
        &s,
        "",
    )
    .text();
    assert!(intl.starts_with("\u{feff}instroomjaar,uitkeringen"));
    assert!(intl.lines().skip(1).take(3).all(|l| !l.contains(';')));
    let x = request(
        a,
        "GET",
        "/export/beslisboom?tabel=regels&formaat=xlsx",
        &s,
        "",
    );
    assert_eq!(x.status, 200);
    assert!(x.body.starts_with(b"PK"));
    let svg = request(a, "GET", "/grafiek/beslisboom/beslisboom.svg", &s, "");
    assert!(svg.text().starts_with("<svg") && svg.text().contains("<desc"));
    assert_eq!(svg.header("content-type"), Some("image/svg+xml"));
    // The free table refuses a bad filter with a clear message, not a crash.
    let bad = request(
        a,
        "GET",
        "/tabel?indeling=age_band&waar=nonsense%20%3D%3D%3D",
        &s,
        "",
    );
    assert_eq!(bad.status, 400);
    // Every query and export is in the audit log, and the chain verifies.
    let o = std::process::Command::new(support::bin())
        .args(["audit", "verify", "--store"])
        .arg(f.dir.join("store"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let log = std::fs::read_to_string(f.dir.join("audit/audit.log")).unwrap();
    assert!(log.contains("\"export:/monitor:maanden:csv\""));
    assert!(log.contains("\"page:/beslisboom\""));
    let head = std::process::Command::new(support::bin())
        .args(["audit", "head", "--store"])
        .arg(f.dir.join("store"))
        .output()
        .unwrap();
    let h: Value = serde_json::from_slice(&head.stdout).unwrap();
    assert!(h["count"].as_u64().unwrap() > 10);
}

/// A BSN of the synthetic municipality that has benefit spells.
fn some_bsn(dir: &std::path::Path) -> String {
    let text = std::fs::read(dir.join("synth/exports/suite/uitkeringen.csv")).unwrap();
    let text = String::from_utf8_lossy(&text);
    let header: Vec<&str> = text.lines().next().unwrap().split(';').collect();
    let col = header.iter().position(|h| h.contains("bsn")).unwrap_or(0);
    text.lines()
        .skip(1)
        .filter_map(|l| l.split(';').nth(col))
        .map(|b| b.trim().to_string())
        .find(|b| b.len() == 9 && b.chars().all(|c| c.is_ascii_digit()))
        .unwrap()
}

#[test]
fn the_consultant_looks_up_by_bsn_and_the_bsn_is_never_stored_or_logged() {
    let f = fixture();
    let a = &f.addr;
    let s = login(a, "consulent", &f.password);
    let page = request(a, "GET", "/consulent", &s, "").text();
    let token = support::csrf_of(&page).unwrap();
    let bsn = some_bsn(&f.dir);
    let r = request(
        a,
        "POST",
        "/consulent",
        &s,
        &format!("csrf={token}&bsn={bsn}"),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let loc = r.header("location").unwrap().to_string();
    assert!(loc.starts_with("/consulent?h="));
    let shown = request(a, "GET", &loc, &s, "").text();
    assert!(shown.contains("Eerste maand met uitkering"), "{shown}");
    assert!(!shown.contains(&bsn), "the page shows the BSN");
    // No pseudonym (32 hex digits) on the page: handles are shorter and expire.
    let hex_runs = shown
        .split(|c: char| !c.is_ascii_hexdigit())
        .filter(|w| w.len() == 32)
        .count();
    assert_eq!(hex_runs, 0, "a pseudonym-like value is on the page");
    // Only consultants open the lookup (an analyst is refused, handle or not).
    let other = login(a, "demo", &f.password);
    assert_eq!(request(a, "GET", &loc, &other, "").status, 403);
    // The BSN is not in the audit log (only its HMAC) and an invalid BSN is refused.
    let log = std::fs::read_to_string(f.dir.join("audit/audit.log")).unwrap();
    assert!(log.contains("bsn_hmac") && !log.contains(&bsn));
    let bad = request(
        a,
        "POST",
        "/consulent",
        &s,
        &format!("csrf={token}&bsn=123456789"),
    );
    assert_eq!(bad.status, 400);
}

// ---------------------------------------------------------------- Chromium

fn tree_svg(b: &mut support::Browser) -> String {
    b.eval("(document.querySelector('figure svg') || {outerHTML: ''}).outerHTML")
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[test]
fn in_chromium_every_page_works_the_tree_tool_responds_and_axe_finds_no_violation() {
    let chromium = support::chromium_path()
        .expect("Chromium is not installed: ./scripts/test-all installs Debian's chromium package");
    let axe = support::axe_source();
    let f = fixture();
    let base = format!("http://{}", f.addr);
    let shots = std::env::var_os("INZICHT_SCREENSHOTS").map(std::path::PathBuf::from);
    let mut b = support::Browser::start(&chromium);
    // Log in through the form.
    b.goto(&format!("{base}/login"));
    let mut violations: Vec<String> = support::axe_violations(&mut b, &axe)
        .into_iter()
        .map(|v| format!("/login: {v}"))
        .collect();
    b.submit(
        "form.inzicht-login",
        &format!(
            "f.naam.value = 'demo'; f.wachtwoord.value = {}",
            serde_json::to_string(&f.password).unwrap()
        ),
        &format!("{base}/"),
    );
    assert!(b
        .eval("document.body.innerText")
        .as_str()
        .unwrap()
        .contains("Monitor"));
    // Every page opens and passes axe.
    for p in std::iter::once("/")
        .chain(PAGES.iter().copied())
        .chain(["/tabel?indeling=age_band&indeling=sex"])
    {
        b.goto(&format!("{base}{p}"));
        let title = b.eval("document.querySelector('h1').innerText");
        assert!(
            title.as_str().is_some_and(|t| !t.is_empty()),
            "{p} has no heading"
        );
        let text = b
            .eval("document.body.innerText")
            .as_str()
            .unwrap_or("")
            .to_string();
        assert!(!text.contains("Er ging iets mis"), "{p}: {text}");
        violations.extend(
            support::axe_violations(&mut b, &axe)
                .into_iter()
                .map(|v| format!("{p}: {v}")),
        );
        if let Some(dir) = &shots {
            std::fs::create_dir_all(dir).ok();
            b.screenshot(&dir.join(format!(
                "{}.png",
                p.trim_start_matches('/').replace(['/', '?', '&', '='], "_")
            )));
        }
    }
    // The English toggle.
    b.goto(&format!("{base}/monitor"));
    b.eval("document.querySelector('a.inzicht-lang').click(); true");
    b.wait_for(&format!("{base}/monitor"));
    std::thread::sleep(std::time::Duration::from_millis(300));
    b.wait_for(&format!("{base}/monitor"));
    assert_eq!(
        b.eval("document.documentElement.lang"),
        Value::String("en".into())
    );
    assert!(b
        .eval("document.body.innerText")
        .as_str()
        .unwrap()
        .contains("Log out"));
    b.eval("document.querySelector('a.inzicht-lang').click(); true");
    std::thread::sleep(std::time::Duration::from_millis(300));
    b.wait_for(&format!("{base}/monitor"));
    // Each control of the tree tool changes the tree.
    b.goto(&format!("{base}/beslisboom"));
    let default_tree = tree_svg(&mut b);
    assert!(default_tree.contains("<svg"), "no tree drawn");
    let controls = [
        ("diepte", "f['diepte'].value = '1'"),
        ("min_blad", "f['min_blad'].value = '600'"),
        ("horizon", "f['horizon'].value = '3'"),
        ("peil", "f['peil'].value = 'duur:12'"),
        ("reden", "f.querySelectorAll('input[name=reden]').forEach(c => c.checked = (c.value === 'school'))"),
        ("leeftijd", "f['leeftijd_min'].value = '35'"),
        ("geslacht", "f['geslacht'].value = 'V'"),
        ("kenmerk", "f.querySelectorAll('input[name=kenmerk]').forEach(c => c.checked = ['trede', 'loonwaarde'].includes(c.value))"),
        ("snoeien", "f['diepte'].value = '5'; f['snoeien'].value = 'geen'"),
    ];
    for (name, js) in controls {
        b.goto(&format!("{base}/beslisboom"));
        b.submit("form.inzicht-form", js, &format!("{base}/beslisboom"));
        let text = b
            .eval("document.body.innerText")
            .as_str()
            .unwrap_or("")
            .to_string();
        assert!(!text.contains("Er ging iets mis"), "{name}: {text}");
        let t = tree_svg(&mut b);
        assert!(t.contains("<svg"), "control {name}: no tree");
        assert_ne!(t, default_tree, "changing {name} did not change the tree");
    }
    // A download from the page: the CSV link's own address.
    b.goto(&format!("{base}/beslisboom"));
    // `ignoreBOM` keeps the byte-order mark that Excel needs (`Response.text()` strips it).
    let csv = b.eval(
        "fetch(document.querySelector('a[href*=\"formaat=csv-nl\"]').href).then(r => r.arrayBuffer()).then(a => new TextDecoder('utf-8', {ignoreBOM: true}).decode(a))",
    );
    assert!(
        csv.as_str()
            .is_some_and(|t| t.starts_with("\u{feff}regel;personen")),
        "{csv}"
    );
    // The question of the issue: which provision group shortens time on benefit for people
    // under 27, with and without matching — and in one wijk, or is that too small to say?
    b.goto(&format!("{base}/voorzieningen"));
    let wijk = b
        .eval("document.querySelectorAll('#f-wijk option')[1].value")
        .as_str()
        .unwrap()
        .to_string();
    b.submit(
        "form.inzicht-form",
        &format!(
            "f['leeftijd_max'].value = '26'; f['wijk'].value = {}",
            serde_json::to_string(&wijk).unwrap()
        ),
        &format!("{base}/voorzieningen"),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    loop {
        let text = b
            .eval("document.body.innerText")
            .as_str()
            .unwrap_or("")
            .to_string();
        if text.contains("Samenvatting na 12 maanden") {
            // The answer is on the page without opening anything: one sentence about the
            // target group, and per group the effect with and without matching.
            let sentence = text
                .lines()
                .find(|l| {
                    l.starts_with("Doelgroep leeftijd ≤ 26, wijk")
                        && l.contains(&format!("({wijk})"))
                })
                .unwrap_or_else(|| panic!("no sentence about the target group:\n{text}"));
            assert!(
                sentence.contains("te weinig")
                    || sentence.contains("korter in de uitkering met")
                    || sentence.contains("bij geen enkele"),
                "{sentence}"
            );
            assert!(text.contains("doelgroep: met matching") && text.contains("zonder matching"));
            let g1 = text
                .lines()
                .find(|l| l.starts_with("G1\t"))
                .unwrap_or_else(|| panic!("no summary row for G1:\n{text}"));
            assert!(
                g1.matches('(').count() >= 2,
                "G1 without both estimates: {g1}"
            );
            // The details of a group fold open and hold the subgroups, the under-27s among them.
            b.eval("document.querySelectorAll('details').forEach(d => d.open = true); true");
            let open = b
                .eval("document.body.innerText")
                .as_str()
                .unwrap_or("")
                .to_string();
            assert!(open.contains("age_band 18-26"), "no under-27 row:\n{open}");
            let focus_line = open.lines().find(|l| l.starts_with("focus ")).unwrap_or("");
            assert!(
                focus_line.contains("te weinig om te schatten") || focus_line.contains('('),
                "{focus_line}"
            );
            break;
        }
        assert!(!text.contains("Er ging iets mis"), "{text}");
        assert!(
            std::time::Instant::now() < deadline,
            "the provision effects did not finish"
        );
        std::thread::sleep(std::time::Duration::from_secs(2));
        b.goto(&format!("{base}/voorzieningen?leeftijd_max=26&wijk={wijk}"));
    }
    violations.extend(
        support::axe_violations(&mut b, &axe)
            .into_iter()
            .map(|v| format!("/voorzieningen (result): {v}")),
    );
    if let Some(dir) = &shots {
        b.screenshot(&dir.join("voorzieningen_resultaat.png"));
    }
    // The data team's page, as the data team: log out, log in as datateam.
    b.goto(&format!("{base}/monitor"));
    b.submit("form.inzicht-logout", "", &format!("{base}/login"));
    b.submit(
        "form.inzicht-login",
        &format!(
            "f.naam.value = 'datateam'; f.wachtwoord.value = {}",
            serde_json::to_string(&f.password).unwrap()
        ),
        &format!("{base}/"),
    );
    b.goto(&format!("{base}/datakwaliteit"));
    let text = b
        .eval("document.body.innerText")
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(text.contains("Reconciliatie per bestand"), "{text}");
    violations.extend(
        support::axe_violations(&mut b, &axe)
            .into_iter()
            .map(|v| format!("/datakwaliteit: {v}")),
    );
    if let Some(dir) = &shots {
        b.screenshot(&dir.join("datakwaliteit.png"));
    }
    assert!(
        violations.is_empty(),
        "axe-core found violations:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_report_is_one_standalone_protected_file() {
    let f = fixture();
    let html = std::fs::read_to_string(f.dir.join("rapport.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    // Standalone: no script, nothing loaded from anywhere (styles inline, charts inline SVG).
    assert!(!html.contains("<script"), "the report runs a script");
    for attr in [
        "src=\"",
        "href=\"http",
        "href=\"/assets",
        "@import",
        "url(http",
    ] {
        assert!(!html.contains(attr), "the report loads something: {attr}");
    }
    assert!(html.contains("<style>") && html.matches("<svg").count() >= 4);
    assert!(html.contains("<desc"), "charts without a text alternative");
    // Stamped and protected: the snapshot of the store, the protection note, no pseudonym.
    let current = std::fs::read_link(f.dir.join("store/current")).unwrap();
    let snapshot = current.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        html.contains(&snapshot),
        "the report is not stamped with {snapshot}"
    );
    assert!(html.contains("afgeschermd"));
    let hex_runs = html
        .split(|c: char| !c.is_ascii_hexdigit())
        .filter(|w| w.len() == 32)
        .count();
    assert_eq!(hex_runs, 0, "a pseudonym-like value is in the report");
}

#[test]
fn a_running_server_keeps_answering_during_a_load_and_switches_when_it_commits() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, key) = (tmp.path().join("store"), tmp.path().join("sleutel.json"));
    // From the directory cargo runs the test in (a shared build cache may hold binaries built
    // in another checkout).
    let config = std::path::Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../examples/synthetic/bron.toml");
    let synth = |seed: &str| {
        let out = tmp.path().join(format!("synth-{seed}"));
        let o = std::process::Command::new(support::bin())
            .args(["synth", "--clients", "600", "--seed", seed, "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        out.join("exports")
    };
    let ingest = |input: &std::path::Path| {
        let mut c = std::process::Command::new(support::bin());
        c.args(["ingest", "--config"])
            .arg(&config)
            .arg("--input")
            .arg(input)
            .arg("--store")
            .arg(&store)
            .arg("--key-file")
            .arg(&key)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        c
    };
    let first = ingest(&synth("11")).output().unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let mut add = std::process::Command::new(support::bin())
        .args([
            "user", "add", "--name", "anna", "--role", "analist", "--store",
        ])
        .arg(&store)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"een-lang-wachtwoord\n")
        .unwrap();
    assert!(add.wait().unwrap().success());
    let server = support::serve(&store);
    let a = &server.addr;
    let s = login(a, "anna", "een-lang-wachtwoord");
    let snapshot_of = |r: &support::Reply| -> String {
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        v["meta"]["snapshot"].as_str().unwrap_or("").to_string()
    };
    let before = request(a, "GET", "/api/monitor", &s, "");
    assert_eq!(before.status, 200, "{}", before.text());
    let old = snapshot_of(&before);
    // A newer export is loaded while analysts keep asking: every answer is complete and comes
    // from one snapshot, the old one until the load commits.
    let newer = synth("12");
    let mut load = ingest(&newer).spawn().unwrap();
    let mut answers = 0;
    while load.try_wait().unwrap().is_none() {
        let r = request(a, "GET", "/api/monitor?indeling=wijk", &s, "");
        assert_eq!(r.status, 200, "during the load: {}", r.text());
        answers += 1;
    }
    assert!(load.wait().unwrap().success());
    assert!(answers > 0, "the load finished before any request");
    let after = request(a, "GET", "/api/monitor", &s, "");
    assert_eq!(after.status, 200);
    let new = snapshot_of(&after);
    assert_ne!(new, old, "the server still answers from the old snapshot");
    let current = std::fs::read_link(store.join("current")).unwrap();
    assert_eq!(current.file_name().unwrap().to_string_lossy(), new);
    // The page says so too.
    assert!(request(a, "GET", "/monitor", &s, "").text().contains(&new));
}
