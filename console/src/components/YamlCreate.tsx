import { lazy, Suspense, useState } from "react";
import { useNavigate } from "react-router-dom";
import { load } from "js-yaml";
import { useI18n } from "../i18n";
import { api } from "../api/client";
import { resourcePath, type ResourceType } from "../api/paths";
import { ErrorBox, PageHead } from "./ui";

const YamlEditor = lazy(() => import("./YamlEditor"));

/** A starting manifest for a new object of `rt`. */
export function skeleton(rt: ResourceType, namespace?: string): string {
  const apiVersion = rt.group ? `${rt.group}/${rt.version}` : rt.version;
  const ns = rt.namespaced && namespace ? `\n  namespace: ${namespace}` : "";
  return `apiVersion: ${apiVersion}\nkind: ${rt.kind}\nmetadata:\n  name: ""${ns}\n`;
}

/** Creates any resource from YAML; the server's errors are shown under the editor. */
export function YamlCreate({ cluster, rt, namespace, done }: { cluster: string; rt: ResourceType; namespace?: string; done: (name: string) => string }) {
  const { t } = useI18n();
  const navigate = useNavigate();
  const [text, setText] = useState(() => skeleton(rt, namespace));
  const [error, setError] = useState<unknown>(null);
  const create = async () => {
    let body: { metadata?: { name?: string } };
    try {
      body = load(text) as typeof body;
    } catch (e) {
      setError(new Error(t("yaml.invalid", { message: (e as Error).message })));
      return;
    }
    try {
      const made = await api.post<{ metadata: { name: string } }>(resourcePath(cluster, rt, namespace), body);
      navigate(done(made.metadata.name));
    } catch (e) {
      setError(e);
    }
  };
  return (
    <>
      <PageHead title={`${t("action.create")}: ${rt.kind}`} />
      <Suspense fallback={<p className="muted">{t("app.loading")}</p>}>
        <YamlEditor value={text} onChange={setText} label={t("detail.yaml")} />
      </Suspense>
      <ErrorBox error={error} />
      <div className="toolbar">
        <span className="spacer" />
        <button type="button" onClick={() => navigate(-1)}>
          {t("action.cancel")}
        </button>
        <button className="primary" type="button" onClick={create}>
          {t("action.create")}
        </button>
      </div>
    </>
  );
}
