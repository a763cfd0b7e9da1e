//! Line charts over months (the monitor: caseload, inflow and outflow) and horizontal bar charts
//! (a breakdown by one characteristic). A suppressed value (`None`) breaks the line rather than
//! being drawn as zero.

use crate::svg::{esc, ticks, Canvas, COLOURS, DASHES};

/// One line: its name and (x, value) points; x is months since year 0 (year·12 + month − 1).
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, Option<f64>)>,
}

/// A line chart over months; `yfmt` formats the y axis, `desc` is the text alternative.
pub fn months_chart(
    title: &str,
    desc: &str,
    ylabel: &str,
    series: &[Series],
    yfmt: &dyn Fn(f64) -> String,
) -> String {
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let (x0, x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    let (x0, x1) = if x0.is_finite() { (x0, x1) } else { (0.0, 1.0) };
    let ymax = series
        .iter()
        .flat_map(|s| s.points.iter().filter_map(|p| p.1))
        .fold(0.0, f64::max);
    let yt = ticks(0.0, if ymax > 0.0 { ymax * 1.05 } else { 1.0 }, 5);
    let ytop = yt.last().copied().unwrap_or(1.0).max(ymax);
    let legend_h = 20.0 * series.len() as f64;
    let mut c = Canvas::new(
        760.0,
        360.0 + legend_h,
        [20.0, 20.0, 60.0 + legend_h, 80.0],
        (x0, x1),
        (0.0, ytop),
        title,
        desc,
    );
    // Year ticks at January.
    let first_year = (x0 / 12.0).ceil() as i64;
    let last_year = (x1 / 12.0).floor() as i64;
    let step = ((last_year - first_year) / 8).max(1);
    let years: Vec<f64> = (first_year..=last_year)
        .step_by(step as usize)
        .map(|y| y as f64 * 12.0)
        .collect();
    c.axes("", ylabel, &[], &yt, yfmt);
    let y0 = c.py(0.0);
    for &t in &years {
        let x = c.px(t);
        c.line(x, y0, x, y0 + 5.0, "#333333", "", 1.0);
        c.text(
            x,
            y0 + 18.0,
            "middle",
            12.0,
            &format!("{}", (t / 12.0) as i64),
        );
    }
    for (k, s) in series.iter().enumerate() {
        let col = COLOURS[k % COLOURS.len()];
        let dash = DASHES[k % DASHES.len()];
        let mut run: Vec<(f64, f64)> = Vec::new();
        for &(x, v) in &s.points {
            match v {
                Some(v) => run.push((x, v)),
                None => {
                    if run.len() > 1 {
                        c.path(&run, col, dash, 2.0);
                    }
                    run.clear();
                }
            }
        }
        if run.len() > 1 {
            c.path(&run, col, dash, 2.0);
        }
        let ly = c.height - legend_h - 10.0 + 20.0 * k as f64;
        c.line(c.left, ly, c.left + 30.0, ly, col, dash, 2.0);
        c.text(c.left + 38.0, ly + 4.0, "start", 12.0, &s.name);
    }
    c.finish()
}

/// Horizontal bars: (label, value); a suppressed value is shown as "afgeschermd".
pub fn bars(
    title: &str,
    desc: &str,
    xlabel: &str,
    rows: &[(String, Option<f64>)],
    xfmt: &dyn Fn(f64) -> String,
) -> String {
    let vmax = rows.iter().filter_map(|r| r.1).fold(0.0, f64::max);
    let xt = ticks(0.0, if vmax > 0.0 { vmax } else { 1.0 }, 5);
    let xtop = xt.last().copied().unwrap_or(1.0).max(vmax);
    let h = 80.0 + 26.0 * rows.len() as f64;
    let mut c = Canvas::new(
        760.0,
        h,
        [10.0, 30.0, 50.0, 220.0],
        (0.0, xtop),
        (0.0, rows.len().max(1) as f64),
        title,
        desc,
    );
    c.axes_with_x_format(xlabel, &xt, xfmt);
    for (i, (label, v)) in rows.iter().enumerate() {
        let y = c.py(rows.len() as f64 - i as f64) + 4.0;
        c.text(c.left - 8.0, y + 13.0, "end", 12.0, label);
        match v {
            Some(v) => {
                let w = c.px(*v) - c.px(0.0);
                c.raw(&format!(
                    r##"<rect x="{:.1}" y="{y:.1}" width="{w:.1}" height="18" fill="{}"><title>{}: {}</title></rect>"##,
                    c.px(0.0),
                    COLOURS[0],
                    esc(label),
                    esc(&xfmt(*v))
                ));
            }
            None => c.text(
                c.px(0.0) + 4.0,
                y + 13.0,
                "start",
                12.0,
                "afgeschermd / suppressed",
            ),
        }
    }
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suppressed_points_break_the_line_and_labels_are_escaped() {
        let s = Series {
            name: "<b>".into(),
            points: vec![
                (24_000.0, Some(1.0)),
                (24_001.0, None),
                (24_002.0, Some(2.0)),
                (24_003.0, Some(3.0)),
            ],
        };
        let svg = months_chart("t", "d", "n", &[s], &|v| format!("{v}"));
        assert_eq!(svg.matches("<path").count(), 1);
        assert!(svg.contains("&lt;b&gt;"));
        let b = bars(
            "t",
            "d",
            "x",
            &[("a".into(), Some(2.0)), ("<i>".into(), None)],
            &|v| format!("{v}"),
        );
        assert!(b.contains("afgeschermd") && b.contains("&lt;i&gt;"));
    }
}
