"""SandboxControl: a small client for the /_sandbox/ endpoints of a running sandbox, for tests,
benchmarks and the demo when the sandbox runs in another process."""

from __future__ import annotations

import time
from typing import Any

import requests


class SandboxControlError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"sandbox answered {status}: {message}")
        self.status = status
        self.message = message


class SandboxControl:
    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()

    @property
    def url(self) -> str:
        """The sandbox's base URL, for `resend.api_url` / RESEND_API_URL."""
        return self.base_url

    def health(self) -> bool:
        try:
            return bool(self._call("GET", "/health").get("ok"))
        except (requests.RequestException, SandboxControlError):
            return False

    def emails(self, *, to: str | None = None, tag: str | None = None) -> list[dict[str, Any]]:
        """Accepted emails, oldest first; `tag` is "name" or "name:value"."""
        params = {k: v for k, v in (("to", to), ("tag", tag)) if v}
        return self._call("GET", "/emails", params=params)["data"]

    def email(self, email_id: str) -> dict[str, Any]:
        return self._call("GET", f"/emails/{email_id}")

    def requests(self) -> list[dict[str, Any]]:
        return self._call("GET", "/requests")["data"]

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/stats")

    def reset(self) -> None:
        self._call("POST", "/reset")

    def config(self) -> dict[str, Any]:
        return self._call("GET", "/config")

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Apply a partial config; ValueError with the sandbox's message for a bad value."""
        try:
            return self._call("POST", "/config", json=changes)
        except SandboxControlError as exc:
            if exc.status == 400:
                raise ValueError(exc.message) from None
            raise

    def answer(
        self,
        name: str,
        status: int | None = None,
        *,
        count: int | None = 1,
        from_domain: str | None = None,
        to: str | None = None,
        message: str | None = None,
    ) -> dict[str, Any]:
        """Answer the next `count` sends (None: until cleared) that match `from_domain` / `to`
        with Resend's error `name` at `status` (its usual one if None); ValueError for a pair
        Resend never gives."""
        spec = {"name": name, "status": status, "count": count}
        spec.update(
            {k: v for k, v in (("from_domain", from_domain), ("to", to), ("message", message)) if v}
        )
        try:
            return self._call("POST", "/answers", json=spec)
        except SandboxControlError as exc:
            if exc.status == 400:
                raise ValueError(exc.message) from None
            raise

    def answers(self) -> list[dict[str, Any]]:
        return self._call("GET", "/answers")["data"]

    def clear_answers(self) -> None:
        self._call("DELETE", "/answers")

    def webhooks(self, *, email_id: str | None = None, type: str | None = None) -> dict[str, Any]:
        """{"data": webhook deliveries in the order first tried, "pending": events not done}."""
        params = {k: v for k, v in (("email_id", email_id), ("type", type)) if v}
        return self._call("GET", "/webhooks", params=params)

    def emit_webhooks(self, email_id: str, outcome: str | None = None) -> dict[str, Any]:
        """Send an accepted email's events for `outcome` now (None: drawn from the mix)."""
        try:
            return self._call("POST", "/webhooks", json={"email_id": email_id, "outcome": outcome})
        except SandboxControlError as exc:
            if exc.status == 400:
                raise ValueError(exc.message) from None
            raise

    def wait_for_webhooks(
        self, count: int = 0, timeout: float = 10.0, interval: float = 0.05
    ) -> list[dict[str, Any]]:
        """Poll until no event is pending and at least `count` deliveries were made; returns
        them. TimeoutError says how far it got."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.webhooks()
            if found["pending"] == 0 and len(found["data"]) >= count:
                return found["data"]
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"expected {count} webhook deliveries and none pending, found "
                    f"{len(found['data'])} with {found['pending']} pending"
                )
            time.sleep(interval)

    def wait_for_emails(
        self, count: int, timeout: float = 10.0, interval: float = 0.05
    ) -> list[dict[str, Any]]:
        """Poll until at least `count` emails were accepted; TimeoutError says how many were."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.emails()
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(f"expected {count} accepted emails, found {len(found)}")
            time.sleep(interval)

    def close(self) -> None:
        self._session.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._session.request(
            method, f"{self.base_url}/_sandbox{path}", timeout=self.timeout, **kwargs
        )
        try:
            body = response.json()
        except ValueError:
            body = {"message": response.text}
        if response.status_code >= 400:
            raise SandboxControlError(response.status_code, str(body.get("message", body)))
        return body
