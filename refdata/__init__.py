"""National reference data shared by backend/ and device_tcp/: code tables and check-digit rules of the
national standards, as pure data and pure functions.

It imports nothing of this repository (device_tcp/ must stay importable without backend/, and backend/
must not reach into the protocol package for a national table), so both may import it
(docs/architecture.md, layer 0).  Validation that raises the app's errors stays in backend/validators.py;
the protocol's wire checks stay in device_tcp/messages.py; the tables they check against live here, once.
"""
