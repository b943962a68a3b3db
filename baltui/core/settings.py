"""Every experiment setting, declared once: one `Setting` row per setting in `SETTINGS`.

A row says what a setting is (its kind, default and range), what it means (the help line), and how the
rest of baltui treats it. Everything else derives from the table, so a setting cannot be known in one
place and missing in another:
- `RunConfig`'s fields and defaults, type checks and range rules (`baltui.core.config`);
- the flags, with their ranges and the registries' names in `--help` (`baltui.commands.parsing.add_setting_flags`);
- the unused-flag warnings (`read_by`: which strategies read it), what `--resume` may change
  (`resume_may_change`), what `report` splits rows on (`changes_results`);
- how a config.json written before a setting existed reads today (`legacy`, applied by
  `baltui.core.config.migrate_config`, through which resume, report and watch read every config.json).

A new strategy hyperparameter is one row here plus its use. Say a `temperature` for a softmax-sampling
strategy:

    Setting("temperature", "number", 1.0, "softmax temperature of the sampling strategies",
            low=0, high=100, low_open=True, read_by=lambda a: a.name == "softmaxbald"),

and its use: the strategy reads `cfg.temperature` (passed where the engine builds its `QueryStrategy`).
`RunConfig.temperature`, `--temperature` (its range in `--help`), the refusal of NaN or 1e308, the warning
when no strategy of the run reads it, the refusal on `--resume` and a report column when two folders
differ in it all follow from the row. An old config.json without the key reads as the default (give
`legacy=` when the runs before it behaved otherwise).

A row with `plugin` also takes what the registry does not hold: an installed plug-in's name or a reference
(module:attr, path/to/file.py:attr), loaded when checked (baltui.core.plugins), so a bad one is one line too.

This module imports no TensorFlow: the registries it names (strategies, models, data sets) are plain dicts.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from baltui.core import plugins, stopping
from baltui.core.acquisition import DEFAULT_EPIG_TARGETS, STRATEGIES, Acquisition
from baltui.core.data import DATASETS
from baltui.core.errors import BaltuiError
from baltui.core.images import DEFAULT_SIZE, MIN_SIZE
from baltui.core.models import MODELS
from baltui.core.models.batching import BATCHINGS
from baltui.core.models.precision import TRAIN_PRECISIONS

MC_MASKS = ("auto", "consistent", "independent")
INITIAL_SETS = ("balanced", "random", "kcenter")


class _Missing:
    """`legacy` when a setting has always been in config.json: nothing to fill in."""

    def __repr__(self) -> str:
        return "ALWAYS_SAVED"


ALWAYS_SAVED: Any = _Missing()

# The kinds of value a setting holds, with the Python type RunConfig declares for it.
KINDS = {
    "whole": "int",  # a whole number in [low, high]; `word` (stored as 0) may stand for a special value
    "number": "float",  # a finite number in [low, high] (low excluded when low_open); or `word`, stored as is
    "word": "str",  # a name, one of `choices` when given
    "path": "str | None",  # a file path, or none
    "words": "list[str]",  # a comma list of names from `choices`, each once
    "wholes": "list[int]",  # a comma list of whole numbers in [low, high], each once
    # Stop rules (baltui.core.stopping), each once, possibly none; a repeatable flag (a rule may hold a comma).
    "rules": "list[str]",
}


def closest(value: str, known: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for a near miss, else ''."""
    match = difflib.get_close_matches(value, list(known), n=1)
    return f" (did you mean '{match[0]}'?)" if match else ""


def _shown(value: Any) -> str:
    """A refused value as the user gave it, cut short: a 400-digit number must not flood the one line."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


@dataclass(frozen=True)
class Setting:
    """One experiment setting: what it holds, its range, its help line, and how baltui treats it."""

    name: str
    kind: str  # one of KINDS
    default: Any
    help: str  # the flag's help; the range (and the word, if any) is appended to it
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # low itself is not allowed (beta > 0)
    word: str | None = None  # a word accepted instead of a number: 'all' (subset, stored as 0), 'auto'
    zero: str | None = None  # what 0 means where low is 0 and 0 switches something off ("off", "none")
    choices: tuple[str, ...] = ()  # the registry a name (or each name of a list) must come from
    noun: tuple[str, str] | None = None  # ("strategy", "strategies"): an unknown choice is "unknown strategy 'x'"
    # The kind of plug-in (baltui.core.plugins.KINDS) a value may name besides `choices`: an installed entry
    # point's name or a reference (module:attr, file.py:attr), resolved when checked so a bad one is one line.
    plugin: str | None = None
    most: int | None = None  # lists: at most this many items
    metavar: str | None = None
    # The runs' numbers depend on it, so `report` never pools runs that differ in it. False for what names
    # a run (strategies, seeds: rows are per strategy, pooled over seeds) and for how long it goes (queries).
    changes_results: bool = True
    # `--resume` may change it (extending the experiment, or saying where the same data is now).
    resume_may_change: bool = False
    # The strategies that read it (a predicate on the Acquisition registry entry); None: every run does.
    # Giving it as a flag when none of the run's strategies reads it gets a warning (config.warn_unused).
    read_by: Callable[[Acquisition], bool] | None = None
    # What the runs used before config.json had this key (config.migrate_config fills it in).
    legacy: Any = ALWAYS_SAVED
    # On the digits, a preset that leaves it out takes it from the quick preset, not from `default`
    # (the defaults are MNIST-scale; batch 128 on a few dozen 8x8 images learns nothing).
    digits_from_quick: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"setting {self.name}: unknown kind {self.kind!r}")
        if self.kind in ("whole", "number", "wholes") and (self.low is None or self.high is None):
            raise ValueError(f"setting {self.name}: a number needs its range (low and high)")
        if self.zero is not None and self.low != 0:
            raise ValueError(f"setting {self.name}: `zero` says what 0 means, so low must be 0")

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def annotation(self) -> str:
        return "float | str" if self.kind == "number" and self.word else KINDS[self.kind]

    def readers(self) -> list[str]:
        """The strategies that read it, by name (all of them when `read_by` is None)."""
        return [a.name for a in STRATEGIES.values() if self.read_by is None or self.read_by(a)]

    # ---- text ----------------------------------------------------------------------------------
    def range_text(self) -> str:
        """The range as --help states it: '1 to 10000', '0 < BETA <= 1000', '... or all'."""
        if self.low is None or self.high is None:
            return ""
        if self.low_open:
            text = f"{_number(self.low)} < {self.name.upper()} <= {_number(self.high)}"
        else:
            text = f"{_number(self.low)} to {_number(self.high)}"
        if self.kind == "wholes":
            text = "each " + text + (f", at most {self.most} {(self.noun or ('', 'values'))[1]}" if self.most else "")
        return text + (f", or {self.word}" if self.word else "") + (f" (0: {self.zero})" if self.zero else "")

    def flag_help(self) -> str:
        rng = self.range_text()
        return f"{self.help}; {rng}" if rng else self.help

    def expected(self) -> str:
        """What a valid value is, for the one-line refusal."""
        if self.kind in ("whole", "number"):
            what = "a whole number" if self.kind == "whole" else "a number"
            if self.low_open:
                what += f" with {_number(self.low)} < {self.name} <= {_number(self.high)}"
            elif self.low is not None:
                what += f" from {_number(self.low)} to {_number(self.high)}"
            return what + (f" or '{self.word}'" if self.word else "")
        if self.kind == "wholes":
            return (f"a comma list of whole numbers from {_number(self.low)} to {_number(self.high)}"
                    + (f", at most {self.most} of them" if self.most else ""))
        if self.kind == "words":
            return "a list of names" + (f" from {', '.join(self.choices)}" if self.choices else "")
        if self.kind == "rules":
            return f"a list of stop rules: {stopping.FORMS}"
        if self.kind == "word" and self.choices:
            return f"one of {', '.join(self.choices)}"
        return "a string"

    def _refuse(self, value: Any) -> BaltuiError:
        return BaltuiError(f"'{self.name}' must be {self.expected()}, got {_shown(value)}")

    # ---- values --------------------------------------------------------------------------------
    def from_text(self, text: str) -> Any:
        """A flag's text as a checked value, in the form presets use, so `parse` (build_config) takes it again:
        '10' -> 10, '0,1' -> [0, 1], 'all' stays 'all'; 'nan', '1e20' or '0' for 'all' -> refused."""
        t = text.strip()
        if self.kind == "whole":
            if self.word and t == self.word:
                return t
            try:
                return self.parse(int(t))
            except ValueError:
                raise self._refuse(text) from None
        if self.kind == "number":
            return self.parse(t)  # parse reads numeric text itself (presets have always given some as text)
        if self.kind == "wholes":
            try:
                return self.parse([int(v) for v in t.split(",") if v.strip()])
            except ValueError:
                raise self._refuse(text) from None
        return self.parse(text)

    def parse(self, value: Any) -> Any:
        """A value from a preset, a flag or a saved config: coerced to its kind, then checked; or one
        BaltuiError line saying what it must be."""
        coerced = self._coerce(value)
        try:
            self.check(coerced)
        except BaltuiError:
            if self.kind == "number":  # said as given: '-1' or 10**20, not -1.0 or 1e+20
                raise self._refuse(value) from None
            raise
        return coerced

    def _coerce(self, value: Any) -> Any:
        kind = self.kind
        if kind == "whole":
            if self.word and value == self.word:
                return 0
            if isinstance(value, bool) or not isinstance(value, int) or (self.word and value == 0):
                raise self._refuse(value)  # 0 is how `word` is stored, never a value to give
            return value
        if kind == "number":
            if self.word and value == self.word:
                return value
            if isinstance(value, str):
                try:
                    return float(value)
                except ValueError:
                    raise self._refuse(value) from None
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self._refuse(value)
            try:
                return float(value)
            except OverflowError:  # an integer beyond any float
                raise self._refuse(value) from None
        if kind == "words":
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise self._refuse(value)
            return value
        if kind == "rules":  # one rule as text (a preset's "labels>=500"), else a list; stored without spaces
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise self._refuse(value)
            return stopping.canonical(value)
        if kind == "wholes":
            if isinstance(value, int) and not isinstance(value, bool):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                raise self._refuse(value)
            return value
        if kind == "path" and value is None:
            return value
        if not isinstance(value, str):
            raise self._refuse(value)
        return value

    def check(self, value: Any) -> None:
        """Refuse a value RunConfig must not hold (wrong type, out of range, unknown name, repeated)."""
        kind = self.kind
        if kind == "whole":
            if isinstance(value, bool) or not isinstance(value, int):
                raise self._refuse(value)
            if self.word and value == 0:
                return  # the word ('all')
            if not self.low <= value <= self.high:
                raise self._refuse(value)
        elif kind == "number":
            if self.word and value == self.word:
                return
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise self._refuse(value)
            if (value <= self.low if self.low_open else value < self.low) or value > self.high:
                raise self._refuse(value)
        elif kind in ("word", "path"):
            if value is None and kind == "path":
                return
            if not isinstance(value, str):
                raise self._refuse(value)
            if self.choices and value not in self.choices:
                self._check_plugin(value)
        elif kind == "words":
            self._check_list(value, str)
            for v in value:
                if self.choices and v not in self.choices:
                    self._check_plugin(v)
        elif kind == "rules":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise self._refuse(value)
            stopping.parse_rules(value)
        elif kind == "wholes":
            self._check_list(value, int)
            for v in value:
                if isinstance(v, bool) or not self.low <= v <= self.high:
                    raise self._refuse(value)

    def _check_list(self, value: Any, item: type) -> None:
        one, many = self.noun or ("value", "values")
        if not isinstance(value, list) or not all(isinstance(v, item) for v in value):
            raise self._refuse(value)
        if not value:
            known = f"; known {many}: {', '.join(self.choices)}" if self.choices else ""
            raise BaltuiError(f"no {many} given{known}")
        if len(set(value)) != len(value):
            raise BaltuiError(f"a {one} is listed twice in '{self.name}'")
        if self.most is not None and len(value) > self.most:
            raise BaltuiError(f"'{self.name}' lists {len(value)} {many}; at most {self.most}")

    def _check_plugin(self, value: str) -> None:
        """A value outside `choices`: a plug-in that loads, else one line (why it does not, or that it is unknown)."""
        if not (self.plugin and plugins.known(self.plugin, value)):
            raise self._unknown(value)

    def _unknown(self, value: str) -> BaltuiError:
        if self.noun is None:
            return self._refuse(value)
        one, many = self.noun
        known = list(self.choices)
        if self.plugin:
            known += [name for name in plugins.entry_points(self.plugin) if name not in known]
        more = f"; or a plug-in: module:attr or path/to/file.py:attr (baltui --list-{many})" if self.plugin else ""
        return BaltuiError(f"unknown {one} '{value}'{closest(value, known)}; known {many}: " + ", ".join(known) + more)


def _scores(a: Acquisition) -> bool:
    return a.has_scores


def _mc(a: Acquisition) -> bool:
    """Reads the MC-dropout settings: runs the MC pass (BADGE and Core-set do not)."""
    return a.uses_mc


# The bounds keep every count within what one run can hold on a 24 GB, 2-core machine (the largest arrays
# are MC-dropout probabilities, mc_samples x scored points x classes floats) and every number finite.
# Order: RunConfig's field order, hence config.json's key order and the flags' order in --help.
SETTINGS: tuple[Setting, ...] = (
    Setting("dataset", "word", "digits",
            f"a named data set: {', '.join(DATASETS)} (or --data FILE.npz or DIR), an installed plug-in "
            "(--list-datasets) or a loader module:attr / path/to/file.py:attr"),
    Setting("data", "path", None, "an .npz with x_train, y_train, x_test, y_test (keras layout), or an image folder "
            "with one subfolder per class (DIR/<class>/*.png|jpg; a DIR/test/<class>/ split or --test-fraction)",
            metavar="FILE.npz|DIR", resume_may_change=True),
    Setting("strategies", "words", ["entropy", "uniform"],
            f"comma list, e.g. entropy,bald,uniform; known: {', '.join(STRATEGIES)}; or plug-ins: installed ones "
            "(--list-strategies), score functions module:attr or path/to/file.py:attr",
            choices=tuple(STRATEGIES), noun=("strategy", "strategies"), plugin="strategy", changes_results=False),
    Setting("seeds", "wholes", [0], "comma list of seeds, e.g. 0,1,2", low=0, high=2**31 - 1, most=1000,
            noun=("seed", "seeds"), changes_results=False, resume_may_change=True),
    Setting("queries", "whole", 20, "number of acquisition rounds", low=1, high=100_000,
            changes_results=False, resume_may_change=True, digits_from_quick=True),
    Setting("instances", "whole", 10, "images labelled per query", low=1, high=10_000, digits_from_quick=True),
    Setting("initial_per_class", "whole", 2, "initial labels per class", low=1, high=10_000,
            digits_from_quick=True),
    Setting("epochs", "whole", 50, "training epochs per query (from fresh weights)", low=1, high=10_000,
            digits_from_quick=True),
    Setting("batch_size", "whole", 128, "training batch size", low=1, high=65_536, digits_from_quick=True),
    Setting("mc_samples", "whole", 100, "MC dropout samples T", low=1, high=10_000, read_by=_mc,
            digits_from_quick=True),
    Setting("subset", "whole", 2000, "pool points scored per query, at least --instances (all: the whole pool)",
            low=1, high=1_000_000, word="all", read_by=_scores, digits_from_quick=True),
    Setting("beta", "number", 1.0,
            "power of the stochastic batch strategies ("
            + ", ".join(a.name for a in STRATEGIES.values() if a.uses_beta) + ")",
            low=0, high=1000, low_open=True, read_by=lambda a: a.uses_beta, digits_from_quick=True),
    # "auto": consistent where the strategy needs it (batchbald), else the faster of the two.
    # Target inputs EPIG draws from the pool per query to average I(y; y*) over; its cost grows with
    # points x targets x classes^2 per MC sample.
    Setting("epig_targets", "whole", DEFAULT_EPIG_TARGETS,
            "target inputs EPIG draws per query (from the recipe's target set, else the pool)",
            low=1, high=10_000, metavar="N", read_by=lambda a: a.targets, legacy=DEFAULT_EPIG_TARGETS),
    Setting("mc_masks", "word", "auto",
            "MC-dropout masks: one per sample for all points (consistent), one per point (independent), "
            "or auto: consistent where the strategy needs it (default)",
            choices=MC_MASKS, metavar="{" + ",".join(MC_MASKS) + "}", read_by=_mc,
            legacy="independent"),  # before mask modes, every strategy drew independent masks
    Setting("model", "word", "seed",
            f"architecture and its training regime: {', '.join(MODELS)} (default seed), an installed plug-in "
            "(--list-models) or a build function module:attr / path/to/file.py:attr",
            choices=tuple(MODELS), noun=("model", "models"), plugin="model", legacy="seed"),
    # L2 of C/N on the hidden Dense kernels (N: labelled images at that fit), or "auto": C chosen per fit on
    # the validation set (Gal et al. 2017). 0: none, as in the seed notebook.
    Setting("weight_decay", "number", 0.0,
            "L2 of C/N on the hidden Dense layers (N: labelled images; default 0), or auto: C chosen per fit "
            "on the validation set", low=0, high=10_000, word="auto",
            legacy=0),  # an int: the reports of folders from before weight decay say "weight_decay 0"
    # Pool images set aside (per seed) to validate on: never offered for labelling, never trained on.
    Setting("validation", "whole", 0, "pool images set aside per seed for validation (never labelled)",
            low=0, high=100_000, zero="none", legacy=0),
    # Draws with repetition per epoch (Kirsch et al. 2019: 5,056); 0: one pass over the labelled set.
    Setting("epoch_draws", "whole", 0, "draws with repetition per training epoch", low=0, high=1_000_000,
            zero="one pass over the labelled set", legacy=0),
    # Stop training after this many epochs without a better validation accuracy (best weights kept); 0: off.
    Setting("early_stopping", "whole", 0,
            "stop after PATIENCE epochs without better validation accuracy",
            low=0, high=10_000, zero="off", metavar="PATIENCE", legacy=0),
    # How an epoch's images are cut into mini-batches (baltui.core.models.batching): "keep" ends each epoch on
    # the remainder (2 images when 130 are labelled at batch 128), "even" makes ceil(n / batch) equal batches.
    Setting("batching", "word", "keep",
            "mini-batches of an epoch: keep (default: full batches, the last one holding the rest) or even "
            "(ceil(images / batch size) batches whose sizes differ by at most one)",
            choices=BATCHINGS, metavar="{" + ",".join(BATCHINGS) + "}", legacy="keep"),
    # Training arithmetic; "auto" is resolved for this CPU by build_config, so config.json records what ran.
    Setting("train_precision", "word", "float32",
            "training arithmetic: float32 (default), bfloat16 (mixed: float32 weights, loss and softmax; sampling "
            "and evaluation stay float32), or auto: bfloat16 only where the CPU has it natively and it is shown to "
            "pay, else float32", choices=TRAIN_PRECISIONS, metavar="{" + ",".join(TRAIN_PRECISIONS) + "}",
            legacy="float32"),
    # A pool recipe (baltui.core.recipes) applied to the loaded data; config.json records it with every value named.
    Setting("recipe", "word", "none",
            "a benchmark variant of the data: repeated[:COPIES,noise=STD,base=N], "
            "unbalanced[:LOW,HIGH,TARGET_LOW,TARGET_HIGH], redundant[:POOL,TARGET] or none (default); "
            "see the README's Data recipes", metavar="RECIPE", legacy="none"),
    Setting("recipe_seed", "whole", 0, "seed of the recipe's noise and samples (one per folder)",
            low=0, high=2**31 - 1, legacy=0),
    # The first labels: initial_per_class of every class (the papers' protocol, which needs the pool's labels), or
    # that many times the classes from the images alone (at random or spread by k-center), as a new labelling
    # project must.
    Setting("initial_set", "word", "balanced",
            "the first labels: initial-per-class of every class (balanced, default), or that many times the "
            "classes chosen without reading a label: at random (random) or spread over the images by k-center "
            "greedy in pixel space (kcenter)",
            choices=INITIAL_SETS, metavar="{" + ",".join(INITIAL_SETS) + "}", legacy="balanced"),
    # An image folder (--data DIR) without a DIR/test/ split: the share of every class held out to test on, drawn
    # once from a fixed seed (baltui.core.image_folder). 0: the folder's own test/ split, refused when it has none.
    Setting("test_fraction", "number", 0.0,
            "an image folder without a test/ split: the share of every class held out as the test set "
            "(stratified, the same split every load)", low=0, high=0.9, zero="the folder's test/ split",
            metavar="F", legacy=0.0),
    # An image folder's images are padded to a square and resized to this side, as label mode's --size does.
    Setting("image_size", "whole", DEFAULT_SIZE,
            "an image folder's images are padded to a square and resized to SIZE x SIZE",
            low=MIN_SIZE, high=1024, metavar="SIZE", legacy=DEFAULT_SIZE),
    # When a run may end before --queries (baltui.core.stopping): judged after every query, ANY rule stops it. It
    # changes how long runs are, so report never pools runs of different rules; --resume may drop rules (the
    # stopped runs then continue as if never stopped) but not add them (start/resume.py says so).
    Setting("stop_when", "rules", [],
            "end a run after the first query at which ANY rule holds (repeat the flag for more rules): "
            "labels>=N (labelled images, initial set included); accuracy>=X (reads the TEST set: an "
            "oracle-peeking rule, for studies only); plateau:N,D (none of the last N queries beat the best "
            "test accuracy before them by more than D; also reads the test set); uncertainty<X (the strategy's "
            "mean acquisition score over the last query's scored subset; not for uniform); stable:X (the share "
            "of deterministic predictions that changed since the previous query, on a fixed sample of at "
            f"most {stopping.STOP_SET_SIZE} pool images, below X); none: no rule (default)",
            metavar="RULE", resume_may_change=True, legacy=[]),
)

SETTING: dict[str, Setting] = {s.name: s for s in SETTINGS}

# Keys that change what an experiment computes: refused as overrides on --resume unless resume_may_change.
EXPERIMENT_KEYS: tuple[str, ...] = tuple(SETTING)
# Settings --resume may change: more queries or more seeds extend the experiment, exactly as if they had
# been asked for from the start; --data only says where the (same) data file is now; dropping stop rules
# lets the runs they stopped go on.
RESUME_MAY_CHANGE: tuple[str, ...] = tuple(s.name for s in SETTINGS if s.resume_may_change)
# Settings two runs must share to be pooled in one row of a report.
RESULTS_KEYS: tuple[str, ...] = tuple(s.name for s in SETTINGS if s.changes_results)


def settings_named(names: Sequence[str] | None = None) -> list[Setting]:
    """The rows of `names` (all rows when None), in the order given; a name not in the table is a bug."""
    return list(SETTINGS) if names is None else [SETTING[n] for n in names]
