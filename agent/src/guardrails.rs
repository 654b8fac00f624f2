//! PII redaction (the `guardrails.redact_pii` setting): e-mail addresses
//! and long numbers — written in digits or spoken as digit words, as a
//! recogniser returns them — are masked in persisted history and logs.

const SPOKEN_DIGITS: [&str; 11] =
    ["zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
/// Card, account and phone numbers are at least this many digits.
const MIN_DIGITS: usize = 7;

fn digits_in(word: &str) -> Option<usize> {
    let bare = word.trim_matches(|c: char| !c.is_alphanumeric());
    if SPOKEN_DIGITS.contains(&bare.to_lowercase().as_str()) {
        return Some(1);
    }
    let digits = bare.chars().filter(char::is_ascii_digit).count();
    (digits > 0 && bare.chars().all(|c| c.is_ascii_digit() || c == '-')).then_some(digits)
}

/// Mask e-mail addresses and runs of words that spell at least seven digits.
pub fn redact_pii(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let word = words[i];
        if word.contains('@') && word.split('@').nth(1).is_some_and(|domain| domain.contains('.')) {
            out.push("[email]".into());
            i += 1;
            continue;
        }
        let mut j = i;
        let mut digits = 0;
        while let Some(n) = words.get(j).and_then(|w| digits_in(w)) {
            digits += n;
            j += 1;
        }
        if digits >= MIN_DIGITS {
            out.push("[number]".into());
            i = j;
        } else {
            out.push(word.to_string());
            i += 1;
        }
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_emails_and_long_numbers_spoken_or_written() {
        assert_eq!(
            redact_pii("my card number is four one one one two two two two thanks"),
            "my card number is [number] thanks"
        );
        assert_eq!(redact_pii("call 555-123-4567 or mail jo@example.com"), "call [number] or mail [email]");
        assert_eq!(
            redact_pii("my order number is a one two three"),
            "my order number is a one two three",
            "short numbers stay"
        );
        assert_eq!(redact_pii("open from nine to five"), "open from nine to five");
    }
}
