"""Piccolo app of the onboarding domain (vendor profiles, business scopes, device access applications)."""

import os

from piccolo.conf.apps import AppConfig

from backend.onboarding.tables import AccessApplication, AccessEvent, VendorProfile, VendorScope

APP_CONFIG = AppConfig(
    app_name="onboarding",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[VendorProfile, VendorScope, AccessApplication, AccessEvent],
    migration_dependencies=["backend.piccolo_app"],
    commands=[],
)
