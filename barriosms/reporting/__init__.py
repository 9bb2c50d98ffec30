"""What the data says: statistics and hotspots (reports), CSV/GeoJSON exports, maps, and the public
read model the website shows (no phone numbers, no internal notes).

May import: barriosms.cases, barriosms.config, barriosms.store, barriosms.domain. Read only:
nothing here writes a case.
"""
