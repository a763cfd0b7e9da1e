//! The register entry: generated texts from a [`ModelSummary`], organisation fields from an
//! [`Installation`], and the fields a person must decide.

use crate::model::{AuditFlag, Installation, ModelKind, ModelSummary};
use crate::standard::Standard;
use crate::text::{count, dec2, join_and, pct, pct_int, period, shorten, Doc};
use serde::Serialize;
use serde_json::{Map, Value};

/// A field the generator leaves out on purpose: a person decides it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FieldToDecide {
    /// The key, e.g. `publication_category`.
    pub field: String,
    /// The standard's title, e.g. "Publicatiecategorie".
    pub title: String,
    /// One line (Dutch): why a person decides this.
    pub why: String,
}

/// A generated entry and what is left to a person.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegisterEntry {
    /// Field → value, in the register's download format. Contains no placeholders: a field is
    /// either filled with real content or absent.
    pub entry: Value,
    /// Fields not filled, for a person to decide, in the order of the standard.
    pub to_decide: Vec<FieldToDecide>,
}

impl RegisterEntry {
    /// Every rule of `std`, except "required" for the fields in `to_decide`.
    pub fn validate(&self, std: &Standard) -> Vec<crate::Violation> {
        std.validate_generated(&self.entry, &self.to_decide)
    }
}

/// Fields a person always decides, with the reason (Dutch, one line).
const DECIDED_BY_A_PERSON: &[(&str, &str)] = &[
    ("status", "Alleen de organisatie weet of het algoritme in ontwikkeling, in gebruik of buiten gebruik is."),
    ("begin_date", "De maand waarin het algoritme in gebruik gaat, volgt uit het besluit van de organisatie om het te gebruiken."),
    ("end_date", "Alleen van toepassing als het algoritme buiten gebruik is genomen; zolang het in gebruik is, blijft dit veld leeg."),
    ("publication_category", "De indeling (hoog-risico AI-systeem, impactvol of overig) is een juridische afweging volgens de handreiking en de AI-verordening."),
    ("proportionality", "De afweging van voordelen, nadelen en alternatieven is een bestuurlijke en ethische keuze; gebruik de IAMA en de DPIA."),
    ("human_intervention", "Hoe medewerkers de uitkomst gebruiken, controleren en kunnen negeren, bepaalt de werkwijze van de organisatie, niet het model."),
    ("risks", "Welke maatregelen de organisatie neemt tegen de risico's (monitoring, bezwaar, toezicht) beslist zij zelf; de modelkaart geeft de bevindingen."),
    ("lawful_basis", "De wettelijke grondslag van het proces stelt een jurist vast."),
    ("lawful_basis_grouping", "De verwijzingen naar wetten horen bij de grondslag die een jurist vaststelt."),
    ("impacttoetsen_grouping", "Welke impacttoetsen (zoals DPIA of IAMA) zijn gedaan en waar de uitkomst staat, weet alleen de organisatie."),
    ("impacttoetsen", "Waarom een impacttoets wel of niet is gedaan, is een afweging van de organisatie en de privacyfunctionaris."),
];

const WHY_PROCESS_INDEX: &str =
    "De link naar de verwerking in het verwerkingsregister kent de privacyfunctionaris.";
const WHY_PROVIDER: &str =
    "Of er een externe leverancier is of het model intern is ontwikkeld, weet alleen de organisatie.";

/// Builds the register entry for a fitted model. Organisation and contact fields come from the
/// installation; name, short description, goal, data, technical working, themes and search
/// terms are generated in plain Dutch (B1) from the summary, within each field's maximum
/// length; `lang` and `standard_version` are set. Fields a person must decide are left out and
/// listed in `to_decide`; `lars` and `publication_dt` are set by the register itself.
pub fn register_entry(inst: &Installation, m: &ModelSummary, std: &Standard) -> RegisterEntry {
    let mut e = Map::new();
    let mut put = |key: &str, v: Value| {
        if std.field(key).is_some() {
            e.insert(key.to_string(), v);
        }
    };
    let max = |key: &str| std.field(key).and_then(|f| f.max_length);
    let html = |key: &str| {
        std.field(key)
            .and_then(|f| f.allowed_html_tags.as_ref())
            .is_some_and(|t| ["p", "ul", "li"].iter().all(|x| t.iter().any(|a| a == x)))
    };
    let text = |key: &str, d: &Doc| Value::String(d.fit(max(key), html(key)));

    let name = match (m.name.trim(), m.target.trim()) {
        ("", "") => format!("Voorspelmodel ({})", m.kind_nl()),
        ("", target) => format!("Voorspelling van {target}"),
        (name, _) => name.to_string(),
    };
    put(
        "name",
        Value::String(shorten(&name, max("name").unwrap_or(usize::MAX))),
    );
    put(
        "description_short",
        text("description_short", &short_description(inst, m)),
    );
    put("organization", Value::String(inst.organisation.clone()));
    let categories = inst
        .categories
        .clone()
        .unwrap_or_else(|| vec!["Werk".to_string(), "Sociale zekerheid".to_string()]);
    if !categories.is_empty() {
        put(
            "category",
            Value::Array(categories.into_iter().map(Value::String).collect()),
        );
    }
    put("contact_email", Value::String(inst.contact_email.clone()));
    if let Some(w) = &inst.website {
        put("website", Value::String(w.clone()));
    }
    if let Some(u) = &inst.register_url {
        put("url", Value::String(u.clone()));
    }
    put("goal", text("goal", &goal(inst, m)));
    if let Some(u) = &inst.process_index_url {
        put("process_index_url", Value::String(u.clone()));
    }
    put("source_data", text("source_data", &source_data(inst, m)));
    put(
        "methods_and_models",
        text("methods_and_models", &methods(m)),
    );
    if let Some(p) = &inst.provider {
        put("provider", Value::String(p.clone()));
    }
    if let Some(p) = &inst.publiccode {
        put("publiccode", Value::String(p.clone()));
    }
    put("lang", Value::String("nld".into()));
    if let Some(v) = std.version() {
        put("standard_version", Value::String(v.to_string()));
    }
    // Search terms: comma-separated, plain (the register does not show them).
    put("tags", Value::String(tags(m).fit(max("tags"), false)));

    let mut to_decide = Vec::new();
    for f in std.fields() {
        let why = match f.name.as_str() {
            "process_index_url" if inst.process_index_url.is_none() => Some(WHY_PROCESS_INDEX),
            "provider" if inst.provider.is_none() => Some(WHY_PROVIDER),
            n => DECIDED_BY_A_PERSON
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, w)| *w),
        };
        if let Some(why) = why {
            to_decide.push(FieldToDecide {
                field: f.name.clone(),
                title: f.title.clone(),
                why: why.to_string(),
            });
        }
    }
    RegisterEntry {
        entry: Value::Object(e),
        to_decide,
    }
}

fn short_description(inst: &Installation, m: &ModelSummary) -> Doc {
    let mut d = Doc::new();
    d.para()
        .must(format!(
            "Dit algoritme schat de kans op {} bij {}.",
            m.target.trim(),
            m.target_group.trim()
        ))
        .may(format!(
            "Het is een {} die {} heeft gemaakt met gegevens uit {}.",
            m.kind_nl(),
            inst.organisation,
            period(&m.data_period)
        ))
        .must("Het geeft inzicht en neemt zelf geen besluiten over personen.");
    d
}

fn goal(inst: &Installation, m: &ModelSummary) -> Doc {
    let mut d = Doc::new();
    d.para()
        .must(format!(
            "Dit algoritme schat voor {} de kans op {}.",
            m.target_group.trim(),
            m.target.trim()
        ))
        .must("Het doel is leren welke situaties samenhangen met die uitkomst.")
        .must(format!(
            "Zo kan {} de aanpak en de steun beter richten op wie dat nodig heeft.",
            inst.organisation
        ))
        .may("Een consulent kan de uitkomst gebruiken als signaal om een gesprek mee te beginnen.");
    d.para()
        .must("Het model is niet bedoeld om besluiten over één persoon te nemen zonder consulent.")
        .must("Het is ook niet bedoeld voor handhaving of voor het opsporen van fraude.")
        .may("Het model kijkt naar het verleden. Voor één persoon kan de voorspelling dus fout zijn.")
        .may("Daarom hoort een medewerker altijd naar de hele situatie van iemand te kijken.");
    d
}

fn source_data(inst: &Installation, m: &ModelSummary) -> Doc {
    let mut d = Doc::new();
    d.para().must(format!(
        "Het model gebruikt gegevens van {} over {}.",
        inst.organisation,
        m.target_group.trim()
    ));
    let sources: Vec<String> = m
        .sources
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if !sources.is_empty() {
        d.must(format!(
            "De gegevens komen uit deze bronnen: {}.",
            join_and(&sources)
        ));
    }
    d.must(format!(
        "Ze gaan over de periode {}.",
        period(&m.data_period)
    ));
    let features = clean(&m.features);
    if !features.is_empty() {
        d.para().must(feature_count_sentence(features.len()));
        d.list(features, 5);
    }
    d.para()
        .must("Het model krijgt geen namen, adressen, geboortedata of burgerservicenummers (BSN).")
        .may("In plaats van het BSN staat er een code (een pseudoniem). Die code is alleen met een geheime sleutel terug te koppelen aan een persoon. Het datateam bewaart die sleutel apart van de gegevens.")
        .may("In plaats van een adres is alleen de wijk of buurt bekend, en in plaats van een geboortedatum de leeftijd.")
        .may("Alle aantallen die het programma laat zien, zijn beschermd: groepen die te klein zijn, worden niet getoond.");
    d
}

fn feature_count_sentence(n: usize) -> String {
    if n == 1 {
        "Het model kijkt naar één kenmerk:".to_string()
    } else {
        format!("Het model kijkt naar {n} kenmerken:")
    }
}

fn clean(v: &[String]) -> Vec<String> {
    v.iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// How the model works, in B1 (shared with the model card).
pub(crate) fn kind_sentences(m: &ModelSummary) -> Vec<(String, bool)> {
    let features = clean(&m.features).len();
    let mut v: Vec<(String, bool)> = Vec::new();
    match &m.kind {
        ModelKind::ClassificationTree { depth, leaves } => {
            v.push(("Het model is een beslisboom.".into(), true));
            v.push((
                "Een beslisboom is een reeks ja/nee-vragen over iemands situatie. Elke vraag gaat over één kenmerk. Het antwoord bepaalt de volgende vraag.".into(),
                true,
            ));
            v.push((
                "Na de laatste vraag kom je bij een eindpunt (een 'blad'). Iedereen die bij hetzelfde eindpunt uitkomt, krijgt dezelfde kans.".into(),
                true,
            ));
            v.push((
                format!(
                    "Deze boom stelt hoogstens {depth} {} na elkaar en heeft {leaves} {}.",
                    if *depth == 1 { "vraag" } else { "vragen" },
                    if *leaves == 1 {
                        "eindpunt"
                    } else {
                        "eindpunten"
                    }
                ),
                true,
            ));
            if *depth <= 4 {
                v.push((
                    "Een boom van deze grootte kan iedereen stap voor stap nalezen.".into(),
                    false,
                ));
            }
        }
        ModelKind::LogisticRegression { penalty } => {
            v.push(("Het model is een logistische regressie.".into(), true));
            v.push((
                "Dat is een rekenregel. Elk kenmerk krijgt een gewicht: een getal dat zegt hoe sterk dat kenmerk de kans omhoog of omlaag duwt. Samen geven de gewichten een kans tussen 0% en 100%.".into(),
                true,
            ));
            if !penalty.is_finite() || *penalty < 0.0 {
                // Not stated correctly (reported by `ModelSummary::problems`): say nothing.
            } else if *penalty > 0.0 {
                v.push((
                    format!(
                        "Bij het berekenen is er een rem gezet op grote gewichten (ridge-regularisatie, λ = {}). Zo leunt het model niet te sterk op één kenmerk.",
                        trim_num(*penalty)
                    ),
                    false,
                ));
            } else {
                v.push((
                    "Bij het berekenen is geen rem op de gewichten gebruikt (geen regularisatie)."
                        .into(),
                    false,
                ));
            }
        }
    }
    v.push((
        format!(
            "Invoer: {} per persoon. Uitvoer: de kans op {}.",
            match features {
                0 => "kenmerken".to_string(),
                1 => "één kenmerk".to_string(),
                n => format!("{n} kenmerken"),
            },
            m.target.trim()
        ),
        true,
    ));
    v.push((
        "Het model is niet zelflerend. Het verandert niet vanzelf tijdens gebruik. Het verandert alleen als een medewerker het opnieuw laat berekenen met nieuwe gegevens.".into(),
        true,
    ));
    v
}

fn trim_num(x: f64) -> String {
    let s = format!("{x}");
    s.replace('.', ",")
}

fn n_text(x: Option<f64>) -> String {
    match ModelSummary::n(x) {
        Some(n) => format!("{} gevallen", count(n)),
        None => "aantal afgeschermd".to_string(),
    }
}

/// The temporal split (shared with the model card).
pub(crate) fn split_sentences(m: &ModelSummary) -> Vec<(String, bool)> {
    vec![
        (
            format!(
                "Het model is gemaakt (getraind) met gegevens van {} ({}).",
                period(&m.train_period),
                n_text(m.n_train)
            ),
            true,
        ),
        (
            format!(
                "Daarna is het getest op een latere periode: {} ({}).",
                period(&m.test_period),
                n_text(m.n_test)
            ),
            true,
        ),
        (
            "Die latere gegevens had het model nog niet gezien. Zo lijkt de test op het echte gebruik: voorspellen wat nog moet komen.".into(),
            false,
        ),
    ]
}

/// Performance with the baseline (shared with the model card).
pub(crate) fn performance_sentences(m: &ModelSummary) -> Vec<(String, bool)> {
    let acc = ModelSummary::share(m.accuracy);
    let base = ModelSummary::share(m.baseline_accuracy);
    let mut v = Vec::new();
    match acc {
        Some(a) => v.push((
            format!(
                "In de testperiode voorspelt het model in {} van de gevallen goed.",
                pct(a)
            ),
            true,
        )),
        None => v.push((
            "Hoe vaak het model goed voorspelt, is niet berekend.".into(),
            true,
        )),
    }
    match base {
        Some(b) => v.push((
            format!(
                "Als je voor iedereen de uitkomst voorspelt die het vaakst voorkomt, zit je in {} van de gevallen goed.",
                pct(b)
            ),
            true,
        )),
        None => v.push((
            "Hoe vaak een eenvoudige regel goed zit (voor iedereen de uitkomst voorspellen die het vaakst voorkomt), is niet berekend.".into(),
            true,
        )),
    }
    if let (Some(a), Some(b)) = (acc, base) {
        let diff = pct_int(a) - pct_int(b);
        let s = match diff {
            0 => "Het model doet het dus niet beter dan die eenvoudige regel.".to_string(),
            1 => "Het model doet het dus 1 procentpunt beter dan die eenvoudige regel.".to_string(),
            -1 => "Het model doet het dus 1 procentpunt slechter dan die eenvoudige regel."
                .to_string(),
            d if d > 0 => {
                format!("Het model doet het dus {d} procentpunten beter dan die eenvoudige regel.")
            }
            d => format!(
                "Het model doet het dus {} procentpunten slechter dan die eenvoudige regel.",
                -d
            ),
        };
        v.push((s, true));
    }
    if let Some(x) = ModelSummary::share(m.balanced_accuracy) {
        v.push((
            format!(
                "De gebalanceerde nauwkeurigheid is {}. Dat is het gemiddelde van twee percentages: hoe vaak het model goed zit bij mensen bij wie de uitkomst wel optrad, en bij mensen bij wie niet. Zo telt de kleinste groep even zwaar mee.",
                pct(x)
            ),
            false,
        ));
    }
    if let Some(x) = ModelSummary::share(m.roc_auc) {
        v.push((
            format!(
                "De AUC is {}. Dat betekent: neem één persoon bij wie de uitkomst wel optrad en één bij wie niet. Dan geeft het model in {} van zulke paren de hoogste kans aan de persoon bij wie de uitkomst optrad. Bij gokken is dat 50%.",
                dec2(x),
                pct(x)
            ),
            false,
        ));
    }
    if let Some(x) = ModelSummary::share(m.brier) {
        let mut s = format!(
            "De Brier-score is {}. Die meet hoe ver de voorspelde kansen afliggen van wat echt gebeurde: 0 is perfect, lager is beter.",
            dec2(x)
        );
        if let Some(b) = base {
            s.push_str(&format!(
                " Een voorspelling die iedereen dezelfde kans geeft, haalt {}.",
                dec2(b * (1.0 - b))
            ));
        }
        v.push((s, false));
    }
    v
}

/// The Dutch label of an audit finding: the text before " / " or ":"
/// ("selectiekans / selection rate: ratio …" → "selectiekans").
pub(crate) fn flag_label(flag: &str) -> String {
    let end = [flag.find(" / "), flag.find(':')]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(flag.len());
    let mut label = flag[..end].trim().to_string();
    if flag.contains("(onzeker") {
        label.push_str(" (misschien toeval)");
    } else if flag.contains("(betrouwbaar") {
        label.push_str(" (waarschijnlijk geen toeval)");
    }
    label
}

fn flagged(m: &ModelSummary) -> Vec<&AuditFlag> {
    m.audit
        .iter()
        .filter(|a| a.flags.iter().any(|f| !f.trim().is_empty()))
        .collect()
}

/// B1 explanations of the audit's terms that occur in the findings.
pub(crate) fn flag_explanations(m: &ModelSummary) -> Vec<String> {
    let all: Vec<String> = flagged(m)
        .iter()
        .flat_map(|a| a.flags.iter().map(|f| f.to_lowercase()))
        .collect();
    let has = |w: &str| all.iter().any(|f| f.contains(w));
    let mut v = Vec::new();
    if has("selectiekans") {
        v.push("Selectiekans: het model voorspelt de uitkomst voor deze groep veel vaker of veel minder vaak dan voor de grootste groep.".to_string());
    }
    if has("terecht-positief") {
        v.push("Terecht-positief: van de mensen bij wie de uitkomst echt optrad, herkent het model er in deze groep veel meer of veel minder.".to_string());
    }
    if has("vals-positief") {
        v.push("Vals-positief: het model voorspelt de uitkomst in deze groep veel vaker of veel minder vaak ten onrechte.".to_string());
    }
    if has("kalibratie") {
        v.push("Kalibratie: de voorspelde kans wijkt af van hoe vaak de uitkomst in deze groep echt voorkwam.".to_string());
    }
    v
}

/// The bias audit: sentences and a list of flagged groups (shared with the model card).
pub(crate) fn audit_sentences(m: &ModelSummary) -> (Vec<(String, bool)>, Vec<String>) {
    let mut v: Vec<(String, bool)> = vec![(
        "We hebben gecontroleerd of het model groepen anders behandelt dan de grootste groep (een bias-audit).".into(),
        true,
    )];
    let flagged = flagged(m);
    let mut groups: Vec<String> = m.audit.iter().map(|a| a.group.trim().to_string()).collect();
    groups.sort();
    groups.dedup();
    groups.retain(|g| !g.is_empty());
    if flagged.is_empty() {
        if groups.is_empty() {
            v.push(("De controle markeerde geen enkele groep.".into(), true));
        } else {
            v.push((
                format!(
                    "De controle keek naar {} en markeerde geen enkele groep.",
                    join_and(&groups)
                ),
                true,
            ));
        }
        v.push((
            "Dat bewijst niet dat het model eerlijk is: de controle ziet alleen groepen die in de gegevens staan.".into(),
            false,
        ));
        return (v, Vec::new());
    }
    let k = flagged.len();
    v.push((
        if k == 1 {
            "Bij 1 groep zagen we een verschil:".to_string()
        } else {
            format!("Bij {k} groepen zagen we een verschil:")
        },
        true,
    ));
    let items = flagged
        .iter()
        .map(|a| {
            let labels: Vec<String> = a
                .flags
                .iter()
                .filter(|f| !f.trim().is_empty())
                .map(|f| flag_label(f))
                .collect();
            format!(
                "{} = {}: {}",
                a.group.trim(),
                a.value.trim(),
                labels.join("; ")
            )
        })
        .collect();
    (v, items)
}

fn methods(m: &ModelSummary) -> Doc {
    let mut d = Doc::new();
    d.para();
    for (s, must) in kind_sentences(m) {
        if must {
            d.must(s);
        } else {
            d.may(s);
        }
    }
    d.para();
    for (s, must) in split_sentences(m) {
        if must {
            d.must(s);
        } else {
            d.may(s);
        }
    }
    d.para();
    for (s, must) in performance_sentences(m) {
        if must {
            d.must(s);
        } else {
            d.may(s);
        }
    }
    let (audit, items) = audit_sentences(m);
    d.para();
    for (s, must) in audit {
        if must {
            d.must(s);
        } else {
            d.may(s);
        }
    }
    d.list(items, 3);
    let expl = flag_explanations(m);
    if !expl.is_empty() {
        d.para();
        for e in expl {
            d.may(e);
        }
    }
    d.para()
        .must("Het model laat zien wat samenhangt met de uitkomst. Het zegt niet wat de oorzaak is, en ook niet welke voorziening iemand helpt.")
        .may(format!(
            "Het model is gemaakt met het programma inzicht, versie {}. Bij het model hoort een modelkaart met meer uitleg.",
            m.software_version.trim()
        ));
    d
}

fn tags(m: &ModelSummary) -> Doc {
    let mut t: Vec<String> = [
        "bijstand",
        "Participatiewet",
        "re-integratie",
        "uitstroom",
        "werk",
        "voorspelmodel",
        m.kind_nl(),
        "inzicht",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    t.dedup();
    let mut d = Doc::new();
    d.para().must(t.join(", "));
    d
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{AuditFlag, ModelKind};
    use crate::standard::Rule;
    use serde_json::json;

    pub(crate) fn summary() -> ModelSummary {
        ModelSummary {
            name: "Voorspelling uitstroom naar werk binnen 12 maanden".into(),
            kind: ModelKind::ClassificationTree { depth: 3, leaves: 7 },
            target: "uitstroom naar werk, school of ander inkomen binnen 12 maanden".into(),
            target_group: "mensen met een bijstandsuitkering (Participatiewet)".into(),
            features: vec![
                "leeftijd".into(),
                "duur van de uitkering tot nu toe".into(),
                "trede op de participatieladder".into(),
                "startkwalificatie (ja/nee)".into(),
                "wijk".into(),
            ],
            data_period: ("2012-01".into(), "2019-12".into()),
            train_period: ("2012-01".into(), "2016-12".into()),
            test_period: ("2017-01".into(), "2018-12".into()),
            n_train: Some(5480.0),
            n_test: None,
            accuracy: Some(0.712),
            baseline_accuracy: Some(0.668),
            balanced_accuracy: Some(0.641),
            roc_auc: Some(0.7412),
            brier: Some(0.193),
            audit: vec![
                AuditFlag {
                    group: "leeftijdsgroep".into(),
                    value: "55 jaar en ouder".into(),
                    flags: vec![
                        "selectiekans / selection rate: ratio 0.52 buiten [0.80, 1.25] (betrouwbaar / CI excludes 1)".into(),
                        "kalibratie / calibration: voorspeld 12.0% tegen waargenomen 6.5%".into(),
                    ],
                },
                AuditFlag {
                    group: "geslacht".into(),
                    value: "vrouw".into(),
                    flags: vec![],
                },
            ],
            sources: vec![
                "uitkeringen (bijstand)".into(),
                "diagnoses".into(),
                "voorzieningen".into(),
            ],
            software_version: "0.1.0".into(),
        }
    }

    pub(crate) fn installation() -> Installation {
        let r = Installation::from_json(&json!({
            "organisation": "Gemeente Noorderhaaks",
            "department": "Afdeling Werk en Inkomen",
            "contact_email": "algoritmes@noorderhaaks.nl",
            "website": "https://www.noorderhaaks.nl/inzicht"
        }));
        match r {
            Ok(i) => i,
            Err(e) => panic!("{e}"),
        }
    }

    fn std10() -> Standard {
        match Standard::v1_0() {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    fn strings(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
            Value::Object(o) => o.values().for_each(|x| strings(x, out)),
            _ => {}
        }
    }

    pub(crate) fn assert_no_placeholders(v: &Value) {
        let mut all = Vec::new();
        strings(v, &mut all);
        for s in &all {
            let l = s.to_lowercase();
            for w in [
                "todo",
                "invullen",
                "lorem",
                "xxx",
                "placeholder",
                "<vul",
                "[vul",
            ] {
                assert!(!l.contains(w), "placeholder '{w}' in: {s}");
            }
            // Whole words only: "nan" and "inf" are what a missing number prints as.
            for w in ["nan", "inf", "tbd", "n.n.b."] {
                let hit = l
                    .split(|c: char| c.is_whitespace() || ",;:()".contains(c))
                    .any(|x| x == w);
                assert!(!hit, "placeholder '{w}' in: {s}");
            }
        }
    }

    #[test]
    fn generated_entry_passes_every_rule_except_the_to_decide_required_ones() {
        let std = std10();
        let r = register_entry(&installation(), &summary(), &std);
        let v = r.validate(&std);
        assert!(v.is_empty(), "{v:#?}");
        // The plain validation fails only on "required" of fields left to a person.
        let full = std.validate(&r.entry);
        assert!(!full.is_empty());
        for x in &full {
            assert_eq!(x.rule, Rule::Required, "{x}");
            assert!(r.to_decide.iter().any(|d| d.field == x.field), "{x}");
        }
        let failing: Vec<&str> = full.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(failing, ["status", "publication_category"]);
        assert_no_placeholders(&r.entry);
        // Fields decided by a person are absent, not empty.
        let obj = r.entry.as_object().map(|o| o.len()).unwrap_or(0);
        assert!(obj > 10);
        for d in &r.to_decide {
            assert!(r.entry.get(&d.field).is_none(), "{}", d.field);
            assert_eq!(
                std.field(&d.field).map(|f| f.title.as_str()),
                Some(d.title.as_str())
            );
            assert!(!d.why.is_empty());
        }
        let decided: Vec<&str> = r.to_decide.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(
            decided,
            [
                "status",
                "begin_date",
                "end_date",
                "publication_category",
                "proportionality",
                "human_intervention",
                "risks",
                "lawful_basis",
                "lawful_basis_grouping",
                "process_index_url",
                "impacttoetsen_grouping",
                "impacttoetsen",
                "provider"
            ]
        );
        assert!(r.entry.get("lars").is_none());
        assert!(r.entry.get("publication_dt").is_none());
    }

    #[test]
    fn texts_carry_the_real_numbers() {
        let std = std10();
        let r = register_entry(&installation(), &summary(), &std);
        let mm = r.entry["methods_and_models"].as_str().unwrap_or("");
        assert!(mm.contains("in 71% van de gevallen goed"), "{mm}");
        assert!(mm.contains("zit je in 67% van de gevallen goed"), "{mm}");
        assert!(mm.contains("4 procentpunten beter"), "{mm}");
        assert!(mm.contains("AUC is 0,74"), "{mm}");
        assert!(
            mm.contains("januari 2012 tot en met december 2016 (5.480 gevallen)"),
            "{mm}"
        );
        assert!(
            mm.contains("januari 2017 tot en met december 2018 (aantal afgeschermd)"),
            "{mm}"
        );
        assert!(mm.contains("leeftijdsgroep = 55 jaar en ouder: selectiekans (waarschijnlijk geen toeval); kalibratie"), "{mm}");
        assert!(mm.contains("niet zelflerend"), "{mm}");
        assert!(mm.contains("hoogstens 3 vragen"), "{mm}");
        let sd = r.entry["source_data"].as_str().unwrap_or("");
        assert!(
            sd.contains("uitkeringen (bijstand), diagnoses en voorzieningen"),
            "{sd}"
        );
        assert!(
            sd.contains("<li>trede op de participatieladder</li>"),
            "{sd}"
        );
        assert_eq!(r.entry["organization"], json!("Gemeente Noorderhaaks"));
        assert_eq!(r.entry["category"], json!(["Werk", "Sociale zekerheid"]));
        assert_eq!(r.entry["standard_version"], json!("1.0"));
        assert_eq!(r.entry["lang"], json!("nld"));
        let tags = r.entry["tags"].as_str().unwrap_or("<");
        assert!(!tags.contains('<') && tags.contains("beslisboom"), "{tags}");
    }

    #[test]
    fn degenerate_summary_neither_panics_nor_breaks_a_rule() {
        let std = std10();
        let m = ModelSummary {
            name: " ".into(),
            kind: ModelKind::LogisticRegression { penalty: f64::NAN },
            target: String::new(),
            target_group: String::new(),
            features: vec![],
            data_period: (String::new(), "2019-13".into()),
            train_period: (String::new(), String::new()),
            test_period: (String::new(), String::new()),
            n_train: Some(-3.0),
            n_test: Some(f64::INFINITY),
            accuracy: None,
            baseline_accuracy: Some(-0.1),
            balanced_accuracy: None,
            roc_auc: None,
            brier: None,
            audit: vec![AuditFlag {
                group: String::new(),
                value: String::new(),
                flags: vec![" ".into()],
            }],
            sources: vec![],
            software_version: String::new(),
        };
        let r = register_entry(&installation(), &m, &std);
        assert!(r.validate(&std).is_empty(), "{:#?}", r.validate(&std));
        assert_no_placeholders(&r.entry);
        assert_eq!(
            r.entry["name"],
            json!("Voorspelmodel (logistische regressie)")
        );
        let mm = r.entry["methods_and_models"].as_str().unwrap_or("");
        assert!(!mm.contains("rem"), "{mm}");
        assert!(mm.contains("aantal afgeschermd"), "{mm}");
        let card = crate::model_card_markdown(&m, &installation());
        assert!(card.contains("penalty"), "{card}");
        assert!(m.problems().len() >= 10, "{:#?}", m.problems());
    }

    #[test]
    fn long_inputs_are_shortened_within_every_max_length() {
        let std = std10();
        let mut m = summary();
        m.name = "Voorspelling ".repeat(20);
        m.target = "uitstroom naar betaald werk of een opleiding ".repeat(12);
        m.target_group = "inwoners met een uitkering ".repeat(10);
        m.features = (0..400)
            .map(|i| format!("kenmerk nummer {i} met een lange omschrijving <x>"))
            .collect();
        m.audit = (0..80)
            .map(|i| AuditFlag {
                group: format!("groep {i}"),
                value: "waarde".into(),
                flags: vec!["selectiekans / selection rate: ratio 0.5".into()],
            })
            .collect();
        m.accuracy = Some(f64::NAN);
        m.brier = Some(3.0);
        let r = register_entry(&installation(), &m, &std);
        let v = r.validate(&std);
        assert!(v.is_empty(), "{v:#?}");
        assert_no_placeholders(&r.entry);
        let name = r.entry["name"].as_str().unwrap_or("");
        assert!(name.ends_with('…') && name.chars().count() <= 100, "{name}");
        let mm = r.entry["methods_and_models"].as_str().unwrap_or("");
        assert!(mm.contains("niet berekend"), "{mm}");
        assert!(!mm.contains("Brier"), "{mm}");
        assert!(m.problems().len() >= 2);
    }

    #[test]
    fn installation_fields_fill_and_leave_the_to_decide_list() {
        let std = std10();
        let inst = match Installation::from_json(&json!({
            "organisation": "Gemeente Noorderhaaks",
            "contact_email": "https://www.noorderhaaks.nl/contact",
            "register_url": "https://algoritmes.noorderhaaks.nl/",
            "process_index_url": "https://www.noorderhaaks.nl/avg/verwerking-12",
            "provider": "Intern ontwikkeld",
            "publiccode": "https://code.noorderhaaks.nl/inzicht",
            "categories": ["Werk"]
        })) {
            Ok(i) => i,
            Err(e) => panic!("{e}"),
        };
        let mut m = summary();
        m.kind = ModelKind::LogisticRegression { penalty: 1.0 };
        let r = register_entry(&inst, &m, &std);
        assert!(r.validate(&std).is_empty());
        for (k, v) in [
            ("url", "https://algoritmes.noorderhaaks.nl/"),
            (
                "process_index_url",
                "https://www.noorderhaaks.nl/avg/verwerking-12",
            ),
            ("provider", "Intern ontwikkeld"),
            ("publiccode", "https://code.noorderhaaks.nl/inzicht"),
        ] {
            assert_eq!(r.entry[k], json!(v));
            assert!(!r.to_decide.iter().any(|d| d.field == k));
        }
        assert_eq!(r.entry["category"], json!(["Werk"]));
        let mm = r.entry["methods_and_models"].as_str().unwrap_or("");
        assert!(
            mm.contains("logistische regressie") && mm.contains("λ = 1"),
            "{mm}"
        );
    }

    #[test]
    fn flag_labels() {
        assert_eq!(
            flag_label("vals-positief / false-positive rate: ratio 1.40 buiten [0.80, 1.25] (onzeker / CI includes 1)"),
            "vals-positief (misschien toeval)"
        );
        assert_eq!(flag_label("minder vaak voorspeld"), "minder vaak voorspeld");
    }
}
