//! A classification tree as SVG, from the protected nested tree JSON (`split`, `left`, `right`,
//! `n`, `share`, `prediction` per node): nodes in rows by depth, leaves spread evenly left to
//! right, each parent centred over its children (the layout of rpart's `plot`). A node shows
//! its split; a leaf its outcome share and (protected) size.

use crate::svg::{esc, Canvas};
use serde_json::Value;

struct Placed {
    x: f64,
    depth: usize,
    label: Vec<String>,
    leaf: bool,
    share: Option<f64>,
    children: Vec<usize>,
}

fn nl(x: f64, dec: usize) -> String {
    let s = format!("{x:.dec$}");
    s.replace('.', ",")
}

fn place(
    node: &Value,
    depth: usize,
    next_leaf: &mut f64,
    out: &mut Vec<Placed>,
    positive: usize,
) -> usize {
    let share = node["share"].get(positive).and_then(Value::as_f64);
    let n = node["n"]
        .as_f64()
        .map_or("afgeschermd".to_string(), |v| nl(v, 0));
    let idx = out.len();
    out.push(Placed {
        x: 0.0,
        depth,
        label: Vec::new(),
        leaf: true,
        share,
        children: Vec::new(),
    });
    if let (Some(split), Some(l), Some(r)) =
        (node.get("split"), node.get("left"), node.get("right"))
    {
        let feature = split["feature"].as_str().unwrap_or("");
        let cond = match (split.get("le").and_then(Value::as_f64), split.get("in")) {
            (Some(t), _) => format!(
                "{feature} ≤ {}",
                crate::svg::tick_label(t).replace('.', ",")
            ),
            (None, Some(levels)) => {
                let v: Vec<&str> = levels
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let mut s = v.join(", ");
                if s.chars().count() > 28 {
                    s = s.chars().take(26).collect::<String>() + "…";
                }
                format!("{feature} ∈ {{{s}}}")
            }
            _ => feature.to_string(),
        };
        let li = place(l, depth + 1, next_leaf, out, positive);
        let ri = place(r, depth + 1, next_leaf, out, positive);
        out[idx].x = (out[li].x + out[ri].x) / 2.0;
        out[idx].leaf = false;
        out[idx].children = vec![li, ri];
        out[idx].label = vec![cond, format!("n ≈ {n}")];
    } else {
        out[idx].x = *next_leaf;
        *next_leaf += 1.0;
        let pct = share.map_or("afgeschermd".to_string(), |s| {
            format!("{}%", nl(100.0 * s, 0))
        });
        out[idx].label = vec![pct, format!("n ≈ {n}")];
    }
    idx
}

/// The tree as SVG. `positive` is the class index whose share the leaves show.
pub fn tree_svg(tree: &Value, title: &str) -> String {
    tree_svg_for(tree, title, 1)
}

pub fn tree_svg_for(tree: &Value, title: &str, positive: usize) -> String {
    let mut nodes = Vec::new();
    let mut next = 0.0;
    place(tree, 0, &mut next, &mut nodes, positive);
    let leaves = next.max(1.0);
    let depth = nodes.iter().map(|n| n.depth).max().unwrap_or(0);
    let col = 150.0;
    let row = 90.0;
    let width = (leaves * col).max(400.0) + 40.0;
    // The title is wrapped to the width (about 7.5 px per character at 14 px).
    let per_line = ((width - 20.0) / 7.5).max(20.0) as usize;
    let mut title_lines: Vec<String> = Vec::new();
    for word in title.split_whitespace() {
        match title_lines.last_mut() {
            Some(l) if l.chars().count() + 1 + word.chars().count() <= per_line => {
                l.push(' ');
                l.push_str(word);
            }
            _ => title_lines.push(word.to_string()),
        }
    }
    let title_height = 18.0 * title_lines.len().max(1) as f64;
    let height = (depth as f64 + 1.0) * row + 42.0 + title_height;
    let desc = format!(
        "Beslisboom met {} bladeren en diepte {depth}. Bij elke splitsing gaat 'ja' naar links. Bladeren tonen het aandeel met de uitkomst en het (beschermde) aantal personen.",
        leaves as usize
    );
    let mut c = Canvas::new(
        width,
        height,
        [22.0 + title_height, 20.0, 20.0, 20.0],
        (0.0, 1.0),
        (0.0, 1.0),
        title,
        &desc,
    );
    for (i, l) in title_lines.iter().enumerate() {
        c.text(width / 2.0, 20.0 + 18.0 * i as f64, "middle", 14.0, l);
    }
    let xy = |n: &Placed| {
        (
            20.0 + (n.x + 0.5) * (width - 40.0) / leaves,
            32.0 + title_height + n.depth as f64 * row,
        )
    };
    for n in &nodes {
        let (x, y) = xy(n);
        for (k, &ch) in n.children.iter().enumerate() {
            let (cx, cy) = xy(&nodes[ch]);
            c.line(x, y + 34.0, cx, cy, "#888888", "", 1.2);
            let label = if k == 0 { "ja" } else { "nee" };
            c.text(
                (x + cx) / 2.0 + if k == 0 { -8.0 } else { 8.0 },
                (y + 34.0 + cy) / 2.0,
                if k == 0 { "end" } else { "start" },
                11.0,
                label,
            );
        }
    }
    for n in &nodes {
        let (x, y) = xy(n);
        // Leaves shaded by their share: light (low) to dark blue (high), with the number as text.
        let fill = match (n.leaf, n.share) {
            (true, Some(s)) => {
                let t = s.clamp(0.0, 1.0);
                let r = (230.0 - 200.0 * t) as u8;
                let g = (240.0 - 126.0 * t) as u8;
                let b = (250.0 - 72.0 * t) as u8;
                format!("#{r:02x}{g:02x}{b:02x}")
            }
            _ => "#f4f4f4".to_string(),
        };
        let ink = if n.leaf && n.share.is_some_and(|s| s > 0.55) {
            "#ffffff"
        } else {
            "#111111"
        };
        // Wide enough for the longest line (about 6.5 px per character at 11 px).
        let chars = n.label.iter().map(|l| l.chars().count()).max().unwrap_or(0) as f64;
        let w = (6.5 * chars + 12.0).clamp(136.0, 280.0);
        c.raw(&format!(
            r##"<rect x="{:.1}" y="{:.1}" width="{w:.1}" height="34" rx="4" fill="{fill}" stroke="#555555"/>"##,
            x - w / 2.0,
            y
        ));
        for (i, line) in n.label.iter().enumerate() {
            c.raw(&format!(
                r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle" font-size="11" fill="{ink}">{}</text>"#,
                y + 14.0 + 13.0 * i as f64,
                esc(line)
            ));
        }
    }
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn draws_every_node_with_escaped_text() {
        let t = json!({"n": 100.0, "share": [0.6, 0.4], "split": {"feature": "a<b", "le": 2.5},
            "left": {"n": 40.0, "share": [0.9, 0.1]}, "right": {"n": 60.0, "share": [0.4, 0.6]}});
        let s = tree_svg(&t, "Boom");
        assert_eq!(s.matches("<rect x=").count(), 3);
        assert!(s.contains("a&lt;b ≤ 2,5"));
        assert!(s.contains("60%"));
    }
}
