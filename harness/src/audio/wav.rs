//! Mono 16-bit WAV files, with errors that name the file.

use std::path::Path;

use super::AudioError;

fn file_error(path: &Path, message: impl std::fmt::Display) -> AudioError {
    AudioError::File { path: path.display().to_string(), message: message.to_string() }
}

/// Read a mono 16-bit PCM WAV file: (samples, sample rate).
pub fn read_wav(path: &Path) -> Result<(Vec<i16>, u32), AudioError> {
    let reader = hound::WavReader::open(path).map_err(|e| file_error(path, format!("not a readable WAV file: {e}")))?;
    let spec = reader.spec();
    if spec.channels != 1 || spec.bits_per_sample != 16 || spec.sample_format != hound::SampleFormat::Int {
        return Err(file_error(
            path,
            format!(
                "expected mono 16-bit PCM, found {} channel(s), {} bit {:?}",
                spec.channels, spec.bits_per_sample, spec.sample_format
            ),
        ));
    }
    let declared = reader.len();
    let samples: Vec<i16> = reader
        .into_samples::<i16>()
        .collect::<Result<_, _>>()
        .map_err(|e| file_error(path, format!("corrupt or truncated audio data: {e}")))?;
    if samples.len() != declared as usize {
        return Err(file_error(
            path,
            format!("truncated: header declares {declared} samples, found {}", samples.len()),
        ));
    }
    Ok((samples, spec.sample_rate))
}

pub fn write_wav(path: &Path, samples: &[i16], sample_rate: u32) -> Result<(), AudioError> {
    let spec =
        hound::WavSpec { channels: 1, sample_rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut writer = hound::WavWriter::create(path, spec).map_err(|e| file_error(path, e))?;
    for &sample in samples {
        writer.write_sample(sample).map_err(|e| file_error(path, e))?;
    }
    writer.finalize().map_err(|e| file_error(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_clear_errors_for_truncated_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("a.wav");
        let samples: Vec<i16> = (0..1000).map(|i| (i * 13 % 2000 - 1000) as i16).collect();
        write_wav(&path, &samples, 16_000).expect("write");
        assert_eq!(read_wav(&path).expect("read"), (samples, 16_000));

        let bytes = std::fs::read(&path).expect("read bytes");
        std::fs::write(&path, &bytes[..bytes.len() - 101]).expect("truncate");
        let error = read_wav(&path).expect_err("truncated file must fail").to_string();
        assert!(error.contains("a.wav") && error.contains("truncated"), "{error}");

        std::fs::write(&path, b"RIFF nonsense").expect("write junk");
        let error = read_wav(&path).expect_err("junk must fail").to_string();
        assert!(error.contains("a.wav") && error.contains("not a readable WAV"), "{error}");
    }
}
