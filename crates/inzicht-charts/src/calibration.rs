//! A calibration plot from the protected calibration table (`predicted`, `observed`, `n` per
//! decile of the prediction): observed share against mean predicted probability, with the
//! diagonal of perfect calibration. Bins whose share disclosure control hid are left out and
//! said so in the text alternative.

use crate::svg::{Canvas, COLOURS};
use serde_json::Value;

/// One SVG with a line per model: `models` holds (label, calibration table).
pub fn calibration_svg(models: &[(String, &Value)], title: &str) -> String {
    let mut hidden = 0usize;
    let series: Vec<(String, Vec<(f64, f64)>)> = models
        .iter()
        .map(|(label, table)| {
            let pts = table
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|b| {
                    let p = b["predicted"].as_f64();
                    let o = b["observed"].as_f64();
                    if o.is_none() {
                        hidden += 1;
                    }
                    Some((p?, o?))
                })
                .collect();
            (label.clone(), pts)
        })
        .collect();
    let desc = format!(
        "Kalibratie: waargenomen aandeel tegen voorspelde kans per tiende van de voorspellingen, met de diagonaal van perfecte kalibratie. {}{}",
        series
            .iter()
            .map(|(l, p)| format!("{l}: {} punten. ", p.len()))
            .collect::<String>(),
        if hidden > 0 {
            format!("{hidden} groepen afgeschermd (te weinig personen met of zonder de uitkomst).")
        } else {
            String::new()
        }
    );
    let mut c = Canvas::new(
        600.0,
        460.0,
        [40.0, 200.0, 56.0, 64.0],
        (0.0, 1.0),
        (0.0, 1.0),
        title,
        &desc,
    );
    c.text(300.0, 24.0, "middle", 15.0, title);
    let ticks = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0];
    c.axes(
        "voorspelde kans",
        "waargenomen aandeel",
        &ticks,
        &ticks,
        &|t| format!("{:.0}%", 100.0 * t),
    );
    c.path(&[(0.0, 0.0), (1.0, 1.0)], "#999999", "4 4", 1.0);
    for (s, (label, pts)) in series.iter().enumerate() {
        let colour = COLOURS[s % COLOURS.len()];
        c.path(
            pts,
            colour,
            crate::svg::DASHES[s % crate::svg::DASHES.len()],
            2.0,
        );
        let xy: Vec<(f64, f64)> = pts.iter().map(|&(p, o)| (c.px(p), c.py(o))).collect();
        for &(x, y) in &xy {
            c.raw(&format!(
                r#"<circle cx="{x:.1}" cy="{y:.1}" r="3.5" fill="{colour}"/>"#
            ));
        }
        let ly = 70.0 + 22.0 * s as f64;
        c.line(
            412.0,
            ly - 4.0,
            432.0,
            ly - 4.0,
            colour,
            crate::svg::DASHES[s % crate::svg::DASHES.len()],
            2.0,
        );
        c.text(438.0, ly, "start", 12.0, label);
    }
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn draws_the_points_that_are_shown() {
        let t = json!([{"predicted": 0.1, "observed": 0.12, "n": 30.0},
            {"predicted": 0.5, "observed": null, "n": 30.0},
            {"predicted": 0.8, "observed": 0.75, "n": 30.0}]);
        let s = calibration_svg(&[("logistisch".into(), &t)], "Kalibratie");
        assert_eq!(s.matches("<circle").count(), 2);
        assert!(s.contains("1 groepen afgeschermd"));
    }
}
