"""Notifications: alarms and their recoveries from the audit trail to webhooks, e-mail,
企业微信 and 钉钉 robots (``[[notify]]`` in the config).

``episodes`` maps audit events to alarms (pure), ``channels`` sends one notice,
``notifier`` runs a pass: the daemon as a job of its own, ``sync --once`` at its end.
"""

from __future__ import annotations

from bridge.service.notify.notifier import PassResult, run_pass

__all__ = ["PassResult", "run_pass"]
