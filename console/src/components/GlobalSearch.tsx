// The global search dialog (opened by `/` or Ctrl+K): names across every cluster the caller may
// see, grouped by kind, each opening its page. Its own chunk, fetched when first opened.
import { useEffect, useRef, useState, type KeyboardEvent } from "react";
import { Link } from "react-router-dom";
import { useI18n } from "../i18n";
import { api } from "../api/client";
import { groupByKind, hitLink, searchPath, type SearchAnswer } from "../state/search";
import { ErrorBox } from "./ui";

/** Moves focus between the input and the result links with the arrow keys. */
function arrows(e: KeyboardEvent<HTMLElement>, root: HTMLElement | null) {
  if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
  const links = [...(root?.querySelectorAll<HTMLElement>("input, .search-hits a") ?? [])];
  if (!links.length) return;
  e.preventDefault();
  const at = links.indexOf(document.activeElement as HTMLElement);
  const next = e.key === "ArrowDown" ? Math.min(at + 1, links.length - 1) : Math.max(at - 1, 0);
  links[next]?.focus();
}

export default function GlobalSearch({ onClose }: { onClose: () => void }) {
  const { t, number } = useI18n();
  const dialog = useRef<HTMLDialogElement>(null);
  const [text, setText] = useState("");
  const [answer, setAnswer] = useState<SearchAnswer | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const d = dialog.current;
    if (d && !d.open) d.showModal();
  }, []);
  useEffect(() => {
    if (!text.trim()) {
      setAnswer(null);
      return;
    }
    const ctl = new AbortController();
    // Asked once typing pauses; a newer question cancels the older one.
    const timer = setTimeout(() => {
      api
        .get<SearchAnswer>(searchPath(text), { signal: ctl.signal })
        .then((a) => {
          setAnswer(a);
          setError(null);
        })
        .catch((e: Error) => !ctl.signal.aborted && setError(e));
    }, 200);
    return () => {
      clearTimeout(timer);
      ctl.abort();
    };
  }, [text]);
  const groups = answer ? groupByKind(answer.items) : [];
  return (
    <dialog ref={dialog} className="dialog wide search-dialog" aria-label={t("search.title")} onClose={onClose} onKeyDown={(e) => arrows(e, dialog.current)}>
      <h2 className="section">{t("search.title")}</h2>
      <input
        type="search"
        autoFocus
        aria-label={t("search.label")}
        aria-describedby="search-keys"
        placeholder={t("search.placeholder")}
        value={text}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          // Enter in the box opens the first hit.
          if (e.key !== "Enter") return;
          e.preventDefault();
          dialog.current?.querySelector<HTMLAnchorElement>(".search-hits a")?.click();
        }}
      />
      <p id="search-keys" className="muted">
        {t("search.keys")}
      </p>
      <ErrorBox error={error} />
      {answer && (
        <p role="status" data-testid="search-count">
          {answer.totalItems === 0 ? t("search.none") : t("search.count", { count: number(answer.totalItems) })}
          {answer.totalItems > answer.items.length && ` ${t("search.partial", { shown: number(answer.items.length) })}`}
        </p>
      )}
      <div className="search-hits">
        {groups.map((g) => (
          <section key={g.kind} aria-labelledby={`search-kind-${g.kind}`}>
            <h3 id={`search-kind-${g.kind}`} translate="no">
              {g.kind}
            </h3>
            <ul>
              {g.hits.map((h) => (
                <li key={`${h.cluster}/${h.apiVersion}/${h.resource}/${h.metadata.namespace ?? ""}/${h.metadata.name}`}>
                  <Link to={hitLink(h)} onClick={() => dialog.current?.close()}>
                    {h.metadata.name}
                  </Link>{" "}
                  <span className="muted" translate="no">
                    {h.cluster}
                    {h.metadata.namespace ? ` / ${h.metadata.namespace}` : ""}
                  </span>
                </li>
              ))}
            </ul>
          </section>
        ))}
      </div>
      <div className="toolbar">
        <span className="spacer" />
        <button type="button" onClick={() => dialog.current?.close()}>
          {t("search.close")}
        </button>
      </div>
    </dialog>
  );
}
