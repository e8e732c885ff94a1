fn main() -> std::process::ExitCode {
    fieldstar::cli::main()
}
