"""Fixtures for the recipients tests."""

from collections.abc import Callable

import pytest

from recipients.models import List, Recipient


@pytest.fixture
def make_list(db) -> Callable[..., List]:
    def make(slug: str = "news", *, double: bool = False, name: str = "") -> List:
        return List.objects.create(
            slug=slug,
            name=name or slug.title(),
            opt_in=List.OptIn.DOUBLE if double else List.OptIn.SINGLE,
        )

    return make


@pytest.fixture
def recipient(db) -> Recipient:
    return Recipient.objects.create(email="Jane.Doe@Example.com", first_name="Jane")
