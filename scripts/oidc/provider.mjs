// A real OpenID provider (the npm package `oidc-provider`) for the SSO tests, on 127.0.0.1 only.
//
//   node provider.mjs '{"clients": [...], "accounts": {"alice": {"email": ..., "groups": [...]}}}'
//
// Prints `ready <issuer>` once it listens. People log in on its interaction page: a small HTML
// form asking only for the account name (a browser test fills it), or — for tests without a
// browser — the account queued by `POST /test/next-login` (body: the account name), which the
// next interaction completes with at once. Consent is given on the person's behalf for the
// scopes asked. It stops when its stdin closes (the test ending), so it never outlives the test.
import http from "node:http";
import Provider from "oidc-provider";

const config = JSON.parse(process.argv[2] ?? "{}");
const accounts = config.accounts ?? {};
let nextLogin = null;

const server = http.createServer();
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: config.clients ?? [],
    cookies: { keys: ["orrery-test-provider-cookie-key"] },
    claims: {
      openid: ["sub"],
      email: ["email", "email_verified"],
      profile: ["name", "preferred_username"],
      groups: ["groups"],
    },
    scopes: ["openid", "email", "profile", "groups", "offline_access"],
    // The ID token carries the scope's claims (the relying party reads them from there).
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    pkce: { required: () => true },
    findAccount: async (_ctx, id) => {
      const a = accounts[id];
      if (!a) return undefined;
      return {
        accountId: id,
        claims: async () => ({ sub: a.sub ?? id, preferred_username: a.username ?? id, email: a.email, email_verified: a.email_verified ?? true, name: a.name, groups: a.groups ?? [] }),
      };
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  });
  // Tests talk plain HTTP on loopback.
  provider.proxy = false;

  const body = (req) =>
    new Promise((ok) => {
      let b = "";
      req.on("data", (d) => (b += d));
      req.on("end", () => ok(b));
    });

  /** Completes the interaction as `account`: login, then consent for what is asked. */
  async function finish(req, res, account) {
    const details = await provider.interactionDetails(req, res);
    if (details.prompt.name === "login") {
      return provider.interactionFinished(req, res, { login: { accountId: account } }, { mergeWithLastSubmission: false });
    }
    const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    const missing = details.prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    if (missing.missingResourceScopes) for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) grant.addResourceScope(indicator, scopes.join(" "));
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  const app = provider.callback();
  server.on("request", async (req, res) => {
    try {
      const url = new URL(req.url, issuer);
      if (req.method === "POST" && url.pathname === "/test/next-login") {
        nextLogin = (await body(req)).trim() || null;
        res.writeHead(204).end();
        return;
      }
      const m = /^\/interaction\/([^/]+)$/.exec(url.pathname);
      if (m) {
        const details = await provider.interactionDetails(req, res);
        if (details.prompt.name === "consent") return await finish(req, res, details.session.accountId);
        if (req.method === "POST") {
          const form = new URLSearchParams(await body(req));
          const login = form.get("login") ?? "";
          if (!accounts[login]) {
            res.writeHead(400, { "content-type": "text/plain" }).end(`no account ${login}`);
            return;
          }
          return await finish(req, res, login);
        }
        if (nextLogin) {
          const account = nextLogin;
          nextLogin = null;
          return await finish(req, res, account);
        }
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
        res.end(
          `<!doctype html><title>Test provider sign-in</title><h1>Test provider</h1>` +
            `<form method="post" action="/interaction/${m[1]}"><label>Account <input name="login" autofocus></label>` +
            `<button type="submit">Sign in</button></form>`,
        );
        return;
      }
      app(req, res);
    } catch (e) {
      res.writeHead(500, { "content-type": "text/plain" }).end(String(e?.stack ?? e));
    }
  });
  console.log(`ready ${issuer}`);
});

process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
process.stdin.on("close", () => process.exit(0));
