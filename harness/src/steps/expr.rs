//! Step patterns are Cucumber expressions, parsed and turned into regular
//! expressions by the `cucumber-expressions` crate, so alternation
//! (`has/speaks`), optional text (`a(n)`) and the built-in parameter types
//! `{string}`, `{int}`, `{float}` and `{word}` behave as in every other
//! Cucumber. This file only turns the captures into typed arguments.

#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Str(String),
    Int(i64),
    Float(f64),
    Word(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Str,
    Int,
    Float,
    Word,
}

#[derive(Debug, Clone)]
pub struct Expression {
    source: &'static str,
    regex: regex::Regex,
    kinds: Vec<Kind>,
}

/// The parameters of a pattern, in order (an escaped `\{` is text).
fn parameters(source: &str) -> Vec<Kind> {
    let mut kinds = Vec::new();
    let mut chars = source.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '{' => {
                let close = source[i..].find('}').map(|c| i + c).expect("unclosed parameter in step pattern");
                kinds.push(match &source[i + 1..close] {
                    "string" => Kind::Str,
                    "int" => Kind::Int,
                    "float" => Kind::Float,
                    "word" => Kind::Word,
                    other => panic!("unknown parameter type {{{other}}} in step pattern {source:?}"),
                });
            }
            _ => {}
        }
    }
    kinds
}

/// A quoted string's content with its escapes (`\"`, `\'`, `\\`) undone.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            other => out.push(other),
        }
    }
    out
}

impl Expression {
    /// Panics on a pattern that is not a Cucumber expression: patterns are
    /// written in code, and a test binds every one.
    pub fn parse(source: &'static str) -> Self {
        let regex = cucumber_expressions::Expression::regex(source)
            .unwrap_or_else(|error| panic!("step pattern {source:?} is not a Cucumber expression: {error}"));
        Self { source, regex, kinds: parameters(source) }
    }

    pub fn source(&self) -> &'static str {
        self.source
    }

    /// The arguments, when the whole text matches.
    pub fn matches(&self, text: &str) -> Option<Vec<Arg>> {
        let captures = self.regex.captures(text)?;
        // A {string} is two groups (double or single quotes); the others one.
        let mut groups = captures.iter().skip(1).map(|m| m.map(|m| m.as_str()));
        let mut args = Vec::with_capacity(self.kinds.len());
        for kind in &self.kinds {
            args.push(match kind {
                Kind::Str => {
                    let (double, single) = (groups.next()?, groups.next()?);
                    Arg::Str(unescape(double.or(single)?))
                }
                Kind::Int => Arg::Int(groups.next()??.parse().ok()?),
                Kind::Float => Arg::Float(groups.next()??.parse().ok()?),
                Kind::Word => Arg::Word(groups.next()??.to_string()),
            });
        }
        Some(args)
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
        assert_eq!(e.matches("the LLM takes 4.5 ms to the first token"), None, "an int is not a float");
        let e = Expression::parse("the caller has a {word} accent");
        assert_eq!(e.matches("the caller has a Scottish accent"), Some(vec![Arg::Word("Scottish".into())]));
    }

    #[test]
    fn alternation_optional_text_and_single_quotes_work_as_in_cucumber() {
        let e = Expression::parse("the caller has/uses a(n) {word} accent");
        for text in ["the caller has a Scottish accent", "the caller uses an Irish accent"] {
            assert!(e.matches(text).is_some(), "{text}");
        }
        assert_eq!(e.matches("the caller sings a Welsh accent"), None);
        let e = Expression::parse("the caller says {string} then {int} and {string}");
        assert_eq!(
            e.matches("the caller says 'it\\'s me' then -3 and \"ok\""),
            Some(vec![Arg::Str("it's me".into()), Arg::Int(-3), Arg::Str("ok".into())])
        );
        let e = Expression::parse("a literal \\{brace} and {int}");
        assert_eq!(e.matches("a literal {brace} and 7"), Some(vec![Arg::Int(7)]));
    }
}
