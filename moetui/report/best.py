"""The best configuration: its verdict in one sentence, and its full config as a preset."""

from __future__ import annotations

from moetui.report import cells
from moetui.report.ranking import SINGLE, Ranking


def best_summary(ranking: Ranking) -> str:
    """One sentence: who is best, by how much, with what changes and how sure; or why none is."""
    best, m, base = ranking.best, ranking.metric, ranking.baseline
    if best is None:
        return (f"No variant ranked above the baseline on {m.label} with a verdict of better (p < "
                f"{ranking.alpha:g}) or a single seed's lead, counted runs and no more compute: keep the "
                f"baseline ({base.label}).")
    changes = ", ".join(cells.change(*c) for c in best.key_changes) or "none"
    return (f"**{best.label}**: {m.label} {cells.stat(m.name, best.stats[m.name])} vs "
            f"{cells.stat(m.name, base.stats[m.name])} baseline ({cells.delta(m.name, best.deltas[m.name])}); "
            f"key changes: {changes}. {_certainty(ranking)}")


def _certainty(ranking: Ranking) -> str:
    best = ranking.best
    if best.verdict == SINGLE:
        return f"Caveat: {SINGLE} (run more seeds to test it)."
    return f"Better at p = {cells.p_value(best.p_value)} ({best.seeds_text} vs {ranking.baseline.seeds_text})."


def best_config_toml(ranking: Ranking) -> str:
    """The best config as TOML (loads back with `Config.from_toml`), with a comment saying
    where it came from and how sure the verdict is."""
    best = ranking.best
    assert best is not None and best.config is not None, "only a fair best row has a config to save"
    m = ranking.metric
    header = (f"# {best.label} (run {best.first.id}): {m.label} {cells.stat(m.name, best.stats[m.name])}, "
              f"{cells.delta(m.name, best.deltas[m.name])} vs {ranking.baseline.label}. {_certainty(ranking)}\n")
    return header + best.config.to_toml()
