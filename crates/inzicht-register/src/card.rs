//! The model card (Mitchell et al. 2019, "Model Cards for Model Reporting", FAT* '19) in plain
//! Dutch, as Markdown.

use crate::entry::{
    audit_sentences, flag_explanations, flag_label, kind_sentences, performance_sentences,
    split_sentences,
};
use crate::model::{Installation, ModelKind, ModelSummary};
use crate::text::{count, dec2, join_and, pct, pct_int, period};
use std::fmt::Write as _;

/// One line of Markdown text: no line breaks, and `|` escaped for tables.
fn md(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

fn sentences(v: &[(String, bool)]) -> String {
    v.iter()
        .map(|(s, _)| s.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn share_or(x: Option<f64>, f: fn(f64) -> String) -> String {
    ModelSummary::share(x).map_or_else(|| "niet berekend".to_string(), f)
}

fn n_or(x: Option<f64>) -> String {
    ModelSummary::n(x).map_or_else(|| "afgeschermd".to_string(), count)
}

/// Features that may stand for a protected trait (directly or as a proxy), with what they may
/// stand for. Matched on Dutch words in the feature's name.
fn sensitive(features: &[String]) -> Vec<(String, &'static str)> {
    const KEYS: &[(&[&str], &str)] = &[
        (
            &[
                "nationaliteit",
                "migratie",
                "herkomst",
                "afkomst",
                "geboorteland",
                "etnici",
            ],
            "kan staan voor afkomst",
        ),
        (&["religie", "geloof"], "zegt iets over geloof"),
        (&["taal"], "kan staan voor afkomst"),
        (
            &["wijk", "buurt", "postcode", "woonplaats"],
            "kan staan voor afkomst en inkomen",
        ),
        (
            &[
                "gezondheid",
                "medisch",
                "beperking",
                "psych",
                "verslaving",
                "ziekte",
                "arbeidsvermogen",
                "loonwaarde",
            ],
            "zegt iets over gezondheid, een bijzonder persoonsgegeven",
        ),
        (
            &["geslacht", "gender", "zwanger"],
            "zegt iets over geslacht",
        ),
        (
            &[
                "kind",
                "zorgtaak",
                "mantelzorg",
                "alleenstaand",
                "huishouden",
                "leefvorm",
            ],
            "kan staan voor geslacht, omdat zorgtaken vaker bij vrouwen liggen",
        ),
        (
            &["leeftijd", "geboorte"],
            "onderscheid naar leeftijd mag alleen met een goede reden",
        ),
        (
            &["detentie", "strafblad", "justitie"],
            "zegt iets over een strafrechtelijk verleden, een bijzonder gegeven",
        ),
        (&["schuld"], "zegt iets over geldproblemen"),
    ];
    let mut out = Vec::new();
    for f in features {
        let l = f.to_lowercase();
        if let Some((_, what)) = KEYS
            .iter()
            .find(|(words, _)| words.iter().any(|w| l.contains(w)))
        {
            out.push((f.trim().to_string(), *what));
        }
    }
    out
}

/// A model card in Dutch (B1) for a fitted model: model details, intended use and use it is not
/// meant for, data, period and evaluation method (temporal split), metrics against the
/// baseline, the bias audit, ethical considerations and caveats. Only the summary's numbers
/// appear; an absent count reads "afgeschermd", an absent metric "niet berekend".
pub fn model_card_markdown(m: &ModelSummary, inst: &Installation) -> String {
    let mut s = String::new();
    let features: Vec<String> = m
        .features
        .iter()
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect();
    let sources: Vec<String> = m
        .sources
        .iter()
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect();
    let target = md(&m.target);
    let group = md(&m.target_group);

    let _ = writeln!(s, "# Modelkaart: {}\n", md(&m.name));
    let _ = writeln!(
        s,
        "Deze modelkaart legt in gewone taal uit wat het model doet, hoe goed het werkt en waar je op moet letten. \
         De opzet volgt Mitchell en anderen (2019), *Model Cards for Model Reporting*. \
         Alle getallen komen uit de berekening. Staat er **afgeschermd**, dan is het getal niet getoond om de privacy te beschermen. \
         Staat er **niet berekend**, dan is het getal er niet.\n"
    );

    // 1. Model details.
    let _ = writeln!(s, "## 1. Over het model\n");
    let kind = match &m.kind {
        ModelKind::ClassificationTree { depth, leaves } => format!(
            "beslisboom (hoogstens {depth} {} na elkaar, {leaves} {})",
            if *depth == 1 { "vraag" } else { "vragen" },
            if *leaves == 1 {
                "eindpunt"
            } else {
                "eindpunten"
            }
        ),
        ModelKind::LogisticRegression { penalty } if penalty.is_finite() && *penalty > 0.0 => {
            format!(
                "logistische regressie met ridge-regularisatie (λ = {})",
                format!("{penalty}").replace('.', ",")
            )
        }
        ModelKind::LogisticRegression { penalty } if *penalty == 0.0 => {
            "logistische regressie zonder regularisatie".to_string()
        }
        ModelKind::LogisticRegression { .. } => "logistische regressie".to_string(),
    };
    let _ = writeln!(s, "- **Naam:** {}", md(&m.name));
    let _ = writeln!(s, "- **Soort model:** {kind}");
    let _ = writeln!(s, "- **Wat het voorspelt:** de kans op {target}");
    let _ = writeln!(s, "- **Voor wie:** {group}");
    let _ = writeln!(s, "- **Organisatie:** {}", md(&inst.who()));
    let _ = writeln!(s, "- **Contact:** {}", md(&inst.contact_email));
    if let Some(w) = &inst.website {
        let _ = writeln!(s, "- **Meer informatie:** {}", md(w));
    }
    let _ = writeln!(
        s,
        "- **Gemaakt met:** inzicht, versie {}",
        md(&m.software_version)
    );
    let _ = writeln!(s, "- **Zelflerend:** nee\n");
    let _ = writeln!(s, "{}\n", md(&sentences(&kind_sentences(m))));

    // 2. Intended use.
    let _ = writeln!(s, "## 2. Bedoeld gebruik\n");
    let _ = writeln!(
        s,
        "- **Inzicht voor beleid en aanpak:** leren welke situaties samenhangen met {target}, bij {group}."
    );
    let _ = writeln!(
        s,
        "- **Plannen op groepsniveau:** zien bij welke groepen extra steun nodig kan zijn."
    );
    let _ = writeln!(
        s,
        "- **Een signaal voor de consulent:** een aanleiding om een gesprek te beginnen. De consulent beslist, samen met de persoon zelf."
    );
    let _ = writeln!(
        s,
        "- **Gebruikers:** beleidsmedewerkers, analisten en consulenten die uitleg over het model hebben gehad.\n"
    );

    // 3. Not intended use.
    let _ = writeln!(s, "## 3. Niet bedoeld voor\n");
    let _ = writeln!(
        s,
        "- **Niet voor beslissingen over één persoon zonder consulent.** Het model kijkt naar groepen uit het verleden; voor één persoon kan het fout zitten."
    );
    let _ = writeln!(
        s,
        "- **Niet voor handhaving of fraude.** Het model is niet gemaakt of getest om fraude of overtredingen op te sporen."
    );
    let _ = writeln!(
        s,
        "- **Niet om steun te weigeren, te verlagen of te stoppen.** Een lage kans is geen reden om iemand minder te helpen."
    );
    let _ = writeln!(
        s,
        "- **Niet om te zeggen welke voorziening werkt.** Het model toont samenhang, geen oorzaak. Voor het effect van voorzieningen is een aparte effectanalyse nodig."
    );
    let _ = writeln!(
        s,
        "- **Niet voor andere groepen, periodes of organisaties zonder nieuwe training en test.** Het model is gemaakt voor {group}, met gegevens uit {}.\n",
        period(&m.data_period)
    );

    // 4. Data.
    let _ = writeln!(s, "## 4. Gegevens\n");
    if sources.is_empty() {
        let _ = writeln!(
            s,
            "Het model gebruikt gegevens van {} over {group}, uit de periode {}.\n",
            md(&inst.organisation),
            period(&m.data_period)
        );
    } else {
        let _ = writeln!(
            s,
            "Het model gebruikt gegevens van {} over {group}, uit de periode {}. De bronnen zijn: {}.\n",
            md(&inst.organisation),
            period(&m.data_period),
            md(&join_and(&sources))
        );
    }
    match features.len() {
        0 => {}
        1 => {
            let _ = writeln!(s, "Het model kijkt naar één kenmerk:\n");
        }
        n => {
            let _ = writeln!(s, "Het model kijkt naar {n} kenmerken:\n");
        }
    }
    for f in &features {
        let _ = writeln!(s, "- {}", md(f));
    }
    if !features.is_empty() {
        s.push('\n');
    }
    let _ = writeln!(
        s,
        "Het model krijgt geen namen, adressen, geboortedata of burgerservicenummers (BSN). \
         In plaats van het BSN staat er een code (een pseudoniem); die is alleen met een geheime sleutel terug te koppelen aan een persoon, en het datateam bewaart die sleutel apart van de gegevens. \
         In plaats van een adres is alleen de wijk of buurt bekend, en in plaats van een geboortedatum de leeftijd.\n"
    );

    // 5. Period and evaluation method.
    let _ = writeln!(s, "## 5. Periode en manier van testen\n");
    let _ = writeln!(s, "| Deel | Periode | Aantal gevallen |");
    let _ = writeln!(s, "|---|---|---|");
    let _ = writeln!(s, "| Alle gegevens | {} | |", period(&m.data_period));
    let _ = writeln!(
        s,
        "| Training (het model leert) | {} | {} |",
        period(&m.train_period),
        n_or(m.n_train)
    );
    let _ = writeln!(
        s,
        "| Test (het model wordt beoordeeld) | {} | {} |\n",
        period(&m.test_period),
        n_or(m.n_test)
    );
    let _ = writeln!(
        s,
        "{} We hebben de gegevens op tijd gesplitst (een tijdsplitsing), niet willekeurig. Bij een willekeurige splitsing ziet het model in de training al mensen uit dezelfde tijd als in de test. Dan lijkt het model beter dan het in het echt is.\n",
        md(&sentences(&split_sentences(m)))
    );

    // 6. Metrics.
    let _ = writeln!(s, "## 6. Hoe goed werkt het model?\n");
    let _ = writeln!(s, "Alle cijfers gaan over de testperiode.\n");
    let _ = writeln!(s, "| Maat | Waarde | Wat betekent dit? |");
    let _ = writeln!(s, "|---|---|---|");
    let _ = writeln!(
        s,
        "| Goed voorspeld (accuracy) | {} | Hoe vaak het model de juiste uitkomst voorspelt. |",
        share_or(m.accuracy, pct)
    );
    let _ = writeln!(
        s,
        "| Eenvoudige regel (baseline) | {} | Hoe vaak je goed zit als je voor iedereen de uitkomst voorspelt die het vaakst voorkomt. Het model moet beter zijn dan dit. |",
        share_or(m.baseline_accuracy, pct)
    );
    let _ = writeln!(
        s,
        "| Gebalanceerde nauwkeurigheid | {} | Het gemiddelde van hoe vaak het model goed zit bij mensen met en zonder de uitkomst. 50% is gokken. |",
        share_or(m.balanced_accuracy, pct)
    );
    let _ = writeln!(
        s,
        "| AUC | {} | De kans dat het model iemand mét de uitkomst een hogere kans geeft dan iemand zonder. 0,50 is gokken, 1 is perfect. |",
        share_or(m.roc_auc, dec2)
    );
    let _ = writeln!(
        s,
        "| Brier-score | {} | Hoe ver de voorspelde kansen afliggen van wat echt gebeurde. 0 is perfect, lager is beter. |\n",
        share_or(m.brier, dec2)
    );
    let _ = writeln!(s, "{}\n", md(&sentences(&performance_sentences(m))));
    let acc = ModelSummary::share(m.accuracy);
    let base = ModelSummary::share(m.baseline_accuracy);
    if let (Some(a), Some(b)) = (acc, base) {
        if pct_int(a) - pct_int(b) <= 2 {
            let _ = writeln!(
                s,
                "**Let op:** het model is nauwelijks of niet beter dan de eenvoudige regel. Het voegt voor voorspellen dus weinig toe.\n"
            );
        }
    }
    if let Some(a) = acc {
        let wrong = 100 - pct_int(a);
        let _ = writeln!(
            s,
            "Elk model zit soms fout: dit model zat in de test bij ongeveer {wrong} van de 100 mensen fout.\n"
        );
    }

    // 7. Bias audit.
    let _ = writeln!(s, "## 7. Controle op ongelijke behandeling (bias-audit)\n");
    let (audit, _) = audit_sentences(m);
    let _ = writeln!(s, "{}\n", md(&sentences(&audit)));
    let flagged: Vec<_> = m
        .audit
        .iter()
        .filter(|a| a.flags.iter().any(|f| !f.trim().is_empty()))
        .collect();
    if !flagged.is_empty() {
        let _ = writeln!(s, "| Kenmerk | Groep | Bevinding | Zoals berekend |");
        let _ = writeln!(s, "|---|---|---|---|");
        for a in &flagged {
            for f in a.flags.iter().filter(|f| !f.trim().is_empty()) {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} |",
                    md(&a.group),
                    md(&a.value),
                    md(&flag_label(f)),
                    md(f)
                );
            }
        }
        s.push('\n');
        for e in flag_explanations(m) {
            let _ = writeln!(s, "- {e}");
        }
        let _ = writeln!(
            s,
            "\nEen markering is een signaal om uit te zoeken, geen bewijs van discriminatie. Zoek uit waar het verschil vandaan komt voordat het model wordt gebruikt.\n"
        );
    }
    let checked: Vec<String> = m
        .audit
        .iter()
        .filter(|a| a.flags.iter().all(|f| f.trim().is_empty()))
        .map(|a| format!("{} = {}", md(&a.group), md(&a.value)))
        .collect();
    if !checked.is_empty() && !flagged.is_empty() {
        let _ = writeln!(
            s,
            "Zonder markering gecontroleerd: {}.\n",
            join_and(&checked)
        );
    }

    // 8. Ethical considerations.
    let _ = writeln!(s, "## 8. Ethische overwegingen\n");
    let _ = writeln!(
        s,
        "- **Menselijk gedrag voorspellen is onzeker.** Of iemand werk vindt, hangt af van veel dingen die niet in de gegevens staan. \
         Onderzoekers noemen het voorspellen van zulke sociale uitkomsten fundamenteel twijfelachtig (Narayanan), en gemeenten als Zaanstad gebruiken machine learning daarom niet om menselijk gedrag te voorspellen. \
         Gebruik het model daarom voor inzicht op groepsniveau, niet als oordeel over een persoon."
    );
    let _ = writeln!(
        s,
        "- **Indirecte kenmerken (proxies).** Een kenmerk kan staan voor iets anders. De wijk kan bijvoorbeeld staan voor afkomst of inkomen. Zo kan een model onderscheid maken naar afkomst, ook als afkomst zelf niet in het model zit."
    );
    let sens = sensitive(&features);
    if !sens.is_empty() {
        let _ = writeln!(
            s,
            "  In dit model vragen deze kenmerken extra aandacht: {}.",
            join_and(
                &sens
                    .iter()
                    .map(|(f, what)| format!("{} ({what})", md(f)))
                    .collect::<Vec<_>>()
            )
        );
    }
    let _ = writeln!(
        s,
        "- **Zichzelf versterkende kringloop (feedback loop).** Krijgen mensen met een lage voorspelde kans minder hulp, dan vinden ze ook minder vaak werk. Een nieuw model dat op die gegevens leert, ziet dan een nog lagere kans. Zo bevestigt het model zichzelf. Daarom: gebruik een lage kans nooit als reden om minder te helpen, en kijk bij elke nieuwe versie of dit gebeurt."
    );
    let _ = writeln!(
        s,
        "- **Vooroordelen uit het verleden.** Het model leert van beslissingen van vroeger: wie welke hulp kreeg en hoe dat werd vastgelegd. Zaten daar oneerlijke verschillen in, dan neemt het model die over."
    );
    let _ = writeln!(
        s,
        "- **Verschillen in vastleggen.** Niet elke consulent of elk team legt dingen op dezelfde manier vast. Een diagnose is een inschatting van een mens. Verschillen daarin kunnen in het model terechtkomen."
    );
    let _ = writeln!(
        s,
        "- **Gebruik voor een ander doel.** Een model dat voor inzicht is gemaakt, is niet getest voor een ander doel, zoals controle. Zo'n ander gebruik kan mensen schaden.\n"
    );

    // 9. Caveats.
    let _ = writeln!(s, "## 9. Kanttekeningen\n");
    let _ = writeln!(
        s,
        "- De wereld verandert: de arbeidsmarkt, regels en de aanpak van de gemeente. Dat het model goed werkte in {}, betekent niet dat het nu nog goed werkt. Test het model daarom opnieuw als er nieuwe gegevens zijn.",
        period(&m.test_period)
    );
    let _ = writeln!(
        s,
        "- Het model is zo goed als de gegevens. Fouten of gaten in de registratie komen in het model terecht."
    );
    let _ = writeln!(
        s,
        "- Aantallen zijn beschermd: ze kunnen een klein beetje afwijken van het echte aantal, en groepen die te klein zijn, worden niet getoond."
    );
    let _ = writeln!(
        s,
        "- Samenhang is geen oorzaak. Een kenmerk dat samengaat met {target}, is daarom nog geen reden voor een bepaalde aanpak."
    );
    let problems = m.problems();
    if !problems.is_empty() {
        let _ = writeln!(
            s,
            "- Bij het maken van deze kaart vielen deze punten in de invoer op:"
        );
        for p in &problems {
            let _ = writeln!(s, "  - {}", md(p));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::tests::{assert_no_placeholders, installation, summary};
    use crate::model::AuditFlag;
    use serde_json::Value;

    #[test]
    fn card_has_the_sections_and_real_numbers() {
        let card = model_card_markdown(&summary(), &installation());
        for h in [
            "# Modelkaart: Voorspelling uitstroom naar werk binnen 12 maanden",
            "## 1. Over het model",
            "## 2. Bedoeld gebruik",
            "## 3. Niet bedoeld voor",
            "## 4. Gegevens",
            "## 5. Periode en manier van testen",
            "## 6. Hoe goed werkt het model?",
            "## 7. Controle op ongelijke behandeling (bias-audit)",
            "## 8. Ethische overwegingen",
            "## 9. Kanttekeningen",
        ] {
            assert!(card.contains(h), "missing {h}");
        }
        for x in [
            "| Goed voorspeld (accuracy) | 71% |",
            "| Eenvoudige regel (baseline) | 67% |",
            "| Gebalanceerde nauwkeurigheid | 64% |",
            "| AUC | 0,74 |",
            "| Brier-score | 0,19 |",
            "| Training (het model leert) | januari 2012 tot en met december 2016 | 5.480 |",
            "| Test (het model wordt beoordeeld) | januari 2017 tot en met december 2018 | afgeschermd |",
            "4 procentpunten beter",
            "Niet voor beslissingen over één persoon zonder consulent.",
            "Niet voor handhaving of fraude.",
            "| leeftijdsgroep | 55 jaar en ouder | selectiekans (waarschijnlijk geen toeval) |",
            "feedback loop",
            "proxies",
            "wijk (kan staan voor afkomst en inkomen)",
            "leeftijd (onderscheid naar leeftijd mag alleen met een goede reden)",
            "Zonder markering gecontroleerd: geslacht = vrouw.",
            "bij ongeveer 29 van de 100 mensen fout",
            "Gemeente Noorderhaaks (Afdeling Werk en Inkomen)",
            "inzicht, versie 0.1.0",
        ] {
            assert!(card.contains(x), "missing {x}\n{card}");
        }
        assert!(!card.contains("Let op:"));
        assert_no_placeholders(&Value::String(card));
    }

    #[test]
    fn absent_numbers_read_afgeschermd_or_niet_berekend() {
        let mut m = summary();
        m.n_train = None;
        m.accuracy = None;
        m.balanced_accuracy = None;
        m.roc_auc = Some(f64::NAN);
        m.brier = None;
        m.audit = vec![];
        let card = model_card_markdown(&m, &installation());
        assert!(card.contains("| Goed voorspeld (accuracy) | niet berekend |"));
        assert!(card.contains("| AUC | niet berekend |"));
        assert!(card.contains(
            "| Training (het model leert) | januari 2012 tot en met december 2016 | afgeschermd |"
        ));
        assert!(card.contains("markeerde geen enkele groep"));
        assert!(card.contains("roc_auc = NaN ligt niet tussen 0 en 1"));
        assert!(!card.to_lowercase().contains("| nan"));
    }

    #[test]
    fn small_gain_over_the_baseline_is_called_out_and_pipes_escaped() {
        let mut m = summary();
        m.accuracy = Some(0.68);
        m.features.push("a | b".into());
        m.audit = vec![AuditFlag {
            group: "x".into(),
            value: "y".into(),
            flags: vec!["kalibratie / calibration: voorspeld 12.0% tegen waargenomen 6.5%".into()],
        }];
        let card = model_card_markdown(&m, &installation());
        assert!(card.contains("**Let op:**"));
        assert!(card.contains("1 procentpunt beter"));
        assert!(card.contains("- a \\| b"));
        assert!(card.contains("Kalibratie: de voorspelde kans"));
    }
}
