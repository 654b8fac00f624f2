//! One call, start to finish, on its own current-thread runtime with a
//! paused clock: a 30 s call runs in milliseconds, and the same plan and
//! seed give the same call record byte for byte.

use std::sync::Arc;

use tokio::sync::mpsc;
use voicegate_agent::Session;
use voicegate_agent::config::{EffectiveConfig, merge};
use voicegate_agent::control::NewSession;
use voicegate_agent::services::{Services, ToolService};
use voicegate_agent::telemetry::{SessionId, TenantId, TraceId};

use super::attribution::attribute;
use super::caller::Caller;
use super::plan::{CallPlan, CallerAction, Pause};
use crate::audio::render::{MicRenderer, Rendering, line_utterance, prepare_speech};
use crate::audio::{AudioError, Corpus, CorpusWord, LINE_RATE, cough, to_i16};
use crate::doubles::{
    AligningStt, Busy, RecognitionErrors, ScriptedLlm, SharedConditions, Stem, ToolDouble, TtsDouble,
};
use crate::faults::{CallerTimeline, Fault, around_llm, around_transport, keep_generated_reply};
use crate::line::Downlink;
use crate::record::{CallClock, CallRecord, Entry, Event, Recorder, samples_to_us};
use crate::seed::{Rng, digest_samples};

/// Played agent audio between two clears, as the agent sent it at `rate`:
/// (timeline position where the caller heard it, samples) runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlayedStretch {
    pub runs: Vec<(usize, Vec<i16>)>,
    pub rate: u32,
    /// What the agent had sent after the played runs when its `clear`
    /// dropped it (at `rate`): never heard, but it tells which responses
    /// the agent had begun, so identical audio sent again after the clear
    /// is a later response, not the cut one.
    pub dropped: Vec<i16>,
}

/// Everything one call produced.
#[derive(Debug, Clone)]
pub struct CallOutcome {
    pub record: CallRecord,
    /// What the caller sent (the agent's input), at `caller_rate`.
    pub caller_audio: Vec<i16>,
    pub caller_rate: u32,
    /// What the caller heard, at `sample_rate` ([`LINE_RATE`]).
    pub agent_audio: Vec<i16>,
    pub sample_rate: u32,
    /// The history the agent handed over for persistence (masked when its
    /// overlay asks); the record holds the conversation as the agent kept it.
    pub persisted_history: Vec<voicegate_agent::services::ChatMessage>,
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error("could not start the call's runtime: {0}")]
    Runtime(std::io::Error),
    #[error("pause after {word:?}: the utterance {text:?} has no such word")]
    PauseWord { word: String, text: String },
}

/// The raw playback: every stretch the caller heard without a break, as
/// (timeline position, length on the timeline).
fn played_runs(stretches: &[PlayedStretch]) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for stretch in stretches {
        for (at, samples) in &stretch.runs {
            let length = (samples.len() as u64 * u64::from(LINE_RATE) / u64::from(stretch.rate.max(1))) as usize;
            match runs.last_mut() {
                Some((start, run)) if *start + *run == *at => *run += length,
                _ => runs.push((*at, length)),
            }
        }
    }
    runs
}

/// The corpus recording of `text` at the line rate, sped and levelled as
/// `rendering` says.
fn line_speech(
    corpus: &Corpus,
    text: &str,
    accent: &str,
    variant: &str,
    rendering: &Rendering,
) -> Result<(String, Vec<f32>, Vec<CorpusWord>), CallError> {
    let (text, samples, words) = line_utterance(corpus, text, accent, variant)?;
    let (samples, words) = prepare_speech(&samples, &words, rendering)?;
    Ok((text, samples, words))
}

/// The phrase whose first word is the caller's "um".
const FILLER_PHRASE: &str = "um I am not sure";

/// Render one utterance for this call: its corpus recording at the line
/// rate, sped and levelled, with the caller's pauses (silent, or starting
/// with an "um" for a hesitation) inserted after the named words.
pub fn render_stem(
    corpus: &Corpus,
    text: &str,
    accent: &str,
    variant: &str,
    pauses: &[Pause],
    rendering: &Rendering,
) -> Result<Stem, CallError> {
    let (text_spoken, mut samples, mut words) = line_speech(corpus, text, accent, variant, rendering)?;
    for pause in pauses {
        let wanted = crate::audio::normalise_text(&pause.after_word);
        let index = words
            .iter()
            .position(|w| w.text == wanted)
            .ok_or_else(|| CallError::PauseWord { word: pause.after_word.clone(), text: text.into() })?;
        let at = words[index].end;
        let gap = (u64::from(pause.ms) * u64::from(LINE_RATE) / 1000) as usize;
        let mut inserted = vec![0.0f32; gap];
        if pause.filled {
            let (_, filler, filler_words) = line_speech(corpus, FILLER_PHRASE, accent, variant, rendering)?;
            let um = &filler[..filler_words[0].end.min(gap)];
            inserted[..um.len()].copy_from_slice(um);
        }
        samples.splice(at..at, inserted);
        for word in &mut words[index + 1..] {
            word.start += gap;
            word.end += gap;
        }
    }
    Ok(Stem { text: text_spoken, samples: to_i16(&samples), sample_rate: LINE_RATE, words })
}

/// The settings the call runs with: the session's (a tenant's merged
/// config) or the built-in agent's, with the plan's agent options applied.
pub fn agent_config(plan: &CallPlan, session: Option<&NewSession>) -> EffectiveConfig {
    let mut config = match session {
        Some(session) => (*session.config).clone(),
        None => merge(plan.agent.definition(), None).expect("a released definition merges with no overlay"),
    };
    if let Some(ms) = plan.agent.end_of_turn_ms {
        config.settings.vad.end_of_turn_ms = ms;
    }
    if let Some(ms) = plan.agent.no_input_ms {
        config.settings.prompts.no_input_ms = ms;
    }
    config
}

/// Run the call the plan describes against the in-process reference agent,
/// as `session` (created by the control plane) if given.
pub fn run_call(plan: &CallPlan, corpus: &Corpus, session: Option<&NewSession>) -> Result<CallOutcome, CallError> {
    let mut stems = Vec::new();
    for action in &plan.script {
        match action {
            CallerAction::Say { text, pauses } => {
                stems.push(render_stem(corpus, text, &plan.accent, &plan.variant, pauses, &plan.rendering)?)
            }
            CallerAction::Interrupt { text, backchannel: true, .. } if text.is_empty() => {
                let mut rng = Rng::derive(plan.seed, &format!("cough-{}", stems.len()));
                let samples = to_i16(&cough(&plan.rendering, &mut rng));
                stems.push(Stem { text: String::new(), samples, sample_rate: LINE_RATE, words: Vec::new() })
            }
            CallerAction::Interrupt { text, .. } => {
                stems.push(render_stem(corpus, text, &plan.accent, &plan.variant, &[], &plan.rendering)?)
            }
            CallerAction::Silence { .. } | CallerAction::HangUp => {}
        }
    }
    let stems = Arc::new(stems);
    let renderer = MicRenderer::new(&plan.rendering, &plan.network, plan.seed, corpus, (&plan.accent, &plan.variant))?;
    let downlink = Downlink::new(&plan.network, plan.rendering.phone, plan.seed)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(CallError::Runtime)?;
    Ok(runtime.block_on(call(plan, stems, renderer, downlink, session)))
}

async fn call(
    plan: &CallPlan,
    stems: Arc<Vec<Stem>>,
    renderer: MicRenderer,
    downlink: Downlink,
    session: Option<&NewSession>,
) -> CallOutcome {
    let recorder = Recorder::default();
    let clock = CallClock::start();
    let seed = plan.seed;
    let config = Arc::new(agent_config(plan, session));
    let prompts = &config.settings.prompts;
    recorder.push(
        0,
        Event::CallStarted {
            scenario: plan.scenario.clone(),
            seed,
            accent: plan.accent.clone(),
            variant: plan.variant.clone(),
            sample_rate: plan.rendering.rate(),
            rendering: plan.rendering.clone(),
            budgets: plan.budgets,
            round_trip_us: plan.network.round_trip_us(),
            network: plan.network,
            tool_allowlist: plan.tool_allowlist.clone(),
            fallback_prompts: vec![prompts.llm_error.clone(), prompts.cannot_do.clone()],
            reprompt: Some(prompts.reprompt.clone()),
            goal: plan.goal.clone().map(Box::new),
        },
    );
    let conditions = SharedConditions::default();
    let stt = AligningStt::new(
        stems.clone(),
        RecognitionErrors {
            accent: plan.accent.clone(),
            background: plan.rendering.noise.map(|n| n.background),
            conditions: conditions.clone(),
        },
        plan.stt_latency,
        Rng::derive(seed, "stt"),
        recorder.clone(),
        clock,
    );
    let busy = Busy::default();
    let llm =
        ScriptedLlm::new(plan.llm.clone(), Rng::derive(seed, "llm"), recorder.clone(), clock).with_busy(busy.clone());
    let tts =
        TtsDouble::new(plan.tts_first_audio, Rng::derive(seed, "tts"), recorder.clone(), clock).with_busy(busy.clone());
    let responses = tts.responses();
    let tools: Arc<dyn ToolService> =
        Arc::new(ToolDouble::new(plan.tools.clone(), Rng::derive(seed, "tools"), recorder.clone(), clock));
    let llm = around_llm(plan.agent.fault, Arc::new(llm), tools.clone());
    let services = Services { stt: Arc::new(stt), llm, tts: Arc::new(tts), tools };

    let mut id_rng = Rng::derive(seed, "ids");
    let (trace_id, session_id) = match session {
        Some(s) => (TraceId::new(s.record.trace_id.clone()), s.record.session_id.clone()),
        None => (
            TraceId::new(format!("{:016x}{:016x}", id_rng.next_u64(), id_rng.next_u64())),
            SessionId::new(format!("session-{:016x}", id_rng.next_u64())),
        ),
    };
    let tenant = TenantId::new(plan.tenant.clone().unwrap_or_else(|| "default".into()));
    let (events_tx, mut events_rx) = mpsc::unbounded_channel();
    let (line, transport) = crate::line::in_process(&plan.network);
    let timeline = CallerTimeline::default();
    let utterances = plan.phrases().len();
    let transport = around_transport(plan.agent.fault, transport, timeline.clone(), utterances);
    let session = Session::with_ids(config, trace_id, session_id, tenant, services).observe(events_tx);
    let agent = tokio::spawn(session.run(transport));
    let line_samples = |ms: u64| (ms * u64::from(LINE_RATE) / 1000) as usize;

    let caller = Caller {
        script: plan.script.iter().cloned().collect(),
        actions: plan.script.len(),
        stems,
        renderer,
        conditions,
        line,
        downlink,
        timeline,
        ear_delay: line_samples(u64::from(plan.network.jitter_buffer_ms)),
        uplink_delay: line_samples(plan.network.uplink_us() / 1000),
        responses: responses.clone(),
        busy,
        recorder: recorder.clone(),
        clock,
        max_samples: (plan.max_call_ms * u64::from(LINE_RATE) / 1000) as usize,
    };
    let result = caller.run().await;
    let (history, persisted_history) = match agent.await {
        Ok(outcome) => (outcome.conversation, outcome.history),
        Err(error) => {
            recorder
                .push(clock.now_us(), Event::ScriptNote { message: format!("the agent's session failed: {error}") });
            (Vec::new(), Vec::new())
        }
    };
    while let Ok(event) = events_rx.try_recv() {
        recorder.push(event.at_us, Event::Agent(event));
    }

    let responses = responses.lock().unwrap_or_else(|p| p.into_inner()).clone();
    for (at, samples) in played_runs(&result.stretches) {
        recorder.push(
            samples_to_us(at, LINE_RATE),
            Event::Played { samples, end_us: samples_to_us(at + samples, LINE_RATE) },
        );
    }
    let (pieces, unattributed) = attribute(&result.stretches, &responses);
    for piece in pieces {
        recorder.push(
            samples_to_us(piece.at, LINE_RATE),
            Event::AgentAudioPlayed {
                tts_request: responses[piece.response].request,
                from: piece.from,
                to: piece.to,
                end_us: samples_to_us(piece.at, LINE_RATE)
                    + samples_to_us(piece.to - piece.from, responses[piece.response].sample_rate),
            },
        );
    }
    for (at, samples) in unattributed {
        recorder.push(
            samples_to_us(at, LINE_RATE),
            Event::UnattributedAgentAudio { samples, end_us: samples_to_us(at + samples, LINE_RATE) },
        );
    }
    recorder.push(
        clock.now_us(),
        Event::PacketsConcealed { uplink: result.uplink_fate.clone(), downlink: result.downlink_fate.clone() },
    );
    let mut agent_audio = result.heard;
    agent_audio.resize(result.line_samples.max(agent_audio.len()), 0);
    let end = clock.now_us();
    recorder.push(
        end,
        Event::CallEnded {
            reason: result.end_reason,
            heard_digest: digest_samples(&agent_audio),
            sent_digest: digest_samples(&result.wire),
        },
    );
    let mut record = recorder.finish();
    let history = match plan.agent.fault {
        Some(Fault::KeepGeneratedReply) => keep_generated_reply(history, &record),
        _ => history,
    };
    record.entries.push(Entry { t_us: end, event: Event::History { messages: history } });
    CallOutcome {
        record,
        caller_audio: result.wire,
        caller_rate: plan.rendering.rate(),
        agent_audio,
        sample_rate: LINE_RATE,
        persisted_history,
    }
}
