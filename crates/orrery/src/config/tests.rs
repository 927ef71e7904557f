//! The layering of flags over the file, errors naming lines, and `config print`'s output
//! (environment variables are covered by `tests/config.rs`, which sets them on a child
//! process instead of this one).

use std::ffi::OsString;

use proptest::prelude::*;

use super::*;
use crate::cli::Command;

fn args(list: &[&str]) -> Vec<OsString> {
    list.iter().map(OsString::from).collect()
}

fn write(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("orrery.yaml");
    std::fs::write(&path, text).expect("write");
    (dir, path.to_string_lossy().into_owned())
}

fn serve(cli: Cli) -> crate::cli::ServeArgs {
    match cli.command {
        Command::Serve(s) => *s,
        other => panic!("not serve: {other:?}"),
    }
}

fn find<'a>(e: &'a Effective, path: &str) -> &'a Value {
    e.values
        .iter()
        .find(|v| v.key.path == path)
        .unwrap_or_else(|| panic!("no {path}"))
}

#[test]
fn every_key_names_a_serve_flag() {
    let mut cmd = Cli::command();
    cmd.build();
    let serve = cmd.find_subcommand("serve").expect("serve");
    for k in KEYS {
        let arg = serve
            .get_arguments()
            .find(|a| a.get_id() == k.arg)
            .unwrap_or_else(|| panic!("{} names no flag {}", k.path, k.arg));
        assert!(arg.get_long().is_some(), "{} has no long flag", k.path);
    }
    // …and every serve flag (but --config and help) is a key.
    for a in serve.get_arguments() {
        let id = a.get_id().as_str();
        if matches!(id, "config" | "help" | "version") {
            continue;
        }
        assert!(KEYS.iter().any(|k| k.arg == id), "flag {id} has no key");
    }
}

#[test]
fn the_file_sets_what_no_flag_sets() {
    let (_d, path) = write(
        "listen: 127.0.0.1:0\n\
         authentication:\n  multipleLogin: false\n  accessTokenMaxAge: 90s\n  lockout:\n    threshold: 3\n\
         clusters:\n  execPluginAllow: [aws, /opt/bin/helper]\n\
         sim:\n  nodes: 1\n\
         log:\n  level: debug\n  json: true\n",
    );
    let s = serve(
        parse_args(args(&[
            "orrery",
            "serve",
            "--config",
            &path,
            "--lockout-threshold",
            "5",
        ]))
        .expect("parses"),
    );
    assert_eq!(s.listen.port(), 0);
    assert!(!s.tunables.multiple_login);
    assert_eq!(s.tunables.access_token_max_age.as_secs(), 90);
    assert_eq!(s.tunables.lockout_threshold, 5, "the flag wins");
    assert_eq!(s.exec_plugin_allow, ["aws", "/opt/bin/helper"]);
    assert_eq!(s.embedded.nodes, 1);
    let cli = parse_args(args(&["orrery", "serve", "--config", &path])).expect("parses");
    assert_eq!(cli.log, "debug");
    assert!(cli.log_json);
    assert_eq!(serve(cli).tunables.lockout_threshold, 3);
}

#[test]
fn sources_are_reported() {
    let (_d, path) = write("# a comment\nauthentication:\n  lockout:\n    threshold: 3\n");
    let (_, e) = layered(args(&[
        "orrery",
        "config",
        "print",
        "--config",
        &path,
        "--listen",
        "127.0.0.1:1",
    ]))
    .expect("parses");
    let e = e.expect("effective");
    assert_eq!(
        find(&e, "authentication.lockout.threshold").source,
        Source::File(4)
    );
    assert_eq!(find(&e, "listen").source, Source::Flag);
    assert_eq!(
        find(&e, "authentication.lockout.window").source,
        Source::Default
    );
    assert_eq!(find(&e, "kubeconfig").source, Source::Unset);
}

#[test]
fn a_bad_value_names_the_file_line_and_key() {
    let (_d, path) = write("listen: 127.0.0.1:0\nauthentication:\n  lockout:\n    window: soon\n");
    let Err(ArgsError::File(e)) = parse_args(args(&["orrery", "serve", "--config", &path])) else {
        panic!("accepted a bad duration");
    };
    assert!(e.starts_with(&path), "{e}");
    assert!(
        e.contains("line 4, column 5: `authentication.lockout.window`"),
        "{e}"
    );
    assert!(e.contains("soon"), "{e}");
    let (_d, path) = write("listen: [a, b]\n");
    let Err(ArgsError::File(e)) = parse_args(args(&["orrery", "serve", "--config", &path])) else {
        panic!("accepted a list for a scalar");
    };
    assert!(
        e.contains("line 1, column 1: `listen`: takes one value"),
        "{e}"
    );
    let (_d, path) = write("sim:\n  nodez: 1\n");
    let Err(ArgsError::File(e)) = parse_args(args(&["orrery", "serve", "--config", &path])) else {
        panic!("accepted an unknown key");
    };
    assert!(
        e.contains("line 2, column 3: `sim.nodez`: unknown key (did you mean `nodes`?)"),
        "{e}"
    );
}

#[test]
fn a_flag_given_on_the_command_line_is_not_checked_against_the_file() {
    // The file's value would be refused, but the flag decides.
    let (_d, path) = write("authentication:\n  lockout:\n    threshold: 3\n");
    let s = serve(
        parse_args(args(&[
            "orrery",
            "serve",
            "--config",
            &path,
            "--lockout-threshold=7",
        ]))
        .expect("parses"),
    );
    assert_eq!(s.tunables.lockout_threshold, 7);
}

#[test]
fn print_masks_secrets_and_reads_back_as_the_same_configuration() {
    let (_d, path) = write(
        "adminPassword: Sup3r-secret-pw\n\
         authentication:\n  oauthClients: [\"ci:hush-hush\"]\n\
         audit:\n  webhookURL: https://user:pw@audit.example.com/events\n\
         trustedProxies: [10.0.0.0/8]\n",
    );
    let text = print(args(&["orrery", "config", "print", "--config", &path])).expect("print");
    assert!(!text.contains("Sup3r-secret-pw"), "{text}");
    assert!(!text.contains("hush-hush"), "{text}");
    assert!(!text.contains("user:pw"), "{text}");
    assert!(
        text.contains("adminPassword: \"********\"  # file, line 1"),
        "{text}"
    );
    assert!(text.contains("oauthClients: [\"ci:********\"]"), "{text}");
    assert!(
        text.contains("webhookURL: \"https://********@audit.example.com/events\""),
        "{text}"
    );
    assert!(
        text.contains("  lockout:\n    threshold: 10  # default\n"),
        "{text}"
    );
    // What it prints is a configuration file that means the same (masked secrets aside).
    let (_d2, again) = write(&text);
    let text2 = print(args(&["orrery", "config", "print", "--config", &again])).expect("print");
    let strip = |t: &str| {
        t.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split("  # ").next().unwrap_or(l).to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&text), strip(&text2));
}

#[test]
fn masks() {
    assert_eq!(mask(Mask::Whole, "x"), "********");
    assert_eq!(mask(Mask::Whole, ""), "");
    assert_eq!(mask(Mask::AfterColon, "id:s:t"), "id:********");
    assert_eq!(
        mask(Mask::UrlUserinfo, "http://a:b@h:1/p@q"),
        "http://********@h:1/p@q"
    );
    assert_eq!(mask(Mask::UrlUserinfo, "http://h/p@q"), "http://h/p@q");
}

#[test]
fn scalars_are_quoted_unless_numbers_or_booleans() {
    assert_eq!(yaml_scalar("10"), "10");
    assert_eq!(yaml_scalar("-1.5"), "-1.5");
    assert_eq!(yaml_scalar("true"), "true");
    assert_eq!(yaml_scalar("1."), "\"1.\"");
    assert_eq!(yaml_scalar("10m"), "\"10m\"");
    assert_eq!(yaml_scalar("inf"), "\"inf\"");
    assert_eq!(yaml_scalar("a\"b"), "\"a\\\"b\"");
    assert_eq!(yaml_scalar(""), "\"\"");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any text is either entries or an error; an error about a key says where it is.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC*") {
        if let Err(e) = file::parse(&text) {
            if e.key.is_some() {
                prop_assert!(e.line.is_some());
            }
            prop_assert!(!e.message.is_empty());
        }
    }

    /// YAML-looking text built from the real keys, broken in one place, is refused with a
    /// line that exists in the text.
    #[test]
    fn errors_carry_a_line_within_the_file(
        picks in proptest::collection::vec((0usize..64, "[a-z0-9:./ -]{0,12}"), 1..8),
        junk_at in 0usize..8,
        junk in prop_oneof![Just("[unclosed"), Just("\"bad \\q\""), Just("{a: 1"), Just("nosuchkey: 1")],
    ) {
        let top: Vec<&Key> = KEYS.iter().filter(|k| !k.path.contains('.')).collect();
        let mut lines: Vec<String> = picks
            .iter()
            .map(|(i, v)| format!("{}: {}", top[*i % top.len()].path, v))
            .collect();
        let at = junk_at.min(lines.len());
        lines.insert(at, format!("x{at}: {junk}"));
        let text = lines.join("\n");
        let e = file::parse(&text).expect_err("refused");
        let line = e.line.expect("a line");
        prop_assert!(line >= 1 && line as usize <= lines.len() + 1, "{e} for\n{text}");
    }
}
