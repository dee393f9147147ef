"""Runs and presets in the command palette: type part of a run's name to open it, or of a
preset's to open the launch form on it. With a hundred runs this is quicker than the
table's filter, and it works from every screen."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from moetui import presets


class StoreCommands(Provider):
    def _commands(self) -> list[tuple[str, str, object]]:
        """(text shown and searched, help line, callback): runs newest first, then presets."""
        app = self.app
        runs = [(f"Open run {record.name}", f"{record.status} · {record.preset or 'no preset'} · {record.id}",
                 partial(app.open_run, record.id)) for record in app.state.ordered()]
        launches = [(f"Launch preset {name}", about or "no description", partial(app.open_preset, name))
                    for name, about in presets.list_presets().items()]
        return runs + launches

    async def discover(self) -> Hits:
        for text, about, callback in self._commands():
            yield DiscoveryHit(text, callback, help=about)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, about, callback in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), callback, help=about)
