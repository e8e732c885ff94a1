#[global_allocator]
static ALLOCATOR: fieldstar::alloc::Split = fieldstar::alloc::Split;

fn main() -> std::process::ExitCode {
    fieldstar::cli::main()
}
