"""The best configuration: a clean winner's full config, ready to save as a preset."""

from __future__ import annotations

from moetui.report import cells
from moetui.report.ranking import Ranking


def best_summary(ranking: Ranking) -> str:
    """One sentence: who won, by how much, with what changes; or why nothing did."""
    best, m = ranking.best, ranking.metric
    if best is None:
        return (f"No variant beat the baseline on {m.label} beyond noise, completed and with no more "
                f"compute: keep the baseline ({ranking.baseline.label}).")
    changes = ", ".join(cells.change(*c) for c in best.key_changes) or "none"
    return (f"**{best.label}**: {m.label} {cells.stat(m.name, best.stats[m.name])} vs "
            f"{cells.stat(m.name, ranking.baseline.stats[m.name])} baseline "
            f"({cells.delta(m.name, best.deltas[m.name])}); key changes: {changes}.")


def best_config_toml(ranking: Ranking) -> str:
    """The winner's resolved config as TOML (loads back with `Config.from_toml`), with a
    comment saying where it came from."""
    best = ranking.best
    assert best is not None and best.config is not None, "only a clean winner has a config to save"
    m = ranking.metric
    header = (f"# {best.label} (run {best.first.id}): {m.label} {cells.stat(m.name, best.stats[m.name])}, "
              f"{cells.delta(m.name, best.deltas[m.name])} vs {ranking.baseline.label}\n")
    return header + best.config.to_toml()
