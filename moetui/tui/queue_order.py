"""Queue arithmetic: what moving a waiting run changes (the order itself is
`moetui.runs.in_queue_order`, shared with the scheduler)."""

from __future__ import annotations

from typing import Any


def move(queue: list[Any], run_id: str, offset: int) -> dict[str, int]:
    """New `queue_order` values after moving `run_id` by `offset` places (clamped at the
    ends); only runs whose order changes are returned. Orders are renumbered 0..n-1 so
    that equal or missing orders (runs queued by hand) end up distinct."""
    ids = [r.id for r in queue]
    i = ids.index(run_id)
    j = max(0, min(len(ids) - 1, i + offset))
    ids.insert(j, ids.pop(i))
    current = {r.id: r.queue_order for r in queue}
    return {run_id_: order for order, run_id_ in enumerate(ids) if current[run_id_] != order}
