"""A local server speaking the parts of Twilio's REST API our backend uses.

It checks Basic auth, answers Messages.json and Calls.json with Twilio-shaped JSON, honours
I-Twilio-Idempotency-Token (same token, same answer), and can be scripted to fail.
"""

from __future__ import annotations

import base64
import itertools
import re
import threading
from typing import Any

from tests.fakes.http_server import LocalHTTPServer, RecordedRequest, Reply

_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/(?P<resource>Messages|Calls)\.json$")


def twilio_error(status: int, message: str, code: int = 0) -> Reply:
    """A reply shaped like Twilio's error body."""
    return Reply(
        status=status,
        json={"code": code or None, "message": message, "more_info": "", "status": status},
    )


class FakeTwilio(LocalHTTPServer):
    """Run with `with FakeTwilio(account_sid, auth_token) as twilio:`; see `requests`, `created`."""

    def __init__(self, account_sid: str = "AC123", auth_token: str = "tok-secret-123") -> None:
        super().__init__(handler=self._answer)
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.created: list[dict[str, Any]] = []
        self._by_token: dict[str, Reply] = {}
        self._ids = itertools.count(1)
        self._mutex = threading.Lock()

    @property
    def config(self) -> dict[str, str]:
        """A STUDIO_TWILIO setting pointing at this server."""
        return {
            "base_url": self.base_url,
            "account_sid": self.account_sid,
            "auth_token": self.auth_token,
            "from_sms": "+15550001111",
            "from_whatsapp": "+15550002222",
            "from_voice": "+15550003333",
        }

    def fail_next(self, status: int, message: str = "failure", code: int = 0) -> None:
        """Make the next request fail with a Twilio-shaped error."""
        self.enqueue(twilio_error(status, message, code))

    def _authorized(self, request: RecordedRequest) -> bool:
        pair = f"{self.account_sid}:{self.auth_token}".encode()
        return request.headers.get("authorization") == "Basic " + base64.b64encode(pair).decode()

    def _answer(self, request: RecordedRequest) -> Reply:
        match = _PATH.match(request.path)
        if request.method != "POST" or not match:
            return twilio_error(404, f"The requested resource {request.path} was not found", 20404)
        if match["sid"] != self.account_sid or not self._authorized(request):
            return twilio_error(401, "Authenticate", 20003)
        form = {k: v[0] for k, v in request.form().items()}
        for field in ("To", "From"):
            if not form.get(field):
                return twilio_error(400, f"A '{field}' phone number is required.", 21604)
        token = request.headers.get("i-twilio-idempotency-token", "")
        with self._mutex:
            if token and token in self._by_token:
                return self._by_token[token]
            prefix = "SM" if match["resource"] == "Messages" else "CA"
            record = {"sid": f"{prefix}{next(self._ids):032x}", "status": "queued",
                      "to": form["To"], "from": form["From"], "account_sid": self.account_sid,
                      "body": form.get("Body"), "num_media": "1" if "MediaUrl" in form else "0"}  # fmt: skip
            self.created.append(record)
            reply = Reply(status=201, json=record)
            if token:
                self._by_token[token] = reply
            return reply
