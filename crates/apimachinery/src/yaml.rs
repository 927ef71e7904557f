//! Decoding YAML request bodies with bounded work.
//!
//! A YAML body is untrusted input that can ask for far more work than its size suggests:
//! aliases expand (a 409-byte "billion laughs" document names 10⁹ nodes) and nesting costs
//! stack. kube-apiserver refuses such bodies (go-yaml's "excessive aliasing" check and its
//! depth limit); here serde-saphyr's budget does the same, with limits that admit every real
//! manifest (a large CustomResourceDefinition has a few tens of thousands of nodes) and stop
//! an expansion long before it costs noticeable CPU or memory.

use serde_json::Value;

/// The fewest parser events (alias replays included) any body may produce; larger bodies
/// may produce two per byte. A document without aliases cannot come near that (every event
/// takes at least a byte or two of input), so the bound only bites when aliases amplify:
/// the work a body can ask for stays proportional to its size, as with JSON.
pub const MIN_EVENTS: usize = 64 * 1024;
/// The fewest nodes any body may produce; larger bodies may produce one per byte.
pub const MIN_NODES: usize = 32 * 1024;
/// The most events anchors may record for later replay: anchors in real manifests name small
/// fragments, and nested anchors of aliases (the "billion laughs" shape) grow tenfold per
/// level, so this stops such a document after a few levels, before its expansion costs much.
pub const MAX_RECORDED_ANCHOR_EVENTS: usize = 20_000;
/// The most aliases (`*ref`) one body may use.
pub const MAX_ALIASES: usize = 1_000;
/// The deepest nesting of sequences and mappings. Decoding recurses once per level; 64
/// levels fit a 2 MiB thread stack (tokio's default) even in a debug build, 96 do not, and
/// the deepest real manifests (CRDs with nested schemas, sent as JSON-in-YAML by
/// `kubectl apply --server-side`) stay well under 64.
pub const MAX_DEPTH: usize = 64;

/// The serde-saphyr options a request body of `len` bytes is decoded with.
fn options(len: usize) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_events = MIN_EVENTS.max(len.saturating_mul(2));
    budget.max_nodes = MIN_NODES.max(len);
    budget.max_aliases = MAX_ALIASES;
    budget.max_anchors = MAX_ALIASES;
    budget.max_recorded_anchor_events = MAX_RECORDED_ANCHOR_EVENTS;
    budget.max_depth = MAX_DEPTH;
    budget.flow_nesting_limit = MAX_DEPTH;
    budget.max_documents = 1;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

/// Decodes one YAML document into JSON, refusing bodies that exceed the budget above; the
/// error says which limit was hit.
pub fn decode(bytes: &[u8]) -> Result<Value, String> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| "the YAML body is not valid UTF-8".to_string())?;
    serde_saphyr::from_str_with_options::<Value>(text, options(bytes.len())).map_err(|e| {
        // serde-saphyr appends a source snippet; a Status message keeps the first line.
        let full = e.to_string();
        full.lines().next().unwrap_or_default().to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The classic "billion laughs": nine levels of ten aliases each.
    fn laughs() -> String {
        let mut s = String::from(
            "a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            let list = [prev.as_str(); 10].join(",");
            s.push_str(&format!("a{i}: &a{i} [{list}]\n"));
        }
        s
    }

    #[test]
    fn alias_expansion_is_refused() {
        let body = laughs();
        assert!(body.len() < 700, "{}", body.len());
        let e = decode(body.as_bytes());
        assert!(e.is_err(), "a billion laughs decoded");
        assert!(e.is_err_and(|m| m.contains("budget") && !m.contains('\n')));
    }

    /// Flow (`[[[1]]]`) and block (`k:\n  k:\n`) nesting `depth` levels deep.
    fn nested(depth: usize) -> [String; 2] {
        let flow = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let block: String = (0..depth)
            .map(|i| format!("{}k:\n", "  ".repeat(i)))
            .collect();
        [flow, block + &"  ".repeat(depth) + "1\n"]
    }

    /// Runs `f` on a thread with tokio's default worker stack, so an overflow shows here.
    fn on_worker_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(f)
            .ok()?
            .join()
            .ok()
    }

    #[test]
    fn flat_alias_amplification_is_bounded_by_the_body_size() {
        // One anchor of 1,000 items, aliased 1,000 times: a million nodes from 10 KB.
        let items = vec!["x"; 1000].join(",");
        let refs = vec!["*a"; 1000].join(",");
        let body = format!("a: &a [{items}]\nb: [{refs}]\n");
        assert!(body.len() < 10_000);
        assert!(decode(body.as_bytes()).is_err_and(|m| m.contains("budget")));
        // The same content written out is accepted: its size pays for its work.
        let plain = format!(
            "a: [{items}]\nb: [{}]\n",
            vec![format!("[{items}]"); 100].join(",")
        );
        assert!(decode(plain.as_bytes()).is_ok());
    }

    #[test]
    fn deep_nesting_is_refused_and_normal_nesting_decodes() {
        for (depth, ok) in [
            (MAX_DEPTH - 1, true),
            (MAX_DEPTH + 1, false),
            (10_000, false),
        ] {
            for body in nested(depth) {
                let got = on_worker_stack(move || decode(body.as_bytes()).is_ok());
                assert_eq!(got, Some(ok), "depth {depth}");
            }
        }
    }

    #[test]
    fn manifests_with_a_few_aliases_decode() {
        let body = "base: &b {app: web}\nmetadata:\n  labels: *b\n  annotations: *b\n";
        let v = decode(body.as_bytes());
        assert_eq!(
            v.ok().map(|v| v["metadata"]["annotations"]["app"].clone()),
            Some(Value::from("web"))
        );
    }

    #[test]
    fn a_large_plain_document_decodes() {
        // 20,000 list items of a small mapping: far more than any real manifest.
        let mut body = String::from("items:\n");
        for i in 0..20_000 {
            body.push_str(&format!("- name: item-{i}\n  value: {i}\n"));
        }
        let v = decode(body.as_bytes());
        assert_eq!(
            v.ok().and_then(|v| v["items"].as_array().map(Vec::len)),
            Some(20_000)
        );
    }

    #[test]
    fn several_documents_are_refused() {
        assert!(decode(b"a: 1\n---\nb: 2\n").is_err());
    }
}
