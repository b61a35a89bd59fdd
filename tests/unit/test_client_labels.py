"""Issue 12 (literals): the Chinese of codes lives once, in backend/vocabulary.py.  A page whose script shows
codes (the supervisor's live map) embeds the label maps as JSON; no script under pwa/static keeps its own copy."""

from __future__ import annotations

import re
from pathlib import Path

from backend.vocabulary import SOURCE_ZH, VERDICT_ZH, Source, labels_of

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(p for p in (ROOT / "pwa" / "static").rglob("*.js") if "vendor" not in p.parts)


def test_labels_of_gives_the_vocabulary_maps_by_enum_name():
    got = labels_of("PunchVerdict", "Source")
    assert got == {"PunchVerdict": dict(VERDICT_ZH), "Source": dict(SOURCE_ZH)}
    assert all(type(k) is str for m in got.values() for k in m)  # plain JSON keys, not enum members
    assert got["Source"][Source.makeup] == "补卡"


def test_no_script_keeps_its_own_chinese_map_of_verdicts_or_sources():
    """A JS object literal mapping a verdict or source code to Chinese is a second copy of the vocabulary."""
    codes = "|".join(re.escape(c) for c in (*VERDICT_ZH, *SOURCE_ZH))
    pair = re.compile(rf"""\b(?:{codes})\s*:\s*['"][^'"]*[\u4e00-\u9fff]""")
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in SCRIPTS
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if pair.search(line)]
    assert offenders == []


def test_the_live_map_page_embeds_the_labels_its_script_reads():
    page = (ROOT / "pwa" / "templates" / "supervision" / "map.html").read_text(encoding="utf-8")
    script = (ROOT / "pwa" / "static" / "js" / "supervision.js").read_text(encoding="utf-8")
    # Reason: the live feed's line names a rejected punch's reasons (issue 19 §8)
    assert ('<script type="application/json" id="sup-labels">{{ labels_of("PunchVerdict", "Source", "Reason") '
            '| tojson }}') in page
    assert "getElementById('sup-labels')" in script
    assert {m.group(1) for m in re.finditer(r"label\('(\w+)'", script)} <= {"PunchVerdict", "Source", "Reason"}


def test_map_tooltips_escape_what_users_typed() -> None:
    """Leaflet tooltips take HTML: project, fence, vendor and person names go through esc() (a vendor named
    '<img onerror=…>' ran script in a supervisor's browser)."""
    script = (ROOT / "pwa/static/js/supervision.js").read_text(encoding="utf-8")
    calls = re.findall(r"bindTooltip\((.*)\);", script)
    assert calls and all(c.startswith(("esc(", "projectTooltip(")) for c in calls), calls
    assert "return esc(p.name" in script
    assert "'<span>' + esc(p.name) + '</span>'" in script  # the always-shown project label (a divIcon) too
