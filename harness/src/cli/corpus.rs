//! `voicegate corpus`: show or regenerate the speech corpus.

use std::path::PathBuf;

use clap::Subcommand;

use crate::audio::Corpus;

#[derive(Debug, Subcommand)]
pub enum CorpusAction {
    /// Regenerate the corpus from phrases.txt with espeak-ng (needs the
    /// `espeak` feature and libespeak-ng).
    Generate {
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// List the phrases, accents and variants in the corpus.
    List {
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Speak one recording (run by `generate`, one process per recording).
    #[command(hide = true)]
    Speak {
        #[arg(long)]
        voice: String,
        #[arg(long)]
        text: String,
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(action: CorpusAction) -> anyhow::Result<u8> {
    match action {
        CorpusAction::Generate { dir } => generate(dir.unwrap_or_else(Corpus::default_dir)),
        CorpusAction::Speak { voice, text, out } => speak(&voice, &text, &out),
        CorpusAction::List { dir } => {
            let corpus = Corpus::load(&dir.unwrap_or_else(Corpus::default_dir))?;
            let manifest = corpus.manifest();
            outln!("{} ({} Hz, {} entries)", manifest.generator, manifest.sample_rate, manifest.entries.len());
            for entry in &manifest.entries {
                let ms = entry.samples as u64 * 1000 / u64::from(manifest.sample_rate);
                outln!("{:<15} {}  {:>5} ms  {}", entry.accent, entry.variant, ms, entry.text);
            }
            Ok(0)
        }
    }
}

/// One recording: the FLAC file at `out`, and `{"generator", "words"}` on stdout.
#[cfg(feature = "espeak")]
fn speak(voice: &str, text: &str, out: &std::path::Path) -> anyhow::Result<u8> {
    use crate::audio::espeak::{CORPUS_BITS, CORPUS_RATE, Espeak};
    let espeak = Espeak::init().map_err(anyhow::Error::msg)?;
    let (samples, words) = espeak.phrase(text, voice).map_err(|e| anyhow::anyhow!("{text:?} in {voice}: {e}"))?;
    let written = crate::audio::flac::write_flac(out, &samples, CORPUS_RATE, CORPUS_BITS)?;
    outln!("{}", serde_json::json!({ "generator": espeak.version(), "samples": written, "words": words }));
    Ok(0)
}

/// Every phrase in every voice, each spoken by a process of its own (espeak
/// carries state between syntheses), so a recording depends on its phrase
/// and voice only.
#[cfg(feature = "espeak")]
fn generate(dir: PathBuf) -> anyhow::Result<u8> {
    use crate::audio::CorpusWord;
    use crate::audio::espeak::{VOICES, entry_for, read_phrases, write_manifest};
    let phrases = read_phrases(&dir)?;
    let exe = std::env::current_exe()?;
    let mut entries = Vec::new();
    let mut generator = String::new();
    for &(accent, variant, voice) in VOICES {
        std::fs::create_dir_all(dir.join(accent).join(variant))?;
        for phrase in &phrases {
            let mut entry = entry_for(phrase, accent, variant, voice);
            let out = dir.join(&entry.file);
            let mut child = std::process::Command::new(&exe)
                .args(["corpus", "speak", "--voice", voice, "--text", phrase, "--out"])
                .arg(&out)
                .stdout(std::process::Stdio::piped())
                .spawn()?;
            let started = std::time::Instant::now();
            while child.try_wait()?.is_none() {
                if started.elapsed() > std::time::Duration::from_secs(60) {
                    let _ = child.kill();
                    anyhow::bail!("speaking {phrase:?} in {voice} took over a minute; stopped");
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            let output = child.wait_with_output()?;
            if !output.status.success() {
                anyhow::bail!("speaking {phrase:?} in {voice} failed");
            }
            let spoken: serde_json::Value = serde_json::from_slice(&output.stdout)?;
            generator = spoken["generator"].as_str().unwrap_or_default().to_string();
            entry.samples = spoken["samples"].as_u64().unwrap_or_default() as usize;
            entry.words = serde_json::from_value::<Vec<CorpusWord>>(spoken["words"].clone())?;
            entries.push(entry);
        }
    }
    let manifest = write_manifest(&dir, generator, entries)?;
    outln!("wrote {} recordings with {} to {}", manifest.entries.len(), manifest.generator, dir.display());
    Ok(0)
}

#[cfg(not(feature = "espeak"))]
const NO_ESPEAK: &str = "this build has no espeak-ng support; install libespeak-ng-dev and run \
     `cargo run --release -p voicegate --features espeak -- corpus generate`";

#[cfg(not(feature = "espeak"))]
fn generate(_dir: PathBuf) -> anyhow::Result<u8> {
    anyhow::bail!(NO_ESPEAK)
}

#[cfg(not(feature = "espeak"))]
fn speak(_voice: &str, _text: &str, _out: &std::path::Path) -> anyhow::Result<u8> {
    anyhow::bail!(NO_ESPEAK)
}
