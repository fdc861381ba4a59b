"""The page every HTML report is made of: escaping, charts as inline SVG, the style sheet, the
browser check script and tables (``cardsim.reports.html``, ``cardsim.reports.sweep_html``)."""

from __future__ import annotations

import html
import io

from cardsim.reports.text import inert


def _esc(value: object) -> str:
    """``value`` as HTML text: control and format characters shown as escapes (:func:`inert`: no
    bidi override or raw control reaches the page), then HTML-escaped."""
    return html.escape(inert(value))


def _plt():
    """matplotlib's pyplot, set up for reports.

    Imported here, not at the top: ``import matplotlib.pyplot`` takes about a second (measured
    with ``python -X importtime``) and only writing a report needs it, not ``import cardsim``.
    """
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams.update({"svg.hashsalt": "cardsim", "figure.dpi": 96, "font.size": 9,
                                "axes.spines.top": False, "axes.spines.right": False,
                                "text.parse_math": False, "text.usetex": False})
    import matplotlib.pyplot as plt
    return plt


def _svg(fig) -> str:
    """The figure as inline SVG (the figure is closed)."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    _plt().close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _chart(title: str, svg: str, note: str = "") -> str:
    return (f'<figure class="chart" data-chart="{_esc(title)}"><figcaption>'
            f"{_esc(title)}</figcaption>{svg}"
            + (f'<p class="note">{_esc(note)}</p>' if note else "") + "</figure>")


_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px;margin:8px 0;display:block;overflow-x:auto;max-width:100%}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}td{white-space:nowrap}.meta{color:#555;font-size:13px}
figure.chart{margin:16px 0;padding:8px;border:1px solid #eee}figcaption{font-weight:600;margin-bottom:6px}
figure.chart svg{max-width:100%;height:auto}.note{color:#666;font-size:12px}
.label{font-size:13px;padding:4px 8px;border-left:4px solid}.verified{border-color:#9bbb59;background:#f3f8ea}
.unverified{border-color:#f79646;background:#fdf3ea}.warning{color:#9c2a00;font-weight:600;font-size:13px}
.verdict{font-size:17px;font-weight:700;padding:8px 12px;border-left:6px solid}.verdict.pass{border-color:#2e7d32;background:#eef7ee}
.verdict.fail{border-color:#c62828;background:#fbeeee}.pass{color:#2e7d32;font-weight:600}.fail{color:#c62828;font-weight:600}
.grid{display:flex;flex-wrap:wrap;gap:8px}.grid figure.chart{flex:1 1 480px;margin:4px 0}
"""

_CHECK = """<script>
window.cardsimErrors=[];window.addEventListener('error',function(e){window.cardsimErrors.push(String(e.message))});
window.addEventListener('load',function(){var ok=0,figs=document.querySelectorAll('figure.chart');
figs.forEach(function(f){var s=f.querySelector('svg');var r=s?s.getBoundingClientRect():{width:0,height:0};
var v=!!s&&r.width>50&&r.height>50&&getComputedStyle(f).visibility!=='hidden'&&getComputedStyle(f).display!=='none';
f.setAttribute('data-rendered',v?(Math.round(r.width)+'x'+Math.round(r.height)):'no');if(v)ok++;});
document.body.setAttribute('data-charts',figs.length);document.body.setAttribute('data-visible',ok);
document.body.setAttribute('data-errors',window.cardsimErrors.length);});
</script>"""


def _page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}'
            f"</title><style>{_STYLE}</style></head><body>{body}{_CHECK}</body></html>\n")


def _table(headers, rows) -> str:
    h = "".join(f"<th>{_esc(str(x))}</th>" for x in headers)
    b = "".join("<tr>" + "".join(f"<td>{_esc(str(x))}</td>" for x in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{b}</tbody></table>"
