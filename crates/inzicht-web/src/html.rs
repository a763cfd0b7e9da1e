//! HTML building blocks: escaping, the page layout (NL Design System components from
//! `@utrecht/component-library-css`, themed by `assets/inzicht.css`), form controls and tables.
//! Every value that comes from data or from a request passes [`esc`].

use crate::auth::Role;

/// Dutch first; English by the toggle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Nl,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Nl => "nl",
            Lang::En => "en",
        }
    }
    /// Picks the text of this language.
    pub fn t<'a>(self, nl: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Nl => nl,
            Lang::En => en,
        }
    }
}

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query-string component.
pub fn url_enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A page of the navigation: path, Dutch and English title, the roles that may open it.
pub struct NavItem {
    pub path: &'static str,
    pub nl: &'static str,
    pub en: &'static str,
    pub roles: &'static [Role],
}

pub const NAV: &[NavItem] = &[
    NavItem {
        path: "/",
        nl: "Start",
        en: "Start",
        roles: &[
            Role::Analist,
            Role::DataTeam,
            Role::Consulent,
            Role::Auditor,
        ],
    },
    NavItem {
        path: "/monitor",
        nl: "Monitor",
        en: "Monitor",
        roles: &[Role::Analist],
    },
    NavItem {
        path: "/tabel",
        nl: "Tabel",
        en: "Table",
        roles: &[Role::Analist],
    },
    NavItem {
        path: "/datakwaliteit",
        nl: "Datakwaliteit",
        en: "Data quality",
        // The load's bookkeeping (record counts of the identifiable ODS, unprotected): the
        // data team's (docs/protection.md, "Scope").
        roles: &[Role::DataTeam],
    },
    NavItem {
        path: "/clusters",
        nl: "Clusters",
        en: "Clusters",
        roles: &[Role::Analist],
    },
    NavItem {
        path: "/beslisboom",
        nl: "Beslisboom",
        en: "Decision tree",
        roles: &[Role::Analist],
    },
    NavItem {
        path: "/overleving",
        nl: "Overleving",
        en: "Survival",
        roles: &[Role::Analist],
    },
    NavItem {
        path: "/voorzieningen",
        nl: "Voorzieningen",
        en: "Provisions",
        roles: &[Role::Analist],
    },
    NavItem {
        path: "/voorspelmodel",
        nl: "Voorspelmodel",
        en: "Prediction model",
        roles: &[Role::Analist],
    },
    NavItem {
        path: "/consulent",
        nl: "Cliënt",
        en: "Client",
        roles: &[Role::Consulent],
    },
    NavItem {
        path: "/vacatures",
        nl: "Vacatures",
        en: "Vacancies",
        roles: &[Role::Consulent],
    },
    NavItem {
        path: "/audit",
        nl: "Auditlog",
        en: "Audit log",
        roles: &[Role::Auditor],
    },
];

/// Who is looking, for the layout.
pub struct Viewer<'a> {
    pub user: &'a str,
    pub role: Role,
    pub csrf: &'a str,
}

/// The whole page. `current` is the path of the page (for the navigation and the language
/// toggle, which returns to `here`: path plus query).
pub fn layout(
    lang: Lang,
    title: &str,
    current: &str,
    here: &str,
    viewer: Option<&Viewer>,
    snapshot: Option<&str>,
    body: &str,
) -> String {
    let mut nav = String::new();
    if let Some(v) = viewer {
        nav.push_str(&format!(
            "<nav class=\"inzicht-nav\" aria-label=\"{}\"><ul>",
            lang.t("Hoofdmenu", "Main menu")
        ));
        for item in NAV.iter().filter(|i| i.roles.contains(&v.role)) {
            let cur = if item.path == current {
                " aria-current=\"page\""
            } else {
                ""
            };
            nav.push_str(&format!(
                "<li><a class=\"utrecht-link\" href=\"{}\"{cur}>{}</a></li>",
                item.path,
                esc(lang.t(item.nl, item.en))
            ));
        }
        nav.push_str("</ul></nav>");
    }
    let other = match lang {
        Lang::Nl => ("en", "English"),
        Lang::En => ("nl", "Nederlands"),
    };
    let account = viewer.map_or(String::new(), |v| {
        format!(
            "<form method=\"post\" action=\"/uitloggen\" class=\"inzicht-logout\"><span>{} ({})</span> <input type=\"hidden\" name=\"csrf\" value=\"{}\"><button class=\"utrecht-button utrecht-button--secondary-action\" type=\"submit\">{}</button></form>",
            esc(v.user),
            esc(v.role.name()),
            esc(v.csrf),
            lang.t("Uitloggen", "Log out")
        )
    });
    let stamp = snapshot.map_or(String::new(), |s| {
        format!(
            "<p class=\"inzicht-stamp\">{} {} · inzicht {}</p>",
            lang.t("Gegevens: lading", "Data: load"),
            esc(s),
            env!("CARGO_PKG_VERSION")
        )
    });
    format!(
        "<!DOCTYPE html>\n<html lang=\"{lc}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} · inzicht</title><link rel=\"stylesheet\" href=\"/assets/utrecht-component-library.css\"><link rel=\"stylesheet\" href=\"/assets/inzicht.css\">\
<script src=\"/assets/inzicht.js\" defer></script></head>\
<body class=\"inzicht-theme utrecht-document\"><a class=\"inzicht-skip\" href=\"#inhoud\">{skip}</a>\
<header class=\"inzicht-header\"><p class=\"inzicht-brand\">inzicht</p>{account}\
<a class=\"utrecht-link inzicht-lang\" href=\"/taal?naar={ol}&amp;terug={back}\" lang=\"{ol}\">{oname}</a></header>{nav}\
<main id=\"inhoud\" class=\"utrecht-page-content\"><h1 class=\"utrecht-heading-1\">{title}</h1>{body}{stamp}</main></body></html>",
        lc = lang.code(),
        title = esc(title),
        skip = lang.t("Naar de inhoud", "Skip to content"),
        ol = other.0,
        oname = other.1,
        back = esc(&url_enc(here)),
    )
}

pub fn h2(s: &str) -> String {
    format!("<h2 class=\"utrecht-heading-2\">{}</h2>", esc(s))
}

pub fn p(s: &str) -> String {
    format!("<p class=\"utrecht-paragraph\">{}</p>", esc(s))
}

pub fn alert(kind: &str, s: &str) -> String {
    format!(
        "<div class=\"utrecht-alert utrecht-alert--{kind}\" role=\"{}\"><p class=\"utrecht-paragraph\">{}</p></div>",
        if kind == "error" { "alert" } else { "status" },
        esc(s)
    )
}

/// A table with a caption; cells are text (escaped here). Numbers align right.
pub fn table(caption: &str, header: &[String], rows: &[Vec<String>]) -> String {
    let mut s = format!(
        // A wide table scrolls sideways: the scroll region must be reachable by keyboard and
        // named (WCAG 2.1.1; axe `scrollable-region-focusable`).
        "<div class=\"inzicht-table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"{c}\"><table class=\"utrecht-table\"><caption class=\"utrecht-table__caption\">{c}</caption><thead class=\"utrecht-table__header\"><tr class=\"utrecht-table__row\">",
        c = esc(caption)
    );
    for h in header {
        s.push_str(&format!(
            "<th class=\"utrecht-table__header-cell\" scope=\"col\">{}</th>",
            esc(h)
        ));
    }
    s.push_str("</tr></thead><tbody class=\"utrecht-table__body\">");
    for r in rows {
        s.push_str("<tr class=\"utrecht-table__row\">");
        for (i, c) in r.iter().enumerate() {
            let numeric = i > 0 && is_number_text(c);
            if i == 0 {
                s.push_str(&format!(
                    "<th class=\"utrecht-table__header-cell\" scope=\"row\">{}</th>",
                    esc(c)
                ));
            } else {
                s.push_str(&format!(
                    "<td class=\"utrecht-table__cell{}\">{}</td>",
                    if numeric {
                        " utrecht-table__cell--numeric-column"
                    } else {
                        ""
                    },
                    esc(c)
                ));
            }
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table></div>");
    s
}

/// Whether a cell reads as a number (aligned right): it starts with a digit or a sign, also
/// after a bound such as "< " ("< 0,001", a p-value below what is shown).
fn is_number_text(c: &str) -> bool {
    let c = ["< ", "> ", "≤ ", "≥ "]
        .iter()
        .find_map(|bound| c.strip_prefix(bound))
        .unwrap_or(c);
    c.chars()
        .next()
        .is_some_and(|ch| ch.is_ascii_digit() || ch == '-' || ch == '+')
}

/// A labelled select; `options` are (value, label).
pub fn select(name: &str, label: &str, options: &[(String, String)], chosen: &str) -> String {
    let mut s = format!(
        "<div class=\"utrecht-form-field\"><label class=\"utrecht-form-label\" for=\"f-{n}\">{}</label><select class=\"utrecht-select utrecht-select--html-select\" id=\"f-{n}\" name=\"{n}\">",
        esc(label),
        n = esc(name)
    );
    for (v, l) in options {
        s.push_str(&format!(
            "<option value=\"{}\"{}>{}</option>",
            esc(v),
            if v == chosen { " selected" } else { "" },
            esc(l)
        ));
    }
    s.push_str("</select></div>");
    s
}

/// A labelled text or number input.
pub fn input(name: &str, label: &str, kind: &str, value: &str, hint: &str) -> String {
    let hint_html = if hint.is_empty() {
        String::new()
    } else {
        format!(
            "<div class=\"utrecht-form-field-description\" id=\"h-{n}\">{}</div>",
            esc(hint),
            n = esc(name)
        )
    };
    let described = if hint.is_empty() {
        String::new()
    } else {
        format!(" aria-describedby=\"h-{}\"", esc(name))
    };
    format!(
        "<div class=\"utrecht-form-field\"><label class=\"utrecht-form-label\" for=\"f-{n}\">{}</label>{hint_html}<input class=\"utrecht-textbox utrecht-textbox--html-input\" id=\"f-{n}\" name=\"{n}\" type=\"{kind}\" value=\"{}\"{described}></div>",
        esc(label),
        esc(value),
        n = esc(name)
    )
}

/// A fieldset of checkboxes; `options` are (value, label).
pub fn checkboxes(
    name: &str,
    legend: &str,
    options: &[(String, String)],
    chosen: &[String],
) -> String {
    let mut s = format!(
        "<fieldset class=\"utrecht-form-fieldset inzicht-checks\"><legend class=\"utrecht-form-fieldset__legend\">{}</legend>",
        esc(legend)
    );
    for (i, (v, l)) in options.iter().enumerate() {
        s.push_str(&format!(
            "<div class=\"utrecht-form-field utrecht-form-field--checkbox\"><input class=\"utrecht-checkbox utrecht-checkbox--html-input\" type=\"checkbox\" id=\"c-{n}-{i}\" name=\"{n}\" value=\"{}\"{}><label class=\"utrecht-form-label utrecht-form-label--checkbox\" for=\"c-{n}-{i}\">{}</label></div>",
            esc(v),
            if chosen.contains(v) { " checked" } else { "" },
            esc(l),
            n = esc(name)
        ));
    }
    s.push_str("</fieldset>");
    s
}

pub fn submit(label: &str) -> String {
    format!(
        "<button class=\"utrecht-button utrecht-button--primary-action\" type=\"submit\">{}</button>",
        esc(label)
    )
}

/// A chart: the SVG inline (it carries its own title and description for screen readers)
/// with download links (SVG from the server, PNG drawn from it in the browser).
pub fn figure(lang: Lang, svg: &str, svg_href: &str, name: &str) -> String {
    format!(
        "<figure class=\"inzicht-figure\">{svg}<figcaption><a class=\"utrecht-link\" href=\"{h}\" download=\"{n}.svg\">{}</a> · <a class=\"utrecht-link inzicht-png\" href=\"{h}\" data-name=\"{n}\">{}</a></figcaption></figure>",
        lang.t("Download als SVG", "Download as SVG"),
        lang.t("Download als PNG", "Download as PNG"),
        h = esc(svg_href),
        n = esc(name),
    )
}

/// Links to the downloads of a page's tables.
pub fn downloads(lang: Lang, page: &str, query: &str, tables: &[String]) -> String {
    if tables.is_empty() {
        return String::new();
    }
    let q = if query.is_empty() {
        String::new()
    } else {
        format!("&{query}")
    };
    let mut s = format!(
        "<section class=\"inzicht-downloads\" aria-labelledby=\"dl\"><h2 class=\"utrecht-heading-2\" id=\"dl\">{}</h2><ul>",
        lang.t("Downloads (beschermd)", "Downloads (protected)")
    );
    for t in tables {
        let base = format!("/export{page}?tabel={}{q}", url_enc(t));
        s.push_str(&format!(
            "<li>{t}: <a class=\"utrecht-link\" href=\"{b}&amp;formaat=csv-nl\">CSV (Excel NL: ; en ,)</a> · <a class=\"utrecht-link\" href=\"{b}&amp;formaat=csv\">CSV ({})</a> · <a class=\"utrecht-link\" href=\"{b}&amp;formaat=xlsx\">XLSX</a></li>",
            lang.t("internationaal", "international"),
            t = esc(t),
            b = esc(&base),
        ));
    }
    s.push_str(&format!(
        "<li>JSON: <a class=\"utrecht-link\" href=\"{}\">{}</a></li></ul></section>",
        esc(&format!(
            "/api{page}{}",
            if query.is_empty() {
                String::new()
            } else {
                format!("?{query}")
            }
        )),
        lang.t(
            "dezelfde uitkomst als deze pagina",
            "the same result as this page"
        )
    ));
    s
}

/// Dutch number notation with `dec` decimals.
pub fn num(lang: Lang, x: f64, dec: usize) -> String {
    if !x.is_finite() {
        return "—".into();
    }
    let s = format!("{:.*}", dec, x.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let (thousands, point) = match lang {
        Lang::Nl => ('.', ','),
        Lang::En => (',', '.'),
    };
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(thousands);
        }
        grouped.push(ch);
    }
    let sign = if x < 0.0 && s.chars().any(|c| c != '0' && c != '.') {
        "-"
    } else {
        ""
    };
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}{point}{frac}")
    }
}

pub fn pct(lang: Lang, x: Option<f64>, dec: usize) -> String {
    x.map_or_else(
        || lang.t("afgeschermd", "suppressed").to_string(),
        |v| format!("{}%", num(lang, 100.0 * v, dec)),
    )
}

pub fn count(lang: Lang, x: Option<f64>) -> String {
    x.map_or_else(
        || lang.t("afgeschermd", "suppressed").to_string(),
        |v| num(lang, v, 0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_numbers() {
        assert_eq!(
            esc("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
        assert_eq!(num(Lang::Nl, 12345.678, 1), "12.345,7");
        assert_eq!(num(Lang::En, 12345.678, 1), "12,345.7");
        assert_eq!(num(Lang::Nl, -0.04, 1), "0,0");
        assert_eq!(url_enc("a b&c=/"), "a%20b%26c%3D%2F");
    }

    #[test]
    fn numbers_and_bounded_p_values_align_right_and_text_does_not() {
        let t = table(
            "c",
            &["a".into(), "b".into(), "c".into(), "d".into(), "e".into()],
            &[vec![
                "rij".into(),
                "0,123".into(),
                "< 0,001".into(),
                "-1,5".into(),
                "te weinig".into(),
            ]],
        );
        assert_eq!(t.matches("utrecht-table__cell--numeric-column").count(), 3);
        assert!(!t.contains("--numeric-column\">te weinig"));
        assert!(t.contains("--numeric-column\">&lt; 0,001"));
    }
}
