"""Every key of the three apps, in one table: each app's BINDINGS and its help screen are made from it.

A row is one binding: key, action, footer label, the apps that have it, and the help screen's line. A row
whose `help` is None adds its key to the help line of the previous row of the same app (Ctrl+Q beside `q`,
`p`'s Resume beside its Pause). A row with `bound=False` is listed in the help but bound elsewhere (Textual's
own Ctrl+P, label mode's class keys, which come from the class names).

Label mode takes class keys from the class names (baltui.commands.label.session.class_keys: lower-case
letters and digits, never q, x or u), so every key of its own here is one a class key can never be:
its screenshot key is `S` (upper case), not the other apps' `s`.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding

RUN, WATCH, LABEL = "run", "watch", "label"  # the dashboard, `baltui watch`, `baltui label`
ALL = frozenset({RUN, WATCH, LABEL})


@dataclass(frozen=True)
class Key:
    """One binding of one or more apps, and what the help screen says about it."""

    key: str  # Textual's key name
    action: str
    description: str  # the footer's label
    apps: frozenset[str]
    help: str | None  # the help screen's text; None: joins the previous row of the same app
    display: str | None = None  # how the help writes the key (default: the key name)
    id: str | None = None  # the binding id (posting's idea: lets a key be remapped by id)
    show: bool = True  # shown in the footer
    priority: bool = False
    bound: bool = True  # False: listed in the help only; the key is bound elsewhere

    def binding(self) -> Binding:
        return Binding(self.key, self.action, self.description, show=self.show, priority=self.priority,
                       id=self.id, key_display=self.display)

    @property
    def shown_as(self) -> str:
        return self.display or self.key


QUIT = "quit"
KEYS: tuple[Key, ...] = (
    Key("q", QUIT, "Quit", frozenset({RUN}), "quit: the runs stop within an epoch and every completed query is "
        "already on disk; the exit code is 130 before the experiment ends, as with `--no-ui`", id="quit"),
    Key("q", QUIT, "Quit", frozenset({WATCH}), "leave the viewer (the writer keeps running)", id="quit"),
    Key("q", QUIT, "Quit", frozenset({LABEL}), "quit; every label is already on disk", id="quit"),
    # Textual binds Ctrl+Q (priority) and Ctrl+C (a toast "press Ctrl+Q"): here both quit, by the one path.
    Key("ctrl+q", QUIT, "Quit", ALL, None, display="Ctrl+Q", show=False, priority=True),
    Key("ctrl+c", QUIT, "Quit", ALL, None, display="Ctrl+C", show=False),
    # next to Quit in every footer, so an 80-column terminal, which cuts the footer's end, still shows it
    Key("question_mark", "help", "Help", ALL, "this help (`escape` closes it)", display="?", id="help"),
    Key("", "label", "", frozenset({LABEL}), "label the image and move on (the keys are in the title bar)",
        display="class key", bound=False),
    Key("enter", "accept", "Accept", frozenset({LABEL}),
        "accept the model's prediction (shown with its confidence)", display="Enter", id="accept"),
    Key("x", "unusable", "Unusable", frozenset({LABEL}), "unusable: never asked again, never trained on",
        id="unusable"),
    Key("backspace", "undo", "Undo", frozenset({LABEL}), "go back one image and undo its label",
        display="Backspace", id="undo"),
    Key("p", "pause", "Pause", frozenset({RUN}), "pause / resume between epochs and phases", id="pause"),
    Key("p", "resume", "Resume", frozenset({RUN}), None, id="resume"),
    Key("s", "screenshot", "Screenshot", frozenset({RUN}), "save an SVG screenshot into the run folder",
        id="screenshot"),
    Key("s", "screenshot", "Screenshot", frozenset({WATCH}),
        "save an SVG screenshot into the current folder (the temp folder if that is a watched one)", id="screenshot"),
    Key("S", "screenshot", "Screenshot", frozenset({LABEL}),
        "save an SVG screenshot into the session folder (upper case: a class key never is)", id="screenshot"),
    Key("d", "toggle_digits", "Digits", frozenset({RUN, WATCH}), "show / hide the queried digits", id="digits"),
    Key("c", "toggle_comparison", "Compare", frozenset({RUN, WATCH}), "show / hide the comparison chart",
        id="compare"),
    Key("i", "insight", "Insight", frozenset({RUN, WATCH}),
        "insight into the selected run (the panel under the mouse, else the first): class balance, accuracy per "
        "class, calibration (ECE, NLL, Brier) and the last fit's loss curve (`escape` or `i` closes it)",
        id="insight"),
    Key("v", "cycle_view", "View", frozenset({RUN, WATCH}), "next view: run table, panels, comparison alone",
        id="view"),
    Key("o", "sort", "Sort", frozenset({RUN, WATCH}), "sort the run table by its next column (or click a header; "
        "again: reverse)", id="sort", show=False),
    Key("enter", "select_cursor", "Open", frozenset({RUN, WATCH}), "in the run table: open that run's panel",
        display="Enter", bound=False),
    Key("escape", "back", "Back", frozenset({RUN, WATCH}), "back to the run table; out of a full-screen chart",
        display="Escape", id="back"),
    Key("f", "fullscreen", "Full screen", frozenset({RUN, WATCH}), "the focused chart full screen (Tab: next "
        "chart)", id="fullscreen", show=False),
    Key("b", "band", "Band", frozenset({RUN, WATCH}), "comparison band: mean ± std, or min / max", id="band",
        show=False),
    Key("r", "paper", "Paper", frozenset({RUN, WATCH}), "show / hide the paper's points on the comparison",
        id="paper", show=False),
    Key("n", "next_strategy", "Next", frozenset({RUN, WATCH}), "comparison: one strategy at a time, then all",
        id="next-strategy", show=False),
    Key("ctrl+p", "command_palette", "", ALL, "command palette: this app's keys by name, the theme, screenshot, quit",
        display="Ctrl+P", bound=False),
)


def keys_of(app: str) -> list[Key]:
    """The rows of one app, in table order."""
    if app not in ALL:
        raise ValueError(f"unknown app {app!r}; one of {sorted(ALL)}")
    return [k for k in KEYS if app in k.apps]


def bindings_for(app: str) -> list[Binding]:
    """An app's BINDINGS."""
    return [k.binding() for k in keys_of(app) if k.bound]


def help_lines(app: str) -> list[tuple[list[str], str]]:
    """The help screen's lines of an app: (the keys as written, what they do), in table order."""
    lines: list[tuple[list[str], str]] = []
    for k in keys_of(app):
        if k.help is None:
            if not lines:
                raise ValueError(f"the first key of {app} ({k.key}) has no help text")
            if k.shown_as not in lines[-1][0]:
                lines[-1][0].append(k.shown_as)
        else:
            lines.append(([k.shown_as], k.help))
    return lines


def help_table(app: str) -> str:
    """The help lines as a Markdown table."""
    rows = ["| key | action |", "|---|---|"]
    for keys, text in help_lines(app):
        rows.append(f"| {', '.join(f'`{key}`' for key in keys)} | {text} |")
    return "\n".join(rows) + "\n"
