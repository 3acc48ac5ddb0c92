"""The delivery outbox: claim under a lease, then done / retry later / dead letter.

A delivery is claimable when it is pending and due, or in flight with an expired lease
(its worker died), and no earlier delivery of the same item is still waiting: per item,
deliveries go out in order, so an older version never overwrites a newer one.

- ``claims``: taking deliveries under a lease, renewing and giving them back;
- ``outcomes``: what the target's answer makes of one (done, retry later, dead letter),
  and ``bridge retry``;
- ``files``: the target's file ids of uploaded attachments, and the attachments' bytes;
- ``circuit``: the per-target circuit breaker's row;
- ``queue``: counts and dead letters, as status and the admin pages show them.

Callers use this package (``outbox.claim``, ``outbox.complete``, ...): the split is for
reading, not an interface.
"""

from __future__ import annotations

from bridge.state.outbox.circuit import circuit, circuit_state, circuits
from bridge.state.outbox.claims import (
    Claimed,
    audit_returned,
    audit_sent,
    claim,
    claim_to_send,
    mark_sent,
    next_due,
    release,
    release_dead_owners,
    renew_held,
    renew_lease,
)
from bridge.state.outbox.files import blob_data, remember_upload, remember_uploads, uploaded_files
from bridge.state.outbox.outcomes import (
    complete,
    complete_all,
    dead_letter,
    retry_dead,
    retry_later,
)
from bridge.state.outbox.queue import counts, counts_by_source, dead_letters

__all__ = [
    "Claimed",
    "audit_returned",
    "audit_sent",
    "blob_data",
    "circuit",
    "circuit_state",
    "circuits",
    "claim",
    "claim_to_send",
    "complete",
    "complete_all",
    "counts",
    "counts_by_source",
    "dead_letter",
    "dead_letters",
    "mark_sent",
    "next_due",
    "release",
    "release_dead_owners",
    "remember_upload",
    "remember_uploads",
    "renew_held",
    "renew_lease",
    "retry_dead",
    "retry_later",
    "uploaded_files",
]
