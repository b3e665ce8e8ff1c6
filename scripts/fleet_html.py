"""The fleet audit's merged report as one self-contained HTML page (scripts/fleet_audit.py)."""

import html


def fmt(v, nd=3):
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def render_html(report):
    e = html.escape
    t = report["totals"]
    cols = ["bag", "verdict", "worst horizon ms", "published / best baseline", "model losing s",
            "coverage min", "motif Brier skill", "link run / fallback / stop s", "unplaced", "unusable",
            "messages", "error"]
    out = ["<!doctype html><html><head><meta charset='utf-8'><title>a4mer fleet audit</title>",
           "<style>body{font:14px sans-serif;margin:1.5em}table{border-collapse:collapse}"
           "td,th{border:1px solid #bbb;padding:3px 6px;vertical-align:top}th{background:#eee}"
           ".error,.stopped_early{background:#f6c6c6}.model_losing{background:#f8e0a8}"
           ".unscored{background:#e4e4e4}.pass{background:#d3efd3}pre{margin:0;white-space:pre-wrap;max-width:40em}"
           "</style></head><body><h1>a4mer fleet audit</h1>"]
    out.append(f"<p>{t['bags']} bags from {t['robots']} robots; "
               + ", ".join(f"{k}: {v}" for k, v in t["verdicts"].items())
               + f". {t['messages']} messages, {fmt(t['duration_s'], 1)} s of bag time, model losing "
               f"{fmt(t['model_losing_s'], 1)} s, {t['unplaced_messages']} unplaced and "
               f"{t['unusable_messages']} unusable messages. Worst first.</p>")
    out.append("<h2>Robots</h2><table><tr><th>robot</th><th>params sha256</th><th>model</th><th>replay args</th>"
               "<th>error</th></tr>")
    for r in report["robots"]:
        out.append(f"<tr><td>{e(r['robot'])}</td><td><code>{e(fmt(r['params_sha256']))[:16]}</code></td>"
                   f"<td>{e(fmt(r['model']))}</td><td><code>{e(' '.join(r['args']))}</code></td>"
                   f"<td>{e(fmt(r['error']))}</td></tr>")
    out.append("</table><h2>Bags</h2><table><tr>" + "".join(f"<th>{e(c)}</th>" for c in cols) + "</tr>")
    for b in report["bags"]:
        link = b.get("link")
        link_s = "–" if not link else " / ".join(
            fmt(link[k], 1) for k in ("seconds_run", "seconds_fallback", "seconds_protective_stop"))
        cells = [e(b["bag"]), e(b["verdict"]), fmt(b.get("worst_horizon_ms")),
                 fmt(b.get("worst_published_over_best_baseline")), fmt(b.get("model_losing_s"), 2),
                 fmt(b.get("coverage_min")), fmt(b.get("motif_brier_skill")), link_s,
                 fmt(b.get("unplaced_messages")), fmt(b.get("unusable_messages")), fmt(b.get("messages")),
                 f"<pre>{e(b['error'])}</pre>" if b.get("error") else ""]
        out.append(f"<tr class='{e(b['verdict'])}'>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    out.append("</table></body></html>\n")
    return "\n".join(out)
