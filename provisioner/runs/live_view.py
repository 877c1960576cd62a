"""The live view of a run on a terminal: each table and the role, its state and the seconds in it, redrawn in place.

Imported only when output is a terminal (rich is not loaded for piped or --json output).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from provisioner.runs.progress import Change, RunProgress


class LiveView:
    """A runs.View that redraws a table of resources four times a second while the run is followed."""

    def __init__(self, title: str, console: Console | None = None, wall_clock: Callable[[], float] = time.time):
        self.title = title
        self.console = console or Console()
        self.wall_clock = wall_clock
        self._lock = threading.Lock()
        self._rows: list[tuple[str, str, float]] = []
        self._progress: RunProgress | None = None
        self._live = Live(get_renderable=self._render, console=self.console, refresh_per_second=4, transient=False)

    def __enter__(self) -> LiveView:
        self._live.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._live.refresh()
        self._live.stop()

    def change(self, change: Change, progress: RunProgress) -> None:
        self._snapshot(progress)

    def tick(self, progress: RunProgress) -> None:
        self._snapshot(progress)

    def _snapshot(self, progress: RunProgress) -> None:
        with self._lock:
            self._progress = progress
            self._rows = [(r.subject, r.state, r.since) for r in progress.resources.values()]

    def _render(self) -> Table:
        with self._lock:
            rows, progress = list(self._rows), self._progress
        now = progress.now(self.wall_clock()) if progress is not None else 0.0
        running = progress is None or not progress.finished
        status = f"{now:.0f} s" if running else progress.status.lower().replace("_", " ")
        table = Table(title=f"{self.title}  ({status})", title_justify="left", expand=False)
        table.add_column("resource", no_wrap=True)
        table.add_column("state")
        table.add_column("seconds in it", justify="right", no_wrap=True)
        for subject, state, since in rows:
            seconds = f"{max(0.0, now - since):.0f} s"
            table.add_row(subject, state, seconds)
        if not rows:
            table.add_row("(starting)", "", f"{now:.0f} s" if running else "")
        return table
