//! The `--where` grammar of `inzicht table` (docs/table.md):
//!
//! ```text
//! expr       := or
//! or         := and (("or" | "of") and)*
//! and        := unary (("and" | "en") unary)*
//! unary      := ("not" | "niet") unary | "(" expr ")" | comparison
//! comparison := NAME op VALUE
//!             | NAME ["not" | "niet"] "in" "(" VALUE ("," VALUE)* ")"
//!             | NAME "is" ["not" | "niet"] ("missing" | "onbekend")
//! op         := "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="
//! VALUE      := 'text' | "text" | a bare word (letters, digits, - _ . :)
//! ```
//!
//! Names are the canonical dimension names (or their Dutch aliases); values are checked
//! against the dimension's type (number, month YYYY-MM, text, list). The result is SQL with
//! every value quoted as a literal: user text never reaches the database as SQL.

use crate::literal;

/// How a dimension compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DimKind {
    Text,
    Number,
    /// YYYY-MM text, ordered.
    Month,
    /// A list column (active provision groups): `=`, `!=`, `in` test membership.
    List,
}

/// What the parser needs to know about a name.
pub trait Resolve {
    /// The canonical name, SQL expression and kind of a name or alias.
    fn resolve(&self, name: &str) -> Option<(String, String, DimKind)>;
    /// Every canonical name, for the error message.
    fn names(&self) -> Vec<String>;
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Op(String),
    LParen,
    RParen,
    Comma,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FilterError {
    pub position: usize,
    pub message: String,
}

impl std::fmt::Display for FilterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--where, position {}: {}",
            self.position + 1,
            self.message
        )
    }
}

fn err<T>(position: usize, message: impl Into<String>) -> Result<T, FilterError> {
    Err(FilterError {
        position,
        message: message.into(),
    })
}

fn tokenize(text: &str) -> Result<Vec<(usize, Tok)>, FilterError> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push((pos, Tok::LParen));
                i += 1
            }
            ')' => {
                out.push((pos, Tok::RParen));
                i += 1
            }
            ',' => {
                out.push((pos, Tok::Comma));
                i += 1
            }
            '\'' | '"' => {
                let quote = c;
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return err(pos, "a quoted value is not closed"),
                        Some((_, ch)) if *ch == quote => {
                            // A doubled quote stands for the quote itself.
                            if chars.get(i + 1).map(|x| x.1) == Some(quote) {
                                s.push(quote);
                                i += 2;
                            } else {
                                i += 1;
                                break;
                            }
                        }
                        Some((_, ch)) => {
                            s.push(*ch);
                            i += 1
                        }
                    }
                }
                out.push((pos, Tok::Quoted(s)));
            }
            '=' | '!' | '<' | '>' => {
                let next = chars.get(i + 1).map(|x| x.1);
                let op = match (c, next) {
                    ('=', Some('=')) | ('!', Some('=')) | ('<', Some('=')) | ('>', Some('=')) => {
                        i += 2;
                        format!("{c}=")
                    }
                    ('<', Some('>')) => {
                        i += 2;
                        "!=".into()
                    }
                    ('!', _) => return err(pos, "'!' must be followed by '=' (use != or not)"),
                    _ => {
                        i += 1;
                        c.to_string()
                    }
                };
                out.push((pos, Tok::Op(if op == "==" { "=".into() } else { op })));
            }
            c if c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '+') => {
                let mut s = String::new();
                while let Some((_, ch)) = chars.get(i) {
                    if ch.is_alphanumeric() || matches!(ch, '_' | '-' | '.' | ':' | '+') {
                        s.push(*ch);
                        i += 1;
                    } else {
                        break;
                    }
                }
                out.push((pos, Tok::Word(s)));
            }
            other => return err(pos, format!("unexpected character '{other}'")),
        }
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<(usize, Tok)>,
    at: usize,
    end: usize,
    names: &'a dyn Resolve,
    /// Canonical names used, in order of first use.
    pub used: Vec<String>,
}

fn keyword(t: &Tok, words: &[&str]) -> bool {
    matches!(t, Tok::Word(w) if words.iter().any(|k| w.eq_ignore_ascii_case(k)))
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|t| &t.1)
    }
    fn pos(&self) -> usize {
        self.toks.get(self.at).map_or(self.end, |t| t.0)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).map(|t| t.1.clone());
        self.at += 1;
        t
    }

    fn or(&mut self) -> Result<String, FilterError> {
        let mut parts = vec![self.and()?];
        while self.peek().is_some_and(|t| keyword(t, &["or", "of"])) {
            self.next();
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            format!("({})", parts.join(" OR "))
        })
    }

    fn and(&mut self) -> Result<String, FilterError> {
        let mut parts = vec![self.unary()?];
        while self.peek().is_some_and(|t| keyword(t, &["and", "en"])) {
            self.next();
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            format!("({})", parts.join(" AND "))
        })
    }

    fn unary(&mut self) -> Result<String, FilterError> {
        match self.peek() {
            Some(t) if keyword(t, &["not", "niet"]) => {
                self.next();
                // NOT of a comparison with a missing value is "unknown" in SQL; a filter treats
                // unknown as false, so `not (x = 1)` also leaves out rows where x is missing.
                Ok(format!("(NOT coalesce({}, false))", self.unary()?))
            }
            Some(Tok::LParen) => {
                self.next();
                let inner = self.or()?;
                match self.next() {
                    Some(Tok::RParen) => Ok(inner),
                    _ => err(self.pos(), "a '(' is not closed with ')'"),
                }
            }
            Some(_) => self.comparison(),
            None => err(self.pos(), "the expression ends too early"),
        }
    }

    fn value(&mut self, name: &str, kind: DimKind) -> Result<String, FilterError> {
        let pos = self.pos();
        let text = match self.next() {
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => w,
            _ => return err(pos, format!("a value for {name} is expected here")),
        };
        match kind {
            DimKind::Number => match text.replace(',', ".").parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(format!("{v}")),
                _ => err(pos, format!("{name} is a number; '{text}' is not")),
            },
            DimKind::Month => match inzicht_domain::Month::parse(&text) {
                // Months are compared as the first day of the month (the panel's DATE column).
                Some(m) => Ok(format!("DATE {}", literal(&m.first_day().iso()))),
                None => err(pos, format!("{name} is a month YYYY-MM; '{text}' is not")),
            },
            DimKind::Text | DimKind::List => Ok(literal(&text)),
        }
    }

    fn comparison(&mut self) -> Result<String, FilterError> {
        let pos = self.pos();
        let name = match self.next() {
            Some(Tok::Word(w)) => w,
            _ => return err(pos, "a variable name is expected here"),
        };
        let Some((canonical, sql, kind)) = self.names.resolve(&name) else {
            return err(
                pos,
                format!(
                    "unknown variable '{name}'; known: {} (inzicht table --list)",
                    self.names.names().join(", ")
                ),
            );
        };
        if !self.used.contains(&canonical) {
            self.used.push(canonical.clone());
        }
        let op_pos = self.pos();
        match self.next() {
            Some(Tok::Op(op)) => {
                let v = self.value(&canonical, kind)?;
                if kind == DimKind::List {
                    return match op.as_str() {
                        "=" => Ok(format!("list_contains(coalesce({sql}, []), {v})")),
                        "!=" => Ok(format!("NOT list_contains(coalesce({sql}, []), {v})")),
                        _ => err(
                            op_pos,
                            format!("{canonical} holds several values: use =, != or in"),
                        ),
                    };
                }
                let op = if op == "!=" { "<>" } else { op.as_str() };
                Ok(format!("({sql} {op} {v})"))
            }
            Some(t) if keyword(&t, &["is"]) => {
                let negate = self.peek().is_some_and(|t| keyword(t, &["not", "niet"]));
                if negate {
                    self.next();
                }
                let p = self.pos();
                match self.next() {
                    Some(t) if keyword(&t, &["missing", "onbekend"]) => {
                        let test = if kind == DimKind::List {
                            format!("(len(coalesce({sql}, [])) = 0)")
                        } else {
                            format!("({sql} IS NULL)")
                        };
                        Ok(if negate { format!("(NOT {test})") } else { test })
                    }
                    _ => err(p, "after 'is' comes 'missing' (or 'not missing')"),
                }
            }
            Some(t) if keyword(&t, &["in", "not", "niet"]) => {
                let negate = !keyword(&t, &["in"]);
                if negate {
                    let p = self.pos();
                    match self.next() {
                        Some(t) if keyword(&t, &["in"]) => {}
                        _ => return err(p, "'not' here must be followed by 'in'"),
                    }
                }
                let p = self.pos();
                if self.next() != Some(Tok::LParen) {
                    return err(p, "'in' is followed by a list in parentheses: in (a, b)");
                }
                let mut values = vec![self.value(&canonical, kind)?];
                loop {
                    let p = self.pos();
                    match self.next() {
                        Some(Tok::Comma) => values.push(self.value(&canonical, kind)?),
                        Some(Tok::RParen) => break,
                        _ => return err(p, "expected ',' or ')' in the list"),
                    }
                }
                let test = if kind == DimKind::List {
                    format!(
                        "list_has_any(coalesce({sql}, []), [{}])",
                        values.join(", ")
                    )
                } else {
                    format!("({sql} IN ({}))", values.join(", "))
                };
                Ok(if negate {
                    format!("(NOT coalesce({test}, false))")
                } else {
                    test
                })
            }
            _ => err(
                op_pos,
                format!("after {canonical} comes a comparison (=, !=, <, <=, >, >=), 'in (…)' or 'is missing'"),
            ),
        }
    }
}

/// Parses a filter into SQL; returns the SQL and the canonical names it uses.
pub fn parse(text: &str, names: &dyn Resolve) -> Result<(String, Vec<String>), FilterError> {
    let toks = tokenize(text)?;
    if toks.is_empty() {
        return err(0, "the filter is empty");
    }
    let mut p = Parser {
        toks,
        at: 0,
        end: text.len(),
        names,
        used: Vec::new(),
    };
    let sql = p.or()?;
    if p.at < p.toks.len() {
        return err(
            p.pos(),
            "unexpected text after the end of the expression (missing 'and' / 'or'?)",
        );
    }
    Ok((sql, p.used))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Names;
    impl Resolve for Names {
        fn resolve(&self, name: &str) -> Option<(String, String, DimKind)> {
            match name.to_lowercase().as_str() {
                "age" | "leeftijd" => Some(("age".into(), "p.age".into(), DimKind::Number)),
                "wijk" => Some(("wijk".into(), "p.wijk_code".into(), DimKind::Text)),
                "month" => Some(("month".into(), "m".into(), DimKind::Month)),
                "provision_group" => Some(("provision_group".into(), "g".into(), DimKind::List)),
                _ => None,
            }
        }
        fn names(&self) -> Vec<String> {
            vec!["age".into(), "wijk".into()]
        }
    }

    #[test]
    fn parses_the_grammar() {
        let (sql, used) = parse(
            "leeftijd >= 27 en (wijk = W01 of wijk in ('W02', \"W0'3\")) and not month < 2020-01",
            &Names,
        )
        .unwrap();
        assert_eq!(used, vec!["age", "wijk", "month"]);
        assert!(sql.contains("(p.age >= 27)"), "{sql}");
        assert!(sql.contains("p.wijk_code IN ('W02', 'W0''3')"), "{sql}");
        assert!(sql.contains("(m < DATE '2020-01-01')"), "{sql}");
        let (sql, _) = parse("provision_group = G3 and wijk is not missing", &Names).unwrap();
        assert!(
            sql.contains("list_contains(coalesce(g, []), 'G3')"),
            "{sql}"
        );
        assert!(sql.contains("(NOT (p.wijk_code IS NULL))"), "{sql}");
    }

    #[test]
    fn errors_name_the_position_and_what_to_do() {
        let e = parse("lengte > 3", &Names).unwrap_err();
        assert_eq!(e.position, 0);
        assert!(e.message.contains("unknown variable 'lengte'"));
        let e = parse("age > dertig", &Names).unwrap_err();
        assert!(e.to_string().contains("position 7"), "{e}");
        assert!(parse("age > 3 wijk = W01", &Names).is_err());
        assert!(parse("(age > 3", &Names).is_err());
        assert!(parse("wijk = 'W01", &Names).is_err());
        assert!(parse("month = 2020-13", &Names).is_err());
        assert!(parse("provision_group < G3", &Names).is_err());
        assert!(parse("age ; drop table x", &Names).is_err());
        assert!(parse("", &Names).is_err());
    }
}
