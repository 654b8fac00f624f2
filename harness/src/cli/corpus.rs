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
}

pub fn run(action: CorpusAction) -> anyhow::Result<u8> {
    match action {
        CorpusAction::Generate { dir } => generate(dir.unwrap_or_else(Corpus::default_dir)),
        CorpusAction::List { dir } => {
            let corpus = Corpus::load(&dir.unwrap_or_else(Corpus::default_dir))?;
            let manifest = corpus.manifest();
            println!("{} ({} Hz, {} entries)", manifest.generator, manifest.sample_rate, manifest.entries.len());
            for entry in &manifest.entries {
                let ms = entry.samples as u64 * 1000 / u64::from(manifest.sample_rate);
                println!("{:<8} {}  {:>5} ms  {}", entry.accent, entry.variant, ms, entry.text);
            }
            Ok(0)
        }
    }
}

#[cfg(feature = "espeak")]
fn generate(dir: PathBuf) -> anyhow::Result<u8> {
    let manifest = crate::audio::espeak::generate(&dir)?;
    println!("wrote {} recordings with {} to {}", manifest.entries.len(), manifest.generator, dir.display());
    Ok(0)
}

#[cfg(not(feature = "espeak"))]
fn generate(_dir: PathBuf) -> anyhow::Result<u8> {
    anyhow::bail!(
        "this build has no espeak-ng support; install libespeak-ng-dev and run \
         `cargo run --release -p voicegate --features espeak -- corpus generate`"
    )
}
