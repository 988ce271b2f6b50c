"""KOC profiles, the tier pyramid, topics, tracked posts and their reach."""
