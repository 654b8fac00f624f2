//! Band-limited resampling (rubato's FFT resampler).

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use super::AudioError;

/// Resample mono audio. The output has exactly `round(len * to / from)`
/// samples, so durations are kept to within one sample.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, AudioError> {
    let expected = ((samples.len() as u64 * u64::from(to) + u64::from(from) / 2) / u64::from(from.max(1))) as usize;
    if from == to || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let error = |message: String| AudioError::Resample { from, to, message };
    let mut resampler =
        Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Input).map_err(|e| error(e.to_string()))?;
    let input = InterleavedSlice::new(samples, 1, samples.len()).map_err(|e| error(e.to_string()))?;
    let output = resampler.process_all(&input, samples.len(), None).map_err(|e| error(e.to_string()))?;
    let mut data = output.take_data();
    data.resize(expected, 0.0);
    Ok(data)
}

/// Resampling a stream in fixed chunks (rubato's FFT resampler, which keeps
/// its state between chunks). Passes audio through when the rates match.
///
/// The FFT resampler's output per chunk varies by a sample or so at some
/// ratios (48 to 16 kHz gives 214, then 321, 321, ...), and its first chunk
/// is short by its delay; a small queue evens this out so that every chunk
/// in gives exactly `chunk * to / from` out, the start padded with silence.
pub struct StreamResampler {
    inner: Option<Fft<f32>>,
    from: u32,
    to: u32,
    chunk: usize,
    pending: std::collections::VecDeque<f32>,
}

impl StreamResampler {
    /// `chunk` input samples per call of [`StreamResampler::process`].
    pub fn new(from: u32, to: u32, chunk: usize) -> Result<Self, AudioError> {
        let inner = if from == to {
            None
        } else {
            let error = |message: String| AudioError::Resample { from, to, message };
            Some(
                Fft::<f32>::new(from as usize, to as usize, chunk, 1, FixedSync::Input)
                    .map_err(|e| error(e.to_string()))?,
            )
        };
        Ok(Self { inner, from, to, chunk, pending: std::collections::VecDeque::new() })
    }

    /// Exactly `chunk` samples in; `chunk * to / from` out.
    pub fn process(&mut self, input: &[f32]) -> Result<Vec<f32>, AudioError> {
        let Some(inner) = &mut self.inner else {
            return Ok(input.to_vec());
        };
        let (from, to) = (self.from, self.to);
        let error = |message: String| AudioError::Resample { from, to, message };
        if input.len() != self.chunk {
            return Err(error(format!("expected a chunk of {} samples, got {}", self.chunk, input.len())));
        }
        let adapter = InterleavedSlice::new(input, 1, input.len()).map_err(|e| error(e.to_string()))?;
        let output = inner.process(&adapter, None).map_err(|e| error(e.to_string()))?;
        self.pending.extend(output.take_data());
        let want = (self.chunk as u64 * u64::from(to) / u64::from(from)) as usize;
        let mut out = vec![0.0; want.saturating_sub(self.pending.len())];
        let take = want - out.len();
        out.extend(self.pending.drain(..take));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f32, rate: u32, len: usize) -> Vec<f32> {
        (0..len).map(|i| 0.5 * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin()).collect()
    }

    fn rms_db(x: &[f32]) -> f32 {
        10.0 * (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).log10()
    }

    #[test]
    fn keeps_duration_and_in_band_energy() {
        let input = tone(440.0, 22_050, 22_050);
        let output = resample(&input, 22_050, 16_000).expect("resample");
        assert_eq!(output.len(), 16_000);
        // Compare away from the edges.
        let inner = &output[1000..15_000];
        assert!((rms_db(inner) - rms_db(&input[1000..20_000])).abs() < 0.5);
    }

    proptest::proptest! {
        #[test]
        fn streaming_in_20_ms_chunks_keeps_length_and_in_band_energy(
            from in proptest::sample::select(vec![8_000u32, 16_000, 24_000, 48_000]),
            to in proptest::sample::select(vec![8_000u32, 16_000, 24_000, 48_000]),
            share in 0.025f32..0.25,
        ) {
            // Up to half the lower rate's Nyquist frequency (at 48 to 8 kHz the
            // FFT resampler is already 1 dB down at 2.7 kHz).
            let freq = share * from.min(to) as f32;
            let chunk = from as usize / 50;
            let input = tone(freq, from, chunk * 50);
            let mut stream = StreamResampler::new(from, to, chunk).expect("resampler");
            let mut output = Vec::new();
            for piece in input.chunks(chunk) {
                let out = stream.process(piece).expect("chunk");
                proptest::prop_assert_eq!(out.len(), chunk * to as usize / from as usize);
                output.extend(out);
            }
            // Skip the filter's start-up (its delay is a few ms).
            let (skip_in, skip_out) = (input.len() / 5, output.len() / 5);
            let db = rms_db(&output[skip_out..]) - rms_db(&input[skip_in..]);
            proptest::prop_assert!(db.abs() < 0.5, "{from} -> {to} at {freq} Hz: {db} dB");
        }
    }
}
