//! Pictures of provision effects from the protected envelope of `inzicht effects`.

use crate::svg::{esc, ticks, Canvas, COLOURS, DASHES};
use serde_json::Value;

fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Every picture of an effects result: (file name, SVG).
pub fn all(env: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for g in env["groups"].as_array().into_iter().flatten() {
        let name = g["group"].as_str().unwrap_or("groep");
        if let Some(svg) = cif(g) {
            out.push((format!("uitstroom-{}.svg", file_safe(name)), svg));
        }
        if let Some(svg) = love(g) {
            out.push((format!("balans-{}.svg", file_safe(name)), svg));
        }
    }
    out.push(("effecten-forest.svg".into(), forest(env, 1)));
    out
}

/// Cumulative incidence of W/S/I outflow, treated against matched controls, with approximate
/// 95% bands and the number at risk below the plot.
pub fn cif(g: &Value) -> Option<String> {
    let curves = g.get("curves").filter(|c| !c.is_null())?;
    let name = g["group"].as_str().unwrap_or("");
    let arms = [
        ("behandeld / treated", &curves["treated"]),
        ("gematchte controles / matched controls", &curves["control"]),
    ];
    let max_y = arms
        .iter()
        .flat_map(|(_, c)| c["steps"].as_array().into_iter().flatten())
        .filter_map(|s| s["ci_upper"].as_f64().or(s["cif_wsi"].as_f64()))
        .fold(0.05, f64::max)
        .min(1.0);
    let ymax = (max_y * 10.0).ceil() / 10.0;
    let desc = format!(
        "Cumulatieve uitstroom naar werk, school of inkomen in de 24 maanden na de start van groep {name}, voor behandelden en gematchte controles. {}",
        arms.iter()
            .map(|(label, c)| {
                let last = c["steps"].as_array().and_then(|s| s.last());
                match last {
                    Some(s) => format!("{label}: {:.0}% na {} maanden.", 100.0 * s["cif_wsi"].as_f64().unwrap_or(0.0), s["to"]),
                    None => format!("{label}: niet getoond (te weinig personen)."),
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut c = Canvas::new(
        680.0,
        420.0,
        [40.0, 30.0, 110.0, 100.0],
        (0.0, 24.0),
        (0.0, ymax),
        &format!("Uitstroom na start van {name}"),
        &desc,
    );
    c.axes(
        "maanden na de start / months after the start",
        "cumulatieve uitstroom W/S/I",
        &[0.0, 6.0, 12.0, 18.0, 24.0],
        &ticks(0.0, ymax, 5),
        &|v| format!("{:.0}%", 100.0 * v),
    );
    for (k, (label, arm)) in arms.iter().enumerate() {
        let steps: Vec<&Value> = arm["steps"].as_array().into_iter().flatten().collect();
        let mut pts = vec![(0.0, 0.0)];
        let (mut lo, mut hi) = (vec![(0.0, 0.0)], vec![(0.0, 0.0)]);
        let mut prev = 0.0;
        for s in &steps {
            let (from, to) = (
                s["from"].as_f64().unwrap_or(0.0),
                s["to"].as_f64().unwrap_or(0.0),
            );
            let v = s["cif_wsi"].as_f64().unwrap_or(prev);
            // The pooled interval (from, to]: the curve rises at its end.
            pts.push((to, prev));
            pts.push((to, v));
            if let (Some(l), Some(u)) = (s["ci_lower"].as_f64(), s["ci_upper"].as_f64()) {
                lo.push((to, l));
                hi.push((to, u));
            }
            prev = v;
            let _ = from;
        }
        if lo.len() == steps.len() + 1 {
            c.band(&lo, &hi, COLOURS[k]);
        }
        c.path(&pts, COLOURS[k], DASHES[k], 2.5);
        let ly = 24.0 + 18.0 * k as f64;
        c.line(130.0, ly - 4.0, 160.0, ly - 4.0, COLOURS[k], DASHES[k], 2.5);
        c.text(166.0, ly, "start", 12.0, label);
        // At-risk table.
        let y = 420.0 - 110.0 + 52.0 + 18.0 * k as f64;
        c.text(
            8.0,
            y,
            "start",
            11.0,
            if k == 0 { "behandeld" } else { "controles" },
        );
        for m in [0.0, 6.0, 12.0, 18.0, 24.0] {
            let at = steps
                .iter()
                .find(|s| {
                    s["from"].as_f64().unwrap_or(0.0) <= m && m < s["to"].as_f64().unwrap_or(0.0)
                })
                .and_then(|s| s["at_risk"].as_f64());
            let x = c.px(m);
            c.text(
                x,
                y,
                "middle",
                11.0,
                &at.map_or("—".into(), |v| format!("{v:.0}")),
            );
        }
    }
    c.text(
        8.0,
        420.0 - 110.0 + 40.0,
        "start",
        11.0,
        "aantal at risk (beschermd):",
    );
    Some(c.finish())
}

/// Love plot: absolute standardized mean differences before and after matching.
/// At most this many features in a love plot: those with the largest difference before
/// matching (the description says how many there are in all; the JSON has every one).
const LOVE_MAX_ROWS: usize = 40;

pub fn love(g: &Value) -> Option<String> {
    let all: Vec<&Value> = g["balance"]
        .as_array()?
        .iter()
        .filter(|b| b["smd_before"].is_number())
        .collect();
    if all.is_empty() {
        return None;
    }
    let mut rows = all.clone();
    rows.sort_by(|a, b| {
        let f = |v: &Value| v["smd_before"].as_f64().map_or(0.0, f64::abs);
        f(b).total_cmp(&f(a))
    });
    rows.truncate(LOVE_MAX_ROWS);
    let name = g["group"].as_str().unwrap_or("");
    let h = 60.0 + 16.0 * rows.len() as f64 + 50.0;
    let xmax = rows
        .iter()
        .filter_map(|b| b["smd_before"].as_f64().map(f64::abs))
        .fold(0.25, f64::max)
        .min(3.0);
    let worst = all
        .iter()
        .filter_map(|b| b["smd_after"].as_f64().map(f64::abs))
        .fold(0.0, f64::max);
    let desc = format!(
        "Balans voor en na matching voor groep {name}: de {} kenmerken (van {}) met het grootste verschil vóór matching; grootste absolute gestandaardiseerde verschil na matching {worst:.3}; de lijn bij 0,1 is de gebruikelijke grens.",
        rows.len(),
        all.len()
    );
    let mut c = Canvas::new(
        720.0,
        h,
        [40.0, 40.0, 50.0, 280.0],
        (0.0, xmax),
        (0.0, rows.len() as f64 + 1.0),
        &format!("Balans voor en na matching: {name}"),
        &desc,
    );
    c.axes(
        "|gestandaardiseerd verschil| / |standardized mean difference|",
        "",
        &ticks(0.0, xmax, 5),
        &[],
        &|_| String::new(),
    );
    let x01 = c.px(0.1);
    c.line(
        x01,
        c.py(0.0),
        x01,
        c.py(rows.len() as f64 + 1.0),
        "#999999",
        "4 3",
        1.0,
    );
    for (i, b) in rows.iter().enumerate() {
        let y = c.py(rows.len() as f64 - i as f64);
        c.text(
            c.left - 8.0,
            y + 4.0,
            "end",
            11.0,
            b["name"].as_str().unwrap_or(""),
        );
        if let Some(v) = b["smd_before"].as_f64() {
            let x = c.px(v.abs().min(xmax));
            c.raw(&format!(r#"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="none" stroke="{}" stroke-width="1.5"/>"#, COLOURS[1]));
        }
        if let Some(v) = b["smd_after"].as_f64() {
            let x = c.px(v.abs().min(xmax));
            c.raw(&format!(
                r#"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="{}"/>"#,
                COLOURS[0]
            ));
        }
    }
    c.raw(&format!(r#"<circle cx="240" cy="20" r="4" fill="none" stroke="{}" stroke-width="1.5"/><circle cx="360" cy="20" r="4" fill="{}"/>"#, COLOURS[1], COLOURS[0]));
    c.text(248.0, 24.0, "start", 12.0, "voor / before");
    c.text(368.0, 24.0, "start", 12.0, "na / after");
    Some(c.finish())
}

/// Forest plot of the difference at one horizon (index into the horizons: 0 = 6, 1 = 12,
/// 2 = 24 months): per group and subgroup, matched (dot with interval) and naive (open diamond).
pub fn forest(env: &Value, horizon: usize) -> String {
    struct Row {
        label: String,
        matched: Option<(f64, f64, f64)>,
        naive: Option<f64>,
        note: Option<&'static str>,
    }
    let mut rows = Vec::new();
    let mut months = 12;
    for g in env["groups"].as_array().into_iter().flatten() {
        let gname = g["group"].as_str().unwrap_or("");
        let ests =
            std::iter::once(&g["overall"]).chain(g["subgroups"].as_array().into_iter().flatten());
        for e in ests {
            let value = e["value"].as_str().unwrap_or("");
            let label = match e["subset"].as_str() {
                Some("all") => format!("{gname} — alle"),
                Some("age_band") => format!("   leeftijd {value}"),
                Some("trede") => format!("   trede {value}"),
                // The doelgroep of `--focus-age`/`--focus-wijk` (the web tool's Voorzieningen
                // form); its value already says what it is ("leeftijd 18–26, wijk …").
                Some("focus") => format!("   doelgroep: {value}"),
                _ => format!("   {value}"),
            };
            let m = &e["matched"][horizon];
            months = m["months"].as_i64().unwrap_or(months);
            let matched = match (
                m["difference"].as_f64(),
                m["ci"][0].as_f64(),
                m["ci"][1].as_f64(),
            ) {
                (Some(d), Some(l), Some(u)) => Some((d, l, u)),
                _ => None,
            };
            if e["subset"] != "all" && matched.is_none() {
                continue;
            }
            rows.push(Row {
                label,
                naive: e["naive"][horizon]["difference"].as_f64(),
                note: matched.is_none().then_some("te weinig om te schatten"),
                matched,
            });
        }
    }
    let lo = rows
        .iter()
        .filter_map(|r| r.matched.map(|m| m.1))
        .chain(rows.iter().filter_map(|r| r.naive))
        .fold(-0.05, f64::min);
    let hi = rows
        .iter()
        .filter_map(|r| r.matched.map(|m| m.2))
        .chain(rows.iter().filter_map(|r| r.naive))
        .fold(0.05, f64::max);
    let h = 70.0 + 18.0 * rows.len() as f64 + 50.0;
    let desc = format!(
        "Verschil in cumulatieve uitstroom na {months} maanden tussen behandelden en gematchte controles, per voorzieningengroep en subgroep, met 95%-betrouwbaarheidsintervallen; open ruit: de naïeve vergelijking zonder matching. {}",
        rows.iter()
            .filter(|r| r.label.contains("alle"))
            .map(|r| match r.matched {
                Some((d, l, u)) => format!("{}: {:+.1} procentpunt ({:+.1} tot {:+.1}).", r.label.replace(" — alle", ""), 100.0 * d, 100.0 * l, 100.0 * u),
                None => format!("{}: te weinig om te schatten.", r.label.replace(" — alle", "")),
            })
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut c = Canvas::new(
        720.0,
        h,
        [50.0, 30.0, 50.0, 250.0],
        (lo, hi),
        (0.0, rows.len() as f64 + 1.0),
        &format!("Effect op uitstroom na {months} maanden"),
        &desc,
    );
    c.axes_with_x_format(
        "verschil in procentpunten (behandeld − controle)",
        &ticks(lo, hi, 6),
        &|v| format!("{:+.0}", 100.0 * v),
    );
    let x0 = c.px(0.0);
    c.line(
        x0,
        c.py(0.0),
        x0,
        c.py(rows.len() as f64 + 1.0),
        "#666666",
        "",
        1.0,
    );
    for (i, r) in rows.iter().enumerate() {
        let y = c.py(rows.len() as f64 - i as f64);
        c.text(c.left - 8.0, y + 4.0, "end", 11.0, &r.label);
        if let Some((d, l, u)) = r.matched {
            let (xl, xu, xd) = (c.px(l), c.px(u), c.px(d));
            c.line(xl, y, xu, y, COLOURS[0], "", 2.0);
            c.raw(&format!(
                r#"<circle cx="{xd:.1}" cy="{y:.1}" r="4.5" fill="{}"/>"#,
                COLOURS[0]
            ));
        }
        if let Some(n) = r.naive {
            let x = c.px(n);
            c.raw(&format!(r#"<path d="M{x:.1},{:.1} l5,5 l-5,5 l-5,-5 Z" fill="none" stroke="{}" stroke-width="1.5"/>"#, y - 5.0, COLOURS[1]));
        }
        if let Some(note) = r.note {
            c.text(c.px(lo) + 6.0, y + 4.0, "start", 11.0, note);
        }
    }
    c.raw(&format!(r#"<circle cx="260" cy="24" r="4.5" fill="{}"/><path d="M420,19 l5,5 l-5,5 l-5,-5 Z" fill="none" stroke="{}" stroke-width="1.5"/>"#, COLOURS[0], COLOURS[1]));
    c.text(270.0, 28.0, "start", 12.0, "met matching (95%-BI)");
    c.text(430.0, 28.0, "start", 12.0, "zonder matching (naïef)");
    let _ = esc;
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forest_labels_name_each_kind_of_subgroup() {
        let estimate = |subset: &str, value: &str| {
            serde_json::json!({
                "subset": subset,
                "value": value,
                "matched": [{}, {"months": 12, "difference": 0.05, "ci": [0.01, 0.09]}, {}],
                "naive": [{}, {"months": 12, "difference": 0.08}, {}],
            })
        };
        let env = serde_json::json!({"groups": [{
            "group": "G3",
            "overall": estimate("all", ""),
            "subgroups": [
                estimate("age_band", "18-26"),
                estimate("trede", "2"),
                estimate("focus", "leeftijd 18–26"),
            ],
        }]});
        let svg = forest(&env, 1);
        for label in [
            "G3 — alle",
            "leeftijd 18-26",
            "trede 2",
            "doelgroep: leeftijd 18–26",
        ] {
            assert!(svg.contains(label), "{label} missing");
        }
        assert!(!svg.contains("trede leeftijd"), "the doelgroep is no trede");
    }
}
