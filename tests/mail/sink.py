#!/usr/bin/env python3
"""A local SMTP sink for the `ferry send` tests: aiosmtpd on 127.0.0.1 at a free port.

Prints the port on the first line of stdout, then writes every message it accepts to
OUT/<n>.eml (the envelope in OUT/<n>.json). Recipients in --refuse get `550`; with
--auth USER:PASS the server requires AUTH (PLAIN/LOGIN, allowed without TLS on
loopback). Runs until stdin closes (the test drops its handle) or it is killed.
"""

import argparse
import json
import socket
import sys
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, out: Path, refuse: set[str]):
        self.out, self.refuse, self.n = out, refuse, 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        (self.out / f"{self.n}.eml").write_bytes(envelope.original_content)
        (self.out / f"{self.n}.json").write_text(json.dumps(
            {"from": envelope.mail_from, "to": envelope.rcpt_tos}))
        return "250 Message accepted"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--refuse", action="append", default=[])
    ap.add_argument("--auth", help="USER:PASS the server requires")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    kwargs = {}
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
                and auth_data.password.decode() == password
            # handled=False: the server answers the failure itself (535).
            return AuthResult(success=ok, handled=False)

        kwargs = dict(authenticator=authenticator, auth_required=True, auth_require_tls=False)
    # A free port (the Controller checks readiness by connecting, so not port 0).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(args.out, set(args.refuse)), hostname="127.0.0.1", port=port,
                            server_kwargs=kwargs)
    controller.start()
    print(controller.port, flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
