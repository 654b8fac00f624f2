//! The Gherkin suite: every scenario under `scenarios/`, run exactly as
//! `voicegate run` runs them, with the reports written under the target
//! folder. Exits non-zero when any scenario fails or cannot run.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scenario-reports");
    let mut args = vec![
        "voicegate".to_string(),
        "run".into(),
        "--scenarios".into(),
        root.join("scenarios").display().to_string(),
        "--out".into(),
        out.display().to_string(),
    ];
    // `cargo test -- --tags @barge-in` narrows the run, as on the command line.
    let extra: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = extra.iter().position(|a| a == "--tags")
        && let Some(tags) = extra.get(i + 1)
    {
        args.extend(["--tags".to_string(), tags.clone()]);
    }
    ExitCode::from(voicegate::cli::run_cli(args))
}
