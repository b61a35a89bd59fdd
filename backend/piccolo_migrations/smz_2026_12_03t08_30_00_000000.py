"""The roster's version, kept by the database (issue 18): ``roster_version(project, version)`` and triggers on both
engines that move a project's version whenever something the roster API shows or filters on changes — whoever
writes it (the app, another process, ``smz`` commands, an import, raw SQL).  ``workforce.services`` caches each
roster read under the version it read first and serves it again only while the version is unchanged
(docs/deployment.md).

What moves a project's version (the columns of ``workforce.services._ROSTER_SQL``):

- ``roster_entry``: INSERT, DELETE, and UPDATE of id, person, project, unit, team, work_role, post, work_type,
  entered_on, exited_on when a value really changes (``exit_note`` and ``created_at`` are not shown: no move) —
  a move to another project moves both projects;
- ``person``: UPDATE of name, id_masked, gender (really changed): every project the person has a roster entry on;
- ``team``: UPDATE of name or project (really changed) and DELETE: the team's project (old and new).  Entries
  are on their team's project (``workforce.services.enter_roster``), so ``team.project`` names the rosters that
  show the team's name without a scan of ``roster_entry`` (which has no index on ``team``);
- PostgreSQL: TRUNCATE of ``roster_entry``: every project's version (SQLite has no TRUNCATE).

A version never repeats for a project, even after a restore or a TRUNCATE: a move sets it to
``max(version + 1, now in microseconds since 1970)``, so a cache entry of a database's earlier life is never taken
for the current one.  No row: version 0 (the roster was never written since this migration, or is empty).

PostgreSQL: one SQL function does the upsert (``smz_roster_bump(int[])``: the projects in order, so two
transactions moving the same projects lock their rows in the same order); INSERT and DELETE on ``roster_entry``
are statement triggers over their transition tables (a 5,000-row import moves its project once), the UPDATE
triggers are row triggers with a column list and a ``WHEN (OLD.x IS DISTINCT FROM NEW.x …)``.
SQLite: row triggers (``CREATE TRIGGER … WHEN … BEGIN … END``), each an ``INSERT … ON CONFLICT DO UPDATE``.

Backwards: triggers, functions and the table dropped."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder
from piccolo.engine.postgres import PostgresEngine
from piccolo.table import Table

ID = "2026-12-03T08:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "roster_version kept by triggers (the roster cache's version)"

ENTRY_COLUMNS = ("id", "person", "project", "unit", "team", "work_role", "post", "work_type", "entered_on",
                 "exited_on")
PERSON_COLUMNS = ("name", "id_masked", "gender")
TEAM_COLUMNS = ("name", "project")

#: (table, trigger) of every trigger this migration makes — ``workforce.services`` checks they are all there.
TRIGGERS = (("roster_entry", "roster_version_entry_insert"), ("roster_entry", "roster_version_entry_delete"),
            ("roster_entry", "roster_version_entry_update"), ("person", "roster_version_person"),
            ("team", "roster_version_team_update"), ("team", "roster_version_team_delete"))
#: PostgreSQL only: TRUNCATE (SQLite has none — its DELETE without WHERE fires the row triggers).
PG_TRIGGERS = (("roster_entry", "roster_version_entry_truncate"),)


class _Raw(Table, tablename="roster_version"):
    pass


async def _run(sql: str) -> None:
    await _Raw.raw(sql)


def _on_postgres() -> bool:
    return isinstance(engine_finder(), PostgresEngine)


def _changed(columns: tuple[str, ...], differ: str) -> str:
    return " OR ".join(f"OLD.{c} {differ} NEW.{c}" for c in columns)


# --- PostgreSQL -----------------------------------------------------------------------------------------------

_PG_BUMP = """
CREATE OR REPLACE FUNCTION smz_roster_bump(projects integer[]) RETURNS void LANGUAGE sql AS $fn$
    INSERT INTO roster_version AS v (project, version)
    SELECT p, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
    FROM (SELECT DISTINCT unnest(projects) AS p) AS s WHERE p IS NOT NULL ORDER BY p
    ON CONFLICT (project) DO UPDATE SET version = GREATEST(v.version + 1, EXCLUDED.version)
$fn$"""

_PG_FUNCTIONS = {
    "smz_roster_entry_inserted": "PERFORM smz_roster_bump(ARRAY(SELECT project FROM new_rows));",
    "smz_roster_entry_deleted": "PERFORM smz_roster_bump(ARRAY(SELECT project FROM old_rows));",
    "smz_roster_entry_updated": "PERFORM smz_roster_bump(ARRAY[OLD.project, NEW.project]);",
    "smz_roster_person_updated": "PERFORM smz_roster_bump(ARRAY(SELECT project FROM roster_entry "
                                 "WHERE person = NEW.id));",
    "smz_roster_team_changed": "IF TG_OP = 'DELETE' THEN PERFORM smz_roster_bump(ARRAY[OLD.project]); "
                               "ELSE PERFORM smz_roster_bump(ARRAY[OLD.project, NEW.project]); END IF;",
    # which projects a TRUNCATE emptied is not known: every roster's version moves
    "smz_roster_entry_truncated": "PERFORM smz_roster_bump(ARRAY(SELECT project FROM roster_version));",
}

_PG_TRIGGERS = (
    "CREATE TRIGGER roster_version_entry_insert AFTER INSERT ON roster_entry REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION smz_roster_entry_inserted()",
    "CREATE TRIGGER roster_version_entry_delete AFTER DELETE ON roster_entry REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION smz_roster_entry_deleted()",
    f"CREATE TRIGGER roster_version_entry_update AFTER UPDATE OF {', '.join(ENTRY_COLUMNS)} ON roster_entry "
    f"FOR EACH ROW WHEN ({_changed(ENTRY_COLUMNS, 'IS DISTINCT FROM')}) "
    "EXECUTE FUNCTION smz_roster_entry_updated()",
    f"CREATE TRIGGER roster_version_person AFTER UPDATE OF {', '.join(PERSON_COLUMNS)} ON person "
    f"FOR EACH ROW WHEN ({_changed(PERSON_COLUMNS, 'IS DISTINCT FROM')}) "
    "EXECUTE FUNCTION smz_roster_person_updated()",
    f"CREATE TRIGGER roster_version_team_update AFTER UPDATE OF {', '.join(TEAM_COLUMNS)} ON team "
    f"FOR EACH ROW WHEN ({_changed(TEAM_COLUMNS, 'IS DISTINCT FROM')}) EXECUTE FUNCTION smz_roster_team_changed()",
    "CREATE TRIGGER roster_version_team_delete AFTER DELETE ON team FOR EACH ROW "
    "EXECUTE FUNCTION smz_roster_team_changed()",
    "CREATE TRIGGER roster_version_entry_truncate AFTER TRUNCATE ON roster_entry FOR EACH STATEMENT "
    "EXECUTE FUNCTION smz_roster_entry_truncated()",
)


# --- SQLite ---------------------------------------------------------------------------------------------------

_SQLITE_NOW_US = "CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)"
_SQLITE_UPSERT = ("ON CONFLICT (project) DO UPDATE SET version = MAX(roster_version.version + 1, "
                  "excluded.version)")


def _sqlite_bump(project: str, where: str = "true") -> str:
    return (f"INSERT INTO roster_version (project, version) SELECT {project}, {_SQLITE_NOW_US} WHERE {where} "
            f"{_SQLITE_UPSERT};")


_SQLITE_TRIGGERS = (
    f"CREATE TRIGGER roster_version_entry_insert AFTER INSERT ON roster_entry BEGIN {_sqlite_bump('NEW.project')} "
    "END",
    f"CREATE TRIGGER roster_version_entry_delete AFTER DELETE ON roster_entry BEGIN {_sqlite_bump('OLD.project')} "
    "END",
    f"CREATE TRIGGER roster_version_entry_update AFTER UPDATE OF {', '.join(ENTRY_COLUMNS)} ON roster_entry "
    f"WHEN {_changed(ENTRY_COLUMNS, 'IS NOT')} BEGIN {_sqlite_bump('OLD.project')} "
    f"{_sqlite_bump('NEW.project', 'NEW.project IS NOT OLD.project')} END",
    f"CREATE TRIGGER roster_version_person AFTER UPDATE OF {', '.join(PERSON_COLUMNS)} ON person "
    f"WHEN {_changed(PERSON_COLUMNS, 'IS NOT')} BEGIN "
    f"INSERT INTO roster_version (project, version) SELECT p, {_SQLITE_NOW_US} FROM "
    f"(SELECT DISTINCT project AS p FROM roster_entry WHERE person = NEW.id) WHERE true {_SQLITE_UPSERT}; END",
    f"CREATE TRIGGER roster_version_team_update AFTER UPDATE OF {', '.join(TEAM_COLUMNS)} ON team "
    f"WHEN {_changed(TEAM_COLUMNS, 'IS NOT')} BEGIN {_sqlite_bump('OLD.project')} "
    f"{_sqlite_bump('NEW.project', 'NEW.project IS NOT OLD.project')} END",
    f"CREATE TRIGGER roster_version_team_delete AFTER DELETE ON team BEGIN {_sqlite_bump('OLD.project')} END",
)


async def add_version() -> None:
    await _run("CREATE TABLE roster_version (project integer PRIMARY KEY, version bigint NOT NULL)")
    if _on_postgres():
        await _run(_PG_BUMP)
        for name, body in _PG_FUNCTIONS.items():
            await _run(f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $fn$ "
                       f"BEGIN {body} RETURN NULL; END $fn$")
        for sql in _PG_TRIGGERS:
            await _run(sql)
        now = "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint"
    else:
        for sql in _SQLITE_TRIGGERS:
            await _run(sql)
        now = _SQLITE_NOW_US
    # the rosters that exist already: a version of their own (a process that cached them before is restarted
    # to migrate, but a version above 0 costs nothing)
    await _run(f"INSERT INTO roster_version (project, version) SELECT p, {now} "
               "FROM (SELECT DISTINCT project AS p FROM roster_entry) AS s")


async def drop_version() -> None:
    for table, trigger in TRIGGERS + (PG_TRIGGERS if _on_postgres() else ()):
        await _run(f"DROP TRIGGER IF EXISTS {trigger}" + (f" ON {table}" if _on_postgres() else ""))
    if _on_postgres():
        for name in _PG_FUNCTIONS:
            await _run(f"DROP FUNCTION IF EXISTS {name}()")
        await _run("DROP FUNCTION IF EXISTS smz_roster_bump(integer[])")
    await _run("DROP TABLE IF EXISTS roster_version")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="smz", description=DESCRIPTION)
    manager.add_raw(add_version)
    manager.add_raw_backwards(drop_version)
    return manager
