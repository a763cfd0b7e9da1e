//! The register entry (Algoritmeregister, standard v1.0) and the model card of the model that
//! `inzicht patterns` fitted: wiring of `inzicht_register` to the files an analyst hands to the
//! privacy officer.

use crate::cli::Failure;
use inzicht_register::{AuditFlag, Installation, ModelKind, ModelSummary, Standard};
use inzicht_store::cohort::CohortSpec;
use inzicht_store::prediction::{target_text, ModelFacts};
use std::path::Path;

/// The target group in words, from the cohort's filters.
fn target_group(spec: &CohortSpec) -> String {
    let f = &spec.filters;
    let mut parts = vec!["bijstandsuitkeringen van de gemeente".to_string()];
    match (f.age_min, f.age_max) {
        (Some(a), Some(b)) => parts.push(format!("leeftijd {a} tot en met {b} jaar")),
        (Some(a), None) => parts.push(format!("vanaf {a} jaar")),
        (None, Some(b)) => parts.push(format!("tot en met {b} jaar")),
        _ => {}
    }
    if let Some(s) = &f.sex {
        parts.push(format!("geslacht {s}"));
    }
    if !f.wijk.is_empty() {
        parts.push(format!("wijk {}", f.wijk.join(", ")));
    }
    if !f.trede.is_empty() {
        parts.push(format!(
            "trede {}",
            f.trede
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(c) = f.cluster {
        parts.push(format!("cliëntgroep (cluster) {c}"));
    }
    if let Some(g) = &f.provision_group {
        parts.push(format!("met een voorziening uit groep {g}"));
    }
    parts.join(", ")
}

/// Writes `algoritmeregister.json` (the entry), `algoritmeregister-te-beslissen.json` (the fields
/// a person decides, and the validation of everything generated) and `modelkaart.md`. Without
/// an organisation file it says so and writes nothing: the entry needs the organisation.
pub fn write_register(
    dir: &Path,
    organisation: &Path,
    facts: &ModelFacts,
    spec: &CohortSpec,
    penalty: f64,
) -> Result<(), Failure> {
    let text = match std::fs::read_to_string(organisation) {
        Ok(t) => t,
        Err(_) => {
            eprintln!(
                "    Geen registertekst: {} ontbreekt. Zet daar de gegevens van de organisatie (zie docs/register.md).",
                organisation.display()
            );
            return Ok(());
        }
    };
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Failure::usage(format!("{}: not JSON: {e}", organisation.display())))?;
    let inst = Installation::from_json(&value)
        .map_err(|e| Failure::usage(format!("{}: {e}", organisation.display())))?;
    let standard = Standard::v1_0().map_err(Failure::io)?;
    let summary = ModelSummary {
        name: format!(
            "Voorspelling {}",
            facts.target.split(" na ").next().unwrap_or("uitstroom")
        ),
        kind: ModelKind::LogisticRegression { penalty },
        target: target_text(spec),
        target_group: target_group(spec),
        features: facts.features.clone(),
        data_period: facts.data_period.clone(),
        train_period: facts.train_period.clone(),
        test_period: facts.test_period.clone(),
        n_train: facts.n_train,
        n_test: facts.n_test,
        accuracy: facts.accuracy,
        baseline_accuracy: facts.baseline_accuracy,
        balanced_accuracy: facts.balanced_accuracy,
        roc_auc: facts.roc_auc,
        brier: facts.brier,
        audit: facts
            .audit_flags
            .iter()
            .map(|(g, v, f)| AuditFlag {
                group: g.clone(),
                value: v.clone(),
                flags: f.clone(),
            })
            .collect(),
        sources: vec![
            "uitkeringen (bijstand): start, einde en reden van einde".into(),
            "diagnoses: participatieladder, loonwaarde en belemmeringen".into(),
            "persoonskenmerken: leeftijd, huishouden, opleiding, taal".into(),
            "voorzieningen: welke groepen eerder zijn ingezet".into(),
            "competenties".into(),
        ],
        software_version: format!("inzicht {}", env!("CARGO_PKG_VERSION")),
    };
    let entry = inzicht_register::register_entry(&inst, &summary, &standard);
    let violations = standard.validate_generated(&entry.entry, &entry.to_decide);
    if !violations.is_empty() {
        return Err(Failure::io(format!(
            "the generated register entry breaks the standard: {}",
            violations
                .iter()
                .map(|v| v.message.clone())
                .collect::<Vec<_>>()
                .join("; ")
        )));
    }
    let write = |name: &str, text: String| -> Result<(), Failure> {
        std::fs::write(dir.join(name), text)
            .map_err(|e| Failure::usage(format!("{}: {e}", dir.join(name).display())))
    };
    write(
        "algoritmeregister.json",
        serde_json::to_string_pretty(&entry.entry).unwrap_or_default(),
    )?;
    write(
        "algoritmeregister-te-beslissen.json",
        serde_json::to_string_pretty(&serde_json::json!({
            "standard": "Algoritmeregister publicatiestandaard 1.0",
            "validation": "alle gegenereerde velden voldoen aan de regels van de standaard; de velden hieronder beslist een mens (ze staan niet in algoritmeregister.json, dus 'verplicht' faalt tot ze zijn ingevuld)",
            "to_decide": entry.to_decide,
        }))
        .unwrap_or_default(),
    )?;
    write(
        "modelkaart.md",
        inzicht_register::model_card_markdown(&summary, &inst),
    )?;
    Ok(())
}
