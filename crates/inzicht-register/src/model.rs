//! What the register entry and the model card are built from: the organisation that runs
//! inzicht ([`Installation`]) and a fitted model ([`ModelSummary`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The organisation that publishes, from its configuration. The standard asks of the
/// organisation: its name (`organization`, one organisation per entry, the name from the TOOI
/// list), a contact address (`contact_email`: a general e-mail address or contact page, never a
/// personal one), and optionally a public page (`website`), its own register (`url`), its
/// processing register (`process_index_url`), the supplier (`provider`) and a link to source code
/// (`publiccode`). The standard has no field for an organisation code; `department` is not a
/// register field either, but is named in the texts and the model card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Installation {
    /// Full name, e.g. "Gemeente Noorderhaaks" (register field `organization`).
    pub organisation: String,
    /// E.g. "Afdeling Werk en Inkomen".
    #[serde(default)]
    pub department: Option<String>,
    /// A general e-mail address or a contact page beginning with https:// (`contact_email`).
    pub contact_email: String,
    /// A public page about the algorithm (`website`).
    #[serde(default)]
    pub website: Option<String>,
    /// The organisation's own algorithm register (`url`).
    #[serde(default)]
    pub register_url: Option<String>,
    /// The entry in the processing register under the GDPR (`process_index_url`).
    #[serde(default)]
    pub process_index_url: Option<String>,
    /// External supplier, or "Intern ontwikkeld" (`provider`).
    #[serde(default)]
    pub provider: Option<String>,
    /// Link to the public source code (`publiccode`).
    #[serde(default)]
    pub publiccode: Option<String>,
    /// Themes (`category`); default "Werk" and "Sociale zekerheid".
    #[serde(default)]
    pub categories: Option<Vec<String>>,
}

impl Installation {
    /// Reads the installation from JSON (the caller reads the configuration file). Keys:
    /// `organisation` and `contact_email` (required), `department`, `website`, `register_url`,
    /// `process_index_url`, `provider`, `publiccode`, `categories` (optional). An unknown key,
    /// an empty required value, a contact that is neither an e-mail address nor an https://
    /// link, or a link that does not begin with https:// is an error with a Dutch-first message.
    pub fn from_json(v: &Value) -> Result<Installation, String> {
        let mut inst = Installation::deserialize(v)
            .map_err(|e| format!("installatie onleesbaar / installation unreadable: {e}"))?;
        inst.organisation = inst.organisation.trim().to_string();
        inst.contact_email = inst.contact_email.trim().to_string();
        for opt in [
            &mut inst.department,
            &mut inst.website,
            &mut inst.register_url,
            &mut inst.process_index_url,
            &mut inst.provider,
            &mut inst.publiccode,
        ] {
            if let Some(s) = opt.as_mut() {
                *s = s.trim().to_string();
            }
            if opt.as_deref().is_some_and(str::is_empty) {
                *opt = None;
            }
        }
        if inst.organisation.is_empty() {
            return Err(
                "installatie: 'organisation' is leeg / installation: 'organisation' is empty"
                    .into(),
            );
        }
        if inst.contact_email.is_empty() {
            return Err(
                "installatie: 'contact_email' is leeg / installation: 'contact_email' is empty"
                    .into(),
            );
        }
        if !(crate::standard::is_email(&inst.contact_email)
            || crate::standard::is_https_url(&inst.contact_email))
        {
            return Err(format!(
                "installatie: 'contact_email' ({}) is geen e-mailadres en geen link die met https:// begint / installation: 'contact_email' is neither an e-mail address nor a link beginning with https://",
                inst.contact_email
            ));
        }
        for (key, v) in [
            ("website", &inst.website),
            ("register_url", &inst.register_url),
            ("process_index_url", &inst.process_index_url),
            ("publiccode", &inst.publiccode),
        ] {
            if let Some(u) = v {
                if !crate::standard::is_https_url(u) {
                    return Err(format!(
                        "installatie: '{key}' ({u}) begint niet met https:// / installation: '{key}' does not begin with https://"
                    ));
                }
            }
        }
        Ok(inst)
    }

    /// "Gemeente Noorderhaaks (Afdeling Werk en Inkomen)" or just the organisation.
    pub(crate) fn who(&self) -> String {
        match &self.department {
            Some(d) => format!("{} ({d})", self.organisation),
            None => self.organisation.clone(),
        }
    }
}

/// The kind of model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ModelKind {
    /// A classification tree with at most `depth` questions in a row and `leaves` end points.
    ClassificationTree { depth: usize, leaves: usize },
    /// Logistic regression; `penalty` is λ of the ridge (L2) penalty on the standardised
    /// coefficients (0: no penalty).
    LogisticRegression { penalty: f64 },
}

/// One group that the bias audit looked at, with what it found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditFlag {
    /// The attribute, e.g. "leeftijdsgroep".
    pub group: String,
    /// Its value, e.g. "55 jaar en ouder".
    pub value: String,
    /// Findings as the audit wrote them (e.g. "selectiekans / selection rate: ratio 0.62 …",
    /// "kalibratie / calibration: …"); empty: the group was checked and not flagged.
    pub flags: Vec<String>,
}

/// A fitted model, as the caller fills it from protected results. Shares and scores are in
/// [0, 1]; a `None` number is shown as "afgeschermd" (counts) or "niet berekend" (metrics). A
/// number outside its range or not finite is treated as not computed and reported by
/// [`ModelSummary::problems`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSummary {
    /// E.g. "Voorspelling uitstroom naar werk binnen 12 maanden".
    pub name: String,
    pub kind: ModelKind,
    /// The outcome as a Dutch noun phrase that reads after "de kans op", e.g. "uitstroom naar
    /// werk binnen 12 maanden".
    pub target: String,
    /// The people it is about, a Dutch noun phrase, e.g. "mensen met een bijstandsuitkering".
    pub target_group: String,
    /// Input features, in Dutch where possible.
    pub features: Vec<String>,
    /// Months "JJJJ-MM".
    pub data_period: (String, String),
    pub train_period: (String, String),
    pub test_period: (String, String),
    /// Protected counts; `None`: afgeschermd.
    pub n_train: Option<f64>,
    pub n_test: Option<f64>,
    /// Share predicted correctly in the test period.
    pub accuracy: Option<f64>,
    /// Share correct when always predicting the most common outcome.
    pub baseline_accuracy: Option<f64>,
    pub balanced_accuracy: Option<f64>,
    pub roc_auc: Option<f64>,
    pub brier: Option<f64>,
    /// The groups the bias audit reported (an entry with empty `flags`: checked, not flagged).
    /// An empty list reads as "the audit flagged no group".
    pub audit: Vec<AuditFlag>,
    /// Datasets used, e.g. "uitkeringen (bijstand)", "diagnoses".
    pub sources: Vec<String>,
    /// The inzicht version that fitted the model.
    pub software_version: String,
}

impl ModelSummary {
    /// Inconsistent inputs (Dutch first): numbers out of range, months not "JJJJ-MM", empty
    /// texts. The generated texts treat a bad number as not computed; this list says why.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, v) in [
            ("accuracy", self.accuracy),
            ("baseline_accuracy", self.baseline_accuracy),
            ("balanced_accuracy", self.balanced_accuracy),
            ("roc_auc", self.roc_auc),
            ("brier", self.brier),
        ] {
            if let Some(x) = v {
                if !(x.is_finite() && (0.0..=1.0).contains(&x)) {
                    out.push(format!(
                        "{name} = {x} ligt niet tussen 0 en 1; behandeld als niet berekend / {name} = {x} is not in [0, 1]; treated as not computed"
                    ));
                }
            }
        }
        for (name, v) in [("n_train", self.n_train), ("n_test", self.n_test)] {
            if let Some(x) = v {
                if !(x.is_finite() && x >= 0.0) {
                    out.push(format!(
                        "{name} = {x} is geen aantal; behandeld als afgeschermd / {name} = {x} is not a count; treated as withheld"
                    ));
                }
            }
        }
        if let ModelKind::LogisticRegression { penalty } = self.kind {
            if !(penalty.is_finite() && penalty >= 0.0) {
                out.push(format!(
                    "penalty = {penalty} is geen niet-negatief getal / penalty = {penalty} is not a non-negative number"
                ));
            }
        }
        if self.features.iter().all(|f| f.trim().is_empty()) {
            out.push("features is leeg / features is empty".to_string());
        }
        if self.sources.iter().all(|f| f.trim().is_empty()) {
            out.push("sources is leeg / sources is empty".to_string());
        }
        for (name, p) in [
            ("data_period", &self.data_period),
            ("train_period", &self.train_period),
            ("test_period", &self.test_period),
        ] {
            for m in [&p.0, &p.1] {
                if !crate::standard::is_month(m.trim()) {
                    out.push(format!(
                        "{name}: '{m}' is geen maand JJJJ-MM / {name}: '{m}' is not a month YYYY-MM"
                    ));
                }
            }
        }
        for (name, v) in [
            ("name", &self.name),
            ("target", &self.target),
            ("target_group", &self.target_group),
            ("software_version", &self.software_version),
        ] {
            if v.trim().is_empty() {
                out.push(format!("{name} is leeg / {name} is empty"));
            }
        }
        out
    }

    pub(crate) fn share(v: Option<f64>) -> Option<f64> {
        v.filter(|x| x.is_finite() && (0.0..=1.0).contains(x))
    }

    pub(crate) fn n(v: Option<f64>) -> Option<f64> {
        v.filter(|x| x.is_finite() && *x >= 0.0)
    }

    pub(crate) fn kind_nl(&self) -> &'static str {
        match self.kind {
            ModelKind::ClassificationTree { .. } => "beslisboom",
            ModelKind::LogisticRegression { .. } => "logistische regressie",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn installation_from_json() {
        let v = json!({
            "organisation": " Gemeente Noorderhaaks ",
            "department": "Werk en Inkomen",
            "contact_email": "algoritmes@noorderhaaks.nl",
            "website": "https://www.noorderhaaks.nl/inzicht",
            "provider": ""
        });
        let i = Installation::from_json(&v);
        assert!(i.is_ok(), "{i:?}");
        if let Ok(i) = i {
            assert_eq!(i.organisation, "Gemeente Noorderhaaks");
            assert_eq!(i.provider, None);
            assert_eq!(i.who(), "Gemeente Noorderhaaks (Werk en Inkomen)");
        }
        for bad in [
            json!({"contact_email": "a@b.nl"}),
            json!({"organisation": "", "contact_email": "a@b.nl"}),
            json!({"organisation": "G", "contact_email": "Jan"}),
            json!({"organisation": "G", "contact_email": "a@b.nl", "website": "www.x.nl"}),
            json!({"organisation": "G", "contact_email": "a@b.nl", "organisatiecode": "gm1"}),
            json!("Gemeente"),
        ] {
            let r = Installation::from_json(&bad);
            assert!(r.is_err(), "{bad}");
            assert!(r.err().is_some_and(|e| e.contains(" / ")));
        }
    }
}
