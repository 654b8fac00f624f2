//! Mono FLAC files for the speech corpus, with errors that name the file.
//!
//! The corpus is stored as 12-bit FLAC: lossless at that precision, whose
//! quantisation noise (about -77 dBFS) lies below the -65 dBFS microphone
//! floor every rendering adds. Reading widens samples to 16 bits.

use std::path::Path;

use super::AudioError;

fn file_error(path: &Path, message: impl std::fmt::Display) -> AudioError {
    AudioError::File { path: path.display().to_string(), message: message.to_string() }
}

/// Read a mono FLAC file: (samples widened to 16 bits, sample rate, stored
/// bits per sample).
pub fn read_flac(path: &Path) -> Result<(Vec<i16>, u32, u32), AudioError> {
    let mut reader =
        claxon::FlacReader::open(path).map_err(|e| file_error(path, format!("not a readable FLAC file: {e}")))?;
    let info = reader.streaminfo();
    if info.channels != 1 || !(4..=16).contains(&info.bits_per_sample) {
        return Err(file_error(
            path,
            format!(
                "expected mono FLAC of at most 16 bits, found {} channel(s) of {} bits",
                info.channels, info.bits_per_sample
            ),
        ));
    }
    let shift = 16 - info.bits_per_sample;
    let samples: Vec<i16> = reader
        .samples()
        .map(|s| s.map(|v| (v << shift) as i16))
        .collect::<Result<_, _>>()
        .map_err(|e| file_error(path, format!("corrupt or truncated audio data: {e}")))?;
    if let Some(declared) = info.samples
        && declared != samples.len() as u64
    {
        return Err(file_error(
            path,
            format!("truncated: the header declares {declared} samples, found {}", samples.len()),
        ));
    }
    Ok((samples, info.sample_rate, info.bits_per_sample))
}

/// Write mono samples as FLAC of `bits` bits (each sample is rounded to
/// that precision first). FLAC readers refuse a last block shorter than 16
/// samples, so up to 15 samples of silence may be added: returns how many
/// samples were written.
#[cfg(feature = "espeak")]
pub fn write_flac(path: &Path, samples: &[i16], sample_rate: u32, bits: u32) -> Result<usize, AudioError> {
    use flacenc::component::BitRepr;
    use flacenc::error::Verify;
    let shift = 16 - bits;
    let max = (1i32 << (bits - 1)) - 1;
    let mut narrow: Vec<i32> =
        samples.iter().map(|&s| ((f64::from(s) / f64::from(1 << shift)).round() as i32).clamp(-max - 1, max)).collect();
    let config = flacenc::config::Encoder::default()
        .into_verified()
        .map_err(|e| file_error(path, format!("FLAC encoder configuration: {e:?}")))?;
    let tail = narrow.len() % config.block_size;
    if (1..16).contains(&tail) {
        narrow.resize(narrow.len() + 16 - tail, 0);
    }
    let source = flacenc::source::MemSource::from_samples(&narrow, 1, bits as usize, sample_rate as usize);
    let stream = flacenc::encode_with_fixed_block_size(&config, source, config.block_size)
        .map_err(|e| file_error(path, format!("FLAC encoding failed: {e:?}")))?;
    let mut sink = flacenc::bitsink::ByteSink::new();
    stream.write(&mut sink).map_err(|e| file_error(path, format!("FLAC encoding failed: {e:?}")))?;
    std::fs::write(path, sink.as_slice()).map_err(|e| file_error(path, e))?;
    Ok(narrow.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_and_truncated_files_are_refused_by_name() {
        let corpus = super::super::Corpus::default_dir();
        let manifest = std::fs::read_to_string(corpus.join("manifest.json")).expect("manifest");
        let manifest: super::super::CorpusManifest = serde_json::from_str(&manifest).expect("json");
        let source = corpus.join(&manifest.entries[0].file);
        let (samples, rate, bits) = read_flac(&source).expect("a committed recording reads");
        assert_eq!((rate, bits, samples.len()), (manifest.sample_rate, 12, manifest.entries[0].samples));

        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("cut.flac");
        let bytes = std::fs::read(&source).expect("bytes");
        std::fs::write(&path, &bytes[..bytes.len() * 2 / 3]).expect("truncate");
        let error = read_flac(&path).expect_err("a truncated file must fail").to_string();
        assert!(error.contains("cut.flac") && (error.contains("truncated") || error.contains("corrupt")), "{error}");

        std::fs::write(&path, b"fLaC but not really").expect("junk");
        let error = read_flac(&path).expect_err("junk must fail").to_string();
        assert!(error.contains("cut.flac") && error.contains("not a readable FLAC"), "{error}");
    }
}
