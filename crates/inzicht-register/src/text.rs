//! Plain-Dutch text: numbers, months, lists, and fitting a text into a field's maximum length
//! without cutting a word (or, as a last resort, cutting with "…").

/// A percentage of a share in [0, 1], rounded to a whole number: 0.712 → "71%".
pub(crate) fn pct(x: f64) -> String {
    format!("{}%", pct_int(x))
}

pub(crate) fn pct_int(x: f64) -> i64 {
    (x * 100.0).round() as i64
}

/// A number with two decimals and a decimal comma: 0.7412 → "0,74".
pub(crate) fn dec2(x: f64) -> String {
    format!("{x:.2}").replace('.', ",")
}

/// A count with a thousands point: 12345.0 → "12.345" (rounded to a whole number).
pub(crate) fn count(x: f64) -> String {
    let n = x.round().abs() as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    if x.round() < 0.0 {
        format!("-{out}")
    } else {
        out
    }
}

const MONTHS: [&str; 12] = [
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
];

/// "2012-01" → "januari 2012"; anything else is returned as it is.
pub(crate) fn month(s: &str) -> String {
    let t = s.trim();
    if crate::standard::is_month(t) {
        let idx = t[5..7].parse::<usize>().ok().and_then(|m| m.checked_sub(1));
        if let Some(name) = idx.and_then(|i| MONTHS.get(i)) {
            return format!("{name} {}", &t[..4]);
        }
    }
    t.to_string()
}

/// "januari 2012 tot en met december 2016".
pub(crate) fn period(p: &(String, String)) -> String {
    format!("{} tot en met {}", month(&p.0), month(&p.1))
}

/// "a", "a en b", "a, b en c".
pub(crate) fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [first @ .., last] => format!("{} en {last}", first.join(", ")),
    }
}

/// Shortens `s` to at most `max` characters: whole words only, ending with "…" when anything
/// was left out. A single word longer than `max` is cut with "…".
pub(crate) fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let budget = max - 1; // room for "…"
    let head: String = s.chars().take(budget).collect();
    // The character after the head: if it is a space, the head ends on a whole word.
    let next_is_space = s.chars().nth(budget).is_some_and(char::is_whitespace);
    let cut = if next_is_space {
        head.as_str()
    } else {
        match head.rfind(char::is_whitespace) {
            Some(i) if i > 0 => &head[..i],
            _ => head.as_str(),
        }
    };
    let cut = cut.trim_end_matches(|c: char| c.is_whitespace() || ",;:-–(".contains(c));
    format!("{cut}…")
}

pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

/// A sentence; `essential` sentences are dropped only as a last resort.
#[derive(Debug, Clone)]
pub(crate) struct Sentence {
    pub text: String,
    pub essential: bool,
}

/// A block of a generated field.
#[derive(Debug, Clone)]
pub(crate) enum Block {
    Para(Vec<Sentence>),
    /// A bulleted list; when space runs out it is shortened to its first items plus
    /// "en nog N andere" (at least `min_items` stay).
    List {
        items: Vec<String>,
        min_items: usize,
    },
}

/// Builder of a generated text.
#[derive(Debug, Clone, Default)]
pub(crate) struct Doc {
    blocks: Vec<Block>,
}

impl Doc {
    pub fn new() -> Self {
        Doc::default()
    }

    /// Starts a new paragraph.
    pub fn para(&mut self) -> &mut Self {
        self.blocks.push(Block::Para(Vec::new()));
        self
    }

    fn push_sentence(&mut self, text: String, essential: bool) {
        if text.trim().is_empty() {
            return;
        }
        if !matches!(self.blocks.last(), Some(Block::Para(_))) {
            self.blocks.push(Block::Para(Vec::new()));
        }
        if let Some(Block::Para(v)) = self.blocks.last_mut() {
            v.push(Sentence { text, essential });
        }
    }

    /// A sentence that must stay.
    pub fn must(&mut self, text: impl Into<String>) -> &mut Self {
        self.push_sentence(text.into(), true);
        self
    }

    /// A sentence that may be dropped when space runs out (the last ones go first).
    pub fn may(&mut self, text: impl Into<String>) -> &mut Self {
        self.push_sentence(text.into(), false);
        self
    }

    pub fn list(&mut self, items: Vec<String>, min_items: usize) -> &mut Self {
        if !items.is_empty() {
            self.blocks.push(Block::List { items, min_items });
        }
        self
    }

    pub fn render(&self, html: bool) -> String {
        let mut parts: Vec<String> = Vec::new();
        for b in &self.blocks {
            match b {
                Block::Para(s) => {
                    if s.is_empty() {
                        continue;
                    }
                    let text = s
                        .iter()
                        .map(|x| x.text.trim())
                        .collect::<Vec<_>>()
                        .join(" ");
                    parts.push(if html {
                        format!("<p>{}</p>", escape_html(&text))
                    } else {
                        text
                    });
                }
                Block::List { items, .. } => {
                    if html {
                        let li: String = items
                            .iter()
                            .map(|i| format!("<li>{}</li>", escape_html(i)))
                            .collect();
                        parts.push(format!("<ul>{li}</ul>"));
                    } else {
                        parts.push(
                            items
                                .iter()
                                .map(|i| format!("- {i}"))
                                .collect::<Vec<_>>()
                                .join("\n"),
                        );
                    }
                }
            }
        }
        parts.join(if html { "" } else { "\n\n" })
    }

    /// Renders within `max` characters: first lists are shortened, then optional sentences
    /// are dropped from the end, then lists, then essential sentences from the end; if even the
    /// first sentence is too long, the plain text is shortened with "…".
    pub fn fit(&self, max: Option<usize>, html: bool) -> String {
        let Some(max) = max else {
            return self.render(html);
        };
        let fits = |d: &Doc| d.render(html).chars().count() <= max;
        let mut d = self.clone();
        if fits(&d) {
            return d.render(html);
        }
        // 1. Shorten lists by halving, down to their minimum.
        loop {
            let mut changed = false;
            for b in d.blocks.iter_mut() {
                if let Block::List { items, min_items } = b {
                    let shown = items.iter().filter(|i| !i.starts_with("en nog ")).count();
                    let keep = (shown / 2).max(*min_items);
                    if keep < shown {
                        let total = original_len(items);
                        items.truncate(keep);
                        items.push(format!("en nog {} andere", total - keep));
                        changed = true;
                    }
                }
            }
            if fits(&d) {
                return d.render(html);
            }
            if !changed {
                break;
            }
        }
        // 2. Drop optional sentences, last first.
        while let Some((bi, si)) = last_sentence(&d, false) {
            remove_sentence(&mut d, bi, si);
            if fits(&d) {
                return d.render(html);
            }
        }
        // 3. Drop lists, last first.
        while let Some(bi) = d
            .blocks
            .iter()
            .rposition(|b| matches!(b, Block::List { .. }))
        {
            d.blocks.remove(bi);
            if fits(&d) {
                return d.render(html);
            }
        }
        // 4. Drop essential sentences, last first, keeping at least one.
        while count_sentences(&d) > 1 {
            let Some((bi, si)) = last_sentence(&d, true) else {
                break;
            };
            remove_sentence(&mut d, bi, si);
            if fits(&d) {
                return d.render(html);
            }
        }
        // 5. Shorten the plain text (escaped again for an HTML field, so that a "<" in a
        //    feature name cannot become a tag).
        let plain = d.render(false).replace('\n', " ");
        if !html {
            return shorten(&plain, max);
        }
        let mut m = max;
        loop {
            let t = escape_html(&shorten(&plain, m));
            let n = t.chars().count();
            if n <= max || m == 0 {
                return t;
            }
            m = m.saturating_sub(n - max);
        }
    }
}

/// Number of items a (possibly already shortened) list stood for.
fn original_len(items: &[String]) -> usize {
    let shown = items.iter().filter(|i| !i.starts_with("en nog ")).count();
    let hidden: usize = items
        .iter()
        .filter_map(|i| {
            i.strip_prefix("en nog ")
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse::<usize>().ok())
        })
        .sum();
    shown + hidden
}

fn last_sentence(d: &Doc, essential: bool) -> Option<(usize, usize)> {
    for (bi, b) in d.blocks.iter().enumerate().rev() {
        if let Block::Para(s) = b {
            if let Some(si) = s.iter().rposition(|x| x.essential == essential) {
                return Some((bi, si));
            }
        }
    }
    None
}

fn remove_sentence(d: &mut Doc, bi: usize, si: usize) {
    if let Some(Block::Para(s)) = d.blocks.get_mut(bi) {
        if si < s.len() {
            s.remove(si);
        }
    }
}

fn count_sentences(d: &Doc) -> usize {
    d.blocks
        .iter()
        .map(|b| match b {
            Block::Para(s) => s.len(),
            Block::List { .. } => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_dutch() {
        assert_eq!(pct(0.712), "71%");
        assert_eq!(pct(0.666), "67%");
        assert_eq!(dec2(0.7412), "0,74");
        assert_eq!(count(12345.4), "12.345");
        assert_eq!(count(999.0), "999");
        assert_eq!(count(1_000_000.0), "1.000.000");
        assert_eq!(month("2012-01"), "januari 2012");
        assert_eq!(month("2016-12"), "december 2016");
        assert_eq!(month("eind 2016"), "eind 2016");
        assert_eq!(join_and(&["a".into(), "b".into(), "c".into()]), "a, b en c");
    }

    #[test]
    fn shorten_keeps_whole_words() {
        assert_eq!(shorten("kort", 10), "kort");
        let s = shorten("Dit is een zin die te lang is voor het veld.", 20);
        assert!(s.chars().count() <= 20);
        assert_eq!(s, "Dit is een zin die…");
        assert_eq!(shorten("Eenheelllangwoord", 6), "Eenhe…");
        assert_eq!(shorten("aaaa bbbb", 5), "aaaa…");
    }

    #[test]
    fn fit_drops_optional_first_and_never_exceeds() {
        let mut d = Doc::new();
        d.para()
            .must("Eerste zin.")
            .may("Tweede zin die mag vervallen.");
        d.list((0..50).map(|i| format!("kenmerk {i}")).collect(), 3);
        d.para().must("Slotzin.");
        let full = d.fit(None, true);
        assert!(full.contains("kenmerk 49"));
        for max in [20usize, 60, 120, 200, 400, 800] {
            let t = d.fit(Some(max), true);
            assert!(t.chars().count() <= max, "{max}: {t}");
        }
        let t = d.fit(Some(200), true);
        assert!(t.contains("en nog "));
        assert!(t.contains("Eerste zin."));
    }
}
