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
//!
//! A backchannel ("okay" while the agent talks) starts no reply. Speech the
//! agent asks for after it cut a reply off, with no caller turn between,
//! belongs to that reply when it goes on with the cut words (the agent
//! resumed after a false interruption): the reply then has two segments,
//! and only the heard words of the first count as said.

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
    /// Said only to show the caller is listening: no turn, no barge-in.
    pub backchannel: bool,
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
    /// Caller turns (backchannels aside) started before the agent asked
    /// for this reply.
    pub after_utterances: usize,
    /// Its responses in request order, played or not.
    pub responses: Vec<ResponsePlay>,
    /// Where the reply went on after being cut off: the index of the first
    /// response of each later segment, and how many words of the segment
    /// before it stand (the rest the later segment says again).
    pub resumed_at: Vec<(usize, usize)>,
}

impl Reply {
    fn new(after_utterances: usize, response: ResponsePlay) -> Self {
        Self { after_utterances, responses: vec![response], resumed_at: Vec::new() }
    }

    /// The first response of the last segment.
    fn last_segment(&self) -> usize {
        self.resumed_at.last().map_or(0, |&(response, _)| response)
    }

    fn segment_starts(&self) -> Vec<usize> {
        std::iter::once(0).chain(self.resumed_at.iter().map(|&(response, _)| response)).collect()
    }

    pub fn heard_words(&self) -> Vec<String> {
        self.word_ends().into_iter().filter(|(_, _, heard)| *heard).map(|(w, _, _)| w).collect()
    }

    /// Every word the agent asked to speak in this reply, in order, with
    /// when it ended (or would have) and whether the caller heard it. Of a
    /// segment the agent cut off and went on from, only the words it did
    /// not say again (all of them heard); a word heard and then said again
    /// counts once.
    pub fn word_ends(&self) -> Vec<(String, Option<u64>, bool)> {
        let starts = self.segment_starts();
        let mut words = Vec::new();
        for (k, &start) in starts.iter().enumerate() {
            let end = starts.get(k + 1).copied().unwrap_or(self.responses.len());
            let segment = self.responses[start..end].iter().flat_map(ResponsePlay::word_ends);
            match self.resumed_at.get(k) {
                Some(&(_, stands)) => words.extend(segment.take(stands)),
                None => words.extend(segment),
            }
        }
        words
    }

    /// If `next` goes on with this reply's last segment where the caller
    /// stopped hearing it, how many of the segment's words stand: its first
    /// words must be the segment's words from at or before the first word
    /// not heard (the latest such point).
    fn goes_on_with(&self, next: &ResponsePlay) -> Option<usize> {
        let segment: Vec<(String, Option<u64>, bool)> =
            self.responses[self.last_segment()..].iter().flat_map(ResponsePlay::word_ends).collect();
        let first_unheard = segment.iter().take_while(|(_, _, heard)| *heard).count();
        let next: Vec<String> = next.word_ends().into_iter().map(|(w, _, _)| w).collect();
        (0..=first_unheard.min(segment.len().saturating_sub(1))).rev().find(|&from| {
            let rest = &segment[from..];
            let n = rest.len().min(next.len());
            n > 0 && rest[..n].iter().map(|(w, _, _)| w).eq(next[..n].iter())
        })
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
        if last_played < self.last_segment() {
            // It went on, and nothing of that has played yet.
            return true;
        }
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
        .filter(|u| !u.backchannel)
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
                Event::CallerSpeech { utterance, text, end_us, words, backchannel, .. } => {
                    utterances.push(CallerUtterance {
                        index: *utterance,
                        text: text.clone(),
                        start_us: t_us,
                        end_us: *end_us,
                        words: words.clone(),
                        backchannel: *backchannel,
                    })
                }
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
        let leg = u64::from(network.one_way_ms) * 1000;
        let clears_sent: Vec<u64> = gateway_clears_us.iter().map(|c| c.saturating_sub(leg)).collect();
        // Caller turns started before the last response was asked for: a
        // reply resumed after a caller turn goes on in that later turn, in
        // as many responses as it takes, until a new answer is asked of the
        // LLM (the agent may split one caller utterance into two turns).
        let llm_requests: Vec<u64> = llm.values().map(|&(requested, _)| requested).collect();
        let mut last_after = 0;
        for response in responses.into_values() {
            let after = onsets.iter().filter(|&&onset| onset < response.requested_us).count();
            let Some(reply) = replies.last_mut() else {
                replies.push(Reply::new(after, response));
                last_after = after;
                continue;
            };
            let same_turn = reply.after_utterances == after;
            let previous = reply.responses.last().map_or(0, |r| r.requested_us);
            let cut_since = clears_sent.iter().any(|&c| previous <= c && c <= response.requested_us);
            let llm_since = llm_requests.iter().any(|&r| previous <= r && r <= response.requested_us);
            let goes_on = after == last_after && !llm_since;
            last_after = after;
            if (same_turn || goes_on) && !cut_since {
                reply.responses.push(response);
                continue;
            }
            // After a cut, speech that goes on with the cut words is the reply
            // resumed; after a caller turn too (it answers nothing), unless it
            // starts from the reply's very beginning, which could as well be
            // the same answer given again. (Starting a resumed segment again
            // from its start still goes on with the reply.)
            let resumes = reply
                .goes_on_with(&response)
                .filter(|&stands| same_turn || (reply.cut() && (stands > 0 || !reply.resumed_at.is_empty())));
            match resumes {
                Some(stands) => {
                    reply.resumed_at.push((reply.responses.len(), stands));
                    reply.responses.push(response);
                }
                None => replies.push(Reply::new(after, response)),
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
