"""Text renderings of check reports (verify, replay) for the terminal."""

from __future__ import annotations


def render_verify(out: dict, console, max_findings: int = 20) -> None:
    from rich.table import Table

    status = "[green]OK[/green]" if out["ok"] else "[red]FAILED[/red]"
    console.print(f"[bold]verify[/bold] {out['log']}: {out['records']:,} records, "
                  f"{out['failures']:,} failures  {status}")
    if not out["signed"]:
        console.print("the log is unsigned (written with --no-sign): nothing can be verified")
    t = Table(title="Checks", title_justify="left")
    for col in ("check", "passed", "failed"):
        t.add_column(col, justify="left" if col == "check" else "right")
    for name, c in out["checks"].items():
        t.add_row(name, f"{c['passed']:,}", f"[red]{c['failed']:,}[/red]" if c["failed"] else "0")
    console.print(t)
    findings = out["findings"][:max_findings]
    if findings:
        t = Table(title=f"Findings (first {len(findings)} of {out['failures']:,})", title_justify="left")
        for col in ("seq", "tx_id", "check", "reason"):
            t.add_column(col)
        for f in findings:
            t.add_row(str(f["seq"] or "-"), f["tx_id"] or "-", f["check"], f["reason"])
        console.print(t)
    gt = out.get("ground_truth")
    if gt:
        t = Table(title="Injected attacks against findings", title_justify="left")
        for col in ("attack", "injected", "detected"):
            t.add_column(col, justify="left" if col == "attack" else "right")
        for kind, c in gt["by_attack"].items():
            t.add_row(kind, str(c["injected"]), str(c["detected"]))
        console.print(t)
        console.print(f"false positives: {gt['false_positives']}")


def render_replay(out: dict, console, max_divergences: int = 20) -> None:
    from rich.table import Table

    status = "[green]no divergences[/green]" if not out["diverged"] else f"[red]{out['diverged']:,} divergences[/red]"
    console.print(f"[bold]replay[/bold] {out['log']} under {out['scenario']} against "
                  f"{'+'.join(out['against'])}: {out['replayed']:,} of {out['records']:,} records replayed "
                  f"({out['records_per_second'] or 0:,.0f}/s), {status}"
                  + ("" if out["signatures_checked"] else " (signatures not checked)"))
    if out["diverged"]:
        t = Table(title="Divergences", title_justify="left")
        t.add_column("by")
        t.add_column("count", justify="right")
        for k, v in out["by_kind"].items():
            t.add_row(f"kind {k}", f"{v:,}")
        for k, v in out["by_node"].items():
            t.add_row(f"node {k}", f"{v:,}")
        for k, v in out["replayed_reasons"].items():
            t.add_row(f"replayed reason {k}", f"{v:,}")
        console.print(t)
        rows = out["divergences"][:max_divergences]
        t = Table(title=f"First {len(rows)} divergences", title_justify="left")
        for col in ("seq", "tx_id", "kind", "node", "recorded", "replayed"):
            t.add_column(col)
        for d in rows:
            r, p = d["recorded"], d["replayed"]
            t.add_row(str(d["seq"]), d["tx_id"], d["kind"], d["node"],
                      f"{r['outcome']} {r['reason'] or ''} {r['charged_fen']}",
                      f"{p['outcome']} {p['reason'] or ''} {p['charged_fen']}")
        console.print(t)


def render_sweep(result: dict, console) -> None:
    from rich.table import Table

    from cardsim.planning.sweep import TABLE_METRICS
    console.print(f"[bold]sweep[/bold] {result['scenario']}: {len(result['combinations'])} "
                  f"combinations x {result['replications']} replications = {result['runs']} runs "
                  f"in {result['wall_seconds']:.1f} s (base seed {result['base_seed']}); mean ± 95% CI")
    keys = list(result["swept"])
    for i, k in enumerate(keys):
        console.print(f"  [{chr(65 + i)}] {k}")
    t = Table(title_justify="left")
    t.add_column("metric")
    for combo in result["combinations"]:
        label = " ".join(f"{chr(65 + i)}={combo['set'][k]}" for i, k in enumerate(keys)) or "base"
        t.add_column(label, justify="right")
    for m in TABLE_METRICS:
        cells = [m]
        for combo in result["combinations"]:
            s = combo["metrics"][m]
            half = (s["ci_high"] - s["ci_low"]) / 2
            cells.append(f"{s['mean']:.4g} ± {half:.2g}")
        t.add_row(*cells)
    console.print(t)
    failed = [(combo["set"], c) for combo in result["combinations"] for c in combo["thresholds"]]
    if failed:
        t = Table(title="Thresholds (tested on the CI bound)", title_justify="left")
        for col in ("combination", "metric", "threshold", "bound", "result"):
            t.add_column(col)
        for s, c in failed:
            t.add_row(", ".join(f"{k}={v}" for k, v in s.items()) or "-", c["metric"],
                      f"{c['op']} {c['limit']:g}", f"{c['value']:g}",
                      "[green]pass[/green]" if c["passed"] else "[red]FAIL[/red]")
        console.print(t)
