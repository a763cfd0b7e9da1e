//! Kaplan–Meier curves with confidence bands and a table of the number at risk, from the
//! result of `inzicht km` (protected or, on public data, exact).

use crate::svg::{ticks, Canvas, COLOURS, DASHES};
use serde_json::Value;

/// `group_label` names the column the groups come from (shown in the legend).
pub fn chart(result: &Value, time_label: &str, group_label: Option<&str>) -> String {
    let groups: Vec<&Value> = result["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|g| g["times"].is_array())
        .collect();
    let tmax = groups
        .iter()
        .flat_map(|g| g["times"].as_array().into_iter().flatten())
        .filter_map(|t| t.as_f64())
        .fold(1.0, f64::max);
    let xt = ticks(0.0, tmax, 6);
    let desc = groups
        .iter()
        .map(|g| {
            format!(
                "{}: mediaan {}.",
                g["group"].as_str().unwrap_or("alle"),
                g["median"]
                    .as_f64()
                    .map_or("niet bereikt".into(), |m| format!("{m}"))
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    let bottom = 70.0 + 18.0 * groups.len() as f64;
    let h = 360.0 + bottom;
    let mut c = Canvas::new(
        720.0,
        h,
        [40.0, 20.0, bottom, 110.0],
        (0.0, tmax),
        (0.0, 1.0),
        "Kaplan–Meier-overlevingscurve",
        &format!("Overleving met 95%-betrouwbaarheidsband. {desc}"),
    );
    c.axes(
        time_label,
        "overleving / survival",
        &xt,
        &ticks(0.0, 1.0, 5),
        &|v| format!("{:.0}%", 100.0 * v),
    );
    for (k, g) in groups.iter().enumerate() {
        let col = COLOURS[k % COLOURS.len()];
        let num = |key: &str| -> Vec<Option<f64>> {
            g[key]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| v.as_f64())
                .collect()
        };
        let (t, s, lo, hi, n) = (
            num("times"),
            num("survival"),
            num("ci_lower"),
            num("ci_upper"),
            num("at_risk"),
        );
        let mut pts = vec![(0.0, 1.0)];
        let (mut bl, mut bu) = (vec![(0.0, 1.0)], vec![(0.0, 1.0)]);
        let mut prev = (1.0, 1.0, 1.0);
        for (j, &tj) in t.iter().enumerate() {
            let (Some(tj), Some(sj)) = (tj, s.get(j).copied().flatten()) else {
                continue;
            };
            pts.push((tj, prev.0));
            pts.push((tj, sj));
            // A protected curve may come without a band (no lower/upper values).
            if let (Some(l), Some(u)) = (lo.get(j).copied().flatten(), hi.get(j).copied().flatten())
            {
                bl.push((tj, prev.1));
                bl.push((tj, l));
                bu.push((tj, prev.2));
                bu.push((tj, u));
                prev = (sj, l, u);
            } else {
                prev = (sj, prev.1, prev.2);
            }
        }
        c.band(&bl, &bu, col);
        c.path(&pts, col, DASHES[k % DASHES.len()], 2.2);
        let label = match (group_label, g["group"].as_str()) {
            (Some(col), Some(v)) => format!("{col} = {v}"),
            (None, Some(v)) => v.to_string(),
            _ => "alle / all".to_string(),
        };
        let ly = 22.0 + 16.0 * k as f64;
        c.line(
            150.0,
            ly - 4.0,
            180.0,
            ly - 4.0,
            col,
            DASHES[k % DASHES.len()],
            2.2,
        );
        c.text(186.0, ly, "start", 12.0, &label);
        let y = h - bottom + 56.0 + 18.0 * k as f64;
        // The at-risk rows sit in the left margin (110 px): the group's value only, short
        // enough not to run into the first column of numbers.
        let short: String = g["group"]
            .as_str()
            .unwrap_or("alle / all")
            .chars()
            .take(16)
            .collect();
        c.text(8.0, y, "start", 11.0, &short);
        for &x in &xt {
            let at = t
                .iter()
                .zip(&n)
                .find(|(tt, _)| tt.is_some_and(|v| v >= x))
                .and_then(|(_, nn)| *nn);
            let px = c.px(x);
            c.text(
                px,
                y,
                "middle",
                11.0,
                &at.map_or("—".into(), |v| format!("{v:.0}")),
            );
        }
    }
    let header = match group_label {
        Some(col) => format!("aantal at risk ({col}):"),
        None => "aantal at risk:".to_string(),
    };
    c.text(8.0, h - bottom + 40.0, "start", 11.0, &header);
    c.finish()
}
