//! The consultant's pages (issue 8): advice about one client and client–vacancy matching. Pure
//! rendering of results `inzicht-store` made (`advice::AdviceModels::client`,
//! `matching::client_vacancies`); handles, never pseudonyms, identify a client in a link.

use crate::html::{self, esc, num, Lang};
use serde_json::Value;

/// Signed percentage points ("+4", "−3", "0").
fn spp(lang: Lang, x: Option<f64>) -> String {
    match x.map(|v| (100.0 * v).round()) {
        None => "—".into(),
        Some(0.0) => "0".into(),
        Some(r) if r > 0.0 => format!("+{}", num(lang, r, 0)),
        Some(r) => format!("−{}", num(lang, -r, 0)),
    }
}

fn reading_en(nl: &str) -> &str {
    match nl {
        "hogere kans op uitstroom" => "higher chance of outflow",
        "lagere kans op uitstroom" => "lower chance of outflow",
        "geen duidelijk verschil" => "no clear difference",
        _ => "too few to estimate",
    }
}

/// "+4 pp (95%: +1 tot +7), hogere kans op uitstroom" or "te weinig om te schatten".
fn estimate_text(lang: Lang, e: &Value) -> String {
    let reading = e["reading"].as_str().unwrap_or("te weinig om te schatten");
    let reading = match lang {
        Lang::Nl => reading,
        Lang::En => reading_en(reading),
    };
    if e["too_few"] == true {
        return reading.to_string();
    }
    format!(
        "{} {} ({}: {} {} {}) — {}",
        spp(lang, e["difference"].as_f64()),
        lang.t("procentpunt", "percentage points"),
        lang.t("95%-interval", "95% interval"),
        spp(lang, e["ci"][0].as_f64()),
        lang.t("tot", "to"),
        spp(lang, e["ci"][1].as_f64()),
        reading
    )
}

fn share_text(lang: Lang, arm: &Value) -> String {
    match arm["share_wsi"].as_f64() {
        Some(s) => format!(
            "{} ({} {})",
            html::pct(lang, Some(s), 0),
            lang.t("van", "of"),
            html::count(lang, arm["n"].as_f64())
        ),
        None => lang
            .t(
                "niet te tonen (bijna niemand of bijna iedereen stroomde uit)",
                "not shown (almost nobody or almost everybody left)",
            )
            .to_string(),
    }
}

/// The advice section: per provision group, comparable clients and both methods.
pub fn advice(lang: Lang, r: &Value) -> String {
    let t = |a, b| lang.t(a, b).to_string();
    let c = &r["client"];
    let mut s = html::h2(&t(
        "Voorzieningen: wat zegt de data?",
        "Provisions: what do the data say?",
    ));
    s.push_str(&html::p(&format!(
        "{} {}, {} {}, {} {} {}.{}",
        t("Cliënt in leeftijdsklasse", "Client in age band"),
        c["age_band"].as_str().unwrap_or("?"),
        t("trede", "step"),
        c["trede"].as_u64().map_or(t("onbekend", "unknown"), |v| v.to_string()),
        c["months_on_benefit"],
        t("maanden in de", "months in the"),
        t("huidige uitkering", "current spell"),
        if c["on_benefit_now"] == true {
            String::new()
        } else {
            format!(
                " {}",
                t(
                    "Let op: de cliënt is nu niet in de uitkering; de schattingen gaan over starten tijdens een uitkering.",
                    "Note: the client is not on benefit now; the estimates are about starting during a spell."
                )
            )
        }
    )));
    s.push_str(&html::p(&t(
        "Uitkomst: uitstroom naar werk, school of inkomen binnen 12 maanden na de start. Drie bronnen naast elkaar; ze zijn informatie, geen oordeel.",
        "Outcome: leaving benefit for work, school or income within 12 months of the start. Three sources side by side; information, not a verdict.",
    )));
    let header = vec![
        t("voorzieningengroep", "provision group"),
        t("vergelijkbare cliënten mét", "comparable clients with"),
        t(
            "vergelijkbare cliënten zonder",
            "comparable clients without",
        ),
        t("gematchte subgroep: leeftijd", "matched subgroup: age"),
        t("gematchte subgroep: trede", "matched subgroup: step"),
        t("T-learner voor deze cliënt", "T-learner for this client"),
    ];
    let mut rows = Vec::new();
    for g in r["groups"].as_array().into_iter().flatten() {
        let sub = |subset: &str| -> String {
            g["matched_subgroups"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|m| m["subset"] == subset)
                .map_or(t("trede onbekend", "step unknown"), |m| {
                    estimate_text(lang, m)
                })
        };
        let cmp = &g["comparable"];
        rows.push(vec![
            g["name"].as_str().unwrap_or("").to_string(),
            if cmp.is_null() {
                t("te weinig om te tonen", "too few to show")
            } else {
                share_text(lang, &cmp["treated"])
            },
            if cmp.is_null() {
                t("te weinig om te tonen", "too few to show")
            } else {
                share_text(lang, &cmp["control"])
            },
            sub("age_band"),
            sub("trede"),
            estimate_text(lang, &g["t_learner"]),
        ]);
    }
    s.push_str(&html::table(
        &t(
            "Per voorzieningengroep: uitstroom binnen 12 maanden, en het geschatte verschil door nu te starten",
            "Per provision group: outflow within 12 months, and the estimated difference of starting now",
        ),
        &header,
        &rows,
    ));
    s.push_str(&format!(
        "<details class=\"inzicht-details\"><summary>{}</summary><ul class=\"utrecht-unordered-list\">",
        esc(&t("Hoe is dit berekend, en wat kan het niet?", "How was this computed, and what can it not do?"))
    ));
    s.push_str(&format!(
        "<li>{}</li>",
        esc(&format!(
            "{} {} {}",
            t("Vergelijkbare cliënten: de", "Comparable clients: the"),
            r["neighbours"],
            t(
                "cliënten die in kenmerken (zoals bekend in de maand van de start) het meest op deze cliënt lijken, met en zonder de voorziening; aantallen verstoord, niet getoond onder de drempel.",
                "clients most like this one on the features known in the month of the start, with and without the provision; counts perturbed, not shown below the threshold."
            )
        ))
    ));
    for m in r["methods"].as_array().into_iter().flatten() {
        s.push_str(&format!(
            "<li>{}: {}</li>",
            esc(m["label"].as_str().unwrap_or("")),
            esc(m["description"].as_str().unwrap_or(""))
        ));
    }
    for l in r["limits"].as_array().into_iter().flatten() {
        s.push_str(&format!("<li>{}</li>", esc(l.as_str().unwrap_or(""))));
    }
    s.push_str("</ul></details>");
    s
}

/// The form on which the consultant records what they chose (nothing is decided for them).
pub fn choice_form(
    lang: Lang,
    csrf: &str,
    handle: &str,
    groups: &[(String, String)],
    recorded: bool,
) -> String {
    let t = |a, b| lang.t(a, b).to_string();
    let mut options: Vec<(String, String)> = groups.to_vec();
    options.push(("geen".into(), t("geen voorziening nu", "no provision now")));
    options.push(("anders".into(), t("iets anders", "something else")));
    let reasons = vec![
        (
            "past".to_string(),
            t(
                "past bij de cliënt en de situatie",
                "suits the client and the situation",
            ),
        ),
        (
            "wens".to_string(),
            t("wens van de cliënt", "the client's wish"),
        ),
        (
            "beschikbaar".to_string(),
            t(
                "beschikbaarheid of wachtlijst",
                "availability or waiting list",
            ),
        ),
        (
            "oordeel".to_string(),
            t(
                "professioneel oordeel, anders dan de gegevens",
                "professional judgement, other than the data",
            ),
        ),
    ];
    let mut s = html::h2(&t(
        "Uw keuze vastleggen (optioneel)",
        "Record your choice (optional)",
    ));
    if recorded {
        s.push_str(&html::alert(
            "success",
            &t("Uw keuze is vastgelegd.", "Your choice was recorded."),
        ));
    }
    s.push_str(&html::p(&t(
        "U beslist. Vastleggen helpt later te leren wat werkt; inzicht bewaart geen vrije tekst en geen BSN.",
        "You decide. Recording helps learn later what works; inzicht keeps no free text and no BSN.",
    )));
    s.push_str(&format!(
        "<form method=\"post\" action=\"/consulent/keuze\" class=\"inzicht-form\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"h\" value=\"{}\">{}{}{}</form>",
        esc(csrf),
        esc(handle),
        html::select("keuze", &t("Gekozen", "Chosen"), &options, ""),
        html::select("reden", &t("Belangrijkste reden", "Main reason"), &reasons, ""),
        html::submit(&t("Keuze vastleggen", "Record choice"))
    ));
    s
}

fn labels(v: &Value) -> String {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x["label"].as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One vacancy's (or candidate's) explanation as a list.
fn explanation(lang: Lang, e: &Value) -> String {
    let t = |a, b| lang.t(a, b).to_string();
    let mut s = String::from("<ul class=\"utrecht-unordered-list\">");
    let item = |label: String, text: String| {
        format!("<li><strong>{}</strong>: {}</li>", esc(&label), esc(&text))
    };
    let matched: Vec<String> = e["matched"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            format!(
                "{} ({})",
                m["label"].as_str().unwrap_or(""),
                m["evidence_text"].as_str().unwrap_or("")
            )
        })
        .collect();
    s.push_str(&item(
        t("past", "matches"),
        if matched.is_empty() {
            "—".into()
        } else {
            matched.join(", ")
        },
    ));
    let related: Vec<String> = e["related"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            format!(
                "{} ({} {})",
                m["label"].as_str().unwrap_or(""),
                t("verwant via", "related through"),
                m["via"].as_str().unwrap_or("")
            )
        })
        .collect();
    if !related.is_empty() {
        s.push_str(&item(t("verwant", "related"), related.join(", ")));
    }
    let missing = labels(&e["missing"]);
    if !missing.is_empty() {
        s.push_str(&item(t("ontbreekt", "missing"), missing));
    }
    for p in e["provisions"].as_array().into_iter().flatten() {
        s.push_str(&item(
            format!(
                "{} {}",
                t("voorziening", "provision"),
                p["name"].as_str().unwrap_or("")
            ),
            format!(
                "{} {}",
                t("leert", "teaches"),
                p["closes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    if let Some(u) = e["unknown_codes"].as_array().filter(|u| !u.is_empty()) {
        s.push_str(&item(
            t("onbekende codes", "unknown codes"),
            u.iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    s.push_str("</ul>");
    s
}

fn km(lang: Lang, v: &Value) -> String {
    v.as_f64()
        .map_or("?".into(), |d| format!("{} km", num(lang, d, 1)))
}

/// The client's ranked vacancies (from `matching::client_vacancies`).
pub fn vacancies(lang: Lang, r: &Value) -> String {
    let t = |a, b| lang.t(a, b).to_string();
    let mut s = html::h2(&t("Passende vacatures", "Suitable vacancies"));
    s.push_str(&html::p(&t(
        "Gerangschikt op de kans dat de cliënt ten minste driekwart van de gevraagde competenties heeft (vastgelegd, uit werkervaring of geleerd in een afgeronde voorziening), binnen de uren, het opleidingsniveau en de reisafstand van de cliënt. Niet op beroepstitel.",
        "Ranked by the chance that the client has at least three quarters of the required competences (recorded, from work experience or learnt in a completed provision), within the client's hours, education and travel distance. Not by job title.",
    )));
    let known: Vec<String> = r["competences"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            format!(
                "{} ({})",
                c["label"].as_str().unwrap_or(""),
                c["evidence_text"].as_str().unwrap_or("")
            )
        })
        .collect();
    s.push_str(&html::p(&format!(
        "{}: {}",
        t("Bekende competenties", "Known competences"),
        if known.is_empty() {
            t("geen", "none")
        } else {
            known.join("; ")
        }
    )));
    for m in r["missing"].as_array().into_iter().flatten() {
        s.push_str(&html::alert("info", m.as_str().unwrap_or("")));
    }
    let list = r["vacancies"].as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        s.push_str(&html::alert(
            "info",
            &t("Geen vacature binnen de uren, het opleidingsniveau en de reisafstand van de cliënt.", "No vacancy within the client's hours, education and travel distance."),
        ));
        return s;
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .enumerate()
        .map(|(i, v)| {
            vec![
                format!(
                    "{}. {} {}",
                    i + 1,
                    v["vacancy"].as_str().unwrap_or(""),
                    v["title"].as_str().unwrap_or("")
                ),
                html::pct(lang, v["p_match"].as_f64(), 0),
                html::pct(lang, v["coverage"].as_f64(), 0),
                km(lang, &v["distance_km"]),
                v["hours"].as_f64().map_or("?".into(), |h| num(lang, h, 0)),
            ]
        })
        .collect();
    s.push_str(&html::table(
        &t("Vacatures voor deze cliënt", "Vacancies for this client"),
        &[
            t("vacature", "vacancy"),
            t("kans op passend", "chance of a match"),
            t("verwachte dekking", "expected coverage"),
            t("afstand", "distance"),
            t("uren per week", "hours a week"),
        ],
        &rows,
    ));
    for v in &list {
        s.push_str(&format!(
            "<details class=\"inzicht-details\"><summary>{} {} — {}</summary>{}</details>",
            esc(v["vacancy"].as_str().unwrap_or("")),
            esc(v["title"].as_str().unwrap_or("")),
            esc(&t("waarom", "why")),
            explanation(lang, &v["explanation"])
        ));
    }
    s
}

/// The vacancy page: a search form and, for one vacancy, its ranked candidates (each a link to
/// a short-lived handle).
pub fn vacancy_search(lang: Lang, q: &str, hits: &[(String, String)]) -> String {
    let t = |a, b| lang.t(a, b).to_string();
    let mut s = html::p(&t(
        "Zoek een vacature op nummer of titel. Per vacature ziet u de cliënten in de uitkering die er het best bij passen op competenties, met uitleg; u opent een kandidaat via een kortlevende verwijzing, zonder BSN.",
        "Find a vacancy by number or title. For a vacancy you see the clients on benefit who fit it best on competences, with an explanation; you open a candidate through a short-lived handle, without a BSN.",
    ));
    s.push_str(&format!(
        "<form method=\"get\" action=\"/vacatures\" class=\"inzicht-form\">{}{}</form>",
        html::input(
            "q",
            &t("Vacature (nummer of titel)", "Vacancy (number or title)"),
            "text",
            q,
            ""
        ),
        html::submit(&t("Zoeken", "Search"))
    ));
    if !q.is_empty() {
        if hits.is_empty() {
            s.push_str(&html::alert(
                "info",
                &t("Geen vacature gevonden.", "No vacancy found."),
            ));
        } else {
            s.push_str("<ul class=\"utrecht-unordered-list\">");
            for (id, title) in hits {
                s.push_str(&format!(
                    "<li><a class=\"utrecht-link\" href=\"/vacatures?id={}\">{} — {}</a></li>",
                    html::url_enc(id),
                    esc(id),
                    esc(title)
                ));
            }
            s.push_str("</ul>");
        }
    }
    s
}

/// Candidates for one vacancy: (handle, score fields, explanation).
pub fn candidates(lang: Lang, id: &str, title: &str, list: &[(String, Value)]) -> String {
    let t = |a, b| lang.t(a, b).to_string();
    let mut s = html::h2(&format!(
        "{} {} — {}",
        t("Kandidaten voor", "Candidates for"),
        id,
        title
    ));
    if list.is_empty() {
        s.push_str(&html::alert(
            "info",
            &t(
                "Geen cliënt in de uitkering past binnen de eisen van deze vacature.",
                "No client on benefit fits this vacancy's constraints.",
            ),
        ));
        return s;
    }
    s.push_str("<ol class=\"utrecht-ordered-list\">");
    for (k, (handle, c)) in list.iter().enumerate() {
        s.push_str(&format!(
            "<li><a class=\"utrecht-link\" href=\"/consulent?h={}\">{} {}</a>: {} {}, {} {}, {}{}</li>",
            html::url_enc(handle),
            esc(&t("Kandidaat", "Candidate")),
            k + 1,
            esc(&t("kans op passend", "chance of a match")),
            esc(&html::pct(lang, c["p_match"].as_f64(), 0)),
            esc(&t("dekking", "coverage")),
            esc(&html::pct(lang, c["coverage"].as_f64(), 0)),
            esc(&km(lang, &c["distance_km"])),
            explanation(lang, &c["explanation"])
        ));
    }
    s.push_str("</ol>");
    s.push_str(&html::p(&t(
        "De verwijzingen zijn 15 minuten geldig en alleen voor u. Ze tonen geen BSN en geen naam; op de pagina van een kandidaat kunt u het BSN opvragen, en dat wordt in het auditlog vastgelegd.",
        "The handles are valid for 15 minutes and only for you. They show no BSN and no name; on a candidate's page you can ask for the BSN, and that is recorded in the audit log.",
    )));
    s
}

/// On a candidate's page: ask for the BSN (recorded in the audit log).
pub fn reveal_form(lang: Lang, csrf: &str, handle: &str) -> String {
    format!(
        "{}<form method=\"post\" action=\"/consulent/bsn\" class=\"inzicht-form\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"h\" value=\"{}\">{}</form>",
        html::p(lang.t(
            "Deze kandidaat kwam uit een vacature. Wilt u hem of haar benaderen, vraag dan het BSN op; dat wordt vastgelegd in het auditlog.",
            "This candidate came from a vacancy. To contact them, ask for the BSN; that is recorded in the audit log.",
        )),
        esc(csrf),
        esc(handle),
        html::submit(lang.t("BSN opvragen", "Show BSN"))
    )
}
