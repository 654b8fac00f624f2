//! Tag expressions, as in Cucumber: `@a and not (@b or @c)`.

#[derive(Debug, Clone, PartialEq)]
pub enum TagExpr {
    Tag(String),
    Not(Box<TagExpr>),
    And(Box<TagExpr>, Box<TagExpr>),
    Or(Box<TagExpr>, Box<TagExpr>),
}

impl TagExpr {
    pub fn parse(text: &str) -> Result<Self, String> {
        let tokens = tokenize(text)?;
        let mut pos = 0;
        let expr = parse_or(&tokens, &mut pos)?;
        if pos != tokens.len() {
            return Err(format!("tag expression {text:?}: unexpected {:?}", tokens[pos]));
        }
        Ok(expr)
    }

    /// `tags` without the leading `@`.
    pub fn matches(&self, tags: &[String]) -> bool {
        match self {
            TagExpr::Tag(tag) => tags.iter().any(|t| t == tag),
            TagExpr::Not(e) => !e.matches(tags),
            TagExpr::And(a, b) => a.matches(tags) && b.matches(tags),
            TagExpr::Or(a, b) => a.matches(tags) || b.matches(tags),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<String>, String> {
    let mut tokens = Vec::new();
    for word in text.replace('(', " ( ").replace(')', " ) ").split_whitespace() {
        match word {
            "(" | ")" | "and" | "or" | "not" => tokens.push(word.to_string()),
            tag if tag.starts_with('@') && tag.len() > 1 => tokens.push(tag.to_string()),
            other => return Err(format!("tag expression {text:?}: {other:?} is not a tag (tags start with @)")),
        }
    }
    Ok(tokens)
}

fn parse_or(tokens: &[String], pos: &mut usize) -> Result<TagExpr, String> {
    let mut left = parse_and(tokens, pos)?;
    while tokens.get(*pos).is_some_and(|t| t == "or") {
        *pos += 1;
        left = TagExpr::Or(Box::new(left), Box::new(parse_and(tokens, pos)?));
    }
    Ok(left)
}

fn parse_and(tokens: &[String], pos: &mut usize) -> Result<TagExpr, String> {
    let mut left = parse_not(tokens, pos)?;
    while tokens.get(*pos).is_some_and(|t| t == "and") {
        *pos += 1;
        left = TagExpr::And(Box::new(left), Box::new(parse_not(tokens, pos)?));
    }
    Ok(left)
}

fn parse_not(tokens: &[String], pos: &mut usize) -> Result<TagExpr, String> {
    match tokens.get(*pos).map(String::as_str) {
        Some("not") => {
            *pos += 1;
            Ok(TagExpr::Not(Box::new(parse_not(tokens, pos)?)))
        }
        Some("(") => {
            *pos += 1;
            let inner = parse_or(tokens, pos)?;
            if tokens.get(*pos).map(String::as_str) != Some(")") {
                return Err("tag expression: missing )".into());
            }
            *pos += 1;
            Ok(inner)
        }
        Some(tag) if tag.starts_with('@') => {
            *pos += 1;
            Ok(TagExpr::Tag(tag[1..].to_string()))
        }
        other => Err(format!("tag expression: expected a tag, `not` or `(`, found {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        let e = TagExpr::parse("@a or @b and not @c").expect("parses");
        assert!(e.matches(&tags(&["a", "c"])));
        assert!(e.matches(&tags(&["b"])));
        assert!(!e.matches(&tags(&["b", "c"])));
        let e = TagExpr::parse("(@a or @b) and not @c").expect("parses");
        assert!(!e.matches(&tags(&["a", "c"])));
        assert!(TagExpr::parse("@a and").is_err());
        assert!(TagExpr::parse("barge-in").is_err());
    }
}
