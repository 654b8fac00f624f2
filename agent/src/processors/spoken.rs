//! What the agent last set out to say, kept so that a reply the caller cut
//! off by a false interruption (a cough, a door, "mm-hm" or "okay" while
//! the agent talks) can go on from the first word they did not hear.

use crate::frame::UtteranceId;

/// Said while the agent talks, these keep the floor with the agent: they
/// acknowledge, they do not take a turn.
const BACKCHANNELS: &[&str] = &[
    "okay", "ok", "yeah", "yep", "yes", "uh huh", "mm hm", "mhm", "mm", "hmm", "right", "sure", "alright", "i see",
    "got it",
];

/// Is `text` (a transcript) nothing but a backchannel, or nothing at all?
pub(super) fn no_turn(text: &str) -> bool {
    let words: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == '-')
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase())
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        return true;
    }
    let joined = words.join(" ");
    // "okay okay", "yeah yeah yeah" are still one backchannel.
    BACKCHANNELS.iter().any(|b| joined == *b || joined.split(' ').all(|w| w == *b))
}

/// One reply as the responder wrote it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Spoken {
    pub utterance: UtteranceId,
    /// Every piece of text written for it, including text the LLM went on
    /// writing while the caller was cutting in.
    pub text: String,
    /// All of it is written.
    pub done: bool,
    pub end_call: bool,
    /// Cut off after the caller heard this many words.
    pub cut_after: Option<usize>,
}

impl Spoken {
    pub fn new(utterance: UtteranceId) -> Self {
        Self { utterance, text: String::new(), done: false, end_call: false, cut_after: None }
    }

    /// The text from the first word the caller did not hear, if the reply
    /// was cut off with words unheard (or still to be written).
    pub fn unheard(&self) -> Option<String> {
        let heard = self.cut_after?;
        let words: Vec<&str> = self.text.split_whitespace().collect();
        if heard >= words.len() && self.done {
            return None;
        }
        let mut rest = words.get(heard..).unwrap_or_default().join(" ");
        // A word the LLM is still writing goes on without a space.
        if !rest.is_empty() && self.text.ends_with(char::is_whitespace) {
            rest.push(' ');
        }
        Some(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backchannels_and_silence_take_no_turn_and_words_do() {
        for text in ["", "  ", "Okay.", "mm-hm", "Uh-huh!", "yeah yeah", "I see", "Mhm"] {
            assert!(no_turn(text), "{text:?}");
        }
        for text in ["okay wait", "no", "stop", "yeah but what about Saturday", "what"] {
            assert!(!no_turn(text), "{text:?}");
        }
    }

    #[test]
    fn the_unheard_rest_starts_at_the_first_word_not_heard() {
        let mut spoken = Spoken::new(UtteranceId(3));
        spoken.text = "We are open from nine to five.".into();
        assert_eq!(spoken.unheard(), None, "not cut");
        spoken.cut_after = Some(3);
        assert_eq!(spoken.unheard(), Some("from nine to five.".into()), "still being written: the rest so far");
        spoken.done = true;
        assert_eq!(spoken.unheard(), Some("from nine to five.".into()));
        spoken.cut_after = Some(7);
        assert_eq!(spoken.unheard(), None, "heard to the end");
        spoken.done = false;
        spoken.text = "We are open from ".into();
        spoken.cut_after = Some(2);
        assert_eq!(spoken.unheard(), Some("open from ".into()));
    }
}
