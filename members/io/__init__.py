"""Import and export of members, identities and tags: CSV and XLSX, dry runs, row-by-row reports."""
