//! The `orrery` binary: command-line parsing, configuration and wiring.

mod agent;
mod backup;
mod cli;
mod comforts;
mod compact_cmd;
mod config;
mod export_cmd;
mod extension_cmd;
mod helm_cmd;
mod memory;

fn main() -> std::process::ExitCode {
    memory::limit_arenas();
    let cli = match config::parse_args(std::env::args_os().collect()) {
        Ok(cli) => cli,
        Err(config::ArgsError::Clap(e)) => e.exit(),
        Err(config::ArgsError::File(e)) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    cli::init_logging(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
