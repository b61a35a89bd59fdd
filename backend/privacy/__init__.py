"""Privacy: consent, access to full ID numbers, a person's data, retention of personal data and key rotation
(issue 20 part B)."""
