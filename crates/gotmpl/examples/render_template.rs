//! Renders one template file with Sprig (no data) to stdout, for comparing with Helm.
//!
//! `cargo run --release -p gotmpl --example render_template FILE`

use std::sync::Arc;

use gotmpl::{Limits, TemplateSet, Value, sprig};

fn main() {
    if let Err(e) = run() {
        eprintln!("{e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: render_template FILE")?;
    let src = std::fs::read_to_string(&path)?;
    let mut set = TemplateSet::new(Arc::new(sprig()));
    set.parse(&path, &src)?;
    let mut out = String::new();
    set.execute(&path, &Value::Nil, &mut out, &Limits::default())?;
    print!("{}", out.replace("<no value>", ""));
    Ok(())
}
