import { describe, expect, it } from "vitest";
import { WatchMux, type SocketLike } from "./mux";
import { ExpiredError, type WatchEvent } from "./watch";
import { ApiError } from "./client";

class FakeSocket implements SocketLike {
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: unknown) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.readyState = 3;
    this.onclose?.({});
  }
  accept() {
    this.readyState = 1;
    this.onopen?.({});
  }
  frame(f: unknown) {
    this.onmessage?.({ data: JSON.stringify(f) });
  }
}

const flush = () => new Promise((r) => setTimeout(r, 0));
const ev = (type: WatchEvent["type"], name: string, rv: string) => ({ type, object: { metadata: { name, resourceVersion: rv } } });

describe("watch multiplexer", () => {
  it("carries several watches on one socket and routes frames by id", async () => {
    const sockets: FakeSocket[] = [];
    const m = new WatchMux(() => {
      const s = new FakeSocket();
      sockets.push(s);
      return s;
    });
    const a: string[] = [];
    const b: string[] = [];
    const ctl = new AbortController();
    const pa = m.watch("/api/v1/pods", "5", { labelSelector: "app=web" }, (e) => a.push(e.object.metadata.name), ctl.signal);
    sockets[0].accept();
    await flush();
    const pb = m.watch("/api/v1/nodes", "7", {}, (e) => b.push(e.object.metadata.name), ctl.signal);
    await flush();
    expect(sockets).toHaveLength(1);
    expect(sockets[0].sent).toEqual([
      { id: 1, path: "/api/v1/pods", query: "labelSelector=app%3Dweb&resourceVersion=5&allowWatchBookmarks=true" },
      { id: 2, path: "/api/v1/nodes", query: "resourceVersion=7&allowWatchBookmarks=true" },
    ]);
    sockets[0].frame({ id: 2, event: ev("ADDED", "n1", "8") });
    sockets[0].frame({ id: 1, event: ev("ADDED", "p1", "9") });
    sockets[0].frame({ id: 1, event: ev("MODIFIED", "p1", "10") });
    sockets[0].frame({ id: 1, end: true });
    expect(await pa).toBe("10");
    expect(a).toEqual(["p1", "p1"]);
    expect(b).toEqual(["n1"]);
    expect(m.active).toBe(1);
    sockets[0].frame({ id: 2, error: { code: 403, status: { message: "nodes is forbidden", reason: "Forbidden" } } });
    await expect(pb).rejects.toBeInstanceOf(ApiError);
  });

  it("reports expiry, stops on abort, and ends every watch when the socket closes", async () => {
    const s = new FakeSocket();
    const m = new WatchMux(() => s);
    const ctl = new AbortController();
    const p1 = m.watch("/api/v1/pods", "1", {}, () => undefined, ctl.signal);
    s.accept();
    await flush();
    s.frame({ id: 1, event: { type: "ERROR", object: { metadata: { name: "" }, code: 410, message: "too old" } } });
    await expect(p1).rejects.toBeInstanceOf(ExpiredError);
    const ctl2 = new AbortController();
    const p2 = m.watch("/api/v1/pods", "2", {}, () => undefined, ctl2.signal);
    await flush();
    ctl2.abort();
    await expect(p2).rejects.toMatchObject({ name: "AbortError" });
    expect(s.sent.at(-1)).toEqual({ id: 2, close: true });
    const p3 = m.watch("/api/v1/pods", "3", {}, () => undefined, ctl.signal);
    await flush();
    s.close();
    await expect(p3).rejects.toThrow(/closed/);
    expect(m.supported).toBe(true);
  });

  it("drops a socket whose credentials expired, so the next watch opens a fresh one", async () => {
    const sockets: FakeSocket[] = [];
    const m = new WatchMux(() => {
      const s = new FakeSocket();
      sockets.push(s);
      return s;
    });
    const signal = new AbortController().signal;
    const p = m.watch("/api/v1/pods", "1", {}, () => undefined, signal);
    sockets[0].accept();
    await flush();
    sockets[0].frame({ id: 1, error: { code: 401, status: { message: "token expired" } } });
    await expect(p).rejects.toMatchObject({ status: 401 });
    expect(sockets[0].readyState).toBe(3);
    const again = m.watch("/api/v1/pods", "1", {}, () => undefined, signal);
    await flush();
    expect(sockets).toHaveLength(2);
    sockets[1].accept();
    await flush();
    expect(sockets[1].sent).toHaveLength(1);
    sockets[1].frame({ id: 2, end: true });
    expect(await again).toBe("1");
  });

  it("marks itself unsupported when the socket never opens", async () => {
    const s = new FakeSocket();
    const m = new WatchMux(() => s);
    const p = m.watch("/api/v1/pods", "1", {}, () => undefined, new AbortController().signal);
    s.close();
    await expect(p).rejects.toThrow(/could not be opened/);
    expect(m.supported).toBe(false);
  });
});
