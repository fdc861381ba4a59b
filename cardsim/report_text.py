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
