// The API client: same-origin fetches authenticated by the session cookie (HttpOnly, so script
// never holds a token), the CSRF cookie copied into X-CSRF-Token on unsafe methods, one
// transparent refresh on 401, and Kubernetes Status / OAuth errors turned into ApiError.

/** An API failure with the server's message. */
export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
    public reason = "",
    public body: unknown = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** Reads the readable CSRF cookie. */
export function csrfToken(cookies: string = typeof document === "undefined" ? "" : document.cookie): string {
  for (const part of cookies.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === "orrery_csrf") return decodeURIComponent(v.join("="));
  }
  return "";
}

/** The message a failed answer carries (Status `message`, OAuth `error_description`, or text). */
export function errorMessage(status: number, body: unknown): { message: string; reason: string } {
  if (body && typeof body === "object") {
    const b = body as Record<string, unknown>;
    if (typeof b.message === "string") return { message: b.message, reason: String(b.reason ?? "") };
    if (typeof b.error_description === "string") return { message: b.error_description, reason: String(b.error ?? "") };
  }
  if (typeof body === "string" && body.trim()) return { message: body.trim(), reason: "" };
  return { message: `HTTP ${status}`, reason: "" };
}

export interface RequestOptions {
  body?: unknown;
  contentType?: string;
  /** The Accept header (JSON unless set: a metadata-only list asks for `PartialObjectMetadataList`). */
  accept?: string;
  query?: Record<string, string | number | boolean | undefined>;
  signal?: AbortSignal;
}

type Fetch = typeof fetch;

/** Builds `path?query`, leaving out undefined values. */
export function withQuery(path: string, query?: RequestOptions["query"]): string {
  if (!query) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}${path.includes("?") ? "&" : "?"}${s}` : path;
}

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** A client over `fetch`; `onUnauthorized` runs when a refresh cannot save the session. */
export class Client {
  private refreshing: Promise<boolean> | null = null;
  onUnauthorized: () => void = () => {};

  constructor(
    private fetcher: Fetch = (...a) => fetch(...a),
    private cookies: () => string = () => csrfToken(),
  ) {}

  /** Sends a request and returns the raw response (after one refresh on 401). */
  async raw(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const send = () => {
      const headers: Record<string, string> = { Accept: opts.accept ?? "application/json" };
      let body: BodyInit | undefined;
      if (opts.body !== undefined) {
        headers["Content-Type"] = opts.contentType ?? "application/json";
        body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
      }
      if (UNSAFE.has(method)) headers["X-CSRF-Token"] = this.cookies();
      return this.fetcher(withQuery(path, opts.query), {
        method,
        headers,
        body,
        credentials: "same-origin",
        signal: opts.signal,
      });
    };
    let resp = await send();
    if (resp.status === 401 && !path.startsWith("/console/session")) {
      if (await this.refresh()) resp = await send();
      if (resp.status === 401) this.onUnauthorized();
    }
    return resp;
  }

  /** Swaps the refresh cookie for a new session; concurrent callers share one attempt. */
  refresh(): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = this.fetcher("/console/session/refresh", {
        method: "POST",
        headers: { "X-CSRF-Token": this.cookies() },
        credentials: "same-origin",
      })
        .then((r) => r.ok)
        .catch(() => false)
        .finally(() => {
          this.refreshing = null;
        });
    }
    return this.refreshing;
  }

  /** Sends a request and decodes its JSON answer, throwing ApiError on failure. */
  async json<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const resp = await this.raw(method, path, opts);
    const text = await resp.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // A non-JSON answer keeps its text as the message.
    }
    if (!resp.ok) {
      const { message, reason } = errorMessage(resp.status, body);
      throw new ApiError(resp.status, message, reason, body);
    }
    return body as T;
  }

  get<T = unknown>(path: string, opts?: RequestOptions) {
    return this.json<T>("GET", path, opts);
  }
  post<T = unknown>(path: string, body: unknown, opts?: RequestOptions) {
    return this.json<T>("POST", path, { ...opts, body });
  }
  put<T = unknown>(path: string, body: unknown, opts?: RequestOptions) {
    return this.json<T>("PUT", path, { ...opts, body });
  }
  patch<T = unknown>(path: string, body: unknown, contentType = "application/merge-patch+json") {
    return this.json<T>("PATCH", path, { body, contentType });
  }
  delete<T = unknown>(path: string) {
    return this.json<T>("DELETE", path);
  }

  /**
   * Saves a form's edit of the object at `path`: reads the object as it is now and sends
   * `change(latest)` as its replacement. Controllers write an object's status while a form is open
   * (a HorizontalPodAutoscaler's, a ResourceQuota's, a Deployment's), so the copy the form was read
   * from is usually stale and a replacement of it is refused (409); the form's fields are applied to
   * the latest copy instead, read again when it changed between the read and the write. Fields the
   * form does not show are kept as they are now. What the form shows must be as the form read it:
   * `same(latest)` says so (compare the form read from `latest` with the one read at the start);
   * when someone changed it meanwhile the save is refused as a conflict rather than undoing their
   * change.
   */
  async update<O, T = O>(path: string, change: (latest: O) => unknown, same: (latest: O) => boolean, attempts = 3): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const latest = await this.get<O>(path);
      if (!same(latest)) throw new ApiError(409, "what this form shows was changed since it was opened", "Conflict");
      try {
        return await this.put<T>(path, change(latest));
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 409 && e.reason === "Conflict") || attempt >= attempts) throw e;
      }
    }
  }
}

/** The console's client. */
export const api = new Client();

/** Whether two forms (plain data read from objects) hold the same values. */
export function sameForm(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
