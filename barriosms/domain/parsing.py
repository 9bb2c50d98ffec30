"""What a resident's SMS asks for: a report, a status query, help, a command, or nothing we can route.

Residents type on keypads, often with one finger, sometimes dictating to a grandchild: the
neighbourhood comes as a code ("b12", "B-12", "#B12", "Barrio: b 12") or a name ("villa fatma",
see :mod:`.matching`), first or last; the tracking number with spaces or after "ESTADO"; a
command ("BAJA", "reabrir 2408917") as the first word.  This module is pure: the caller passes the
known neighbourhoods and the command words and gets back one frozen intent object.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, TypeAlias

from barriosms.domain.categories import fold
from barriosms.domain.matching import Place, find_code, find_place, normalize_code, valid_code
from barriosms.domain.replies import KEYWORDS
from barriosms.domain.tracking import LONGEST, SHORTEST, TRACKING_LENGTH, is_valid_tracking

__all__ = [
    "Report",
    "MissingDescription",
    "StatusQuery",
    "InvalidTracking",
    "Help",
    "Unroutable",
    "OptOut",
    "OptIn",
    "Reopen",
    "Ambiguous",
    "UnknownCode",
    "Courtesy",
    "asks_something",
    "about_the_service",
    "only_asks",
    "how_to_use",
    "questions",
    "lost",
    "thanks_in",
    "speaks_to_us",
    "number_in",
    "Intent",
    "normalize_code",
    "valid_code",
    "find_code",
    "classify",
]

# --- intents -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """A problem report for a known neighbourhood.  ``code`` is normalised ("B12")."""

    code: str
    description: str


@dataclass(frozen=True)
class MissingDescription:
    """Only a neighbourhood code was sent: ask for the problem."""

    code: str


@dataclass(frozen=True)
class StatusQuery:
    """A well-formed tracking number (7 digits, Damm-valid)."""

    tracking: str


@dataclass(frozen=True)
class InvalidTracking:
    """Looks like a status query, but ``number`` (digits only) is no valid tracking number.

    Answered with "check the number": never guess a near match, that would be another
    resident's case.
    """

    number: str


@dataclass(frozen=True)
class Help:
    """AYUDA, INFO, "?", or an empty message."""


@dataclass(frozen=True)
class Unroutable:
    """No known neighbourhood code: kept for staff to read and route by hand.

    ``named_problem`` is False when no word of the message says what is wrong (a greeting or a
    question in words no list has): the reply then gives the instructions as well as asking for the
    neighbourhood, as the message may be either."""

    text: str
    named_problem: bool = True


@dataclass(frozen=True)
class OptOut:
    """BAJA / STOP alone: no more notices about this phone's reports."""


@dataclass(frozen=True)
class OptIn:
    """ALTA alone: notices again (undoes a BAJA)."""


@dataclass(frozen=True)
class Reopen:
    """REABRIR and a number: the resident says the problem of a resolved case is back.

    ``number`` is the digits typed after the word ("" if none); ``tracking`` is that number if
    it is a valid tracking number, else None.  Anything after the number is the resident's reason.
    """

    number: str
    tracking: str | None


@dataclass(frozen=True)
class Ambiguous:
    """A name that fits several neighbourhoods equally well (``codes`` sorted): ask which."""

    codes: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class UnknownCode:
    """No known neighbourhood, but something typed like a code ("Z99", "B-99"): ``code`` normalised.

    ``description`` is the text without that code ("" when the code came alone).
    """

    code: str
    text: str
    description: str = ""


@dataclass(frozen=True)
class Courtesy:
    """Only thanks or an acknowledgement ("gracias", "ok", "muchas gracias"): nothing to answer."""


Intent: TypeAlias = (
    Report | MissingDescription | StatusQuery | InvalidTracking | Help | Unroutable
    | OptOut | OptIn | Reopen | Ambiguous | UnknownCode | Courtesy
)


# --- descriptions ------------------------------------------------------------------------------

_EDGE_SEPARATORS: Final = "#:.,;-/ \t\r\n"
# "barrio" / "zona" written just before the code ("Barrio: b 12", "zona #Z-04").
_AREA_WORD_AT_END: Final = re.compile(
    r"(?:^|(?<=[\s,.;:]))(?:barrio|zona)[\s#:.\-]*$", re.IGNORECASE
)
_HAS_CONTENT: Final = re.compile(r"[^\W_]")


def _description(text: str, start: int, end: int) -> str:
    before = text[:start].rstrip(_EDGE_SEPARATORS)
    before = _AREA_WORD_AT_END.sub("", before).rstrip(_EDGE_SEPARATORS)
    after = text[end:].lstrip(_EDGE_SEPARATORS)
    return " ".join(part for part in (before.strip(), after.strip()) if part)


# --- status queries and help -------------------------------------------------------------------

# [0-9], not \d: \d also matches Arabic-Indic and other digits, which are no tracking numbers.
_DIGIT_GROUP: Final = r"([0-9](?:[0-9\s.\-]*[0-9])?)"
# Only digits, spaces, dashes (and dots): "1234567", "123 4567", "#123-4567".
_BARE_NUMBER: Final = re.compile(rf"\s*#?\s*{_DIGIT_GROUP}[\s.?!]*")
# "estado 1234567", "Estado: 123 4567", "caso #1234567", "consulta del caso nro 1234567 gracias".
_STATUS_WORDS: Final = r"(?:estado|consulta|caso)"
_FILLER_WORDS: Final = r"(?:estado|consulta|caso|reclamo|de|del|mi|el|su|numero|nro|no|n)"
# A word ends here, though it may run straight into the digits: "estado2408917".
_NOT_LETTER: Final = r"(?![^\W\d_])"
_KEYWORD_NUMBER: Final = re.compile(
    rf"\W*{_STATUS_WORDS}{_NOT_LETTER}"
    rf"(?:[\W_]*{_FILLER_WORDS}{_NOT_LETTER})*"
    rf"[\W_]*{_DIGIT_GROUP}[^0-9]*"
)
_WORD: Final = re.compile(r"[^\W_]+")
_HELP_WORDS: Final = frozenset({"ayuda", "info", "informacion", "help", "menu"})
# A status word with no number is someone who does not know what to send: help explains it.
_BARE_STATUS_WORDS: Final = frozenset({"estado", "consulta", "caso"})
_POLITE_WORDS: Final = frozenset({"por", "favor", "porfa", "porfavor", "gracias", "hola"})
# A message made only of these (and polite words) thanks or acknowledges: answering it would cost an
# SMS and invite another "gracias"; it is stored, not answered.
_THANKS_WORDS: Final = frozenset({"gracias", "ok", "okey", "oki", "listo", "bueno", "muchas", "mil", "recibido",
                                  "entendido", "ya", "dios", "le", "les", "pague", "bendiga", "amen"})


# "¿como reporto un problema?", "como hago un reclamo": someone asking how the service works.
_HOW_WORDS: Final = frozenset({"como", "donde", "que"})
_HOW_TO_VERBS: Final = frozenset({"reporto", "reportar", "reporta", "reclamo", "reclamar", "reclama", "denuncio",
                                  "denunciar", "envio", "enviar", "mando", "mandar", "hago", "funciona", "uso", "usar"})


# How a question or an opening starts: "que es esto", "para que sirve", "quien me atiende", "buenas, ...".
_QUESTION_OPENERS: Final = frozenset(
    "como que q k ke cual cuales donde adonde quien quienes cuando para es este esta hola buenas buenos "
    "disculpe disculpa oiga alo senor senores senora senorita jefe joven mamita mama papito tata hermano hermana "
    "jilata kullaka vecino vecina".split())
# Question words anywhere ("mi hija me dio este numero, como funciona", "no le entiendo al mensaje q me
# mandaron"), also glued ("comoesparareclamar").
_QUESTION_WORDS: Final = frozenset("como komo q k ke que cual cuales donde dnd adonde cuanto cuanta quien xq".split())
_GLUED_QUESTION: Final = re.compile(r"^(?:como|komo|que|donde|cual|cuanto|quien)[a-z]{4,}$")
# Thanks in its usual forms (a message naming no problem and no place with one of these is thanks).
_THANKS_STEMS: Final = ("graci", "grasi", "grax", "gracs", "grcs", "agradec", "agradez", "yuspa", "sulpa", "pagarasunki",
                        "pagarapu", "diospagara")
_THANKS_ALONE: Final = frozenset("ok oki okey okay okei oka okis vale dale listo recibido entendido entendi pague "
                                 "bendiga bendiciones anay".split())


def asks_something(text: str, *, anywhere: bool = True) -> bool:
    """Whether ``text`` is shaped as a question or an opening: a question mark, a question or
    greeting word first, or (``anywhere``) a question word anywhere. Whether it also names a problem is the
    categories' business (the intake answers such a message with the instructions only when no
    problem word is in it)."""
    if "?" in text or "¿" in text:
        return True
    words = _squeezed(fold(text))
    if not words:
        return False
    return (words[0] in _squeezed_set(_QUESTION_OPENERS) or (anywhere and any(w in _QUESTION_WORDS for w in words))
            or (len(words) == 1 and bool(_GLUED_QUESTION.match(words[0]))))


# Asking for information the formal way ("solicito me informen el procedimiento", "quisiera saber").
_ASKING_FOR_INFORMATION: Final = frozenset(
    "saber solicito solicitamos informen informe informar explicar explique expliquen orientacion orienten "
    "oriente consulto consultamos procedimiento".split())


def questions(text: str) -> bool:
    """Whether ``text`` asks something: a question mark, a question word anywhere, or a formal request
    for information ("q datos hay q mandar", "quiero saber como hacemos los reclamos", "solicito me
    informen el procedimiento"); a greeting first is not enough."""
    if "?" in text or "¿" in text:
        return True
    return any(w in _QUESTION_WORDS or w in _ASKING_FOR_INFORMATION for w in _squeezed(fold(text)))


# "no entiendo", "janiw entiendo" (Aymara), "no comprendo que significa": someone lost, whatever follows.
_NOT: Final = frozenset("no janiw jan ni nada".split())
_UNDERSTAND: Final = frozenset("entiendo entendi entender entendemos comprendo comprendi comprender".split())


def lost(text: str) -> bool:
    """Whether ``text`` says its writer does not understand ("no entiendo wawa", "janiw entiendo")."""
    found = _squeezed(fold(text))
    return any(a in _NOT and b in _UNDERSTAND for a, b in zip(found, found[1:]))


# Words of someone talking to the office rather than describing a problem: how people address
# others (in Spanish, Aymara, Quechua) and what they ask for ("quiero hablar", "una consulta").
_SPEAKING_WORDS: Final = frozenset(
    "senor senora senorita jefe joven mamita mama papito tata hermano hermana jilata kullaka usted ustedes "
    "porfa porfavor xfa favor quiero quisiera necesito hablar llamar llameme llamenme pasame paseme mandeme "
    "mandenme envieme consulta consultar pregunta preguntar instrucciones instruccion informacion "
    "aski urukipan urukipana allillanchu napaykullayki rimaykullayki imaynalla kamisaki kamisaraki "
    "waliki".split())


def speaks_to_us(text: str) -> bool:
    """Whether ``text`` addresses the office or asks it for something ("una consulta porfa", "aski
    urukipan tata", "quiero hablar con una persona"), as opposed to saying where something is."""
    return any(w in _squeezed_set(_SPEAKING_WORDS) for w in _squeezed(fold(text)))


# Words about this service or the office itself, not about a street: how to complain, what to send,
# who answers ("q datos hay q mandar", "como hacemos los reclamos", "me pasaron este numero").
_HOW_TO_USE_WORDS: Final = frozenset(
    "reclamo reclamos reclama reclaman reclamar reclamamos reclamacion reclamaciones denuncia denuncias denuncian "
    "denunciar denunciamos reporta reporte reportes reportar reportamos queja quejas quejarme quejarnos mandar "
    "mando mandamos mandan envio enviar enviamos escribir escribo escribimos pongo datos codigo codigos formato "
    "funciona sirve avisar aviso digo decir comunico acudo acudimos servicio numero num nro mensaje mensajes "
    "sms".split())
_SERVICE_WORDS: Final = _HOW_TO_USE_WORDS | frozenset(
    "alcaldia alcalde municipio municipalidad subalcaldia gamlp ventanilla medio atiende atienden oficial "
    "validez funcionario funcionarios encargado encargada autoridad autoridades oficina".split())


def about_the_service(text: str) -> bool:
    """Whether ``text`` speaks of the service or the office itself ("me pasaron este numero", "q datos hay
    q mandar", "necesito hablar con alguien de la alcaldia"): with no problem word, someone to instruct."""
    return any(w in _squeezed_set(_SERVICE_WORDS) for w in _squeezed(fold(text)))


def how_to_use(text: str) -> bool:
    """Whether ``text`` speaks of using the service (complaining, what to send, the number), not only
    of the office: "como hago para avisar de un problema" does, "los del municipio dejaron..." not."""
    return any(w in _squeezed_set(_HOW_TO_USE_WORDS) for w in _squeezed(fold(text)))


def thanks_in(text: str) -> bool:
    """Whether ``text`` has a word of thanks or acknowledgement ("gracias jefe", "ya entendi", "OK")."""
    words = _squeezed(fold(text))
    return not _denied(words) and any(w.startswith(_THANKS_STEMS) or w in _THANKS_ALONE for w in words)


def number_in(text: str) -> str | None:
    """The digits of the one tracking-sized number in ``text`` ("240 8917" too), if exactly one."""
    numbers = _SEVEN_DIGITS.findall(fold(text))
    return re.sub(r"[^0-9]", "", numbers[0]) if len(numbers) == 1 else None


def _is_how_to(folded: str) -> bool:
    words = _WORD.findall(folded)
    return bool(_HOW_WORDS & set(words[:4])) and bool(_HOW_TO_VERBS & set(words)) and len(words) <= 12


# Greetings, questions about the service and the words around them ("hola buenas tardes", "es el numero
# de la alcaldia?", "q tengo q escribir", "no entiendo", "kamisaki", "cual es el codigo de mi barrio"):
# a message made only of these, with at least one of _ASKING_WORDS, is answered with the
# instructions. Compared with letters repeated once ("holaa", "ayudaaa" are "hola", "ayuda").
_GREETING_WORDS: Final = frozenset(
    "hola ola holi holis alo ey hey oye oe tal buenas buenos buen bnas bns wenas wenos guenas guenos"
    " dia dias tarde tardes noche noches saludos saludo "
    "kamisaki kamisaraki waliki imaynalla imaynallan kashanki allillanchu aski urukipana jaypukipana "
    "arumakipana allin punchay".split())
_ASKING_WORDS: Final = _GREETING_WORDS | frozenset(
    "ayuda aiuda ayudeme ayudenme ayudame ayudar info informacion informe informes menu help entiendo entendi "
    "alcaldia alcalde municipio municipalidad gamlp numero nro reclamo reclamos reclamar reclamacion reporte "
    "reportar reporto denuncia denunciar denuncio queja quejarme quejar codigo codigos escribir escribo pongo "
    "poner mando mandar envio enviar hago hacer hablo funciona sirve usa usar uso quien esto alguien atiende "
    "atienden contesta contestan responde".split())
_ASKING_CONTEXT: Final = _ASKING_WORDS | frozenset(
    "como que q k ke cual cuales donde adonde cuando es este esta eso esa el la los las lo le les de del un una "
    "barrio zona mi mis su sus se me te nos a al y o u no si para pa por favor porfa porfavor xfa quiero "
    "quisiera queria puedo puede pueden podria tengo tiene tienen dieron dio dice debo debe hay con mas "
    "disculpe disculpa oiga tal necesito saber algo problema recien pasaron paso dieron servicio mensaje mensajes sms texto formato "
    "ejemplo paz ciudad gobierno autonomo municipal molestia molestar molesto disculpas perdon permiso nada "
    "senor senora senorita senores senoras sr sra srta srs "
    "hermano hermana hermanos jilata jilatas jilatanaka kullaka kullakas vecino vecina vecinos amigo amiga "
    "amigos don dona tio tia joven usted ustedes autoridades aqui aca ahi asi bien ya p jayp ukipana "
    "unchay".split())
# Thanks and acknowledgements in the forms residents use ("grax", "ok ok", "Dios le pague",
# Aymara "yuspagara", Quechua "sulpayki"), with the words around them ("gracias jilata").
_THANKING_WORDS: Final = frozenset(
    "gracias gracia grasias grax grx grs grcs gcs thanks thank thx ok oka okay okey okei oki okis vale dale "
    "listo bueno entendido recibido perfecto excelente genial amable ya bien pague pagar bendiga bendice "
    "bendiciones yuspagara yuspajara yuspara yuspagarpan yuspajarpan yuspagarsamapan yuspajarsamapan "
    "yuspagarapxsma yuspajarapxsma sulpayki sulpaiki anay diosolopay diospagarasunki pagarasunki pachi "
    "jallalla chau chao adios luego cuidese".split())
_THANKING_CONTEXT: Final = _THANKING_WORDS | _POLITE_WORDS | frozenset(
    "muchas muchisimas mil dios le les lo la el su x por que q k de del a al y e se te nos me mucho muy ta "
    "esta respuesta atencion ayuda informacion amen hermano hermana hermanos jilata jilatas kullaka senor "
    "senora senorita senores joven jefe jefa jefecito mamita mama papito tata vecino vecina tio tia usted ustedes hasta luego pronto nomas "
    "nada todo "
    "buenas buenos dias tardes noches you ojala esperamos espero arreglen arreglaron solucionaron "
    "vinieron".split())
# Emoji that say thanks or OK (skin tones and variation selectors aside); others alone get the help.
# A wave (👋) alone says hello: it gets the instructions like "hola".
_THANKING_EMOJI: Final = frozenset("👍👌🙏🙌👏✅✔☺🙂😊😀😃😁😄🤗😘😍🥰😉🤝❤💙💚♥💐🌹✌💪🫡🫶")
_EMOJI_DECORATION: Final = re.compile("[\U0001F3FB-\U0001F3FF\uFE0E\uFE0F\u200D!.¡,]|\\s")
_REPEATED: Final = re.compile(r"([a-z])\1+")


def _squeezed(folded: str) -> list[str]:
    """The words with letters repeated once: "holaa" → "hola", "okk" → "ok", "ayudaaa" → "ayuda"."""
    return [_REPEATED.sub(r"\1", w) for w in _WORD.findall(folded)]


@functools.cache
def _squeezed_set(words: frozenset[str]) -> frozenset[str]:
    return frozenset(_REPEATED.sub(r"\1", w) for w in words)


def _only(words: list[str], context: frozenset[str], wanted: frozenset[str]) -> bool:
    """``words`` (squeezed) are all ``context`` words, at least one of them a ``wanted`` one."""
    allowed, needed = _squeezed_set(context), _squeezed_set(wanted)
    return bool(words) and all(w in allowed for w in words) and any(w in needed for w in words)


# "no entendi", "no recibi nada": an acknowledgement denied is someone who needs the instructions.
_UNDERSTOOD: Final = frozenset("entendi entiendo entendido entendemos comprendo comprendi recibi recibido llego "
                               "ok listo".split())


def _denied(words: list[str]) -> bool:
    return any(a == "no" and b in _UNDERSTOOD for a, b in zip(words, words[1:]))


def _is_courtesy(folded: str) -> bool:
    words = _squeezed(folded)
    if _denied(words):
        return False
    if not words:
        # Only emoji: 👍, 🙏🙏 thank; anything else (😡, "?") gets the instructions.
        rest = _EMOJI_DECORATION.sub("", folded)
        return bool(rest) and all(c in _THANKING_EMOJI for c in rest)
    return _only(words, _THANKING_CONTEXT, _THANKING_WORDS)


def only_asks(text: str) -> bool:
    """Whether ``text`` is made only of greetings, questions about the service and the words around
    them ("me puede ayudar hermana", "recien me pasaron el numero"): nothing about a problem."""
    return _only(_squeezed(fold(text)), _ASKING_CONTEXT, _ASKING_WORDS)


def _is_help(folded: str) -> bool:
    words = _WORD.findall(folded)
    if not words:
        return True  # empty, blank, "?", an emoji: nothing we could act on
    keywords = [w for w in words if w not in _POLITE_WORDS]
    if not keywords:
        return True  # "hola", "hola por favor": someone starting a conversation
    if len(keywords) == 1 and keywords[0] in _HELP_WORDS | _BARE_STATUS_WORDS:
        return True
    # Greetings and questions about the service, nothing about a problem or a place.
    return _only(_squeezed(folded), _ASKING_CONTEXT, _ASKING_WORDS)


# Around a tracking number, the words of someone asking how their case goes ("como va mi reclamo
# 2408917", "q paso con mi reclamo nro 7730452", "nro 5604218 ya van a venir?").
_STATUS_CONTEXT: Final = _ASKING_CONTEXT | _THANKING_CONTEXT | frozenset(
    "va van vas paso pasa pasando sigue sigo igual saber quisiera quiero queria consultar consulto consulta "
    "caso estado avance novedad novedades noticias respuesta arreglar arreglan arreglaron arreglo atender "
    "atendieron venir vienen vendran vino cuando aun todavia nada nadie hasta ahora hicieron hacen "
    "mi reclamo lo queja denuncia pedido solicitud tramite seguimiento revisar ver informar avisar decir demora "
    "demoran tanto tiempo semana semanas mes meses dia hace vinieron arreglaron".split())
# Words that say the number is the resident's case.
_CASE_WORDS: Final = frozenset("reclamo caso estado consulta denuncia queja pedido solicitud tramite nro numero".split())
_NEAR_TRACKING: Final = re.compile(rf"(?<![0-9])[0-9]{{{SHORTEST - 1},{LONGEST + 1}}}(?![0-9])")
_SEVEN_DIGITS: Final = re.compile(rf"(?<![0-9])[0-9](?:[\s.\-]?[0-9]){{{TRACKING_LENGTH - 1}}}(?![0-9])")
# The numbers given once 7 digits grew scarce (8 or 9 digits): taken only when valid, so a phone
# number or an amount in the text keeps meaning what it meant.
_LONGER_DIGITS: Final = tuple(re.compile(rf"(?<![0-9])[0-9](?:[\s.\-]?[0-9]){{{n - 1}}}(?![0-9])")
                              for n in range(TRACKING_LENGTH + 1, LONGEST + 1))


def _digits(s: str) -> str:
    return re.sub(r"[^0-9]", "", s)


def _status_number(folded: str) -> str | None:
    """The digits of a status query ("123 4567" → "1234567"), or None if not one."""
    m = _BARE_NUMBER.fullmatch(folded) or _KEYWORD_NUMBER.fullmatch(folded)
    if m is not None:
        return re.sub(r"[^0-9]", "", m.group(1))
    # One tracking-sized number among words that only ask how it goes ("hace 2 semanas" aside); a
    # number a digit too long or short too, when the resident calls it their case ("reclamo 240891").
    numbers = _SEVEN_DIGITS.findall(folded)
    if not any(is_valid_tracking(_digits(n)) for n in numbers):
        longer = [n for pattern in _LONGER_DIGITS for n in pattern.findall(folded) if is_valid_tracking(_digits(n))]
        numbers = longer or numbers
    if len(numbers) != 1:
        numbers = _NEAR_TRACKING.findall(folded) if _CASE_WORDS & set(_WORD.findall(folded)) else []
    if len(numbers) != 1:
        return None
    rest = folded.replace(numbers[0], " ")
    if re.search(r"[0-9]{3}", rest) or not _only(_squeezed(re.sub(r"[0-9]+", " ", rest)), _STATUS_CONTEXT,
                                                   _STATUS_CONTEXT):
        return None
    return re.sub(r"[^0-9]", "", numbers[0])


# --- commands ----------------------------------------------------------------------------------

# After the command word: "caso", "nro", "#" and the like, then the number, in chunks of digits
# separated by a space or a dash ("240 8917", "240-8917").
_REOPEN_NUMBER: Final = re.compile(
    rf"(?:[\W_]*{_FILLER_WORDS}{_NOT_LETTER})*[\W_]*([0-9]+(?:[\s\-][0-9]+)*)"
)


def _command(folded: str, keywords: Mapping[str, Iterable[str]]) -> OptOut | OptIn | Reopen | None:
    """A command given by the first word (polite words aside), or None."""
    meaningful = [m for m in _WORD.finditer(folded) if m.group() not in _POLITE_WORDS]
    if not meaningful:
        return None
    first = meaningful[0].group()
    if first in keywords.get("reopen", ()):
        return _reopen(folded[meaningful[0].end():])
    if len(meaningful) > 1:
        return None  # "baja presion de agua en B12" is a report, not a command
    if first in keywords.get("optout", ()):
        return OptOut()
    if first in keywords.get("optin", ()):
        return OptIn()
    return None


def _reopen(rest: str) -> Reopen:
    """What follows the reopen word: the number, then (ignored) the resident's reason."""
    m = _REOPEN_NUMBER.match(rest)
    number = ""
    if m is not None:
        # The reason may start with a number too ("reabrir 2408917 2 semanas sin luz"): take
        # chunks only while they still fit in a 7-digit number, or make a valid longer one.
        chunks = re.split(r"[\s\-]", m.group(1))
        taken = 0
        for chunk in chunks:
            if number and len(number) + len(chunk) > TRACKING_LENGTH:
                break
            number += chunk
            taken += 1
        longer = number
        for chunk in chunks[taken:]:
            longer += chunk
            if len(longer) > LONGEST:
                break
            if is_valid_tracking(longer) and not is_valid_tracking(number):
                number = longer
                break
    return Reopen(number, number if is_valid_tracking(number) else None)


# --- unknown codes -----------------------------------------------------------------------------

# Typed tightly like a code: letters then digits, at most a "-" or "#" between ("Z99", "B-99",
# "#B99"), as a token of its own.  "calle 3" and "a 3 cuadras" have a space: they are words.
_CODE_SHAPED: Final = re.compile(r"(?<![^\W_])([A-Za-z]{1,4})[-#]?([0-9]{1,4})(?![^\W_])")


def _unknown_code(text: str) -> UnknownCode | None:
    m = _CODE_SHAPED.search(text)
    if m is None:
        return None
    description = _description(text, m.start(1), m.end(2))
    return UnknownCode(normalize_code(m.group(1) + m.group(2)), text,
                       description if _HAS_CONTENT.search(description) else "")


# --- classification ----------------------------------------------------------------------------


def _places(places: Iterable[Place | str]) -> tuple[Place, ...]:
    return tuple(p if isinstance(p, Place) else Place(p, "") for p in places)


def classify(
    text: str,
    places: Iterable[Place | str],
    keywords: Mapping[str, Iterable[str]] | None = None,
) -> Intent:
    """Decide what ``text`` asks for.

    Help → command (``keywords``: folded first words for "optout", "optin", "reopen"; default
    :data:`.replies.KEYWORDS`) → status query → report (code, then name of one of ``places``:
    :class:`.matching.Place` objects, or bare codes) → unknown code → unroutable.
    """
    # Matching works on a folded copy ("ESTÁDO" = "estado"); what we keep is the resident's text.
    folded = fold(text)
    if _is_courtesy(folded):
        return Courtesy()
    if _is_help(folded):
        return Help()
    command = _command(folded, KEYWORDS if keywords is None else keywords)
    if command is not None:
        return command
    number = _status_number(folded)
    if number is not None:
        return StatusQuery(number) if is_valid_tracking(number) else InvalidTracking(number)
    found = find_place(text, _places(places))
    if found is None:
        unknown = _unknown_code(text)
        if unknown is not None:
            return unknown
        # A question about how to report is answered with the instructions, not kept as a report.
        return Help() if _is_how_to(folded) else Unroutable(text)
    description = _description(text, found.start, found.end)
    if not _HAS_CONTENT.search(description):
        description = ""
    if len(found.codes) > 1:
        return Ambiguous(found.codes, description)
    (code,) = found.codes
    return Report(code, description) if description else MissingDescription(code)
