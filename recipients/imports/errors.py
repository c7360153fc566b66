"""The error an import raises when the file cannot be imported at all."""


class ImportFileError(Exception):
    """The file cannot be imported at all; nothing was stored."""
