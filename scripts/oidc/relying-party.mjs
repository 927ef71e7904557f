// A real OpenID Connect relying party (the npm package `openid-client`, v6) for the tests of
// Orrery as an OpenID provider. It does what Grafana or an OIDC kubectl plugin does, minus the
// browser, which the test plays:
//
//   node relying-party.mjs '{"issuer": "https://127.0.0.1:PORT", "client_id": "grafana",
//       "client_secret": "…", "redirect_uri": "http://127.0.0.1:8000/callback",
//       "scope": "openid profile email groups", "auth": "basic" | "post" | "none"}'
//
// 1. discovers the provider (`/.well-known/openid-configuration`: the issuer must match);
// 2. prints `authorize <URL>`: the authorization URL with PKCE (S256), state and nonce;
// 3. reads one line on stdin: the URL the provider redirected the browser to (the callback);
// 4. redeems the code (`authorizationCodeGrant`: state, PKCE, and the ID token checked —
//    issuer, audience, nonce, expiry, and its RS256 signature against the provider's jwks_uri,
//    `/oauth/keys`, since non-repudiation checks are enabled), then reads `/oauth/userinfo`;
// 5. prints `result <JSON>` ({claims, userinfo, id_token, access_token, token_type, expires_in,
//    has_refresh_token}) — or `error <message>` and exits 1.
//
// It exits when its stdin closes (the test ending), so it never outlives the test. Trust for the
// provider's certificate comes from the environment the test sets (NODE_EXTRA_CA_CERTS).
import readline from "node:readline";
import * as client from "openid-client";

const cfg = JSON.parse(process.argv[2] ?? "{}");
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

async function main() {
  const auth =
    cfg.auth === "post"
      ? client.ClientSecretPost(cfg.client_secret)
      : cfg.auth === "none"
        ? client.None()
        : client.ClientSecretBasic(cfg.client_secret);
  const config = await client.discovery(new URL(cfg.issuer), cfg.client_id, undefined, auth);
  // Verify the ID token's signature with the provider's published keys.
  client.enableNonRepudiationChecks(config);

  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: cfg.redirect_uri,
    scope: cfg.scope ?? "openid",
    code_challenge: challenge,
    code_challenge_method: "S256",
    state,
    nonce,
  });
  console.log(`authorize ${url.href}`);

  const next = await lines.next();
  if (next.done) throw new Error("stdin closed before the callback URL came");
  const callback = new URL(next.value.trim());
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  console.log(
    `result ${JSON.stringify({
      claims,
      userinfo,
      id_token: tokens.id_token,
      access_token: tokens.access_token,
      token_type: tokens.token_type,
      expires_in: tokens.expiresIn(),
      has_refresh_token: typeof tokens.refresh_token === "string",
    })}`,
  );
}

main().then(
  async () => {
    // Stay until the test closes stdin.
    while (!(await lines.next()).done);
    process.exit(0);
  },
  (e) => {
    const cause = e?.cause ? ` (cause: ${JSON.stringify(e.cause)})` : "";
    console.log(`error ${String(e?.message ?? e).replace(/\n/g, " ")}${cause}`);
    process.exit(1);
  },
);
