// A shell in a container over the exec WebSocket (`v5.channel.k8s.io`, `v4.channel.k8s.io`)
// through the platform's cluster proxy. Each binary frame starts with its channel: 0 stdin,
// 1 stdout, 2 stderr, 3 the error channel (a Status when the command ends), 4 resize
// (`{"Width":…,"Height":…}`); v5 adds 255, closing a channel (sent by us for stdin).

import { resourcePath, resources } from "./paths";

export const EXEC_PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

export const Channel = { Stdin: 0, Stdout: 1, Stderr: 2, Error: 3, Resize: 4, Close: 255 } as const;

/** The command run: the container's bash where it has one, else sh. */
export const SHELL = ["/bin/sh", "-c", 'TERM=xterm-256color; export TERM; [ -x /bin/bash ] && exec /bin/bash || exec /bin/sh'];

/** The HTTP path of a pod's exec (with its query). */
export function execPath(cluster: string, namespace: string, pod: string, container: string, command: string[] = SHELL): string {
  const q = new URLSearchParams();
  q.set("container", container);
  for (const c of command) q.append("command", c);
  for (const k of ["stdin", "stdout", "stderr", "tty"]) q.set(k, "true");
  return `${resourcePath(cluster, resources.pods, namespace, pod)}/exec?${q.toString()}`;
}

/** The WebSocket address for an exec path on this page's origin. */
export function execUrl(path: string, loc: { protocol: string; host: string } = location): string {
  return `${loc.protocol === "https:" ? "wss" : "ws"}://${loc.host}${path}`;
}

const encoder = new TextEncoder();

/** A frame on `channel` carrying `data`. */
export function frame(channel: number, data: string | Uint8Array): Uint8Array {
  const body = typeof data === "string" ? encoder.encode(data) : data;
  const out = new Uint8Array(body.length + 1);
  out[0] = channel;
  out.set(body, 1);
  return out;
}

/** The resize message for a terminal of `cols` × `rows`. */
export function resizeFrame(cols: number, rows: number): Uint8Array {
  return frame(Channel.Resize, JSON.stringify({ Width: cols, Height: rows }));
}

/** A received frame's channel and payload (null for an empty frame). */
export function parseFrame(data: ArrayBuffer | Uint8Array): { channel: number; payload: Uint8Array } | null {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (bytes.length === 0) return null;
  return { channel: bytes[0], payload: bytes.subarray(1) };
}

/** How the command ended, from the error channel's Status: its exit code (0 on Success), or
 * null with the message when it failed without one. */
export function exitOf(payload: Uint8Array): { code: number | null; message: string } {
  const text = new TextDecoder().decode(payload);
  let status: { status?: string; message?: string; details?: { causes?: { reason?: string; message?: string }[] } };
  try {
    status = JSON.parse(text);
  } catch {
    return { code: null, message: text };
  }
  if (status.status === "Success") return { code: 0, message: "" };
  const exit = status.details?.causes?.find((c) => c.reason === "ExitCode");
  const code = exit?.message !== undefined ? Number(exit.message) : NaN;
  return { code: Number.isFinite(code) ? code : null, message: status.message ?? text };
}

/** The parts of a WebSocket a session uses (so tests can hand it a fake). */
export interface ExecSocket {
  binaryType: string;
  readonly protocol: string;
  readyState: number;
  send(data: Uint8Array): void;
  close(code?: number): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export interface ExecHandlers {
  /** The socket is open: the terminal may type. */
  onOpen(): void;
  /** Output (stdout and stderr, as a terminal shows them together). */
  onOutput(bytes: Uint8Array): void;
  /** The command ended (from the error channel). */
  onExit(code: number | null, message: string): void;
  /** The socket closed; `opened` says whether it had ever opened (else exec is refused). */
  onClosed(opened: boolean): void;
}

/** One exec session over a socket. */
export class ExecSession {
  private opened = false;

  constructor(
    private socket: ExecSocket,
    private handlers: ExecHandlers,
  ) {
    socket.binaryType = "arraybuffer";
    socket.onopen = () => {
      this.opened = true;
      handlers.onOpen();
    };
    socket.onmessage = (ev) => this.receive(ev.data);
    socket.onclose = () => handlers.onClosed(this.opened);
    socket.onerror = () => undefined;
  }

  private receive(data: unknown) {
    if (!(data instanceof ArrayBuffer || data instanceof Uint8Array)) return;
    const f = parseFrame(data);
    if (!f) return;
    if (f.channel === Channel.Stdout || f.channel === Channel.Stderr) this.handlers.onOutput(f.payload);
    else if (f.channel === Channel.Error) {
      const { code, message } = exitOf(f.payload);
      this.handlers.onExit(code, message);
    }
  }

  private get open(): boolean {
    return this.socket.readyState === 1;
  }

  /** Types `text` into the container. */
  input(text: string) {
    if (this.open) this.socket.send(frame(Channel.Stdin, text));
  }

  /** Tells the container the terminal's size. */
  resize(cols: number, rows: number) {
    if (this.open && cols > 0 && rows > 0) this.socket.send(resizeFrame(cols, rows));
  }

  /** Ends the session: closes stdin (v5) and the socket. */
  close() {
    if (this.open && this.socket.protocol === "v5.channel.k8s.io") this.socket.send(new Uint8Array([Channel.Close, Channel.Stdin]));
    this.socket.close(1000);
  }
}
