"""Signed-in clients by role (the roles tests' fixtures) for the dashboard's tests."""

from tests.mailhub.conftest import client_for, failed_message, user_for  # noqa: F401
