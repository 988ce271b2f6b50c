"""The operator cockpit: one page of sections (members, the 5A funnel, sales so far), each a set of
figures with the previous period's value, the change and how fresh it is. Every figure that counts
members is the count of a segment definition, and links to the member list filtered by it.

base.py (the period, figures, tables, charts and the section registry), definitions.py (the
definitions figures count), members.py and sales.py (the sections), services.py (the summaries'
refresh), exports.py (every table as CSV or XLSX)."""
