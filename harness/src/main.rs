fn main() -> std::process::ExitCode {
    voicegate::cli::main_with_args(std::env::args_os())
}
