"""Generates the reference docs from the code: ``docs/cli.md`` from the Typer app and
``docs/scenarios.md`` from the schema. ``tests/test_docs.py`` fails when the files drift.

Run ``python -m cardsim.cli.docgen`` (``make docs``) after changing a command, an option or a key.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from cardsim.cli.app import app
from cardsim.config import schema
from cardsim.config.metrics import plain_metric_names

ROOT = Path(__file__).resolve().parents[2]


def _fmt_default(key: schema.Key) -> str:
    d = key.default
    if isinstance(d, dict) and key.kind not in ("distribution", "points"):
        return ", ".join(f"{p}: {_fmt(v)}" for p, v in d.items())
    return _fmt(d)


def _fmt(v) -> str:
    """A default value as TOML shows it (long lists abbreviated)."""
    for kind, show in _FORMATS:
        if isinstance(v, kind):
            return show(v)
    return str(v)


def _fmt_list(v: list) -> str:
    if len(v) > 8:
        return "[" + ", ".join(_fmt(x) for x in v[:6]) + ", … ]" + f" ({len(v)} items)"
    return "[" + ", ".join(_fmt(x) for x in v) + "]"


#: (type, formatter), bool before int (a bool is an int).
_FORMATS = (
    (bool, lambda v: "true" if v else "false"),
    (dict, lambda v: "{ " + ", ".join(f"{k} = {_fmt(x)}" for k, x in v.items()) + " }"),
    (list, _fmt_list),
    (str, lambda v: f'"{v}"'),
    (float, lambda v: f"{v:g}"),
    (int, lambda v: f"{v:_}" if abs(v) >= 10_000 else str(v)),
)


def _bounds(key: schema.Key) -> str:
    if key.choices:
        return " \\| ".join(f"`{c}`" for c in key.choices)
    parts = []
    if key.min is not None:
        parts.append(f">= {key.min:g}")
    if key.max is not None:
        parts.append(f"<= {key.max:g}")
    if key.length is not None:
        parts.append(f"{key.length} items")
    return ", ".join(parts)


def scenarios_md() -> str:
    out = [
        "# Scenario keys",
        "",
        "Generated from `cardsim/config/schema.py` by `make docs`; do not edit by hand.",
        "",
        "A scenario is a TOML file. Every key is optional and falls back to the default below;",
        "an unknown key, a value of the wrong type or out of bounds is an error naming the file",
        "and the key (exit code 2). `--set key.path=value` overrides any key (and any field of a",
        "distribution, e.g. `--set provinces.sichuan.metro.service_time.mean=3`) and is validated",
        "the same way. `--scale F` multiplies the keys marked *scales* (population and demand).",
        "",
        "Keys under `provinces.<province>` exist for both `sichuan` and `chongqing`.",
        "",
        "Distributions are inline tables: "
        + ", ".join(f"`{{ dist = \"{k}\", {', '.join(f'{f} = …' for f in sorted(r))} }}`"
                    for k, (r, _o) in schema.DISTRIBUTION_KINDS.items())
        + " (mean and cv = standard deviation / mean).",
        "",
    ]
    section = None
    for key in schema.KEYS:
        top = key.path.split(".")[0]
        sub = ".".join(key.path.split(".")[:-1])
        if sub != section:
            section = sub
            out += ["", f"## `[{sub}]`", "", "| key | type | unit | default | bounds | meaning |",
                    "|---|---|---|---|---|---|"]
        name = key.path.split(".")[-1]
        note = " *(scales)*" if key.scales else ""
        out.append(f"| `{name}` | {key.kind} | {key.unit} | {_fmt_default(key)} | {_bounds(key)} "
                   f"| {key.help}{note} |")
        del top
    out += ["", "## `[thresholds]`", "",
            "Optional. Each entry is a metric name (quoted, it has dots) and a condition: "
            '`"wait.metro.p95" = "< 20"`, with `<`, `<=`, `>` or `>=` and a number. `cardsim run` '
            "checks each against the run's summary; `cardsim sweep` against the 95% confidence "
            "interval's upper bound (for `<`, `<=`) or lower bound (for `>`, `>=`). Either exits 1 "
            "when one fails. An unknown metric name, or a point the scenario does not have, is "
            "an error when the scenario is loaded. `--threshold 'METRIC<OP>N'` on the command "
            "line adds one.",
            "", "Service point metrics, per type, province and named point, for the day, the "
            "peak hour or a clock window: `<family>.<scope>[.<period>][.<stat>]`, e.g. "
            "`wait.chongqing.scenic_gate.p95`, `wait.chongqing.scenic_gate.peak.p95`, "
            "`utilisation.sichuan.metro.chunxi_road.max_hour`, "
            "`throughput.bus.07:00-09:00` (the grammar and the units: "
            "[summary.md](summary.md#metric-names)).",
            "", "The other metric names (units: seconds for latencies, per hour for throughput, "
            "shares for rates and utilisation, fen or yuan as named):", "",
            ", ".join(f"`{m}`" for m in plain_metric_names())]
    return "\n".join(out) + "\n"


def _commands(group, prefix: str = ""):
    """(full name, command) of every command under ``group``, subcommands included."""
    for name, cmd in sorted(group.commands.items()):
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", cmd


def _option_row(o) -> str:
    flags = ", ".join(f"`{x}`" for x in o.opts + o.secondary_opts)
    if o.metavar:
        flags += f" `{o.metavar}`"
    default = "" if o.default in (None, False, ()) or o.is_flag else f"`{o.default}`"
    return f"| {flags} | {o.help or ''} | {default} |"


def _command_md(name: str, cmd) -> list[str]:
    args = [p for p in cmd.params if p.param_type_name == "argument"]
    opts = [p for p in cmd.params if p.param_type_name == "option"]
    usage = " ".join([f"cardsim {name}"] + [a.name.upper() for a in args]
                     + (["[OPTIONS]"] if opts else []))
    out = [f"## `cardsim {name}`", "", "```", usage, "```", "", (cmd.help or "").strip(), ""]
    return out + _params_table(args, opts) + [""]


def _params_table(args: list, opts: list) -> list[str]:
    if not (args or opts):
        return []
    rows = [f"| `{a.name.upper()}` | {getattr(a, 'help', '') or ''} | required |" for a in args]
    return ["| argument / option | meaning | default |", "|---|---|---|", *rows,
            *(_option_row(o) for o in opts)]


def cli_md() -> str:
    out = ["# Command-line reference", "",
           "Generated from the Typer app in `cardsim/cli/app.py` by `make docs`; do not edit by hand.",
           "", "Exit codes: 0 ok; 1 the check found problems (verification failures, replay "
           "divergences, threshold breaches); 2 bad input (one line on stderr).", "",
           "Text reports fit the terminal's width (80 columns in a pipe) and never cut a name or "
           "a number: a long name (a metric, a terminal) folds onto the next line inside its "
           "cell, numbers never wrap, and a sweep with more combinations than fit side by side "
           "prints several tables, each combination numbered (`#1`) and named in full above "
           "them. `--json` (and a sweep's `--csv`) hold every name and value in full.", "",
           "Shell completion: `cardsim --install-completion` (or `--show-completion` to print "
           "the script); `cardsim --version` prints the version.", ""]
    for name, cmd in _commands(typer.main.get_command(app)):
        out += _command_md(name, cmd)
    return "\n".join(out) + "\n"


DOCS = {"docs/scenarios.md": scenarios_md, "docs/cli.md": cli_md}


def main() -> int:
    for rel, fn in DOCS.items():
        (ROOT / rel).write_text(fn(), encoding="utf-8")
        print(f"wrote {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
