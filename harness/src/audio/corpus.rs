//! The caller speech corpus: real espeak-ng speech with word timings,
//! committed under `audio-fixtures/corpus/` and described by `manifest.json`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::AudioError;
use super::flac::read_flac;
use super::resample::resample;
use super::{LINE_RATE, to_f32};

pub const MANIFEST_SCHEMA: u32 = 2;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorpusWord {
    pub text: String,
    /// First sample of the word.
    pub start: usize,
    /// One past the last sample of the word.
    pub end: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorpusEntry {
    pub id: String,
    pub text: String,
    pub accent: String,
    /// `m` or `f`.
    pub variant: String,
    /// The espeak-ng voice name that spoke it.
    pub voice: String,
    /// Path relative to the corpus folder.
    pub file: String,
    pub samples: usize,
    pub words: Vec<CorpusWord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorpusManifest {
    pub schema_version: u32,
    /// The generator and its version, e.g. `espeak-ng 1.51`.
    pub generator: String,
    pub sample_rate: u32,
    /// Stored precision of every recording (FLAC).
    pub bits_per_sample: u32,
    /// Speaking rate in words per minute.
    pub words_per_minute: u32,
    pub entries: Vec<CorpusEntry>,
}

/// One recorded phrase, ready to render.
#[derive(Debug, Clone)]
pub struct Utterance {
    pub text: String,
    pub accent: String,
    pub variant: String,
    pub sample_rate: u32,
    pub samples: Arc<Vec<i16>>,
    pub words: Vec<CorpusWord>,
}

pub struct Corpus {
    root: PathBuf,
    manifest: CorpusManifest,
    index: HashMap<(String, String, String), usize>,
    audio: Mutex<HashMap<usize, Arc<Vec<i16>>>>,
    /// Recordings resampled to the line rate, for babble.
    at_line_rate: Mutex<HashMap<usize, Arc<Vec<f32>>>>,
}

/// Lower case, letters, digits and apostrophes only, single spaces: the
/// form phrases are looked up and compared in.
pub fn normalise_text(text: &str) -> String {
    text.split_whitespace()
        .map(|w| w.chars().filter(|c| c.is_alphanumeric() || *c == '\'').collect::<String>().to_lowercase())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

impl Corpus {
    /// The corpus committed with the project: `audio-fixtures/corpus` from
    /// the working directory, else next to this crate's sources.
    pub fn default_dir() -> PathBuf {
        let local = PathBuf::from("audio-fixtures/corpus");
        if local.join("manifest.json").is_file() {
            return local;
        }
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../audio-fixtures/corpus")
    }

    pub fn load(root: &Path) -> Result<Self, AudioError> {
        let path = root.join("manifest.json");
        let file_error = |message: String| AudioError::File { path: path.display().to_string(), message };
        let text =
            std::fs::read_to_string(&path).map_err(|e| file_error(format!("cannot read the corpus manifest: {e}")))?;
        let manifest: CorpusManifest =
            serde_json::from_str(&text).map_err(|e| file_error(format!("not a valid corpus manifest: {e}")))?;
        if manifest.schema_version != MANIFEST_SCHEMA {
            return Err(file_error(format!(
                "schema_version {} is not supported (expected {MANIFEST_SCHEMA})",
                manifest.schema_version
            )));
        }
        let mut index = HashMap::new();
        for (i, entry) in manifest.entries.iter().enumerate() {
            let key = (normalise_text(&entry.text), entry.accent.clone(), entry.variant.clone());
            if index.insert(key, i).is_some() {
                return Err(file_error(format!("entry {} repeats a phrase, accent and variant", entry.id)));
            }
        }
        Ok(Self {
            root: root.to_path_buf(),
            manifest,
            index,
            audio: Mutex::new(HashMap::new()),
            at_line_rate: Mutex::new(HashMap::new()),
        })
    }

    pub fn manifest(&self) -> &CorpusManifest {
        &self.manifest
    }

    pub fn accents(&self) -> Vec<String> {
        let mut accents: Vec<String> = self.manifest.entries.iter().map(|e| e.accent.clone()).collect();
        accents.sort();
        accents.dedup();
        accents
    }

    /// The recording of `text` in `accent` and `variant` (`m` or `f`).
    /// Where the corpus holds `text` in `accent`/`variant`, or why not.
    fn find(&self, text: &str, accent: &str, variant: &str) -> Result<usize, AudioError> {
        let key = (normalise_text(text), accent.to_string(), variant.to_string());
        self.index.get(&key).copied().ok_or_else(|| AudioError::MissingPhrase {
            text: text.into(),
            accent: format!("{accent}/{variant}"),
            hint: format!(
                "add it to {} and regenerate the corpus; see README.md",
                self.root.join("phrases.txt").display()
            ),
        })
    }

    /// Does the corpus hold `text` in `accent`/`variant` (without decoding it)?
    pub fn check_phrase(&self, text: &str, accent: &str, variant: &str) -> Result<(), AudioError> {
        self.find(text, accent, variant).map(|_| ())
    }

    pub fn utterance(&self, text: &str, accent: &str, variant: &str) -> Result<Utterance, AudioError> {
        let index = self.find(text, accent, variant)?;
        let entry = &self.manifest.entries[index];
        let samples = self.audio_of(index)?;
        Ok(Utterance {
            text: entry.text.clone(),
            accent: entry.accent.clone(),
            variant: entry.variant.clone(),
            sample_rate: self.manifest.sample_rate,
            samples,
            words: entry.words.clone(),
        })
    }

    /// The recording of `text` in `accent`/`variant` at the line rate, in
    /// [-1, 1): resampled once a run (babble says thousands of phrases).
    pub fn at_line_rate(&self, text: &str, accent: &str, variant: &str) -> Result<Arc<Vec<f32>>, AudioError> {
        let index = self.find(text, accent, variant)?;
        if let Some(samples) = self.at_line_rate.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(&index) {
            return Ok(samples.clone());
        }
        let samples = Arc::new(resample(&to_f32(&self.audio_of(index)?), self.manifest.sample_rate, LINE_RATE)?);
        let mut cache = self.at_line_rate.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(cache.entry(index).or_insert(samples).clone())
    }

    fn audio_of(&self, index: usize) -> Result<Arc<Vec<i16>>, AudioError> {
        let mut cache = self.audio.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(samples) = cache.get(&index) {
            return Ok(samples.clone());
        }
        let entry = &self.manifest.entries[index];
        let path = self.root.join(&entry.file);
        let (samples, rate, bits) = read_flac(&path)?;
        let mismatch = |message: String| AudioError::File {
            path: path.display().to_string(),
            message: format!("does not match its manifest entry {}: {message}", entry.id),
        };
        if rate != self.manifest.sample_rate {
            return Err(mismatch(format!("sample rate {rate} Hz, manifest says {}", self.manifest.sample_rate)));
        }
        if bits != self.manifest.bits_per_sample {
            return Err(mismatch(format!("{bits}-bit samples, manifest says {}", self.manifest.bits_per_sample)));
        }
        if samples.len() != entry.samples {
            return Err(mismatch(format!("{} samples, manifest says {}", samples.len(), entry.samples)));
        }
        if let Some(word) = entry.words.iter().find(|w| w.start >= w.end || w.end > samples.len()) {
            return Err(mismatch(format!("word {:?} spans {}..{} outside the audio", word.text, word.start, word.end)));
        }
        let samples = Arc::new(samples);
        cache.insert(index, samples.clone());
        Ok(samples)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_punctuation() {
        assert_eq!(normalise_text("  Hi, I'd like   to CHECK my order! "), "hi i'd like to check my order");
    }

    #[test]
    fn the_committed_corpus_loads_and_matches_its_audio() {
        let corpus = Corpus::load(&Corpus::default_dir()).expect("the committed corpus loads");
        let phrases: std::collections::BTreeSet<String> =
            corpus.manifest().entries.iter().map(|e| normalise_text(&e.text)).collect();
        assert!(phrases.len() >= 80, "plan for 80+ phrases, found {}", phrases.len());
        let accents = corpus.accents();
        assert_eq!(accents.len(), 8, "{accents:?}");
        // Every phrase in every accent, male and female.
        for accent in &accents {
            for variant in ["m", "f"] {
                for phrase in &phrases {
                    assert!(corpus.index.contains_key(&(phrase.clone(), accent.clone(), variant.into())));
                }
            }
        }
        for entry in &corpus.manifest().entries {
            let utterance = corpus.utterance(&entry.text, &entry.accent, &entry.variant).expect("entry loads");
            assert_eq!(utterance.words.len(), normalise_text(&entry.text).split(' ').count(), "{}", entry.text);
        }
    }

    #[test]
    fn a_manifest_that_does_not_match_its_audio_is_refused_by_name() {
        let source = Corpus::default_dir();
        let dir = tempfile::tempdir().expect("temp dir");
        let manifest: CorpusManifest =
            serde_json::from_str(&std::fs::read_to_string(source.join("manifest.json")).expect("manifest"))
                .expect("json");
        let mut entry = manifest.entries[0].clone();
        let target = dir.path().join(&entry.file);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::copy(source.join(&entry.file), &target).expect("copy");
        entry.samples += 5;
        let broken = CorpusManifest { entries: vec![entry.clone()], ..manifest };
        std::fs::write(dir.path().join("manifest.json"), serde_json::to_string(&broken).expect("json")).expect("write");
        let corpus = Corpus::load(dir.path()).expect("manifest parses");
        let error = corpus.utterance(&entry.text, &entry.accent, &entry.variant).expect_err("mismatch").to_string();
        assert!(error.contains(&entry.file) && error.contains("does not match"), "{error}");
    }
}
