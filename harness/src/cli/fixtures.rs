//! `voicegate replay` and `voicegate fixtures list|inspect|promote`.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::EXIT_FAILED;
use super::run::resolve;
use crate::audio::Corpus;
use crate::fixture::{Fixture, promote, regression_dirs, replay};

/// Where promoted fixtures live.
pub const REGRESSIONS: &str = "audio-fixtures/regressions";

#[derive(Debug, Subcommand)]
pub enum FixturesAction {
    /// List the fixtures in folders (default: reports/latest/fixtures and
    /// audio-fixtures/regressions).
    List { dirs: Vec<PathBuf> },
    /// Show what a fixture holds.
    Inspect { fixture: PathBuf },
    /// Copy a fixture into audio-fixtures/regressions/NAME, so every run
    /// replays it.
    Promote {
        fixture: PathBuf,
        #[arg(long)]
        name: String,
        /// The regressions folder.
        #[arg(long)]
        to: Option<PathBuf>,
    },
}

pub fn run_replay(fixture: &Path, corpus: Option<PathBuf>) -> anyhow::Result<u8> {
    let fixture = Fixture::load(fixture)?;
    let corpus = Corpus::load(&corpus.unwrap_or_else(Corpus::default_dir))?;
    let outcome = replay(&fixture, &corpus)?;
    let m = &fixture.manifest;
    outln!("fixture   {}", fixture.dir.display());
    outln!("scenario  {} / {} (seed {}, call {})", m.scenario.feature, m.scenario.name, m.seed, m.call + 1);
    outln!("saved     {:?}: {}", m.verdict.status, m.verdict.failures.join("; "));
    outln!("replayed  {:?}: {}", outcome.verdict.status, outcome.verdict.failures.join("; "));
    let yes = |b: bool| if b { "same" } else { "DIFFERENT" };
    outln!(
        "verdict {}, call record {}, caller audio {}",
        yes(outcome.same_verdict),
        yes(outcome.same_record),
        yes(outcome.same_caller_audio)
    );
    if let Some(difference) = &outcome.first_difference {
        outln!("first difference: {difference}");
    }
    if outcome.reproduced() {
        outln!("reproduced");
        Ok(0)
    } else {
        outln!("NOT reproduced");
        Ok(EXIT_FAILED)
    }
}

pub fn run(action: FixturesAction) -> anyhow::Result<u8> {
    match action {
        FixturesAction::List { dirs } => {
            let dirs = if dirs.is_empty() {
                vec![PathBuf::from("reports/latest/fixtures"), resolve(Path::new(REGRESSIONS), REGRESSIONS)]
            } else {
                dirs
            };
            for dir in dirs {
                let found = regression_dirs(&dir)?;
                outln!("{} ({} fixture{})", dir.display(), found.len(), if found.len() == 1 { "" } else { "s" });
                for path in found {
                    match Fixture::load(&path) {
                        Ok(f) => outln!(
                            "  {:<60} {:<7} {}",
                            path.file_name().and_then(|n| n.to_str()).unwrap_or(""),
                            format!("{:?}", f.manifest.verdict.status).to_lowercase(),
                            f.manifest.failed_step.as_deref().unwrap_or(&f.manifest.scenario.name)
                        ),
                        Err(error) => outln!("  {:<60} BROKEN  {error}", path.display()),
                    }
                }
            }
            Ok(0)
        }
        FixturesAction::Inspect { fixture } => {
            let f = Fixture::load(&fixture)?;
            let m = &f.manifest;
            outln!("fixture        {}", f.dir.display());
            outln!("scenario       {} / {} ({})", m.scenario.feature, m.scenario.name, m.scenario.location());
            if let Some(step) = &m.failed_step {
                outln!("failed step    {step}");
            }
            outln!("verdict        {:?}", m.verdict.status);
            for failure in &m.verdict.failures {
                outln!("               - {failure}");
            }
            outln!("seeds          run {}, scenario {}; call {}", m.run_seed, m.seed, m.call + 1);
            outln!(
                "agent          {} (overlay {}){}",
                m.agent_version.as_deref().unwrap_or("?"),
                m.overlay_version.map_or("none".to_string(), |v| v.to_string()),
                m.agent_fault.as_deref().map_or(String::new(), |f| format!(", fault {f}"))
            );
            outln!("caller         {} / {}", m.accent, m.variant);
            outln!("rendering      {}", serde_json::to_string(&m.rendering)?);
            for (name, audio) in [("caller.wav", &m.caller_audio), ("agent.wav", &m.agent_audio)] {
                let ms = audio.samples as u64 * 1000 / u64::from(audio.sample_rate.max(1));
                outln!("{name:<14} {} Hz, {} samples ({ms} ms)", audio.sample_rate, audio.samples);
            }
            outln!("events.jsonl   {} events", f.record.entries.len());
            outln!("ground truth");
            for u in &m.ground_truth {
                let snr = u.snr_db.map_or(String::new(), |s| format!(" at {s:.1} dB SNR"));
                outln!("  {:>8.3} s  {:?}{snr}", u.start_us as f64 / 1e6, u.text);
                let words: Vec<String> = u
                    .words
                    .iter()
                    .map(|w| format!("{}@{:.3}-{:.3}", w.text, w.start_us as f64 / 1e6, w.end_us as f64 / 1e6))
                    .collect();
                outln!("              {}", words.join(" "));
            }
            Ok(0)
        }
        FixturesAction::Promote { fixture, name, to } => {
            let to = to.unwrap_or_else(|| resolve(Path::new(REGRESSIONS), REGRESSIONS));
            let target = promote(&fixture, &to, &name)?;
            outln!("promoted {} to {}; every run now replays it", fixture.display(), target.display());
            Ok(0)
        }
    }
}
