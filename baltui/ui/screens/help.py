"""The `?` screen: what the panels show and what the keys do."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# baltui

Each **panel** is one run (acquisition strategy x seed), all advancing together query by query:

* **status**: query k of N, labelled images, test accuracy, phase (training epoch e/E, acquiring,
  evaluating), elapsed time and ETA
* **test accuracy** against labelled images, and the **unlabelled pool** shrinking per query
* **acquisition scores** of the latest query over the scored pool subset (red line: the lowest score
  that was still queried); uniform has none, and badge and coreset, which pick for diversity, show what
  their first pick maximises instead (gradient-embedding norm; distance to the nearest labelled image)
* **queried digits**: the images the latest query chose, with their true label and score

The **comparison** chart overlays every run (with several seeds: the mean per strategy, min/max dotted).

| key | action |
|---|---|
| `q` | quit: stops the runs within an epoch; every completed query is already on disk |
| `p` | pause / resume between epochs and phases |
| `s` | save an SVG screenshot into the run folder |
| `d` | show / hide the queried digits |
| `c` | show / hide the comparison chart |
| `?` | this help (`escape` closes it) |
"""


class HelpScreen(ModalScreen[None]):
    """A modal over the dashboard; the runs keep going underneath."""

    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="close-help")]

    def compose(self) -> ComposeResult:
        with Vertical(id="help"):
            yield Markdown(HELP)
