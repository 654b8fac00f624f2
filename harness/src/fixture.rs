//! Fixtures: one call saved so that it replays bit for bit.
//!
//! A fixture folder holds `caller.wav` (what the agent was sent),
//! `agent.wav` (what the caller heard), `events.jsonl` (the call record)
//! and `manifest.json`: the scenario's steps, the seeds, the agent and
//! overlay versions, the ground truth words and timings, every rendering
//! parameter, digests of the three files and the verdict. Replaying reruns
//! the scenario from the manifest and compares verdict, record and audio.
//!
//! Promoted fixtures live under `audio-fixtures/regressions/NAME/`; every
//! run replays them against the agent as it is now, and each must pass.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::audio::render::Rendering;
use crate::audio::{Corpus, read_wav, write_wav};
use crate::driver::AgentOptions;
use crate::faults::Fault;
use crate::record::{CallRecord, Event, TimedWord};
use crate::scenario::{RunOptions, Scenario, ScenarioResult, Status, StepStatus, replay_scenario};
use crate::seed::{digest_samples, fnv1a};
use crate::steps::CompletedCall;

pub const FIXTURE_SCHEMA: u32 = 1;
pub const MANIFEST: &str = "manifest.json";
const CALLER_WAV: &str = "caller.wav";
const AGENT_WAV: &str = "agent.wav";
const EVENTS: &str = "events.jsonl";

#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("{path}: does not match the manifest: {message}")]
    Mismatch { path: String, message: String },
    /// The fixture's scenario cannot run, or an argument is invalid.
    #[error("{0}")]
    Invalid(String),
}

fn file_error(path: &Path, message: impl std::fmt::Display) -> FixtureError {
    FixtureError::File { path: path.display().to_string(), message: message.to_string() }
}

/// One audio file of the fixture, as the manifest describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioFile {
    pub file: String,
    pub sample_rate: u32,
    pub samples: usize,
    pub digest: String,
}

/// Whether the scenario passed, and every reason it did not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verdict {
    pub status: Status,
    pub failures: Vec<String>,
}

impl Verdict {
    pub fn of(result: &ScenarioResult) -> Self {
        let mut failures: Vec<String> = result
            .steps
            .iter()
            .filter(|s| matches!(s.status, StepStatus::Failed | StepStatus::Error))
            .map(|s| format!("{} {} (line {}): {}", s.keyword, s.text, s.line, s.message.as_deref().unwrap_or("")))
            .collect();
        failures.extend(result.unexpected.iter().map(|f| format!("{:?}: {}", f.kind, f.message)));
        Self { status: result.status, failures }
    }
}

/// What the caller said, where, and at what SNR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpokenUtterance {
    pub text: String,
    pub start_us: u64,
    pub end_us: u64,
    pub snr_db: Option<f64>,
    pub words: Vec<TimedWord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureManifest {
    pub schema_version: u32,
    pub scenario: Scenario,
    /// The first step that failed, as `file:line: keyword text`.
    pub failed_step: Option<String>,
    pub run_seed: u64,
    /// The scenario's seed, derived from the run seed.
    pub seed: u64,
    /// Which of the scenario's calls this is (0-based).
    pub call: usize,
    /// The fault injected around the agent (`keep-generated-reply`, ...), if any.
    pub agent_fault: Option<String>,
    pub agent_version: Option<String>,
    pub overlay_version: Option<u64>,
    pub accent: String,
    pub variant: String,
    pub rendering: Rendering,
    /// The network the call ran over (fixtures made before it was
    /// modelled ran over an ideal line).
    #[serde(default = "crate::line::Network::ideal")]
    pub network: crate::line::Network,
    pub ground_truth: Vec<SpokenUtterance>,
    pub caller_audio: AudioFile,
    pub agent_audio: AudioFile,
    /// Digest of `events.jsonl`.
    pub events_digest: String,
    pub verdict: Verdict,
}

/// A fixture read from disk, its files checked against its manifest.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub dir: PathBuf,
    pub manifest: FixtureManifest,
    pub record: CallRecord,
    pub events: String,
}

fn bytes_digest(bytes: &[u8]) -> String {
    format!("{:016x}", fnv1a(bytes))
}

/// The folder name of call `call` of a scenario: `<file>-<name>-<call>`.
pub fn fixture_name(scenario: &Scenario, call: usize) -> String {
    format!("{}-{}", crate::report::scenario_slug(scenario), call + 1)
}

/// Save call `index` of `result` as a fixture folder under `root`.
pub fn save_fixture(
    root: &Path,
    result: &ScenarioResult,
    index: usize,
    options: &RunOptions,
) -> Result<PathBuf, FixtureError> {
    let call: &CompletedCall = &result.calls[index];
    let dir = root.join(fixture_name(&result.scenario, index));
    std::fs::create_dir_all(&dir).map_err(|e| file_error(&dir, e))?;
    let outcome = &call.outcome;
    let wav = |name: &str, samples: &[i16], rate: u32| -> Result<AudioFile, FixtureError> {
        let path = dir.join(name);
        write_wav(&path, samples, rate).map_err(|e| file_error(&path, e))?;
        Ok(AudioFile { file: name.into(), sample_rate: rate, samples: samples.len(), digest: digest_samples(samples) })
    };
    let caller_audio = wav(CALLER_WAV, &outcome.caller_audio, outcome.caller_rate)?;
    let agent_audio = wav(AGENT_WAV, &outcome.agent_audio, outcome.sample_rate)?;
    let events = outcome.record.to_jsonl();
    let events_path = dir.join(EVENTS);
    std::fs::write(&events_path, &events).map_err(|e| file_error(&events_path, e))?;

    let mut ground_truth = Vec::new();
    let (mut agent_version, mut overlay_version) = (None, None);
    for (t_us, event) in outcome.record.events() {
        match event {
            Event::CallerSpeech { text, end_us, words, snr_db, .. } => ground_truth.push(SpokenUtterance {
                text: text.clone(),
                start_us: t_us,
                end_us: *end_us,
                snr_db: *snr_db,
                words: words.clone(),
            }),
            Event::Agent(agent) if agent_version.is_none() => {
                agent_version = Some(agent.ids.agent_version.clone());
                overlay_version = agent.ids.overlay_version;
            }
            _ => {}
        }
    }
    let failed_step = result
        .steps
        .iter()
        .find(|s| matches!(s.status, StepStatus::Failed | StepStatus::Error))
        .map(|s| format!("{}:{}: {} {}", result.scenario.file.display(), s.line, s.keyword, s.text));
    let manifest = FixtureManifest {
        schema_version: FIXTURE_SCHEMA,
        scenario: result.scenario.clone(),
        failed_step,
        run_seed: options.seed,
        seed: result.seed,
        call: index,
        agent_fault: options.fault.map(|f| f.name().to_string()),
        agent_version,
        overlay_version,
        accent: call.plan.accent.clone(),
        variant: call.plan.variant.clone(),
        rendering: call.plan.rendering.clone(),
        network: call.plan.network,
        ground_truth,
        caller_audio,
        agent_audio,
        events_digest: bytes_digest(events.as_bytes()),
        verdict: Verdict::of(result),
    };
    let path = dir.join(MANIFEST);
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| file_error(&path, e))?;
    std::fs::write(&path, json + "\n").map_err(|e| file_error(&path, e))?;
    Ok(dir)
}

/// Save the calls of failed scenarios (every call with `all`) under
/// `out/fixtures`, replacing what an earlier run left there.
pub fn save_fixtures(
    out: &Path,
    results: &[ScenarioResult],
    options: &RunOptions,
    all: bool,
) -> Result<Vec<PathBuf>, FixtureError> {
    let root = out.join("fixtures");
    if root.is_dir() {
        std::fs::remove_dir_all(&root).map_err(|e| file_error(&root, e))?;
    }
    let mut saved = Vec::new();
    for result in results.iter().filter(|r| all || r.status != Status::Passed) {
        for index in 0..result.calls.len() {
            saved.push(save_fixture(&root, result, index, options)?);
        }
    }
    Ok(saved)
}

impl Fixture {
    /// Read a fixture folder and check every file against the manifest.
    pub fn load(dir: &Path) -> Result<Self, FixtureError> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path).map_err(|e| file_error(&path, format!("cannot read: {e}")))?;
        let manifest: FixtureManifest = serde_json::from_str(&text)
            .map_err(|e| file_error(&path, format!("not a fixture manifest (line {}): {e}", e.line())))?;
        if manifest.schema_version != FIXTURE_SCHEMA {
            return Err(file_error(
                &path,
                format!("schema_version {} is not supported (expected {FIXTURE_SCHEMA})", manifest.schema_version),
            ));
        }
        for audio in [&manifest.caller_audio, &manifest.agent_audio] {
            let wav = dir.join(&audio.file);
            let (samples, rate) = read_wav(&wav)
                .map_err(|e| FixtureError::File { path: wav.display().to_string(), message: e.to_string() })?;
            let mismatch = |message: String| FixtureError::Mismatch { path: wav.display().to_string(), message };
            if rate != audio.sample_rate {
                return Err(mismatch(format!("sample rate {rate} Hz, the manifest says {}", audio.sample_rate)));
            }
            if samples.len() != audio.samples {
                return Err(mismatch(format!("{} samples, the manifest says {}", samples.len(), audio.samples)));
            }
            let digest = digest_samples(&samples);
            if digest != audio.digest {
                return Err(mismatch(format!("audio digest {digest}, the manifest says {}", audio.digest)));
            }
        }
        let events_path = dir.join(EVENTS);
        let events =
            std::fs::read_to_string(&events_path).map_err(|e| file_error(&events_path, format!("cannot read: {e}")))?;
        let digest = bytes_digest(events.as_bytes());
        if digest != manifest.events_digest {
            return Err(FixtureError::Mismatch {
                path: events_path.display().to_string(),
                message: format!("digest {digest}, the manifest says {}", manifest.events_digest),
            });
        }
        let record = CallRecord::from_jsonl(&events).map_err(|e| file_error(&events_path, e))?;
        Ok(Self { dir: dir.to_path_buf(), manifest, record, events })
    }
}

/// What replaying a fixture gave.
#[derive(Debug, Clone)]
pub struct Replay {
    pub verdict: Verdict,
    pub same_verdict: bool,
    pub same_record: bool,
    pub same_caller_audio: bool,
    /// The first line of the call record that differs, if any.
    pub first_difference: Option<String>,
}

impl Replay {
    pub fn reproduced(&self) -> bool {
        self.same_verdict && self.same_record && self.same_caller_audio
    }
}

/// Rerun the fixture's scenario exactly as it ran (same seed, same agent
/// fault) and compare the call with the saved one.
pub fn replay(fixture: &Fixture, corpus: &Corpus) -> Result<Replay, FixtureError> {
    let m = &fixture.manifest;
    let fault = match m.agent_fault.as_deref() {
        None => None,
        Some(name) => Some(Fault::from_name(name).ok_or_else(|| {
            FixtureError::Invalid(format!(
                "{}: agent_fault {name:?} is not a fault this harness knows",
                fixture.dir.display()
            ))
        })?),
    };
    let definition = match m.agent_version.as_deref() {
        None => None,
        Some(id) => Some(
            voicegate_agent::config::DefinitionRegistry::embedded()
                .map_err(|e| FixtureError::Invalid(format!("the compiled-in definitions: {e:?}")))?
                .select(id)
                .map_err(|e| FixtureError::Invalid(format!("{}: agent_version: {e}", fixture.dir.display())))?,
        ),
    };
    let agent = AgentOptions { definition, fault, ..AgentOptions::default() };
    let result = replay_scenario(&m.scenario, m.seed, agent, corpus)
        .map_err(|e| FixtureError::Invalid(format!("{}: {e}", fixture.dir.display())))?;
    let verdict = Verdict::of(&result);
    let (same_record, same_caller_audio, first_difference) = match result.calls.get(m.call) {
        Some(call) => {
            let events = call.outcome.record.to_jsonl();
            let first = fixture
                .events
                .lines()
                .zip(events.lines())
                .enumerate()
                .find(|(_, (a, b))| a != b)
                .map(|(i, (a, b))| format!("line {}: saved {a}\n        replayed {b}", i + 1))
                .or_else(|| {
                    (fixture.events.lines().count() != events.lines().count()).then(|| {
                        format!("saved {} lines, replayed {}", fixture.events.lines().count(), events.lines().count())
                    })
                });
            (events == fixture.events, digest_samples(&call.outcome.caller_audio) == m.caller_audio.digest, first)
        }
        None => (false, false, Some(format!("the replay made no call {}", m.call + 1))),
    };
    Ok(Replay { same_verdict: verdict == m.verdict, verdict, same_record, same_caller_audio, first_difference })
}

/// The promoted regression fixtures under `dir`, in name order.
pub fn regression_dirs(dir: &Path) -> Result<Vec<PathBuf>, FixtureError> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| file_error(dir, e))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join(MANIFEST).is_file())
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// Replay a promoted fixture against the agent this run tests (whatever
/// fault the fixture was caught with is not carried over): the scenario
/// must pass. Reported as feature `Regressions`, named after the fixture.
pub fn check_regression(
    fixture: &Fixture,
    corpus: &Corpus,
    options: &RunOptions,
) -> Result<ScenarioResult, FixtureError> {
    let m = &fixture.manifest;
    let name = fixture.dir.file_name().and_then(|n| n.to_str()).unwrap_or("regression");
    // Renamed before it runs, so that a fixture saved from a failing
    // regression replays under the same name it was recorded with.
    let mut scenario = m.scenario.clone();
    scenario.feature = "Regressions".into();
    scenario.name = format!("{name}: {}", m.scenario.name);
    replay_scenario(&scenario, m.seed, options.agent(), corpus)
        .map_err(|e| FixtureError::Invalid(format!("{}: {e}", fixture.dir.display())))
}

/// Copy a fixture to `regressions/NAME`, refusing to overwrite one.
pub fn promote(fixture: &Path, regressions: &Path, name: &str) -> Result<PathBuf, FixtureError> {
    let valid = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !name.starts_with('-');
    if !valid {
        return Err(FixtureError::Invalid(format!(
            "--name {name:?}: expected letters, digits, '-' and '_' only (it becomes a folder name)"
        )));
    }
    let loaded = Fixture::load(fixture)?;
    let target = regressions.join(name);
    if target.exists() {
        return Err(file_error(&target, "already exists; choose another --name or remove it first"));
    }
    std::fs::create_dir_all(&target).map_err(|e| file_error(&target, e))?;
    for file in [MANIFEST, CALLER_WAV, AGENT_WAV, EVENTS] {
        let from = loaded.dir.join(file);
        std::fs::copy(&from, target.join(file)).map_err(|e| file_error(&from, e))?;
    }
    Ok(target)
}
