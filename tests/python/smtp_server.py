"""A real SMTP server (aiosmtpd) on loopback for the alerting test.

Usage: smtp_server.py PORT USER PASSWORD [CERT KEY]
Requires AUTH (PLAIN or LOGIN) with USER/PASSWORD before MAIL; with CERT and KEY (PEM files),
STARTTLS is required before anything else (and so before AUTH), otherwise plain text is
accepted (loopback only),
prints each accepted message as one JSON line {"from", "to", "data"} on stdout, prints
"ready" once listening, and stops when stdin closes.
"""

import json
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    async def handle_DATA(self, server, session, envelope):
        print(
            json.dumps(
                {
                    "from": envelope.mail_from,
                    "to": envelope.rcpt_tos,
                    "data": envelope.content.decode("utf-8", errors="replace"),
                }
            ),
            flush=True,
        )
        return "250 Message accepted for delivery"


def main():
    port, user, password = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3].encode()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user
            and auth_data.password == password
        )
        return AuthResult(success=ok, handled=False)

    tls = {}
    if len(sys.argv) > 5:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(sys.argv[4], sys.argv[5])
        tls = {"tls_context": context, "require_starttls": True}
    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=bool(tls),
        **tls,
    )
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
