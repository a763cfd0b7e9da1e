//! National code lists: the reason a benefit ended (BUS field 34, Regeling statistiek
//! Participatiewet, IOAW en IOAZ) and the SRG provision types (field 15). See shared/domain.md §3–4.

use serde::{Deserialize, Serialize};

/// How an analysis treats the reason a benefit spell ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReasonClass {
    /// Work: paid employment (11) or self-employment (13). Part of W/S/I.
    Work,
    /// School: starts education with student finance (01). Part of W/S/I.
    School,
    /// Income: unemployment or incapacity benefit, alimony, assets, other income. Part of W/S/I.
    Income,
    /// Moved to another municipality or abroad (32, 33): ends observation. Censoring in the
    /// primary analysis, a competing exit in the sensitivity analysis.
    MovedAway,
    /// Every other reason (AOW age, death, detention, relationship, administrative ends): a
    /// competing exit, never censoring.
    Competing,
}

impl EndReasonClass {
    /// Seed 004's outcome: outflow to work, school or income.
    pub fn is_wsi(self) -> bool {
        matches!(self, Self::Work | Self::School | Self::Income)
    }
}

/// One BUS end-reason code.
#[derive(Debug, Clone, Copy)]
pub struct BusEndReason {
    pub code: &'static str,
    pub label_nl: &'static str,
    pub label_en: &'static str,
    pub class: EndReasonClass,
}

use EndReasonClass::*;

/// BUS field 34, every code (shared/domain.md §3).
pub const BUS_END_REASONS: &[BusEndReason] = &[
    BusEndReason {
        code: "01",
        label_nl: "Start opleiding met studiefinanciering",
        label_en: "Starts education with student finance",
        class: School,
    },
    BusEndReason {
        code: "02",
        label_nl: "Samenwonen of huwelijk",
        label_en: "Enters a relationship",
        class: Competing,
    },
    BusEndReason {
        code: "03",
        label_nl: "Bereiken AOW-leeftijd",
        label_en: "Reaches AOW age",
        class: Competing,
    },
    BusEndReason {
        code: "04",
        label_nl: "Overlijden",
        label_en: "Death",
        class: Competing,
    },
    BusEndReason {
        code: "05",
        label_nl: "Detentie",
        label_en: "Detention",
        class: Competing,
    },
    BusEndReason {
        code: "06",
        label_nl: "Kan opleiding volgen maar doet dat niet",
        label_en: "Could follow education but does not",
        class: Competing,
    },
    BusEndReason {
        code: "07",
        label_nl: "Overschrijding maximale verblijfsduur buitenland",
        label_en: "Exceeds the maximum stay abroad",
        class: Competing,
    },
    BusEndReason {
        code: "11",
        label_nl: "Inkomsten uit loondienst (of ziektewet)",
        label_en: "Income from paid employment (or sickness benefit)",
        class: Work,
    },
    BusEndReason {
        code: "13",
        label_nl: "Inkomsten uit eigen bedrijf",
        label_en: "Income from self-employment",
        class: Work,
    },
    BusEndReason {
        code: "14",
        label_nl: "Werkloosheidsuitkering",
        label_en: "Unemployment benefit",
        class: Income,
    },
    BusEndReason {
        code: "15",
        label_nl: "Arbeidsongeschiktheidsuitkering",
        label_en: "Incapacity benefit",
        class: Income,
    },
    BusEndReason {
        code: "17",
        label_nl: "Alimentatie",
        label_en: "Alimony",
        class: Income,
    },
    BusEndReason {
        code: "18",
        label_nl: "Vermogen",
        label_en: "Assets",
        class: Income,
    },
    BusEndReason {
        code: "19",
        label_nl: "Overige inkomsten",
        label_en: "Other income",
        class: Income,
    },
    BusEndReason {
        code: "31",
        label_nl: "Geen inlichtingen verstrekt",
        label_en: "No information supplied",
        class: Competing,
    },
    BusEndReason {
        code: "32",
        label_nl: "Verhuizing naar andere gemeente",
        label_en: "Moved to another municipality",
        class: MovedAway,
    },
    BusEndReason {
        code: "33",
        label_nl: "Vertrek naar buitenland",
        label_en: "Moved abroad",
        class: MovedAway,
    },
    BusEndReason {
        code: "34",
        label_nl: "Niet verschenen na herhaalde oproep (inlichtingenplicht)",
        label_en: "Did not appear after repeated summons (information duty)",
        class: Competing,
    },
    BusEndReason {
        code: "35",
        label_nl: "Niet verschenen na herhaalde oproep (re-integratiegesprek)",
        label_en: "Did not appear after repeated summons (re-integration interview)",
        class: Competing,
    },
    BusEndReason {
        code: "97",
        label_nl: "Oorzaak ligt bij partner",
        label_en: "Cause lies with partner",
        class: Competing,
    },
    BusEndReason {
        code: "98",
        label_nl: "Overige redenen",
        label_en: "Other reasons",
        class: Competing,
    },
];

/// Looks up a BUS end-reason code ("11", "32", …).
pub fn bus_end_reason(code: &str) -> Option<&'static BusEndReason> {
    BUS_END_REASONS.iter().find(|r| r.code == code)
}

/// One SRG provision type (field 15 of the Statistiek Re-integratie Gemeenten).
#[derive(Debug, Clone, Copy)]
pub struct SrgType {
    pub code: &'static str,
    pub label_nl: &'static str,
    pub label_en: &'static str,
}

/// SRG field 15 (shared/domain.md §4). Training, courses and work placements are all 99.
pub const SRG_TYPES: &[SrgType] = &[
    SrgType {
        code: "01",
        label_nl: "Tijdelijke loonkostensubsidie",
        label_en: "Temporary wage-cost subsidy",
    },
    SrgType {
        code: "02",
        label_nl: "WIW/ID-baan",
        label_en: "WIW/ID job",
    },
    SrgType {
        code: "03",
        label_nl: "Participatieplaats",
        label_en: "Participation placement",
    },
    SrgType {
        code: "04",
        label_nl: "Loonkostensubsidie (Participatiewet)",
        label_en: "Wage-cost subsidy (Participatiewet)",
    },
    SrgType {
        code: "05",
        label_nl: "Beschut werk",
        label_en: "Sheltered work",
    },
    SrgType {
        code: "06",
        label_nl: "Jobcoach / begeleiding op de werkplek",
        label_en: "Job coach / guidance at work",
    },
    SrgType {
        code: "07",
        label_nl: "Vervoersvoorziening",
        label_en: "Commuting provision",
    },
    SrgType {
        code: "08",
        label_nl: "Overige voorziening bij arbeidsbeperking",
        label_en: "Other provision for a work limitation",
    },
    SrgType {
        code: "99",
        label_nl: "Overige voorzieningen",
        label_en: "Other provisions",
    },
];

/// Looks up an SRG provision type code.
pub fn srg_type(code: &str) -> Option<&'static SrgType> {
    SRG_TYPES.iter().find(|t| t.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn wsi_is_work_school_income() {
        let wsi: Vec<&str> = BUS_END_REASONS
            .iter()
            .filter(|r| r.class.is_wsi())
            .map(|r| r.code)
            .collect();
        assert_eq!(wsi, ["01", "11", "13", "14", "15", "17", "18", "19"]);
        assert_eq!(bus_end_reason("32").map(|r| r.class), Some(MovedAway));
        assert!(srg_type("99").is_some());
    }
}
