import { describe, expect, it } from "vitest";
import { ApiError, Client, csrfToken, errorMessage, sameForm, withQuery } from "./client";

type Call = { url: string; init: RequestInit };

/** A fetch that answers from a queue and records what it was asked. */
function fakeFetch(answers: (Response | ((c: Call) => Response))[]) {
  const calls: Call[] = [];
  const f = async (url: RequestInfo | URL, init?: RequestInit) => {
    const c = { url: String(url), init: init ?? {} };
    calls.push(c);
    const a = answers.shift();
    if (!a) throw new Error(`unexpected request ${c.url}`);
    return typeof a === "function" ? a(c) : a;
  };
  return { f: f as typeof fetch, calls };
}

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

describe("client", () => {
  it("reads the CSRF cookie", () => {
    expect(csrfToken("a=1; orrery_csrf=abc%3D; b=2")).toBe("abc=");
    expect(csrfToken("a=1")).toBe("");
  });

  it("sends the CSRF header only on unsafe methods, with same-origin credentials", async () => {
    const { f, calls } = fakeFetch([json(200, {}), json(201, {})]);
    const c = new Client(f, () => "tok");
    await c.get("/api/v1/pods");
    await c.post("/api/v1/namespaces/a/pods", { kind: "Pod" });
    const h0 = calls[0].init.headers as Record<string, string>;
    const h1 = calls[1].init.headers as Record<string, string>;
    expect(h0["X-CSRF-Token"]).toBeUndefined();
    expect(h1["X-CSRF-Token"]).toBe("tok");
    expect(h1["Content-Type"]).toBe("application/json");
    expect(calls[1].init.credentials).toBe("same-origin");
    expect(calls[1].init.body).toBe('{"kind":"Pod"}');
  });

  it("refreshes once on 401 and retries", async () => {
    const { f, calls } = fakeFetch([json(401, { message: "expired" }), json(200, { username: "a" }), json(200, { ok: true })]);
    const c = new Client(f, () => "tok");
    let kicked = false;
    c.onUnauthorized = () => (kicked = true);
    expect(await c.get("/kapis/x")).toEqual({ ok: true });
    expect(calls.map((x) => x.url)).toEqual(["/kapis/x", "/console/session/refresh", "/kapis/x"]);
    expect(kicked).toBe(false);
  });

  it("gives up when the refresh fails", async () => {
    const { f } = fakeFetch([json(401, {}), json(401, {})]);
    const c = new Client(f, () => "");
    let kicked = false;
    c.onUnauthorized = () => (kicked = true);
    await expect(c.get("/kapis/x")).rejects.toMatchObject({ status: 401 });
    expect(kicked).toBe(true);
  });

  it("turns Status and OAuth errors into ApiError with the server's message", async () => {
    const { f } = fakeFetch([json(422, { kind: "Status", message: "spec.replicas: Invalid value", reason: "Invalid" }), new Response("plain failure", { status: 500 })]);
    const c = new Client(f, () => "");
    const e1 = await c.put("/apis/apps/v1/x", {}).catch((e) => e);
    expect(e1).toBeInstanceOf(ApiError);
    expect(e1).toMatchObject({ status: 422, reason: "Invalid", message: "spec.replicas: Invalid value" });
    const e2 = (await c.get("/x").catch((e: unknown) => e)) as ApiError;
    expect(e2.message).toBe("plain failure");
    expect(errorMessage(429, { error: "invalid_grant", error_description: "locked" })).toEqual({ message: "locked", reason: "invalid_grant" });
    expect(errorMessage(503, null).message).toBe("HTTP 503");
  });

  it("applies an edit to the object as it is now, read again when it changed before the write", async () => {
    const conflict = json(409, { kind: "Status", reason: "Conflict", message: "the object has been modified" });
    const { f, calls } = fakeFetch([
      json(200, { metadata: { resourceVersion: "5" }, spec: { max: 5 }, status: { n: 1 } }),
      conflict,
      json(200, { metadata: { resourceVersion: "6" }, spec: { max: 5 }, status: { n: 2 } }),
      (c) => json(200, JSON.parse(String(c.init.body))),
    ]);
    const c = new Client(f, () => "tok");
    type O = { metadata: { resourceVersion: string }; spec: { max: number }; status: { n: number } };
    // The controller wrote only the status meanwhile: what the form shows (spec.max) is as it read it.
    const out = await c.update<O>(
      "/apis/x/hpa",
      (latest) => ({ ...latest, spec: { max: 6 } }),
      (latest) => latest.spec.max === 5,
    );
    expect(calls.map((x) => x.init.method)).toEqual(["GET", "PUT", "GET", "PUT"]);
    // The second write carries what was read the second time, with the form's field.
    expect(out).toEqual({ metadata: { resourceVersion: "6" }, spec: { max: 6 }, status: { n: 2 } });
  });

  it("gives an edit's conflict up after its attempts, and any other refusal at once", async () => {
    const conflict = () => json(409, { kind: "Status", reason: "Conflict", message: "modified" });
    const one = () => json(200, { metadata: {} });
    const a = fakeFetch([one(), conflict(), one(), conflict()]);
    await expect(new Client(a.f, () => "").update("/x", (o) => o, () => true, 2)).rejects.toMatchObject({ status: 409, reason: "Conflict" });
    expect(a.calls).toHaveLength(4);
    const b = fakeFetch([one(), json(409, { kind: "Status", reason: "AlreadyExists", message: "exists" })]);
    await expect(new Client(b.f, () => "").update("/x", (o) => o, () => true)).rejects.toMatchObject({ reason: "AlreadyExists" });
    expect(b.calls).toHaveLength(2);
    const c = fakeFetch([one()]);
    await expect(
      new Client(c.f, () => "").update(
        "/x",
        () => {
          throw new Error("form invalid");
        },
        () => true,
      ),
    ).rejects.toThrow("form invalid");
    expect(c.calls).toHaveLength(1);
  });

  it("refuses an edit as a conflict when someone changed what the form shows, and writes nothing", async () => {
    const { f, calls } = fakeFetch([json(200, { metadata: { resourceVersion: "6" }, spec: { min: 3, max: 5 } })]);
    const c = new Client(f, () => "");
    type O = { spec: { min: number; max: number } };
    // The form was read with min 2; another user set min 3 since.
    const read = (o: O) => ({ min: o.spec.min, max: o.spec.max });
    const err = await c.update<O>("/x", (o) => ({ ...o, spec: { min: 2, max: 6 } }), (latest) => sameForm(read(latest), { min: 2, max: 5 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 409, reason: "Conflict" });
    expect(calls.map((x) => x.init.method)).toEqual(["GET"]);
    expect(sameForm({ a: ["x"], b: "1" }, { a: ["x"], b: "1" })).toBe(true);
    expect(sameForm({ a: ["x"] }, { a: ["y"] })).toBe(false);
  });

  it("builds queries without empty values", () => {
    expect(withQuery("/a", { limit: 5, x: undefined, y: "" })).toBe("/a?limit=5");
    expect(withQuery("/a?b=1", { c: "d e" })).toBe("/a?b=1&c=d+e");
  });
});
