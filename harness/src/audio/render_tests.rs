//! Tests of the renderer (its own file: the renderer is long enough).

use proptest::prelude::{any, prop_assert, prop_assert_eq, proptest};

use super::*;

fn corpus() -> Corpus {
    Corpus::load(&Corpus::default_dir()).expect("corpus")
}

fn speech(corpus: &Corpus, rendering: &Rendering) -> (Vec<f32>, Vec<CorpusWord>) {
    let (_, line, words) =
        line_utterance(corpus, "what are your opening hours", "en-gb-scotland", "f").expect("phrase");
    prepare_speech(&line, &words, rendering).expect("prepare")
}

fn render(rendering: &Rendering, seed: u64, speech: &[f32], heard: &[i16]) -> Vec<i16> {
    let corpus = corpus();
    let mut mic =
        MicRenderer::new(rendering, &Network::ideal(), seed, &corpus, ("en-gb-scotland", "f")).expect("renderer");
    let frames = speech.len().max(heard.len()).div_ceil(FRAME);
    let mut out = Vec::new();
    for f in 0..frames {
        let mut s = speech.get(f * FRAME..).unwrap_or(&[]).to_vec();
        s.resize(FRAME, 0.0);
        let h = heard.get(f * FRAME..((f + 1) * FRAME).min(heard.len())).unwrap_or(&[]);
        out.extend(mic.frame(&s, h).expect("frame"));
    }
    out
}

#[test]
fn every_background_makes_a_bed_of_unit_power_without_the_callers_voice() {
    let corpus = corpus();
    for background in [Background::Babble, Background::Cafe, Background::Street, Background::Pink] {
        let bed = noise_bed(background, &mut Rng::new(5), &corpus, ("en-us", "f")).expect("bed");
        assert_eq!(bed.len(), BED_SECONDS * LINE_RATE as usize);
        assert!((mean_power(&bed) - 1.0).abs() < 1e-3, "{background:?}");
    }

    // A corpus of one voice: babble for that caller has nobody else to use.
    let source = Corpus::default_dir();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut manifest = corpus.manifest().clone();
    manifest.entries.retain(|e| e.accent == "en-us" && e.variant == "f");
    manifest.entries.truncate(3);
    for entry in &manifest.entries {
        let target = dir.path().join(&entry.file);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::copy(source.join(&entry.file), target).expect("copy");
    }
    std::fs::write(dir.path().join("manifest.json"), serde_json::to_string(&manifest).expect("json")).expect("write");
    let single = Corpus::load(dir.path()).expect("loads");
    let own = noise_bed(Background::Babble, &mut Rng::new(5), &single, ("en-us", "f")).expect("bed");
    assert!(own.iter().all(|&x| x == 0.0), "the caller's own voice is never babble");
    let other = noise_bed(Background::Babble, &mut Rng::new(5), &single, ("en-gb", "m")).expect("bed");
    assert!((mean_power(&other) - 1.0).abs() < 1e-3, "another caller hears that voice as babble");
}

#[test]
fn speech_is_levelled_and_speed_scales_duration_and_word_timings() {
    let corpus = corpus();
    let normal = Rendering::default();
    let (base, base_words) = speech(&corpus, &normal);
    let db = 10.0 * word_power(&base, &base_words).log10();
    assert!((db - normal.speech_dbfs).abs() < 0.01, "{db}");
    for speed in [0.9, 1.1] {
        let (fast, words) = speech(&corpus, &Rendering { speed, ..normal.clone() });
        let expected = base.len() as f64 / speed;
        assert!((fast.len() as f64 - expected).abs() <= 1.0, "{speed}: {} vs {expected}", fast.len());
        let last = (base_words.last().expect("words").end as f64 / speed).round() as usize;
        assert_eq!(words.last().expect("words").end, last.min(fast.len()));
    }
}

#[test]
fn invalid_renderings_are_refused_naming_the_field() {
    let bad = [
        (Rendering { output_rate: Some(44_100), ..Rendering::default() }, "output_rate"),
        (Rendering { speed: 1.3, ..Rendering::default() }, "speed"),
        (Rendering { speed: 1.005, ..Rendering::default() }, "speed"),
        (
            Rendering { noise: Some(NoiseMix { background: Background::Pink, snr_db: 99.0 }), ..Rendering::default() },
            "noise.snr_db",
        ),
    ];
    for hundredths in 90..=110 {
        let rendering = Rendering { speed: f64::from(hundredths) / 100.0, ..Rendering::default() };
        assert_eq!(rendering.validate(), Ok(()), "{hundredths}");
    }
    for (rendering, field) in bad {
        let error = rendering.validate().expect_err("invalid");
        assert!(error.contains(field), "{error}");
    }
}

#[test]
fn echo_adds_the_heard_audio_delayed_and_attenuated() {
    let rendering =
        Rendering { floor_dbfs: -200.0, echo: Some(Echo { level_db: -20.0, delay_ms: 40 }), ..Rendering::default() };
    let heard: Vec<i16> = (0..FRAME * 10).map(|i| if i == 0 { 10_000 } else { 0 }).collect();
    let out = render(&rendering, 1, &[], &heard);
    let delay = 40 * LINE_RATE as usize / 1000;
    assert!(out[..delay].iter().all(|&x| x == 0), "nothing before the acoustic delay");
    assert_eq!(out[delay], 1_000, "the direct path at -20 dB");
    assert_eq!(out[delay + 7 * 16], 400, "the first reflection");
}

#[test]
fn a_rendering_saved_before_the_network_model_still_loads() {
    let base = serde_json::to_value(Rendering::default()).expect("serialises");
    let with = |phone: serde_json::Value| {
        let mut value = base.clone();
        value["phone"] = phone;
        serde_json::from_value::<Rendering>(value)
    };
    assert!(!with(serde_json::Value::Null).expect("null").phone);
    let old = serde_json::json!({"loss_rate": 0.05, "jitter_ms": 30.0, "jitter_buffer_ms": 60.0});
    assert!(with(old).expect("old phone channel").phone);
    assert!(with(serde_json::json!(true)).expect("bool").phone);
    let error = with(serde_json::json!("yes")).expect_err("a string");
    assert!(error.to_string().contains("phone: expected true or false"), "{error}");
}

proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]

    #[test]
    fn the_noise_bed_gives_the_requested_snr_within_a_tenth_of_a_db(
        seed in any::<u64>(),
        snr in -10.0f64..40.0,
        background in proptest::sample::select(vec![Background::White, Background::Pink, Background::Brown,
            Background::Hum, Background::Babble, Background::Cafe, Background::Street]),
    ) {
        let corpus = corpus();
        let rendering = Rendering { noise: Some(NoiseMix { background, snr_db: snr }), ..Rendering::default() };
        let (speech, words) = speech(&corpus, &rendering);
        let mic = MicRenderer::new(&rendering, &Network::ideal(), seed, &corpus, ("en-gb-scotland", "f")).expect("renderer");
        let noise = mic.noise_power(0, BED_SECONDS * LINE_RATE as usize);
        let measured = 10.0 * (word_power(&speech, &words) / noise).log10();
        prop_assert!((measured - snr).abs() < 0.1, "{background:?}: {measured} dB for {snr} dB");
    }

    #[test]
    fn the_same_seed_gives_the_same_bytes_and_another_seed_other_bytes(
        seed in any::<u64>(),
        rate in proptest::sample::select(OUTPUT_RATES.to_vec()),
    ) {
        let corpus = corpus();
        let rendering = Rendering {
            output_rate: Some(rate),
            noise: Some(NoiseMix { background: Background::Cafe, snr_db: 10.0 }),
            phone: true,
            echo: Some(Echo { level_db: -25.0, delay_ms: 30 }),
            ..Rendering::default()
        };
        let (speech, _) = speech(&corpus, &rendering);
        let heard: Vec<i16> = (0..speech.len()).map(|i| ((i * 37) % 2_000) as i16 - 1_000).collect();
        let a = render(&rendering, seed, &speech, &heard);
        prop_assert_eq!(a.len(), speech.len().div_ceil(FRAME) * rate as usize / 50);
        prop_assert!(a == render(&rendering, seed, &speech, &heard));
        prop_assert!(a != render(&rendering, seed ^ 1, &speech, &heard));
    }
}
