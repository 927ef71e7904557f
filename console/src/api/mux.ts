// One WebSocket per tab carrying every live list's watch (`/console/watch`). Each watch keeps
// the contract of `watchStream`: events in order, resolves with the last revision when the
// server ends it, rejects with ExpiredError on 410. If the socket cannot be opened at all (an
// older server), callers fall back to one streamed fetch per watch.

import { ApiError, errorMessage } from "./client";
import { ExpiredError, type WatchEvent } from "./watch";

interface Sub {
  rv: string;
  onEvent: (ev: WatchEvent) => void;
  resolve: (rv: string) => void;
  reject: (e: Error) => void;
}

/** The parts of a WebSocket the multiplexer uses (so tests can hand it a fake). */
export interface SocketLike {
  readyState: number;
  send(data: string): void;
  close(): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

const OPEN = 1;

export class WatchMux {
  private socket: SocketLike | null = null;
  private opened: Promise<SocketLike> | null = null;
  private subs = new Map<number, Sub>();
  private nextId = 1;
  /** False once a socket failed before ever opening: use per-watch fetches instead. */
  supported = true;

  constructor(private open: () => SocketLike) {}

  private connect(): Promise<SocketLike> {
    if (this.socket && this.socket.readyState === OPEN) return Promise.resolve(this.socket);
    if (this.opened) return this.opened;
    this.opened = new Promise((resolve, reject) => {
      let wasOpen = false;
      const s = this.open();
      s.onopen = () => {
        wasOpen = true;
        this.socket = s;
        resolve(s);
      };
      s.onmessage = (ev) => this.receive(String(ev.data));
      s.onerror = () => undefined;
      s.onclose = () => {
        this.socket = null;
        this.opened = null;
        if (!wasOpen) {
          this.supported = false;
          reject(new Error("watch socket could not be opened"));
        }
        // Every watch on the socket ends; their owners relist and watch again.
        const subs = [...this.subs.values()];
        this.subs.clear();
        for (const sub of subs) sub.reject(new Error("watch connection closed"));
      };
    });
    return this.opened;
  }

  private receive(text: string) {
    let frame: { id?: number; event?: WatchEvent; end?: boolean; error?: { code: number; status?: unknown } };
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    const sub = frame.id === undefined ? undefined : this.subs.get(frame.id);
    if (!sub || frame.id === undefined) return;
    if (frame.event) {
      const ev = frame.event;
      if (ev.type === "ERROR") {
        this.subs.delete(frame.id);
        if (ev.object.code === 410) sub.reject(new ExpiredError(ev.object.message ?? "expired"));
        else sub.reject(new Error(ev.object.message ?? "watch error"));
        return;
      }
      sub.rv = ev.object.metadata?.resourceVersion ?? sub.rv;
      sub.onEvent(ev);
    } else if (frame.end) {
      this.subs.delete(frame.id);
      sub.resolve(sub.rv);
    } else if (frame.error) {
      this.subs.delete(frame.id);
      const { code, status } = frame.error;
      // The socket's credentials are those of its handshake: once they expire, a new socket
      // (opened after the owner's relist has refreshed the session) is the only way forward.
      if (code === 401) this.socket?.close();
      if (code === 410) sub.reject(new ExpiredError("expired"));
      else {
        const { message, reason } = errorMessage(code, status);
        sub.reject(new ApiError(code, message, reason, status));
      }
    }
  }

  /**
   * Watches `path` from `resourceVersion` until the server ends it or `signal` aborts. A
   * `metadata` watch's events carry each object's kind and metadata only (cut by the server).
   */
  async watch(path: string, resourceVersion: string, query: Record<string, string | undefined>, onEvent: (ev: WatchEvent) => void, signal: AbortSignal, metadata = false): Promise<string> {
    const s = await this.connect();
    const id = this.nextId++;
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries({ ...query, resourceVersion, allowWatchBookmarks: "true" })) if (v) q.set(k, v);
    return new Promise<string>((resolve, reject) => {
      const sub: Sub = { rv: resourceVersion, onEvent, resolve, reject };
      this.subs.set(id, sub);
      signal.addEventListener(
        "abort",
        () => {
          if (this.subs.delete(id) && this.socket?.readyState === OPEN) this.socket.send(JSON.stringify({ id, close: true }));
          reject(new DOMException("aborted", "AbortError"));
        },
        { once: true },
      );
      s.send(JSON.stringify({ id, path, query: q.toString(), ...(metadata ? { metadata: true } : {}) }));
    });
  }

  /** How many watches are open (for tests and diagnostics). */
  get active(): number {
    return this.subs.size;
  }
}

/** The tab's multiplexer. */
export const mux = new WatchMux(() => {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  return new WebSocket(`${proto}://${location.host}/console/watch`) as unknown as SocketLike;
});
