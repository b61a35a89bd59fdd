"""Users, their scopes, and login tokens."""

from __future__ import annotations

from piccolo.columns import Boolean, ForeignKey, Integer, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.devices.tables import Vendor
from backend.org.tables import District, Enterprise, Project
from backend.vocabulary import Role, width


class User(Table, tablename="app_user"):
    username = Varchar(length=64, unique=True)
    password_hash = Varchar(length=200)
    display_name = Varchar(length=60)
    role = Varchar(length=width(Role, 16))  # admin | supervisor | enterprise | project_staff | foreman | worker | vendor
    phone = Varchar(length=20, null=True, default=None)
    person = Integer(null=True, default=None)  # worker: their person id
    enterprise = ForeignKey(references=Enterprise, null=True, on_delete=OnDelete.set_null)  # enterprise staff
    vendor = ForeignKey(references=Vendor, null=True, on_delete=OnDelete.set_null)  # vendor staff
    active = Boolean(default=True)
    must_change_password = Boolean(default=False)
    created_at = Timestamptz(default=TimestamptzNow())


class UserDistrict(Table, tablename="user_district"):
    user = ForeignKey(references=User, null=False, index=True, on_delete=OnDelete.cascade)
    district = ForeignKey(references=District, null=False, on_delete=OnDelete.restrict)


class UserProject(Table, tablename="user_project"):
    user = ForeignKey(references=User, null=False, index=True, on_delete=OnDelete.cascade)
    project = ForeignKey(references=Project, null=False, on_delete=OnDelete.restrict)


class AuthToken(Table, tablename="auth_token"):
    token_hash = Varchar(length=64, unique=True)
    user = ForeignKey(references=User, null=False, index=True, on_delete=OnDelete.cascade)
    kind = Varchar(length=8)  # cookie | bearer
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()
    last_used_at = Timestamptz(null=True, default=None)
