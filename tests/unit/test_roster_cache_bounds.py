"""The roster cache (``workforce.services.RosterCache``, issue 18) stays bounded — in shapes kept and in rows held —
and answers only for the version an entry was read at."""

from __future__ import annotations

from backend.workforce.services import RosterCache, RosterKey, RosterSnapshot


def key(project: int, teams: tuple[int, ...] | None = None) -> RosterKey:
    return ("sqlite:///t.db", project, False, teams)


def snap(version: int | None, rows: int) -> RosterSnapshot:
    return RosterSnapshot(version, tuple((i,) for i in range(rows)))


def test_an_entry_answers_only_for_the_version_it_was_read_at() -> None:
    cache = RosterCache()
    cache.put(key(1), snap(7, 3))
    assert cache.get(key(1), 7) is not None
    assert cache.get(key(1), 8) is None
    assert cache.get(key(2), 7) is None
    assert (cache.hits, cache.misses) == (1, 2)


def test_the_least_recently_used_shape_leaves_first_when_the_entries_are_full() -> None:
    cache = RosterCache(max_entries=3)
    for p in (1, 2, 3):
        cache.put(key(p), snap(1, 1))
    assert cache.get(key(1), 1) is not None  # 1 used: 2 is now the oldest
    cache.put(key(4), snap(1, 1))
    assert len(cache) == 3
    assert cache.get(key(2), 1) is None
    assert all(cache.get(key(p), 1) is not None for p in (1, 3, 4))


def test_the_rows_held_stay_under_the_row_bound() -> None:
    cache = RosterCache(max_entries=100, max_rows=250)
    for p in range(1, 6):
        cache.put(key(p), snap(1, 100))
        assert cache.rows <= 250
    assert len(cache) == 2 and cache.rows == 200
    assert cache.get(key(5), 1) is not None and cache.get(key(4), 1) is not None


def test_a_roster_longer_than_the_row_bound_is_not_kept_and_drops_its_older_read() -> None:
    cache = RosterCache(max_rows=100)
    cache.put(key(1), snap(1, 50))
    cache.put(key(1), snap(2, 101))
    assert len(cache) == 0 and cache.rows == 0


def test_a_newer_read_replaces_the_older_one_and_its_rows() -> None:
    cache = RosterCache()
    cache.put(key(1, (5,)), snap(1, 10))
    cache.put(key(1, (5,)), snap(2, 4))
    assert len(cache) == 1 and cache.rows == 4
    assert cache.get(key(1, (5,)), 2) is not None


def test_a_read_inside_a_transaction_is_never_kept() -> None:
    cache = RosterCache()
    cache.put(key(1), snap(None, 3))
    assert len(cache) == 0 and cache.rows == 0
