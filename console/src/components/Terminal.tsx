// A container's terminal: xterm.js over the exec WebSocket through the platform. Loaded on
// demand (this module and xterm are their own chunk, fetched when the Terminal tab opens).
import { useEffect, useRef, useState } from "react";
import { Terminal as Xterm } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import "@xterm/xterm/css/xterm.css";
import { useI18n } from "../i18n";
import { api } from "../api/client";
import { EXEC_PROTOCOLS, ExecSession, execPath, execUrl, type ExecSocket } from "../api/exec";
import type { K8sObject } from "../api/watch";
import { useApp } from "../state/context";

type State = { kind: "connecting" } | { kind: "open" } | { kind: "ended"; code: number | null; message: string } | { kind: "unavailable"; detail: string };

/** Why exec was refused: the same address asked without an upgrade answers with the cluster's
 * Status (the browser does not show a failed WebSocket handshake's body). */
async function refusal(path: string): Promise<string> {
  try {
    const resp = await api.raw("GET", path);
    const text = await resp.text();
    try {
      const body = JSON.parse(text) as { message?: string };
      return body.message ?? text;
    } catch {
      return text || `HTTP ${resp.status}`;
    }
  } catch (e) {
    return (e as Error).message;
  }
}

/** The terminal's colours in the console's theme. */
function colours(theme: string | undefined) {
  return theme === "dark"
    ? { background: "#1b2029", foreground: "#e4e8ef", cursor: "#e4e8ef", selectionBackground: "#3a4a5c" }
    : { background: "#ffffff", foreground: "#1d2330", cursor: "#1d2330", selectionBackground: "#b3d4fc" };
}

function Session({ cluster, pod, container }: { cluster: string; pod: K8sObject; container: string }) {
  const { t } = useI18n();
  const { theme } = useApp();
  const box = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<State>({ kind: "connecting" });
  const [attempt, setAttempt] = useState(0);
  const session = useRef<ExecSession | null>(null);
  const termRef = useRef<Xterm | null>(null);
  const path = execPath(cluster, pod.metadata.namespace ?? "", pod.metadata.name, container);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    setState({ kind: "connecting" });
    const term = new Xterm({ cursorBlink: true, fontSize: 13, screenReaderMode: true, theme: colours(document.documentElement.dataset.theme) });
    termRef.current = term;
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(el);
    fit.fit();
    let disposed = false;
    const ws = new WebSocket(execUrl(path), EXEC_PROTOCOLS) as unknown as ExecSocket;
    const s = new ExecSession(ws, {
      onOpen: () => {
        setState({ kind: "open" });
        s.resize(term.cols, term.rows);
        term.focus();
      },
      onOutput: (bytes) => term.write(bytes),
      onExit: (code, message) => {
        if (!disposed) setState({ kind: "ended", code, message });
      },
      onClosed: (opened) => {
        if (disposed) return;
        if (opened) setState((cur) => (cur.kind === "ended" ? cur : { kind: "ended", code: null, message: "" }));
        else void refusal(path).then((detail) => !disposed && setState({ kind: "unavailable", detail }));
      },
    });
    session.current = s;
    const typed = term.onData((d) => s.input(d));
    const sized = term.onResize(({ cols, rows }) => s.resize(cols, rows));
    const observer = new ResizeObserver(() => fit.fit());
    observer.observe(el);
    return () => {
      disposed = true;
      observer.disconnect();
      typed.dispose();
      sized.dispose();
      s.close();
      session.current = null;
      termRef.current = null;
      term.dispose();
    };
  }, [path, attempt]);
  useEffect(() => {
    if (termRef.current) termRef.current.options.theme = colours(theme);
  }, [theme]);
  return (
    <>
      <div className="toolbar">
        <span className="muted" role="status" data-testid="terminal-state">
          {state.kind === "connecting" && t("term.connecting")}
          {state.kind === "open" && t("term.connected")}
          {state.kind === "ended" && (state.code === null ? t("term.ended") : t("term.exit", { code: state.code }))}
        </span>
        <span className="spacer" />
        {state.kind === "open" ? (
          <button type="button" onClick={() => session.current?.close()}>
            {t("term.disconnect")}
          </button>
        ) : (
          <button type="button" onClick={() => setAttempt((a) => a + 1)}>
            {t("term.connect")}
          </button>
        )}
      </div>
      {state.kind === "unavailable" && (
        <div className="error" role="alert" data-testid="terminal-unavailable">
          <div>{t("term.unavailable")}</div>
          <details>
            <summary>{t("error.details")}</summary>
            <pre>{state.detail}</pre>
          </details>
        </div>
      )}
      <div className="terminal" ref={box} role="region" aria-label={t("term.label", { container })} hidden={state.kind === "unavailable"} />
    </>
  );
}

/** A pod's terminal: choose a container, then a shell in it. */
export default function PodTerminal({ cluster, pod }: { cluster: string; pod: K8sObject }) {
  const { t } = useI18n();
  const containers = ((pod.spec?.containers ?? []) as { name: string }[]).map((c) => c.name);
  const [container, setContainer] = useState(containers[0] ?? "");
  return (
    <>
      <div className="toolbar">
        <label>
          {t("detail.container")}{" "}
          <select value={container} onChange={(e) => setContainer(e.target.value)}>
            {containers.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </label>
      </div>
      <Session key={container} cluster={cluster} pod={pod} container={container} />
    </>
  );
}
