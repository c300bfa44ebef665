"""Signals the audits app sends for other areas to react to, without audits knowing them."""

from django.dispatch import Signal

audit_imported = Signal()
"""Sent after an audit's import has committed: `sender=Audit`, `audit=`, `actor=`.

Education listens to give follow-up reviews flagged for the next import their encounters.
"""
