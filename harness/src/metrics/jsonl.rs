//! `calls.jsonl`: one [`CallMetrics`] a line. Reading refuses, naming the
//! file and line, a malformed line, a missing field, a schema newer than
//! this build's and a file with no calls; it never guesses.

use std::io::Write;
use std::path::{Path, PathBuf};

use voicegate_agent::call_metrics::{CALL_METRICS_SCHEMA, CallMetrics};

/// The file's name inside a run folder.
pub const CALLS_FILE: &str = "calls.jsonl";

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{path}:{line}: {message}")]
    Line { path: PathBuf, line: usize, message: String },
}

/// A run folder's `calls.jsonl`, or the file itself.
pub fn calls_path(path: &Path) -> PathBuf {
    if path.is_dir() { path.join(CALLS_FILE) } else { path.to_path_buf() }
}

pub fn write_calls(path: &Path, calls: &[CallMetrics]) -> Result<(), MetricsError> {
    let error = |e: std::io::Error| MetricsError::File { path: path.to_path_buf(), message: e.to_string() };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(error)?;
    }
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).map_err(error)?);
    for call in calls {
        let line = serde_json::to_string(call).expect("call metrics always serialise");
        writeln!(file, "{line}").map_err(error)?;
    }
    file.flush().map_err(error)
}

/// The longest duration a call's metrics may hold: a day, in ms. Beyond
/// it a value is a unit mistake or garbage, and would swamp any quantile.
const MAX_MS: f64 = 86_400_000.0;

/// Values a call's metrics cannot have.
fn check(call: &CallMetrics) -> Result<(), String> {
    let latency = |field: &str, v: f64| {
        if v.is_finite() && (0.0..=MAX_MS).contains(&v) {
            Ok(())
        } else {
            let shown = if v.abs() >= 1e12 { format!("{v:e}") } else { format!("{v}") };
            Err(format!("{field} = {shown}: expected a duration from 0 ms to a day ({MAX_MS} ms)"))
        }
    };
    if call.schema == 0 {
        return Err("schema 0: expected 1".into());
    }
    if call.call_id.trim().is_empty() || call.agent_version.trim().is_empty() {
        return Err("call_id and agent_version must not be empty".into());
    }
    latency("duration_ms", call.duration_ms as f64)?;
    if call.error == call.error_kinds.is_empty() {
        return Err(format!(
            "error = {} with error_kinds = {:?}: an error names its kinds, and kinds mean an error",
            call.error, call.error_kinds
        ));
    }
    for (i, turn) in call.turns.iter().enumerate() {
        if let Some(ms) = turn.latency_ms {
            latency(&format!("turns[{i}].latency_ms"), ms)?;
        }
        if let Some(stages) = &turn.stages {
            for (name, ms) in [
                ("end_of_turn_ms", stages.end_of_turn_ms),
                ("stt_ms", stages.stt_ms),
                ("llm_first_token_ms", stages.llm_first_token_ms),
                ("first_sentence_ms", stages.first_sentence_ms),
                ("tts_first_audio_ms", stages.tts_first_audio_ms),
                ("playout_ms", stages.playout_ms),
            ] {
                latency(&format!("turns[{i}].stages.{name}"), ms)?;
            }
        }
    }
    for (i, b) in call.barge_ins.iter().enumerate() {
        latency(&format!("barge_ins[{i}].stop_latency_ms"), b.stop_latency_ms)?;
    }
    if let Some(wer) = call.word_error_rate.filter(|w| !(w.is_finite() && (0.0..=100.0).contains(w))) {
        return Err(format!("word_error_rate = {wer:e}: expected 0 to 100 (1 is every word wrong)"));
    }
    Ok(())
}

/// Every call of a `calls.jsonl` (or of the one in a run folder).
pub fn read_calls(path: &Path) -> Result<Vec<CallMetrics>, MetricsError> {
    let path = calls_path(path);
    let text = std::fs::read_to_string(&path).map_err(|e| MetricsError::File {
        path: path.clone(),
        message: format!("cannot read it: {e} (expected a calls.jsonl, or a run folder holding one)"),
    })?;
    let mut calls = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = |message: String| MetricsError::Line { path: path.clone(), line: i + 1, message };
        let value: serde_json::Value = serde_json::from_str(line).map_err(|e| at(format!("not a JSON object: {e}")))?;
        let schema = match value.get("schema") {
            None => return Err(at("no \"schema\" field: expected a call-metrics line with \"schema\": 1".into())),
            Some(schema) => schema.as_u64().ok_or_else(|| {
                at(format!(
                    "\"schema\": {schema}: expected a schema version, a whole number from 1 (this voicegate reads {CALL_METRICS_SCHEMA})"
                ))
            })?,
        };
        if schema > u64::from(CALL_METRICS_SCHEMA) {
            return Err(at(format!(
                "schema {schema} is newer than this voicegate reads ({CALL_METRICS_SCHEMA}); upgrade voicegate"
            )));
        }
        let call: CallMetrics =
            serde_json::from_value(value).map_err(|e| at(format!("not a call-metrics line: {e}")))?;
        check(&call).map_err(at)?;
        if let Some(first) = seen.insert(call.call_id.clone(), i + 1) {
            return Err(at(format!(
                "call_id {:?} again (first on line {first}): a call counts once, or the comparison would claim \
                 calls it does not have",
                call.call_id
            )));
        }
        calls.push(call);
    }
    if calls.is_empty() {
        return Err(MetricsError::File { path, message: "holds no calls: an empty arm cannot be compared".into() });
    }
    Ok(calls)
}

#[cfg(test)]
mod tests {
    use voicegate_agent::call_metrics::{BargeInMetrics, MetricsSource, TurnMetrics};

    use super::*;

    fn call(id: &str) -> CallMetrics {
        CallMetrics {
            turns: vec![TurnMetrics { latency_ms: Some(900.0), stages: None }],
            barge_ins: vec![BargeInMetrics { stop_latency_ms: 200.0, truncation_ok: Some(true) }],
            started_ms: Some(0),
            duration_ms: 12_000,
            task_completed: Some(true),
            word_error_rate: Some(0.0),
            ..CallMetrics::new(id, "support@1.1.0", MetricsSource::Harness)
        }
    }

    fn written(lines: &[String]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(CALLS_FILE);
        std::fs::write(&path, lines.join("\n")).expect("write");
        (dir, path)
    }

    #[test]
    fn calls_round_trip_through_a_run_folder() {
        let dir = tempfile::tempdir().expect("temp dir");
        let calls = vec![call("a"), call("b")];
        write_calls(&dir.path().join(CALLS_FILE), &calls).expect("writes");
        assert_eq!(read_calls(dir.path()).expect("reads the folder's file"), calls);
    }

    #[test]
    fn bad_lines_are_refused_with_file_and_line() {
        let good = serde_json::to_string(&call("a")).expect("json");
        let cases = [
            ("{not json", "not a JSON object"),
            (r#"{"call_id": "x"}"#, "no \"schema\" field"),
            (&good.replace("\"schema\":1", "\"schema\":2"), "schema 2 is newer"),
            (&good.replace(",\"duration_ms\":12000", ""), "missing field `duration_ms`"),
            (&good.replace("\"error\":false", "\"error\":\"no\""), "not a call-metrics line"),
            (&good, "call_id \"a\" again (first on line 1)"),
            (&good.replace("\"schema\":1", "\"schema\":0"), "schema 0"),
            (&good.replace("\"schema\":1", "\"schema\":1.0"), "\"schema\": 1.0: expected a schema version"),
            (&good.replace("\"word_error_rate\":0.0", "\"word_error_rate\":-3.0"), "word_error_rate = -3e0"),
            (&good.replace("\"word_error_rate\":0.0", "\"word_error_rate\":1e308"), "word_error_rate = 1e308"),
            // Every field is required, `null` where unknown: a missing one
            // is never read as unknown or zero.
            (&good.replace(",\"started_ms\":0", ""), "missing field `started_ms`"),
            (&good.replace(",\"reprompts\":0", ""), "missing field `reprompts`"),
            (&good.replace(",\"isolation_violations\":null", ""), "missing field `isolation_violations`"),
            (&good.replace(",\"findings\":[]", ""), "missing field `findings`"),
            (&good.replace("\"turns\":[{\"latency_ms\":900.0,", "\"turns\":[{"), "missing field `latency_ms`"),
            (&good.replace(",\"stages\":null", ""), "missing field `stages`"),
            (&good.replace(",\"truncation_ok\":true", ""), "missing field `truncation_ok`"),
            (&good.replace("\"accent\":null,", ""), "missing field `accent`"),
            (&good.replace("\"latency_ms\":900.0", "\"latency_ms\":1e308"), "turns[0].latency_ms = 1e308"),
            (&good.replace("\"duration_ms\":12000", "\"duration_ms\":99999999999"), "duration_ms = 99999999999"),
            (&good.replace("\"error_kinds\":[]", "\"error_kinds\":[\"dropped\"]"), "error = false with error_kinds"),
            (&good.replace("\"error\":false", "\"error\":true"), "error = true with error_kinds = []"),
        ];
        for (bad, expected) in cases {
            let (_dir, path) = written(&[good.clone(), bad.to_string()]);
            let message = read_calls(&path).expect_err(bad).to_string();
            assert!(message.contains(&format!("{}:2:", path.display())), "{message}");
            assert!(message.contains(expected), "{message}");
        }
    }

    #[test]
    fn an_empty_or_missing_file_is_refused() {
        let (_dir, path) = written(&["".into()]);
        assert!(read_calls(&path).expect_err("empty").to_string().contains("holds no calls"));
        let missing = read_calls(Path::new("/nonexistent/calls.jsonl")).expect_err("missing").to_string();
        assert!(missing.contains("/nonexistent/calls.jsonl") && missing.contains("cannot read"), "{missing}");
    }
}
