//! Word-by-word comparison of what the caller heard with what history holds.

use serde::{Deserialize, Serialize};

use crate::audio::normalise_text;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", content = "word", rename_all = "snake_case")]
pub enum WordDiff {
    Same(String),
    /// In history, never heard by the caller.
    Unheard(String),
    /// Heard by the caller, missing from history.
    Missing(String),
}

/// Normalised words of a text.
pub fn words(text: &str) -> Vec<String> {
    normalise_text(text).split(' ').filter(|w| !w.is_empty()).map(str::to_string).collect()
}

/// Longest-common-subsequence diff of two word lists.
pub fn word_diff(heard: &[String], history: &[String]) -> Vec<WordDiff> {
    let (n, m) = (heard.len(), history.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if heard[i] == history[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n || j < m {
        if i < n && j < m && heard[i] == history[j] {
            out.push(WordDiff::Same(heard[i].clone()));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(WordDiff::Unheard(history[j].clone()));
            j += 1;
        } else {
            out.push(WordDiff::Missing(heard[i].clone()));
            i += 1;
        }
    }
    out
}

/// `heard words [+unheard] [-missing]` in one line.
pub fn render(diff: &[WordDiff]) -> String {
    diff.iter()
        .map(|d| match d {
            WordDiff::Same(w) => w.clone(),
            WordDiff::Unheard(w) => format!("[+{w}]"),
            WordDiff::Missing(w) => format!("[-{w}]"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_words_history_kept_but_the_caller_never_heard() {
        let diff = word_diff(&words("we are open"), &words("We are open from nine to five."));
        assert_eq!(render(&diff), "we are open [+from] [+nine] [+to] [+five]");
        let diff = word_diff(&words("we are open today"), &words("we are today"));
        assert_eq!(render(&diff), "we are [-open] today");
    }
}
