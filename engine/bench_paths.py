"""The variants one benchmark compares, each a config derived from the one measured.

    a  loop      moe.grouped_gemm=false: one matmul per expert, as the seed project dispatched
    b  default   the config as given: what `moetui run` would train
    c  dense     num_experts=1 with d_ff = top_k x expert hidden size: the dense model that
                 spends the same FLOPs per token as the MoE's active parameters
    d  compiled  train.compile=true (only when asked: compiling takes tens of seconds)

b/a is what the fast expert path buys, b/c what routing costs against dense compute of the
same size. A config that is dense already has only b (and d). No torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.config import Config


@dataclass(frozen=True)
class BenchPath:
    key: str  # a, b, c, d: the letter the ratios use
    name: str
    cfg: Config
    overrides: tuple[str, ...]  # what turns the measured config into this one


def dense_overrides(cfg: Config) -> tuple[str, ...]:
    """The dense FFN whose one expert is as wide as the top_k experts a token visits: equal
    active matmul FLOPs per token, minus the router's E x d_model (under 1% at any preset)."""
    return ("moe.num_experts=1", "moe.top_k=1", "moe.expert_d_ff=0",
            f"model.d_ff={cfg.moe.top_k * cfg.expert_d_ff}")


def comparison_paths(cfg: Config, compiled: bool) -> list[BenchPath]:
    """The paths to measure for `cfg`, in the order they run."""
    variants: list[tuple[str, str, tuple[str, ...]]] = []
    if cfg.moe.num_experts > 1:
        variants.append(("a", "loop", ("moe.grouped_gemm=false",)))
    variants.append(("b", "default", ()))
    if cfg.moe.num_experts > 1:
        variants.append(("c", "dense", dense_overrides(cfg)))
    if compiled:
        variants.append(("d", "compiled", ("train.compile=true",)))
    return [BenchPath(key, name, cfg.apply_overrides(list(sets)).validate(), sets) for key, name, sets in variants]
