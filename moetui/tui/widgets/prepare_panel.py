"""What a run does before its first step: reading, training the tokenizer, tokenising
(minutes for a Hub dataset), shown in place of charts that have nothing to draw yet."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

STAGES = {"read": "reading documents", "tokenizer": "training the tokenizer", "tokenize": "tokenising documents"}
_BAR_WIDTH = 40


class PreparePanel(Static):
    def show(self, event: dict[str, Any]) -> None:
        """`event`: the run's latest `prepare` event."""
        stage = event.get("stage")
        done, total = event.get("done"), event.get("total")
        text = Text("Preparing data: ", style="bold")
        text.append(STAGES.get(stage, str(stage)))
        if isinstance(done, int) and isinstance(total, int) and total > 1:  # the tokenizer stage is 0/1, 1/1
            fraction = min(1.0, done / total)
            filled = round(fraction * _BAR_WIDTH)
            text.append(f"  {done:,}/{total:,}\n\n")
            text.append("█" * filled, style="green")
            text.append("░" * (_BAR_WIDTH - filled), style="dim")
            text.append(f"  {fraction:.0%}")
        elif isinstance(done, int) and total == 0:  # reading without data.num_documents: no total
            text.append(f"  {done:,} so far")
        if event.get("message"):
            text.append(f"\n\n{event['message']}", style="dim")
        self.update(text)
