#!/usr/bin/python3
"""An SMTP server for tests (aiosmtpd, Debian's python3-aiosmtpd) that keeps every message in a
Maildir, with what the CLI of aiosmtpd cannot do: STARTTLS with a given certificate, required
or offered; AUTH LOGIN/PLAIN against one username and password; recipients refused with 550.

Each stored message gets X-Pipewright-TLS (yes/no) and X-Pipewright-User headers so a test can
see that the mail really came over TLS and authenticated.
"""

import argparse
import asyncio
import ssl

from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Box(Mailbox):
    def __init__(self, maildir, refuse):
        super().__init__(maildir)
        self.refuse = set(refuse)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 <%s>: recipient refused" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def prepare_message(self, session, envelope):
        message = super().prepare_message(session, envelope)
        message["X-Pipewright-TLS"] = "yes" if session.ssl else "no"
        user = session.auth_data.login.decode() if session.authenticated else ""
        message["X-Pipewright-User"] = user
        return message


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True, help="HOST:PORT")
    p.add_argument("--maildir", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--require-starttls", action="store_true")
    p.add_argument("--username")
    p.add_argument("--password")
    p.add_argument("--only-mechanism", help="LOGIN or PLAIN: offer only this one")
    p.add_argument("--refuse", action="append", default=[], help="recipient answered with 550")
    a = p.parse_args()

    tls = None
    if a.cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(a.cert, a.key)

    def authenticator(server, session, envelope, mechanism, data):
        ok = (isinstance(data, LoginPassword) and data.login.decode() == a.username
              and data.password.decode() == a.password)
        return AuthResult(success=ok, handled=False, auth_data=data)

    kwargs = {}
    if a.username is not None:
        excluded = [m for m in ("LOGIN", "PLAIN") if a.only_mechanism and m != a.only_mechanism]
        kwargs = dict(authenticator=authenticator, auth_required=True,
                      auth_require_tls=tls is not None, auth_exclude_mechanism=excluded)

    host, port = a.listen.rsplit(":", 1)
    handler = Box(a.maildir, a.refuse)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(loop.create_server(
        lambda: SMTP(handler, tls_context=tls, require_starttls=a.require_starttls,
                     loop=loop, **kwargs),
        host=host, port=int(port)))
    print("aiosmtpd listening on %s:%s" % (host, port), flush=True)
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == "__main__":
    main()
