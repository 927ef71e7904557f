//! Regenerates `docs/helm-functions.md`: `cargo run -p helm --example functions_doc > docs/helm-functions.md`.

fn main() {
    print!("{}", helm::engine::functions_doc());
}
