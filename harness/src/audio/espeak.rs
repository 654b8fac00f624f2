//! Regenerates the speech corpus with libespeak-ng (feature `espeak`).
//!
//! espeak keeps state from one synthesis to the next (and cannot be
//! restarted within a process), so `voicegate corpus generate` speaks every
//! recording in a process of its own: each depends on its phrase and voice
//! only. Word starts come from espeak's word events; a word ends at the last
//! 5 ms window above -40 dB (relative to the phrase's loudest window)
//! before the next word starts. Audio is resampled from espeak's 22 050 Hz
//! to the corpus rate and peak-normalised, deterministically.
#![allow(unsafe_code)]

use std::ffi::{CString, c_char, c_int, c_short, c_uint, c_void};
use std::path::Path;
use std::sync::Mutex;

use super::corpus::{CorpusEntry, CorpusManifest, CorpusWord, MANIFEST_SCHEMA, normalise_text};
use super::{AudioError, resample, to_f32, to_i16};
use crate::seed::fnv1a;

/// The corpus is stored at half espeak's rate: speech up to 5.5 kHz, above
/// the phone band, and small enough to commit (see audio-fixtures/README.md).
pub const CORPUS_RATE: u32 = 11_025;
/// Stored precision; see `flac.rs`.
pub const CORPUS_BITS: u32 = 12;
pub const WORDS_PER_MINUTE: u32 = 165;
/// Peak level of a recording; rendering sets the speech level, so this only
/// leaves headroom.
const PEAK: f32 = 0.5;

/// (accent, variant, espeak voice name): the eight English accents, each
/// with a male and a female variant.
pub const VOICES: &[(&str, &str, &str)] = &[
    ("en-us", "m", "en-us"),
    ("en-us", "f", "en-us+f3"),
    ("en-us-nyc", "m", "en-us-nyc"),
    ("en-us-nyc", "f", "en-us-nyc+f2"),
    ("en-gb", "m", "gmw/en"),
    ("en-gb", "f", "gmw/en+f3"),
    ("en-gb-x-rp", "m", "en-gb-x-rp"),
    ("en-gb-x-rp", "f", "en-gb-x-rp+f4"),
    ("en-gb-scotland", "m", "en-gb-scotland"),
    ("en-gb-scotland", "f", "en-gb-scotland+f2"),
    ("en-gb-x-gbclan", "m", "en-gb-x-gbclan"),
    ("en-gb-x-gbclan", "f", "en-gb-x-gbclan+f3"),
    ("en-gb-x-gbcwmd", "m", "en-gb-x-gbcwmd"),
    ("en-gb-x-gbcwmd", "f", "en-gb-x-gbcwmd+f4"),
    ("en-029", "m", "en-029"),
    ("en-029", "f", "en-029+f2"),
];

#[repr(C)]
#[derive(Clone, Copy)]
struct EspeakEvent {
    kind: c_int,
    unique_identifier: c_uint,
    text_position: c_int,
    length: c_int,
    audio_position: c_int,
    sample: c_int,
    user_data: *mut c_void,
    id: [u8; 8],
}

const EVENT_LIST_TERMINATED: c_int = 0;
const EVENT_WORD: c_int = 1;
const AUDIO_OUTPUT_SYNCHRONOUS: c_int = 2;
const POS_CHARACTER: c_int = 1;
const CHARS_UTF8: c_uint = 1;
const PARAM_RATE: c_int = 1;

type SynthCallback = unsafe extern "C" fn(*mut c_short, c_int, *mut EspeakEvent) -> c_int;

#[link(name = "espeak-ng")]
unsafe extern "C" {
    fn espeak_Initialize(output: c_int, buflength: c_int, path: *const c_char, options: c_int) -> c_int;
    fn espeak_SetSynthCallback(callback: SynthCallback);
    fn espeak_SetVoiceByName(name: *const c_char) -> c_int;
    fn espeak_SetParameter(parameter: c_int, value: c_int, relative: c_int) -> c_int;
    fn espeak_Synth(
        text: *const c_void,
        size: usize,
        position: c_uint,
        position_type: c_int,
        end_position: c_uint,
        flags: c_uint,
        unique_identifier: *mut c_uint,
        user_data: *mut c_void,
    ) -> c_int;
    fn espeak_Info(path_data: *mut *const c_char) -> *const c_char;
}

/// A word event: (character position, 1-based; length in characters; audio position in ms).
type WordEvent = (usize, usize, usize);

/// What the callback collects; espeak's state is global, so is this.
struct Capture {
    samples: Vec<i16>,
    words: Vec<WordEvent>,
}

static CAPTURE: Mutex<Capture> = Mutex::new(Capture { samples: Vec::new(), words: Vec::new() });

unsafe extern "C" fn on_synth(wav: *mut c_short, count: c_int, events: *mut EspeakEvent) -> c_int {
    let mut capture = CAPTURE.lock().unwrap_or_else(|p| p.into_inner());
    if !wav.is_null() && count > 0 {
        // SAFETY: espeak passes `count` valid samples at `wav`.
        let samples = unsafe { std::slice::from_raw_parts(wav, count as usize) };
        capture.samples.extend_from_slice(samples);
    }
    let mut event = events;
    // SAFETY: the event list is terminated by an event of kind 0.
    while !event.is_null() && unsafe { (*event).kind } != EVENT_LIST_TERMINATED {
        let e = unsafe { *event };
        if e.kind == EVENT_WORD {
            capture.words.push((
                e.text_position.max(1) as usize,
                e.length.max(0) as usize,
                e.audio_position.max(0) as usize,
            ));
        }
        event = unsafe { event.add(1) };
    }
    0
}

pub struct Espeak {
    sample_rate: u32,
    version: String,
}

impl Espeak {
    pub fn init() -> Result<Self, String> {
        // SAFETY: plain C calls with valid arguments; called once per process.
        let rate = unsafe { espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, std::ptr::null(), 0) };
        if rate <= 0 {
            return Err("espeak_Initialize failed: is espeak-ng-data installed?".into());
        }
        unsafe { espeak_SetSynthCallback(on_synth) };
        let version = unsafe {
            let info = espeak_Info(std::ptr::null_mut());
            if info.is_null() {
                "unknown".to_string()
            } else {
                std::ffi::CStr::from_ptr(info).to_string_lossy().into_owned()
            }
        };
        Ok(Self { sample_rate: rate as u32, version })
    }

    pub fn version(&self) -> String {
        format!("espeak-ng {} via voicegate {} corpus generator", self.version, env!("CARGO_PKG_VERSION"))
    }

    /// Speak `text` with `voice`: (samples at espeak's rate, word events).
    fn speak(&self, text: &str, voice: &str) -> Result<(Vec<i16>, Vec<WordEvent>), String> {
        let voice_c = CString::new(voice).map_err(|e| e.to_string())?;
        let text_c = CString::new(text).map_err(|e| e.to_string())?;
        {
            let mut capture = CAPTURE.lock().unwrap_or_else(|p| p.into_inner());
            capture.samples.clear();
            capture.words.clear();
        }
        // SAFETY: NUL-terminated strings outlive the synchronous calls.
        unsafe {
            if espeak_SetVoiceByName(voice_c.as_ptr()) != 0 {
                return Err(format!("espeak-ng has no voice {voice:?}"));
            }
            espeak_SetParameter(PARAM_RATE, WORDS_PER_MINUTE as c_int, 0);
            let status = espeak_Synth(
                text_c.as_ptr().cast(),
                text.len() + 1,
                0,
                POS_CHARACTER,
                0,
                CHARS_UTF8,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
            if status != 0 {
                return Err(format!("espeak_Synth failed with {status}"));
            }
        }
        let capture = CAPTURE.lock().unwrap_or_else(|p| p.into_inner());
        Ok((capture.samples.clone(), capture.words.clone()))
    }

    /// Speak one phrase and time its words at the corpus rate.
    pub fn phrase(&self, text: &str, voice: &str) -> Result<(Vec<i16>, Vec<CorpusWord>), String> {
        let (raw, events) = self.speak(text, voice)?;
        let audio = resample(&to_f32(&raw), self.sample_rate, CORPUS_RATE).map_err(|e| e.to_string())?;
        let peak = audio.iter().fold(0.0f32, |m, s| m.max(s.abs())).max(1e-6);
        let audio: Vec<f32> = audio.iter().map(|s| s * PEAK / peak).collect();
        let chars: Vec<char> = text.chars().collect();
        // espeak now and then reports a word event inside a word ("l",
        // "ive"); only events at the start of a word count.
        let events: Vec<WordEvent> = events
            .into_iter()
            .filter(|&(position, _, _)| position == 1 || chars.get(position - 2).is_none_or(|c| c.is_whitespace()))
            .collect();
        let window = CORPUS_RATE as usize / 200;
        let energies: Vec<f32> =
            audio.chunks(window).map(|w| w.iter().map(|s| s * s).sum::<f32>() / w.len() as f32).collect();
        let loudest = energies.iter().cloned().fold(0.0f32, f32::max);
        let voiced = |w: usize| energies.get(w).is_some_and(|&e| e > loudest * 1e-4);
        let starts: Vec<usize> =
            events.iter().map(|&(_, _, ms)| (ms * CORPUS_RATE as usize / 1000).min(audio.len())).collect();
        let mut words = Vec::new();
        for (i, &(position, _, _)) in events.iter().enumerate() {
            // An event's text runs to the next event: espeak sometimes
            // speaks two words as one ("has not"), and they share its span.
            let next = events.get(i + 1).map_or(chars.len() + 1, |e| e.0);
            let span: String = chars.iter().skip(position - 1).take(next.saturating_sub(position)).collect();
            let span = normalise_text(&span);
            if span.is_empty() {
                continue;
            }
            let start = starts[i];
            let limit = starts.get(i + 1).copied().unwrap_or(audio.len());
            let mut end_window = limit.div_ceil(window);
            while end_window > start / window + 1 && !voiced(end_window - 1) {
                end_window -= 1;
            }
            let end = (end_window * window).min(limit).max(start + 1);
            // Shared spans are divided in proportion to the words' letters.
            let parts: Vec<&str> = span.split(' ').collect();
            let letters: usize = parts.iter().map(|p| p.len()).sum();
            let mut done = 0;
            for part in parts {
                let from = start + (end - start) * done / letters;
                done += part.len();
                let to = (start + (end - start) * done / letters).max(from + 1);
                words.push(CorpusWord { text: part.to_string(), start: from, end: to });
            }
        }
        let expected = normalise_text(text);
        let got = words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
        if got != expected {
            return Err(format!("word events {got:?} do not cover the phrase {expected:?}"));
        }
        Ok((to_i16(&audio), words))
    }
}

/// The phrases of `dir/phrases.txt` (one a line, `#` comments), normalised.
pub fn read_phrases(dir: &Path) -> Result<Vec<String>, AudioError> {
    let path = dir.join("phrases.txt");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| AudioError::File { path: path.display().to_string(), message: e.to_string() })?;
    Ok(text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(normalise_text).collect())
}

/// The manifest entry of `phrase` in `voice`, without its audio facts.
pub fn entry_for(phrase: &str, accent: &str, variant: &str, voice: &str) -> CorpusEntry {
    let id = format!("{}-{:08x}", slug(phrase), fnv1a(phrase.as_bytes()) as u32);
    CorpusEntry {
        id: format!("{accent}/{variant}/{id}"),
        text: phrase.to_string(),
        accent: accent.into(),
        variant: variant.into(),
        voice: voice.into(),
        file: format!("{accent}/{variant}/{id}.flac"),
        samples: 0,
        words: Vec::new(),
    }
}

/// Write the manifest of `entries`.
pub fn write_manifest(dir: &Path, generator: String, entries: Vec<CorpusEntry>) -> Result<CorpusManifest, AudioError> {
    let manifest = CorpusManifest {
        schema_version: MANIFEST_SCHEMA,
        generator,
        sample_rate: CORPUS_RATE,
        bits_per_sample: CORPUS_BITS,
        words_per_minute: WORDS_PER_MINUTE,
        entries,
    };
    let path = dir.join("manifest.json");
    let error = |message: String| AudioError::File { path: path.display().to_string(), message };
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| error(e.to_string()))?;
    std::fs::write(&path, json + "\n").map_err(|e| error(e.to_string()))?;
    Ok(manifest)
}

fn slug(text: &str) -> String {
    let slug: String = text.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    slug.chars().take(40).collect::<String>().trim_matches('-').to_string()
}
