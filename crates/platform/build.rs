//! Re-embeds the console when it is (re)built: `http/console.rs` embeds `console/dist` at
//! compile time, and without this cargo would keep a platform compiled before the console
//! existed (serving "Console not built") after `scripts/console.sh build`.

fn main() {
    // Vite rewrites index.html on every build; while it is missing, cargo re-runs this script
    // on each build, so the console is picked up as soon as it appears.
    println!("cargo:rerun-if-changed=../../console/dist/index.html");
    println!("cargo:rerun-if-changed=build.rs");
}
