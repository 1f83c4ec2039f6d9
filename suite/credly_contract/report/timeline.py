"""The exchange timeline of a client certificate: every exchange of the integration in order, one row
each, with its time offset and a bar on a shared time axis; injected answers are marked and the
exchanges behind a failure highlighted. One self-contained SVG (no script, font file or link), drawn
from the certificate's ``timeline`` entries, so `report DIR --output` redraws it from the JSON alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html import escape
from typing import Any

ROW = 18  # px per exchange
LABEL_WIDTH = 640  # px of text before the time axis
AXIS_WIDTH = 380
WIDTH = LABEL_WIDTH + AXIS_WIDTH + 20  # px of the whole picture, with a margin
TOP = 34
TARGET_CHARS = 56  # a longer path and query is cut, with an ellipsis
# An organization id in a path is shown by its first 8 characters: the rows stay short.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PHASES = {
    "clean": "run 1: nothing injected (does it do its job?)",
    "injected": "run 2: with the injections (does it survive them?)",
}
COLOURS = {"ok": "#17663a", "error": "#5f6368", "injected": "#c26a00", "failure": "#b3261e"}


def failure_exchanges(certificate: Mapping[str, Any]) -> set[int]:
    """The exchanges the evidence of a failed (or waived) requirement points at: the client's request
    and the injected answer it reacted to."""
    found: set[int] = set()
    for requirement in certificate["requirements"]:
        if requirement["status"] not in ("failed", "waived"):
            continue
        for item in requirement.get("evidence", []):
            for part in (item, item.get("reacted_to") or {}):
                if isinstance(part.get("exchange"), int):
                    found.add(part["exchange"])
    return found


def timeline_svg(certificate: Mapping[str, Any]) -> str:
    """The certificate's timeline as an inline SVG element ('' when it has none)."""
    entries: list[dict[str, Any]] = certificate.get("timeline") or []
    if not entries:
        return ""
    highlighted = failure_exchanges(certificate)
    end = max(e["at"] + e.get("took", 0.0) for e in entries) or 1.0
    rows: list[str] = []
    y = TOP
    phase = None
    for entry in entries:
        if entry.get("phase") != phase:
            phase = entry.get("phase")
            y += 6
            rows.append(
                f'<text x="4" y="{y + 12}" class="phase">{escape(PHASES.get(phase or "", phase or ""))}</text>'
            )
            y += ROW
        rows.append(_row(entry, y, end, entry["exchange"] in highlighted))
        y += ROW
    height = y + 24
    width = WIDTH
    ticks = _ticks(end, height)
    legend = (
        f'<rect x="4" y="6" width="10" height="10" fill="{COLOURS["injected"]}"/>'
        '<text x="18" y="15">injected answer</text>'
        f'<rect x="140" y="6" width="10" height="10" fill="{COLOURS["failure"]}"/>'
        '<text x="154" y="15">behind a failure (highlighted row)</text>'
        f'<rect x="390" y="6" width="10" height="10" fill="{COLOURS["ok"]}"/>'
        '<text x="404" y="15">2xx/3xx</text>'
        f'<rect x="470" y="6" width="10" height="10" fill="{COLOURS["error"]}"/>'
        '<text x="484" y="15">4xx/5xx</text>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Exchange timeline: {len(entries)} exchanges in order">'
        "<style>text{font:11px ui-monospace,Menlo,Consolas,monospace;fill:#1f2328}"
        ".phase{font-weight:bold}.failure{fill:#fde7e5}.tick{stroke:#d0d4d9}</style>"
        f"{legend}{ticks}{''.join(rows)}</svg>"
    )


def _row(entry: dict[str, Any], y: int, end: float, failure: bool) -> str:
    status = entry.get("status") or 0
    injected = entry.get("injection")
    colour = (
        COLOURS["injected"] if injected else COLOURS["ok"] if status < 400 else COLOURS["error"]
    )
    target = _UUID.sub(lambda found: found[0][:8] + "…", entry["target"])
    if len(target) > TARGET_CHARS:
        target = target[: TARGET_CHARS - 1] + "…"
    label = (
        f"#{entry['exchange']:<3} +{entry['at']:7.3f} s  {entry['method']:<6} {target}"
        f"  → {status or '—'}"
    )
    parts = []
    if failure:
        parts.append(f'<rect x="0" y="{y}" width="{WIDTH}" height="{ROW}" class="failure"/>')
    x = LABEL_WIDTH + AXIS_WIDTH * entry["at"] / end
    bar = max(2.0, AXIS_WIDTH * entry.get("took", 0.0) / end)
    weight = ' font-weight="bold"' if failure else ""
    parts.append(f'<text x="4" y="{y + 13}"{weight}>{escape(label)}</text>')
    if injected:
        parts[-1] = parts[-1].replace(
            "</text>",
            f'<tspan fill="{COLOURS["injected"]}">  injected: {escape(injected)}</tspan></text>',
        )
    parts.append(
        f'<rect x="{x:.1f}" y="{y + 4}" width="{bar:.1f}" height="{ROW - 8}" fill="{colour}">'
        f"<title>{escape(label)}</title></rect>"
    )
    return "".join(parts)


def _ticks(end: float, height: int) -> str:
    step = next(s for s in (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1e9) if end / s <= 8)
    marks = []
    t = 0.0
    while t <= end + 1e-9:
        x = LABEL_WIDTH + AXIS_WIDTH * t / end
        marks.append(
            f'<line x1="{x:.1f}" y1="{TOP - 6}" x2="{x:.1f}" y2="{height - 18}" class="tick"/>'
            f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle">{t:g} s</text>'
        )
        t += step
    return "".join(marks)


def main(argv: list[str] | None = None) -> int:
    """`python -m credly_contract.report.timeline RUN_DIR OUT.html`: the timeline of a client run alone
    on a page (docs/client-timeline.png is a screenshot of it)."""
    import json
    import sys
    from pathlib import Path

    run_dir, out = (argv if argv is not None else sys.argv[1:])[:2]
    certificate = json.loads((Path(run_dir) / "certificate.json").read_text(encoding="utf-8"))
    Path(out).write_text(
        '<!doctype html><meta charset="utf-8"><body style="margin:8px">'
        + timeline_svg(certificate)
        + "</body>\n",
        encoding="utf-8",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
