import { useEffect, useRef, useState } from "react";
import { useI18n } from "../i18n";
import { api } from "../api/client";
import { resourcePath, resources } from "../api/paths";
import type { K8sObject } from "../api/watch";
import { ErrorBox } from "./ui";

/** A container's log, streamed (`follow=true`) while the tab is open. */
export function PodLogs({ cluster, pod }: { cluster: string; pod: K8sObject }) {
  const { t } = useI18n();
  const containers = ((pod.spec?.containers ?? []) as { name: string }[]).map((c) => c.name);
  const [container, setContainer] = useState(containers[0] ?? "");
  const [follow, setFollow] = useState(true);
  const [text, setText] = useState("");
  const [error, setError] = useState<unknown>(null);
  const box = useRef<HTMLPreElement>(null);
  const path = `${resourcePath(cluster, resources.pods, pod.metadata.namespace, pod.metadata.name)}/log`;
  useEffect(() => {
    const ctl = new AbortController();
    setText("");
    setError(null);
    (async () => {
      const resp = await api.raw("GET", `${path}?container=${encodeURIComponent(container)}&tailLines=1000&follow=${follow}`, { signal: ctl.signal });
      if (!resp.ok || !resp.body) throw new Error(`${resp.status} ${await resp.text()}`);
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        setText((cur) => (cur + value).slice(-200_000));
      }
    })().catch((e: Error) => {
      if (!ctl.signal.aborted) setError(e);
    });
    return () => ctl.abort();
  }, [path, container, follow]);
  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [text, follow]);
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
        <label>
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> {t("detail.follow")}
        </label>
      </div>
      <ErrorBox error={error} />
      <pre className="logs" ref={box} tabIndex={0} aria-label={t("detail.logs")} data-testid="logs">
        {text}
      </pre>
    </>
  );
}
