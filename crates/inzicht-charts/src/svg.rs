//! A minimal SVG canvas with linear axes.

use std::fmt::Write;

/// Okabe–Ito colours: blue, vermillion, bluish green, orange, reddish purple, sky blue.
pub const COLOURS: [&str; 6] = [
    "#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9",
];
/// Dash patterns paired with the colours, so that lines differ without colour too.
pub const DASHES: [&str; 6] = ["", "6 3", "2 2", "8 3 2 3", "4 4", "1 3"];

/// Escapes text for XML (data values and column names end up in charts).
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

pub struct Canvas {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
    pub x: (f64, f64),
    pub y: (f64, f64),
    body: String,
    title: String,
    desc: String,
}

impl Canvas {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        width: f64,
        height: f64,
        margins: [f64; 4],
        x: (f64, f64),
        y: (f64, f64),
        title: &str,
        desc: &str,
    ) -> Self {
        let x = if x.1 > x.0 { x } else { (x.0, x.0 + 1.0) };
        let y = if y.1 > y.0 { y } else { (y.0, y.0 + 1.0) };
        Canvas {
            width,
            height,
            top: margins[0],
            right: margins[1],
            bottom: margins[2],
            left: margins[3],
            x,
            y,
            body: String::new(),
            title: title.to_string(),
            desc: desc.to_string(),
        }
    }

    pub fn px(&self, x: f64) -> f64 {
        self.left + (x - self.x.0) / (self.x.1 - self.x.0) * (self.width - self.left - self.right)
    }

    pub fn py(&self, y: f64) -> f64 {
        self.height
            - self.bottom
            - (y - self.y.0) / (self.y.1 - self.y.0) * (self.height - self.top - self.bottom)
    }

    pub fn raw(&mut self, s: &str) {
        self.body.push_str(s);
    }

    pub fn text(&mut self, x: f64, y: f64, anchor: &str, size: f64, s: &str) {
        let _ = write!(
            self.body,
            r#"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}" font-size="{size}">{}</text>"#,
            esc(s)
        );
    }

    #[allow(clippy::too_many_arguments)]
    pub fn line(
        &mut self,
        x1: f64,
        y1: f64,
        x2: f64,
        y2: f64,
        stroke: &str,
        dash: &str,
        width: f64,
    ) {
        let _ = write!(
            self.body,
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{stroke}" stroke-width="{width}"{}/>"#,
            if dash.is_empty() {
                String::new()
            } else {
                format!(r#" stroke-dasharray="{dash}""#)
            }
        );
    }

    /// A polyline through data points.
    pub fn path(&mut self, pts: &[(f64, f64)], stroke: &str, dash: &str, width: f64) {
        if pts.is_empty() {
            return;
        }
        let d: Vec<String> = pts
            .iter()
            .enumerate()
            .map(|(i, (x, y))| {
                format!(
                    "{}{:.1},{:.1}",
                    if i == 0 { "M" } else { "L" },
                    self.px(*x),
                    self.py(*y)
                )
            })
            .collect();
        let _ = write!(
            self.body,
            r#"<path d="{}" fill="none" stroke="{stroke}" stroke-width="{width}"{}/>"#,
            d.join(" "),
            if dash.is_empty() {
                String::new()
            } else {
                format!(r#" stroke-dasharray="{dash}""#)
            }
        );
    }

    /// A filled band between a lower and an upper polyline (same x values).
    pub fn band(&mut self, lower: &[(f64, f64)], upper: &[(f64, f64)], fill: &str) {
        if lower.is_empty() || upper.is_empty() {
            return;
        }
        let mut d = String::new();
        for (i, (x, y)) in upper.iter().enumerate() {
            let _ = write!(
                d,
                "{}{:.1},{:.1} ",
                if i == 0 { "M" } else { "L" },
                self.px(*x),
                self.py(*y)
            );
        }
        for (x, y) in lower.iter().rev() {
            let _ = write!(d, "L{:.1},{:.1} ", self.px(*x), self.py(*y));
        }
        let _ = write!(
            self.body,
            r#"<path d="{d}Z" fill="{fill}" fill-opacity="0.18" stroke="none"/>"#
        );
    }

    /// Axes with ticks; `yfmt` formats the y labels.
    pub fn axes(
        &mut self,
        xlabel: &str,
        ylabel: &str,
        xticks: &[f64],
        yticks: &[f64],
        yfmt: &dyn Fn(f64) -> String,
    ) {
        let (x0, x1) = (self.px(self.x.0), self.px(self.x.1));
        let (y0, y1) = (self.py(self.y.0), self.py(self.y.1));
        for &t in yticks {
            let y = self.py(t);
            self.line(x0, y, x1, y, "#dddddd", "", 1.0);
            self.text(x0 - 6.0, y + 4.0, "end", 12.0, &yfmt(t));
        }
        self.line(x0, y0, x1, y0, "#333333", "", 1.0);
        self.line(x0, y0, x0, y1, "#333333", "", 1.0);
        for &t in xticks {
            let x = self.px(t);
            self.line(x, y0, x, y0 + 5.0, "#333333", "", 1.0);
            self.text(x, y0 + 18.0, "middle", 12.0, &tick_label(t));
        }
        let xl = (x0 + x1) / 2.0;
        self.text(xl, y0 + 36.0, "middle", 13.0, xlabel);
        let yl = (y0 + y1) / 2.0;
        let _ = write!(
            self.body,
            r#"<text x="14" y="{yl:.1}" text-anchor="middle" font-size="13" transform="rotate(-90 14 {yl:.1})">{}</text>"#,
            esc(ylabel)
        );
    }

    /// Only an x axis, with formatted tick labels (forest plots).
    pub fn axes_with_x_format(
        &mut self,
        xlabel: &str,
        xticks: &[f64],
        xfmt: &dyn Fn(f64) -> String,
    ) {
        let (x0, x1) = (self.px(self.x.0), self.px(self.x.1));
        let y0 = self.py(self.y.0);
        self.line(x0, y0, x1, y0, "#333333", "", 1.0);
        for &t in xticks {
            let x = self.px(t);
            self.line(x, y0, x, y0 + 5.0, "#333333", "", 1.0);
            self.text(x, y0 + 18.0, "middle", 12.0, &xfmt(t));
        }
        self.text((x0 + x1) / 2.0, y0 + 36.0, "middle", 13.0, xlabel);
    }

    pub fn finish(self) -> String {
        // Ids unique per chart (FNV-1a of the title and description), so that several charts
        // can sit in one HTML page.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.title.bytes().chain(self.desc.bytes()) {
            h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
        let id = format!("c{:x}", h & 0xffff_ffff);
        format!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{id}t {id}d" viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-family="system-ui, sans-serif"><title id="{id}t">{}</title><desc id="{id}d">{}</desc><rect width="100%" height="100%" fill="#ffffff"/>{}</svg>"##,
            esc(&self.title),
            esc(&self.desc),
            self.body,
            w = self.width,
            h = self.height
        )
    }
}

/// A tick value without floating-point noise (0.6, not 0.6000000000000001).
pub fn tick_label(t: f64) -> String {
    let r = (t * 1e6).round() / 1e6;
    let s = format!("{r}");
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// Round tick positions covering [lo, hi].
pub fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if hi <= lo || !lo.is_finite() || !hi.is_finite() {
        return vec![lo];
    }
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(raw);
    let start = (lo / step).ceil() * step;
    let mut v = Vec::new();
    let mut t = start;
    while t <= hi + step * 1e-9 {
        v.push((t / step).round() * step);
        t += step;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        let mut c = Canvas::new(
            100.0,
            100.0,
            [10.0; 4],
            (0.0, 1.0),
            (0.0, 1.0),
            "<t>",
            "a & b",
        );
        c.text(1.0, 1.0, "start", 10.0, "<script>alert(1)</script>");
        let s = c.finish();
        assert!(!s.contains("<script>"));
        assert!(s.contains("&lt;t&gt;") && s.contains("a &amp; b"));
    }

    #[test]
    fn tick_labels_have_no_float_noise() {
        assert_eq!(tick_label(0.6000000000000001), "0.6");
        assert_eq!(tick_label(-0.0), "0");
        assert_eq!(tick_label(12.0), "12");
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(ticks(0.0, 24.0, 4), vec![0.0, 10.0, 20.0]);
        assert_eq!(ticks(0.0, 1.0, 4), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
    }
}
