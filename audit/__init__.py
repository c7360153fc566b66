"""Who did what: the audit log of staff actions that change mail or people.

The ground layer: it imports no other mailhub app, so every app (and its services) may record
into it. Services record when they are given an actor (a signed-in user); the system's own
work (workers, webhooks, the reconciler) passes none and is not recorded here.
"""
