"""A sweep's trials as the studio's sweep page reads them: one compact entry per trial, the
table's order, filter and page, and the compact forms of what needs every trial (counts, the
best-so-far line, an even sample of scored trials for the plots, the curves worth drawing).

A trial's value is its score (set when it ended) or else the best value of the primary metric
it logged so far. Only trials without a score need their logged values aggregated, so a
finished 10,000-trial sweep is read without aggregating its 10,000 trials' metrics.
"""

from __future__ import annotations

import json
import math
import threading
import time
import weakref
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from amlite.domain import run_properties as P
from amlite.domain.status import JobStatus
from amlite.store import MetricSummary, Store, TrialRow, TrialsVersion

TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED})
SORT_KEYS = ("index", "name", "status", "value")
PARAM_SORT_PREFIX = "hyperparameters/"
NAMED_SUMMARIES = 2_000
"""Above this many trials without a score, their metric is aggregated for the whole sweep in
one query rather than asked by name."""


@dataclass(slots=True)
class TrialEntry:
    name: str
    index: int
    status: JobStatus
    params: dict[str, Any]
    score: float | None
    early: bool
    reason: str | None
    created_at: datetime
    value: float | None = None
    """The score, else the best value logged so far (None when neither)."""
    logged: bool = False
    """Known to have logged the primary metric (a score comes from it)."""

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True)
class SortOrder:
    key: str
    """One of SORT_KEYS, or ``hyperparameters/<name>``."""
    descending: bool


class _TrialCache:
    """The trials of the last few sweeps read, as entries in index order, per store, with the
    store's ``sweep_trials_version`` of the sweep they were read under. Unchanged version, and
    checked less than ``ttl`` seconds ago: reused. Otherwise only the trials written since the
    newest write seen, less ``margin`` seconds (a write whose transaction took its time before
    an already seen one but committed after it), are read again and merged; everything is read
    again only when trials went missing (or none were kept). A finished sweep's page then reads
    one aggregated row, a running one's the few trials that changed, instead of decoding every
    trial, and an unchanged version is still checked against late commits every ``ttl``."""

    def __init__(self, most: int = 8, ttl: float = 60.0, margin: float = 10.0) -> None:
        self._most = most
        self._ttl = ttl
        self._margin = timedelta(seconds=margin)
        self._lock = threading.Lock()
        self._held: weakref.WeakKeyDictionary[Store, OrderedDict[tuple[str, str, int], _Held]] = (
            weakref.WeakKeyDictionary()
        )

    def entries(self, store: Store, workspace_key: str, sweep: str, limit: int) -> list[TrialEntry]:
        key = (workspace_key, sweep, limit)
        version = store.sweep_trials_version(workspace_key, sweep)
        now = time.monotonic()
        with self._lock:
            held = self._held.setdefault(store, OrderedDict()).get(key)
        if held is not None:
            if held.version == version and now - held.checked_at < self._ttl:
                return held.entries
            merged = self._merged(store, key, held, version)
            if merged is not None:
                self._keep(store, key, _Held(version, now, merged))
                return merged
        entries = _in_order(
            [_entry(row) for row in store.sweep_trials(workspace_key, sweep, limit)]
        )
        self._keep(store, key, _Held(version, now, entries))
        return entries

    def _merged(
        self, store: Store, key: tuple[str, str, int], held: _Held, version: TrialsVersion
    ) -> list[TrialEntry] | None:
        since = held.version.modified_at
        if since is None or version.count < held.version.count:
            return None
        workspace_key, sweep, limit = key
        changed = store.sweep_trials(
            workspace_key, sweep, limit, modified_since=since - self._margin
        )
        by_name = {e.name: e for e in held.entries}
        by_name.update((row.name, _entry(row)) for row in changed)
        if len(by_name) != min(version.count, limit):
            return None  # trials went missing meanwhile: read them all
        return _in_order(list(by_name.values()))

    def _keep(self, store: Store, key: tuple[str, str, int], held: _Held) -> None:
        with self._lock:
            kept = self._held.setdefault(store, OrderedDict())
            kept[key] = held
            kept.move_to_end(key)
            while len(kept) > self._most:
                kept.popitem(last=False)


@dataclass(frozen=True)
class _Held:
    version: TrialsVersion
    checked_at: float
    """``time.monotonic()`` of the last read (full or of the trials written since)."""
    entries: list[TrialEntry]


def _in_order(entries: list[TrialEntry]) -> list[TrialEntry]:
    entries.sort(key=lambda e: (e.index, e.name))
    return entries


_CACHE = _TrialCache()


def read_trials(
    store: Store, workspace_key: str, sweep: str, metric: str, maximize: bool, limit: int
) -> tuple[list[TrialEntry], dict[str, MetricSummary]]:
    """At most ``limit`` trials of ``sweep`` in index order, each with its value; and the
    metric summaries read meanwhile (those of the trials without a score, or of all)."""
    entries = _CACHE.entries(store, workspace_key, sweep, limit)
    unscored = [e.name for e in entries if e.score is None]
    summaries: dict[str, MetricSummary] = {}
    if metric and unscored:
        names = unscored if len(unscored) <= NAMED_SUMMARIES else None
        summaries = store.metric_summaries(workspace_key, sweep, metric, names=names)
    out: list[TrialEntry] = []
    for e in entries:  # the cached entries are shared: an unscored one is copied
        if e.score is not None:
            out.append(e)
            continue
        summary = summaries.get(e.name)
        logged = summary is not None and summary.count > 0
        out.append(replace(e, value=best_of(summary, maximize), logged=logged))
    return out, summaries


def best_of(summary: MetricSummary | None, maximize: bool) -> float | None:
    if summary is None:
        return None
    return summary.high if maximize else summary.low


def parse_order(raw: str | None, maximize: bool) -> SortOrder | None:
    """``<key>[ asc|desc]`` as a SortOrder (no direction: ``value`` best first, the others
    ascending), or None when ``raw`` names no key this table sorts by."""
    words = (raw or "index").split()
    if not words or len(words) > 2:
        return None
    key = words[0]
    if key.lower() in SORT_KEYS:
        key = key.lower()
    elif not (key.startswith(PARAM_SORT_PREFIX) and len(key) > len(PARAM_SORT_PREFIX)):
        return None
    if len(words) == 1:
        return SortOrder(key, key == "value" and maximize)
    direction = words[1].lower()
    if direction not in ("asc", "desc"):
        return None
    return SortOrder(key, direction == "desc")


def ordered(entries: Sequence[TrialEntry], order: SortOrder) -> list[TrialEntry]:
    """``entries`` (in index order, as ``read_trials`` returns them) sorted by ``order``:
    trials missing the key last, ties in index order (the sort is stable)."""
    get = _getter(order.key)
    present: list[tuple[tuple[int, Any], TrialEntry]] = []
    missing: list[TrialEntry] = []
    for e in entries:
        k = get(e)
        if k is None:
            missing.append(e)
        else:
            present.append((k, e))
    present.sort(key=lambda p: p[0], reverse=order.descending)  # stable: ties stay by index
    return [e for _, e in present] + missing


def _getter(key: str) -> Any:
    if key == "index":
        return lambda e: (0, e.index)
    if key == "name":
        return lambda e: (0, e.name)
    if key == "status":
        return lambda e: (0, e.status.value)
    if key == "value":
        return lambda e: None if e.value is None else (0, e.value)
    param = key[len(PARAM_SORT_PREFIX) :]
    return lambda e: _comparable(e.params.get(param))


def _comparable(value: Any) -> tuple[int, Any] | None:
    """Numbers before text (numbers by value, the rest by their text); None when absent."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, float(value)) if math.isfinite(value) else (1, str(value))
    return (1, value if isinstance(value, str) else json.dumps(value, sort_keys=True))


def parameter_names(entries: Iterable[TrialEntry], most: int) -> list[str]:
    """The hyperparameter names the trials have, sorted, at most ``most``."""
    names: set[str] = set()
    for e in entries:
        names.update(e.params)
    return sorted(names)[:most]


def status_counts(entries: Iterable[TrialEntry]) -> dict[str, int]:
    return dict(Counter(e.status.value for e in entries))


def best_so_far(entries: Sequence[TrialEntry], maximize: bool) -> list[list[float]]:
    """``[[trial index, best value so far], ...]`` at each improvement (``entries`` in index
    order), plus the last scored trial's index: the step line of the best-so-far chart."""
    steps: list[list[float]] = []
    best: float | None = None
    last: TrialEntry | None = None
    for e in entries:
        if e.value is None:
            continue
        last = e
        if best is None or (e.value > best if maximize else e.value < best):
            best = e.value
            steps.append([e.index, best])
    if last is not None and best is not None and steps[-1][0] != last.index:
        steps.append([last.index, best])
    return steps


def scored_sample(entries: Sequence[TrialEntry], most: int, maximize: bool) -> list[TrialEntry]:
    """At most ``most`` of the trials with a value (``entries`` in index order), in index
    order: all of them, or the best tenth of ``most`` and an even stride over the rest."""
    scored = [e for e in entries if e.value is not None]
    if len(scored) <= most:
        return scored
    if most <= 0:
        return []
    top = most // 10
    chosen = {id(e) for e in _best_first(scored, maximize)[:top]}
    rest = [e for e in scored if id(e) not in chosen]
    chosen.update(id(e) for e in _spread(rest, most - top))
    return [e for e in scored if id(e) in chosen]


def pick_curves(entries: Sequence[TrialEntry], maximize: bool, cap: int) -> list[str]:
    """Which trials' curves to send: up to half the cap for the best, then running trials,
    then an even stride over the others (so a 10,000-trial sweep draws a readable sample)."""
    logged = [e for e in entries if e.logged]
    if len(logged) <= cap:
        return [e.name for e in logged]
    scored = _best_first([e for e in logged if e.value is not None], maximize)
    chosen: list[str] = [e.name for e in scored[: cap // 2]]
    taken = set(chosen)
    for e in logged:
        if len(chosen) >= cap - cap // 4:
            break
        if not e.terminal and e.name not in taken:
            chosen.append(e.name)
            taken.add(e.name)
    rest = [e for e in logged if e.name not in taken]
    chosen += [e.name for e in _spread(rest, cap - len(chosen))]
    return chosen


def _best_first(entries: Iterable[TrialEntry], maximize: bool) -> list[TrialEntry]:
    """``entries`` with a value, best value first."""
    return sorted(entries, key=lambda e: -(e.value or 0.0) if maximize else (e.value or 0.0))


def _spread(items: Sequence[TrialEntry], room: int) -> list[TrialEntry]:
    """At most ``room`` of ``items``, at an even stride from the first."""
    if not items or room <= 0:
        return []
    stride = len(items) / room
    return [items[int(i * stride)] for i in range(room)]


def downsample(values: list[float | None], most: int) -> list[list[Any]]:
    """``[[logged index, value], ...]``: every value, or an even stride keeping the last."""
    pairs = [[i, v] for i, v in enumerate(values)]
    if len(pairs) <= most or most < 2:
        return pairs[:most] if most < 2 else pairs
    stride = (len(pairs) - 1) / (most - 1)
    return [pairs[round(i * stride)] for i in range(most)]


def finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _entry(row: TrialRow) -> TrialEntry:
    """A trial as read; a score is final, so a scored trial's value is set here (the others'
    values are read on each request)."""
    extra = row.system_properties
    user = row.properties
    score = finite(extra.get(P.SCORE))
    return TrialEntry(
        name=row.name,
        index=_index(extra.get(P.SWEEP_INDEX) or user.get(P.SWEEP_INDEX), row.name),
        status=row.status,
        params=_params(extra.get(P.HYPERPARAMETERS) or user.get(P.HYPERPARAMETERS)),
        score=score,
        early=str(extra.get(P.EARLY_TERMINATED, "")).lower() == "true",
        reason=row.status_reason,
        created_at=row.created_at,
        value=score,
        logged=score is not None,
    )


def _index(value: Any, name: str) -> int:
    for candidate in (value, name.rsplit("_", 1)[-1]):
        try:
            return int(str(candidate))
        except ValueError:
            continue
    return -1


def _params(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(str(raw or "{}"))
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
