#!/usr/bin/env python3
"""Captures the protobuf request bodies real kubectl sends, as test fixtures for kubeproto.

Runs a minimal fake API server (legacy discovery + a 201 echo for every write), points
kubectl at it through a throwaway kubeconfig, runs `kubectl create <generator> ...`
commands (these use typed clients, which send protobuf), and writes each body to
crates/kubeproto/tests/fixtures/kubectl/<name>.pb together with the Content-Type seen.

Usage: python3 tools/kubeproto-gen/capture_kubectl.py [--kubectl /usr/bin/kubectl]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "crates", "kubeproto", "tests", "fixtures", "kubectl")

RESOURCES = {
    "/api/v1": ("v1", [
        ("namespaces", "Namespace", False), ("configmaps", "ConfigMap", True), ("pods", "Pod", True),
        ("secrets", "Secret", True), ("services", "Service", True),
        ("serviceaccounts", "ServiceAccount", True), ("resourcequotas", "ResourceQuota", True),
    ]),
    "/apis/apps/v1": ("apps/v1", [("deployments", "Deployment", True)]),
    "/apis/batch/v1": ("batch/v1", [("jobs", "Job", True), ("cronjobs", "CronJob", True)]),
    "/apis/rbac.authorization.k8s.io/v1": ("rbac.authorization.k8s.io/v1", [
        ("roles", "Role", True), ("rolebindings", "RoleBinding", True),
        ("clusterroles", "ClusterRole", False), ("clusterrolebindings", "ClusterRoleBinding", False),
    ]),
    "/apis/networking.k8s.io/v1": ("networking.k8s.io/v1", [("ingresses", "Ingress", True)]),
    "/apis/policy/v1": ("policy/v1", [("poddisruptionbudgets", "PodDisruptionBudget", True)]),
    "/apis/scheduling.k8s.io/v1": ("scheduling.k8s.io/v1", [("priorityclasses", "PriorityClass", False)]),
}

COMMANDS = [
    ("namespace", ["create", "namespace", "demo"]),
    ("configmap", ["create", "configmap", "cfg", "-n", "demo", "--from-literal=greeting=hello",
                   "--from-file=blob={blob}"]),
    ("secret", ["create", "secret", "generic", "creds", "-n", "demo", "--from-literal=password=hunter2",
                "--type=Opaque"]),
    ("service", ["create", "service", "nodeport", "web", "-n", "demo", "--tcp=80:8080"]),
    ("deployment", ["create", "deployment", "web", "-n", "demo", "--image=nginx:1.27", "--replicas=2",
                    "--port=80"]),
    ("job", ["create", "job", "once", "-n", "demo", "--image=busybox", "--", "date"]),
    ("cronjob", ["create", "cronjob", "nightly", "-n", "demo", "--image=busybox", "--schedule=0 3 * * *"]),
    ("role", ["create", "role", "reader", "-n", "demo", "--verb=get,list", "--resource=pods"]),
    ("clusterrolebinding", ["create", "clusterrolebinding", "admins", "--clusterrole=admin", "--user=alice"]),
    ("ingress", ["create", "ingress", "web", "-n", "demo", "--rule=a.example.com/=web:80,tls=tls"]),
    ("poddisruptionbudget", ["create", "poddisruptionbudget", "web", "-n", "demo", "--selector=app=web",
                             "--min-available=50%"]),
    ("priorityclass", ["create", "priorityclass", "high", "--value=1000", "--description=high"]),
    ("quota", ["create", "quota", "q", "-n", "demo", "--hard=cpu=2,memory=1Gi,pods=10"]),
    ("tokenrequest", ["create", "token", "builder", "-n", "demo", "--audience=api", "--duration=1h"]),
]

captured = {}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/api":
            return self.reply(200, {"kind": "APIVersions", "versions": ["v1"],
                                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
        if path == "/apis":
            groups = []
            for p, (gv, _) in RESOURCES.items():
                if "/" in gv:
                    group, version = gv.split("/")
                    v = {"groupVersion": gv, "version": version}
                    groups.append({"name": group, "versions": [v], "preferredVersion": v})
            return self.reply(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        if path in RESOURCES:
            gv, resources = RESOURCES[path]
            return self.reply(200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": [
                {"name": n, "singularName": k.lower(), "namespaced": ns, "kind": k,
                 "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}
                for n, k, ns in resources]})
        return self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        captured[self.path.split("?")[0]] = (self.headers.get("Content-Type", ""), body)
        name = self.path.split("?")[0].rstrip("/").split("/")[-1]
        self.reply(201, {"apiVersion": "v1", "kind": "Status", "status": "Success", "metadata": {}, "details": {"name": name}})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kubectl", default="/usr/bin/kubectl")
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = os.path.join(tmp, "config")
        with open(kubeconfig, "w") as f:
            f.write(f"""apiVersion: v1
kind: Config
clusters: [{{name: fake, cluster: {{server: "http://127.0.0.1:{port}"}}}}]
users: [{{name: u, user: {{token: t}}}}]
contexts: [{{name: c, context: {{cluster: fake, user: u}}}}]
current-context: c
""")
        blob = os.path.join(tmp, "blob.bin")
        with open(blob, "wb") as f:
            f.write(bytes([0, 1, 2, 0xfe, 0xff]))
        env = dict(os.environ, KUBECONFIG=kubeconfig, HOME=tmp)
        for name, argv in COMMANDS:
            captured.clear()
            argv = [a.replace("{blob}", blob) for a in argv]
            run = subprocess.run([args.kubectl, *argv], env=env, capture_output=True, text=True, timeout=60)
            if not captured:
                print(f"{name}: no body captured ({run.stderr.strip()})", file=sys.stderr)
                continue
            (path, (content_type, body)), = captured.items()
            with open(os.path.join(OUT, f"{name}.pb"), "wb") as f:
                f.write(body)
            print(f"{name}: POST {path} {content_type} {len(body)} bytes", file=sys.stderr)
    server.shutdown()


if __name__ == "__main__":
    main()
