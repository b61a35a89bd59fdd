"""The one Piccolo app: tables from every domain package, one migration history for both engines."""

import os

from piccolo.conf.apps import AppConfig

from backend.accounts.tables import AuthToken, User, UserDistrict, UserProject
from backend.attendance.tables import Punch, PunchPhoto
from backend.clockin.tables import LivenessChallenge, MakeupRequest
from backend.devices.tables import Terminal, TerminalAlarm, Vendor
from backend.org.tables import (
    District,
    Enterprise,
    Project,
    ProjectChangeEvidence,
    ProjectChangeRequest,
    ProjectStatusChange,
    ProjectUnit,
    Team,
)
from backend.workforce.tables import ConsentRecord, Enrolment, Person, PersonCorrection, RosterEntry

TABLES = [
    District, Enterprise, Project, ProjectChangeRequest, ProjectChangeEvidence, ProjectStatusChange, ProjectUnit, Team,
    Person, RosterEntry, Enrolment, ConsentRecord, PersonCorrection,
    Vendor, Terminal, TerminalAlarm,
    User, UserDistrict, UserProject, AuthToken,
    Punch, PunchPhoto,
    LivenessChallenge, MakeupRequest,
]

APP_CONFIG = AppConfig(
    app_name="smz",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=TABLES,
    migration_dependencies=[],
    commands=[],
)
