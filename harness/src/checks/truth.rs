//! Ground truth, from the caller's side of the record and the doubles'
//! records: what the caller said and when, which TTS responses the agent
//! asked for and when, and which of their samples the caller played.
//!
//! A reply is every TTS response the agent asked for after the same number
//! of caller utterances had started (the greeting is asked for before the
//! caller says anything). Grouping by when the speech was *requested*, not
//! by when it began to play, keeps a reply whole when the caller starts
//! talking on the very tick one of its chunks starts playing. A word was
//! heard when its last sample was played.

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

/// A run of one response's samples `[from, to)` the caller played.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlayedSpan {
    pub start_us: u64,
    pub end_us: u64,
    pub from: usize,
    pub to: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResponsePlay {
    pub request: usize,
    /// When the agent asked the TTS double for this speech.
    pub requested_us: u64,
    pub text: String,
    pub words: Vec<WordTiming>,
    pub sample_rate: u32,
    /// Length of the response, samples.
    pub samples: usize,
    /// What the caller played of it, in playback order.
    pub spans: Vec<PlayedSpan>,
}

impl ResponsePlay {
    /// Samples played from the start of the response.
    pub fn played_to(&self) -> usize {
        self.spans.iter().map(|s| s.to).max().unwrap_or(0)
    }

    pub fn played(&self) -> bool {
        !self.spans.is_empty()
    }

    /// Some of it was played, but not all.
    pub fn cut(&self) -> bool {
        self.played() && self.played_to() < self.samples
    }

    pub fn first_us(&self) -> Option<u64> {
        self.spans.first().map(|s| s.start_us)
    }

    pub fn last_us(&self) -> Option<u64> {
        self.spans.iter().map(|s| s.end_us).max()
    }

    /// When sample `sample` (exclusive end) finished playing, if it did.
    fn played_at(&self, sample: usize) -> Option<u64> {
        let span = self.spans.iter().find(|s| s.from < sample && sample <= s.to)?;
        Some(span.start_us + ((sample - span.from) as u64 * 1_000_000) / u64::from(self.sample_rate.max(1)))
    }

    /// Every word with the time its last sample played; for a word never
    /// played, the time it would have ended had playback gone on from the
    /// cut without a break (`None` if the response never played at all).
    pub fn word_ends(&self) -> Vec<(String, Option<u64>, bool)> {
        let played_to = self.played_to();
        let cut_at = self.last_us();
        self.words
            .iter()
            .flat_map(|w| {
                let (end, heard) = if w.end <= played_to {
                    (self.played_at(w.end), true)
                } else {
                    let rate = u64::from(self.sample_rate.max(1));
                    (cut_at.map(|c| c + ((w.end - played_to) as u64 * 1_000_000) / rate), false)
                };
                super::diff::words(&w.text).into_iter().map(move |text| (text, end, heard))
            })
            .collect()
    }

    pub fn heard_words(&self) -> Vec<String> {
        self.word_ends().into_iter().filter(|(_, _, heard)| *heard).map(|(w, _, _)| w).collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// Caller utterances started before the agent asked for this reply.
    pub after_utterances: usize,
    /// Its responses in request order, played or not.
    pub responses: Vec<ResponsePlay>,
}

impl Reply {
    pub fn heard_words(&self) -> Vec<String> {
        self.responses.iter().flat_map(ResponsePlay::heard_words).collect()
    }

    /// Every word the agent asked to speak in this reply, in order, with
    /// when it ended (or would have) and whether the caller heard it.
    pub fn word_ends(&self) -> Vec<(String, Option<u64>, bool)> {
        self.responses.iter().flat_map(ResponsePlay::word_ends).collect()
    }

    pub fn spans(&self) -> impl Iterator<Item = &PlayedSpan> {
        self.responses.iter().flat_map(|r| r.spans.iter())
    }

    pub fn played(&self) -> bool {
        self.responses.iter().any(ResponsePlay::played)
    }

    /// The first sample the caller heard of this reply.
    pub fn first_us(&self) -> Option<u64> {
        self.spans().map(|s| s.start_us).min()
    }

    pub fn last_us(&self) -> Option<u64> {
        self.spans().map(|s| s.end_us).max()
    }

    /// Playback stopped before the end of what the agent asked to say.
    pub fn cut(&self) -> bool {
        let Some(last_played) = self.responses.iter().rposition(ResponsePlay::played) else { return false };
        self.responses[last_played].cut() || last_played + 1 < self.responses.len()
    }

    pub fn requested_us(&self) -> u64 {
        self.responses.first().map_or(0, |r| r.requested_us)
    }
}

/// When the agent could first have acted on each utterance: one uplink
/// after the caller began; or, for speech the agent cut a reply for, when
/// it sent that `clear` (responses asked for before then were still the
/// reply it was giving: it had not yet told the caller's speech from noise).
fn agent_onsets(utterances: &[CallerUtterance], gateway_clears_us: &[u64], network: &crate::line::Network) -> Vec<u64> {
    let (uplink, leg) = (network.uplink_us(), u64::from(network.one_way_ms) * 1000);
    utterances
        .iter()
        .map(|u| {
            let (from, to) = (u.start_us + uplink, u.end_us + uplink);
            gateway_clears_us
                .iter()
                .map(|c| c.saturating_sub(leg))
                .find(|&sent| from <= sent && sent <= to)
                .unwrap_or(from)
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct CallTruth {
    pub utterances: Vec<CallerUtterance>,
    pub replies: Vec<Reply>,
    /// Every played span of every response, by start time.
    pub playback: Vec<PlayedSpan>,
    /// Times the agent's `clear` reached the caller's ear: when the gateway
    /// dropped its queue, plus the downlink's playout buffer.
    pub clears_us: Vec<u64>,
    /// When the call ended.
    pub end_us: u64,
    /// LLM streams as (request time, end time if it ended).
    pub llm_streams: Vec<(u64, Option<u64>)>,
}

impl CallTruth {
    pub fn from_record(record: &CallRecord) -> Self {
        let mut utterances = Vec::new();
        let mut responses: BTreeMap<usize, ResponsePlay> = BTreeMap::new();
        let mut clears_us = Vec::new();
        let mut gateway_clears_us = Vec::new();
        let mut end_us = 0;
        let mut llm: BTreeMap<usize, (u64, Option<u64>)> = BTreeMap::new();
        // Old records (before the network model) have no network: an ideal line.
        let mut network = crate::line::Network::ideal();
        for (t_us, event) in record.events() {
            end_us = end_us.max(t_us);
            match event {
                Event::CallStarted { network: n, .. } => network = *n,
                Event::CallerSpeech { utterance, text, end_us, words, .. } => utterances.push(CallerUtterance {
                    index: *utterance,
                    text: text.clone(),
                    start_us: t_us,
                    end_us: *end_us,
                    words: words.clone(),
                }),
                Event::TtsRequest { request, text, words, sample_rate, samples, .. } => {
                    responses.insert(
                        *request,
                        ResponsePlay {
                            request: *request,
                            requested_us: t_us,
                            text: text.clone(),
                            words: words.clone(),
                            sample_rate: *sample_rate,
                            samples: *samples,
                            spans: Vec::new(),
                        },
                    );
                }
                Event::AgentAudioPlayed { tts_request, from, to, end_us } => {
                    if let Some(response) = responses.get_mut(tts_request) {
                        response.spans.push(PlayedSpan { start_us: t_us, end_us: *end_us, from: *from, to: *to });
                    }
                }
                Event::ClearReceived { .. } => {
                    gateway_clears_us.push(t_us);
                    clears_us.push(t_us + u64::from(network.jitter_buffer_ms) * 1000);
                }
                Event::LlmRequest { request, .. } => {
                    llm.insert(*request, (t_us, None));
                }
                Event::LlmDone { request, .. } | Event::LlmError { request, .. } => {
                    if let Some(stream) = llm.get_mut(request) {
                        stream.1 = Some(t_us);
                    }
                }
                _ => {}
            }
        }
        utterances.sort_by_key(|u| u.start_us);
        let mut playback: Vec<PlayedSpan> = responses.values().flat_map(|r| r.spans.iter().copied()).collect();
        playback.sort_by_key(|s| (s.start_us, s.end_us));
        let mut replies: Vec<Reply> = Vec::new();
        let onsets = agent_onsets(&utterances, &gateway_clears_us, &network);
        for response in responses.into_values() {
            let after = onsets.iter().filter(|&&onset| onset < response.requested_us).count();
            match replies.last_mut() {
                Some(reply) if reply.after_utterances == after => reply.responses.push(response),
                _ => replies.push(Reply { after_utterances: after, responses: vec![response] }),
            }
        }
        Self { utterances, replies, playback, clears_us, end_us, llm_streams: llm.into_values().collect() }
    }

    /// The reply playing when `t_us` came: one with a span covering it, or
    /// one that had started and had more to play (an underrun).
    pub fn reply_playing_at(&self, t_us: u64) -> Option<usize> {
        self.replies.iter().position(|r| r.spans().any(|s| s.start_us <= t_us && t_us < s.end_us)).or_else(|| {
            self.replies.iter().position(|r| {
                r.first_us().is_some_and(|f| f <= t_us) && r.last_us().is_some_and(|l| t_us < l) && r.played()
            })
        })
    }

    /// The end of the agent's talking from `from_us` on: the last sample of
    /// playback that runs on from that moment with no silence longer than
    /// `bridge_us`, counting only audio that began before `until_us`.
    pub fn talking_until(&self, from_us: u64, bridge_us: u64, until_us: u64) -> u64 {
        let mut end = from_us;
        for span in &self.playback {
            if span.end_us <= end {
                continue;
            }
            if span.start_us > end + bridge_us || span.start_us >= until_us.max(from_us + 1) {
                break;
            }
            end = span.end_us;
        }
        end
    }

    /// Was an LLM stream under way at `t_us`?
    pub fn llm_streaming_at(&self, t_us: u64) -> bool {
        self.llm_streams.iter().any(|&(start, end)| start <= t_us && end.is_none_or(|e| e >= t_us))
    }

    /// The caller utterance being spoken at `t_us`, widened by `after_us`
    /// past its end.
    pub fn utterance_at(&self, t_us: u64, after_us: u64) -> Option<&CallerUtterance> {
        self.utterances.iter().find(|u| u.start_us <= t_us && t_us <= u.end_us + after_us)
    }
}
