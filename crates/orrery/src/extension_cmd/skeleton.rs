//! The files `orrery extension create` writes: an extension chart in KubeSphere's layout
//! (docs/extension-authoring.md). `__NAME__` is replaced by the extension's name and
//! `__TITLE__` by its name in title case.

/// `(path, content)` of every file of a new extension.
pub const FILES: &[(&str, &str)] = &[
    (
        "Chart.yaml",
        r#"apiVersion: v2
name: __NAME__
version: 0.1.0
description: __TITLE__, an Orrery (KubeSphere-compatible) extension
type: application
kubeVersion: ">=1.19.0-0"
dependencies:
  # The UI: installed on the host only.
  - name: frontend
    tags: [extension]
  # The backend: installed on the host, or on the member clusters of the InstallPlan's
  # placement when extension.yaml says installationMode: Multicluster.
  - name: backend
    tags: [agent]
"#,
    ),
    (
        "extension.yaml",
        r#"# What the marketplace shows about this extension (read into the ExtensionVersion).
apiVersion: v1
name: __NAME__
version: 0.1.0
displayName:
  en: __TITLE__
  zh: __TITLE__
description:
  en: __TITLE__ adds a page and a menu entry to the console, served by a small backend.
  zh: __TITLE__ 为控制台添加一个页面和一个菜单项，由一个小后端提供数据。
category: other
keywords: [__NAME__]
home: https://example.com/__NAME__
provider:
  en: {name: Example, email: dev@example.com, url: https://example.com}
  zh: {name: Example, email: dev@example.com, url: https://example.com}
icon: ./static/icon.svg
kubeVersion: ">=1.19.0-0"
ksVersion: ">=4.0.0-0"
# HostOnly: everything on the host. Multicluster: the backend (tag agent) also goes to the
# clusters an InstallPlan places it on.
installationMode: HostOnly
dependencies:
  - name: frontend
    tags: [extension]
  - name: backend
    tags: [agent]
"#,
    ),
    (
        "permissions.yaml",
        r#"# The rights installing this extension needs, and no more: the installer runs as a
# ServiceAccount bound to exactly these rules (ClusterRole: cluster-wide; Role: in the
# extension's namespace). Add a rule when you add a kind of object to the chart.
kind: ClusterRole
rules:
  # frontend: the JSBundle and the ExtensionEntry; backend: the APIService.
  - apiGroups: [extensions.kubesphere.io]
    resources: [jsbundles, extensionentries, apiservices]
    verbs: [get, list, watch, create, update, patch, delete]
  # frontend: the role template that lets people use the backend's API.
  - apiGroups: [iam.kubesphere.io]
    resources: [roletemplates]
    verbs: [get, list, watch, create, update, patch, delete]
---
kind: Role
rules:
  # frontend: the bundle's ConfigMap; backend: its script, Service and Deployment.
  - apiGroups: [""]
    resources: [configmaps, services]
    verbs: [get, list, watch, create, update, patch, delete]
  - apiGroups: [apps]
    resources: [deployments]
    verbs: [get, list, watch, create, update, patch, delete]
  # Read-only, to wait for the backend to be ready.
  - apiGroups: [""]
    resources: [pods]
    verbs: [get, list, watch]
  - apiGroups: [apps]
    resources: [replicasets]
    verbs: [get, list, watch]
"#,
    ),
    (
        "values.yaml",
        r#"# Values of the whole extension; an InstallPlan's spec.config overrides them.
# frontend.* goes to the frontend subchart, backend.* to the backend subchart.
global:
  # A registry prefixed to images (the platform sets it from its configuration).
  imageRegistry: ""
backend:
  greeting: Hello
  replicas: 1
  image:
    repository: docker.io/library/python
    tag: 3.12-alpine
  apiService:
    # Where the platform reaches the backend. Empty: the backend's Service
    # (<name>-backend.<namespace>.svc:8080, which needs the platform to run in the cluster).
    url: ""
"#,
    ),
    (
        ".helmignore",
        r#"# Left out of the package: sources and the toolchain of the frontend (its built
# charts/frontend/dist/index.js goes in), packages, VCS and editor files.
.git/
.DS_Store
*.tgz
*.swp
node_modules/
charts/frontend/src/
charts/frontend/types/
charts/frontend/package.json
charts/frontend/package-lock.json
charts/frontend/tsconfig.json
charts/frontend/vite.config.ts
"#,
    ),
    (
        "README.md",
        r#"# __TITLE__

__TITLE__ adds a page to the console (in the platform's navigation) that shows a greeting from
its backend, reached at `/kapis/__NAME__.kubesphere.io/v1alpha1/hello`. (The marketplace shows
this file.)

## Configuration

- `backend.greeting`: the greeting (default `Hello`).
- `backend.apiService.url`: where the platform reaches the backend, when not its Service.

## Development

An Orrery extension (KubeSphere 4 layout), made with `orrery extension create __NAME__`.

- `extension.yaml`: what the marketplace shows; `permissions.yaml`: what installing it may do.
- `charts/frontend` (tag `extension`, host only): the UI bundle (`src/index.tsx`, built into
  `dist/index.js`), its JSBundle and ExtensionEntry (a menu entry), and a role template.
- `charts/backend` (tag `agent`): a small HTTP backend and the APIService routing
  `/kapis/__NAME__.kubesphere.io/v1alpha1/…` to it.

Build the UI (`cd charts/frontend && npm install && npm run build`) and package:
`orrery extension package .` writes `__NAME__-0.1.0.tgz`. See docs/extension-authoring.md.
"#,
    ),
    (
        "static/icon.svg",
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="14" fill="#3b6ea8"/><circle cx="32" cy="32" r="14" fill="none" stroke="#fff" stroke-width="5"/><circle cx="32" cy="32" r="4" fill="#fff"/></svg>
"##,
    ),
    (
        "charts/frontend/Chart.yaml",
        r#"apiVersion: v2
name: frontend
version: 0.1.0
description: The UI of __TITLE__ (host only)
type: application
"#,
    ),
    ("charts/frontend/values.yaml", "{}\n"),
    (
        "charts/frontend/templates/bundle.yaml",
        r#"# The built bundle (dist/index.js) in a ConfigMap, served by the platform at
# /dist/__NAME__/index.js through the JSBundle (docs/extensions.md "UI extensions").
apiVersion: v1
kind: ConfigMap
metadata:
  name: __NAME__-frontend
  namespace: {{ .Release.Namespace }}
data:
  index.js: {{ .Files.Get "dist/index.js" | quote }}
---
apiVersion: extensions.kubesphere.io/v1alpha1
kind: JSBundle
metadata:
  name: __NAME__
  labels:
    kubesphere.io/extension-ref: __NAME__
  annotations:
    # A new bundle changes the JSBundle, so open consoles import it again.
    checksum/bundle: {{ .Files.Get "dist/index.js" | sha256sum }}
spec:
  rawFrom:
    configMapKeyRef:
      namespace: {{ .Release.Namespace }}
      name: __NAME__-frontend
      key: index.js
"#,
    ),
    (
        "charts/frontend/templates/entry.yaml",
        r#"# The menu entry, shown before (and without) the bundle being loaded.
apiVersion: extensions.kubesphere.io/v1alpha1
kind: ExtensionEntry
metadata:
  name: __NAME__
  labels:
    kubesphere.io/extension-ref: __NAME__
spec:
  entries:
    - name: __NAME__
      parent: platform
      title:
        en: __TITLE__
        zh-CN: __TITLE__
      link: /ext/__NAME__
      order: 10
"#,
    ),
    (
        "charts/frontend/templates/roletemplate.yaml",
        r#"# Lets a role grant the use of the backend's API (/kapis/__NAME__.kubesphere.io/…):
# platform administrators have it anyway; aggregate this template into other global roles.
apiVersion: iam.kubesphere.io/v1beta1
kind: RoleTemplate
metadata:
  name: global-__NAME__-view
  labels:
    iam.kubesphere.io/scope: global
    iam.kubesphere.io/category: extensions
    kubesphere.io/extension-ref: __NAME__
spec:
  displayName:
    en: View __TITLE__
    zh: 查看 __TITLE__
  rules:
    - apiGroups: [__NAME__.kubesphere.io]
      resources: ["*"]
      verbs: [get, list]
"#,
    ),
    (
        "charts/frontend/src/index.tsx",
        r#"// The UI of __TITLE__: an ES module whose default export declares its routes and messages
// (docs/extensions.md "UI extensions"). React, react-router-dom and @orrery/console come from
// the console's import map; `npm run build` writes dist/index.js.
import { ErrorBox, PageHead, useLoad, useT } from "@orrery/console";

/** What the backend answers at /kapis/__NAME__.kubesphere.io/v1alpha1/hello. */
interface Hello {
  message: string;
  user: string;
  version: string;
  cluster: string;
}

function Page() {
  const { t } = useT();
  const hello = useLoad<Hello>("/kapis/__NAME__.kubesphere.io/v1alpha1/hello");
  return (
    <section>
      <PageHead title={t("__NAME__.title")} />
      <ErrorBox error={hello.error} />
      <p data-testid="__NAME__-message">{hello.data ? hello.data.message : t("__NAME__.waiting")}</p>
    </section>
  );
}

export default {
  sdk: 1,
  routes: [{ path: "/ext/__NAME__", title: "__NAME__.title", component: Page }],
  locales: {
    en: { "__NAME__.title": "__TITLE__", "__NAME__.waiting": "Asking the backend…" },
    "zh-CN": { "__NAME__.title": "__TITLE__", "__NAME__.waiting": "正在询问后端…" },
  },
};
"#,
    ),
    (
        "charts/frontend/dist/index.js",
        r#"import { jsx, jsxs } from "react/jsx-runtime";
import { ErrorBox, PageHead, useLoad, useT } from "@orrery/console";
function Page() {
  const { t } = useT();
  const hello = useLoad("/kapis/__NAME__.kubesphere.io/v1alpha1/hello");
  return /* @__PURE__ */ jsxs("section", { children: [
    /* @__PURE__ */ jsx(PageHead, { title: t("__NAME__.title") }),
    /* @__PURE__ */ jsx(ErrorBox, { error: hello.error }),
    /* @__PURE__ */ jsx("p", { "data-testid": "__NAME__-message", children: hello.data ? hello.data.message : t("__NAME__.waiting") })
  ] });
}
const index = {
  sdk: 1,
  routes: [{ path: "/ext/__NAME__", title: "__NAME__.title", component: Page }],
  locales: {
    en: { "__NAME__.title": "__TITLE__", "__NAME__.waiting": "Asking the backend…" },
    "zh-CN": { "__NAME__.title": "__TITLE__", "__NAME__.waiting": "正在询问后端…" }
  }
};
export {
  index as default
};
"#,
    ),
    (
        "charts/frontend/package.json",
        r#"{
  "name": "__NAME__-frontend",
  "private": true,
  "version": "0.1.0",
  "type": "module",
  "scripts": {
    "build": "vite build",
    "typecheck": "tsc --noEmit -p ."
  },
  "devDependencies": {
    "@types/react": "^18.3.0",
    "@vitejs/plugin-react": "^6.3.0",
    "typescript": "^6.0.3",
    "vite": "^8.4.0"
  }
}
"#,
    ),
    (
        "charts/frontend/vite.config.ts",
        r#"// Vite's library mode: one ES module, dist/index.js, with the libraries the console shares
// left as bare imports (its import map provides them).
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

export default defineConfig({
  plugins: [react()],
  build: {
    lib: { entry: "src/index.tsx", formats: ["es"], fileName: () => "index.js" },
    target: "es2020",
    outDir: "dist",
    minify: false,
    rollupOptions: {
      external: ["react", "react/jsx-runtime", "react-dom", "react-router-dom", "@orrery/console"],
      output: { inlineDynamicImports: true },
    },
  },
});
"#,
    ),
    (
        "charts/frontend/tsconfig.json",
        r#"{
  "compilerOptions": {
    "target": "ES2020",
    "lib": ["ES2020", "DOM"],
    "module": "ESNext",
    "moduleResolution": "bundler",
    "jsx": "react-jsx",
    "strict": true,
    "skipLibCheck": true,
    "isolatedModules": true,
    "noEmit": true
  },
  "include": ["src", "types"]
}
"#,
    ),
    (
        "charts/frontend/types/orrery-console.d.ts",
        include_str!("../../../../console/sdk/orrery-console.d.ts"),
    ),
    (
        "charts/backend/Chart.yaml",
        r#"apiVersion: v2
name: backend
version: 0.1.0
description: The backend of __TITLE__ (on the host, or on each member of the placement)
type: application
"#,
    ),
    (
        "charts/backend/values.yaml",
        r#"greeting: Hello
replicas: 1
image:
  repository: docker.io/library/python
  tag: 3.12-alpine
apiService:
  url: ""
"#,
    ),
    (
        "charts/backend/files/server.py",
        r#"# The backend of __TITLE__: answers GET /kapis/__NAME__.kubesphere.io/v1alpha1/hello with
# a greeting for the caller. The platform authorizes every request before it gets here and
# names the caller in X-Remote-User (a client cannot set it: the platform strips it).
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/kapis/__NAME__.kubesphere.io/v1alpha1"
GREETING = os.environ.get("GREETING", "Hello")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            return self.reply(200, {"ok": True})
        if path != PREFIX + "/hello":
            return self.reply(404, {"message": "not found"})
        user = self.headers.get("X-Remote-User", "")
        self.reply(200, {
            "message": "%s, %s!" % (GREETING, user or "stranger"),
            "user": user,
            "version": os.environ.get("VERSION", ""),
            "cluster": os.environ.get("CLUSTER", ""),
        })

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


# HOST and PORT for running it outside the chart (the chart's container listens on :8080).
ThreadingHTTPServer(
    (os.environ.get("HOST", ""), int(os.environ.get("PORT", "8080"))), Handler
).serve_forever()
"#,
    ),
    (
        "charts/backend/templates/backend.yaml",
        r#"{{- $global := .Values.global | default dict -}}
{{- $registry := $global.imageRegistry | default "" | trimSuffix "/" -}}
{{- $image := printf "%s:%s" .Values.image.repository .Values.image.tag -}}
{{- if $registry }}{{ $image = printf "%s/%s" $registry $image }}{{ end -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: __NAME__-backend
  namespace: {{ .Release.Namespace }}
data:
  server.py: {{ .Files.Get "files/server.py" | quote }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: __NAME__-backend
  namespace: {{ .Release.Namespace }}
  labels: {app: __NAME__-backend}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: __NAME__-backend}
  template:
    metadata:
      labels: {app: __NAME__-backend}
      annotations:
        checksum/script: {{ .Files.Get "files/server.py" | sha256sum }}
    spec:
      containers:
        - name: backend
          image: {{ $image }}
          command: [python, /app/server.py]
          env:
            - {name: GREETING, value: {{ .Values.greeting | quote }}}
            - {name: VERSION, value: {{ .Chart.Version | quote }}}
            - {name: CLUSTER, value: {{ dig "clusterInfo" "name" "" $global | quote }}}
          ports:
            - {name: http, containerPort: 8080}
          readinessProbe:
            httpGet: {path: /healthz, port: http}
          resources:
            requests: {cpu: 10m, memory: 32Mi}
            limits: {memory: 64Mi}
          volumeMounts:
            - {name: app, mountPath: /app}
      volumes:
        - name: app
          configMap: {name: __NAME__-backend}
---
apiVersion: v1
kind: Service
metadata:
  name: __NAME__-backend
  namespace: {{ .Release.Namespace }}
spec:
  selector: {app: __NAME__-backend}
  ports:
    - {name: http, port: 8080, targetPort: http}
---
# /kapis/__NAME__.kubesphere.io/v1alpha1/… goes to the backend, after the platform's
# authorization, with the caller in X-Remote-User / X-Remote-Group.
apiVersion: extensions.kubesphere.io/v1alpha1
kind: APIService
metadata:
  name: v1alpha1.__NAME__.kubesphere.io
  labels:
    kubesphere.io/extension-ref: __NAME__
spec:
  group: __NAME__.kubesphere.io
  version: v1alpha1
{{- if .Values.apiService.url }}
  url: {{ .Values.apiService.url | quote }}
{{- else }}
  service:
    namespace: {{ .Release.Namespace }}
    name: __NAME__-backend
    port: 8080
{{- end }}
"#,
    ),
];
