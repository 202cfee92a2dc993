"""Ingest: decode, normalise, validate and store the city's CSV exports (データ連携)."""
