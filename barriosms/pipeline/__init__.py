"""The SMS pipeline: what happens to a resident's SMS, from the modem's inbox to the reply.

gateway (one poll: store, answer, delete), intake (what the SMS asks for and the answer), sink (what
acting on it writes: CaseSink, real cases), practice (PracticeSink: the same pipeline writing to
practice tables), replygate (whether a message may be answered), conversations (answers to staff
questions), survey (satisfaction questions), crewdesk (a field crew's PIN commands), sendpolicy (which
queued SMS may go now), evaluation (a labelled corpus of SMS read as the intake reads them: how well
the gateway understands residents).

May import: barriosms.cases, barriosms.operations, barriosms.templates, barriosms.config,
barriosms.store, barriosms.modem (its SMS types only), barriosms.domain. Never an interface
(cli, daemon, web, sim).
"""
