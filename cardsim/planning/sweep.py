"""Sweeps: every combination of ``--set`` values, each replicated N times, summarised as means with
95% confidence intervals.

Replication r of every combination uses the r-th child of ``SeedSequence(base seed).spawn(N)``:
replications are independent streams, reproducible from the base seed, and combinations are
compared under common random numbers. Each run is a plain function of a picklable :class:`Task`
(:func:`run_task`), so the same work runs on local processes or on a Dask distributed cluster with
identical results.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from cardsim.errors import CardsimError
from cardsim.workers import context
from cardsim.config.metrics import (Threshold, check_metric, metric_names, metric_range, metric_unit,
                                    metric_value, thresholds_of)
from cardsim.config.scenario import Scenario, load, loads, parse_set
from cardsim.model.scopes import window_values
from cardsim.planning.progress import RunProgress, drain
from cardsim.reports.sweep_view import combination_label
from cardsim.model.simulation import Simulation

#: Two-sided 95% Student t quantiles for 1..30 degrees of freedom; beyond, the normal 1.96
#: (error below 1.6% at 31 degrees of freedom).
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)

@dataclass(frozen=True)
class Task:
    index: int
    combo: int
    replication: int
    replications: int
    text: str
    source: str
    name: str
    sets: tuple[str, ...]
    scale: float
    seed: int
    #: ``attacker(sim)``: the scenario's in-run attacker (or None), plugged in by the API, so a
    #: sweep's runs are the runs ``cardsim run`` makes (a module-level function: it pickles)
    attacker: Callable | None = None
    thresholds: tuple[str, ...] = ()     # --threshold entries
    metrics: tuple[str, ...] = ()        # every metric to measure, in order
    #: where the run reports (index, fraction simulated): see cardsim.planning.progress
    progress: object = None
    scale_capacity: bool = False


def run_task(task: Task) -> tuple[int, dict]:
    """One replication of one combination: (task index, {metric: value})."""
    sc = loads(task.text, source=task.source, name=task.name, sets=task.sets, scale=task.scale,
               seed=task.seed, thresholds=task.thresholds, scale_capacity=task.scale_capacity)
    child = np.random.SeedSequence(task.seed).spawn(task.replications)[task.replication]
    ticks = None
    if task.progress is not None:
        span, queue, index = sc.duration_s, task.progress, task.index
        ticks = lambda now: queue.put((index, now / span))      # noqa: E731
    sim = Simulation(sc, seedseq=child, progress=ticks)
    summary = sim.run(attacker=task.attacker(sim) if task.attacker else None)
    summary["windows"].update(window_values(sim, task.metrics))
    return task.index, {m: metric_value(summary, m) for m in task.metrics}


def split_values(text: str) -> list[str]:
    """Split ``v1,v2,...`` on top-level commas (not inside brackets, braces or quotes)."""
    out, depth, quote, cur = [], 0, None, []
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur).strip())
    return out


@dataclass(frozen=True)
class Plan:
    scenario: Scenario
    axes: tuple[tuple[str, tuple[str, ...]], ...]   # (key path, raw values)
    replications: int
    scale: float
    attacker: Callable | None = None
    scale_capacity: bool = False
    #: the metrics measured: every metric but the named points' and the windows, then those
    #: asked for (``--metric``) and the thresholds'
    metrics: tuple[str, ...] = ()
    asked: tuple[str, ...] = ()        # --metric, as given

    @property
    def combos(self) -> list[tuple[str, ...]]:
        return [tuple(f"{k}={v}" for (k, _), v in zip(self.axes, vals))
                for vals in itertools.product(*(vs for _, vs in self.axes))]

    def tasks(self) -> list[Task]:
        sc, out = self.scenario, []
        for c, sets in enumerate(self.combos):
            for r in range(self.replications):
                out.append(Task(len(out), c, r, self.replications, sc.text, sc.source, sc.name,
                                tuple(sc.sets) + sets, self.scale, sc.seed, self.attacker,
                                sc.thresholds, self.metrics, None, self.scale_capacity))
        return out


def plan(path: str | Path, replications: int, set_args: list[str], scale: float = 1.0,
         seed: int | None = None, attacker: Callable | None = None,
         thresholds: tuple[str, ...] = (), metrics: tuple[str, ...] = (),
         scale_capacity: bool = False) -> Plan:
    """Validate everything before any run starts: the scenario and every combination.
    ``attacker(sim)`` plugs in the scenario's in-run attacks (see :class:`Task`);
    ``thresholds`` are ``--threshold`` entries; ``metrics`` extra metrics to measure."""
    if replications < 2:
        raise CardsimError("--replications: must be at least 2 (a confidence interval needs two)")
    axes, fixed = [], []
    for item in set_args:
        key, _ = parse_set(item)
        values = split_values(item.partition("=")[2])
        if any(v == "" for v in values):
            raise CardsimError(f"--set {item}: empty value in the list")
        if len(values) == 1:
            fixed.append(item)
        else:
            axes.append((key, tuple(values)))
    base = load(path, sets=fixed, scale=scale, seed=seed, thresholds=thresholds,
                scale_capacity=scale_capacity)
    p = Plan(base, tuple(axes), replications, scale, attacker, scale_capacity=scale_capacity)
    asked = list(metrics) + sorted(base.config["thresholds"])
    for sets in p.combos:                 # each combination validated like a scenario file
        sc = loads(base.text, source=base.source, sets=tuple(fixed) + sets, scale=scale, seed=seed,
                   thresholds=thresholds, scale_capacity=scale_capacity)
        for m in metrics:
            if (err := check_metric(m, sc.config)):
                raise CardsimError(f"--metric {m}: {err}")
    names = metric_names()
    return replace(p, metrics=tuple(names + [m for m in dict.fromkeys(asked) if m not in set(names)]),
                   asked=tuple(metrics))


def t975(n: int) -> float:
    return _T975[n - 2] if 2 <= n <= 31 else 1.96


def summarise(values: list[float], low: float | None = None, high: float | None = None) -> dict:
    """Mean and 95% confidence interval of replication values: Student's t interval, cut to the
    values the metric can take (``low``, ``high``: e.g. 0 for a wait or a count, 1 for a
    share). The true mean lies in that range, so the cut interval covers it whenever the t
    interval does: coverage stays 95%, and no bound is impossible (a negative wait)."""
    a = np.asarray(values, dtype=float)
    n = len(a)
    mean = float(a.mean())
    half = t975(n) * float(a.std(ddof=1)) / math.sqrt(n) if n > 1 else 0.0
    lo, hi = mean - half, mean + half
    if low is not None:
        lo = max(lo, low)
    if high is not None:
        hi = min(hi, high)
    return {"mean": round(mean, 6), "ci_low": round(lo, 6), "ci_high": round(hi, 6), "n": n}


def run_sweep(p: Plan, workers: int = 1, scheduler: str | None = None,
              progress: Callable[[int], None] | None = None) -> dict:
    """Run every task of the plan (here, on ``workers`` processes or on a Dask ``scheduler``)
    and summarise each combination's metrics as means with 95% confidence intervals."""
    tasks = p.tasks()
    t0 = time.perf_counter()
    tracker = RunProgress(progress) if progress else None
    results = _collect(_outcomes(tasks, workers, scheduler, tracker), tracker)
    wall = time.perf_counter() - t0
    combos = _combinations(p, tasks, results)
    return {"kind": "cardsim-sweep", "scenario": p.scenario.name, "source": p.scenario.source,
            "base_seed": p.scenario.seed, "replications": p.replications, "scale": p.scale,
            "sets": [s for s in p.scenario.sets],
            "swept": {k: [_value(f"{k}={v}") for v in vs] for k, vs in p.axes},
            "thresholds": [str(t) for t in thresholds_of(p.scenario.config)], "asked": list(p.asked),
            "verdict": verdict(combos, bool(p.scenario.config["thresholds"])),
            "combinations": combos, "runs": len(tasks), "wall_seconds": round(wall, 3)}


def _order(combo: dict) -> tuple:
    """Smaller first: the swept values compared in key order (numbers before other values)."""
    return tuple((0, v, "") if isinstance(v, (int, float)) and not isinstance(v, bool)
                 else (1, 0, json.dumps(v)) for v in combo["set"].values())


def verdict(combos: list[dict], has_thresholds: bool) -> dict:
    """Which combinations pass every threshold (on its confidence bound), and the smallest of
    them: the swept values compared key by key, in the order the keys were given.

    ``{"text", "passing": [combination indices], "smallest": index or None}``.
    """
    if not has_thresholds:
        return {"text": "no thresholds: nothing to pass or fail", "passing": [], "smallest": None}
    passing = [i for i, c in enumerate(combos) if all(t["passed"] for t in c["thresholds"])]
    if not passing:
        return {"text": f"no combination passes (0 of {len(combos)})", "passing": [], "smallest": None}
    best = min(passing, key=lambda i: _order(combos[i]))
    label = combination_label(combos[best])
    text = (f"smallest passing combination: {label} ({len(passing)} of {len(combos)} pass)"
            if combos[best]["set"] else "passes")
    return {"text": text, "passing": passing, "smallest": best}


def _outcomes(tasks: list[Task], workers: int, scheduler: str | None,
              tracker: RunProgress | None) -> Iterator[tuple[int, dict]]:
    """``run_task``'s results, in completion order, from wherever the tasks run."""
    if scheduler:
        return _on_dask(tasks, scheduler)
    if workers <= 1:
        return map(run_task, [replace(t, progress=tracker) for t in tasks] if tracker else tasks)
    return _on_processes(tasks, workers, tracker)


def _collect(outcomes: Iterator[tuple[int, dict]], tracker: RunProgress | None) -> dict[int, dict]:
    results: dict[int, dict] = {}
    for i, m in outcomes:
        results[i] = m
        if tracker:
            tracker.finish(i)
    return results


def _on_processes(tasks: list[Task], workers: int,
                  tracker: RunProgress | None) -> Iterator[tuple[int, dict]]:
    manager = context().Manager() if tracker else None
    queue = manager.Queue() if manager else None
    reader = drain(queue, tracker) if manager else None
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context()) as pool:
            for fut in as_completed([pool.submit(run_task, replace(t, progress=queue)) for t in tasks]):
                yield fut.result()
    finally:
        if manager:
            queue.put(None)
            reader.join(timeout=5)
            manager.shutdown()


def _on_dask(tasks: list[Task], scheduler: str) -> Iterator[tuple[int, dict]]:
    try:    # an optional dependency (the ``dask`` extra): imported only when asked for
        from distributed import Client, as_completed as dask_completed
    except ImportError:
        raise CardsimError("--scheduler needs dask.distributed: pip install 'cardsim[dask]'") from None
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as e:
        raise CardsimError(f"--scheduler {scheduler}: cannot connect: {e}") from None
    try:
        for fut in dask_completed(client.map(run_task, tasks, pure=False)):
            yield fut.result()
    finally:
        client.close()


def _combinations(p: Plan, tasks: list[Task], results: dict[int, dict]) -> list[dict]:
    thresholds = thresholds_of(p.scenario.config)
    combos = []
    for c, sets in enumerate(p.combos):
        runs = [results[t.index] for t in tasks if t.combo == c]
        metrics = {m: summarise([r[m] for r in runs], *metric_range(m)) for m in p.metrics}
        combos.append({"set": {s.partition("=")[0]: _value(s) for s in sets},
                       "metrics": metrics,
                       "thresholds": [_check(t, metrics[t.metric]) for t in thresholds]})
    return combos


def _value(item: str):
    return parse_set(item)[1]


def _check(t: Threshold, m: dict) -> dict:
    bound = m["ci_high"] if t.upper else m["ci_low"]
    return {"metric": t.metric, "op": t.op, "limit": t.limit, "value": bound,
            "bound": "ci_high" if t.upper else "ci_low", "passed": t.holds(bound)}


def write_csv(result: dict, path: str | Path) -> None:
    """The sweep result as CSV: one row per combination and metric (full names, with the unit)."""
    keys = list(result["swept"])
    tmp = Path(str(path) + ".partial")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(keys + ["metric", "mean", "ci_low", "ci_high", "n", "unit"])
        for combo in result["combinations"]:
            for m, s in combo["metrics"].items():
                w.writerow([json.dumps(combo["set"][k]) for k in keys]
                           + [m, s["mean"], s["ci_low"], s["ci_high"], s["n"], metric_unit(m)])
    tmp.replace(path)


def load_sweep(path: str | Path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CardsimError(f"{path}: no such file") from None
    except (ValueError, UnicodeDecodeError):
        raise CardsimError(f"{path}: not JSON (expected a cardsim log or `cardsim sweep --json` output)") from None
    if not isinstance(data, dict) or data.get("kind") != "cardsim-sweep":
        raise CardsimError(f"{path}: not a sweep result (no \"kind\": \"cardsim-sweep\")")
    return data


