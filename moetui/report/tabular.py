"""CSV and JSON text of the records (CSV: one row per variant or stage; JSON keeps everything)."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from moetui.report.cells import change


def to_json(record: dict[str, Any]) -> str:
    return json.dumps(_finite(record), indent=2, allow_nan=False) + "\n"


def _finite(value: Any) -> Any:
    """NaN (a % change of a zero baseline) is not JSON: it becomes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def to_csv(rows: list[dict[str, Any]]) -> str:
    """Nested fields become dotted columns (`cumulative.val_loss.relative`); lists become
    `; `-joined text, key changes as `key: old → new`."""
    flat = [_flatten(_finite(row)) for row in rows]
    if not flat:
        return ""
    out = io.StringIO()
    columns = list(dict.fromkeys(key for row in flat for key in row))  # rows may lack some (the origin stage)
    writer = csv.DictWriter(out, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat)
    return out.getvalue()


def _flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        elif isinstance(value, list):
            flat[prefix + key] = "; ".join(change(v["key"], v["old"], v["new"]) if isinstance(v, dict) else str(v)
                                           for v in value)
        else:
            flat[prefix + key] = "" if value is None else value
    return flat
