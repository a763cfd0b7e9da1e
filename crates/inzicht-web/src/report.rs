//! `inzicht report`: one standalone HTML file with the monitor, the survival curves, the decision
//! tree, the prediction models with their bias audit and the provision effects with and without
//! matching — the same protected results and the same charts as the web tool, readable offline
//! and without a server (styles inline, no scripts, charts as inline SVG with their text
//! alternatives).

use crate::html::{self, Lang};
use crate::pages::{self, Ctx, Params};
use inzicht_protect::{Policy, Protector};
use inzicht_store::table::Session;
use std::path::Path;

pub fn report(store: &Path, key_file: &Path) -> Result<String, String> {
    let secrets = inzicht_store::recordkeys::secrets_dir(key_file);
    let policy = Policy::from_dir(&secrets)?;
    let protector = Protector::new(policy)?;
    let session = Session::open(store, None, key_file).map_err(|e| e.to_string())?;
    let ctx = Ctx {
        session: &session,
        protector: &protector,
        asker: None,
    };
    let lang = Lang::Nl;
    let p = Params::default();
    let err = |e: pages::PageError| match e {
        pages::PageError::Input(m) | pages::PageError::Internal(m) => m,
    };
    let monitor = pages::monitor(&ctx, &p).map_err(err)?;
    let survival = pages::survival(&ctx, &p).map_err(err)?;
    let patterns = pages::patterns(&ctx, &p).map_err(err)?;
    let mut body = String::new();
    body.push_str(&html::p("Dit rapport toont beschermde uitkomsten: groepen kleiner dan de drempel zijn afgeschermd en aantallen zijn licht verstoord. Volgorde: eerst beschrijven, dan verklaren, dan voorspellen."));
    let section = |title: &str, page: &str, env: &serde_json::Value| -> String {
        let mut s = html::h2(title);
        for (_, svg) in pages::charts(page, env, lang) {
            s.push_str(&format!("<figure class=\"inzicht-figure\">{svg}</figure>"));
        }
        for t in pages::tables(page, env) {
            let header = t.header.clone();
            let rows: Vec<Vec<String>> = t
                .rows
                .iter()
                .take(40)
                .map(|r| {
                    r.iter()
                        .map(|c| match c {
                            crate::export::Cell::Text(x) => x.clone(),
                            crate::export::Cell::Num(Some(x)) => {
                                html::num(lang, *x, if x.fract() == 0.0 { 0 } else { 3 })
                            }
                            crate::export::Cell::Num(None) => "afgeschermd".into(),
                        })
                        .collect()
                })
                .collect();
            s.push_str(&html::table(&t.name, &header, &rows));
        }
        s
    };
    body.push_str(&section(
        "1. Monitor: bestand, instroom en uitstroom",
        "/monitor",
        &monitor,
    ));
    body.push_str(&section(
        "2. Overleving: tijd tot uitstroom naar werk, school of inkomen",
        "/overleving",
        &survival,
    ));
    body.push_str(&section("3. Beslisboom", "/beslisboom", &patterns));
    body.push_str(&section(
        "4. Voorspelmodellen en bias-audit",
        "/voorspelmodel",
        &patterns,
    ));
    body.push_str(&html::p("Een voorspelmodel schat kansen voor groepen uit het verleden; het kent de persoon niet en beslist nooit alleen."));
    // 5. The provision effects with the default options (as `inzicht effects` and the web
    // tool's page before a choice is made): the summary table and the pictures, without the
    // page's download links.
    let effects = inzicht_store::effects::run(
        &session,
        &protector,
        &inzicht_stats::provision::EffectOptions::default(),
        None,
    )
    .map_err(|e| e.to_string())?;
    let effects = pages::envelope(effects, &ctx, &p);
    body.push_str(&html::h2(
        "5. Effect van voorzieningen: zonder en met matching",
    ));
    body.push_str(&pages::effects_summary(lang, &effects));
    // The web page shows each group's pictures under the group's own heading; here each
    // picture says what it shows.
    for (name, svg) in pages::charts("/voorzieningen", &effects, lang) {
        let caption = if let Some(g) = name.strip_prefix("uitstroom-") {
            format!("Groep {g}: cumulatieve uitstroom naar werk, school of inkomen, deelnemers en gematchte controles")
        } else if let Some(g) = name.strip_prefix("balans-") {
            format!("Groep {g}: balans van de kenmerken vóór en na matching (gestandaardiseerd verschil)")
        } else {
            "Effect na 12 maanden per groep en subgroep, met en zonder matching".to_string()
        };
        body.push_str(&format!(
            "<figure class=\"inzicht-figure\">{svg}<figcaption>{}</figcaption></figure>",
            html::esc(&caption)
        ));
    }
    let page = html::layout(
        lang,
        "Rapport",
        "",
        "/",
        None,
        Some(&session.snapshot),
        &body,
    );
    // Standalone: the stylesheet inline instead of linked, no script.
    let css = include_str!("../assets/inzicht.css");
    Ok(page
        .replace(
            "<link rel=\"stylesheet\" href=\"/assets/utrecht-component-library.css\"><link rel=\"stylesheet\" href=\"/assets/inzicht.css\">",
            &format!("<style>{css}</style>"),
        )
        .replace("<script src=\"/assets/inzicht.js\" defer></script>", "")
        .replace(
            &format!("<a class=\"utrecht-link inzicht-lang\" href=\"/taal?naar=en&amp;terug={}\" lang=\"en\">English</a>", html::url_enc("/")),
            "",
        ))
}
