"""Expert load of a run, per MoE layer: its latest split (a bar per expert, the balance),
then a row per expert with its share now and a sparkline of its share over the run.
Collapsing layers, dead experts (next to no tokens) and an expert taking most tokens are
marked in the error colour, in words as well as colour."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from moetui.tui.expert_balance import COLLAPSE_BALANCE, balance, bars, dead, dominant, history_line

_ROW_PREFIX = len("  e00  100.0%  ")
_ROW_SUFFIX = len("  ◀ most tokens")
_MIN_SPARK = 8


class ExpertLoad(Static):
    def show(self, steps: list[int], loads: list[list[list[float]]], top_k: int) -> None:
        """`loads[i]` is the load at `steps[i]` (per layer, per expert); `top_k`: experts per token."""
        if not loads:
            self.update("No expert load reported yet (the engine sends it every train.experts_every steps).")
            return
        # Only the events with the latest shape (a resume may change nothing, but a damaged
        # file might): a sparkline must not mix layers or experts.
        shape = [len(layer) for layer in loads[-1]]
        kept = [(step, load) for step, load in zip(steps, loads) if [len(layer) for layer in load] == shape]
        width = max(_MIN_SPARK, (self.size.width or 80) - _ROW_PREFIX - _ROW_SUFFIX)
        span = f"steps {kept[0][0]}–{kept[-1][0]}" if len(kept) > 1 else f"step {kept[-1][0]}"
        text = Text(f"Share of tokens per expert at step {kept[-1][0]}, and over {span} "
                    "(full block = twice the fair share)\n\n")
        for layer, shares in enumerate(loads[-1]):
            score = balance(shares)
            collapsing = score < COLLAPSE_BALANCE
            text.append(f"layer {layer:<3}", style="bold")
            text.append(bars(shares), style="bold red" if collapsing else "green")
            text.append(f"  balance {score:.2f}", style="bold red" if collapsing else "")
            if collapsing:
                text.append("  collapsing", style="bold red")
            text.append("\n")
            over_time = [load[layer] for _, load in kept]
            for expert, (share, is_dead, is_hot) in enumerate(zip(shares, dead(shares), dominant(shares, top_k))):
                style = "red" if is_dead or is_hot else ""
                text.append(f"  e{expert:<2}  {share:6.1%}  ", style=style)
                text.append(history_line([shares_then[expert] for shares_then in over_time], len(shares), width),
                            style=style or "green")
                if is_dead:
                    text.append("  ◀ dead", style="bold red")
                elif is_hot:
                    text.append("  ◀ most tokens", style="bold red")
                text.append("\n")
        self.update(text)
