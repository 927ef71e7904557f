// The UI of the example extension: one page under /ext/hello, in English and Chinese, showing
// what its backend answers (docs/extensions.md "UI extensions"). Built into dist/index.js by
// `scripts/console.sh extension examples/extensions/hello/charts/frontend`.
import { ErrorBox, PageHead, useLoad, useT } from "@orrery/console";

/** What the backend answers at /kapis/hello.kubesphere.io/v1alpha1/hello. */
interface Hello {
  message: string;
  user: string;
  version: string;
  cluster: string;
}

function HelloPage() {
  const { t } = useT();
  const hello = useLoad<Hello>("/kapis/hello.kubesphere.io/v1alpha1/hello");
  return (
    <section>
      <PageHead title={t("hello.title")} />
      <p data-testid="hello-intro">{t("hello.intro")}</p>
      <ErrorBox error={hello.error} />
      {hello.loading && <p>{t("hello.waiting")}</p>}
      {hello.data && (
        <dl data-testid="hello-answer">
          <dt>{t("hello.message")}</dt>
          <dd>{hello.data.message}</dd>
          <dt>{t("hello.version")}</dt>
          <dd>{hello.data.version}</dd>
          <dt>{t("hello.cluster")}</dt>
          <dd>{hello.data.cluster}</dd>
        </dl>
      )}
    </section>
  );
}

export default {
  sdk: 1,
  routes: [{ path: "/ext/hello", title: "hello.title", component: HelloPage }],
  locales: {
    en: {
      "hello.title": "Hello",
      "hello.intro": "This page comes from the hello extension.",
      "hello.waiting": "Asking the backend…",
      "hello.message": "The backend says",
      "hello.version": "Version",
      "hello.cluster": "Cluster",
    },
    "zh-CN": {
      "hello.title": "你好",
      "hello.intro": "此页面来自 hello 扩展。",
      "hello.waiting": "正在询问后端…",
      "hello.message": "后端说",
      "hello.version": "版本",
      "hello.cluster": "集群",
    },
  },
};
