"""Admin login throttling: slowed after a few failures, refused for a while after more, by
client address and by username, and visible to whoever may read the lock-outs."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user(
        "alice", password="right-password-123", is_staff=True
    )


@pytest.fixture
def limits(settings):
    settings.MAILHUB_LOGIN_SLOW_AFTER = 2
    settings.AXES_FAILURE_LIMIT = 4
    return settings


def attempt(client: Client, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def forget_waiting() -> None:
    """Move every recorded failure a minute back, as if the client had waited."""
    AccessFailureLog.objects.update(attempt_time=timezone.now() - timedelta(minutes=1))


def test_a_right_password_logs_in(staff, limits):
    response = attempt(Client(), "alice", "right-password-123")
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()


def test_failures_are_slowed_then_refused_without_checking_the_password(staff, limits):
    client = Client()
    assert attempt(client, "alice", "wrong-1").status_code == 200
    assert attempt(client, "alice", "wrong-2").status_code == 200
    # Two failures: the next attempt must wait, and is refused unseen, right password or not.
    early = attempt(client, "alice", "right-password-123")
    assert early.status_code == 429
    assert int(early["Retry-After"]) >= 1
    assert b"Wait" in early.content
    assert AccessAttempt.objects.get(username="alice").failures_since_start == 2

    forget_waiting()
    assert attempt(client, "alice", "wrong-3").status_code == 200
    forget_waiting()
    locked = attempt(client, "alice", "wrong-4")
    assert locked.status_code == 429
    assert b"Login refused" in locked.content

    # Locked out: even the right password is refused until the lock-out ends.
    forget_waiting()
    assert attempt(client, "alice", "right-password-123").status_code == 429


def test_the_username_is_locked_from_any_address(staff, limits):
    for i in range(4):
        forget_waiting()
        attempt(Client(), "alice", f"wrong-{i}", ip=f"10.0.1.{i}")
    forget_waiting()
    assert attempt(Client(), "alice", "right-password-123", ip="10.9.9.9").status_code == 429


def test_one_address_is_locked_whatever_username_it_tries(staff, limits):
    for i in range(4):
        forget_waiting()
        attempt(Client(), f"guess-{i}", "x", ip="10.0.2.1")
    forget_waiting()
    assert attempt(Client(), "alice", "right-password-123", ip="10.0.2.1").status_code == 429
    # Another address may still log in as alice.
    assert attempt(Client(), "alice", "right-password-123", ip="10.0.2.2").status_code == 302


def test_the_lock_out_ends_after_the_cool_off(staff, limits):
    for i in range(4):
        forget_waiting()
        attempt(Client(), "alice", f"wrong-{i}")
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(hours=1))
    forget_waiting()
    assert attempt(Client(), "alice", "right-password-123").status_code == 302


def test_a_forged_forwarded_for_does_not_give_a_fresh_address(staff, limits, settings):
    settings.BEHIND_TLS_PROXY = True
    for i in range(4):
        forget_waiting()
        Client().post(
            LOGIN,
            {"username": f"guess-{i}", "password": "x"},
            REMOTE_ADDR="10.0.0.5",
            HTTP_X_FORWARDED_FOR=f"1.2.3.{i}, 198.51.100.7",
        )
    forget_waiting()
    response = Client().post(
        LOGIN,
        {"username": "alice", "password": "right-password-123"},
        REMOTE_ADDR="10.0.0.5",
        HTTP_X_FORWARDED_FOR="5.6.7.8, 198.51.100.7",
    )
    assert response.status_code == 429


def test_lock_outs_are_listed_in_the_admin_for_a_superuser(staff, limits):
    for i in range(4):
        forget_waiting()
        attempt(Client(), "alice", f"wrong-{i}")
    boss = get_user_model().objects.create_superuser("boss", password="pw-boss-123456")
    client = Client()
    client.force_login(boss)
    page = client.get(reverse("admin:axes_accessattempt_changelist"))
    assert page.status_code == 200
    assert b"alice" in page.content


def test_managers_see_and_clear_lock_outs_senders_do_not(staff, limits):
    from django.contrib.auth.models import Group

    from mailhub.roles import sync_roles

    sync_roles()
    for i in range(4):
        forget_waiting()
        attempt(Client(), "alice", f"wrong-{i}")
    users = get_user_model().objects
    manager = users.create_user("mona", password="pw-mona-123456", is_staff=True)
    manager.groups.add(Group.objects.get(name="manager"))
    sender = users.create_user("sam", password="pw-sam-123456", is_staff=True)
    sender.groups.add(Group.objects.get(name="sender"))
    url = reverse("admin:axes_accessattempt_changelist")

    client = Client()
    client.force_login(sender)
    assert client.get(url).status_code == 403

    client.force_login(manager)
    assert b"alice" in client.get(url).content
    attempt_row = AccessAttempt.objects.get(username="alice")
    client.post(reverse("admin:axes_accessattempt_delete", args=[attempt_row.pk]), {"post": "yes"})
    forget_waiting()
    assert attempt(Client(), "alice", "right-password-123", ip="10.0.0.99").status_code == 302
