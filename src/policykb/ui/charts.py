"""Bar charts as plain HTML and CSS: each one element, drawn by the browser at once.

Insights used Altair (Vega-Lite) charts; a fresh Insights page then spent about 1.5 s of the
browser's time compiling Vega's 775 KB bundle and laying out four charts (BENCHMARKS.md, "UI").
Bars of counts need none of that: a list of rows whose widths are the counts, every label whole,
every number written beside its bar, and readable without the picture (each row is text).
"""

from __future__ import annotations

import html

CSS = """
.pk-bars { display: grid; grid-template-columns: minmax(6rem, max-content) 1fr; gap: .3rem .75rem;
  align-items: center; margin: 0; padding: 0; list-style: none; font-size: .9rem; }
.pk-bars li { display: contents; }
.pk-bars .pk-label { overflow-wrap: anywhere; color: #31333f; }
.pk-bars .pk-track { display: flex; align-items: center; gap: .35rem; min-width: 0; }
.pk-bars .pk-bar { display: inline-block; height: 1.1rem; background: #2563eb; border-radius: 0 3px 3px 0;
  min-width: 2px; }
.pk-bars .pk-n { color: #31333f; font-variant-numeric: tabular-nums; }
.pk-years { display: flex; align-items: flex-end; gap: 2px; height: 220px; margin: 0; padding: 0 0 1.4rem;
  list-style: none; position: relative; }
.pk-years li { flex: 1 1 0; height: 100%; display: flex; flex-direction: column; justify-content: flex-end;
  position: relative; min-width: 0; }
.pk-years .pk-bar { background: #2563eb; border-radius: 2px 2px 0 0; min-height: 0; }
.pk-bars, .pk-years { padding-left: 0 !important; margin-left: 0 !important; }
.pk-years .pk-n { font-size: .7rem; color: #31333f; text-align: center; line-height: 1.1; }
.pk-years .pk-year { position: absolute; bottom: -1.3rem; left: 50%; transform: translateX(-50%);
  font-size: .75rem; color: #555; white-space: nowrap; }
"""


def bars(rows: list[tuple[str, int]], what: str) -> str:
    """Horizontal bars, one row per (label, count), longest first as given."""
    most = max((n for _, n in rows), default=1) or 1
    items = "".join(
        f'<li><span class="pk-label">{html.escape(name)}</span><span class="pk-track">'
        f'<span class="pk-bar" style="width: {85 * n / most:.1f}%"></span><span class="pk-n">{n}</span></span></li>'
        for name, n in rows)
    return f'<ul class="pk-bars" aria-label="{html.escape(what)}">{items}</ul>'


def years(counts: dict[int, int], what: str, labels: int = 10, numbers: int = 30) -> str:
    """Vertical bars for every year of the span (a gap is a year with none); every few years labelled,
    each count written above its bar when the span has at most `numbers` years."""
    first, last = min(counts), max(counts)
    most = max(counts.values()) or 1
    step = max(1, -(-(last - first + 1) // labels))
    items = []
    for year in range(first, last + 1):
        n = counts.get(year, 0)
        tip = f"{year}: {n} item{'s' * (n != 1)}"
        mark = f'<span class="pk-year">{year}</span>' if (year - first) % step == 0 else ""
        number = f'<span class="pk-n">{n}</span>' if n and last - first < numbers else ""
        items.append(f'<li title="{tip}" aria-label="{tip}">{number}<span class="pk-bar" '
                     f'style="height: {90 * n / most:.1f}%"></span>{mark}</li>')
    return f'<ul class="pk-years" aria-label="{html.escape(what)}">{"".join(items)}</ul>'
