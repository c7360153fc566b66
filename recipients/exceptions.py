"""The recipients app's exceptions, under one root."""


class RecipientsError(Exception):
    """Root of every exception the recipients app raises on purpose."""


class ImportFileError(RecipientsError):
    """The file cannot be imported at all; nothing was stored."""


class ConfirmationLinkExpired(RecipientsError):
    """A double opt-in link past its validity."""


class ConfirmationLinkInvalid(RecipientsError):
    """A double opt-in link that was never issued (or was altered)."""
