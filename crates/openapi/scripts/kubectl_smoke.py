#!/usr/bin/env python3
"""Smoke test of the dumped documents with a real kubectl, against a minimal fake server.

    cargo run -p openapi --release --example dump -- /tmp/dump --sample-crd
    python3 crates/openapi/scripts/kubectl_smoke.py /tmp/dump

The fake server answers discovery (derived from the v3 documents), /openapi/v3 and
object GET/POST/PATCH, and records requests. Checks: `kubectl explain` resolves built-in
and custom fields through /openapi/v3; client-side `kubectl apply` builds a strategic merge
patch with merge keys (`$setElementOrder/containers`) from the v3 schemas; kubectl sends
`fieldValidation=Strict` (so the server, not kubectl, must reject unknown fields); and
kubectl never needs /openapi/v2.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DUMP = sys.argv[1] if len(sys.argv) > 1 else "/tmp/dump"
INDEX = json.load(open(f"{DUMP}/v3/index.json"))
DOCS = {p: open(f"{DUMP}/v3/{p.replace('/', '__')}.json", "rb").read() for p in INDEX["paths"]}
STORE, LOG = {}, []


def resources(path):
    doc = json.loads(DOCS[path])
    prefix, out = "/" + path, {}
    for p, item in doc["paths"].items():
        m = re.fullmatch(r"(namespaces/\{namespace\}/)?([a-z]+)", p[len(prefix) + 1:])
        if not m:
            continue
        plural = m.group(2)
        single = doc["paths"].get(p + "/{name}", {})
        for op in list(item.values()) + list(single.values()):
            if not isinstance(op, dict) or "x-kubernetes-group-version-kind" not in op:
                continue
            entry = out.setdefault(plural, {"name": plural, "singularName": "", "namespaced": False,
                                            "kind": op["x-kubernetes-group-version-kind"]["kind"], "verbs": []})
            entry["namespaced"] |= bool(m.group(1))
            verb = {"post": "create", "put": "update"}.get(op["x-kubernetes-action"], op["x-kubernetes-action"])
            if verb not in entry["verbs"]:
                entry["verbs"].append(verb)
    return list(out.values())


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, body):
        body = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        LOG.append(("GET", self.path, None, None))
        path = self.path.split("?")[0]
        if path == "/version":
            return self.reply(200, {"major": "1", "minor": "33", "gitVersion": "v1.33.0"})
        if path == "/api":
            return self.reply(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
        if path == "/apis":
            groups = {}
            for p in DOCS:
                if p.startswith("apis/"):
                    _, g, v = p.split("/")
                    groups.setdefault(g, []).append(v)
            return self.reply(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                 "preferredVersion": {"groupVersion": f"{g}/{vs[-1]}", "version": vs[-1]}} for g, vs in groups.items()]})
        if path == "/openapi/v3":
            return self.reply(200, INDEX)
        if path.startswith("/openapi/v3/") and path[12:] in DOCS:
            return self.reply(200, DOCS[path[12:]])
        if path.strip("/") in DOCS:
            p = path.strip("/")
            return self.reply(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                    "groupVersion": p.split("/", 1)[1], "resources": resources(p)})
        if path in STORE:
            return self.reply(200, STORE[path])
        return self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404})

    def body(self):
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_POST(self):
        body = self.body()
        LOG.append(("POST", self.path, self.headers.get("Content-Type"), body))
        obj = json.loads(body)
        obj["metadata"].update({"namespace": "default", "resourceVersion": "1", "uid": "u1"})
        STORE[self.path.split("?")[0] + "/" + obj["metadata"]["name"]] = obj
        self.reply(201, obj)

    def do_PATCH(self):
        body = self.body()
        LOG.append(("PATCH", self.path, self.headers.get("Content-Type"), body))
        self.reply(200, STORE.get(self.path.split("?")[0], {}))


DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "IMAGE", env: [{name: A, value: "1"}]}
      - {name: side, image: busybox}
"""


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as home:
        config = os.path.join(home, "kubeconfig")
        with open(config, "w") as f:
            f.write(f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "http://127.0.0.1:{server.server_port}"}}}}]
users: [{{name: u, user: {{}}}}]
contexts: [{{name: c, context: {{cluster: c, user: u, namespace: default}}}}]
current-context: c
""")
        env = dict(os.environ, KUBECONFIG=config, HOME=home)

        def kubectl(*args, stdin=None):
            run = subprocess.run(["kubectl", *args], env=env, input=stdin, capture_output=True, text=True)
            assert run.returncode == 0, f"kubectl {' '.join(args)}: {run.stderr}"
            return run.stdout

        out = kubectl("explain", "deployments.spec.template.spec.containers.ports")
        assert "containerPort" in out and "-required-" in out, out
        if "apis/example.com/v1" in DOCS:
            assert "size" in kubectl("explain", "widgets.spec")
        kubectl("apply", "-f", "-", stdin=DEPLOYMENT.replace("IMAGE", "nginx:1"))
        kubectl("apply", "-f", "-", stdin=DEPLOYMENT.replace("IMAGE", "nginx:2"))
        patches = [entry for entry in LOG if entry[0] == "PATCH"]
        assert patches, "kubectl apply sent no patch"
        _, url, content_type, body = patches[-1]
        assert content_type == "application/strategic-merge-patch+json", content_type
        assert "fieldValidation=Strict" in url, url
        spec = json.loads(body)["spec"]["template"]["spec"]
        assert spec["$setElementOrder/containers"] == [{"name": "web"}, {"name": "side"}], spec
        assert not any(path.startswith("/openapi/v2") for _, path, _, _ in LOG), "kubectl fetched v2"
    server.shutdown()
    print("kubectl smoke test passed")


if __name__ == "__main__":
    main()
