"""The status page: server-rendered, no external assets (these servers may have no internet), readable
on a phone, refreshed every 15 s. The header is judged from the same state as the rows below it, at
once: a target shown down, a disk not ok or a read-only folder turns it, not only a fired alert."""

from __future__ import annotations

import time
from html import escape

from common.units import format_duration
from jaga.web.health import readiness
from jaga.web.i18n import Words, choose_language
from jaga.web.source import StatusSource

CSS = """
body{font-family:system-ui,-apple-system,"DejaVu Sans",sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
header{padding:14px 18px;color:#fff;background:#1f6f43}header.bad{background:#a3261b}
h1{font-size:1.25rem;margin:0}header p{margin:4px 0 0;font-size:.9rem;opacity:.9}
main{padding:10px;max-width:1100px;margin:auto}section{background:#fff;border-radius:8px;margin:10px 0;
padding:10px 14px;box-shadow:0 1px 2px #0002}h2{font-size:1.05rem;margin:4px 0 8px}
table{width:100%;border-collapse:collapse;font-size:.92rem}th,td{text-align:left;padding:5px 6px;
border-bottom:1px solid #e3e5ea;vertical-align:top}th{color:#555;font-weight:600}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:.85rem;color:#fff}
.ok,.up{background:#1f8a4c}.warning{background:#c27c00}.failing,.critical,.down{background:#b3261e}
.unknown{background:#666}.muted{color:#666;font-size:.85rem}ul{margin:0;padding-left:18px}
.num{font-size:1.6rem;font-weight:700}.grid{display:flex;gap:18px;flex-wrap:wrap}
@media(max-width:640px){th.opt,td.opt{display:none}table{font-size:.85rem}}
"""


def render_status_page(source: StatusSource, notice: str | None = None, accept_language: str | None = None) -> str:
    """``notice``: the listener's own warning (open beyond loopback without TLS), shown first;
    ``accept_language``: the browser's, which picks the language when ``ui.language`` is auto."""
    language = choose_language(source.language, accept_language)
    t = Words(language)
    ready_code, ready = readiness(source)
    alerts = source.firing_alerts()
    attention = _attention(source, t) + [t.sentence(r) for r in ready["reasons"]]
    good = ready_code == 200 and not alerts and not attention
    parts = [
        f"<!doctype html><html lang='{language}'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<meta http-equiv='refresh' content='15'><title>{t['title']}</title><style>{CSS}</style></head><body>",
        f"<header class='{'' if good else 'bad'}' id='overall' data-state='{'ok' if good else 'attention'}'>",
        f"<h1>{t['all_good'] if good else t['attention']}</h1>",
        f"<p id='readiness'>{t['ready'] if ready_code == 200 else t['not_ready']}"
        + "".join(f" — {escape(r)}" for r in dict.fromkeys(attention)) + "</p></header><main>",
        _notice(notice, t), _alerts(alerts, t), _targets(source, t), _fleet(source, t), _intake(source, t),
        _disks(source, t),
        _filesystems(source, t),
        f"<p class='muted'>{t['updated']} {t.moment(time.time())} · {t['refresh']}</p>",
        "</main></body></html>"]
    return "".join(parts)


def _attention(source: StatusSource, t: Words) -> list[str]:
    """What the rows below show as wrong right now, in the page's words."""
    found = [t["target_down"].format(name=name) + (f": {t.sentence(s['down_reason'])}" if s["down_reason"] else "")
             for name, s in source.replication_status().items() if not s["up"]]
    found += [t["disk_bad"].format(name=d["device"], health=t.get(d["health"], d["health"]))
              for d in source.disk_summary() if d["health"] != "ok"]
    found += [t["fs_readonly"].format(path=s["path"]) for s in source.filesystem_summary() if s.get("readonly")]
    return found


def _badge(state: str, label: str) -> str:
    return f"<span class='badge {escape(state)}'>{escape(label)}</span>"


def _notice(notice: str | None, t: Words) -> str:
    if not notice:
        return ""
    return (f"<section id='exposed'><h2>{_badge('warning', t['exposed'])}</h2>"
            f"<p class='muted'>{escape(t.sentence(notice))}</p></section>")


def _alerts(alerts: list[dict], t: Words) -> str:
    if not alerts:
        return f"<section id='alerts'><h2>{t['alerts']}</h2><p>{t['no_alerts']}</p></section>"
    rows = "".join(
        f"<tr data-alert='{escape(a['alertname'])}'><td>{_badge(a['severity'], t.get(a['severity'], a['severity']))}"
        f"</td><td><b>{escape(t.alert_title(a['alertname']))}</b> — {escape(t.sentence(a['subject']))}<br>"
        f"{escape(t.sentence(a['summary']))}</td>"
        f"<td class='opt'>{t['since']} {t.day_time(a['started_at'])}</td></tr>"
        for a in alerts)
    return f"<section id='alerts'><h2>{t['alerts']} ({len(alerts)})</h2><table>{rows}</table></section>"


def _targets(source: StatusSource, t: Words) -> str:
    rows = []
    for name, s in source.replication_status().items():
        state = _badge("up", t["up"]) if s["up"] else _badge("down", t["down"]) + \
            f"<br><span class='muted'>{escape(t.sentence(s['down_reason'] or ''))}</span>"
        oldest = t.duration(format_duration(s["oldest_pending_seconds"])) if s["pending"] else "-"
        rows.append(f"<tr data-target='{escape(name)}' data-up='{str(s['up']).lower()}'><td><b>{escape(name)}</b></td>"
                    f"<td>{state}</td><td data-pending>{s['pending']}</td><td>{oldest}</td>"
                    f"<td class='opt'>{_scrub(source, name, t)}</td></tr>")
    head = (f"<tr><th>{t['target']}</th><th>{t['state']}</th><th>{t['pending']}</th><th>{t['oldest']}</th>"
            f"<th class='opt'>{t['last_scrub']}</th></tr>")
    return f"<section id='targets'><h2>{t['targets']}</h2><table>{head}{''.join(rows)}</table></section>"


def _fleet(source: StatusSource, t: Words) -> str:
    """The servers sharing the journal, when there are several: a silent one replicates nothing."""
    nodes = source.fleet_summary()
    if len(nodes) < 2:
        return ""
    badge = {"running": ("up", "running"), "silent": ("down", "silent"), "stopped": ("unknown", "stopped")}
    rows = "".join(
        f"<tr data-node='{escape(n['name'])}' data-state='{escape(n['state'])}'><td><b>{escape(n['name'])}</b>"
        f"<br><span class='muted'>{escape(n['host'])}</span></td><td>{_badge(badge[n['state']][0], t[badge[n['state']][1]])}"
        f"</td><td>{t.duration(format_duration(n['heartbeat_age_seconds']))}</td><td>{n['backlog']}</td></tr>"
        for n in nodes)
    head = f"<tr><th>{t['node']}</th><th>{t['state']}</th><th>{t['heartbeat']}</th><th>{t['pending']}</th></tr>"
    return f"<section id='fleet'><h2>{t['fleet']}</h2><table>{head}{rows}</table></section>"


def _scrub(source: StatusSource, name: str, t: Words) -> str:
    run = source.last_scrub(name)
    if run is None:
        return t["never"]
    damage = f" {_badge('failing', t['damage'])}" if run.damaged else ""
    return f"{t.day_time(run.finished_at)} ({run.checked}){damage}"


def _intake(source: StatusSource, t: Words) -> str:
    today, week = source.intake_summary()
    cells = "".join(
        f"<div><div class='muted'>{label}</div><div class='num' id='intake-{key}'>{files}</div>"
        f"<div class='muted'>{t['files']} · {safe} {t['safe']}</div></div>"
        for key, label, (files, safe) in (("today", t["today"], today), ("week", t["week"], week)))
    return f"<section id='intake'><h2>{t['intake']}</h2><div class='grid'>{cells}</div></section>"


def _disks(source: StatusSource, t: Words) -> str:
    disks = source.disk_summary()
    gaps = _coverage(source, t)
    if not disks:
        known = source.coverage_summary()
        empty = "" if known else f"<p class='muted'>{t['smart_pending']}</p>"
        return f"<section id='disks'><h2>{t['disks']}</h2>{empty}{gaps}</section>"
    rows = "".join(
        f"<tr data-disk='{escape(d['device'])}' data-health='{escape(d['health'])}'><td><b>{escape(d['device'])}</b>"
        f"<br><span class='muted'>{escape(d.get('model') or '')}</span></td>"
        f"<td>{_badge(d['health'], t.get(d['health'], d['health']))}</td>"
        f"<td class='opt'>{'' if d.get('temperature_c') is None else str(d['temperature_c']) + ' °C'}</td>"
        f"<td><ul>{''.join(f'<li>{escape(t.sentence(r))}</li>' for r in d.get('reasons') or [])}</ul></td></tr>"
        for d in disks)
    head = (f"<tr><th>{t['device']}</th><th>{t['health']}</th><th class='opt'>{t['temperature']}</th>"
            f"<th>{t['reasons']}</th></tr>")
    return f"<section id='disks'><h2>{t['disks']}</h2><table>{head}{rows}</table>{gaps}</section>"


def _coverage(source: StatusSource, t: Words) -> str:
    """Folders whose disk SMART does not watch, and why: on a VM, every one of them."""
    gaps = [item for item in source.coverage_summary() if not item["covered"]]
    if not gaps:
        return ""
    items = "".join(f"<li data-coverage='{escape(item['reason'])}'><b>{escape(item['path'])}</b> "
                    f"<span class='muted'>({escape(item['label'])})</span>: {escape(t.coverage(item))}</li>"
                    for item in gaps)
    return (f"<div id='smart-coverage'><h3>{_badge('unknown', t['coverage'])}</h3><p>{t['coverage_intro']}</p>"
            f"<ul>{items}</ul></div>")


def _filesystems(source: StatusSource, t: Words) -> str:
    stats = source.filesystem_summary()
    rows = "".join(f"<tr><td>{escape(str(s['path']))}</td><td>{_space(s, t)}</td></tr>" for s in stats)
    return f"<section id='filesystems'><h2>{t['filesystems']}</h2><table>{rows}</table></section>"


def _space(stat: dict, t: Words) -> str:
    free = "-" if stat.get("free_ratio") is None else f"{stat['free_ratio']:.0%}"
    readonly = " · " + _badge("failing", t["readonly"]) if stat.get("readonly") else ""
    return f"{free} {t['free']}{readonly}"
