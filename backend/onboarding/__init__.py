"""Device onboarding (issue 20 A.1–A.2): vendor registration and business scope, device access applications."""
