"""Per-layer expert load of a run's latest `experts` event: a bar per expert, the layer's
busiest share and its balance, collapsing layers in the error colour."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from moetui.tui.expert_balance import COLLAPSE_BALANCE, balance, bars


class ExpertLoad(Static):
    def show(self, step: int | None, load: list[list[float]] | None) -> None:
        if not load:
            self.update("No expert load reported yet (the engine sends it every train.experts_every steps).")
            return
        text = Text(f"Share of tokens per expert at step {step} (full bar = twice the fair share)\n\n")
        for layer, shares in enumerate(load):
            score = balance(shares)
            style = "bold red" if score < COLLAPSE_BALANCE else ""
            text.append(f"layer {layer:<3}", style="bold")
            text.append(bars(shares), style=style or "green")
            text.append(f"  max {max(shares):6.1%}  balance {score:.2f}", style=style)
            if style:
                text.append("  collapsing", style=style)
            text.append("\n")
        self.update(text)
