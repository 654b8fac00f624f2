//! Ground truth, from the caller's side of the record: what the caller
//! said and when, and which agent words it heard, grouped into replies.
//!
//! A reply is every TTS response whose audio began playing after the same
//! caller utterance started (the greeting is reply 0). A word was heard
//! when its last sample was played.

use std::collections::BTreeMap;

use voicegate_agent::services::WordTiming;

use crate::record::{CallRecord, Event, TimedWord};

#[derive(Debug, Clone, PartialEq)]
pub struct CallerUtterance {
    pub index: usize,
    pub text: String,
    pub start_us: u64,
    /// End of the last word.
    pub end_us: u64,
    pub words: Vec<TimedWord>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResponsePlay {
    pub request: usize,
    pub text: String,
    pub words: Vec<WordTiming>,
    pub sample_rate: u32,
    /// Samples played from the start of the response.
    pub played_to: usize,
    pub first_us: u64,
    pub last_us: u64,
}

impl ResponsePlay {
    pub fn heard_words(&self) -> Vec<String> {
        let heard: Vec<&str> = self.words.iter().filter(|w| w.end <= self.played_to).map(|w| w.text.as_str()).collect();
        super::diff::words(&heard.join(" "))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// Caller utterances started before this reply began playing.
    pub after_utterances: usize,
    pub responses: Vec<ResponsePlay>,
}

impl Reply {
    pub fn heard_words(&self) -> Vec<String> {
        self.responses.iter().flat_map(ResponsePlay::heard_words).collect()
    }

    pub fn first_us(&self) -> u64 {
        self.responses.first().map_or(0, |r| r.first_us)
    }

    pub fn last_us(&self) -> u64 {
        self.responses.iter().map(|r| r.last_us).max().unwrap_or(0)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CallTruth {
    pub utterances: Vec<CallerUtterance>,
    pub replies: Vec<Reply>,
}

impl CallTruth {
    pub fn from_record(record: &CallRecord) -> Self {
        let mut utterances = Vec::new();
        let mut requests: BTreeMap<usize, (String, Vec<WordTiming>, u32)> = BTreeMap::new();
        let mut plays: BTreeMap<usize, ResponsePlay> = BTreeMap::new();
        for (t_us, event) in record.events() {
            match event {
                Event::CallerSpeech { utterance, text, end_us, words, .. } => utterances.push(CallerUtterance {
                    index: *utterance,
                    text: text.clone(),
                    start_us: t_us,
                    end_us: *end_us,
                    words: words.clone(),
                }),
                Event::TtsRequest { request, text, words, sample_rate, .. } => {
                    requests.insert(*request, (text.clone(), words.clone(), *sample_rate));
                }
                Event::AgentAudioPlayed { tts_request, to, end_us, .. } => {
                    let Some((text, words, rate)) = requests.get(tts_request) else { continue };
                    let play = plays.entry(*tts_request).or_insert_with(|| ResponsePlay {
                        request: *tts_request,
                        text: text.clone(),
                        words: words.clone(),
                        sample_rate: *rate,
                        played_to: 0,
                        first_us: t_us,
                        last_us: *end_us,
                    });
                    play.played_to = play.played_to.max(*to);
                    play.last_us = play.last_us.max(*end_us);
                }
                _ => {}
            }
        }
        utterances.sort_by_key(|u| u.start_us);
        let mut plays: Vec<ResponsePlay> = plays.into_values().collect();
        plays.sort_by_key(|p| (p.first_us, p.request));
        let mut replies: Vec<Reply> = Vec::new();
        for play in plays {
            let after = utterances.iter().filter(|u| u.start_us <= play.first_us).count();
            match replies.last_mut() {
                Some(reply) if reply.after_utterances == after => reply.responses.push(play),
                _ => replies.push(Reply { after_utterances: after, responses: vec![play] }),
            }
        }
        Self { utterances, replies }
    }

    /// The index of the reply that was playing when `t_us` came, if any.
    pub fn reply_playing_at(&self, t_us: u64) -> Option<usize> {
        self.replies.iter().position(|r| r.first_us() <= t_us && t_us < r.last_us())
    }
}
