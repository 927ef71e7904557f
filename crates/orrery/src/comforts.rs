//! Operator comforts: shell completions and the version report.

use clap::{Args, CommandFactory};

/// `orrery completion SHELL`.
#[derive(Args, Debug)]
pub struct CompletionArgs {
    /// The shell to complete for (bash, zsh, fish, elvish, powershell).
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Writes the completion script for `args.shell` to `out` (a closed pipe is not an error:
/// `orrery completion bash | head` is fine).
pub fn completion(args: &CompletionArgs, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut cmd = crate::cli::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "orrery", &mut script);
    match out.write_all(&script).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// `orrery version`: the version, the commit it was built from and the compiler.
pub fn version() -> String {
    format!(
        "orrery {}\ncommit: {}\nrustc: {}\nkubernetes: v1.33 (embedded cluster)\n",
        env!("CARGO_PKG_VERSION"),
        option_env!("ORRERY_GIT_COMMIT").unwrap_or("unknown"),
        option_env!("ORRERY_RUSTC_VERSION").unwrap_or("unknown"),
    )
}
