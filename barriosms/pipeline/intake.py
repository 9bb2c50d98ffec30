"""From an SMS read off the SIM to a stored message, a case and a queued reply.

Everything for one SMS happens in one database transaction: the message (or message part) row,
the case it opens and the reply it queues. The modem thread deletes the SMS from the SIM only after
that transaction has committed, so a crash at any point either leaves the SMS on the SIM (it is read
again and the dedupe key recognises it) or leaves it fully handled.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import random
from collections.abc import Iterable, Sequence
from typing import assert_never, cast

from peewee import DatabaseError, DataError, IntegrityError, fn

from barriosms.cases import crews, events, outbox
from barriosms.cases.opening import tracking_lengths
from barriosms.cases.status import status_reply
from barriosms.domain.categories import CategoryRules, keyword_scores
from barriosms.domain.crewcommands import mask_pin
from barriosms.domain.matching import Place
from barriosms.domain.parsing import (
    Ambiguous,
    Courtesy,
    Help,
    Intent,
    InvalidTracking,
    MissingDescription,
    OptIn,
    OptOut,
    Reopen,
    Report,
    StatusQuery,
    UnknownCode,
    Unroutable,
    about_the_service,
    asks_something,
    classify,
    how_to_use,
    lost,
    number_in,
    only_asks,
    questions,
    speaks_to_us,
    thanks_in,
)
from barriosms.domain.phones import is_replyable, normalize_sender
from barriosms.domain.sanitize import storable
from barriosms.domain.tracking import digits_phrase, is_valid_tracking
from barriosms.domain.words import words
from barriosms.modem.interface import ReceivedSms
from barriosms.pipeline import conversations, crewdesk, survey
from barriosms.pipeline.practice import PracticeSink, practice_text
from barriosms.pipeline.sink import CaseSink, Sink, Turn
from barriosms.store.models import (
    Case,
    InboundMessage,
    Neighborhood,
    PendingReport,
    PracticeCase,
    SmsPart,
    database,
    utcnow,
    write_tx,
)

# The rules moved below the pipeline (web reports and staff read them too); still names of intake.
from barriosms.templates.rules import IntakeRules as IntakeRules
from barriosms.templates.rules import rules_from_settings as rules_from_settings

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Reading:
    """What the intake makes of an SMS's text, before it acts on it."""

    text: str  # what was read: the SMS, or what follows the practice keyword
    practice: bool  # a workshop's practice message (PRUEBA ...)
    intent: Intent
    # As classify read it, before second_look: an answer to a staff question ("frente al 45") is
    # short and names no problem, yet it is an answer, not a request for the instructions.
    as_answer: Intent | None = None


def places_of(hoods: Iterable[Neighborhood]) -> list[Place]:
    """The configured neighbourhoods as the matcher sees them."""
    return [Place(n.code, n.name, tuple(n.alias_list)) for n in hoods]


def read_sms(text: str, places: Sequence[Place], rules: IntakeRules) -> Reading:
    """How the intake reads ``text``: the practice keyword, then :func:`domain.parsing.classify`.

    Pure apart from the rules given: `barriosms categories evaluate` reads a corpus with it.
    """
    keywords = rules.templates.keywords
    rest = practice_text(text, keywords.get("practice", ()))
    read = text if rest is None else rest
    first = classify(read, places, keywords)
    second = second_look(first, read, rules.categories)
    return Reading(read, rest is not None, second, first if isinstance(second, Help) else second)


# A message with no problem word, this short and addressed to the office ("una consulta porfa"), is not
# a report to hold for its neighbourhood ("frente a la escuela" may be: it says where).
SHORT_WORDS = 6
# Words around a named neighbourhood that only ask how the service works ("B12 como es para reclamar").
ASKING_AFTER_PLACE_WORDS = 8
# A message about the service itself and no problem ("somos de la OTB de Tacagua, q datos hay q mandar?",
# "necesito hablar con alguien de la alcaldia urgente") may be longer; longer still it is a story.
ABOUT_THE_SERVICE_WORDS = 30
# Thanks with a signature ("Muchas gracias por la pronta respuesta. Atentamente, M. Vargas").
THANKS_WORDS = 12


# "soy de Pampahasi, que tengo que poner": the words that only say who writes come before the question.
# How a message that is talk, not a report, opens: a greeting (Spanish, Aymara, Quechua), or who the
# writer is ("soy vecina de...", "somos la directiva...").
_OPENING = frozenset("hola ola holas buenas buenos buen buenass saludos alo aló kamisaki kamisaraki allillanchu "
                     "imaynalla napaykullayki rimaykullayki soy somos".split())
_WHO_I_AM = frozenset("soy somos vivo vivimos estoy estamos de del en la el los mi zona barrio y".split())


def _after_who_i_am(found: list[str]) -> list[str]:
    rest = list(found)
    while rest and rest[0] in _WHO_I_AM:
        rest.pop(0)
    return rest


def names_a_problem(text: str, categories: CategoryRules) -> bool:
    """Whether ``text`` has a word of a category. A street ("mi calle") only says where: in a question
    about the service ("como hago para avisar de un problema en mi calle?") it names no problem."""
    if not keyword_scores(text, categories):
        return False
    return not (questions(text) and how_to_use(text)
                and not keyword_scores(text, dataclasses.replace(categories, places=())))


def second_look(intent: Intent, text: str, categories: CategoryRules) -> Intent:
    """What the message asks for, once the category keywords have said whether it names a problem.

    classify reads greetings, thanks and status queries by their words; residents write them in
    more ways than any list holds. A message that names no problem (no keyword of any category) is
    not a report, so: with one tracking-sized number it asks about a case; with thanks in it, it
    thanks; shaped as a question, or short and addressed to the office, it wants the instructions ("para que es este numero?",
    "quiero hablar con una persona") rather than "which neighbourhood?". A neighbourhood followed
    only by such a question ("B12 como es para reclamar") gets the instructions too. A message
    with a problem word is left as classify read it.
    """
    match intent:
        case Help() | Unroutable():
            if names_a_problem(text, categories):
                # Only a word of the catch-all category ("pasame con un funcionario porfa", "de que se
                # trata este mensaje"), in a message that asks or talks to the office: maybe no problem
                # at all. Asked for the neighbourhood with the instructions, not only the neighbourhood.
                if (isinstance(intent, Unroutable) and set(keyword_scores(text, categories)) <= {categories.default}
                        and (asks_something(text) or speaks_to_us(text) or how_to_use(text))):
                    return Unroutable(intent.text, named_problem=False)
                return intent
            number = number_in(text)
            if number is not None:
                return StatusQuery(number) if is_valid_tracking(number) else InvalidTracking(number)
            if isinstance(intent, Help):
                return intent
            if thanks_in(text) and "?" not in text and len(words(text)) <= THANKS_WORDS:
                return Courtesy()
            count = len(words(text))
            if (asks_something(text) or lost(text) or (count <= SHORT_WORDS and speaks_to_us(text))
                    or (count <= ABOUT_THE_SERVICE_WORDS and about_the_service(text))):
                return Help()
            # Words no list has ("ey 👀", "oe"): a greeting or a report in other words. Both answered.
            return Unroutable(intent.text, named_problem=False)
        case Report(description=description) | Ambiguous(description=description) if description:
            # Strictly shaped as a question here: "donde se juntan" after a place is a report.
            asked = " ".join(_after_who_i_am(words(description)))
            question = "?" in description or "¿" in description or asks_something(asked, anywhere=False)
            count = len(words(description))
            if names_a_problem(description, categories):
                return intent
            if ((question and count <= ASKING_AFTER_PLACE_WORDS) or lost(description)
                    or only_asks(" ".join(w for w in words(description) if w not in _WHO_I_AM))
                    or (questions(description) and about_the_service(description)
                        and count <= ABOUT_THE_SERVICE_WORDS)):
                return Help()
            # "Muchas gracias por la pronta respuesta. Atentamente, Junta Vecinal Alto Tacagua".
            if thanks_in(description) and not questions(description) and count <= ABOUT_THE_SERVICE_WORDS:
                return Courtesy()
            # A neighbourhood and talk to the office with no problem in it, however long ("hola soy
            # dona julia de chamoco chico, mi nieto me dio este numero", "somos la directiva de Alto
            # Tacagua, deseamos conocer los requisitos", "ya no me acuerdo el codigo de tacagua"):
            # nothing to file. Asked for the problem, with the example for their own code.
            if isinstance(intent, Report) and talks_to_us(description):
                return MissingDescription(intent.code)
    return intent


def talks_to_us(text: str) -> bool:
    """Whether ``text`` opens with a greeting or with who its writer is, speaks of using the service
    (the number, the code, how to complain), or says its writer is lost. Addressing the office
    ("senores alcaldia, en la plaza...") or a question about the street is how reports start too."""
    found = words(text)
    return bool(found) and (found[0] in _OPENING or how_to_use(text) or lost(text))


def _digits() -> str:
    # "7", or "7 u 8" once numbers grew: a resident with an 8-digit number is not told it has 7.
    return digits_phrase(tracking_lengths())


def problem_text(intent: Intent, text: str) -> str:
    """The words a case opened from ``intent`` is filed (categorised) by, now or once the neighbourhood
    comes: the description without the neighbourhood, else the whole ``text``; "" when there is none."""
    match intent:
        case Report(description=description) | Ambiguous(description=description):
            return description or text
        case UnknownCode(description=description):
            return description
        case Unroutable():
            return text
        case _:
            return ""


class Intake:
    def __init__(self, rules: IntakeRules, rng: random.Random | None = None):
        self.rules = rules
        # SystemRandom: tracking numbers must not be predictable from earlier ones.
        self.rng = rng or random.SystemRandom()

    # -- storing -----------------------------------------------------------------------------

    def store(self, sms: ReceivedSms, now: dt.datetime | None = None, modem: str = "") -> bool:
        """Store one SMS durably and act on it; False when it was already stored (read twice).

        `modem`: the [modem NAME] it came in on; its replies leave through the same one.
        """
        now = now or utcnow()
        self._modem = modem
        # Before anything is keyed or stored: text SQLite or PostgreSQL would refuse (half an emoji,
        # NULs) must not keep the message on the SIM forever.
        sms = dataclasses.replace(sms, sender=storable(sms.sender), text=storable(sms.text))
        with write_tx():
            if sms.kind == "status_report":
                # Not a resident's message: it only updates the delivery state of one we sent.
                outbox.apply_status_report(sms.reference or 0, sms.delivery_status or 0, now)
                return True
            if sms.is_part and not sms.binary:
                return self._store_part(sms, now)
            key = sms.dedupe_key()
            if InboundMessage.select().where(InboundMessage.dedupe_key == key).exists():
                log.info("SMS from %s at SIM location %d was already stored; not handled again",
                         sms.sender, sms.location)
                return False
            msg = self._create_message(key, sms.sender, sms.text, sms.smsc_time, now,
                                       parts=1, incomplete=False, coding=sms.coding)
            if sms.binary or sms.message_class == 0:
                # Data for the phone (8-bit) or a flash SMS: kept as received, never read as a report.
                msg.intent = "binary" if sms.binary else "flash"
                msg.save()
                log.info("message %d from %s is %s: stored, not answered", msg.id, msg.sender,
                         "8-bit data" if sms.binary else "a class-0 (flash) SMS")
                return True
            self._handle(msg, now)
            return True

    def set_aside(self, sms: ReceivedSms, exc: BaseException, modem: str = "") -> InboundMessage:
        """Keep an SMS that could not be stored normally, as it is, for staff (its own transaction).

        The last resort of the gateway for an SMS that failed again and again: no field is trusted
        to be well formed, nothing is acted on; `inbox list --unmatched` shows it with the error.
        """
        sender = storable(str(sms.sender if sms.sender is not None else ""))
        text = storable(str(sms.text if sms.text is not None else ""))
        key = hashlib.sha256(("set-aside\x1f" + repr(sms)).encode("utf-8", "replace")).hexdigest()
        error = f"error: {type(exc).__name__}: {exc}"[:300]
        with write_tx():
            found = InboundMessage.get_or_none(InboundMessage.dedupe_key == key)
            if found is not None:
                return found
            try:
                phone = normalize_sender(sender, self.rules.region)
            except Exception:  # noqa: BLE001 - a sender no parser understands is kept as written
                phone = sender
            smsc_time = sms.smsc_time if isinstance(sms.smsc_time, dt.datetime) else None
            return InboundMessage.create(modem=modem, dedupe_key=key, sender=sender, phone=phone, text=text,
                                         smsc_time=smsc_time, received_at=utcnow(), intent="error",
                                         needs_staff=True, triage=storable(error))

    def _create_message(self, key: str, sender: str, text: str, smsc_time: dt.datetime | None,
                        now: dt.datetime, *, parts: int, incomplete: bool, coding: str) -> InboundMessage:
        msg = InboundMessage.create(
            modem=getattr(self, "_modem", ""),
            dedupe_key=key, sender=sender, phone=normalize_sender(sender, self.rules.region),
            text=text, smsc_time=smsc_time, received_at=now, parts=parts, incomplete=incomplete,
            coding=coding)
        # A crew's PIN never leaves the gateway (crewdesk masks the stored text once it acts).
        shown = mask_pin(text) if crews.find(msg.phone) is not None else text
        events.record("message.received", now, id=msg.id, phone=msg.phone, text=shown, received_at=now,
                      modem=msg.modem)
        return msg

    def _store_part(self, sms: ReceivedSms, now: dt.datetime) -> bool:
        key = sms.dedupe_key()
        if SmsPart.select().where(SmsPart.dedupe_key == key).exists():
            log.info("part %d/%d from %s was already stored", sms.part_number, sms.total_parts, sms.sender)
            return False
        group = self._open_group(sms.sender, sms.concat_ref, sms.total_parts)
        if any(p.part_number == sms.part_number for p in group):
            # The sender reused the reference number while an older message still misses parts:
            # that older one will not be completed any more, so hand it over as it is.
            log.warning("concatenated SMS %d from %s never got all its parts; storing it incomplete",
                        sms.concat_ref, sms.sender)
            self._assemble(group, now, incomplete=True)
            group = []
        part = SmsPart.create(dedupe_key=key, sender=sms.sender, concat_ref=sms.concat_ref,
                              part_number=sms.part_number, total_parts=sms.total_parts, text=sms.text,
                              smsc_time=sms.smsc_time, received_at=now)
        group = sorted(group + [part], key=lambda p: p.part_number)
        if {p.part_number for p in group} == set(range(1, sms.total_parts + 1)):
            self._assemble(group, now, incomplete=False)
        else:
            log.debug("part %d/%d of SMS %d from %s stored; waiting for the rest",
                      sms.part_number, sms.total_parts, sms.concat_ref, sms.sender)
        return True

    @staticmethod
    def _open_group(sender: str, ref: int | None, total: int) -> list[SmsPart]:
        return list(SmsPart.select()
                    .where((SmsPart.sender == sender) & (SmsPart.concat_ref == ref)
                           & (SmsPart.total_parts == total) & SmsPart.message.is_null())
                    .order_by(SmsPart.part_number))

    def _assemble(self, group: list[SmsPart], now: dt.datetime, *, incomplete: bool) -> InboundMessage:
        group = sorted(group, key=lambda p: p.part_number)
        # Parts are already decoded by Gammu, one by one; in part order they are the whole text.
        text = "".join(p.text for p in group)
        key = hashlib.sha256("\x1f".join(p.dedupe_key for p in group).encode()).hexdigest()
        first = group[0]
        msg = self._create_message(key, first.sender, text, first.smsc_time, now,
                                   parts=len(group), incomplete=incomplete, coding="")
        SmsPart.update(message=msg).where(SmsPart.id.in_([p.id for p in group])).execute()
        if incomplete:
            log.warning("SMS from %s stored with %d of %d parts (the rest never arrived)",
                        first.sender, len(group), first.total_parts)
        self._handle(msg, now)
        return msg

    def flush_expired_parts(self, now: dt.datetime | None = None) -> int:
        """Hand over, as incomplete, messages whose missing parts did not come in time."""
        now = now or utcnow()
        self._modem = ""  # parts waited too long: whichever modem is free answers
        limit = now - dt.timedelta(seconds=self.rules.multipart_timeout)
        flushed = 0
        with write_tx():
            stale = (SmsPart.select(SmsPart.sender, SmsPart.concat_ref, SmsPart.total_parts)
                     .where(SmsPart.message.is_null())
                     .group_by(SmsPart.sender, SmsPart.concat_ref, SmsPart.total_parts)
                     .having(fn.MIN(SmsPart.received_at) <= limit))
            for row in list(stale):
                try:
                    with database.atomic():
                        group = self._open_group(row.sender, row.concat_ref, row.total_parts)
                        if group:
                            self._assemble(group, now, incomplete=True)
                            flushed += 1
                except IntegrityError:
                    # Another gateway on a shared database handed these parts over first.
                    log.info("the waiting parts from %s were handed over by another gateway", row.sender)
        return flushed

    # -- acting on a message -----------------------------------------------------------------

    def _handle(self, msg: InboundMessage, now: dt.datetime) -> None:
        """Act on a stored message; a failure keeps it for staff instead of stopping the gateway.

        Acting runs in a savepoint of the caller's transaction: when it fails, what it did (a half
        opened case, a queued reply) is undone, the message row itself stays and commits, marked
        for triage with the error, and the SIM may forget the SMS. A database that refuses writes
        is not the message's fault: that goes up, and the SMS stays on the SIM.
        """
        try:
            with database.atomic():
                self._act(msg, now)
        except (IntegrityError, DataError) as exc:
            self._set_aside(msg, exc)
        except DatabaseError:
            raise
        except Exception as exc:  # noqa: BLE001 - one message must never stop the gateway
            self._set_aside(msg, exc)

    @staticmethod
    def _set_aside(msg: InboundMessage, exc: BaseException) -> None:
        error = f"{type(exc).__name__}: {exc}"[:300]
        log.exception("message %d from %s could not be handled (%s). It is kept for staff: barriosms inbox list "
                      "--unmatched; please report this error with the log lines above", msg.id, msg.phone, error)
        (InboundMessage.update(intent="error", needs_staff=True, triage=f"error: {error}", case=None)
         .where(InboundMessage.id == msg.id).execute())
        msg.intent, msg.needs_staff, msg.triage, msg.case = "error", True, f"error: {error}", None

    def _act(self, msg: InboundMessage, now: dt.datetime) -> None:
        if not is_replyable(msg.sender, self.rules.region):
            # Operators and short codes send promotions and balance notices; they cannot be answered.
            msg.intent = "not_replyable"
            msg.save()
            log.info("message %d from %s is not from a phone number: stored, not answered", msg.id, msg.sender)
            return
        if crewdesk.handle(msg, now, self.rules):
            return  # a field crew's PIN command; without a PIN a crew's phone writes as a resident
        hoods = {n.code: n for n in Neighborhood.select()}
        reading = read_sms(msg.text, places_of(hoods.values()), self.rules)
        # A workshop's practice message (PRUEBA ...) is read and answered like a real one; only what
        # it leaves goes elsewhere (practice tables, not cases).
        sink: Sink = PracticeSink(self.rules, self.rng) if reading.practice else CaseSink(self.rules, self.rng)
        text, intent = reading.text, reading.intent
        # Whatever was decided about the reply, the message is acted on: a person silenced by
        # mistake (or a machine) still opens cases, answers staff and can say BAJA. Only the SMS
        # back is withheld (see Sink.reply).
        turn = Turn(msg, now, sink.decide(msg, now, intent), hoods, text)
        if not (sink.converses and self._converse(turn, reading.as_answer or intent, sink)):
            self._dispatch(turn, intent, sink)
        sink.finish(turn)

    def _converse(self, turn: Turn, intent: Intent, sink: Sink) -> bool:
        """Take the message as an answer in a conversation about a case, when it is one.

        BAJA, ALTA and REABRIR are always commands. The satisfaction question is looked at first
        (its answer is "1" or "2"), then staff questions and messages.
        """
        if isinstance(intent, (OptOut, OptIn, Reopen)):
            return False
        for route in (survey.route, conversations.route):
            routed = route(turn.msg, intent, turn.now, self.rules, turn.hoods)
            if routed is None:
                continue
            turn.said(routed.intent)
            case = cast("Case | None", routed.case)  # domain.answers.Routed cannot name the store's Case
            if case is not None:
                turn.msg.case = case
            if routed.reply:
                sink.reply(turn, routed.reply, case)
            log.info("message %d from %s: %s%s", turn.msg.id, turn.msg.phone, routed.intent,
                     f" (case {case.tracking})" if case is not None else "")
            return True
        return False

    def _dispatch(self, turn: Turn, intent: Intent, sink: Sink) -> None:
        """Answer what the message asks for (see domain.parsing); the sink does what it changes.

        `turn.said(intent, outcome)`: the outcome tells apart what a workshop's report counts
        separately (see practice).
        """
        t = self.rules.templates
        match intent:
            case Report(code=code):
                sink.report(turn, code, problem_text(intent, turn.text))
            case MissingDescription(code=code):
                if not sink.complete_waiting(turn, code):
                    turn.said("missing_description")
                    sink.reply(turn, t.render("missing_description", code=code))
            case Ambiguous(codes=codes, description=description):
                turn.said("ambiguous")
                sink.hold_for_neighborhood(turn, problem_text(intent, turn.text), ",".join(codes), "ambiguous",
                                           or_narrow=not description)
                options = ", ".join(f"{code} {turn.hoods[code].name}" for code in codes)
                sink.reply(turn, t.render("ambiguous", options=options))
            case UnknownCode(code=code, description=description):
                turn.said("unroutable", "unknown_code")
                if description:
                    sink.hold_for_neighborhood(turn, problem_text(intent, turn.text), "", "unknown_code")
                # A code alone leaves nothing to complete: the resident sends code and problem again.
                sink.reply(turn, t.render("unknown_code", code=code))
            case Courtesy():
                turn.said("courtesy")  # "gracias": stored, not answered (that would invite another)
            case Unroutable(named_problem=named_problem):
                turn.said("unroutable", "missing_neighborhood")
                sink.hold_for_neighborhood(turn, problem_text(intent, turn.text), "", "no_neighborhood")
                sink.reply(turn, t.render("unroutable" if named_problem else "unroutable_unsure"))
            case StatusQuery(tracking=tracking):
                self._status(turn, tracking, sink)
            case InvalidTracking(number=number):
                turn.said("invalid_tracking")
                sink.reply(turn, t.render("invalid_tracking", number=number, digits=_digits()))
            case Help():
                turn.said("help", "help" if turn.text else "empty")
                sink.reply(turn, t.render("help"))
            case OptOut():
                turn.said("optout")
                sink.set_opted_out(turn, True)
                sink.reply(turn, t.render("opted_out"))
            case OptIn():
                turn.said("optin")
                sink.set_opted_out(turn, False)
                sink.reply(turn, t.render("opted_in"))
            case Reopen(tracking=None, number=number):
                turn.said("reopen", "invalid_tracking" if number else "help")
                sink.reply(turn, t.render("invalid_tracking", number=number, digits=_digits()) if number else t.render("help"))
            case Reopen(tracking=tracking):
                assert tracking is not None  # the case above took None; mypy does not narrow it
                sink.reopen(turn, tracking)
            case _:
                assert_never(intent)

    def _status(self, turn: Turn, tracking: str, sink: Sink) -> None:
        """A status query: real cases, and practice cases (with PRUEBA or without, as a resident will
        ask for a real case) are answered the same way."""
        t = self.rules.templates
        case = Case.get_or_none(Case.tracking == tracking)
        if case is None and (rehearsed := PracticeCase.get_or_none(PracticeCase.tracking == tracking)):
            turn.said("practice_status", "status")
            turn.practice_case = rehearsed
            sink.reply(turn, t.render("status", tracking=rehearsed.tracking, status=t.status_label(rehearsed.status)))
        elif case is None:
            turn.said("unknown_tracking")
            sink.reply(turn, t.render("unknown_tracking", tracking=tracking))
        else:
            # A real case's number, also with PRUEBA: what anyone who has the number gets by SMS anyway.
            turn.said("status")
            sink.reply(turn, status_reply(t, case))

    # -- reports waiting for their neighbourhood ---------------------------------------------

    def expire_pending(self, now: dt.datetime | None = None) -> int:
        """Close the waits that ran out: those messages stay for staff (`inbox list --unmatched`)."""
        now = now or utcnow()
        due = (PendingReport.outcome == "") & (PendingReport.expires_at <= now)
        if not PendingReport.select().where(due).exists():
            return 0  # the common case, every few seconds: a read, no write (SD cards wear out)
        with write_tx():
            count = (PendingReport.update(outcome="expired", closed_at=now)
                     .where((PendingReport.outcome == "") & (PendingReport.expires_at <= now)).execute())
        if count:
            log.info("%d report(s) got no neighbourhood in time; they wait for staff in `barriosms inbox list "
                     "--unmatched`", count)
        return count
