"""Electronic fences (电子围栏) of projects: the versioned store, its API and editing page, and the
decisions for phone fixes (``services.judge_fix``) — built on the pure ``geofence`` library."""
