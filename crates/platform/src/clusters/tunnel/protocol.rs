//! The tunnel's wire contract, shared by the platform and the agent (pure, no I/O).
//!
//! The agent opens an HTTPS connection to the platform and asks for an HTTP/1.1 upgrade:
//!
//! ```text
//! GET /agent/v1/tunnel HTTP/1.1
//! Connection: Upgrade
//! Upgrade: orrery-tunnel.v1
//! Authorization: Bearer <join token>
//! Orrery-Cluster: <cluster name>
//! Orrery-Agent-Heartbeat: <milliseconds>
//! ```
//!
//! After `101 Switching Protocols` the connection carries yamux. The agent opens the first
//! stream, the control stream, and sends a heartbeat (8 bytes, a big-endian counter) every
//! period; the platform echoes each. Every other stream is opened by the platform and carries
//! one HTTP/1.1 connection to the member's API server, which the agent serves with its own
//! credentials (upgrades — exec, attach, port-forward — included).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The platform's path agents connect to (outside authentication: the join token is checked
/// by the handler).
pub const PATH: &str = "/agent/v1/tunnel";
/// The `Upgrade` protocol token.
pub const UPGRADE: &str = "orrery-tunnel.v1";
/// The header naming the cluster the agent serves.
pub const CLUSTER_HEADER: &str = "orrery-cluster";
/// The header giving the agent's heartbeat period in milliseconds.
pub const HEARTBEAT_HEADER: &str = "orrery-agent-heartbeat";
/// Shortest heartbeat period accepted.
pub const MIN_HEARTBEAT: Duration = Duration::from_millis(100);
/// Longest heartbeat period accepted.
pub const MAX_HEARTBEAT: Duration = Duration::from_secs(60);
/// The heartbeat period when the agent names none.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(5);
/// Heartbeats that may go missing before a side gives the connection up.
pub const MISSED_HEARTBEATS: u32 = 3;
/// Longest join token accepted (the platform issues 43 characters).
pub const MAX_TOKEN_LEN: usize = 256;
/// Size of one heartbeat on the control stream.
pub const HEARTBEAT_LEN: usize = 8;

/// The heartbeat period an agent asked for, clamped to what the platform accepts.
pub fn parse_heartbeat(value: Option<&[u8]>) -> Duration {
    let Some(ms) = value
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
    else {
        return DEFAULT_HEARTBEAT;
    };
    Duration::from_millis(ms).clamp(MIN_HEARTBEAT, MAX_HEARTBEAT)
}

/// The token of an `Authorization: Bearer …` header value, if it is one of a sane length.
pub fn bearer(value: Option<&[u8]>) -> Option<&str> {
    let v = std::str::from_utf8(value?).ok()?;
    let (scheme, token) = v.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer")
        && !token.is_empty()
        && token.len() <= MAX_TOKEN_LEN
        && token.bytes().all(|b| b.is_ascii_graphic()))
    .then_some(token)
}

/// Whether the `Upgrade` header asks for the tunnel protocol.
pub fn is_tunnel_upgrade(value: Option<&[u8]>) -> bool {
    value
        .and_then(|v| std::str::from_utf8(v).ok())
        .is_some_and(|v| v.split(',').any(|p| p.trim().eq_ignore_ascii_case(UPGRADE)))
}

/// A new join token: 32 random bytes, URL-safe base64 (43 characters).
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Compares two tokens in time independent of where they differ.
pub fn token_matches(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    if a.len() != b.len() || b.is_empty() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// One heartbeat on the control stream.
pub fn encode_heartbeat(n: u64) -> [u8; HEARTBEAT_LEN] {
    n.to_be_bytes()
}

/// A heartbeat's counter.
pub fn decode_heartbeat(b: [u8; HEARTBEAT_LEN]) -> u64 {
    u64::from_be_bytes(b)
}

/// How long to wait before the `attempt`-th reconnection (0 = first): exponential from `base`
/// up to `max`, with "full jitter" (`jitter` in [0, 1) picks a point in the upper half, so
/// agents restarted together spread out without ever retrying at once).
pub fn backoff(attempt: u32, base: Duration, max: Duration, jitter: f64) -> Duration {
    let exp = base.saturating_mul(2u32.saturating_pow(attempt.min(20)));
    let cap = exp.min(max);
    let jitter = jitter.clamp(0.0, 1.0);
    cap.mul_f64(0.5 + jitter / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn handshake_headers() {
        assert_eq!(bearer(Some(b"Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some(b"bearer  abc ")), Some("abc"));
        assert_eq!(bearer(Some(b"Basic abc")), None);
        assert_eq!(bearer(Some(b"Bearer ")), None);
        assert_eq!(bearer(Some(b"Bearer a b")), None);
        assert_eq!(bearer(None), None);
        assert!(is_tunnel_upgrade(Some(b"orrery-tunnel.v1")));
        assert!(is_tunnel_upgrade(Some(b"h2c, Orrery-Tunnel.V1")));
        assert!(!is_tunnel_upgrade(Some(b"websocket")));
        assert_eq!(parse_heartbeat(Some(b"250")), Duration::from_millis(250));
        assert_eq!(parse_heartbeat(Some(b"1")), MIN_HEARTBEAT);
        assert_eq!(parse_heartbeat(Some(b"99999999999")), MAX_HEARTBEAT);
        assert_eq!(parse_heartbeat(Some(b"soon")), DEFAULT_HEARTBEAT);
        assert_eq!(parse_heartbeat(None), DEFAULT_HEARTBEAT);
    }

    #[test]
    fn tokens() {
        let t = new_token();
        assert_eq!(t.len(), 43);
        assert_ne!(t, new_token());
        assert!(token_matches(&t, &t.clone()));
        assert!(!token_matches(&t[1..], &t));
        assert!(!token_matches("", ""));
        assert!(bearer(Some(format!("Bearer {t}").as_bytes())) == Some(t.as_str()));
    }

    #[test]
    fn backoff_grows_to_the_cap() {
        let (base, max) = (Duration::from_millis(100), Duration::from_secs(5));
        assert_eq!(backoff(0, base, max, 1.0), base);
        assert_eq!(backoff(3, base, max, 1.0), Duration::from_millis(800));
        assert_eq!(backoff(30, base, max, 1.0), max);
        assert_eq!(backoff(30, base, max, 0.0), max / 2);
    }

    proptest! {
        #[test]
        fn heartbeat_round_trips(n: u64) {
            prop_assert_eq!(decode_heartbeat(encode_heartbeat(n)), n);
        }

        #[test]
        fn header_parsers_take_any_bytes(v in proptest::collection::vec(any::<u8>(), 0..300)) {
            let hb = parse_heartbeat(Some(&v));
            prop_assert!((MIN_HEARTBEAT..=MAX_HEARTBEAT).contains(&hb));
            if let Some(t) = bearer(Some(&v)) {
                prop_assert!(!t.is_empty() && t.len() <= MAX_TOKEN_LEN);
                prop_assert!(t.bytes().all(|b| b.is_ascii_graphic()));
            }
            let _ = is_tunnel_upgrade(Some(&v));
        }

        #[test]
        fn token_comparison_is_equality(a in "[A-Za-z0-9_-]{0,50}", b in "[A-Za-z0-9_-]{0,50}") {
            prop_assert_eq!(token_matches(&a, &b), !b.is_empty() && a == b);
        }

        #[test]
        fn backoff_stays_within_bounds(attempt in 0u32..100, jitter in 0.0f64..1.0) {
            let (base, max) = (Duration::from_millis(50), Duration::from_secs(30));
            let d = backoff(attempt, base, max, jitter);
            prop_assert!(d <= max && d >= base / 2);
        }
    }
}
