"""The campaign test-send form reads addresses with the shared parser: a comma inside quotes
is part of a name, and a bad entry is named whole."""

from campaigns import forms


def test_a_quoted_comma_is_part_of_a_name():
    form = forms.TestSendForm(data={"to": '"Doe, John" <john@example.com>, b@example.com'})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["to"] == ['"Doe, John" <john@example.com>', "b@example.com"]


def test_a_bad_entry_is_named_whole():
    form = forms.TestSendForm(data={"to": "Doe, John <john@example.com>"})
    assert not form.is_valid()
    assert "'Doe, John <john@example.com>'" in form.errors["to"][0]
