//! Reads a YAML file as Helm reads values and prints it back as Helm's `toYaml` would.
//! Handy to compare the YAML layer with real Helm by hand.

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: to_yaml FILE");
        std::process::exit(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    match helm::yaml::parse_value(&text)
        .map_err(|e| e.to_string())
        .and_then(|v| helm::yaml::to_yaml(&v).map_err(|e| e.to_string()))
    {
        Ok(s) => println!("{s}"),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
