"""The member centre's write side: every change to a profile goes through these functions, so the
API, the dashboard, imports and Celery tasks share one code path for every rule.

Modules: upsert (create or update by identity, one or a thousand at a time), profile (field
validation and profile edits), identities, merge (duplicates), relations (staff following members),
attributes (operator-declared fields), consent, notes, tags, privacy (export and erasure), events
(the timeline and who acted), errors (what every service raises)."""
