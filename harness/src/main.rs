use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    // Structured JSON logs on stderr, e.g. VOICEGATE_LOG=voicegate_agent=info
    // prints every agent event with its trace, session and customer ids.
    let filter = EnvFilter::try_from_env("VOICEGATE_LOG").unwrap_or_else(|_| EnvFilter::new("error"));
    tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(std::io::stderr).init();
    voicegate::cli::main_with_args(std::env::args_os())
}
