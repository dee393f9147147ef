"""The benchmark's arithmetic and its two outputs: rates from the raw seconds, the ratios
b/a and b/c, the JSON document and the table a person reads. No torch: plain numbers in.

Rates: tokens/s = steps x tokens per step / seconds; TFLOP/s = tokens/s x training FLOPs
per token (engine.sizing: 6 x active matmul weights + 12 x layers x d_model x seq);
MFU = that over the device's dense bf16 peak. The ratios compare the quiet passes (no
per-step host read), the device's own speed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.bench_measure import Measured

_MB = 1e6


def path_figures(m: Measured, steps: int, tokens_per_step: int, flops_per_token: float,
                 peak_tflops: float | None) -> dict[str, Any]:
    """One path's row of the JSON: the raw counts and every rate derived from them."""
    tokens_per_s = steps * tokens_per_step / m.quiet_s
    tflops = tokens_per_s * flops_per_token / 1e12
    return {"dtype": m.dtype, "experts": m.experts, "experts_why": m.experts_why, "params_total": m.params_total,
            "params_active": m.params_active, "flops_per_token": flops_per_token,
            "tokens_per_s": tokens_per_s, "step_ms": 1000 * m.quiet_s / steps,
            "tokens_per_s_read_every_step": steps * tokens_per_step / m.read_s,
            "step_ms_read_every_step": 1000 * m.read_s / steps,
            "split_ms": {phase: 1000 * seconds / steps for phase, seconds in m.split_s.items()},
            "peak_memory_mb": m.peak_memory_bytes / _MB, "tflops": tflops,
            "mfu": tflops / peak_tflops if peak_tflops else None}


def ratios(paths: dict[str, dict[str, Any]]) -> dict[str, float]:
    """b/a (default over the per-expert loop) and b/c (default over dense), of tokens/s,
    where both paths were measured."""
    def over(other: str) -> float | None:
        return paths["default"]["tokens_per_s"] / paths[other]["tokens_per_s"] if other in paths else None

    pairs = {"b/a": over("loop"), "b/c": over("dense")}
    return {name: value for name, value in pairs.items() if value is not None}


def _millions(n: float) -> str:
    return f"{n / 1e6:.1f}M"


def render(doc: dict[str, Any]) -> str:
    """The document as the lines `moetui bench` prints."""
    peak = doc["peak"]
    head = [f"{doc['config']} on {doc['device']} (torch {doc['torch']}): vocab {doc['vocab']['size']:,} "
            f"({doc['vocab']['source']}), {doc['tokens_per_step']:,} tokens/step, "
            f"{doc['warmup']} warm-up + {doc['steps']} timed steps per pass",
            f"MFU against {peak['name']} {peak['tflops']:g} TFLOP/s dense bf16 (datasheet)" if peak
            else "MFU: n/a (no known dense bf16 peak for this device)",
            f"memory: {doc['memory']}"]
    paths = doc["paths"]
    head.append(f"experts of the default path: {paths['default']['experts']} ({paths['default']['experts_why']})")
    if "dense" in paths:
        moe, dense = paths["default"]["flops_per_token"], paths["dense"]["flops_per_token"]
        head.append(f"equal active FLOPs (engine.sizing): MoE {moe / 1e6:.2f} MFLOP/token, dense {dense / 1e6:.2f} "
                    f"MFLOP/token ({100 * (dense / moe - 1):+.1f}%: the router)")
    columns = ("path", "experts", "dtype", "params (active)", "tokens/s", "read/step", "ms/step",
               "fwd+bwd", "optim", "data", "peak MB", "TFLOP/s", "MFU")
    rows = [columns]
    for name, p in paths.items():
        split = p["split_ms"]
        rows.append((f"{p['key']} {name}", p["experts"], p["dtype"],
                     f"{_millions(p['params_total'])} ({_millions(p['params_active'])})",
                     f"{p['tokens_per_s']:,.0f}", f"{p['tokens_per_s_read_every_step']:,.0f}", f"{p['step_ms']:.1f}",
                     f"{split['forward_backward']:.1f}", f"{split['optimizer']:.1f}", f"{split['data']:.1f}",
                     f"{p['peak_memory_mb']:,.0f}", f"{p['tflops']:.3f}",
                     f"{100 * p['mfu']:.1f}%" if p["mfu"] is not None else "n/a"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    table = ["  ".join(cell.ljust(w) if i < 3 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in rows]
    notes = ["tokens/s: no host read until the last step (train.log_every large); read/step: the loop's read "
             "every step (log_every = 1); fwd+bwd/optim/data: ms per step with a device sync between phases"]
    if doc["ratios"]:
        notes.append("ratios of tokens/s: " + ", ".join(f"{k} {v:.2f}x" for k, v in doc["ratios"].items()))
    return "\n".join([*head, *table, *notes])
