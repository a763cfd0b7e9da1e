//! Fixed catalogues of the synthetic municipality: competences, occupations, provision types,
//! local code lists and names. They play the part of a municipality's own configuration; the
//! mapping of local codes onto national codes is written to the code-list workbook, never assumed
//! by the analyses.

/// Competence groups of the skills taxonomy (ESCO-like: group → competence).
pub const COMPETENCE_GROUPS: &[(&str, &str)] = &[
    ("C01", "Communicatie"),
    ("C02", "Zorg en welzijn"),
    ("C03", "Techniek"),
    ("C04", "Logistiek"),
    ("C05", "Horeca en voeding"),
    ("C06", "Administratie en ICT"),
    ("C07", "Schoonmaak, groen en facilitair"),
    ("C08", "Handel en verkoop"),
    ("C09", "Bouw en productie"),
    ("C10", "Werknemersvaardigheden"),
];

/// Competences, six per group; their index in this list is their bit in a competence mask.
pub const COMPETENCES: &[&str] = &[
    "Klantgericht communiceren",
    "Telefoneren met klanten",
    "Nederlands spreken op werkniveau",
    "Rapporteren",
    "Adviseren",
    "Conflicten hanteren",
    "Persoonlijke verzorging",
    "Ondersteunen bij dagelijkse activiteiten",
    "Signaleren van gezondheidsproblemen",
    "Werken met kinderen",
    "Hygiënisch werken",
    "Medicatie verstrekken",
    "Onderhoud uitvoeren",
    "Werken met handgereedschap",
    "Elektrotechnisch installeren",
    "Lassen",
    "Technische tekeningen lezen",
    "Machines bedienen",
    "Orderpicken",
    "Heftruck besturen",
    "Voorraadbeheer",
    "Goederen laden en lossen",
    "Vrachtwagen besturen (rijbewijs C)",
    "Scanner en WMS gebruiken",
    "Voedsel bereiden",
    "HACCP toepassen",
    "Gasten bedienen",
    "Keukenhygiëne en afwas",
    "Menu's samenstellen",
    "Barwerkzaamheden",
    "Gegevens invoeren",
    "Kantoorsoftware gebruiken",
    "Archiveren",
    "Boekhouden",
    "Plannen en roosteren",
    "Digitale vaardigheden",
    "Gebouwen schoonmaken",
    "Machinaal reinigen",
    "Groenonderhoud",
    "Beveiligen en toezicht houden",
    "Post verwerken",
    "Schoonmaakmiddelen veilig gebruiken",
    "Kassa bedienen",
    "Vakkenvullen",
    "Klanten adviseren in de winkel",
    "Verkopen",
    "Producten presenteren",
    "Telefonisch verkopen",
    "Metselen",
    "Timmeren",
    "Schilderen",
    "Productielijn bedienen",
    "Kwaliteitscontrole",
    "Veilig werken (VCA)",
    "Samenwerken",
    "Zelfstandig werken",
    "Afspraken nakomen",
    "Omgaan met werkdruk",
    "Flexibiliteit",
    "Leervermogen",
];

/// Code of the competence at `index`: `C04.02` is the second competence of group C04.
pub fn competence_code(index: usize) -> String {
    format!("C{:02}.{:02}", index / 6 + 1, index % 6 + 1)
}

/// Bits of the transversal work skills (group C10).
pub const WORK_SKILLS_FIRST: usize = 54;

/// An occupation with its ISCO-08 unit group, sector and required competences.
pub struct Occupation {
    pub title: &'static str,
    pub isco: &'static str,
    pub sector: &'static str,
    /// Indices into [`COMPETENCES`].
    pub competences: &'static [usize],
    /// Minimum education level index (see [`EDUCATION_LEVELS`]).
    pub min_education: usize,
}

macro_rules! occ {
    ($t:expr, $i:expr, $s:expr, [$($c:expr),*], $e:expr) => {
        Occupation { title: $t, isco: $i, sector: $s, competences: &[$($c),*], min_education: $e }
    };
}

pub const SECTORS: &[&str] = &[
    "logistiek",
    "schoonmaak",
    "groen",
    "beveiliging",
    "detailhandel",
    "klantcontact",
    "administratie",
    "horeca",
    "productie",
    "techniek",
    "bouw",
    "zorg",
    "onderwijs",
    "vervoer",
];

pub const OCCUPATIONS: &[Occupation] = &[
    occ!("Orderpicker", "9321", "logistiek", [18, 21, 23, 57, 56], 0),
    occ!(
        "Heftruckchauffeur",
        "8344",
        "logistiek",
        [19, 21, 20, 53, 56],
        2
    ),
    occ!(
        "Magazijnmedewerker",
        "4321",
        "logistiek",
        [20, 23, 30, 31, 55],
        2
    ),
    occ!(
        "Vrachtwagenchauffeur",
        "8332",
        "vervoer",
        [22, 21, 55, 56],
        3
    ),
    occ!("Bezorger", "9621", "vervoer", [21, 0, 55, 56], 0),
    occ!(
        "Chauffeur personenvervoer",
        "8322",
        "vervoer",
        [0, 56, 55, 5],
        2
    ),
    occ!("Schoonmaker", "9112", "schoonmaak", [36, 41, 55, 56], 0),
    occ!(
        "Schoonmaker machinaal",
        "9112",
        "schoonmaak",
        [37, 36, 41, 17],
        1
    ),
    occ!("Hovenier", "6113", "groen", [38, 13, 54, 12], 2),
    occ!(
        "Medewerker groenvoorziening",
        "9214",
        "groen",
        [38, 13, 54, 56],
        0
    ),
    occ!("Beveiliger", "5414", "beveiliging", [39, 5, 3, 56], 2),
    occ!("Postverwerker", "4412", "logistiek", [40, 18, 56, 57], 1),
    occ!(
        "Kassamedewerker",
        "5230",
        "detailhandel",
        [42, 0, 44, 56],
        1
    ),
    occ!("Vakkenvuller", "9334", "detailhandel", [43, 20, 54, 56], 0),
    occ!(
        "Verkoopmedewerker",
        "5223",
        "detailhandel",
        [44, 45, 46, 0, 2],
        2
    ),
    occ!(
        "Callcentermedewerker",
        "4222",
        "klantcontact",
        [1, 0, 47, 31, 57],
        2
    ),
    occ!(
        "Klantenservicemedewerker",
        "4222",
        "klantcontact",
        [0, 1, 2, 31, 5],
        3
    ),
    occ!(
        "Administratief medewerker",
        "4110",
        "administratie",
        [30, 31, 32, 3, 2],
        3
    ),
    occ!(
        "Boekhoudkundig medewerker",
        "4311",
        "administratie",
        [33, 31, 30, 55],
        4
    ),
    occ!(
        "Receptionist",
        "4226",
        "administratie",
        [0, 1, 31, 34, 2],
        3
    ),
    occ!("Planner", "4323", "logistiek", [34, 31, 4, 57, 20], 4),
    occ!(
        "ICT-helpdeskmedewerker",
        "3512",
        "administratie",
        [35, 31, 1, 4, 59],
        4
    ),
    occ!("Kok", "5120", "horeca", [24, 25, 27, 28, 57], 2),
    occ!("Keukenhulp", "9412", "horeca", [27, 25, 24, 56], 0),
    occ!("Bediening", "5131", "horeca", [26, 29, 0, 57, 42], 1),
    occ!(
        "Productiemedewerker",
        "9329",
        "productie",
        [51, 52, 53, 54],
        0
    ),
    occ!(
        "Productiemedewerker voeding",
        "7512",
        "productie",
        [51, 25, 52, 10],
        1
    ),
    occ!("Inpakker", "9321", "productie", [18, 51, 56, 54], 0),
    occ!("Servicemonteur", "7233", "techniek", [12, 13, 16, 0, 55], 3),
    occ!("Elektromonteur", "7411", "techniek", [14, 16, 53, 13], 3),
    occ!("Lasser", "7212", "techniek", [15, 16, 53, 13], 2),
    occ!("Machineoperator", "8189", "productie", [17, 51, 52, 12], 2),
    occ!("Metselaar", "7112", "bouw", [48, 53, 54, 13], 2),
    occ!("Timmerman", "7115", "bouw", [49, 13, 53, 16], 2),
    occ!("Schilder", "7131", "bouw", [50, 53, 55, 13], 2),
    occ!("Bouwplaatsmedewerker", "9313", "bouw", [53, 13, 21, 54], 0),
    occ!(
        "Helpende zorg en welzijn",
        "5322",
        "zorg",
        [6, 7, 10, 0, 2],
        2
    ),
    occ!("Verzorgende IG", "5322", "zorg", [6, 8, 11, 10, 3], 3),
    occ!("Huishoudelijke hulp", "9111", "zorg", [36, 7, 55, 56], 0),
    occ!(
        "Pedagogisch medewerker",
        "5311",
        "onderwijs",
        [9, 0, 3, 54, 2],
        3
    ),
    occ!("Onderwijsassistent", "5312", "onderwijs", [9, 2, 31, 54], 3),
    occ!(
        "Facilitair medewerker",
        "5153",
        "schoonmaak",
        [36, 40, 12, 58],
        1
    ),
];

/// Education levels as the benefit system records them (ordered; index used as a level).
pub use inzicht_domain::education::EDUCATION_LEVELS;

/// Inflow reasons as the benefit system codes them locally (no national list exists).
pub const INFLOW_REASONS: &[(&str, &str)] = &[
    ("I01", "Einde WW-uitkering"),
    ("I02", "Verlies van werk zonder WW-recht"),
    ("I03", "Scheiding of einde samenwonen"),
    ("I04", "Einde studie"),
    ("I05", "Vestiging uit andere gemeente"),
    ("I06", "Statushouder gehuisvest"),
    ("I07", "Einde detentie"),
    ("I08", "Wegvallen inkomen partner"),
    ("I09", "Ziekte, geen recht op WIA"),
    ("I10", "Beëindiging eigen bedrijf"),
    ("I11", "Overig"),
];

/// Local end-reason codes of the benefit system and the BUS code each maps to.
pub const END_REASONS: &[(&str, &str, &str)] = &[
    ("110", "Werk in loondienst", "11"),
    ("111", "Werk via uitzendbureau", "11"),
    ("112", "Werk met loonkostensubsidie", "11"),
    ("113", "Ziektewetuitkering", "11"),
    ("120", "Start eigen bedrijf", "13"),
    ("130", "Start opleiding met studiefinanciering", "01"),
    ("140", "WW-uitkering", "14"),
    ("150", "WIA/Wajong-uitkering", "15"),
    ("170", "Alimentatie", "17"),
    ("180", "Vermogen boven de grens", "18"),
    ("190", "Inkomsten van partner", "19"),
    ("191", "Overige inkomsten", "19"),
    ("200", "Samenwonen of huwelijk", "02"),
    ("210", "AOW-leeftijd bereikt", "03"),
    ("220", "Overlijden", "04"),
    ("230", "Detentie", "05"),
    ("240", "Kan opleiding volgen (jonger dan 27)", "06"),
    ("250", "Te lang in het buitenland", "07"),
    ("300", "Geen inlichtingen verstrekt", "31"),
    ("310", "Verhuisd naar andere gemeente", "32"),
    ("311", "Vertrokken naar het buitenland", "33"),
    ("320", "Niet verschenen na oproep (inlichtingen)", "34"),
    ("330", "Niet verschenen na oproep (re-integratie)", "35"),
    ("970", "Oorzaak bij partner", "97"),
    ("980", "Overige reden", "98"),
    ("981", "Administratieve beëindiging", "98"),
];

/// Local end-reason codes that map to a BUS code, in [`END_REASONS`] order.
pub fn end_reasons_for_bus(bus: &str) -> Vec<&'static str> {
    END_REASONS
        .iter()
        .filter(|r| r.2 == bus)
        .map(|r| r.0)
        .collect()
}

/// The five provision groups the municipality uses (seed 004: "gegroepeerd tot 5 groepen").
pub const PROVISION_GROUPS: &[(&str, &str)] = &[
    ("G1", "Diagnose en activering"),
    ("G2", "Scholing en training"),
    ("G3", "Werkervaring"),
    ("G4", "Begeleiding naar werk"),
    ("G5", "Loonkostensubsidie en voorzieningen"),
];
pub const N_GROUPS: usize = 5;

/// A base activity from which the local provision types are made (one per provider or level).
struct BaseProvision {
    name: &'static str,
    srg: &'static str,
    months: (u32, u32),
    monthly_cost: f64,
    teaches: &'static [usize],
    /// Which clients a consultant thinks of for it (see `model::ProvisionTarget`).
    target: Target,
}

/// Which clients a provision type is meant for; the model uses it to pick a type in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Anyone,
    Language,
    Young,
    Health,
    Limited,
}

macro_rules! base {
    ($n:expr, $s:expr, ($a:expr, $b:expr), $c:expr, [$($t:expr),*], $g:ident) => {
        BaseProvision { name: $n, srg: $s, months: ($a, $b), monthly_cost: $c, teaches: &[$($t),*], target: Target::$g }
    };
}

const BASES: [&[BaseProvision]; N_GROUPS] = [
    &[
        base!("Intake en diagnose", "99", (1, 2), 350.0, [], Anyone),
        base!("Arbeidsverkenning", "99", (2, 3), 420.0, [59], Anyone),
        base!("Praktijkdiagnose", "99", (1, 3), 600.0, [54], Limited),
        base!("Psychologisch onderzoek", "99", (1, 2), 900.0, [], Health),
        base!("Medisch advies", "99", (1, 1), 450.0, [], Health),
        base!("Sociale activering", "99", (3, 9), 250.0, [54, 56], Anyone),
        base!("Dagbesteding", "99", (6, 12), 300.0, [56], Health),
        base!("Empowermenttraining", "99", (2, 4), 280.0, [57, 58], Anyone),
        base!("Budgetcursus", "99", (1, 3), 150.0, [], Anyone),
        base!("Bewegingsprogramma", "99", (3, 6), 120.0, [], Health),
    ],
    &[
        base!("Taalcursus NT2 A1", "99", (6, 12), 380.0, [2], Language),
        base!("Taalcursus NT2 A2", "99", (6, 12), 380.0, [2], Language),
        base!("Taalcursus NT2 B1", "99", (6, 12), 420.0, [2, 3], Language),
        base!("Alfabetisering", "99", (6, 12), 350.0, [2], Language),
        base!("Sollicitatietraining", "99", (1, 2), 300.0, [0, 57], Anyone),
        base!(
            "Digitale vaardigheden",
            "99",
            (2, 3),
            200.0,
            [35, 31],
            Anyone
        ),
        base!("VCA-cursus", "99", (1, 1), 450.0, [53], Anyone),
        base!("Heftruckcertificaat", "99", (1, 1), 650.0, [19], Anyone),
        base!("Cursus orderpicken", "99", (1, 2), 400.0, [18, 23], Anyone),
        base!(
            "Cursus kassa en winkel",
            "99",
            (1, 2),
            300.0,
            [42, 43],
            Young
        ),
        base!(
            "Cursus horeca en HACCP",
            "99",
            (2, 3),
            450.0,
            [25, 24, 27],
            Young
        ),
        base!(
            "Opleiding helpende zorg",
            "99",
            (6, 12),
            520.0,
            [6, 7, 10],
            Anyone
        ),
        base!(
            "Cursus schoonmaak (SVS)",
            "99",
            (1, 2),
            350.0,
            [36, 41],
            Anyone
        ),
        base!("Opleiding beveiliger", "99", (3, 6), 600.0, [39, 5], Young),
        base!(
            "Rijbewijs C en code 95",
            "99",
            (3, 4),
            1_200.0,
            [22],
            Anyone
        ),
        base!(
            "Training werknemersvaardigheden",
            "99",
            (2, 4),
            300.0,
            [54, 55, 56, 57],
            Anyone
        ),
        base!(
            "Mbo-2 opleiding logistiek",
            "99",
            (9, 12),
            500.0,
            [18, 20, 21, 23],
            Young
        ),
    ],
    &[
        base!(
            "Werkstage logistiek",
            "99",
            (3, 6),
            250.0,
            [18, 21, 56],
            Anyone
        ),
        base!("Werkstage zorg", "99", (3, 6), 250.0, [7, 10, 56], Anyone),
        base!("Werkstage horeca", "99", (3, 6), 250.0, [27, 26, 56], Young),
        base!("Werkstage groen", "99", (3, 6), 250.0, [38, 13, 56], Anyone),
        base!(
            "Werkstage schoonmaak",
            "99",
            (3, 6),
            250.0,
            [36, 56],
            Anyone
        ),
        base!(
            "Werkstage detailhandel",
            "99",
            (3, 6),
            250.0,
            [43, 42, 56],
            Young
        ),
        base!(
            "Werkstage techniek",
            "99",
            (3, 6),
            250.0,
            [12, 13, 56],
            Anyone
        ),
        base!(
            "Werkstage administratie",
            "99",
            (3, 6),
            250.0,
            [30, 31, 56],
            Anyone
        ),
        base!(
            "Participatieplaats",
            "03",
            (6, 12),
            180.0,
            [54, 56],
            Limited
        ),
        base!(
            "Leerwerkbedrijf",
            "99",
            (6, 12),
            400.0,
            [51, 53, 54, 56],
            Anyone
        ),
        base!("Proefplaatsing", "99", (1, 2), 150.0, [56, 57], Anyone),
        base!("Beschut werk", "05", (12, 24), 900.0, [51, 56], Limited),
    ],
    &[
        base!("Jobhunting", "99", (2, 4), 500.0, [], Anyone),
        base!(
            "Bemiddeling werkgeversservicepunt",
            "99",
            (1, 3),
            300.0,
            [],
            Anyone
        ),
        base!(
            "Individuele sollicitatiebegeleiding",
            "99",
            (2, 4),
            350.0,
            [0],
            Anyone
        ),
        base!(
            "Jobcoach op de werkplek",
            "06",
            (6, 12),
            450.0,
            [55, 57],
            Limited
        ),
        base!("Netwerktraining", "99", (1, 2), 250.0, [0], Anyone),
        base!("Banenmarkt en speeddates", "99", (1, 1), 100.0, [], Anyone),
        base!("Nazorg na plaatsing", "99", (3, 6), 200.0, [], Anyone),
        base!(
            "Oriëntatie zelfstandig ondernemerschap",
            "99",
            (2, 4),
            400.0,
            [4],
            Anyone
        ),
        base!(
            "Jongerenloket begeleiding",
            "99",
            (2, 6),
            300.0,
            [57],
            Young
        ),
        base!(
            "Begeleiding statushouders naar werk",
            "99",
            (3, 6),
            400.0,
            [2],
            Language
        ),
    ],
    &[
        base!(
            "Loonkostensubsidie Participatiewet",
            "04",
            (12, 24),
            1_100.0,
            [],
            Limited
        ),
        base!(
            "Loonkostensubsidie forfaitair",
            "04",
            (6, 12),
            800.0,
            [],
            Limited
        ),
        base!(
            "Tijdelijke loonkostensubsidie",
            "01",
            (6, 12),
            700.0,
            [],
            Anyone
        ),
        base!("No-riskpolis", "08", (12, 24), 0.0, [], Health),
        base!("Werkplekaanpassing", "08", (1, 1), 2_500.0, [], Health),
        base!("Vervoersvoorziening", "07", (6, 12), 150.0, [], Health),
        base!("Reiskostenvergoeding", "07", (3, 6), 90.0, [], Anyone),
        base!(
            "Plaatsingsbonus werkgever",
            "99",
            (1, 1),
            2_000.0,
            [],
            Anyone
        ),
        base!("Aanvullende kinderopvang", "99", (3, 12), 350.0, [], Anyone),
    ],
];

const PROVIDERS: &[&str] = &[
    "intern",
    "Werkbedrijf",
    "ReaDirect",
    "Stap Verder",
    "Perspectief BV",
    "Kans & Co",
    "Regio Werkt",
];

/// How many local types each group has (150 in all).
pub const TYPES_PER_GROUP: [usize; N_GROUPS] = [28, 36, 30, 31, 25];

/// One local provision type (≈150, as in seed 004).
#[derive(Debug, Clone)]
pub struct ProvisionType {
    pub code: String,
    pub name: String,
    pub group: usize,
    pub srg: &'static str,
    pub months: (u32, u32),
    pub monthly_cost: f64,
    pub teaches: &'static [usize],
    pub target: Target,
    /// First and last calendar year in which the type was offered (policy changes).
    pub offered: (i32, i32),
}

/// The municipality's local provision catalogue: every base activity once per provider until a
/// group has its quota of local types.
pub fn provision_types() -> Vec<ProvisionType> {
    let mut out = Vec::with_capacity(150);
    for (group, bases) in BASES.iter().enumerate() {
        for k in 0..TYPES_PER_GROUP[group] {
            let base = &bases[k % bases.len()];
            let provider = PROVIDERS[k / bases.len() % PROVIDERS.len()];
            let name = if k < bases.len() {
                base.name.to_string()
            } else {
                format!("{} ({provider})", base.name)
            };
            // Some types were dropped after 2016, some introduced from 2019: real catalogues change.
            let offered = match k % 9 {
                7 => (2000, 2016),
                8 if k >= bases.len() => (2019, 2100),
                _ => (2000, 2100),
            };
            out.push(ProvisionType {
                code: format!("V{}{:02}", group + 1, k + 1),
                name,
                group,
                srg: base.srg,
                months: base.months,
                monthly_cost: base.monthly_cost,
                teaches: base.teaches,
                target: base.target,
                offered,
            });
        }
    }
    out
}

/// How a provision ended, as the re-integration system records it.
pub const PROVISION_ENDINGS: &[(&str, &str)] = &[
    ("AFG", "Afgerond volgens plan"),
    ("VTB", "Voortijdig beëindigd"),
    ("UIT", "Beëindigd wegens uitstroom uit de uitkering"),
    ("VRH", "Beëindigd wegens verhuizing"),
    ("OVL", "Beëindigd wegens overlijden"),
    ("DET", "Beëindigd wegens detentie"),
];

pub const FIRST_NAMES_F: &[&str] = &[
    "Anna",
    "Sanne",
    "Fatima",
    "Zoë",
    "Chloë",
    "Noëlle",
    "Anaïs",
    "Maria",
    "Lotte",
    "Emma",
    "Aïcha",
    "Naima",
    "Samira",
    "Yasmina",
    "Petra",
    "Ingrid",
    "Marloes",
    "Sevda",
    "Hanan",
    "Selin",
    "Daniëlle",
    "Irène",
    "Renée",
    "Sofía",
    "Agnieszka",
    "Joyce",
    "Shanti",
    "Esther",
    "Meryem",
    "Linda",
];
pub const FIRST_NAMES_M: &[&str] = &[
    "Daniël", "Noël", "José", "Mohammed", "Ahmed", "Youssef", "Jan", "Pieter", "Kees", "Björn",
    "Raphaël", "Mehmet", "Ömer", "Tomasz", "Kevin", "Dennis", "Mustafa", "Bilal", "Rachid",
    "Michiel", "René", "Stijn", "Thijs", "Hüseyin", "Samir", "Tesfay", "Abdi", "Robin", "Gerrit",
    "Rüdiger",
];
pub const LAST_NAMES: &[&str] = &[
    "de Vries",
    "Jansen",
    "van den Berg",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "van Leeuwen",
    "Dekker",
    "Brouwer",
    "de Wit",
    "Dijkstra",
    "Öztürk",
    "Yilmaz",
    "El Amrani",
    "Bouzid",
    "Kowalski",
    "Haile",
    "Abdullahi",
    "Çelik",
    "Müller",
    "van 't Hof",
    "D'Souza",
    "Benali",
    "Nowak",
    "Ramdin",
    "Kaya",
    "Lefèvre",
];

pub const STREET_WORDS: &[&str] = &[
    "Kerk", "Molen", "Dorps", "Beuken", "Eiken", "Linden", "Haven", "Markt", "School", "Spoor",
    "Wilgen", "Esdoorn",
];

/// Wijk names of the synthetic gemeente.
pub const WIJK_NAMES: &[&str] = &[
    "Centrum",
    "Noord",
    "Oost",
    "Zuid",
    "West",
    "De Haven",
    "Kruiskamp",
    "Hintham",
    "Het Rietveld",
    "Maaspoort",
    "De Donk",
    "Vliedberg",
];
pub const BUURT_SUFFIXES: &[&str] = &[
    "-Noord", "-Zuid", "-Oost", "-West", " Midden", " Park", " Dorp",
];

/// Nationality, country of birth and CBS migration background for each population group.
pub const ORIGINS: &[(&str, &str, &str)] = &[
    ("Nederlandse", "Nederland", "geen"),
    ("Nederlandse", "Suriname", "niet-westers"),
    ("Nederlandse", "Marokko", "niet-westers"),
    ("Nederlandse", "Turkije", "niet-westers"),
    ("Marokkaanse", "Marokko", "niet-westers"),
    ("Turkse", "Turkije", "niet-westers"),
    ("Syrische", "Syrië", "niet-westers"),
    ("Eritrese", "Eritrea", "niet-westers"),
    ("Poolse", "Polen", "westers"),
    ("Duitse", "Duitsland", "westers"),
    ("Somalische", "Somalië", "niet-westers"),
    ("Afghaanse", "Afghanistan", "niet-westers"),
];

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn catalogue_shapes() {
        let types = provision_types();
        assert_eq!(types.len(), 150);
        let mut codes: Vec<&str> = types.iter().map(|t| t.code.as_str()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), 150);
        assert_eq!(COMPETENCES.len(), 60);
        for o in OCCUPATIONS {
            assert!(
                o.competences.iter().all(|&c| c < COMPETENCES.len()),
                "{}",
                o.title
            );
            assert!(SECTORS.contains(&o.sector), "{}", o.sector);
        }
        for r in END_REASONS {
            assert!(
                inzicht_domain::codes::bus_end_reason(r.2).is_some(),
                "{}",
                r.0
            );
        }
        for t in &types {
            assert!(inzicht_domain::codes::srg_type(t.srg).is_some());
        }
        assert_eq!(competence_code(19), "C04.02");
    }
}
