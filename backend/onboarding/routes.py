"""Routes of the onboarding domain (discovered by backend.routes): the JSON API and the pages."""

from __future__ import annotations

from typing import Any

from backend.onboarding.controllers import OnboardingController, RegisterController
from backend.onboarding.pages import ONBOARDING_PAGES

ROUTES: list[Any] = [RegisterController, OnboardingController, *ONBOARDING_PAGES]
