"""The text a run generates at its evals (`sample` events), newest step first: each prompt
in bold, its continuation after it, so a person reads the model learning to write."""

from __future__ import annotations

import re

from rich.text import Text
from textual.widgets import Static

# Control characters a model may well generate (byte-level BPE can emit any byte), which
# would reach the terminal raw: an escape sequence there redraws the screen, not the text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_OFF = ("No samples. Set eval.sample_prompts (prompts separated by |) to have the engine continue them at "
        "every eval; `moetui sample RUN \"prompt\"` continues one from a run's checkpoint.")


class SamplesView(Static):
    def show(self, steps: list[int], samples: list[list[dict[str, str]]], prompts_set: bool) -> None:
        """`samples[i]` holds the {prompt, text} pairs of the eval at `steps[i]`; `prompts_set`:
        the run's config asks for samples (so none yet means: wait for the first eval)."""
        if not samples:
            self.update("No samples yet: they come with the first eval." if prompts_set else _OFF)
            return
        text = Text()
        for step, pairs in zip(reversed(steps), reversed(samples)):
            text.append(f"step {step}\n", style="bold underline")
            for pair in pairs:
                text.append(_CONTROL.sub("�", pair["prompt"]), style="bold")
                text.append(_CONTROL.sub("�", pair["text"]) + "\n\n")
        self.update(text)
