//! A small subset of Cucumber expressions: literal text with `{string}`
//! (double-quoted), `{int}`, `{float}` and `{word}` parameters.

#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Str(String),
    Int(i64),
    Float(f64),
    Word(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Literal(String),
    Param(Kind),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Str,
    Int,
    Float,
    Word,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expression {
    source: &'static str,
    parts: Vec<Part>,
}

impl Expression {
    /// Panics on an unknown parameter type: patterns are written in code.
    pub fn parse(source: &'static str) -> Self {
        let mut parts = Vec::new();
        let mut rest = source;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_string()));
            }
            let close = rest[open..].find('}').map(|c| open + c).expect("unclosed parameter in step pattern");
            let kind = match &rest[open + 1..close] {
                "string" => Kind::Str,
                "int" => Kind::Int,
                "float" => Kind::Float,
                "word" => Kind::Word,
                other => panic!("unknown parameter type {{{other}}} in step pattern {source:?}"),
            };
            parts.push(Part::Param(kind));
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        Self { source, parts }
    }

    pub fn source(&self) -> &'static str {
        self.source
    }

    /// The arguments, when the whole text matches.
    pub fn matches(&self, text: &str) -> Option<Vec<Arg>> {
        let mut args = Vec::new();
        let mut rest = text;
        for part in &self.parts {
            match part {
                Part::Literal(literal) => rest = rest.strip_prefix(literal.as_str())?,
                Part::Param(kind) => {
                    let (arg, len) = take_param(*kind, rest)?;
                    args.push(arg);
                    rest = &rest[len..];
                }
            }
        }
        rest.is_empty().then_some(args)
    }
}

fn take_param(kind: Kind, text: &str) -> Option<(Arg, usize)> {
    match kind {
        Kind::Str => {
            let body = text.strip_prefix('"')?;
            let mut value = String::new();
            let mut chars = body.char_indices();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => value.push(chars.next()?.1),
                    '"' => return Some((Arg::Str(value), i + 2)),
                    other => value.push(other),
                }
            }
            None
        }
        Kind::Int | Kind::Float => {
            let len = text
                .char_indices()
                .take_while(|&(i, c)| c.is_ascii_digit() || (i == 0 && c == '-') || (kind == Kind::Float && c == '.'))
                .count();
            let number = &text[..len];
            let arg = if kind == Kind::Int { Arg::Int(number.parse().ok()?) } else { Arg::Float(number.parse().ok()?) };
            Some((arg, len))
        }
        Kind::Word => {
            let len = text.find(char::is_whitespace).unwrap_or(text.len());
            (len > 0).then(|| (Arg::Word(text[..len].to_string()), len))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_whole_steps_and_extracts_typed_arguments() {
        let e = Expression::parse("the caller interrupts {float} seconds into the agent's reply saying {string}");
        assert_eq!(
            e.matches("the caller interrupts 1.2 seconds into the agent's reply saying \"wait, \\\"stop\\\"\""),
            Some(vec![Arg::Float(1.2), Arg::Str("wait, \"stop\"".into())])
        );
        assert_eq!(e.matches("the caller interrupts soon saying \"x\""), None);
        let e = Expression::parse("the LLM takes {int} ms to the first token");
        assert_eq!(e.matches("the LLM takes 400 ms to the first token"), Some(vec![Arg::Int(400)]));
        assert_eq!(e.matches("the LLM takes 400 ms to the first token!"), None, "trailing text does not match");
        let e = Expression::parse("the caller has a {word} accent");
        assert_eq!(e.matches("the caller has a Scottish accent"), Some(vec![Arg::Word("Scottish".into())]));
    }
}
