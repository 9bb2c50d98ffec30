"""Cases and what every service does to them: open, find, notify reporters, reopen, change status, queue SMS.

casework (staff actions on a case), editing (staff correct a case's category or neighbourhood),
opening (a new case and its tracking number), lookup (the case a merged duplicate lives in),
reporters (who reported it, notifying them), reopening, status (what a status query answers),
satisfaction (asking after resolving, and counting the answers), outbox (the queue of SMS to send),
subscribers (who follows a case, opt-outs), callbacks (missed calls: requests to call a resident
back), crews (field crews' phones and PINs), audittrail (writing the audit trail, for staff and
crews alike).

May import: barriosms.config, barriosms.templates, barriosms.store, barriosms.domain. Nothing above
(pipeline, staff, reporting, operations, interfaces).
"""
