//! Issue 8 end to end: client–vacancy matching and the consultant's advice on the demo store —
//! the evaluations on the synthetic truth (the matching beats the title-only baseline; both
//! heterogeneous-effect methods rank subgroups), one client's advice and vacancies on the CLI,
//! bad input, and in the web tool the consultant's pages over HTTP and in Chromium with axe.

mod support;

use serde_json::Value;
use std::process::Command;
use support::{fixture, login, request};

fn run(args: &[&str]) -> (i32, Value, String) {
    let o = Command::new(support::bin()).args(args).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    (
        o.status.code().unwrap_or(-1),
        serde_json::from_str(&out).unwrap_or(Value::Null),
        format!("{out}{err}"),
    )
}

fn store(f: &support::Fixture) -> String {
    f.dir.join("store").to_string_lossy().to_string()
}

fn truth(f: &support::Fixture) -> String {
    f.dir.join("synth/truth.json").to_string_lossy().to_string()
}

/// A BSN of a client on benefit at the end of the data (from the matching truth's sample).
fn current_bsn(f: &support::Fixture) -> String {
    let t: Value = serde_json::from_slice(&std::fs::read(truth(f)).unwrap()).unwrap();
    t["matching_clients"][0]["bsn"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn the_matching_beats_the_title_baseline_on_the_synthetic_truth() {
    let f = fixture();
    let (code, v, text) = run(&[
        "jobs",
        "--store",
        &store(f),
        "--evaluate",
        "--truth",
        &truth(f),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{text}");
    let p = v["precision_at_10"].as_f64().unwrap();
    let n = v["ndcg_at_10"].as_f64().unwrap();
    let bp = v["baseline"]["precision_at_10"].as_f64().unwrap();
    let bn = v["baseline"]["ndcg_at_10"].as_f64().unwrap();
    let cp = v["baseline_with_constraints"]["precision_at_10"]
        .as_f64()
        .unwrap();
    assert!(v["n_clients"].as_u64().unwrap() >= 100, "{v}");
    assert!(
        p > bp + 0.2 && n > bn + 0.2,
        "matching {p}/{n} vs titles {bp}/{bn}"
    );
    // Competences add to the constraints, not only the constraints to the titles.
    assert!(
        p > cp + 0.1,
        "matching {p} vs titles within the constraints {cp}"
    );
    assert!((0.0..=1.0).contains(&p) && (0.0..=1.0).contains(&n));
    assert_eq!(v["meta"]["params"]["evaluate"], true);
    assert!(v["meta"]["snapshot"].is_string());
}

#[test]
fn both_heterogeneous_effect_methods_rank_the_true_subgroup_effects() {
    let f = fixture();
    let (code, v, text) = run(&[
        "advise",
        "--store",
        &store(f),
        "--evaluate",
        "--truth",
        &truth(f),
        "--bootstrap",
        "50",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{text}");
    let methods = v["methods"].as_array().unwrap();
    let names: Vec<&str> = methods.iter().filter_map(|m| m["name"].as_str()).collect();
    assert_eq!(names, ["matched_subgroups", "t_learner"]);
    for m in methods {
        let r = m["rank_correlation"].as_f64().unwrap();
        let c = m["coverage"].as_f64().unwrap();
        assert!(m["n_subgroups"].as_u64().unwrap() >= 20, "{m}");
        assert!(r > 0.5, "{}: rank correlation {r}", m["name"]);
        assert!((0.0..=1.0).contains(&c));
        // Every subgroup row names its estimate, interval and the truth.
        let row = &m["subgroups"][0];
        assert!(row["estimate"].is_number() && row["truth"].is_number() && row["ci"].is_array());
    }
}

#[test]
fn one_clients_advice_and_vacancies_on_the_command_line() {
    let f = fixture();
    let bsn = current_bsn(f);
    let (code, v, text) = run(&[
        "advise",
        "--store",
        &store(f),
        "--bsn",
        &bsn,
        "--bootstrap",
        "20",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{text}");
    let groups = v["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 5, "{v}");
    for g in groups {
        assert!(g["t_learner"]["reading"].is_string(), "{g}");
        assert!(!g["matched_subgroups"].as_array().unwrap().is_empty());
        assert!(
            g["name"].as_str().unwrap().contains('('),
            "group names from the code list"
        );
    }
    assert!(v["limits"].as_array().unwrap().len() >= 3);
    assert!(!text.contains(&bsn), "the BSN is echoed");
    let hex32 = text
        .split(|c: char| !c.is_ascii_hexdigit())
        .filter(|w| w.len() == 32)
        .count();
    assert_eq!(hex32, 0, "a pseudonym-like value in the advice");

    let (code, v, text) = run(&[
        "jobs",
        "--store",
        &store(f),
        "--bsn",
        &bsn,
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{text}");
    let list = v["vacancies"].as_array().unwrap();
    assert!(!list.is_empty() && list.len() <= 10);
    let scores: Vec<f64> = list
        .iter()
        .map(|x| x["p_match"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert!(list[0]["explanation"]["matched"].is_array());

    // Unknown people and vacancies get a clear message and exit code 2.
    let (code, _, text) = run(&["jobs", "--store", &store(f), "--bsn", "111222333"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("not in the snapshot"), "{text}");
    let (code, _, text) = run(&["jobs", "--store", &store(f), "--vacancy", "VAC999999"]);
    assert_eq!(code, 2);
    assert!(text.contains("VAC999999"), "{text}");
    let (code, _, text) = run(&["advise", "--store", &store(f)]);
    assert_eq!(code, 2);
    assert!(text.contains("--bsn"), "{text}");
}

/// The same taxonomy as SKOS in N-Triples (IRIs ending in the codes, as a municipality that
/// uses CompetentNL-style IRIs would have): the matching gives the same quality as with the
/// code list.
#[test]
fn a_skos_taxonomy_in_ntriples_gives_the_same_matching() {
    use inzicht_synth::catalogue::{competence_code, COMPETENCES, COMPETENCE_GROUPS};
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let nt = tmp.path().join("competenties.nt");
    let skos = "http://www.w3.org/2004/02/skos/core#";
    let mut text = String::new();
    for (code, name) in COMPETENCE_GROUPS {
        text.push_str(&format!(
            "<https://example.org/competentie/{code}> <{skos}prefLabel> \"{name}\"@nl .\n"
        ));
    }
    for (i, name) in COMPETENCES.iter().enumerate() {
        let code = competence_code(i);
        text.push_str(&format!(
            "<https://example.org/competentie/{code}> <{skos}prefLabel> \"{name}\"@nl .\n<https://example.org/competentie/{code}> <{skos}broader> <https://example.org/competentie/{}> .\n",
            COMPETENCE_GROUPS[i / 6].0
        ));
    }
    std::fs::write(&nt, text).unwrap();
    let args = |tax: Option<&str>| {
        let mut v = vec![
            "jobs".to_string(),
            "--store".into(),
            store(f),
            "--evaluate".into(),
            "--truth".into(),
            truth(f),
            "--format".into(),
            "json".into(),
        ];
        if let Some(t) = tax {
            v.push("--taxonomy".into());
            v.push(t.into());
        }
        v
    };
    let run_args = |a: Vec<String>| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        run(&refs)
    };
    let (code, with_list, text) = run_args(args(None));
    assert_eq!(code, 0, "{text}");
    let (code, with_skos, text) = run_args(args(Some(&nt.to_string_lossy())));
    assert_eq!(code, 0, "{text}");
    assert!(with_skos["load"]["taxonomy"]
        .as_str()
        .unwrap()
        .starts_with("SKOS"));
    assert_eq!(
        with_skos["load"]["unknown_codes"],
        serde_json::json!({}),
        "{}",
        with_skos["load"]
    );
    let (a, b) = (
        with_list["ndcg_at_10"].as_f64().unwrap(),
        with_skos["ndcg_at_10"].as_f64().unwrap(),
    );
    assert!((a - b).abs() < 0.02, "code list {a} vs SKOS {b}");
}

/// A vacancy without competences and codes the taxonomy does not know: reported, and the
/// ranking works on what is known.
#[test]
fn bad_input_is_reported_and_ranking_goes_on() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let exports = tmp.path().join("exports");
    let copy = Command::new("cp")
        .args(["-r"])
        .arg(f.dir.join("synth/exports"))
        .arg(&exports)
        .status()
        .unwrap();
    assert!(copy.success());
    let vac = exports.join("wsp/vacatures.csv");
    let mut text = std::fs::read_to_string(&vac).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let row = |id: &str, comps: &str| -> String {
        header
            .iter()
            .map(|h| match *h {
                "vacature_id" => id.to_string(),
                "titel" => "Medewerker testen".into(),
                "beroep_isco" => "9112".into(),
                "sector" => "schoonmaak".into(),
                "competenties" => comps.into(),
                "opleidingsniveau_min" => "geen".into(),
                "uren_per_week" => "20".into(),
                "buurtcode" => "BU99990000".into(),
                "werkgever" => "Test".into(),
                "datum_geplaatst" => "2024-11-01".into(),
                _ => String::new(),
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    text.push_str(&format!(
        "{}\n{}\n",
        row("VACTEST1", ""),
        row("VACTEST2", "C07.01|X99.99")
    ));
    std::fs::write(&vac, text).unwrap();
    let key = tmp.path().join("sleutel.json");
    let st = tmp.path().join("store");
    let o = Command::new(support::bin())
        .args(["ingest", "--config"])
        .arg(f.dir.join("bron.toml"))
        .arg("--input")
        .arg(&exports)
        .arg("--store")
        .arg(&st)
        .arg("--key-file")
        .arg(&key)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (code, v, text) = run(&["jobs", "--store", &st.to_string_lossy(), "--format", "json"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(v["load"]["vacancies_without_competences"], 1, "{v}");
    assert_eq!(v["load"]["unknown_codes"]["X99.99"], 1, "{v}");
    assert!(v["clients_with_a_vacancy"].as_u64().unwrap() > 100);
    let o = Command::new(support::bin())
        .args(["jobs", "--store"])
        .arg(&st)
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(
        shown.contains("X99.99") && shown.contains("1 zonder competenties"),
        "{shown}"
    );
}

// ---------------------------------------------------------------- web

/// Waits until the consultant's page shows the advice (the models are fitted in the
/// background once per snapshot).
fn client_page_with_advice(a: &str, cookie: &str, loc: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        let page = request(a, "GET", loc, cookie, "").text();
        if page.contains("T-learner voor deze cliënt") {
            return page;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the advice did not appear:\n{page}"
        );
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
}

#[test]
fn the_consultant_sees_advice_vacancies_and_records_a_choice() {
    let f = fixture();
    let a = &f.addr;
    let s = login(a, "consulent", &f.password);
    let page = request(a, "GET", "/consulent", &s, "").text();
    let token = support::csrf_of(&page).unwrap();
    let bsn = current_bsn(f);
    let r = request(
        a,
        "POST",
        "/consulent",
        &s,
        &format!("csrf={token}&bsn={bsn}"),
    );
    assert_eq!(r.status, 303);
    let loc = r.header("location").unwrap().to_string();
    let shown = client_page_with_advice(a, &s, &loc);
    assert!(shown.contains("Passende vacatures"), "{shown}");
    assert!(shown.contains("gematchte subgroep"), "{shown}");
    assert!(shown.contains("U beslist"), "{shown}");
    assert!(!shown.contains(&bsn));
    // Record a choice: a keyed MAC, no BSN, no pseudonym, no free text.
    let h = loc.split("h=").nth(1).unwrap().to_string();
    let r = request(
        a,
        "POST",
        "/consulent/keuze",
        &s,
        &format!("csrf={token}&h={h}&keuze=G2&reden=wens"),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert!(r.header("location").unwrap().contains("vastgelegd=1"));
    let choices = std::fs::read_to_string(f.dir.join("advice-choices.jsonl")).unwrap();
    let last: Value = serde_json::from_str(choices.lines().last().unwrap()).unwrap();
    assert_eq!(last["choice"], "G2");
    assert_eq!(last["user"], "consulent");
    assert!(!choices.contains(&bsn));
    // A forged choice (no CSRF token, another value) is refused.
    let r = request(
        a,
        "POST",
        "/consulent/keuze",
        &s,
        &format!("h={h}&keuze=G2&reden=wens"),
    );
    assert_eq!(r.status, 403);
    let r = request(
        a,
        "POST",
        "/consulent/keuze",
        &s,
        &format!("csrf={token}&h={h}&keuze=G2&reden=<script>"),
    );
    assert_eq!(r.status, 400);
    // Vacancies: search, candidates with handles that open the client page.
    let found = request(a, "GET", "/vacatures?q=schoonmaker", &s, "").text();
    assert!(found.contains("/vacatures?id=VAC"), "{found}");
    let cands = request(a, "GET", "/vacatures?id=VAC000002", &s, "").text();
    assert!(cands.contains("Kandidaat 1"), "{cands}");
    let link = cands
        .split("href=\"/consulent?h=")
        .nth(1)
        .and_then(|x| x.split('"').next())
        .unwrap();
    let cand = request(a, "GET", &format!("/consulent?h={link}"), &s, "").text();
    assert!(cand.contains("Eerste maand met uitkering"), "{cand}");
    // Asking for a candidate's BSN shows it once and writes its HMAC to the audit log.
    assert!(cand.contains("BSN opvragen"));
    let r = request(
        a,
        "POST",
        "/consulent/bsn",
        &s,
        &format!("csrf={token}&h={link}"),
    );
    assert_eq!(r.status, 200);
    let text = r.text();
    let shown_bsn = text
        .split("BSN van deze kandidaat: ")
        .nth(1)
        .map(|x| x.chars().take(9).collect::<String>())
        .unwrap_or_default();
    assert!(
        shown_bsn.chars().all(|c| c.is_ascii_digit()) && shown_bsn.len() == 9,
        "{text}"
    );
    let log = std::fs::read_to_string(f.dir.join("audit/audit.log")).unwrap();
    assert!(log.contains("consulent:bsn-getoond") && !log.contains(&shown_bsn));
    // Other roles may not open the consultant's pages.
    let analist = login(a, "demo", &f.password);
    assert_eq!(
        request(a, "GET", "/vacatures?id=VAC000002", &analist, "").status,
        403
    );
    assert_eq!(
        request(a, "POST", "/consulent/keuze", &analist, "").status,
        403
    );
    let log = std::fs::read_to_string(f.dir.join("audit/audit.log")).unwrap();
    assert!(log.contains("consulent:keuze") && log.contains("consulent:vacatures"));
}

#[test]
fn in_chromium_the_consultants_pages_work_and_pass_axe() {
    let chromium = support::chromium_path()
        .expect("Chromium is not installed: ./scripts/test-all installs Debian's chromium package");
    let axe = support::axe_source();
    let f = fixture();
    let base = format!("http://{}", f.addr);
    let mut b = support::Browser::start(&chromium);
    b.goto(&format!("{base}/login"));
    b.submit(
        "form.inzicht-login",
        &format!(
            "f.naam.value = 'consulent'; f.wachtwoord.value = {}",
            serde_json::to_string(&f.password).unwrap()
        ),
        &format!("{base}/"),
    );
    b.goto(&format!("{base}/consulent"));
    let bsn = current_bsn(f);
    b.submit(
        "form.inzicht-form",
        &format!("f.bsn.value = '{bsn}'"),
        &format!("{base}/consulent?h="),
    );
    let url = b.eval("location.href").as_str().unwrap().to_string();
    // Wait for the advice (the page refreshes itself while the models are fitted).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while !b
        .eval("document.body.innerText")
        .as_str()
        .unwrap_or("")
        .contains("T-learner voor deze cliënt")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no advice in the browser"
        );
        std::thread::sleep(std::time::Duration::from_secs(2));
        b.goto(&url);
    }
    let shots = std::env::var_os("INZICHT_SCREENSHOTS").map(std::path::PathBuf::from);
    if let Some(dir) = &shots {
        std::fs::create_dir_all(dir).ok();
        b.screenshot(&dir.join("consulent.png"));
    }
    let mut violations: Vec<String> = support::axe_violations(&mut b, &axe)
        .into_iter()
        .map(|v| format!("/consulent: {v}"))
        .collect();
    // Open an explanation and record a choice through the form.
    assert_eq!(
        b.eval("(() => { const d = document.querySelector('details.inzicht-details'); d.open = true; return d.innerText.length > 0; })()"),
        Value::Bool(true)
    );
    b.submit(
        "form[action='/consulent/keuze']",
        "f.keuze.value = 'geen'; f.reden.value = 'oordeel'",
        &format!("{base}/consulent?h="),
    );
    assert!(b
        .eval("document.body.innerText")
        .as_str()
        .unwrap()
        .contains("Uw keuze is vastgelegd"));
    b.goto(&format!("{base}/vacatures?id=VAC000002"));
    assert!(b
        .eval("document.body.innerText")
        .as_str()
        .unwrap()
        .contains("Kandidaat 1"));
    if let Some(dir) = &shots {
        b.screenshot(&dir.join("vacatures.png"));
    }
    violations.extend(
        support::axe_violations(&mut b, &axe)
            .into_iter()
            .map(|v| format!("/vacatures: {v}")),
    );
    // English.
    b.eval("document.querySelector('a.inzicht-lang').click(); true");
    std::thread::sleep(std::time::Duration::from_millis(500));
    b.wait_for(&format!("{base}/vacatures"));
    assert!(b
        .eval("document.body.innerText")
        .as_str()
        .unwrap()
        .contains("Candidate 1"));
    assert!(
        violations.is_empty(),
        "axe-core found violations:\n{}",
        violations.join("\n")
    );
}
