"""A webhook receiver that checks every delivery with the Standard Webhooks reference
package (PyPI `standardwebhooks`), not Gatehouse's code: a delivery it verifies is kept
(one JSON line per delivery in LOG), one it cannot verify is answered 400 and counted as
rejected. Each verified delivery is also checked once more with its body altered by one
byte, which the package must refuse.

    SECRET=whsec_... PORT=8000 LOG=received.jsonl [DELAY=0.3] python webhook_receiver.py
"""

import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

hook = Webhook(os.environ["SECRET"])
log_path = os.environ["LOG"]
delay = float(os.environ.get("DELAY", "0"))


def note(entry):
    with open(log_path, "a") as f:
        f.write(json.dumps(entry) + "\n")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            payload = hook.verify(body, headers)
        except WebhookVerificationError as e:
            note({"rejected": str(e)})
            self.send_response(400)
            self.end_headers()
            return
        tampered = body.replace(b'"seq":', b'"seq": ', 1)
        try:
            hook.verify(tampered, headers)
            tamper_refused = False
        except WebhookVerificationError:
            tamper_refused = True
        time.sleep(delay)
        note({"id": headers["webhook-id"], "seq": payload.get("seq"),
              "type": payload.get("type"), "tamper_refused": tamper_refused})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
