"""Electronic fences (电子围栏) of projects, versioned.

``ProjectFence`` is the fence as the user knows it (name, kind, current version, deleted?).
``ProjectFenceVersion`` holds each version's definition (``geofence.fence_to_dict``: WGS-84, full
precision) and its validity ``[valid_from, valid_to)``.  An edit closes the current version
(``valid_to = now``) and opens the next one; a delete closes it.  A version row is never changed
afterwards except for that one ``valid_to``, so a built ``geofence.Fence`` can be cached per
(fence id, version) in every process without invalidation.  ``project`` is repeated on the version
row so that "the versions active at time t for project p" is one indexed query.
"""

from __future__ import annotations

from piccolo.columns import JSON, Boolean, ForeignKey, Integer, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.org.tables import Project
from backend.vocabulary import FenceKind, width


class ProjectFence(Table, tablename="fence"):
    project = ForeignKey(references=Project, null=False, index=True, on_delete=OnDelete.restrict)
    name = Varchar(length=100)
    kind = Varchar(length=width(FenceKind, 10))  # polygon | circle | corridor
    current_version = Integer(default=1)
    deleted = Boolean(default=False)
    created_by = Integer(null=True, default=None)  # user id
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class ProjectFenceVersion(Table, tablename="fence_version"):
    fence = ForeignKey(references=ProjectFence, null=False, index=True, on_delete=OnDelete.restrict)
    project = ForeignKey(references=Project, null=False, index=True, on_delete=OnDelete.restrict)
    version = Integer()
    definition = JSON()  # geofence.fence_to_dict (WGS-84)
    input_crs = Varchar(length=6, default="wgs84")  # what the user entered: wgs84 | gcj02
    repaired = Boolean(default=False)  # a self-intersecting polygon was repaired (make_valid)
    valid_from = Timestamptz(index=True)
    valid_to = Timestamptz(null=True, default=None, index=True)
    created_by = Integer(null=True, default=None)  # user id
    created_at = Timestamptz(default=TimestamptzNow())
    note = Varchar(length=200, default="")  # created | edited | deleted | imported …


TABLES = [ProjectFence, ProjectFenceVersion]
