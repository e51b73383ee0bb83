"""HTTP calls to the HMS gateway with the standard library (urllib), and its error body."""

import base64
import json
import os
import urllib.error
import urllib.parse
import urllib.request

DEFAULT_URL = "http://localhost:3000"
# Above the gateway's own upstream timeout, so its 503 answer arrives before we give up.
DEFAULT_TIMEOUT_SECONDS = 30.0


class HmsError(Exception):
    """An error answer of the gateway (`{error: {code, message, details}, requestId}`), or no answer.

    `status` is 0 when the gateway could not be reached; `retryable` is true for 503, 429 and
    no answer, where trying again later can succeed.
    """

    def __init__(self, status, code, message, details=None, request_id=None):
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.request_id = request_id

    @property
    def retryable(self):
        return self.status in (0, 429, 503)


class LeaseLost(HmsError):
    """The task's lease is no longer this worker's (it expired, or the task moved on)."""


def token_subject(token):
    """The `sub` claim of a JWT, read without verifying it (the gateway verifies), or None."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (AttributeError, IndexError, ValueError):
        return None
    sub = claims.get("sub") if isinstance(claims, dict) else None
    return sub if isinstance(sub, str) and sub else None


class Client:
    """The gateway at `url` (else `HMS_URL`) called with `token` (else `HMS_TOKEN`)."""

    def __init__(self, url=None, token=None, timeout=DEFAULT_TIMEOUT_SECONDS):
        self.url = (url or os.environ.get("HMS_URL") or DEFAULT_URL).rstrip("/")
        self.token = token if token is not None else os.environ.get("HMS_TOKEN") or None
        self.timeout = timeout

    def call(self, method, path, body=None, query=None, timeout=None):
        """Sends one call; returns the parsed JSON answer (None when empty), raises HmsError otherwise."""
        url = self.url + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None}, doseq=True)
        headers = {"accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["content-type"] = "application/json"
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                text = response.read().decode("utf-8")
                return json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            raise _error_of(error) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", error)
            raise HmsError(0, "UNAVAILABLE", f"the gateway at {self.url} did not answer: {reason}") from None


def _error_of(error):
    try:
        body = json.loads(error.read().decode("utf-8"))
        info = body.get("error", {})
        code, message = info.get("code", "HTTP_ERROR"), info.get("message", error.reason)
        details, request_id = info.get("details"), body.get("requestId")
    except (ValueError, AttributeError):
        code, message, details, request_id = "HTTP_ERROR", str(error.reason), None, None
    kind = LeaseLost if code == "LEASE_LOST" else HmsError
    return kind(error.code, code, message, details, request_id)
