//! End-to-end properties of the harness and the reference agent.

use std::path::{Path, PathBuf};

use voicegate::audio::Corpus;
use voicegate::checks::FindingKind;
use voicegate::record::CallRecord;
use voicegate::scenario::{RunOptions, Scenario, ScenarioResult, Status, load_features, run_scenarios};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn corpus() -> Corpus {
    Corpus::load(&Corpus::default_dir()).expect("the committed corpus loads")
}

fn scenarios(file: &str) -> Vec<Scenario> {
    load_features(&root().join("scenarios").join(file)).expect("the committed scenarios load")
}

fn run(scenarios: &[Scenario], options: RunOptions) -> Vec<ScenarioResult> {
    run_scenarios(scenarios, &corpus(), &options).expect("every step is known")
}

fn records(results: &[ScenarioResult]) -> Vec<String> {
    results.iter().flat_map(|r| r.calls.iter()).map(|c| c.outcome.record.to_jsonl()).collect()
}

#[test]
fn the_same_seed_gives_identical_call_records_and_another_seed_changes_them() {
    // Two barge-ins, and calls with noise, a lossy line and echo.
    let mut selected: Vec<Scenario> = scenarios("barge_in.feature").into_iter().take(2).collect();
    selected.extend(scenarios("caller_audio.feature").into_iter().filter(|s| {
        s.name.contains("Packet loss") || s.name.contains("own echo") || s.name.contains("Scottish caller in cafe")
    }));
    assert_eq!(selected.len(), 5);
    let first = records(&run(&selected, RunOptions { seed: 42, jobs: 2, ..RunOptions::default() }));
    let again = records(&run(&selected, RunOptions { seed: 42, jobs: 1, ..RunOptions::default() }));
    let other = records(&run(&selected, RunOptions { seed: 43, jobs: 2, ..RunOptions::default() }));
    assert_eq!(first, again, "same seed, same bytes, whatever the parallelism");
    for (a, b) in first.iter().zip(&other) {
        assert_ne!(a, b, "a different seed changes the call record");
    }
}

#[test]
fn keeping_the_generated_reply_fails_every_barge_in_scenario_naming_the_unheard_words() {
    let selected: Vec<Scenario> = scenarios("barge_in.feature")
        .into_iter()
        .filter(|s| s.steps.iter().any(|step| step.text.contains("interrupts")))
        .collect();
    assert!(selected.len() >= 10, "the barge-in scenarios");
    let honest = run(&selected, RunOptions::default());
    assert!(honest.iter().all(|r| r.status == Status::Passed), "the reference agent passes them");

    let broken = run(
        &selected,
        RunOptions { fault: Some(voicegate::faults::Fault::KeepGeneratedReply), ..RunOptions::default() },
    );
    for result in &broken {
        assert_eq!(result.status, Status::Failed, "{} must fail", result.scenario.name);
        let call = result.calls.first().expect("the call ran");
        let barge_in = call.report.barge_ins.first().expect("the caller barged in");
        let unheard: Vec<&String> = barge_in.history_words.iter().skip(barge_in.heard_words.len()).collect();
        assert!(!unheard.is_empty(), "history kept more than was heard");
        let finding = call
            .report
            .findings
            .iter()
            .find(|f| f.kind == FindingKind::Truncation)
            .unwrap_or_else(|| panic!("{}: no truncation finding", result.scenario.name));
        // Every word named as kept is one the caller never heard; a word that
        // ended within the line's round trip of the cut may go unnamed.
        let named: Vec<&str> = finding.message.split("[+").skip(1).filter_map(|rest| rest.split(']').next()).collect();
        assert!(!named.is_empty(), "{}", finding.message);
        for word in &named {
            assert!(unheard.iter().any(|u| u == word), "{} names {word:?}, which was heard", finding.message);
        }
        assert!(named.len() + 1 >= unheard.len(), "{} leaves out unheard words {unheard:?}", finding.message);
        assert!(finding.message.contains("kept words the caller never heard"), "{}", finding.message);
    }
}

#[test]
fn a_call_record_survives_a_json_lines_round_trip() {
    let selected: Vec<Scenario> = scenarios("conversation.feature").into_iter().take(1).collect();
    let results = run(&selected, RunOptions::default());
    let record = &results[0].calls[0].outcome.record;
    let text = record.to_jsonl();
    let parsed = CallRecord::from_jsonl(&text).expect("parses");
    assert_eq!(parsed.to_jsonl(), text);
    assert!(&parsed == record, "the parsed record equals the original");
    let error = CallRecord::from_jsonl("{\"t_us\":0,\"event\":\"call_started\"}\nnot json\n").expect_err("bad lines");
    assert!(error.starts_with("line 1:"), "{error}");
}

fn write_feature(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("case.feature");
    std::fs::write(&path, text).expect("write feature");
    path
}

fn cli(args: &[&str]) -> u8 {
    let mut all = vec!["voicegate"];
    all.extend_from_slice(args);
    voicegate::cli::run_cli(all)
}

#[test]
fn exit_codes_say_passed_failed_or_unusable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    let out = out.to_str().expect("utf-8 path");

    let passing = write_feature(
        dir.path(),
        "Feature: F\n  Scenario: S\n    Given the LLM answers \"weekends\" with \"Yes we do.\"\n    When the caller says \"do you deliver on weekends\"\n    Then the caller hears \"yes we do\"\n",
    );
    assert_eq!(cli(&["run", "--scenarios", passing.to_str().expect("utf-8"), "--out", out, "--no-regressions"]), 0);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out/report.json")).expect("report.json"))
            .expect("json");
    assert_eq!(report["schema_version"], 1);
    let scenario = &report["scenarios"][0];
    assert_eq!(scenario["status"], "passed");
    let turn = &scenario["calls"][0]["turns"][0];
    assert!(turn["latency_ms"].as_f64().expect("latency") > 0.0);
    assert!(turn["stages"]["end_of_turn_ms"].as_f64().is_some());
    assert!(std::fs::read_to_string(dir.path().join("out/junit.xml")).expect("junit").contains("<testcase"));
    assert!(std::fs::read_to_string(dir.path().join("out/summary.md")).expect("summary").contains("1 passed"));

    let failing = write_feature(
        dir.path(),
        "Feature: F\n  Scenario: S\n    When the caller says \"do you deliver on weekends\"\n    Then the caller hears \"we are closed on sundays\"\n",
    );
    assert_eq!(cli(&["run", "--scenarios", failing.to_str().expect("utf-8"), "--out", out]), 1);
    let junit = std::fs::read_to_string(dir.path().join("out/junit.xml")).expect("junit");
    assert!(junit.contains("<failure message=\"Then the caller hears"), "{junit}");

    let unknown = write_feature(dir.path(), "Feature: F\n  Scenario: S\n    When the caller sings \"hello\"\n");
    assert_eq!(cli(&["run", "--scenarios", unknown.to_str().expect("utf-8"), "--out", out]), 2);
    let malformed =
        write_feature(dir.path(), "Feature: F\n  Scenario: S\n    Given x\n  not gherkin at all\n    | a |\n");
    assert_eq!(cli(&["run", "--scenarios", malformed.to_str().expect("utf-8"), "--out", out]), 2);
    let missing_phrase = write_feature(
        dir.path(),
        "Feature: F\n  Scenario: S\n    When the caller says \"this phrase was never recorded\"\n    Then the caller hears \"hello\"\n",
    );
    assert_eq!(cli(&["run", "--scenarios", missing_phrase.to_str().expect("utf-8"), "--out", out]), 2);
    assert_eq!(cli(&["run", "--tags", "@a and", "--out", out]), 2);
    assert_eq!(cli(&["run", "--no-such-flag"]), 2);
}

#[test]
fn unknown_steps_and_missing_phrases_name_the_file_and_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_feature(dir.path(), "Feature: F\n  Scenario: S\n    When the caller sings \"hello\"\n");
    let loaded = load_features(&path).expect("valid Gherkin");
    let error = run_scenarios(&loaded, &corpus(), &RunOptions::default()).expect_err("unknown step").to_string();
    assert!(error.contains("case.feature:3: unknown step `When the caller sings \"hello\"`"), "{error}");

    let path = write_feature(
        dir.path(),
        "Feature: F\n  Scenario: S\n    When the caller says \"never recorded\"\n    Then the caller hears \"x\"\n",
    );
    let loaded = load_features(&path).expect("valid Gherkin");
    let results = run(&loaded, RunOptions::default());
    assert_eq!(results[0].status, Status::Error);
    let message = results[0].steps.iter().find_map(|s| s.message.clone()).expect("a message");
    assert!(
        message.contains("case.feature:3") && message.contains("never recorded") && message.contains("phrases.txt"),
        "{message}"
    );
}

#[test]
fn a_credential_canary_appears_in_no_report_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    let feature = root().join("scenarios").join("overlays.feature");
    let canary = "sk-CANARY-SECRET-5150";
    assert!(std::fs::read_to_string(&feature).expect("feature").contains(canary), "the scenario uploads the canary");
    let code = cli(&["run", "--scenarios", feature.to_str().expect("utf-8"), "--out", out.to_str().expect("utf-8")]);
    assert_eq!(code, 0);
    let mut files = vec![out.join("report.json"), out.join("junit.xml"), out.join("summary.md")];
    files.extend(std::fs::read_dir(out.join("records")).expect("records").map(|e| e.expect("entry").path()));
    assert!(files.len() > 3);
    for file in files {
        let text = std::fs::read_to_string(&file).expect("report file");
        assert!(!text.contains(canary), "{} shows the secret", file.display());
    }
}

/// A barge-in scenario run with the truncation bug, its fixtures in `out`.
/// The fixture folder of a run whose name starts with `prefix`.
fn fixture_named(out: &Path, prefix: &str) -> Option<PathBuf> {
    std::fs::read_dir(out.join("fixtures"))
        .ok()?
        .map(|entry| entry.expect("a fixture").path())
        .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(prefix)))
}

fn failing_run_with_fixtures(dir: &Path) -> (PathBuf, PathBuf) {
    let feature = write_feature(
        dir,
        "Feature: Fixtures\n  Scenario: Barge-in mid-reply\n    Given the caller has a Scottish accent\n    And the caller calls with cafe noise at 25 dB SNR\n    And the LLM answers \"opening hours\" with \"We are open from nine in the morning until half past five in the evening, Monday to Friday.\"\n    When the caller says \"what are your opening hours\"\n    And the caller interrupts 1.2 seconds into the agent's reply saying \"wait stop I have a different question\"\n    Then the agent's history holds only the words the caller heard\n",
    );
    let out = dir.join("out");
    let code = cli(&[
        "run",
        "--scenarios",
        feature.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
        "--agent-fault",
        "keep-generated-reply",
        "--no-regressions",
    ]);
    assert_eq!(code, 1, "the truncation bug fails the scenario");
    let fixtures: Vec<PathBuf> = std::fs::read_dir(out.join("fixtures"))
        .expect("a fixtures folder")
        .map(|entry| entry.expect("a fixture").path())
        .collect();
    assert_eq!(fixtures.len(), 1, "one failed call, one fixture: {fixtures:?}");
    let name = fixtures[0].file_name().and_then(|n| n.to_str()).expect("utf-8 name");
    assert!(name.starts_with("case-barge-in-mid-reply-") && name.ends_with("-1"), "{name}");
    (feature, fixtures[0].clone())
}

#[test]
fn a_failing_scenario_leaves_a_fixture_that_replays_to_the_same_failure() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, fixture_dir) = failing_run_with_fixtures(dir.path());
    let fixture = voicegate::fixture::Fixture::load(&fixture_dir).expect("the fixture loads and matches its files");
    let m = &fixture.manifest;
    assert_eq!(m.verdict.status, Status::Failed);
    assert!(m.failed_step.as_deref().is_some_and(|s| s.contains("holds only the words the caller heard")));
    assert_eq!((m.accent.as_str(), m.rendering.noise.map(|n| n.snr_db)), ("en-gb-scotland", Some(25.0)));
    assert_eq!(m.ground_truth.len(), 2, "both utterances with their words");
    assert!(m.ground_truth.iter().all(|u| u.snr_db.is_some() && !u.words.is_empty()));

    let replay = voicegate::fixture::replay(&fixture, &corpus()).expect("replays");
    assert!(replay.reproduced(), "{:?}", replay.first_difference);
    assert_eq!(replay.verdict, m.verdict);
    assert_eq!(cli(&["replay", fixture_dir.to_str().expect("utf-8")]), 0);
    assert_eq!(cli(&["fixtures", "inspect", fixture_dir.to_str().expect("utf-8")]), 0);

    // A fixture whose seed was edited does not reproduce, and says so.
    let manifest_path = fixture_dir.join("manifest.json");
    let mut edited: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).expect("manifest")).expect("json");
    edited["seed"] = serde_json::json!(m.seed ^ 1);
    std::fs::write(&manifest_path, serde_json::to_string(&edited).expect("json")).expect("write");
    let changed = voicegate::fixture::Fixture::load(&fixture_dir).expect("still consistent with its files");
    let replay = voicegate::fixture::replay(&changed, &corpus()).expect("replays");
    assert!(!replay.same_record && !replay.same_caller_audio && replay.first_difference.is_some());
    assert_eq!(cli(&["replay", fixture_dir.to_str().expect("utf-8")]), 1);
}

#[test]
fn corrupt_or_mismatched_fixture_files_are_refused_by_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, fixture_dir) = failing_run_with_fixtures(dir.path());
    let load_error = |dir: &Path| voicegate::fixture::Fixture::load(dir).expect_err("must be refused").to_string();
    let copy = |name: &str| {
        let target = dir.path().join(name);
        std::fs::create_dir_all(&target).expect("mkdir");
        for file in ["manifest.json", "caller.wav", "agent.wav", "events.jsonl"] {
            std::fs::copy(fixture_dir.join(file), target.join(file)).expect("copy");
        }
        target
    };

    let truncated = copy("truncated");
    let wav = std::fs::read(truncated.join("caller.wav")).expect("wav");
    std::fs::write(truncated.join("caller.wav"), &wav[..wav.len() / 2]).expect("truncate");
    let error = load_error(&truncated);
    assert!(error.contains("caller.wav") && error.contains("truncated"), "{error}");

    let junk = copy("junk");
    std::fs::write(junk.join("agent.wav"), b"not a wav").expect("junk");
    let error = load_error(&junk);
    assert!(error.contains("agent.wav") && error.contains("not a readable WAV"), "{error}");

    let other_audio = copy("other-audio");
    let (mut samples, rate) = voicegate::audio::read_wav(&other_audio.join("caller.wav")).expect("read");
    samples[1000] = samples[1000].wrapping_add(1);
    voicegate::audio::write_wav(&other_audio.join("caller.wav"), &samples, rate).expect("write");
    let error = load_error(&other_audio);
    assert!(error.contains("caller.wav") && error.contains("does not match the manifest"), "{error}");

    let other_rate = copy("other-rate");
    let (samples, _) = voicegate::audio::read_wav(&other_rate.join("agent.wav")).expect("read");
    voicegate::audio::write_wav(&other_rate.join("agent.wav"), &samples, 8_000).expect("write");
    let error = load_error(&other_rate);
    assert!(error.contains("agent.wav") && error.contains("sample rate 8000"), "{error}");

    let edited_events = copy("edited-events");
    let events = std::fs::read_to_string(edited_events.join("events.jsonl")).expect("events");
    std::fs::write(edited_events.join("events.jsonl"), events.replacen("what", "when", 1)).expect("write");
    let error = load_error(&edited_events);
    assert!(error.contains("events.jsonl") && error.contains("does not match the manifest"), "{error}");

    let broken_manifest = copy("broken-manifest");
    std::fs::write(broken_manifest.join("manifest.json"), "{\"schema_version\": 1,").expect("write");
    let error = load_error(&broken_manifest);
    assert!(error.contains("manifest.json") && error.contains("not a fixture manifest"), "{error}");
    assert_eq!(cli(&["replay", broken_manifest.to_str().expect("utf-8")]), 2);
}

#[test]
fn a_promoted_fixture_is_replayed_by_every_run_and_catches_the_bug_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (feature, fixture_dir) = failing_run_with_fixtures(dir.path());
    let regressions = dir.path().join("regressions");
    let regressions_arg = regressions.to_str().expect("utf-8");
    let fixture_arg = fixture_dir.to_str().expect("utf-8");
    assert_eq!(cli(&["fixtures", "promote", fixture_arg, "--name", "keeps-unheard", "--to", regressions_arg]), 0);
    assert_eq!(
        cli(&["fixtures", "promote", fixture_arg, "--name", "keeps-unheard", "--to", regressions_arg]),
        2,
        "an existing regression is never overwritten"
    );
    assert_eq!(cli(&["fixtures", "promote", fixture_arg, "--name", "../escape", "--to", regressions_arg]), 2);

    // A passing scenario file; the regression is replayed beside it.
    let passing = dir.path().join("passing.feature");
    std::fs::write(
        &passing,
        "Feature: F\n  Scenario: S\n    Given the LLM answers \"weekends\" with \"Yes we do.\"\n    When the caller says \"do you deliver on weekends\"\n    Then the caller hears \"yes we do\"\n",
    )
    .expect("write");
    let out = dir.path().join("out2");
    let run = |fault: bool| {
        let mut args = vec![
            "run",
            "--scenarios",
            passing.to_str().expect("utf-8"),
            "--out",
            out.to_str().expect("utf-8"),
            "--regressions",
            regressions_arg,
        ];
        if fault {
            args.extend(["--agent-fault", "keep-generated-reply"]);
        }
        cli(&args)
    };
    assert_eq!(run(false), 0, "the fixed agent passes the regression");
    let report = std::fs::read_to_string(out.join("report.json")).expect("report");
    assert!(report.contains("Regressions") && report.contains("keeps-unheard"), "the regression is in the report");
    assert!(fixture_named(&out, "passing-s-").is_none(), "passing calls leave no fixture by default");
    assert_eq!(cli(&["fixtures", "list", regressions_arg]), 0);
    assert_eq!(run(true), 1, "the bug, brought back, is caught by the regression");
    let caught = std::fs::read_dir(out.join("fixtures"))
        .expect("the failing regression left a fixture")
        .map(|e| e.expect("entry").path())
        .find(|p| p.to_string_lossy().contains("keeps-unheard"))
        .expect("a fixture of the regression");
    assert_eq!(cli(&["replay", caught.to_str().expect("utf-8")]), 0, "and that fixture replays too");
    let _ = feature;

    let all = cli(&[
        "run",
        "--scenarios",
        passing.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
        "--no-regressions",
        "--keep-fixtures",
        "all",
    ]);
    assert_eq!(all, 0);
    let kept = fixture_named(&out, "passing-s-").expect("the passing call's fixture is kept");
    let kept = voicegate::fixture::Fixture::load(&kept).expect("kept");
    assert_eq!(kept.manifest.verdict.status, Status::Passed);
}

#[test]
fn an_interruption_that_cannot_happen_is_a_scenario_error_naming_why() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The greeting lasts about four seconds: nobody can cut in ten seconds into it.
    let path = write_feature(
        dir.path(),
        "Feature: F\n  Scenario: S\n    When the caller interrupts 10.0 seconds into the agent's reply saying \"what are your opening hours\"\n    Then the agent stops speaking within 400 ms of the interruption\n",
    );
    let results = run(&load_features(&path).expect("valid Gherkin"), RunOptions::default());
    assert_eq!(results[0].status, Status::Error);
    let message = results[0].steps.iter().find_map(|s| s.message.clone()).expect("a message");
    assert!(message.contains("before the interruption point"), "{message}");
    assert!(message.contains("the step at line 3 cannot be carried out"), "the step that wrote it: {message}");

    // The no-input prompt began before the interrupting step did.
    let path = write_feature(
        dir.path(),
        "Feature: F\n  Scenario: S\n    Given the agent re-prompts after 3 seconds of silence\n    When the caller stays silent for 3 seconds\n    And the caller interrupts 0.2 seconds into the agent's reply saying \"what are your opening hours\"\n    Then the agent's history holds only the words the caller heard\n",
    );
    let results = run(&load_features(&path).expect("valid Gherkin"), RunOptions::default());
    assert_eq!(results[0].status, Status::Error, "{:?}", results[0].steps);
    let message = results[0].steps.iter().find_map(|s| s.message.clone()).expect("a message");
    assert!(message.contains("cannot interrupt at 200 ms into the agent's reply"), "{message}");
    assert!(message.contains("the step at line 5"), "{message}");
}

#[test]
fn scenarios_whose_names_share_a_long_start_keep_separate_fixtures() {
    let long = "The caller asks about the opening hours on a quiet line and the agent answers";
    let scenario = |suffix: &str| Scenario {
        feature: "Collide".into(),
        name: format!("{long} {suffix}"),
        file: "scenarios/collide.feature".into(),
        line: 3,
        tags: vec![],
        steps: vec![],
    };
    let (a, b) = (scenario("A"), scenario("B"));
    assert_ne!(voicegate::fixture::fixture_name(&a, 0), voicegate::fixture::fixture_name(&b, 0));
    assert_eq!(voicegate::fixture::fixture_name(&a, 0), voicegate::fixture::fixture_name(&a.clone(), 0));
}

#[test]
fn a_closed_stdout_stops_the_output_not_the_program() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_voicegate"))
        .args(["corpus", "list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    // Read one byte, then close the pipe, as `| head -c 1` does.
    let mut first = [0u8; 1];
    child.stdout.take().expect("stdout").read_exact(&mut first).expect("some output");
    let status = child.wait().expect("exits");
    let mut stderr = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("stderr");
    assert!(status.success(), "{status}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn every_committed_regression_fixture_replays_bit_for_bit() {
    // A fixture that no longer reproduces (the record's shape or the
    // caller's audio changed) must be re-recorded and promoted again, or
    // `voicegate replay` on it would mislead whoever reproduces the bug.
    let dirs = voicegate::fixture::regression_dirs(&root().join("audio-fixtures/regressions")).expect("readable");
    assert!(!dirs.is_empty(), "the project ships at least one regression fixture");
    for dir in dirs {
        let fixture = voicegate::fixture::Fixture::load(&dir).expect("the committed fixture loads");
        let replay = voicegate::fixture::replay(&fixture, &corpus()).expect("it replays");
        assert!(
            replay.reproduced(),
            "{} no longer reproduces: re-record it with its agent fault and promote it again\n{}",
            dir.display(),
            replay.first_difference.unwrap_or_default()
        );
    }
}

#[test]
fn an_out_that_cannot_be_a_folder_is_refused_as_usage_before_any_call() {
    // The binary's own message says the refusal came from the check made
    // before any call: a late failure would be the operating system's
    // bare "Not a directory", after the calls (a canary's whole bake).
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a folder").expect("write");
    let out = file.join("reports");
    let out = out.to_str().expect("utf-8");
    let scenarios = root().join("scenarios/barge_in.feature");
    let calls = root().join("no-such-calls.jsonl");
    let calls = calls.to_str().expect("utf-8");
    for args in [
        vec!["run", "--scenarios", scenarios.to_str().expect("utf-8"), "--no-regressions"],
        vec!["traffic", "--calls", "1"],
        vec!["canary", "run", "--stable", "support@1.1.0", "--canary", "support@1.2.0"],
        vec!["compare", "--stable", calls, "--canary", calls],
    ] {
        let ran = std::process::Command::new(env!("CARGO_BIN_EXE_voicegate"))
            .args(&args)
            .args(["--out", out])
            .output()
            .expect("the binary runs");
        let stderr = String::from_utf8_lossy(&ran.stderr);
        assert_eq!(ran.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(&format!("--out {out}: cannot create the report folder")), "{args:?}: {stderr}");
    }
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "not a folder", "the file is untouched");
}
