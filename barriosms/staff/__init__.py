"""Staff work beyond a single case: the inbox of unmatched messages, broadcasts, neighbourhoods,
municipal projects, workshop (web) reports.

May import: barriosms.pipeline (the intake rules), barriosms.cases, barriosms.config,
barriosms.templates, barriosms.store, barriosms.domain. Never an interface.
"""
