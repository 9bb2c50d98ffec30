"""The pure rules: parsing residents' texts, neighbourhood matching, tracking numbers, categories,
GSM-7, reply templates, status transitions, reply budgets and the loop guard, ranking, masking.

May import: barriosms.domain only (and the standard library, phonenumbers). No files, database,
modem or framework: callers pass text and settings in.
"""
