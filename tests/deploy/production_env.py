"""The production environment as docs/DEPLOY.md documents it, read from the page itself, so
the tests run what an operator is told to write and cannot drift from it.

The page's one ```env block is /etc/mailhub/mailhub.env: `KEY=value` lines (systemd's
EnvironmentFile syntax, which a shell can source too: values with spaces in double quotes).
A value written `<like this>` is a placeholder the operator replaces; a test fills each with
a value of its own and must name every one (a placeholder added to the page without a value
here fails the test instead of being sent as is).
"""

import re
from pathlib import Path

from tests.conftest import ROOT

DEPLOY_MD = ROOT / "docs" / "DEPLOY.md"
ENV_EXAMPLE = ROOT / ".env.example"

_BLOCK = re.compile(r"^```env\n(.*?)^```", re.MULTILINE | re.DOTALL)
_LINE = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")


def documented_env(path: Path = DEPLOY_MD) -> dict[str, str]:
    """KEY → value of the page's ```env block, placeholders left as written."""
    blocks = _BLOCK.findall(path.read_text(encoding="utf-8"))
    if len(blocks) != 1:
        raise AssertionError(f"{path.name} must have exactly one ```env block, found {len(blocks)}")
    env: dict[str, str] = {}
    for number, line in enumerate(blocks[0].splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        found = _LINE.match(line)
        if not found:
            raise AssertionError(f"{path.name} env block line {number} is not KEY=value: {line!r}")
        key, value = found.groups()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        env[key] = value
    return env


def placeholders(env: dict[str, str]) -> set[str]:
    return {key for key, value in env.items() if value.startswith("<") and value.endswith(">")}


def production_env(**values: str) -> dict[str, str]:
    """The documented environment with every placeholder filled from `values` (which may also
    override documented values, e.g. a local database for a documented host)."""
    env = documented_env()
    unfilled = placeholders(env) - set(values)
    if unfilled:
        raise AssertionError(f"no test value for the placeholders {sorted(unfilled)}")
    return {**env, **values}


def env_example_names(path: Path = ENV_EXAMPLE) -> set[str]:
    """Every setting .env.example documents, set or commented out (`# KEY=`)."""
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        found = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=", line)
        if found:
            names.add(found.group(1))
    return names
