"""Print the table of every rule (docs/rules.md, between the rules-table markers) from the code.

    uv run python scripts/rules_table.py            # print the table
    uv run python scripts/rules_table.py --write    # replace the table in docs/rules.md

The values per profile come from ``backend.rules.PROFILES``; clause, reading and "applied by" from
``backend.rules_catalog.RULE_DOCS``.  tests/unit/test_rules_profiles.py fails when docs/rules.md differs.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from backend.rules_catalog import TABLE_END, TABLE_START, rules_table_markdown  # noqa: E402

DOC = ROOT / "docs" / "rules.md"


def write() -> None:
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(TABLE_START, 1)
    _old, tail = rest.split(TABLE_END, 1)
    DOC.write_text(f"{head}{TABLE_START}\n{rules_table_markdown()}{TABLE_END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    if "--write" in sys.argv[1:]:
        write()
    else:
        sys.stdout.write(rules_table_markdown())
