//! Tag expressions, as in Cucumber (`@a and not (@b or @c)`), parsed by the
//! `gherkin` crate's own grammar; this file only evaluates them.

use gherkin::tagexpr::TagOperation;

#[derive(Debug, Clone)]
pub struct TagExpr(TagOperation);

impl TagExpr {
    pub fn parse(text: &str) -> Result<Self, String> {
        text.parse::<TagOperation>().map(Self).map_err(|error| {
            format!(
                "tag expression {text:?}: {error} (expected tags such as @barge-in joined by and, or, not and parentheses)"
            )
        })
    }

    /// `tags` without the leading `@`.
    pub fn matches(&self, tags: &[String]) -> bool {
        fn eval(op: &TagOperation, tags: &[String]) -> bool {
            match op {
                TagOperation::Tag(tag) => tags.iter().any(|t| t == tag.trim_start_matches('@')),
                TagOperation::Not(e) => !eval(e, tags),
                TagOperation::And(a, b) => eval(a, tags) && eval(b, tags),
                TagOperation::Or(a, b) => eval(a, tags) || eval(b, tags),
            }
        }
        eval(&self.0, tags)
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
        let e = TagExpr::parse("@barge-in and not @slow").expect("hyphenated tags");
        assert!(e.matches(&tags(&["barge-in"])));
        let error = TagExpr::parse("@a and").expect_err("incomplete");
        assert!(error.contains("tag expression \"@a and\""), "{error}");
        assert!(TagExpr::parse("@foo not @bar").is_err());
        assert!(TagExpr::parse("barge-in").is_err(), "a tag starts with @");
    }
}
