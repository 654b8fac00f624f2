//! One call, start to finish, on its own current-thread runtime with a
//! paused clock: a 30 s call runs in milliseconds, and the same plan and
//! seed give the same call record byte for byte.

use std::sync::Arc;

use tokio::sync::mpsc;
use voicegate_agent::Session;
use voicegate_agent::config::{AgentDefinition, EffectiveConfig, merge};
use voicegate_agent::control::NewSession;
use voicegate_agent::services::Services;
use voicegate_agent::telemetry::{SessionId, TenantId, TraceId};
use voicegate_agent::transport::CallTransport;

use super::attribution::attribute;
use super::caller::Caller;
use super::plan::{CallPlan, CallerAction, Pause};
use crate::audio::{AudioError, Corpus, CorpusWord, LINE_RATE, resample, to_f32, to_i16};
use crate::doubles::{AligningStt, ScriptedLlm, Stem, TtsDouble};
use crate::record::{CallClock, CallRecord, Event, Recorder, samples_to_us};
use crate::seed::{Rng, digest_samples};

/// Played agent audio between two clears: (timeline position, samples) runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlayedStretch {
    pub runs: Vec<(usize, Vec<i16>)>,
}

/// Everything one call produced.
#[derive(Debug, Clone)]
pub struct CallOutcome {
    pub record: CallRecord,
    /// What the caller sent (the agent's input), at [`LINE_RATE`].
    pub caller_audio: Vec<i16>,
    /// What the caller heard, on the same timeline.
    pub agent_audio: Vec<i16>,
    pub sample_rate: u32,
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

/// Render one utterance for this call: its corpus recording at the line
/// rate, with the caller's pauses inserted after the named words.
pub fn render_stem(
    corpus: &Corpus,
    text: &str,
    accent: &str,
    variant: &str,
    pauses: &[Pause],
) -> Result<Stem, CallError> {
    let utterance = corpus.utterance(text, accent, variant)?;
    let (mut samples, mut words) = if utterance.sample_rate == LINE_RATE {
        (utterance.samples.to_vec(), utterance.words.clone())
    } else {
        let scale = |x: usize| (x as u64 * u64::from(LINE_RATE) / u64::from(utterance.sample_rate)) as usize;
        let samples = to_i16(&resample(&to_f32(&utterance.samples), utterance.sample_rate, LINE_RATE)?);
        let words = utterance
            .words
            .iter()
            .map(|w| CorpusWord { text: w.text.clone(), start: scale(w.start), end: scale(w.end) })
            .collect();
        (samples, words)
    };
    for pause in pauses {
        let wanted = crate::audio::normalise_text(&pause.after_word);
        let index = words
            .iter()
            .position(|w| w.text == wanted)
            .ok_or_else(|| CallError::PauseWord { word: pause.after_word.clone(), text: text.into() })?;
        let at = words[index].end;
        let gap = (u64::from(pause.ms) * u64::from(LINE_RATE) / 1000) as usize;
        samples.splice(at..at, std::iter::repeat_n(0, gap));
        for word in &mut words[index + 1..] {
            word.start += gap;
            word.end += gap;
        }
    }
    Ok(Stem { text: utterance.text, samples, sample_rate: LINE_RATE, words })
}

/// The settings the call runs with: the session's (a tenant's merged
/// config) or the built-in agent's, with the plan's agent options applied.
pub fn agent_config(plan: &CallPlan, session: Option<&NewSession>) -> EffectiveConfig {
    let mut config = match session {
        Some(session) => (*session.config).clone(),
        None => merge(Arc::new(AgentDefinition::reference()), None).expect("the built-in definition merges"),
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
                stems.push(render_stem(corpus, text, &plan.accent, &plan.variant, pauses)?)
            }
            CallerAction::Interrupt { text, .. } => {
                stems.push(render_stem(corpus, text, &plan.accent, &plan.variant, &[])?)
            }
            CallerAction::Silence { .. } | CallerAction::HangUp => {}
        }
    }
    let stems = Arc::new(stems);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(CallError::Runtime)?;
    Ok(runtime.block_on(call(plan, stems, session)))
}

async fn call(plan: &CallPlan, stems: Arc<Vec<Stem>>, session: Option<&NewSession>) -> CallOutcome {
    let recorder = Recorder::default();
    let clock = CallClock::start();
    let seed = plan.seed;
    recorder.push(
        0,
        Event::CallStarted {
            scenario: plan.scenario.clone(),
            seed,
            accent: plan.accent.clone(),
            variant: plan.variant.clone(),
            sample_rate: LINE_RATE,
        },
    );
    let stt = AligningStt::new(stems.clone(), plan.stt_latency, Rng::derive(seed, "stt"), recorder.clone(), clock);
    let llm = ScriptedLlm::new(plan.llm.clone(), Rng::derive(seed, "llm"), recorder.clone(), clock);
    let tts = TtsDouble::new(plan.tts_first_audio, Rng::derive(seed, "tts"), recorder.clone(), clock);
    let responses = tts.responses();
    let services = Services { stt: Arc::new(stt), llm: Arc::new(llm), tts: Arc::new(tts) };

    let config = Arc::new(agent_config(plan, session));
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
    let (to_agent, inbound) = mpsc::unbounded_channel();
    let (outbound, from_agent) = mpsc::unbounded_channel();
    let session = Session::with_ids(config, trace_id, session_id, tenant, services)
        .observe(events_tx)
        .interrupt_history(plan.agent.interrupt_history);
    let agent = tokio::spawn(session.run(CallTransport { inbound, outbound }));

    let noise_sigma = 32768.0 * 10f64.powf(plan.noise_floor_dbfs / 20.0);
    let caller = Caller {
        script: plan.script.iter().cloned().collect(),
        stems,
        noise_sigma,
        rng: Rng::derive(seed, "caller-noise"),
        to_agent,
        from_agent,
        responses: responses.clone(),
        recorder: recorder.clone(),
        clock,
        max_samples: (plan.max_call_ms * u64::from(LINE_RATE) / 1000) as usize,
    };
    let result = caller.run().await;
    let history = match agent.await {
        Ok(outcome) => outcome.history,
        Err(error) => {
            recorder
                .push(clock.now_us(), Event::ScriptNote { message: format!("the agent's session failed: {error}") });
            Vec::new()
        }
    };
    while let Ok(event) = events_rx.try_recv() {
        recorder.push(event.at_us, Event::Agent(event));
    }

    let responses = responses.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let (pieces, unattributed) = attribute(&result.stretches, &responses);
    for piece in pieces {
        recorder.push(
            samples_to_us(piece.at, LINE_RATE),
            Event::AgentAudioPlayed {
                tts_request: responses[piece.response].request,
                from: piece.from,
                to: piece.to,
                end_us: samples_to_us(piece.at + (piece.to - piece.from), LINE_RATE),
            },
        );
    }
    for (at, samples) in unattributed {
        recorder.push(
            samples_to_us(at, LINE_RATE),
            Event::UnattributedAgentAudio { samples, end_us: samples_to_us(at + samples, LINE_RATE) },
        );
    }
    let mut agent_audio = result.heard;
    agent_audio.resize(result.sent.len().max(agent_audio.len()), 0);
    let end = clock.now_us();
    recorder.push(
        end,
        Event::CallEnded {
            reason: result.end_reason,
            heard_digest: digest_samples(&agent_audio),
            sent_digest: digest_samples(&result.sent),
        },
    );
    recorder.push(end, Event::History { messages: history });
    CallOutcome { record: recorder.finish(), caller_audio: result.sent, agent_audio, sample_rate: LINE_RATE }
}
