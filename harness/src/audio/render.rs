//! The renderer: the caller's microphone and line, pure and seeded.
//!
//! Utterances are prepared before the call ([`prepare_speech`]): levelled so
//! that their words have the rendering's speech level, sped up or slowed
//! down by resampling. During the call the caller feeds the renderer one
//! 20 ms frame at a time ([`MicRenderer::frame`]): the frame's speech, plus
//! a looped noise bed scaled to the exact SNR, plus the echo of what the
//! caller heard, plus the microphone's own floor; then the phone codec, if
//! on a phone line (300–3400 Hz, 8 kHz µ-law); then the network's uplink
//! packets (bursty loss and jitter, concealed); then the output rate. The same rendering, seed and inputs give the same bytes.

use serde::{Deserialize, Serialize};

use super::channel::{PHONE_RATE, PhoneCodec};
use super::noise::{NoiseKind, mean_power, noise};
use super::resample::StreamResampler;
use super::{AudioError, Corpus, CorpusWord, LINE_RATE, resample, to_f32, to_i16};
use crate::line::{Network, PacketFate, PacketPath};
use crate::seed::Rng;

/// The noise bed loops with this period.
pub const BED_SECONDS: usize = 8;
/// One caller frame at the line rate (20 ms).
pub const FRAME: usize = LINE_RATE as usize / 50;
pub const OUTPUT_RATES: [u32; 4] = [8_000, 16_000, 24_000, 48_000];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Background {
    White,
    Pink,
    Brown,
    Hum,
    /// Six other talkers from the corpus.
    Babble,
    /// Babble, room tone and the clink of cups.
    Cafe,
    /// Traffic rumble with passing vehicles, and distant talkers.
    Street,
}

impl Background {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "white" => Self::White,
            "pink" => Self::Pink,
            "brown" | "brownian" => Self::Brown,
            "hum" | "mains hum" | "mains" => Self::Hum,
            "babble" => Self::Babble,
            "cafe" | "café" => Self::Cafe,
            "street" => Self::Street,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoiseMix {
    pub background: Background,
    /// Speech level over noise level, dB.
    pub snr_db: f64,
}

/// The agent's voice leaking from the caller's earpiece into the microphone.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Echo {
    /// Level of the echo relative to what the caller hears, dB (negative).
    pub level_db: f64,
    /// Acoustic delay from earpiece to microphone, ms.
    pub delay_ms: u32,
}

/// Every parameter of the caller's audio; saved with each fixture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rendering {
    /// The rate the agent is sent: 8, 16, 24 or 48 kHz; `None` for the
    /// line's own rate (8 kHz over a phone line, else the 16 kHz line rate).
    pub output_rate: Option<u32>,
    /// RMS level of the caller's words, dBFS.
    pub speech_dbfs: f64,
    /// RMS level of the microphone's own noise, dBFS.
    pub floor_dbfs: f64,
    /// Speaking speed (0.9 to 1.1), by resampling.
    pub speed: f64,
    pub noise: Option<NoiseMix>,
    /// Over a phone line: 8 kHz G.711 µ-law in the telephone band, both ways.
    #[serde(default, deserialize_with = "phone_line")]
    pub phone: bool,
    pub echo: Option<Echo>,
}

/// `phone` as written now (a boolean) or before the network was modelled
/// (`null`, or the phone channel's loss and jitter settings, which now
/// belong to the network).
fn phone_line<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Bool(on) => Ok(on),
        serde_json::Value::Null => Ok(false),
        serde_json::Value::Object(_) => Ok(true),
        other => Err(serde::de::Error::custom(format!("phone: expected true or false, got {other}"))),
    }
}

impl Default for Rendering {
    fn default() -> Self {
        Self {
            output_rate: None,
            speech_dbfs: -20.0,
            floor_dbfs: -65.0,
            speed: 1.0,
            noise: None,
            phone: false,
            echo: None,
        }
    }
}

impl Rendering {
    /// The rate the agent is sent.
    pub fn rate(&self) -> u32 {
        self.output_rate.unwrap_or(if self.phone { PHONE_RATE } else { LINE_RATE })
    }

    /// Refuse parameters the renderer cannot honour, naming the field.
    pub fn validate(&self) -> Result<(), String> {
        if !OUTPUT_RATES.contains(&self.rate()) {
            return Err(format!("output_rate {} Hz: expected one of 8000, 16000, 24000, 48000", self.rate()));
        }
        let hundredths = self.speed * 100.0;
        if !(0.9..=1.1).contains(&self.speed) || (hundredths.round() - hundredths).abs() > 1e-6 {
            return Err(format!("speed {}: expected 0.9 to 1.1 in steps of 0.01", self.speed));
        }
        if !(-60.0..=-3.0).contains(&self.speech_dbfs) {
            return Err(format!("speech_dbfs {}: expected -60 to -3 dBFS", self.speech_dbfs));
        }
        if let Some(noise) = &self.noise
            && !(-20.0..=60.0).contains(&noise.snr_db)
        {
            return Err(format!("noise.snr_db {}: expected -20 to 60 dB", noise.snr_db));
        }
        if let Some(echo) = &self.echo
            && (echo.level_db > 0.0 || echo.delay_ms > 500)
        {
            return Err(format!(
                "echo level {} dB, delay {} ms: expected at most 0 dB and 500 ms",
                echo.level_db, echo.delay_ms
            ));
        }
        Ok(())
    }
}

pub(crate) fn db_to_power(db: f64) -> f64 {
    10f64.powf(db / 10.0)
}

/// The corpus recording of `text` at the line rate, with its word timings.
pub fn line_utterance(
    corpus: &Corpus,
    text: &str,
    accent: &str,
    variant: &str,
) -> Result<(String, Vec<f32>, Vec<CorpusWord>), AudioError> {
    let utterance = corpus.utterance(text, accent, variant)?;
    let scale = |x: usize| (x as u64 * u64::from(LINE_RATE) / u64::from(utterance.sample_rate)) as usize;
    let samples = resample(&to_f32(&utterance.samples), utterance.sample_rate, LINE_RATE)?;
    let words = utterance
        .words
        .iter()
        .map(|w| CorpusWord { text: w.text.clone(), start: scale(w.start), end: scale(w.end) })
        .collect();
    Ok((utterance.text, samples, words))
}

/// Mean power over the words of an utterance (its active speech).
pub fn word_power(samples: &[f32], words: &[CorpusWord]) -> f64 {
    let (mut sum, mut count) = (0.0, 0usize);
    for word in words {
        let span = &samples[word.start.min(samples.len())..word.end.min(samples.len())];
        sum += span.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>();
        count += span.len();
    }
    if count == 0 { 0.0 } else { sum / count as f64 }
}

/// An utterance at the line rate made ready to speak: sped up or slowed down
/// (which scales its word timings) and levelled to `speech_dbfs` over its
/// words.
pub fn prepare_speech(
    samples: &[f32],
    words: &[CorpusWord],
    rendering: &Rendering,
) -> Result<(Vec<f32>, Vec<CorpusWord>), AudioError> {
    let (mut samples, words) = if (rendering.speed - 1.0).abs() < 1e-9 {
        (samples.to_vec(), words.to_vec())
    } else {
        // Played `speed` times faster: as if recorded at `speed * rate`.
        let from = (f64::from(LINE_RATE) * rendering.speed).round() as u32;
        let out = resample(samples, from, LINE_RATE)?;
        let scale = |x: usize| (x as f64 / rendering.speed).round() as usize;
        let words = words
            .iter()
            .map(|w| CorpusWord { text: w.text.clone(), start: scale(w.start), end: scale(w.end).min(out.len()) })
            .collect();
        (out, words)
    };
    let power = word_power(&samples, &words);
    if power > 0.0 {
        let gain = (db_to_power(rendering.speech_dbfs) / power).sqrt() as f32;
        samples.iter_mut().for_each(|x| *x *= gain);
    }
    Ok((samples, words))
}

/// Other talkers from the corpus, each saying phrase after phrase with short
/// gaps, summed; never the caller's own voice.
fn babble(
    talkers: usize,
    len: usize,
    rng: &mut Rng,
    corpus: &Corpus,
    caller: (&str, &str),
) -> Result<Vec<f32>, AudioError> {
    let entries: Vec<_> =
        corpus.manifest().entries.iter().filter(|e| (e.accent.as_str(), e.variant.as_str()) != caller).collect();
    let mut bed = vec![0.0f32; len];
    if entries.is_empty() {
        return Ok(bed);
    }
    for _ in 0..talkers {
        let mut at = rng.below(LINE_RATE as u64) as usize;
        let voice = entries[rng.below(entries.len() as u64) as usize];
        while at < len {
            let phrase = entries[rng.below(entries.len() as u64) as usize];
            let speech = corpus.at_line_rate(&phrase.text, &voice.accent, &voice.variant)?;
            let gain = (0.5 + rng.unit()) as f32;
            // The bed loops, so speech running off the end wraps round.
            for (i, &x) in speech.iter().enumerate() {
                bed[(at + i) % len] += gain * x;
            }
            at += speech.len() + (LINE_RATE as usize / 10) * (1 + rng.below(6) as usize);
        }
    }
    Ok(bed)
}

fn normalised(mut signal: Vec<f32>) -> Vec<f32> {
    let power = mean_power(&signal);
    if power > 0.0 {
        let gain = (1.0 / power).sqrt() as f32;
        signal.iter_mut().for_each(|x| *x *= gain);
    }
    signal
}

fn add(into: &mut [f32], other: &[f32], gain: f32) {
    into.iter_mut().zip(other).for_each(|(a, &b)| *a += gain * b);
}

/// `BED_SECONDS` of background at unit power, at the line rate.
pub fn noise_bed(
    background: Background,
    rng: &mut Rng,
    corpus: &Corpus,
    caller: (&str, &str),
) -> Result<Vec<f32>, AudioError> {
    let len = BED_SECONDS * LINE_RATE as usize;
    let basic = |kind, rng: &mut Rng| noise(kind, len, LINE_RATE, rng);
    let bed = match background {
        Background::White => basic(NoiseKind::White, rng),
        Background::Pink => basic(NoiseKind::Pink, rng),
        Background::Brown => basic(NoiseKind::Brown, rng),
        Background::Hum => basic(NoiseKind::Hum, rng),
        Background::Babble => babble(6, len, rng, corpus, caller)?,
        Background::Cafe => {
            let mut bed = normalised(babble(6, len, rng, corpus, caller)?);
            add(&mut bed, &basic(NoiseKind::Pink, rng), 0.5);
            // Cups and cutlery: short decaying rings every half second or so.
            let mut at = 0usize;
            while at < len {
                let (f1, f2) = (2_000.0 + 2_000.0 * rng.unit(), 4_500.0 + 2_000.0 * rng.unit());
                for i in 0..(LINE_RATE as usize / 20).min(len - at) {
                    let t = i as f64 / f64::from(LINE_RATE);
                    let ring = (std::f64::consts::TAU * f1 * t).sin() + 0.6 * (std::f64::consts::TAU * f2 * t).sin();
                    bed[at + i] += (1.5 * ring * (-t / 0.012).exp()) as f32;
                }
                at += LINE_RATE as usize / 4 + rng.below(u64::from(LINE_RATE)) as usize;
            }
            bed
        }
        Background::Street => {
            let mut bed = basic(NoiseKind::Brown, rng);
            // Vehicles passing every few seconds swell the rumble.
            let period = (3.0 + 3.0 * rng.unit()) * f64::from(LINE_RATE);
            let phase = rng.unit() * std::f64::consts::TAU;
            for (i, x) in bed.iter_mut().enumerate() {
                let swell = (std::f64::consts::PI * i as f64 / period + phase).sin().powi(2);
                *x *= (0.4 + 1.2 * swell) as f32;
            }
            add(&mut bed, &basic(NoiseKind::Pink, rng), 0.3);
            add(&mut bed, &normalised(babble(3, len, rng, corpus, caller)?), 0.3);
            bed
        }
    };
    Ok(normalised(bed))
}

/// The caller's microphone and line, one 20 ms frame at a time.
pub struct MicRenderer {
    rendering: Rendering,
    /// The noise bed at its mixing level (empty without noise).
    bed: Vec<f32>,
    floor_sigma: f32,
    floor_rng: Rng,
    /// What the caller heard, most recent last, for the echo path.
    echo_line: std::collections::VecDeque<f32>,
    echo_taps: Vec<(usize, f32)>,
    position: usize,
    phone: Option<PhoneCodec>,
    uplink: PacketPath,
    to_output: StreamResampler,
}

impl MicRenderer {
    /// `caller` is the caller's (accent, variant): babble never uses it.
    pub fn new(
        rendering: &Rendering,
        network: &Network,
        seed: u64,
        corpus: &Corpus,
        caller: (&str, &str),
    ) -> Result<Self, AudioError> {
        let invalid = |message: String| AudioError::Render { message };
        rendering.validate().map_err(invalid)?;
        network.validate().map_err(invalid)?;
        let bed = match &rendering.noise {
            Some(mix) => {
                let unit = noise_bed(mix.background, &mut Rng::derive(seed, "noise-bed"), corpus, caller)?;
                let gain = db_to_power(rendering.speech_dbfs - mix.snr_db).sqrt() as f32;
                unit.into_iter().map(|x| x * gain).collect()
            }
            None => Vec::new(),
        };
        let echo_taps = match &rendering.echo {
            Some(echo) => {
                let gain = 10f64.powf(echo.level_db / 20.0) as f32;
                let ms = |ms: u32| (ms * LINE_RATE / 1000) as usize;
                // The direct path and two room reflections.
                vec![
                    (ms(echo.delay_ms), gain),
                    (ms(echo.delay_ms + 7), gain * 0.4),
                    (ms(echo.delay_ms + 17), gain * 0.2),
                ]
            }
            None => Vec::new(),
        };
        let phone = if rendering.phone { Some(PhoneCodec::new(LINE_RATE)?) } else { None };
        let (line_rate, chunk) = if phone.is_some() { (PHONE_RATE, 160) } else { (LINE_RATE, FRAME) };
        let uplink = PacketPath::new(
            network.uplink_loss,
            network.jitter_ms,
            f64::from(network.jitter_buffer_ms),
            Rng::derive(seed, "uplink-packets"),
        );
        Ok(Self {
            rendering: rendering.clone(),
            bed,
            floor_sigma: 10f64.powf(rendering.floor_dbfs / 20.0) as f32,
            floor_rng: Rng::derive(seed, "mic-floor"),
            echo_line: std::collections::VecDeque::new(),
            echo_taps,
            position: 0,
            phone,
            uplink,
            to_output: StreamResampler::new(line_rate, rendering.rate(), chunk)?,
        })
    }

    pub fn output_rate(&self) -> u32 {
        self.rendering.rate()
    }

    /// The next 20 ms: `speech` (the caller's words, `FRAME` samples at the
    /// line rate, levelled) and `heard` (what the caller heard over the same
    /// 20 ms) in; what the agent receives, at the output rate, out.
    pub fn frame(&mut self, speech: &[f32], heard: &[i16]) -> Result<Vec<i16>, AudioError> {
        let mut mic = vec![0.0f32; FRAME];
        add(&mut mic, speech, 1.0);
        if !self.bed.is_empty() {
            let len = self.bed.len();
            mic.iter_mut().enumerate().for_each(|(i, x)| *x += self.bed[(self.position + i) % len]);
        }
        if !self.echo_taps.is_empty() {
            let longest = self.echo_taps.iter().map(|t| t.0).max().unwrap_or(0);
            for (i, x) in mic.iter_mut().enumerate() {
                let sample = heard.get(i).map_or(0.0, |&h| f32::from(h) / 32768.0);
                self.echo_line.push_back(sample);
                if self.echo_line.len() > longest + 1 {
                    self.echo_line.pop_front();
                }
                let newest = self.echo_line.len() - 1;
                for &(delay, gain) in &self.echo_taps {
                    if let Some(&past) = newest.checked_sub(delay).and_then(|at| self.echo_line.get(at)) {
                        *x += gain * past;
                    }
                }
            }
        }
        self.floor_rng.add_quantised_normal(&mut mic, self.floor_sigma);
        self.position += FRAME;
        let mut packet = match &mut self.phone {
            Some(phone) => phone.frame(&mic)?,
            None => to_i16(&mic),
        };
        self.uplink.packet(&mut packet);
        Ok(to_i16(&self.to_output.process(&to_f32(&packet))?))
    }

    /// Mean power of the noise bed over timeline samples `start..end`.
    pub fn noise_power(&self, start: usize, end: usize) -> f64 {
        if self.bed.is_empty() || end <= start {
            return 0.0;
        }
        let len = self.bed.len();
        (start..end).map(|i| f64::from(self.bed[i % len]).powi(2)).sum::<f64>() / (end - start) as f64
    }

    /// Uplink packets lost or late so far; packet k carries timeline frame k.
    pub fn packet_fate(&self) -> &PacketFate {
        &self.uplink.fate
    }
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
