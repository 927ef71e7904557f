# The backend of Hello: answers GET /kapis/hello.kubesphere.io/v1alpha1/hello with
# a greeting for the caller. The platform authorizes every request before it gets here and
# names the caller in X-Remote-User (a client cannot set it: the platform strips it).
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/kapis/hello.kubesphere.io/v1alpha1"
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
