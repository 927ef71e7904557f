//! Configuration of `orrery serve`: every tunable is a flag, an `ORRERY_*` variable and a key
//! of one YAML file (`--config orrery.yaml`, `ORRERY_CONFIG`); flags win over variables,
//! variables over the file, the file over defaults.
//!
//! The file is layered under clap rather than beside it: the command line is parsed once, and
//! each key of the file ([`keys::KEYS`] names its flag) whose flag clap saw neither on the
//! command line nor in the environment (`ArgMatches::value_source`) is checked with that flag's
//! own parser — an error names the file, line, column and key — and appended to the command
//! line, which is then parsed again. So the three ways accept the same text and mean the same
//! thing, and `orrery config print` can say where each value came from.

pub mod file;
pub mod incluster;
pub mod keys;
pub mod tls;
pub mod tunables;

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, CommandFactory, FromArgMatches};

use crate::cli::Cli;
use keys::{KEYS, Key, Mask};

pub use tunables::PlatformTunables;

/// Why the command line could not be taken.
#[derive(Debug)]
pub enum ArgsError {
    /// clap's own error (it prints itself, with usage, and exits with its code).
    Clap(clap::Error),
    /// The configuration file is unreadable or wrong.
    File(String),
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The command line.
    Flag,
    /// An environment variable.
    Env(String),
    /// The configuration file, at this line.
    File(u64),
    /// The flag's default.
    Default,
    /// Not set anywhere (and no default).
    Unset,
}

/// One key's effective value.
#[derive(Debug)]
pub struct Value {
    /// Which key.
    pub key: &'static Key,
    /// Its values as text (one for scalars), `None` when unset.
    pub raw: Option<Vec<String>>,
    /// Whether the key takes a list.
    pub list: bool,
    /// Where it came from.
    pub source: Source,
}

/// The effective configuration of `serve` (or `config print`).
#[derive(Debug)]
pub struct Effective {
    /// The file read, if any.
    pub file: Option<PathBuf>,
    /// Every key, in [`KEYS`] order.
    pub values: Vec<Value>,
}

/// Parses the command line with the configuration file layered under it.
pub fn parse_args(args: Vec<OsString>) -> Result<Cli, ArgsError> {
    layered(args).map(|(cli, _)| cli)
}

/// The subcommands that take the serve flags, as their path of names.
fn serve_like(matches: &ArgMatches) -> Option<(Vec<&'static str>, &ArgMatches)> {
    match matches.subcommand() {
        Some(("serve", m)) => Some((vec!["serve"], m)),
        Some(("config", m)) => match m.subcommand() {
            Some(("print", p)) => Some((vec!["config", "print"], p)),
            _ => None,
        },
        _ => None,
    }
}

fn subcommand<'a>(cmd: &'a clap::Command, path: &[&str]) -> Option<&'a clap::Command> {
    path.iter().try_fold(cmd, |c, name| c.find_subcommand(name))
}

fn layered(args: Vec<OsString>) -> Result<(Cli, Option<Effective>), ArgsError> {
    let mut cmd = Cli::command();
    cmd.build();
    let matches = cmd
        .clone()
        .try_get_matches_from(&args)
        .map_err(ArgsError::Clap)?;
    let Some((path, sub)) = serve_like(&matches) else {
        let cli = Cli::from_arg_matches(&matches).map_err(ArgsError::Clap)?;
        return Ok((cli, None));
    };
    let sub_cmd = subcommand(&cmd, &path)
        .ok_or_else(|| ArgsError::File(format!("no subcommand {path:?}")))?;
    let file = sub.get_one::<PathBuf>("config").cloned();
    let mut from_file: HashMap<&'static str, u64> = HashMap::new();
    let mut args = args;
    if let Some(file_path) = &file {
        let text = read_file(file_path)?;
        let at =
            |e: &dyn std::fmt::Display| ArgsError::File(format!("{}: {e}", file_path.display()));
        let entries = file::parse(&text).map_err(|e| at(&e))?;
        for entry in entries {
            let arg = sub_cmd
                .get_arguments()
                .find(|a| a.get_id() == entry.key.arg)
                .ok_or_else(|| at(&format!("key {} has no flag", entry.key.path)))?;
            if matches!(
                sub.value_source(entry.key.arg),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            ) {
                continue;
            }
            let wrong = |message: String| file::FileError {
                line: Some(entry.line),
                column: Some(entry.column),
                key: Some(entry.key.path.to_string()),
                message,
            };
            let list = matches!(arg.get_action(), ArgAction::Append);
            let values = match entry.value {
                file::FileValue::Null => continue,
                file::FileValue::Scalar(s) => vec![s],
                file::FileValue::List(_) if !list => {
                    return Err(at(&wrong("takes one value, not a list".into())));
                }
                file::FileValue::List(items) => items,
            };
            let long = arg
                .get_long()
                .ok_or_else(|| at(&format!("key {} has no long flag", entry.key.path)))?;
            for v in &values {
                check_value(arg, v).map_err(|m| at(&wrong(m)))?;
                if matches!(arg.get_action(), ArgAction::SetTrue) {
                    if matches!(v.trim(), "true" | "yes" | "on" | "1") {
                        args.push(format!("--{long}").into());
                    }
                } else {
                    args.push(format!("--{long}={v}").into());
                }
            }
            from_file.insert(entry.key.arg, entry.line);
        }
    }
    let matches = if file.is_some() {
        cmd.clone()
            .try_get_matches_from(&args)
            .map_err(ArgsError::Clap)?
    } else {
        matches
    };
    let cli = Cli::from_arg_matches(&matches).map_err(ArgsError::Clap)?;
    let (_, sub) = serve_like(&matches)
        .ok_or_else(|| ArgsError::File("the subcommand changed between parses".into()))?;
    let values = KEYS
        .iter()
        .map(|key| effective_value(key, sub, sub_cmd, &from_file))
        .collect();
    Ok((cli, Some(Effective { file, values })))
}

fn effective_value(
    key: &'static Key,
    sub: &ArgMatches,
    sub_cmd: &clap::Command,
    from_file: &HashMap<&'static str, u64>,
) -> Value {
    let arg = sub_cmd.get_arguments().find(|a| a.get_id() == key.arg);
    let list = arg.is_some_and(|a| matches!(a.get_action(), ArgAction::Append));
    let raw: Option<Vec<String>> = sub
        .get_raw(key.arg)
        .map(|vs| vs.map(|v| v.to_string_lossy().into_owned()).collect());
    let source = if let Some(line) = from_file.get(key.arg) {
        Source::File(*line)
    } else {
        match sub.value_source(key.arg) {
            Some(ValueSource::CommandLine) => Source::Flag,
            Some(ValueSource::EnvVariable) => Source::Env(
                arg.and_then(|a| a.get_env())
                    .map(|e| e.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            Some(ValueSource::DefaultValue) => Source::Default,
            _ => Source::Unset,
        }
    };
    Value {
        key,
        raw,
        list,
        source,
    }
}

/// Checks `value` with `arg`'s own parser; clap's message without its usage lines.
fn check_value(arg: &clap::Arg, value: &str) -> Result<(), String> {
    let probe = clap::Command::new("orrery").no_binary_name(true).arg(
        clap::Arg::new("value")
            .long("value")
            .action(ArgAction::Set)
            .allow_hyphen_values(true)
            .value_parser(arg.get_value_parser().clone()),
    );
    match probe.try_get_matches_from([format!("--value={value}")]) {
        Ok(_) => Ok(()),
        Err(e) => {
            let text = e.to_string().replace(" for '--value <value>'", "");
            let lines: Vec<&str> = text
                .lines()
                .map(|l| l.trim())
                .map(|l| l.strip_prefix("error: ").unwrap_or(l))
                .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
                .collect();
            Err(if lines.is_empty() {
                format!("invalid value {value:?}")
            } else {
                lines.join("; ")
            })
        }
    }
}

fn read_file(path: &Path) -> Result<String, ArgsError> {
    let fail = |what: String| ArgsError::File(format!("--config {}: {what}", path.display()));
    let meta = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
    if meta.len() > file::MAX_FILE_BYTES as u64 {
        return Err(fail(format!(
            "larger than {} bytes; a configuration file is small",
            file::MAX_FILE_BYTES
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| {
        fail(format!(
            "not UTF-8 text (byte {} is not)",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// `orrery config print`: the effective configuration as YAML (itself a valid configuration
/// file), each value followed by where it came from; secrets masked.
pub fn print(args: Vec<OsString>) -> Result<String, ArgsError> {
    let (_, effective) = layered(args)?;
    let effective =
        effective.ok_or_else(|| ArgsError::File("`config print` takes the serve flags".into()))?;
    Ok(render(&effective))
}

/// The YAML text of `effective`.
pub fn render(effective: &Effective) -> String {
    let mut out = String::from(
        "# The effective configuration of `orrery serve`: flags win over ORRERY_* variables,\n\
         # variables over the file, the file over defaults. Secrets are masked.\n",
    );
    match &effective.file {
        Some(f) => out.push_str(&format!("# file: {}\n", f.display())),
        None => out.push_str("# file: none (--config / ORRERY_CONFIG)\n"),
    }
    let mut open: Vec<&str> = Vec::new();
    for v in &effective.values {
        let parts: Vec<&str> = v.key.path.split('.').collect();
        let (sections, name) = parts.split_at(parts.len() - 1);
        let common = open
            .iter()
            .zip(sections)
            .take_while(|(a, b)| a == b)
            .count();
        open.truncate(common);
        for s in &sections[common..] {
            out.push_str(&format!("{}{s}:\n", "  ".repeat(open.len())));
            open.push(s);
        }
        let value = match &v.raw {
            None => "null".to_string(),
            Some(items) if v.list => format!(
                "[{}]",
                items
                    .iter()
                    .map(|i| yaml_scalar(&mask(v.key.mask, i)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(items) => yaml_scalar(&mask(v.key.mask, &items.join(","))),
        };
        let source = match &v.source {
            Source::Flag => "flag".to_string(),
            Source::Env(name) => format!("env {name}"),
            Source::File(line) => format!("file, line {line}"),
            Source::Default => "default".to_string(),
            Source::Unset => "unset".to_string(),
        };
        out.push_str(&format!(
            "{}{}: {value}  # {source}\n",
            "  ".repeat(open.len()),
            name[0]
        ));
    }
    out
}

/// `value` as `config print` may show it.
pub fn mask(how: Mask, value: &str) -> String {
    const HIDDEN: &str = "********";
    match how {
        Mask::Plain => value.to_string(),
        Mask::Whole if value.is_empty() => String::new(),
        Mask::Whole => HIDDEN.to_string(),
        Mask::AfterColon => match value.split_once(':') {
            Some((id, _)) => format!("{id}:{HIDDEN}"),
            None => HIDDEN.to_string(),
        },
        Mask::UrlUserinfo => match value.split_once("://") {
            Some((scheme, rest)) => {
                let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
                match rest[..authority_end].rfind('@') {
                    Some(at) => format!("{scheme}://{HIDDEN}@{}", &rest[at + 1..]),
                    None => value.to_string(),
                }
            }
            None => value.to_string(),
        },
    }
}

/// A scalar in YAML: integers, decimals and booleans bare, everything else double-quoted
/// (JSON's quoting is valid YAML).
fn yaml_scalar(s: &str) -> String {
    let numeric = {
        let digits = s.strip_prefix('-').unwrap_or(s);
        let mut parts = digits.splitn(2, '.');
        let whole = parts.next().unwrap_or_default();
        let frac = parts.next();
        !whole.is_empty()
            && whole.bytes().all(|b| b.is_ascii_digit())
            && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
    };
    if numeric || s == "true" || s == "false" {
        s.to_string()
    } else {
        serde_json::Value::String(s.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests;
