"""Segments: audiences described as boolean expressions over tags, profile fields and what other
apps contribute, counted fast from an exact bitmap index, saved, and snapshotted."""
