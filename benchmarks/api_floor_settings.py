"""Settings of the API benchmark's floor (benchmarks/api_floor.py): mailhub's own settings,
the same database and connection reuse, but no middleware and a URLconf of one view."""

from mailhub.settings import *  # noqa: F403

ROOT_URLCONF = "api_floor"
MIDDLEWARE: list[str] = []
