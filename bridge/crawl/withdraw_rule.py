"""The one rule for how many items of a column may be withdrawn at once.

A resync (``bridge.crawl.run``) and ``reconcile --fix`` (``bridge.admin.reconcile``) both send
withdrawals of items gone from a column's complete listing; both ask this module, so
the same site state withdraws the same items whichever command runs. The rule: at most
``max_withdraw_share`` of the column's active items, but one item may always go (a 10 %
cap would otherwise freeze every column of fewer than ten items); ``--force`` lifts it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WithdrawalShare:
    """``gone`` items of a column that holds ``active`` ones, under the source's cap."""

    gone: int
    active: int
    limit: float  # the source's max_withdraw_share

    @property
    def share(self) -> float:
        return self.gone / max(self.active, 1)

    @property
    def allowed(self) -> int:
        """How many may go without --force: the share's worth, and never fewer than one."""
        return max(1, int(self.limit * self.active))

    @property
    def too_many(self) -> bool:
        return self.gone > self.allowed

    def describe(self, column: str) -> str:
        """Why they are held: ``3 of 6 items of column 'zcwj' are gone (50%, more than …)``."""
        return (
            f"{self.gone} of {self.active} items of column {column!r} are gone "
            f"({self.share:.0%}, more than max_withdraw_share {self.limit:.0%})"
        )


def held(gone: int, active: int, limit: float, *, force: bool) -> WithdrawalShare | None:
    """The share when these withdrawals must wait for ``--force``; None when they may go."""
    share = WithdrawalShare(gone, active, limit)
    return share if share.too_many and not force else None
