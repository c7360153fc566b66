"""queueing's exceptions, under one root."""


class QueueingError(Exception):
    """Root of every exception queueing raises on purpose."""


class IllegalTransition(QueueingError):
    """A write asked for a status change the state machine does not allow (a bug)."""
