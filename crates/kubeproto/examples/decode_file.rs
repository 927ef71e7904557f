//! Prints the JSON of protobuf bodies: `cargo run -p kubeproto --example decode_file -- FILE...`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut status = ExitCode::SUCCESS;
    for path in std::env::args().skip(1) {
        let result = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|body| kubeproto::decode(&body).map_err(|e| e.to_string()));
        match result {
            Ok(obj) => println!("{path}: {obj}"),
            Err(e) => {
                eprintln!("{path}: {e}");
                status = ExitCode::FAILURE;
            }
        }
    }
    status
}
