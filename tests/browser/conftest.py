"""A real Chromium (Debian's, driven by Playwright) against a live server."""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _node_for_playwright() -> str | None:
    """The Node.js that Playwright's driver should run on, when its own is missing.

    Playwright's wheels bundle Node.js; its source distribution does not, and pip falls back to
    that when a release's wheel is not on the index yet. The machine's node then runs the driver.
    """
    import playwright

    if os.environ.get("PLAYWRIGHT_NODEJS_PATH"):
        return None
    if (Path(playwright.__file__).parent / "driver" / "node").is_file():
        return None
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "This Playwright has no Node.js of its own and none is on PATH: install node, "
            "set PLAYWRIGHT_NODEJS_PATH, or reinstall playwright from a wheel"
        )
    return node


@pytest.fixture(scope="module")
def browser(_allow_orm_beside_playwright) -> Iterator:
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's chromium (scripts/test does)"
        )
    node = _node_for_playwright()
    with pytest.MonkeyPatch.context() as patch:
        if node:
            patch.setenv("PLAYWRIGHT_NODEJS_PATH", node)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            yield browser
            browser.close()


@pytest.fixture(scope="module", autouse=True)
def _allow_orm_beside_playwright() -> Iterator[None]:
    """Playwright's sync API keeps an event loop in this thread; the tests' own ORM calls are
    still synchronous. Set for the browser modules only, and removed after them."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture
def admin_page(browser, live_server, django_user_model):
    """A logged-in admin page; the live server runs in this process (Django's test server)."""
    django_user_model.objects.create_superuser("staff", "staff@example.com", "s3cret-pass")
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "staff")
    page.fill("#id_password", "s3cret-pass")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    yield page
    context.close()
