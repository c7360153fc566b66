"""A local HTTP server that speaks Resend's email API, with fault injection.

Development, the demo, tests and benchmarks point the `resend` SDK at it
(`resend.api_url = server.url`, or env RESEND_API_URL) instead of Resend:

    server = SandboxServer(config=SandboxConfig(rate_limit=2)).start()
    ...
    SandboxControl(server.url).emails()
    server.stop()

A development tool, not a product app: no Django, and no product module imports it. It checks
requests with mailhub's shared Resend rules (`queueing.resend`: rules, errors, idempotency), so
it refuses what Resend refuses with Resend's words. `python -m sandbox` (or `manage.py
resend_sandbox`) runs it as its own process.
"""

from sandbox.client import SandboxControl, SandboxControlError
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer

__all__ = ["SandboxConfig", "SandboxControl", "SandboxControlError", "SandboxServer"]
