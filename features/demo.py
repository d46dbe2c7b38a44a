"""The demo CRM: a realistic, messy B2B lead base whose purchase drivers are known.

Why it exists: real CRM exports cannot be shared, and even if they could, nobody knows what truly
drives their purchases. Here we do. A hidden, documented ground truth decides who buys and when,
so tests can check that a model learns the right things (pricing page, demo requests, webinars,
meetings and fit; not email opens), that point-in-time features see the signal *before* the close,
and that the plausibility and de-duplication checks find the junk we planted.

How a lead lives (all vectorised with numpy over chunks of leads, never a Python loop per event):

1. A skeleton for all leads: ``created_at`` and ``source``, with seasonality (fewer leads in August
   and December) and peaks at trade fairs, webinars, workshops and printed mailings. Lead ids
   follow ``created_at``.
2. Firmographics and contact data per chunk: a company from a pool, country, a city of that
   country, names and job titles matching the country, email, phone in a national format.
3. Two hidden variables per lead: *intent* (how eager to buy; drives how many high-intent events
   the lead produces) and *fit* (seniority, industry, company size, region; log-odds).
4. Activities: interest phases of web sessions (research, evaluation or buying stage, more often
   evaluation and buying the higher the intent), dated campaigns (webinars, trade fairs, local
   workshops, QR codes on printed mailings), nurture and newsletter emails. Interest decays with
   time since the lead was created.
5. The decision: after every high-intent event the lead may enter a buying decision with
   ``sigmoid(DECISION_INTERCEPT + S + fit + month + noise)``, where ``S`` is the sum of
   ``EVENT_WEIGHTS`` over the lead's events so far, each halved every ``HALF_LIFE_DAYS``. A decision
   is followed by sales calls and meetings and a close some weeks later, won with
   ``sigmoid(WON_INTERCEPT + WON_INTENT_SLOPE * S + fit + noise)``. So every driver acts through
   events that happen before the close, and a point-in-time model can learn it.
6. Leads without a decision are sometimes closed lost as stale; junk leads are disqualified. After
   a close, activity mostly stops (won customers still have onboarding meetings).
7. Junk and messy records (keyboard mash, fictional names, a city outside the country,
   "Afghanistan" from the top of the drop-down, invalid phones and emails), duplicate records of the
   same person (activities split between them) and objections to profiling.

Output: ``leads``, ``activities``, ``outcomes`` (contract columns), ``ground_truth_leads`` (lead_id,
is_junk, junk_kind, duplicate_of, intent, fit) and ``ground_truth.json`` (the drivers, their
weights, the shares actually generated and ``REALISM_RANGES``). The same seed gives byte-identical
files; ``end`` fixes the two-year window, the wall clock is never read.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from features.contract import ACTIVITY_TYPES, COLUMNS

# ----------------------------------------------------------------------------------------------
# Scale and time
# ----------------------------------------------------------------------------------------------

CHUNK_SIZE = 20_000
"""Leads generated and written at a time: peak memory stays near 0.5 GB, whatever the total."""
WINDOW_DAYS = 730
MIN_PER_DAY = 1440
LN2 = math.log(2.0)

# ----------------------------------------------------------------------------------------------
# The hidden ground truth (documented in ground_truth.json)
# ----------------------------------------------------------------------------------------------

HALF_LIFE_DAYS = 30.0
"""An event's weight on the buying decision halves every this many days."""

INTEREST_HALF_LIFE_DAYS = 90.0
"""A lead's rate of engagement halves every this many days after its creation (to a floor)."""
INTEREST_FLOOR = 0.15

EVENT_WEIGHTS: dict[str, float] = {
    "page_view": 0.05,
    "pricing_page_view": 0.55,
    "blog_read": 0.03,
    "whitepaper_download": 0.12,
    "webinar_registration": 0.1,
    "webinar_attended": 0.6,
    "email_sent": 0.0,
    "email_open": 0.01,
    "email_click": 0.06,
    "form_submit": 0.15,
    "demo_request": 1.2,
    "trade_fair_visit": 0.3,
    "qr_code_scan": 0.15,
    "workshop_registration": 0.4,
    "sales_call": 0.45,
    "meeting": 0.7,
}
CHECKPOINT_MIN_WEIGHT = 0.3
"""Only events at least this heavy can trigger a buying decision."""

DECISION_INTERCEPT = -4.4
WON_INTERCEPT = -1.3
WON_INTENT_SLOPE = 0.35
LEAD_NOISE_SD = 0.8
SALES_CYCLE_DAYS = (20.0, 10.0)
"""Mean days from decision to close: a + b * log10(employees); Gamma-distributed, shape 2.5."""
JUNK_PENALTY = -3.0

SENIORITY_WEIGHTS: dict[str, float] = {
    "decision_maker": 0.9,
    "manager": 0.4,
    "staff": 0.0,
    "junior": -1.2,
    "unknown": -0.3,
}
INDUSTRY_WEIGHTS: dict[str, float] = {
    "Software & IT": 0.5,
    "E-Commerce & Retail": 0.6,
    "Manufacturing": 0.2,
    "Professional Services": 0.3,
    "Financial Services": 0.1,
    "Healthcare": -0.2,
    "Education": -0.6,
    "Media & Publishing": 0.3,
    "Logistics": 0.0,
    "Tourism & Hospitality": -0.1,
    "Public Sector": -0.8,
    "Energy & Utilities": -0.1,
}
SIZE_FIT = {"peak": 0.8, "center_log10": 2.5, "width_log10": 0.9, "offset": -0.4}
"""Company size fit: peak * exp(-((log10(employees) - center) / width)^2) + offset."""
REGION_WEIGHTS: dict[str, float] = {"dach": 0.0, "international": -0.3}

MONTH_WEIGHTS = (-0.2, 0.0, 0.15, 0.0, 0.0, 0.15, -0.2, -0.5, 0.1, 0.0, 0.1, -0.3)
"""Log-odds of a buying decision by calendar month (summer and Christmas slumps)."""

SOURCE_INTENT: dict[str, float] = {
    "web_form": 0.1,
    "webinar": 0.2,
    "referral": 0.6,
    "paid_search": -0.1,
    "trade_fair": 0.1,
    "qr_code_mailing": -0.1,
    "local_workshop": 0.3,
    "organic_search": 0.0,
    "linkedin": -0.2,
}
JUNK_INTENT = -2.5

STALE_CLOSE_SHARE = 0.35
"""Share of undecided leads that sales closes as lost some months after their last engagement."""
JUNK_DISQUALIFIED_SHARE = 0.75
POST_CLOSE_KEEP = 0.03
WON_MEETING_KEEP = 0.6

REALISM_RANGES: dict[str, tuple[float, float]] = {
    "won_rate": (0.04, 0.12),
    "open_share": (0.55, 0.85),
    "junk_share": (0.02, 0.05),
    "flawed_share": (0.07, 0.13),
    "duplicate_share": (0.01, 0.035),
    "objection_share": (0.02, 0.045),
    "free_mail_share": (0.06, 0.25),
    "dach_share": (0.65, 0.85),
    "activities_per_lead": (25.0, 35.0),
}
"""Ranges the generated data must fall into; the realism test reads them from here."""

# ----------------------------------------------------------------------------------------------
# Sources, creation, seasonality
# ----------------------------------------------------------------------------------------------

SOURCES = (
    "web_form",
    "webinar",
    "referral",
    "paid_search",
    "trade_fair",
    "qr_code_mailing",
    "local_workshop",
    "organic_search",
    "linkedin",
)
SOURCE_PROBS = (0.2, 0.1, 0.05, 0.14, 0.1, 0.05, 0.04, 0.18, 0.14)
CAMPAIGN_SOURCES: dict[str, tuple[str, float, float]] = {
    "trade_fair": ("trade_fair", 0.0, 0.0),
    "webinar": ("webinar", -6.0, 0.0),
    "local_workshop": ("workshop", -30.0, 3.0),
    "qr_code_mailing": ("mailing", 9.0, 1.0),
}
"""Source -> (campaign kind, mean days from the campaign date to creation, minimum days)."""
LEAD_MONTH_WEIGHTS = (1.1, 1.05, 1.1, 1.0, 1.0, 0.95, 0.85, 0.55, 1.1, 1.1, 1.05, 0.6)
WEEKDAY_WEIGHTS = (1.0, 1.0, 1.0, 1.0, 0.9, 0.25, 0.2)
HOUR_WEIGHTS = (0, 0, 0, 0, 0, 0, 1, 3, 8, 10, 10, 9, 6, 8, 9, 9, 8, 6, 4, 3, 3, 2, 1, 0)

# fmt: off
# ----------------------------------------------------------------------------------------------
# Geography: countries, cities (really in that country), phone formats, sales teams
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Country:
    """A CRM drop-down country with what belongs to it."""

    name: str
    prob: float
    names: tuple[tuple[str, float], ...]
    tld: str
    calling_code: str
    trunk: str
    mobile: tuple[tuple[str, ...], tuple[int, ...]]
    legal_forms: tuple[tuple[str, float], ...]
    free_mail: tuple[str, ...]
    dach: bool


COUNTRIES: tuple[Country, ...] = (
    Country("Germany", 0.55, (("de", 0.93), ("en", 0.02), ("it", 0.02), ("pl", 0.03)), "de", "49",
            "0", (("160", "170", "171", "172", "175"), (7,)),
            (("GmbH", 0.68), ("AG", 0.08), ("GmbH & Co. KG", 0.14), ("KG", 0.05), ("e.K.", 0.05)),
            ("web.de", "gmx.de", "gmail.com", "t-online.de", "outlook.de"), True),
    Country("Austria", 0.1, (("de", 1.0),), "at", "43", "0", (("664", "660", "676", "699"), (7,)),
            (("GmbH", 0.8), ("AG", 0.1), ("KG", 0.1)), ("gmx.at", "gmail.com", "aon.at"), True),
    Country("Switzerland", 0.09, (("de", 0.75), ("fr", 0.2), ("it", 0.05)), "ch", "41", "0",
            (("76", "77", "78", "79"), (3, 2, 2)), (("AG", 0.6), ("GmbH", 0.4)),
            ("bluewin.ch", "gmail.com", "gmx.ch"), True),
    Country("United Kingdom", 0.06, (("en", 1.0),), "co.uk", "44", "0",
            (("7700", "7911", "7946", "7812"), (6,)), (("Ltd", 0.85), ("PLC", 0.05), ("LLP", 0.1)),
            ("gmail.com", "outlook.com", "hotmail.co.uk", "yahoo.co.uk"), False),
    Country("France", 0.04, (("fr", 1.0),), "fr", "33", "0", (("6", "7"), (2, 2, 2, 2)),
            (("SAS", 0.6), ("SARL", 0.3), ("SA", 0.1)), ("orange.fr", "gmail.com", "free.fr"),
            False),
    Country("Netherlands", 0.05, (("nl", 1.0),), "nl", "31", "0", (("6",), (8,)),
            (("B.V.", 0.9), ("N.V.", 0.1)), ("gmail.com", "outlook.com", "ziggo.nl"), False),
    Country("Belgium", 0.02, (("nl", 0.55), ("fr", 0.45)), "be", "32", "0",
            (("470", "475", "485", "495"), (2, 2, 2)), (("BV", 0.6), ("NV", 0.2), ("SRL", 0.2)),
            ("gmail.com", "skynet.be", "telenet.be"), False),
    Country("Italy", 0.02, (("it", 1.0),), "it", "39", "", (("347", "333", "340", "320"), (3, 4)),
            (("S.r.l.", 0.8), ("S.p.A.", 0.2)), ("gmail.com", "libero.it"), False),
    Country("Spain", 0.02, (("es", 1.0),), "es", "34", "", (("612", "622", "655", "699"), (3, 3)),
            (("S.L.", 0.8), ("S.A.", 0.2)), ("gmail.com", "hotmail.es"), False),
    Country("Poland", 0.015, (("pl", 1.0),), "pl", "48", "", (("512", "601", "691", "789"), (3, 3)),
            (("Sp. z o.o.", 0.9), ("S.A.", 0.1)), ("gmail.com", "wp.pl", "onet.pl"), False),
    Country("Sweden", 0.015, (("se", 1.0),), "se", "46", "0", (("70", "72", "73", "76"), (3, 2, 2)),
            (("AB", 1.0),), ("gmail.com", "outlook.com"), False),
    Country("Denmark", 0.01, (("dk", 1.0),), "dk", "45", "", (("20", "30", "40", "50"), (2, 2, 2)),
            (("ApS", 0.7), ("A/S", 0.3)), ("gmail.com", "outlook.dk"), False),
    Country("United States", 0.01, (("en", 1.0),), "com", "1", "", (("917", "646", "415"), (3, 4)),
            (("Inc.", 0.7), ("LLC", 0.3)), ("gmail.com", "yahoo.com", "outlook.com"), False),
)

TEAMS = ("DACH-Nord", "DACH-Süd", "International")
WORKSHOP_CITIES = ("Hamburg", "Berlin", "Köln", "Frankfurt am Main", "München", "Wien", "Zürich")

# (city, area code, subscriber digit groups, team, workshop city or "")
CITIES: dict[str, tuple[tuple[str, str, tuple[int, ...], str, str], ...]] = {
    "Germany": (
        ("Hamburg", "40", (8,), "DACH-Nord", "Hamburg"),
        ("Bremen", "421", (7,), "DACH-Nord", "Hamburg"),
        ("Hannover", "511", (7,), "DACH-Nord", "Hamburg"),
        ("Kiel", "431", (7,), "DACH-Nord", "Hamburg"),
        ("Berlin", "30", (8,), "DACH-Nord", "Berlin"),
        ("Leipzig", "341", (7,), "DACH-Nord", "Berlin"),
        ("Dresden", "351", (7,), "DACH-Nord", "Berlin"),
        ("Köln", "221", (7,), "DACH-Nord", "Köln"),
        ("Düsseldorf", "211", (7,), "DACH-Nord", "Köln"),
        ("Dortmund", "231", (7,), "DACH-Nord", "Köln"),
        ("Essen", "201", (7,), "DACH-Nord", "Köln"),
        ("Münster", "251", (6,), "DACH-Nord", "Köln"),
        ("Frankfurt am Main", "69", (8,), "DACH-Süd", "Frankfurt am Main"),
        ("Mainz", "6131", (6,), "DACH-Süd", "Frankfurt am Main"),
        ("Mannheim", "621", (7,), "DACH-Süd", "Frankfurt am Main"),
        ("Stuttgart", "711", (7,), "DACH-Süd", "München"),
        ("Karlsruhe", "721", (7,), "DACH-Süd", "München"),
        ("München", "89", (8,), "DACH-Süd", "München"),
        ("Nürnberg", "911", (7,), "DACH-Süd", "München"),
        ("Augsburg", "821", (6,), "DACH-Süd", "München"),
    ),
    "Austria": (
        ("Wien", "1", (7,), "DACH-Süd", "Wien"),
        ("Graz", "316", (6,), "DACH-Süd", "Wien"),
        ("Linz", "732", (6,), "DACH-Süd", "Wien"),
        ("Salzburg", "662", (6,), "DACH-Süd", "Wien"),
        ("Innsbruck", "512", (6,), "DACH-Süd", "Wien"),
    ),
    "Switzerland": (
        ("Zürich", "44", (3, 2, 2), "DACH-Süd", "Zürich"),
        ("Basel", "61", (3, 2, 2), "DACH-Süd", "Zürich"),
        ("Bern", "31", (3, 2, 2), "DACH-Süd", "Zürich"),
        ("Luzern", "41", (3, 2, 2), "DACH-Süd", "Zürich"),
        ("Winterthur", "52", (3, 2, 2), "DACH-Süd", "Zürich"),
        ("Lausanne", "21", (3, 2, 2), "DACH-Süd", "Zürich"),
    ),
    "United Kingdom": (
        ("London", "20", (4, 4), "International", ""),
        ("Manchester", "161", (3, 4), "International", ""),
        ("Birmingham", "121", (3, 4), "International", ""),
        ("Leeds", "113", (3, 4), "International", ""),
        ("Bristol", "117", (3, 4), "International", ""),
        ("Edinburgh", "131", (3, 4), "International", ""),
    ),
    "France": (
        ("Paris", "1", (2, 2, 2, 2), "International", ""),
        ("Lyon", "4", (2, 2, 2, 2), "International", ""),
        ("Marseille", "4", (2, 2, 2, 2), "International", ""),
        ("Toulouse", "5", (2, 2, 2, 2), "International", ""),
        ("Lille", "3", (2, 2, 2, 2), "International", ""),
        ("Bordeaux", "5", (2, 2, 2, 2), "International", ""),
    ),
    "Netherlands": (
        ("Amsterdam", "20", (3, 4), "International", ""),
        ("Rotterdam", "10", (3, 4), "International", ""),
        ("Utrecht", "30", (3, 4), "International", ""),
        ("Eindhoven", "40", (3, 4), "International", ""),
        ("Groningen", "50", (3, 4), "International", ""),
    ),
    "Belgium": (
        ("Brussels", "2", (3, 2, 2), "International", ""),
        ("Gent", "9", (3, 2, 2), "International", ""),
        ("Liège", "4", (3, 2, 2), "International", ""),
        ("Leuven", "16", (2, 2, 2), "International", ""),
    ),
    "Italy": (
        ("Milano", "02", (4, 4), "International", ""),
        ("Torino", "011", (3, 4), "International", ""),
        ("Bologna", "051", (3, 4), "International", ""),
    ),
    "Spain": (
        ("Madrid", "91", (3, 2, 2), "International", ""),
        ("Barcelona", "93", (3, 2, 2), "International", ""),
        ("Valencia", "96", (3, 2, 2), "International", ""),
    ),
    "Poland": (
        ("Kraków", "12", (3, 2, 2), "International", ""),
        ("Wrocław", "71", (3, 2, 2), "International", ""),
        ("Gdańsk", "58", (3, 2, 2), "International", ""),
    ),
    "Sweden": (
        ("Stockholm", "8", (3, 3, 2), "International", ""),
        ("Malmö", "40", (3, 2, 2), "International", ""),
        ("Uppsala", "18", (3, 2, 2), "International", ""),
    ),
    "Denmark": (
        ("Odense", "66", (2, 2, 2), "International", ""),
        ("Aalborg", "98", (2, 2, 2), "International", ""),
        ("Copenhagen", "33", (2, 2, 2), "International", ""),
    ),
    "United States": (
        ("Boston", "617", (3, 4), "International", ""),
        ("Chicago", "312", (3, 4), "International", ""),
        ("Seattle", "206", (3, 4), "International", ""),
    ),
}
PHONE_FIRST_DIGITS = "2345"
"""First digit of a subscriber number; a few ranges need others to be valid numbers."""
PHONE_FIRST_DIGITS_BY_AREA: dict[tuple[str, str], str] = {
    ("United Kingdom", "20"): "378",
    ("United Kingdom", "117"): "2349",
    ("United Kingdom", "7700"): "378",
    ("United Kingdom", "7911"): "278",
    ("Belgium", "4"): "23",
    ("Belgium", "9"): "234",
    ("France", "6"): "2456",
    ("France", "7"): "3456",
}
FOREIGN_CITIES = ("London", "Paris", "Amsterdam", "Wien", "Zürich", "Madrid", "Berlin", "München")
"""Big cities put into the wrong country by the city_not_in_country flaw."""

# ----------------------------------------------------------------------------------------------
# People
# ----------------------------------------------------------------------------------------------

# group -> (female first names, male first names, last names)
PERSON_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "de": (
        ("Anna", "Julia", "Katharina", "Laura", "Lena", "Sarah", "Lisa", "Sophie", "Marie", "Jana",
         "Sandra", "Nicole", "Stefanie", "Claudia", "Sabine", "Petra", "Andrea", "Birgit", "Jasmin",
         "Hannah", "Miriam", "Ute", "Dörte", "Bärbel", "Silke", "Kerstin", "Franziska", "Theresa"),
        ("Thomas", "Michael", "Andreas", "Stefan", "Christian", "Markus", "Alexander", "Daniel",
         "Jan", "Tobias", "Florian", "Sebastian", "Jürgen", "Jörg", "Uwe", "Klaus", "Matthias",
         "Frank", "Lukas", "Felix", "Maximilian", "Jonas", "Niklas", "Björn", "Sören", "Günther",
         "Ralf", "Dirk", "Philipp", "Moritz"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
         "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder",
         "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange",
         "Schmitt", "Werner", "Schmitz", "Krause", "Meier", "Lehmann", "Köhler", "Huber", "Mayer",
         "Herrmann", "König", "Walter", "Fuchs", "Jäger", "Vogel", "Gruber", "Steiner", "Brunner",
         "Moser", "Keller", "Baumann", "Weiß", "Göbel", "Böhm", "Lorenz", "Ziegler", "Kühn"),
    ),
    "en": (
        ("Emma", "Olivia", "Sophie", "Charlotte", "Emily", "Jessica", "Hannah", "Lucy", "Amelia",
         "Grace", "Chloe", "Sarah", "Rebecca", "Laura", "Megan"),
        ("James", "Oliver", "Harry", "George", "Jack", "Thomas", "William", "Daniel", "Matthew",
         "Samuel", "Joshua", "David", "Michael", "Christopher", "Ben"),
        ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
         "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
         "Wood", "Jackson", "Clarke", "O'Brien", "Hughes"),
    ),
    "fr": (
        ("Marie", "Camille", "Léa", "Chloé", "Manon", "Inès", "Élodie", "Céline", "Sophie",
         "Hélène", "Anaïs", "Noémie", "Julie", "Aurélie", "Mathilde"),
        ("Jean", "Pierre", "Louis", "Lucas", "Hugo", "Théo", "François", "Nicolas", "Julien",
         "Sébastien", "Jérôme", "Antoine", "Guillaume", "Benoît", "Rémi"),
        ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
         "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Fournier", "Girard", "Bonnet",
         "Mercier", "Dupont", "Lambert", "Fontaine", "Rousseau", "Chevalier", "Gauthier"),
    ),
    "nl": (
        ("Sanne", "Lotte", "Emma", "Fleur", "Anouk", "Eva", "Femke", "Iris", "Lieke", "Marieke",
         "Noor", "Roos"),
        ("Daan", "Sem", "Bram", "Thijs", "Lars", "Ruben", "Jeroen", "Pieter", "Joost", "Maarten",
         "Sander", "Wouter"),
        ("de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen",
         "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters",
         "Hendriks", "van Leeuwen", "Dekker", "Brouwer"),
    ),
    "it": (
        ("Giulia", "Francesca", "Chiara", "Sara", "Martina", "Federica", "Alessia", "Elena"),
        ("Marco", "Luca", "Alessandro", "Andrea", "Matteo", "Francesco", "Lorenzo", "Davide"),
        ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
         "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini"),
    ),
    "es": (
        ("María", "Lucía", "Carmen", "Laura", "Marta", "Ana", "Paula", "Sofía"),
        ("José", "Antonio", "Javier", "David", "Daniel", "Alejandro", "Pablo", "Sergio"),
        ("García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez",
         "Gómez", "Martín", "Jiménez", "Ruiz", "Muñoz", "Álvarez", "Romero"),
    ),
    "pl": (
        ("Anna", "Katarzyna", "Małgorzata", "Agnieszka", "Magdalena", "Joanna", "Zofia",
         "Aleksandra"),
        ("Piotr", "Krzysztof", "Tomasz", "Paweł", "Michał", "Łukasz", "Marcin", "Jakub"),
        ("Nowak", "Wójcik", "Kowalczyk", "Woźniak", "Mazur", "Krawczyk", "Kaczmarek", "Zając",
         "Król", "Wieczorek", "Wróbel", "Dudek"),
    ),
    "se": (
        ("Anna", "Eva", "Maria", "Karin", "Sara", "Åsa", "Ingrid", "Linnéa"),
        ("Erik", "Lars", "Karl", "Anders", "Johan", "Per", "Mikael", "Björn"),
        ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
         "Persson", "Söderberg", "Lindström", "Åberg", "Bergström"),
    ),
    "dk": (
        ("Mette", "Hanne", "Anne", "Kirsten", "Sofie", "Ida", "Freja", "Line"),
        ("Søren", "Jens", "Niels", "Lars", "Rasmus", "Mads", "Anders", "Jørgen"),
        ("Jensen", "Nielsen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen",
         "Sørensen", "Rasmussen", "Jørgensen", "Møller", "Kristensen"),
    ),
}

SENIORITY = ("decision_maker", "manager", "staff", "junior", "unknown")
SENIORITY_PROBS = (0.2, 0.35, 0.3, 0.08, 0.07)
GERMAN_TITLE_SHARE = 0.55
"""Share of leads in Germany, Austria and Switzerland who type their job title in German."""

# level -> English titles (any gender), German titles as (male, female)
JOB_TITLES: dict[str, tuple[tuple[str, ...], tuple[tuple[str, str], ...]]] = {
    "decision_maker": (
        ("CEO", "CMO", "Managing Director", "Head of Marketing", "Marketing Director",
         "Sales Director", "VP Sales", "Head of Sales", "Chief Digital Officer", "Founder"),
        (("Geschäftsführer", "Geschäftsführerin"), ("Leiter Marketing", "Leiterin Marketing"),
         ("Leiter Vertrieb", "Leiterin Vertrieb"), ("Marketingleiter", "Marketingleiterin"),
         ("Inhaber", "Inhaberin"), ("Vorstand", "Vorständin"),
         ("Bereichsleiter Marketing & Vertrieb", "Bereichsleiterin Marketing & Vertrieb")),
    ),
    "manager": (
        ("Marketing Manager", "Sales Manager", "CRM Manager", "Marketing Automation Manager",
         "Head of Digital", "Team Lead Online Marketing", "Product Manager", "Key Account Manager"),
        (("Teamleiter Online-Marketing", "Teamleiterin Online-Marketing"),
         ("Produktmanager", "Produktmanagerin"), ("Marketing-Manager", "Marketing-Managerin"),
         ("Vertriebsmanager", "Vertriebsmanagerin"),
         ("CRM-Verantwortlicher", "CRM-Verantwortliche")),
    ),
    "staff": (
        ("Marketing Specialist", "Marketing Coordinator", "Assistant", "Sales Representative",
         "Content Manager", "Developer", "Consultant", "Office Manager"),
        (("Referent Marketing", "Referentin Marketing"),
         ("Sachbearbeiter Vertrieb", "Sachbearbeiterin Vertrieb"),
         ("Assistent der Geschäftsführung", "Assistentin der Geschäftsführung"),
         ("Mitarbeiter Marketing", "Mitarbeiterin Marketing"),
         ("Softwareentwickler", "Softwareentwicklerin"), ("Berater", "Beraterin")),
    ),
    "junior": (
        ("Intern", "Student", "Trainee", "Working Student"),
        (("Werkstudent", "Werkstudentin"), ("Praktikant", "Praktikantin"),
         ("Auszubildender", "Auszubildende"), ("Student", "Studentin")),
    ),
}
EMAIL_PATTERNS = ("{f}.{l}", "{i}.{l}", "{f}{l}", "{l}", "{f}", "{f}_{l}")
EMAIL_PATTERN_PROBS = (0.55, 0.2, 0.05, 0.07, 0.06, 0.07)
FREE_MAIL_SHARE = 0.13

# ----------------------------------------------------------------------------------------------
# Companies
# ----------------------------------------------------------------------------------------------

INDUSTRIES = tuple(INDUSTRY_WEIGHTS)
INDUSTRY_PROBS = (0.16, 0.1, 0.15, 0.12, 0.07, 0.06, 0.05, 0.06, 0.07, 0.05, 0.04, 0.07)
# Brand names are built from two halves: Nord + licht, Alpen + blick, Silver + line, ...
BRAND_PARTS_DACH = (
    ("Nord", "Süd", "Ost", "West", "Alpen", "Rhein", "Elb", "Isar", "Spree", "Main", "Donau",
     "Neckar", "Berg", "Tal", "Wald", "Sonnen", "Stern", "Weit", "Fern", "Adler", "Falken",
     "Eichen", "Tannen", "Hansa", "Morgen", "Blau", "Grün", "Silber", "Bach", "See"),
    ("licht", "blick", "werk", "quell", "hof", "stein", "feld", "haus", "brücke", "wind", "turm",
     "sicht", "punkt", "kraft", "bau", "tor"),
)
BRAND_PARTS_INTL = (
    ("North", "Blue", "Silver", "Oak", "Bright", "Red", "Green", "Clear", "High", "Stone",
     "River", "Sun", "Star", "Iron", "Golden", "Maple", "Harbor", "Swift", "Bold", "True"),
    ("wind", "bridge", "line", "field", "path", "stone", "way", "view", "land", "point", "gate",
     "wood", "crest", "port", "vale"),
)
SECTOR_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Software & IT": (("Software", "IT-Systeme", "Digital", "Informatik"),
                      ("Software", "Digital", "Systems", "Tech")),
    "E-Commerce & Retail": (("Handel", "Versand", "Online-Shop", "Commerce"),
                            ("Retail", "Commerce", "Stores", "Trading")),
    "Manufacturing": (("Maschinenbau", "Metallwerke", "Technik", "Anlagenbau"),
                      ("Engineering", "Manufacturing", "Industries", "Components")),
    "Professional Services": (("Consulting", "Beratung", "Partner", "Steuerberatung"),
                              ("Consulting", "Advisory", "Partners", "Associates")),
    "Financial Services": (("Finanz", "Versicherungsmakler", "Vermögensberatung", "Leasing"),
                           ("Capital", "Finance", "Insurance", "Investments")),
    "Healthcare": (("Medizintechnik", "Pharma", "Gesundheit", "Pflegedienste"),
                   ("Health", "Medical", "Pharma", "Care")),
    "Education": (("Akademie", "Bildung", "Schulungszentrum", "Lernwelt"),
                  ("Academy", "Learning", "Education", "Training")),
    "Media & Publishing": (("Verlag", "Medien", "Kommunikation", "Druck"),
                           ("Media", "Publishing", "Press", "Communications")),
    "Logistics": (("Logistik", "Spedition", "Transporte", "Lager"),
                  ("Logistics", "Freight", "Transport", "Shipping")),
    "Tourism & Hospitality": (("Reisen", "Hotels", "Touristik", "Gastronomie"),
                              ("Travel", "Hotels", "Hospitality", "Tours")),
    "Public Sector": (("Stadtwerke", "Zweckverband", "Kommunalservice", "Landesbetrieb"),
                      ("Council Services", "Agency", "Public Services", "Trust")),
    "Energy & Utilities": (("Energie", "Solartechnik", "Netze", "Wärme"),
                           ("Energy", "Power", "Utilities", "Renewables")),
}
EMPLOYEES_LOG10 = (1.9, 0.75)
"""Company size: log10(employees) ~ Normal(mean, sd), clipped to 1..150,000."""

# ----------------------------------------------------------------------------------------------
# Interest fields and content
# ----------------------------------------------------------------------------------------------

TOPICS = ("marketing_automation", "lead_management", "crm_integration", "analytics",
          "email_marketing")
TOPIC_PROBS = (0.3, 0.25, 0.15, 0.12, 0.18)
TOPIC_LABELS = ("Marketing Automation", "Lead Management", "CRM-Integration", "Analytics",
                "E-Mail-Marketing")

# activity type -> (asset, topic or None); the web content a lead can touch
CONTENT: dict[str, tuple[tuple[str, str | None], ...]] = {
    "blog_read": (
        ("Blog: Marketing Automation für den Mittelstand", "marketing_automation"),
        ("Blog: 5 Workflows, die jedes Team braucht", "marketing_automation"),
        ("Blog: Customer Journeys ohne Silos", "marketing_automation"),
        ("Blog: 7 Lead-Nurturing-Fehler", "lead_management"),
        ("Blog: Lead Scoring verständlich erklärt", "lead_management"),
        ("Blog: MQL oder SQL?", "lead_management"),
        ("Blog: Die Übergabe an den Vertrieb", "lead_management"),
        ("Blog: CRM-Integration in 5 Schritten", "crm_integration"),
        ("Blog: Eine Datenbank für Marketing und Vertrieb", "crm_integration"),
        ("Blog: Dubletten im CRM vermeiden", "crm_integration"),
        ("Blog: Kampagnen-Reporting mit Aussagekraft", "analytics"),
        ("Blog: Attribution im B2B", "analytics"),
        ("Blog: KPIs für Marketing Automation", "analytics"),
        ("Blog: Betreffzeilen, die geöffnet werden", "email_marketing"),
        ("Blog: Double Opt-in richtig umsetzen", "email_marketing"),
        ("Blog: Newsletter oder Nurturing?", "email_marketing"),
    ),
    "whitepaper_download": (
        ("Whitepaper: Marketing Automation Guide", "marketing_automation"),
        ("E-Book: Automatisierte Kampagnen in 30 Tagen", "marketing_automation"),
        ("Whitepaper: Lead Management Playbook", "lead_management"),
        ("E-Book: Lead Scoring Schritt für Schritt", "lead_management"),
        ("Whitepaper: CRM-Integration Checkliste", "crm_integration"),
        ("Whitepaper: B2B-Reporting Benchmark", "analytics"),
        ("Whitepaper: E-Mail-Marketing und DSGVO", "email_marketing"),
        ("E-Book: Nurture-Strecken, die konvertieren", "email_marketing"),
    ),
    "page_view": (
        ("Produkt: Marketing Automation", "marketing_automation"),
        ("Produkt: Lead Management", "lead_management"),
        ("Produkt: CRM-Connector", "crm_integration"),
        ("Produkt: Analytics", "analytics"),
        ("Produkt: E-Mail-Editor", "email_marketing"),
        ("Case Study: Maschinenbau", "marketing_automation"),
        ("Case Study: E-Commerce", "email_marketing"),
        ("Case Study: Finanzdienstleister", "lead_management"),
        ("Startseite", None),
        ("Integrationen", None),
        ("Über uns", None),
        ("Kontakt", None),
        ("Karriere", None),
    ),
    "pricing_page_view": (("Preise", None), ("Preise: Enterprise", None)),
    "demo_request": (("Demo anfordern", None),),
    "form_submit": (("Kontaktformular", None), ("Rückruf anfordern", None),
                    ("Newsletter-Anmeldung", None)),
    "sales_call": (("Erstgespräch", None), ("Bedarfsanalyse", None), ("Follow-up-Anruf", None)),
    "meeting": (("Demo-Termin", None), ("Angebotsbesprechung", None), ("Verhandlung", None)),
}
CUSTOMER_MEETINGS = ("Kick-off", "Onboarding-Termin", "Quartalsgespräch")
WEBINAR_TITLES = (
    ("Webinar: Marketing Automation für Einsteiger", "marketing_automation"),
    ("Webinar: Lead Scoring in 30 Minuten", "lead_management"),
    ("Webinar: CRM-Integration ohne IT-Projekt", "crm_integration"),
    ("Webinar: Reporting für Marketing und Vertrieb", "analytics"),
    ("Webinar: E-Mail-Nurturing mit System", "email_marketing"),
    ("Webinar: Live-Demo der Plattform", "marketing_automation"),
)
NURTURE_SUBJECTS = (
    "Willkommen: Ihr Einstieg in {label}",
    "3 Praxistipps: {label}",
    "Case Study: {label} im Mittelstand",
    "Checkliste: {label}",
    "Einladung zur Live-Demo",
    "Persönliche Beratung zu {label}",
)
NURTURE_DAYS = (1, 4, 8, 13, 19, 26)
# (name, city, region, month, day, days, size)
TRADE_FAIRS = (
    ("DMEXCO", "Köln", "dach", 9, 17, 2, 3.0),
    ("OMR Festival", "Hamburg", "dach", 5, 6, 2, 2.0),
    ("CMCX", "München", "dach", 3, 19, 2, 1.0),
    ("Mailingtage", "Nürnberg", "dach", 6, 11, 2, 1.0),
    ("SuisseEMEX", "Zürich", "dach", 8, 26, 2, 0.8),
    ("B2B Marketing Expo", "London", "international", 3, 26, 2, 0.8),
)
WORKSHOP_MONTHS = (2, 5, 9, 11)
MAILINGS = ((2, "Frühjahr", "Automation-Check"), (6, "Sommer", "Lead-Scoring-Poster"),
            (10, "Herbst", "Jahresplaner"))
GERMAN_MONTHS = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
                 "September", "Oktober", "November", "Dezember")

CHANNEL_OF_TYPE: dict[str, str] = {
    "page_view": "web",
    "pricing_page_view": "web",
    "blog_read": "web",
    "whitepaper_download": "web",
    "webinar_registration": "web",
    "webinar_attended": "event",
    "email_sent": "email",
    "email_open": "email",
    "email_click": "email",
    "form_submit": "web",
    "demo_request": "web",
    "trade_fair_visit": "event",
    "qr_code_scan": "print",
    "workshop_registration": "event",
    "sales_call": "phone",
    "meeting": "phone",
}

# ----------------------------------------------------------------------------------------------
# Engagement (how intent turns into events)
# ----------------------------------------------------------------------------------------------

WEB_TYPES = ("page_view", "blog_read", "whitepaper_download", "pricing_page_view", "form_submit",
             "demo_request")
STAGES = ("research", "evaluation", "buying")
STAGE_LOGITS = ((0.0, 0.0), (-0.9, 0.9), (-3.0, 1.3))
"""Per stage (intercept, slope): a phase's stage logits are intercept + slope * heat."""
STAGE_MIX = np.array([
    [0.4, 0.38, 0.12, 0.06, 0.04, 0.0],
    [0.36, 0.14, 0.14, 0.28, 0.05, 0.03],
    [0.27, 0.05, 0.05, 0.38, 0.08, 0.17],
])
STAGE_EVENTS = (1.0, 1.5, 2.0)
"""Mean extra events per web session by stage (1 + Poisson)."""
EXTRA_PHASES = 0.9
EXTRA_EPISODES = 1.2
EPISODE_GAP_DAYS = 3.0
REENGAGE_SHARE = 0.35
PHASE_ESCALATION = 0.8
"""Heat added per later interest phase: journeys tend to go from research to buying."""
QUALIFICATION_CALL = {"trade_fair": 0.5, "web_form": 0.45, "referral": 0.7, "local_workshop": 0.4}
"""Share of new leads per source that sales calls within days, whatever their intent."""
QUALIFICATION_CALL_OTHER = 0.12
CAMPAIGN_BASE = {"webinar": 0.022, "trade_fair": 0.06, "workshop": 0.06, "mailing": 0.03}
CAMPAIGN_ELASTICITY = {"webinar": 0.5, "trade_fair": 0.4, "workshop": 0.5, "mailing": 0.3}

# ----------------------------------------------------------------------------------------------
# Junk, messy records, duplicates, objections
# ----------------------------------------------------------------------------------------------

JUNK_KINDS = ("keyboard_mash", "fictional_name", "city_not_in_country", "first_dropdown_country",
              "invalid_phone", "invalid_email")
JUNK_PROBS = (0.015, 0.015, 0.015, 0.015, 0.02, 0.015)
FAKE_PERSON_KINDS = ("keyboard_mash", "fictional_name")
"""Kinds that are not a real prospect (is_junk); the others are real people with a bad field."""
DUPLICATE_SHARE = 0.025
DUPLICATE_GAP_DAYS = 20.0
"""Mean days between a person's two registrations (capped by the time a chunk spans)."""
OBJECTION_SHARE = 0.03
KEYBOARD_MASH = ("asdf", "qwer", "jkjkjk", "asdfgh", "xxx", "aaaa", "qwertz", "yxcv", "hjkl",
                 "ölkj", "abcd", "ABCD", "sdfsdf", "fghj")
FICTIONAL_NAMES = (("Test", "Test"), ("Max", "Mustermann"), ("Erika", "Mustermann"),
                   ("Alice", "im Wunderland"), ("Donald", "Duck"), ("Micky", "Maus"),
                   ("John", "Doe"), ("Jane", "Doe"), ("Hans", "Wurst"), ("Peter", "Pan"))
INVALID_PHONES = ("12345", "0000000", "123", "01234", "1111111111", "0", "+49 000", "-")
INVALID_EMAILS = ("asdf@", "test@test", "{f}@firma", "{l}@gmx", "keine", "{f}.{l}@", "n/a")
JUNK_EMAILS = ("asdf@asdf.de", "test@test.de", "info@example.com", "a@b.de", "xxx@xxx.com")
# fmt: on

# ==============================================================================================
# Public API
# ==============================================================================================


@dataclass(frozen=True)
class DemoSummary:
    """What ``write_demo_crm`` wrote: counts for the CLI's summary line and the file paths."""

    n_leads: int
    n_activities: int
    n_outcomes: int
    n_won: int
    paths: dict[str, Path]


def write_demo_crm(
    out_dir: str | Path,
    n_leads: int = 5000,
    seed: int = 0,
    fmt: Literal["parquet", "csv"] = "parquet",
    end: str = "2026-11-01",
    progress: Callable[[int], None] | None = None,
    *,
    chunk_size: int = CHUNK_SIZE,
) -> DemoSummary:
    """Write a demo CRM (leads, activities, outcomes, ground truth) into ``out_dir``.

    Deterministic: the same arguments give byte-identical files (``chunk_size`` is part of the
    recipe; the CLI keeps the default). ``end`` closes the two-year window; every timestamp lies
    before it. Memory stays bounded because leads are generated and written one chunk at a time.

    >>> summary = write_demo_crm("demo", n_leads=1000, seed=7)  # doctest: +SKIP
    >>> summary.paths["leads"].name  # doctest: +SKIP
    'leads.parquet'
    """
    if n_leads < 1 or n_leads > 9_999_999:
        raise ValueError(f"n_leads must be between 1 and 9,999,999, got {n_leads}")
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"fmt must be 'parquet' or 'csv', got {fmt!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ctx = _Context.build(n_leads, seed, end)
    skeleton = _lead_skeleton(n_leads, ctx, np.random.default_rng([seed, 1]))
    tally = _Tally()
    paths = {name: out / f"{name}.{fmt}" for name in (*COLUMNS, "ground_truth_leads")}
    with _Sinks(paths, fmt) as sinks:
        for lo in range(0, n_leads, chunk_size):
            hi = min(lo + chunk_size, n_leads)
            rng = np.random.default_rng([seed, 2, lo // chunk_size])
            chunk = _generate_chunk(ctx, skeleton.slice(lo, hi), lo, rng)
            for name, table in chunk.tables().items():
                sinks.write(name, table)
            tally.add(chunk)
            if progress is not None:
                progress(hi)
    paths["ground_truth"] = out / "ground_truth.json"
    paths["ground_truth"].write_text(
        json.dumps(_ground_truth(tally, n_leads, seed, end, fmt), indent=2, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    return DemoSummary(
        n_leads=n_leads,
        n_activities=tally.n_activities,
        n_outcomes=tally.n_outcomes,
        n_won=tally.n_won,
        paths=paths,
    )


# ==============================================================================================
# Shared context: window, vocabularies, calendar, company pool
# ==============================================================================================


class _Strings:
    """Interned strings: events carry small integer ids, decoded to Arrow strings on output."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self._ids: dict[str, int] = {}

    def id(self, value: str) -> int:
        if value not in self._ids:
            self._ids[value] = len(self.values)
            self.values.append(value)
        return self._ids[value]

    def ids(self, values: Sequence[str]) -> np.ndarray:
        return np.array([self.id(v) for v in values], dtype=np.int32)

    def arrow(self, ids: np.ndarray) -> pa.Array:
        return _decode(ids, self.values)


@dataclass
class _Schedule:
    """Dated campaigns of one kind (webinars, fairs, ...): one entry per date."""

    start: np.ndarray
    asset: np.ndarray
    campaign: np.ndarray
    topic: np.ndarray
    place: np.ndarray
    size: np.ndarray
    days: np.ndarray


@dataclass
class _Context:
    """Everything shared by all chunks of one run, built once from the arguments."""

    start: int
    end: int
    strings: _Strings
    content: dict[str, tuple[np.ndarray, np.ndarray]]
    asset_topic: np.ndarray
    schedules: dict[str, _Schedule]
    nurture_asset: np.ndarray
    nurture_campaign: np.ndarray
    cities: _Cities
    companies: _Companies

    @classmethod
    def build(cls, n_leads: int, seed: int, end: str) -> _Context:
        end_day = date.fromisoformat(end)
        start_day = end_day - timedelta(days=WINDOW_DAYS)
        strings = _Strings()
        content = {
            kind: (strings.ids([a for a, _ in items]), _topic_ids([t for _, t in items]))
            for kind, items in CONTENT.items()
        }
        schedules = _calendar(start_day, end_day, strings)
        nurture_asset = np.array(
            [strings.ids([s.format(label=lbl) for s in NURTURE_SUBJECTS]) for lbl in TOPIC_LABELS]
        )
        nurture_campaign = np.array(
            [
                strings.ids(
                    [
                        f"Nurture {label} {k + 1}/{len(NURTURE_SUBJECTS)}"
                        for k in range(len(NURTURE_SUBJECTS))
                    ]
                )
                for label in TOPIC_LABELS
            ]
        )
        for value in (
            *CUSTOMER_MEETINGS,
            "Google Ads",
            "LinkedIn Ads",
            "Empfehlung",
            "Landingpage Mailing",
            "Qualifizierungsanruf",
        ):
            strings.id(value)
        asset_topic = np.full(len(strings.values), -1, dtype=np.int8)
        for ids, topics in content.values():
            asset_topic[ids] = topics
        for sched in schedules.values():
            asset_topic[sched.asset] = sched.topic
        cities = _Cities.build()
        companies = _Companies.build(n_leads, cities, np.random.default_rng([seed, 0]))
        return cls(
            start=_minutes(start_day),
            end=_minutes(end_day),
            strings=strings,
            content=content,
            asset_topic=asset_topic,
            schedules=schedules,
            nurture_asset=nurture_asset,
            nurture_campaign=nurture_campaign,
            cities=cities,
            companies=companies,
        )


def _topic_ids(topics: Sequence[str | None]) -> np.ndarray:
    return np.array([-1 if t is None else TOPICS.index(t) for t in topics], dtype=np.int8)


def _minutes(day: date | datetime) -> int:
    return int(np.datetime64(day, "m").astype(np.int64))


class _Dated(NamedTuple):
    """One dated campaign, before the calendar turns them into arrays."""

    day: date
    hour: int
    asset: str
    campaign: str
    topic: str | None = None
    place: int = -1
    size: float = 1.0
    days: int = 1


def _calendar(start: date, end: date, strings: _Strings) -> dict[str, _Schedule]:
    """Webinars, trade fairs, workshops, printed mailings and newsletters inside the window."""
    rows: dict[str, list[_Dated]] = {
        kind: [] for kind in ("webinar", "trade_fair", "workshop", "mailing", "newsletter")
    }
    month = date(start.year, start.month, 1)
    while month < end:
        rows["webinar"] += _webinars(month)
        rows["newsletter"].append(_newsletter(month))
        rows["trade_fair"] += [
            _Dated(date(month.year, m, d), 9, f"{fair} {month.year}", f"{fair} {month.year}",
                   place=int(region != "dach"), size=size, days=days)
            for fair, _city, region, m, d, days, size in TRADE_FAIRS
            if m == month.month
        ]  # fmt: skip
        if month.month in WORKSHOP_MONTHS:
            tuesday = _weekdays_of_month(month, 1)[1]
            rows["workshop"] += [
                _Dated(tuesday + timedelta(days=k % 3), 9, f"Workshop {city.split()[0]}",
                       f"Workshop-Tour {month.year}", place=k)
                for k, city in enumerate(WORKSHOP_CITIES)
            ]  # fmt: skip
        rows["mailing"] += [
            _Dated(date(month.year, m, 10), 8, f"Mailing {season} {month.year}: {theme}",
                   f"Print-Mailing {season} {month.year}")
            for m, season, theme in MAILINGS
            if m == month.month
        ]  # fmt: skip
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return {kind: _schedule(items, start, end, strings) for kind, items in rows.items()}


def _webinars(month: date) -> list[_Dated]:
    """Second and fourth Thursday at 10:00; the titles take turns."""
    thursdays = _weekdays_of_month(month, 3)
    first = 2 * (12 * month.year + month.month)
    dated = []
    for k, day in enumerate((thursdays[1], thursdays[3])):
        title, topic = WEBINAR_TITLES[(first + k) % len(WEBINAR_TITLES)]
        dated.append(_Dated(day, 10, title, f"Webinar-Reihe {month.year}", topic))
    return dated


def _newsletter(month: date) -> _Dated:
    name = f"Newsletter {GERMAN_MONTHS[month.month - 1]} {month.year}"
    return _Dated(_weekdays_of_month(month, 1)[0], 8, name, "Monatsnewsletter")


def _weekdays_of_month(month: date, weekday: int) -> list[date]:
    first = month + timedelta(days=(weekday - month.weekday()) % 7)
    return [d for d in (first + timedelta(weeks=k) for k in range(5)) if d.month == month.month]


def _schedule(rows: list[_Dated], start: date, end: date, strings: _Strings) -> _Schedule:
    rows = [r for r in rows if start <= r.day < end]
    return _Schedule(
        start=np.array([_minutes(r.day) + 60 * r.hour for r in rows], dtype=np.int64),
        asset=strings.ids([r.asset for r in rows]),
        campaign=strings.ids([r.campaign for r in rows]),
        topic=_topic_ids([r.topic for r in rows]),
        place=np.array([r.place for r in rows], dtype=np.int16),
        size=np.array([r.size for r in rows], dtype=np.float64),
        days=np.array([r.days for r in rows], dtype=np.int64),
    )


@dataclass
class _Cities:
    """All cities as flat arrays, with each country's slice."""

    name: np.ndarray
    country: np.ndarray
    area: list[str]
    groups: list[tuple[int, ...]]
    team: np.ndarray
    workshop: np.ndarray
    offsets: np.ndarray

    @classmethod
    def build(cls) -> _Cities:
        rows = [(c, *city) for c, country in enumerate(COUNTRIES) for city in CITIES[country.name]]
        counts = [len(CITIES[country.name]) for country in COUNTRIES]
        return cls(
            name=np.array([r[1] for r in rows], dtype=object),
            country=np.array([r[0] for r in rows], dtype=np.int16),
            area=[r[2] for r in rows],
            groups=[r[3] for r in rows],
            team=np.array([TEAMS.index(r[4]) for r in rows], dtype=np.int8),
            workshop=np.array(
                [WORKSHOP_CITIES.index(r[5]) if r[5] else -1 for r in rows], dtype=np.int8
            ),
            offsets=np.concatenate([[0], np.cumsum(counts)]),
        )

    def random_in(self, country: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        lo, hi = self.offsets[country], self.offsets[country + 1]
        return lo + (rng.random(len(country)) * (hi - lo)).astype(np.int64)


@dataclass
class _Companies:
    """A pool of companies per country; leads of the same company share its attributes."""

    name: np.ndarray
    domain: np.ndarray
    industry: np.ndarray
    employees: np.ndarray
    city: np.ndarray
    offsets: np.ndarray

    @classmethod
    def build(cls, n_leads: int, cities: _Cities, rng: np.random.Generator) -> _Companies:
        size = int(np.clip(n_leads // 2, 1000, 400_000))
        counts = [max(20, round(size * c.prob)) for c in COUNTRIES]
        country = np.repeat(np.arange(len(COUNTRIES)), counts)
        n = len(country)
        industry = rng.choice(len(INDUSTRIES), n, p=_normed(INDUSTRY_PROBS))
        log10 = np.clip(rng.normal(*EMPLOYEES_LOG10, n), 0, math.log10(150_000))
        employees = np.maximum(1, np.round(10**log10)).astype(np.int64)
        city = cities.random_in(country, rng)
        pattern = rng.choice(4, n, p=[0.35, 0.3, 0.15, 0.2])
        picks = rng.random((n, 6))
        names, domains, taken = [], [], set()
        for k in range(n):
            spec = COUNTRIES[country[k]]
            core, form = _company_name(spec, INDUSTRIES[industry[k]], int(pattern[k]), picks[k])
            if f"{core} {form}" in taken:
                core = f"{core} {cities.name[city[k]].split()[0]}"
            taken.add(f"{core} {form}")
            names.append(f"{core} {form}")
            domains.append(f"{_slug(core)}.{spec.tld}")
        return cls(
            name=np.array(names, dtype=object),
            domain=np.array(domains, dtype=object),
            industry=industry.astype(np.int8),
            employees=employees,
            city=city,
            offsets=np.concatenate([[0], np.cumsum(counts)]),
        )

    def pick(self, country: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Some companies bring many leads: index ~ size * U^1.3 within the country's pool."""
        lo, hi = self.offsets[country], self.offsets[country + 1]
        return lo + (rng.random(len(country)) ** 1.3 * (hi - lo)).astype(np.int64)


def _company_name(country: Country, industry: str, pattern: int, u: np.ndarray) -> tuple[str, str]:
    """(name without legal form, legal form): 'Nordlicht Software', 'Huber & Partner', ..."""
    german = country.dach
    first_parts, second_parts = BRAND_PARTS_DACH if german else BRAND_PARTS_INTL
    brand = _choose(first_parts, u[0]) + _choose(second_parts, u[5])
    word = _choose(SECTOR_WORDS[industry][0 if german else 1], u[1])
    last = PERSON_NAMES[country.names[0][0]][2]
    surname, partner = _choose(last, u[2]), _choose(last, u[3])
    form = _pick_weighted(country.legal_forms, u[4])
    if pattern == 0:
        return f"{brand} {word}", form
    if pattern == 1:
        return f"{surname} {word}", form
    if pattern == 2:
        return f"{surname} & {partner if partner != surname else 'Partner'}", form
    return brand, form


def _pick_weighted(options: tuple[tuple[str, float], ...], u: float) -> str:
    total = 0.0
    for value, weight in options:
        total += weight
        if u < total:
            return value
    return options[-1][0]


_ASCII = str.maketrans(
    {
        "ä": "ae",
        "ö": "oe",
        "ü": "ue",
        "ß": "ss",
        "Ä": "Ae",
        "Ö": "Oe",
        "Ü": "Ue",
        "ø": "o",
        "Ø": "O",
        "å": "a",
        "Å": "A",
        "æ": "ae",
        "ł": "l",
        "Ł": "L",
        "'": "",
        " ": "",
    }
)


def _ascii(text: str) -> str:
    """Email-safe spelling: Müller -> Mueller, Sørensen -> Sorensen, Hélène -> Helene."""
    text = text.translate(_ASCII)
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _slug(text: str) -> str:
    words = text.replace("&", " ").replace(".", " ").split()
    return "-".join(_ascii(w).lower() for w in words)


def _normed(p: Sequence[float]) -> np.ndarray:
    arr = np.asarray(p, dtype=np.float64)
    return arr / arr.sum()


# ==============================================================================================
# Lead skeleton: created_at and source for all leads, sorted by time
# ==============================================================================================


@dataclass
class _Skeleton:
    created: np.ndarray
    source: np.ndarray
    item: np.ndarray

    def slice(self, lo: int, hi: int) -> _Skeleton:
        return _Skeleton(self.created[lo:hi], self.source[lo:hi], self.item[lo:hi])


def _lead_skeleton(n: int, ctx: _Context, rng: np.random.Generator) -> _Skeleton:
    """When each lead was created and where it came from; campaign sources peak at their dates."""
    source = rng.choice(len(SOURCES), n, p=_normed(SOURCE_PROBS)).astype(np.int8)
    created = _seasonal_times(n, ctx, rng)
    item = np.full(n, -1, dtype=np.int32)
    for src, (kind, mean_days, min_days) in CAMPAIGN_SOURCES.items():
        mask = source == SOURCES.index(src)
        sched = ctx.schedules[kind]
        reach = (3 * mean_days + np.sign(mean_days) * min_days) * MIN_PER_DAY
        ok = (sched.start + min(reach, 0) > ctx.start) & (sched.start + max(reach, 0) < ctx.end)
        choices = np.flatnonzero(ok)
        k = int(mask.sum())
        if len(choices) == 0:
            source[mask] = SOURCES.index("web_form")
            continue
        picked = choices[rng.choice(len(choices), k, p=_normed(sched.size[choices]))]
        if kind == "trade_fair":
            days = rng.integers(0, sched.days[picked])
            offset = days * MIN_PER_DAY + _business_minute(rng, k) - 9 * 60
        else:
            magnitude = np.minimum(rng.exponential(abs(mean_days), k), 3 * abs(mean_days))
            offset = _days(np.sign(mean_days) * (magnitude + min_days))
        created[mask] = sched.start[picked] + offset
        item[mask] = picked
    order = np.argsort(created, kind="stable")
    return _Skeleton(created[order], source[order], item[order])


def _seasonal_times(n: int, ctx: _Context, rng: np.random.Generator) -> np.ndarray:
    days = np.arange(WINDOW_DAYS)
    stamps = (ctx.start // MIN_PER_DAY + days).astype("datetime64[D]")
    month = stamps.astype("datetime64[M]").astype(np.int64) % 12
    weekday = (stamps.astype(np.int64) + 3) % 7
    trend = np.linspace(0.85, 1.15, WINDOW_DAYS)
    weight = np.take(LEAD_MONTH_WEIGHTS, month) * np.take(WEEKDAY_WEIGHTS, weekday) * trend
    day = rng.choice(WINDOW_DAYS, n, p=weight / weight.sum())
    return ctx.start + day * MIN_PER_DAY + _business_minute(rng, n)


def _business_minute(rng: np.random.Generator, n: int) -> np.ndarray:
    hour = rng.choice(24, n, p=_normed(HOUR_WEIGHTS))
    return hour * 60 + rng.integers(0, 60, n)


# ==============================================================================================
# Leads of one chunk
# ==============================================================================================


@dataclass
class _Leads:
    """One chunk of leads: contract columns plus the hidden variables, as numpy arrays."""

    created: np.ndarray
    source: np.ndarray
    item: np.ndarray
    country: np.ndarray
    city: np.ndarray
    company: np.ndarray
    female: np.ndarray
    first_name: np.ndarray
    last_name: np.ndarray
    job_title: np.ndarray
    seniority: np.ndarray
    industry: np.ndarray
    employees: np.ndarray
    email: np.ndarray
    phone: np.ndarray
    team: np.ndarray
    consent: np.ndarray
    topic: np.ndarray
    intent: np.ndarray
    fit: np.ndarray
    opener: np.ndarray
    junk_kind: np.ndarray
    duplicate_of: np.ndarray
    display_country: np.ndarray
    display_city: np.ndarray
    company_name: np.ndarray

    def __len__(self) -> int:
        return len(self.created)

    @property
    def is_junk(self) -> np.ndarray:
        fake = [JUNK_KINDS.index(k) for k in FAKE_PERSON_KINDS]
        return np.isin(self.junk_kind, fake)

    @property
    def dach(self) -> np.ndarray:
        return np.array([c.dach for c in COUNTRIES])[self.country]


def _make_leads(ctx: _Context, sk: _Skeleton, rng: np.random.Generator) -> _Leads:
    n = len(sk.created)
    country, city = _place_leads(ctx, sk, rng)
    company = ctx.companies.pick(country, rng)
    own_city = rng.random(n) < 0.7
    same_country = ctx.cities.country[ctx.companies.city[company]] == country
    city = np.where(
        own_city & same_country & (sk.source != SOURCES.index("local_workshop")),
        ctx.companies.city[company],
        city,
    )
    female = rng.random(n) < 0.42
    first, last = _person_names(country, female, rng)
    seniority = rng.choice(len(SENIORITY), n, p=SENIORITY_PROBS).astype(np.int8)
    industry = ctx.companies.industry[company]
    true_employees = ctx.companies.employees[company]
    leads = _Leads(
        created=sk.created,
        source=sk.source,
        item=sk.item,
        country=country,
        city=city,
        company=company,
        female=female,
        first_name=first,
        last_name=last,
        job_title=_job_titles(seniority, female, country, rng),
        seniority=seniority,
        industry=np.where(rng.random(n) < 0.05, -1, industry).astype(np.int8),
        employees=_reported_employees(true_employees, rng),
        email=_emails(first, last, ctx.companies.domain[company], country, rng),
        phone=_phones(ctx.cities, city, country, rng),
        team=_teams(ctx.cities.team[city], rng),
        consent=rng.random(n) >= OBJECTION_SHARE,
        topic=rng.choice(len(TOPICS), n, p=_normed(TOPIC_PROBS)).astype(np.int8),
        intent=rng.normal(0.0, 1.0, n) + np.take(list(SOURCE_INTENT.values()), sk.source),
        fit=_fit(seniority, industry, true_employees, country),
        opener=rng.normal(-1.1, 1.0, n),
        junk_kind=np.full(n, -1, dtype=np.int8),
        duplicate_of=np.full(n, -1, dtype=np.int64),
        display_country=np.array([c.name for c in COUNTRIES], dtype=object)[country],
        display_city=ctx.cities.name[city].copy(),
        company_name=ctx.companies.name[company].copy(),
    )
    _plant_junk(leads, rng)
    _plant_duplicates(leads, rng)
    return leads


def _place_leads(
    ctx: _Context, sk: _Skeleton, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Country and city; campaign sources pin them (a workshop's region, a DACH mailing)."""
    n = len(sk.created)
    probs = _normed([c.prob for c in COUNTRIES])
    dach = np.array([c.dach for c in COUNTRIES])
    country = rng.choice(len(COUNTRIES), n, p=probs)
    dach_country = rng.choice(len(COUNTRIES), n, p=_normed(probs * dach))
    intl_country = rng.choice(len(COUNTRIES), n, p=_normed(probs * ~dach))
    fair = sk.source == SOURCES.index("trade_fair")
    fair_place = np.full(n, -1)
    fair_place[fair] = ctx.schedules["trade_fair"].place[sk.item[fair]]
    country = np.where(fair & (fair_place == 0) & (rng.random(n) < 0.9), dach_country, country)
    country = np.where(fair & (fair_place == 1), intl_country, country)
    country = np.where(sk.source == SOURCES.index("qr_code_mailing"), dach_country, country)
    city = ctx.cities.random_in(country, rng)
    workshop = sk.source == SOURCES.index("local_workshop")
    if workshop.any():
        place = ctx.schedules["workshop"].place[sk.item[workshop]]
        region = [np.flatnonzero(ctx.cities.workshop == w) for w in range(len(WORKSHOP_CITIES))]
        picks = rng.random(int(workshop.sum()))
        city[workshop] = [_choose(region[p], u) for p, u in zip(place, picks, strict=True)]
        country[workshop] = ctx.cities.country[city[workshop]]
    return country.astype(np.int16), city


def _person_names(
    country: np.ndarray, female: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    n = len(country)
    groups = list(PERSON_NAMES)
    group = np.empty(n, dtype=np.int8)
    u = rng.random(n)
    for c, spec in enumerate(COUNTRIES):
        mask = country == c
        cum = np.cumsum([p for _, p in spec.names])
        idx = np.minimum(np.searchsorted(cum, u[mask] * cum[-1], side="right"), len(cum) - 1)
        group[mask] = np.array([groups.index(g) for g, _ in spec.names])[idx]
    first = np.empty(n, dtype=object)
    last = np.empty(n, dtype=object)
    uf, ul = rng.random(n), rng.random(n)
    for g, name in enumerate(groups):
        women, men, surnames = PERSON_NAMES[name]
        for is_female, pool in ((True, women), (False, men)):
            mask = (group == g) & (female == is_female)
            first[mask] = np.array(pool, dtype=object)[(uf[mask] * len(pool)).astype(int)]
        mask = group == g
        last[mask] = np.array(surnames, dtype=object)[(ul[mask] * len(surnames)).astype(int)]
    return first, last


def _job_titles(
    seniority: np.ndarray, female: np.ndarray, country: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    n = len(seniority)
    dach = np.array([c.dach for c in COUNTRIES])[country]
    german = dach & (rng.random(n) < GERMAN_TITLE_SHARE)
    title = np.full(n, None, dtype=object)
    u = rng.random(n)
    for s, level in enumerate(SENIORITY):
        if level not in JOB_TITLES:
            continue
        english, german_pairs = JOB_TITLES[level]
        mask = (seniority == s) & ~german
        title[mask] = np.array(english, dtype=object)[(u[mask] * len(english)).astype(int)]
        for is_female in (False, True):
            mask = (seniority == s) & german & (female == is_female)
            pool = np.array([pair[int(is_female)] for pair in german_pairs], dtype=object)
            title[mask] = pool[(u[mask] * len(pool)).astype(int)]
    lower = (rng.random(n) < 0.06) & (title != None)  # noqa: E711
    title[lower] = [t.lower() for t in title[lower]]
    return title


def _reported_employees(true: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What the lead typed: often rounded, sometimes missing (-1)."""
    n = len(true)
    digits = np.floor(np.log10(np.maximum(true, 1)))
    rounded = (np.round(true / 10**digits) * 10**digits).astype(np.int64)
    reported = np.where(rng.random(n) < 0.4, rounded, true)
    return np.where(rng.random(n) < 0.12, -1, reported)


def _emails(
    first: np.ndarray,
    last: np.ndarray,
    domain: np.ndarray,
    country: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    n = len(first)
    pattern = rng.choice(len(EMAIL_PATTERNS), n, p=_normed(EMAIL_PATTERN_PROBS))
    free = rng.random(n) < FREE_MAIL_SHARE
    suffix = rng.integers(60, 100, n)
    pick = rng.random(n)
    capital = rng.random(n) < 0.05
    out = np.empty(n, dtype=object)
    for k in range(n):
        f, ln = _ascii(first[k]).lower(), _ascii(last[k]).lower()
        local = EMAIL_PATTERNS[pattern[k]].format(f=f, l=ln, i=f[:1])
        if free[k]:
            mails = COUNTRIES[country[k]].free_mail
            host = mails[int(pick[k] * len(mails))]
            local = f"{f}.{ln}{suffix[k] if pick[k] < 0.4 else ''}"
        else:
            host = domain[k]
        out[k] = f"{local.title() if capital[k] else local}@{host}"
    return out


def _phones(
    cities: _Cities, city: np.ndarray, country: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """National formats: '+49 40 12345678', '040 12345678', '+41 44 123 45 67', mobiles."""
    n = len(city)
    mobile = rng.random(n) < 0.3
    style = rng.random(n)
    digits = rng.integers(0, 10, (n, 12))
    first_digit = rng.random(n)
    missing = rng.random(n) < 0.08
    out = np.empty(n, dtype=object)
    for k in range(n):
        if missing[k]:
            continue
        spec = COUNTRIES[country[k]]
        if mobile[k]:
            prefixes, groups = spec.mobile
            area = prefixes[int(style[k] * 1000) % len(prefixes)]
        else:
            area, groups = cities.area[city[k]], cities.groups[city[k]]
        allowed = PHONE_FIRST_DIGITS_BY_AREA.get((spec.name, area), PHONE_FIRST_DIGITS)
        digits[k, 0] = int(_choose(allowed, first_digit[k]))
        number, pos = [], 0
        for g in groups:
            number.append("".join(map(str, digits[k, pos : pos + g])))
            pos += g
        sub = " ".join(number)
        if style[k] < 0.55:
            out[k] = f"+{spec.calling_code} {area} {sub}"
        elif style[k] < 0.65 and spec.trunk:
            out[k] = f"+{spec.calling_code} ({spec.trunk}){area} {sub}"
        elif style[k] < 0.75 and spec.trunk:
            out[k] = f"{spec.trunk}{area}/{''.join(number)}"
        else:
            out[k] = f"{spec.trunk}{area} {sub}"
    return out


def _teams(city_team: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    team = np.array(TEAMS, dtype=object)[city_team]
    team[rng.random(len(team)) < 0.3] = None
    return team


def _fit(
    seniority: np.ndarray, industry: np.ndarray, employees: np.ndarray, country: np.ndarray
) -> np.ndarray:
    """The hidden fit in log-odds: seniority + industry + company size + region."""
    size = np.log10(np.maximum(employees, 1))
    size_fit = (
        SIZE_FIT["peak"]
        * np.exp(-(((size - SIZE_FIT["center_log10"]) / SIZE_FIT["width_log10"]) ** 2))
        + SIZE_FIT["offset"]
    )
    dach = np.array([c.dach for c in COUNTRIES])[country]
    region = np.where(dach, REGION_WEIGHTS["dach"], REGION_WEIGHTS["international"])
    return (
        np.take(list(SENIORITY_WEIGHTS.values()), seniority)
        + np.take(list(INDUSTRY_WEIGHTS.values()), industry)
        + size_fit
        + region
    )


def _plant_junk(leads: _Leads, rng: np.random.Generator) -> None:
    """Junk (fake persons) and messy records (a real person with one bad field), exclusive."""
    n = len(leads)
    u = rng.random(n)
    cum = np.cumsum(JUNK_PROBS)
    kind = np.searchsorted(cum, u, side="right")
    kind = np.where(kind < len(JUNK_KINDS), kind, -1).astype(np.int8)
    dach = leads.dach
    kind[(kind == JUNK_KINDS.index("first_dropdown_country")) & ~dach] = -1
    leads.junk_kind = kind
    picks = rng.random((n, 3))
    for k in np.flatnonzero(kind >= 0):
        _apply_flaw(leads, k, JUNK_KINDS[kind[k]], picks[k])
    fake = leads.is_junk
    leads.intent[fake] = JUNK_INTENT + rng.normal(0, 0.3, int(fake.sum()))
    leads.team[fake & (rng.random(n) < 0.6)] = None


def _apply_flaw(leads: _Leads, k: int, kind: str, u: np.ndarray) -> None:
    f, ln = _ascii(str(leads.first_name[k])).lower(), _ascii(str(leads.last_name[k])).lower()
    if kind == "keyboard_mash":
        leads.first_name[k] = _choose(KEYBOARD_MASH, u[0])
        leads.last_name[k] = _choose(KEYBOARD_MASH, u[1])
        leads.email[k] = _choose(JUNK_EMAILS, u[2])
        leads.company_name[k] = _choose(("asdf", "test", "-", None, "xxx"), u[0])
        leads.job_title[k] = _choose(("asdf", None, "xxx", "test"), u[1])
        leads.phone[k] = _choose((*INVALID_PHONES, None), u[2])
    elif kind == "fictional_name":
        first, last = FICTIONAL_NAMES[int(u[0] * len(FICTIONAL_NAMES))]
        leads.first_name[k], leads.last_name[k] = first, last
        leads.email[k] = (
            f"{_ascii(first).lower()}.{_ascii(last).lower()}@example.com"
            if u[1] < 0.5
            else _choose(JUNK_EMAILS, u[2])
        )
        if u[2] < 0.5:
            leads.company_name[k] = _choose(
                ("Musterfirma GmbH", "Test GmbH", "Entenhausen AG"), u[1]
            )
    elif kind == "city_not_in_country":
        own = leads.display_city[k]
        options = [c for c in FOREIGN_CITIES if c != own and not _city_in(c, leads.country[k])]
        leads.display_city[k] = _choose(tuple(options), u[0])
    elif kind == "first_dropdown_country":
        leads.display_country[k] = "Afghanistan"
    elif kind == "invalid_phone":
        leads.phone[k] = _choose(INVALID_PHONES, u[0])
    elif kind == "invalid_email":
        leads.email[k] = _choose(INVALID_EMAILS, u[0]).format(f=f, l=ln)


def _city_in(city: str, country: int) -> bool:
    return city in {c[0] for c in CITIES[COUNTRIES[country].name]}


def _choose(options: Sequence[Any], u: float) -> Any:
    return options[min(int(u * len(options)), len(options) - 1)]


PERSON_FIELDS = (
    "country", "city", "company", "female", "first_name", "last_name", "job_title", "seniority",
    "industry", "employees", "phone", "team", "topic", "intent", "fit", "opener",
    "display_country", "display_city", "company_name",
)  # fmt: skip
"""What a second record of the same person repeats from the first one."""


def _plant_duplicates(leads: _Leads, rng: np.random.Generator) -> None:
    """The same person registers again: a later record copies an earlier clean one's person."""
    n = len(leads)
    if n < 10:
        return
    clean = leads.junk_kind < 0
    candidates = np.flatnonzero(clean & (rng.random(n) < DUPLICATE_SHARE))
    gap = (rng.exponential(DUPLICATE_GAP_DAYS, len(candidates)) + 0.05) * MIN_PER_DAY
    target = leads.created[candidates] - gap.astype(np.int64)
    original = np.maximum(np.searchsorted(leads.created, target, side="right") - 1, 0)
    ok = leads.created[original] < leads.created[candidates]
    ok &= clean[original] & ~np.isin(original, candidates)
    dup, original = candidates[ok], original[ok]
    _, first = np.unique(original, return_index=True)
    dup, original = dup[first], original[first]
    for name in PERSON_FIELDS:
        values = getattr(leads, name)
        values[dup] = values[original]
    leads.email[dup] = _other_email(
        leads.email[original],
        leads.first_name[original],
        leads.last_name[original],
        leads.country[original],
        rng,
    )
    leads.duplicate_of[dup] = original


def _other_email(
    email: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    country: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """The second record's address: the same one in other case, or a private free-mail one."""
    out = np.empty(len(email), dtype=object)
    u = rng.random((len(email), 2))
    for k, address in enumerate(email):
        mails = COUNTRIES[country[k]].free_mail
        is_free = address.split("@")[-1] in mails
        if u[k, 0] < 0.5 or is_free:
            local, _, host = address.partition("@")
            out[k] = f"{local.title()}@{host.title()}" if u[k, 1] < 0.5 else address.upper()
        else:
            local = f"{_ascii(first[k]).lower()}.{_ascii(last[k]).lower()}"
            out[k] = f"{local}@{_choose(mails, u[k, 1])}"
    return out


# ==============================================================================================
# Events of one chunk
# ==============================================================================================


TYPE_ID = {t: k for k, t in enumerate(ACTIVITY_TYPES)}


@dataclass
class _Events:
    """Activities as parallel arrays; ids index the chunk's leads and the interned strings."""

    lead: np.ndarray
    t: np.ndarray
    typ: np.ndarray
    asset: np.ndarray
    topic: np.ndarray
    campaign: np.ndarray

    @classmethod
    def make(
        cls,
        lead: np.ndarray,
        t: np.ndarray,
        typ: str | np.ndarray,
        asset: np.ndarray | int = -1,
        topic: np.ndarray | int = -1,
        campaign: np.ndarray | int = -1,
    ) -> _Events:
        n = len(lead)
        types = np.full(n, TYPE_ID[typ]) if isinstance(typ, str) else typ
        return cls(
            lead=np.asarray(lead, dtype=np.int64),
            t=np.asarray(t, dtype=np.int64),
            typ=np.asarray(types, dtype=np.int8),
            asset=np.broadcast_to(np.asarray(asset, dtype=np.int32), n).copy(),
            topic=np.broadcast_to(np.asarray(topic, dtype=np.int8), n).copy(),
            campaign=np.broadcast_to(np.asarray(campaign, dtype=np.int32), n).copy(),
        )

    @classmethod
    def concat(cls, parts: Sequence[_Events]) -> _Events:
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))

    def take(self, index: np.ndarray) -> _Events:
        return _Events(*(getattr(self, f.name)[index] for f in fields(self)))

    def sorted(self) -> _Events:
        """By lead, time and type; one int64 key sorts faster than a lexsort of three."""
        if len(self) == 0:
            return self
        key = (self.lead << 27) | ((self.t - self.t.min()) << 5) | self.typ.astype(np.int64)
        return self.take(np.argsort(key, kind="stable"))

    def __len__(self) -> int:
        return len(self.lead)


def _interest(dt_minutes: np.ndarray) -> np.ndarray:
    days = np.maximum(dt_minutes, 0) / MIN_PER_DAY
    return INTEREST_FLOOR + (1 - INTEREST_FLOOR) * np.exp2(-days / INTEREST_HALF_LIFE_DAYS)


def _first_in_group(counts: np.ndarray) -> np.ndarray:
    first = np.zeros(int(counts.sum()), dtype=bool)
    first[(np.cumsum(counts) - counts)[counts > 0]] = True
    return first


def _group_cumsum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    total = np.cumsum(values)
    starts = np.cumsum(counts) - counts
    before = np.concatenate([[0.0], total])[starts]
    return total - np.repeat(before, counts)


def _day_floor(t: np.ndarray) -> np.ndarray:
    return t - t % MIN_PER_DAY


def _days(days: np.ndarray | float) -> np.ndarray:
    """Fractional days as whole minutes."""
    return (np.asarray(days) * MIN_PER_DAY).astype(np.int64)


def _pick_content(
    ctx: _Context, kind: str, lead_topic: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """An asset of this kind, preferring the lead's interest field (70 %)."""
    ids, topics = ctx.content[kind]
    n = len(lead_topic)
    wanted = np.where(rng.random(n) < 0.7, lead_topic, rng.integers(0, len(TOPICS), n))
    u = rng.random(n)
    asset = np.empty(n, dtype=np.int32)
    for k in range(len(TOPICS)):
        mask = wanted == k
        pool = ids[(topics == k) | (topics < 0)]
        pool = pool if len(pool) else ids
        asset[mask] = pool[(u[mask] * len(pool)).astype(int)]
    return asset, ctx.asset_topic[asset]


def _creation_events(ctx: _Context, leads: _Leads, rng: np.random.Generator) -> _Events:
    """The action that created the lead, at created_at: a form, a scan, a registration."""
    n = len(leads)
    lead = np.arange(n)
    src = np.array(SOURCES)[leads.source]
    typ = np.full(n, TYPE_ID["form_submit"], dtype=np.int8)
    gated = np.isin(src, ("organic_search", "paid_search", "linkedin", "web_form"))
    u = rng.random(n)
    typ[gated & (u < 0.55)] = TYPE_ID["whitepaper_download"]
    typ[gated & (u > 0.93)] = TYPE_ID["demo_request"]
    asset, topic = _pick_content(ctx, "form_submit", leads.topic, rng)
    paper, paper_topic = _pick_content(ctx, "whitepaper_download", leads.topic, rng)
    is_paper = typ == TYPE_ID["whitepaper_download"]
    asset[is_paper], topic[is_paper] = paper[is_paper], paper_topic[is_paper]
    asset[typ == TYPE_ID["demo_request"]] = ctx.content["demo_request"][0][0]
    campaign = np.full(n, -1, dtype=np.int32)
    campaign[src == "paid_search"] = ctx.strings.id("Google Ads")
    campaign[src == "linkedin"] = ctx.strings.id("LinkedIn Ads")
    campaign[src == "referral"] = ctx.strings.id("Empfehlung")
    for source, kind, typ_name in (
        ("webinar", "webinar", "webinar_registration"),
        ("trade_fair", "trade_fair", "trade_fair_visit"),
        ("local_workshop", "workshop", "workshop_registration"),
        ("qr_code_mailing", "mailing", "qr_code_scan"),
    ):
        mask = src == source
        sched = ctx.schedules[kind]
        typ[mask] = TYPE_ID[typ_name]
        asset[mask] = sched.asset[leads.item[mask]]
        topic[mask] = sched.topic[leads.item[mask]]
        campaign[mask] = sched.campaign[leads.item[mask]]
    events = [_Events(lead, leads.created.copy(), typ, asset, topic, campaign)]
    qr = np.flatnonzero((src == "qr_code_mailing") & (rng.random(n) < 0.6))
    events.append(
        _Events.make(
            qr,
            leads.created[qr] + 2,
            "form_submit",
            ctx.strings.id("Landingpage Mailing"),
            -1,
            campaign[qr],
        )
    )
    web = np.flatnonzero(src == "webinar")
    events.append(_webinar_attendance(ctx, leads, web, leads.item[web], rng))
    return _Events.concat(events)


def _webinar_attendance(
    ctx: _Context, leads: _Leads, lead: np.ndarray, webinar: np.ndarray, rng: np.random.Generator
) -> _Events:
    """Registered leads attend the more likely the higher their intent."""
    sched = ctx.schedules["webinar"]
    attend = rng.random(len(lead)) < _sigmoid(0.1 + 0.6 * leads.intent[lead])
    lead, webinar = lead[attend], webinar[attend]
    t = sched.start[webinar] + rng.integers(0, 10, len(lead))
    return _Events.make(
        lead, t, "webinar_attended", sched.asset[webinar], sched.topic[webinar],
        sched.campaign[webinar],
    )  # fmt: skip


def _campaign_events(ctx: _Context, leads: _Leads, rng: np.random.Generator) -> _Events:
    """Webinars, trade fairs, workshops and QR scans of printed mailings, by intent and interest."""
    parts = []
    for kind, to_events in (
        ("webinar", _webinar_events),
        ("trade_fair", _fair_events),
        ("workshop", _workshop_events),
        ("mailing", _scan_events),
    ):
        lead, item = _campaign_hits(ctx, leads, kind, rng)
        parts.append(to_events(ctx, leads, lead, item, rng))
    return _Events.concat(parts)


def _campaign_hits(
    ctx: _Context, leads: _Leads, kind: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(lead, campaign) pairs: base * exp(elasticity * intent) * interest, if the lead may come."""
    sched = ctx.schedules[kind]
    dt = sched.start[None, :] - leads.created[:, None]
    eligible = dt > 0
    if kind == "trade_fair":
        eligible &= (sched.place[None, :] == 0) == leads.dach[:, None]
    elif kind == "workshop":
        eligible &= sched.place[None, :] == ctx.cities.workshop[leads.city][:, None]
    elif kind == "mailing":
        eligible &= leads.dach[:, None]
    rate = CAMPAIGN_BASE[kind] * np.exp(CAMPAIGN_ELASTICITY[kind] * leads.intent)
    hit = eligible & (rng.random(dt.shape) < rate[:, None] * _interest(dt))
    lead, item = np.nonzero(hit)
    return lead, item


def _webinar_events(
    ctx: _Context, leads: _Leads, lead: np.ndarray, item: np.ndarray, rng: np.random.Generator
) -> _Events:
    sched = ctx.schedules["webinar"]
    t = sched.start[item] - _days(rng.exponential(5.0, len(lead)))
    registered = _Events.make(
        lead, np.maximum(t, leads.created[lead] + 1), "webinar_registration", sched.asset[item],
        sched.topic[item], sched.campaign[item],
    )  # fmt: skip
    return _Events.concat([registered, _webinar_attendance(ctx, leads, lead, item, rng)])


def _fair_events(
    ctx: _Context, leads: _Leads, lead: np.ndarray, item: np.ndarray, rng: np.random.Generator
) -> _Events:
    sched = ctx.schedules["trade_fair"]
    day = rng.integers(0, sched.days[item])
    t = sched.start[item] + day * MIN_PER_DAY + rng.integers(0, 480, len(item))
    return _Events.make(lead, t, "trade_fair_visit", sched.asset[item], -1, sched.campaign[item])


def _workshop_events(
    ctx: _Context, leads: _Leads, lead: np.ndarray, item: np.ndarray, rng: np.random.Generator
) -> _Events:
    sched = ctx.schedules["workshop"]
    t = np.maximum(
        sched.start[item] - _days(rng.uniform(3, 30, len(lead))), leads.created[lead] + 1
    )
    return _Events.make(
        lead, t, "workshop_registration", sched.asset[item], -1, sched.campaign[item]
    )


def _scan_events(
    ctx: _Context, leads: _Leads, lead: np.ndarray, item: np.ndarray, rng: np.random.Generator
) -> _Events:
    sched = ctx.schedules["mailing"]
    t = sched.start[item] + _days(1 + rng.exponential(7.0, len(lead)))
    return _Events.make(lead, t, "qr_code_scan", sched.asset[item], -1, sched.campaign[item])


def _interest_phases(
    leads: _Leads, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per phase: its lead, start, stage, and whether it is the lead's first phase.

    The first phase starts at creation, later ones mostly within weeks (interest decays), some
    any time (re-engagement). Stages escalate: later phases and keener leads buy more often.
    """
    u = leads.intent
    n_phase = 1 + rng.poisson(EXTRA_PHASES * np.exp(0.35 * u))
    lead = np.repeat(np.arange(len(leads)), n_phase)
    first = _first_in_group(n_phase)
    n = len(lead)
    offset = np.where(
        rng.random(n) < REENGAGE_SHARE,
        rng.uniform(0, WINDOW_DAYS, n),
        rng.exponential(INTEREST_HALF_LIFE_DAYS / LN2, n),
    )
    offset[first] = 0.0
    rank = np.arange(n) - np.repeat(np.cumsum(n_phase) - n_phase, n_phase)
    heat = u[lead] + rng.normal(0.0, 0.7, n) + PHASE_ESCALATION * (np.minimum(rank, 2) - 1)
    intercept, slope = np.array(STAGE_LOGITS).T
    stage = _categorical(rng, _softmax(intercept + slope * heat[:, None]))
    return lead, leads.created[lead] + _days(offset), stage, first


def _web_events(ctx: _Context, leads: _Leads, rng: np.random.Generator) -> _Events:
    """Bursts of web sessions: interest phases, sessions within a phase, events within a session.

    A phase's stage (research, evaluation, buying) sets the mix of its events; that is how the
    hidden intent reaches the events a model can see.
    """
    p_lead, p_start, stage, p_first = _interest_phases(leads, rng)
    n_ep = 1 + rng.poisson(EXTRA_EPISODES * np.exp(0.25 * leads.intent[p_lead]))
    e_phase = np.repeat(np.arange(len(p_lead)), n_ep)
    e_first = _first_in_group(n_ep)
    gaps = rng.exponential(EPISODE_GAP_DAYS, len(e_phase))
    gaps[e_first] = 0.0
    e_day = p_start[e_phase] + _days(_group_cumsum(gaps, n_ep))
    e_start = _day_floor(e_day) + _business_minute(rng, len(e_phase))
    at_creation = e_first & p_first[e_phase]
    e_start[at_creation] = p_start[e_phase][at_creation] + 1 + rng.integers(0, 5, at_creation.sum())
    e_lead = p_lead[e_phase]
    e_start = np.maximum(e_start, leads.created[e_lead] + 1)

    e_stage = stage[e_phase]
    n_ev = 1 + rng.poisson(np.take(STAGE_EVENTS, e_stage))
    v_ep = np.repeat(np.arange(len(e_phase)), n_ev)
    t = e_start[v_ep] + _group_cumsum(rng.exponential(4.0, len(v_ep)), n_ev).astype(np.int64)
    kind = _categorical(rng, STAGE_MIX[e_stage[v_ep]])
    lead = e_lead[v_ep]
    asset = np.empty(len(v_ep), dtype=np.int32)
    topic = np.empty(len(v_ep), dtype=np.int8)
    typ = np.empty(len(v_ep), dtype=np.int8)
    for k, name in enumerate(WEB_TYPES):
        mask = kind == k
        asset[mask], topic[mask] = _pick_content(ctx, name, leads.topic[lead[mask]], rng)
        typ[mask] = TYPE_ID[name]
    campaign = np.full(len(v_ep), -1, dtype=np.int32)
    paid = rng.random(len(v_ep))
    campaign[paid < 0.12] = ctx.strings.id("Google Ads")
    campaign[(paid >= 0.12) & (paid < 0.2)] = ctx.strings.id("LinkedIn Ads")
    return _Events(lead, t, typ, asset, topic, campaign)


def _qualification_calls(ctx: _Context, leads: _Leads, rng: np.random.Generator) -> _Events:
    """Sales calls many new leads within days (fair contacts, forms), whatever their intent."""
    share = np.array([QUALIFICATION_CALL.get(s, QUALIFICATION_CALL_OTHER) for s in SOURCES])
    lead = np.flatnonzero(rng.random(len(leads)) < share[leads.source])
    t = _day_floor(leads.created[lead] + _days(rng.uniform(1, 10, len(lead)))) + _business_minute(
        rng, len(lead)
    )
    return _Events.make(lead, t, "sales_call", ctx.strings.id("Qualifizierungsanruf"))


def _demo_followups(ctx: _Context, events: _Events, rng: np.random.Generator) -> _Events:
    """Sales calls back after a demo request, and often books the demo meeting."""
    demo = np.flatnonzero(events.typ == TYPE_ID["demo_request"])
    lead, t = events.lead[demo], events.t[demo]
    call = np.flatnonzero(rng.random(len(demo)) < 0.85)
    meet = np.flatnonzero(rng.random(len(demo)) < 0.6)
    call_day = _day_floor(t[call] + _days(rng.uniform(0.3, 3, len(call))))
    call_t = np.maximum(call_day + _business_minute(rng, len(call)), t[call] + 15)
    meet_day = _day_floor(t[meet] + _days(rng.uniform(3, 14, len(meet))))
    meet_t = meet_day + _business_minute(rng, len(meet))
    first_call, demo_meeting = ctx.content["sales_call"][0][0], ctx.content["meeting"][0][0]
    return _Events.concat(
        [
            _Events.make(lead[call], call_t, "sales_call", first_call),
            _Events.make(lead[meet], meet_t, "meeting", demo_meeting),
        ]
    )


def _email_events(ctx: _Context, leads: _Leads, rng: np.random.Generator) -> _Events:
    """Nurture sequences by interest field and the monthly newsletter; opens and clicks."""
    n = len(leads)
    k = len(NURTURE_DAYS)
    nurture_t = (
        _day_floor(leads.created)[:, None]
        + (np.array(NURTURE_DAYS) * MIN_PER_DAY + 9 * 60)[None, :]
        + rng.integers(0, 30, (n, k))
    )
    lead_n, pos = np.nonzero(nurture_t < ctx.end)
    news = ctx.schedules["newsletter"]
    lead_l, issue = np.nonzero(news.start[None, :] > leads.created[:, None])
    sent = _Events.concat(
        [
            _Events.make(
                lead_n,
                nurture_t[lead_n, pos],
                "email_sent",
                ctx.nurture_asset[leads.topic[lead_n], pos],
                leads.topic[lead_n],
                ctx.nurture_campaign[leads.topic[lead_n], pos],
            ),
            _Events.make(
                lead_l,
                news.start[issue] + rng.integers(0, 20, len(issue)),
                "email_sent",
                news.asset[issue],
                -1,
                news.campaign[issue],
            ),
        ]
    )
    reachable = ~leads.is_junk & (leads.junk_kind != JUNK_KINDS.index("invalid_email"))
    age = sent.t - leads.created[sent.lead]
    # Opening is a habit of the person (opener), barely intent, and fades slowly (list fatigue).
    p_open = _sigmoid(leads.opener[sent.lead] + 0.1 * leads.intent[sent.lead]) * _interest(age / 3)
    opened = reachable[sent.lead] & (rng.random(len(sent)) < p_open)
    opens = sent.take(np.flatnonzero(opened))
    opens.t = opens.t + rng.lognormal(math.log(120), 1.2, len(opens)).astype(np.int64)
    opens.typ[:] = TYPE_ID["email_open"]
    clicked = rng.random(len(opens)) < _sigmoid(-2.0 + 0.35 * leads.intent[opens.lead])
    clicks = opens.take(np.flatnonzero(clicked))
    clicks.t = clicks.t + rng.integers(0, 10, len(clicks))
    clicks.typ[:] = TYPE_ID["email_click"]
    landing, landing_topic = _pick_content(ctx, "blog_read", leads.topic[clicks.lead], rng)
    visits = _Events.make(
        clicks.lead, clicks.t + 1, "blog_read", landing, landing_topic, clicks.campaign
    )
    return _Events.concat([sent, opens, clicks, visits])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs))[:, None] * cum[:, -1:]
    return np.minimum((u > cum).sum(axis=1), probs.shape[1] - 1)


# ==============================================================================================
# Decisions and outcomes
# ==============================================================================================


@dataclass
class _Outcomes:
    """Per lead of the chunk: decision and close time (-1 if none), won, amount (nan if empty)."""

    decided: np.ndarray
    closed: np.ndarray
    won: np.ndarray
    amount: np.ndarray


_WEIGHT_OF_TYPE = np.array([EVENT_WEIGHTS[t] for t in ACTIVITY_TYPES])


def _decayed_intent(leads: _Leads, events: _Events) -> np.ndarray:
    """S at each event: EVENT_WEIGHTS of the lead's events so far, each halved per half-life.

    Events must be sorted by lead and time. Uses S(t_k) = 2^(-r_k/H) * cumsum(w_j 2^(r_j/H)) per
    lead, with r the days since the lead was created (at most two years, so no overflow).
    """
    r = (events.t - leads.created[events.lead]) / MIN_PER_DAY / HALF_LIFE_DAYS
    counts = np.bincount(events.lead, minlength=len(leads))
    grown = _group_cumsum(_WEIGHT_OF_TYPE[events.typ] * np.exp2(r), counts)
    return grown * np.exp2(-r)


def _decide(ctx: _Context, leads: _Leads, events: _Events, rng: np.random.Generator) -> _Outcomes:
    """After each heavy event a lead may enter a buying decision; the close follows weeks later.

    Events must be sorted by lead and time; a lead's first triggered event is its decision.
    """
    n = len(leads)
    s = _decayed_intent(leads, events)
    month = events.t.astype("datetime64[m]").astype("datetime64[M]").astype(np.int64) % 12
    fit = leads.fit + JUNK_PENALTY * leads.is_junk
    logit = DECISION_INTERCEPT + s + fit[events.lead] + np.take(MONTH_WEIGHTS, month)
    logit += rng.normal(0.0, LEAD_NOISE_SD, n)[events.lead]
    heavy = _WEIGHT_OF_TYPE[events.typ] >= CHECKPOINT_MIN_WEIGHT
    trigger = heavy & (leads.duplicate_of[events.lead] < 0)
    hits = np.flatnonzero(trigger & (rng.random(len(events)) < _sigmoid(logit)))
    lead, first = np.unique(events.lead[hits], return_index=True)
    at = hits[first]

    out = _Outcomes(
        decided=np.full(n, -1, dtype=np.int64),
        closed=np.full(n, -1, dtype=np.int64),
        won=np.zeros(n, dtype=bool),
        amount=np.full(n, np.nan),
    )
    out.decided[lead] = events.t[at]
    employees = np.maximum(ctx.companies.employees[leads.company[lead]], 1)
    cycle_days = SALES_CYCLE_DAYS[0] + SALES_CYCLE_DAYS[1] * np.log10(employees)
    delay = rng.gamma(2.5, cycle_days / 2.5) + 2
    out.closed[lead] = _day_floor(events.t[at] + _days(delay)) + _business_minute(rng, len(lead))
    noise = rng.normal(0.0, LEAD_NOISE_SD, len(lead))
    p_won = _sigmoid(WON_INTERCEPT + WON_INTENT_SLOPE * s[at] + fit[lead] + noise)
    out.won[lead] = rng.random(len(lead)) < p_won
    out.amount[lead] = _deal_amounts(employees, out.won[lead], rng)
    _stale_closes(leads, events, out.closed, rng)
    out.closed[out.closed >= ctx.end] = -1
    out.won &= out.closed >= 0
    out.amount[out.closed < 0] = np.nan
    return out


def _deal_amounts(employees: np.ndarray, won: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Won: yearly contract value growing with company size; lost: 0 or empty."""
    value = np.exp(rng.normal(math.log(9000) + 0.3 * np.log(employees / 50), 0.55))
    lost = np.where(rng.random(len(won)) < 0.5, 0.0, np.nan)
    return np.where(won, np.clip(np.round(value, -2), 1500, 300_000), lost)


def _stale_closes(
    leads: _Leads, events: _Events, closed: np.ndarray, rng: np.random.Generator
) -> None:
    """Sales closes undecided leads as lost months after they went quiet; junk within weeks."""
    n = len(leads)
    engaged = events.typ != TYPE_ID["email_sent"]
    last = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last, events.lead[engaged], events.t[engaged])
    open_ = (closed < 0) & (leads.duplicate_of < 0)
    stale = open_ & ~leads.is_junk & (rng.random(n) < STALE_CLOSE_SHARE)
    quiet = _days(45 + rng.gamma(2.0, 50.0, n))
    closed[stale] = _day_floor(last[stale] + quiet[stale]) + 16 * 60
    junk = open_ & leads.is_junk & (rng.random(n) < JUNK_DISQUALIFIED_SHARE)
    wait = _days(rng.uniform(1, 21, n))
    closed[junk] = _day_floor(leads.created[junk] + wait[junk]) + 10 * 60


def _sales_events(ctx: _Context, outcomes: _Outcomes, rng: np.random.Generator) -> _Events:
    """Calls and meetings between the decision and the close (or the end of the window)."""
    lead = np.flatnonzero(outcomes.decided >= 0)
    start = outcomes.decided[lead]
    stop = np.where(outcomes.closed[lead] >= 0, outcomes.closed[lead], ctx.end)
    parts = []
    for kind, extra in (("sales_call", 1.0), ("meeting", 0.8)):
        count = rng.poisson(extra, len(lead)) + (kind == "sales_call")
        who = np.repeat(lead, count)
        lo, hi = np.repeat(start, count), np.repeat(stop, count)
        t = _day_floor(lo + (rng.random(len(who)) * (hi - lo)).astype(np.int64))
        t = np.clip(t + _business_minute(rng, len(who)), lo + 1, np.maximum(hi - 1, lo + 1))
        ids = ctx.content[kind][0]
        parts.append(_Events.make(who, t, kind, ids[rng.integers(0, len(ids), len(who))]))
    won = np.flatnonzero(outcomes.won)
    count = rng.poisson(1.0, len(won))
    who = np.repeat(won, count)
    t = _day_floor(outcomes.closed[who] + _days(rng.uniform(5, 120, len(who)))) + _business_minute(
        rng, len(who)
    )
    meetings = ctx.strings.ids(CUSTOMER_MEETINGS)
    parts.append(_Events.make(who, t, "meeting", meetings[rng.integers(0, 3, len(who))]))
    return _Events.concat(parts)


def _after_close_filter(
    events: _Events, outcomes: _Outcomes, rng: np.random.Generator
) -> np.ndarray:
    """Activity mostly stops after a close; won customers still attend meetings."""
    closed = outcomes.closed[events.lead]
    after = (closed >= 0) & (events.t > closed)
    meeting = (events.typ == TYPE_ID["meeting"]) & outcomes.won[events.lead]
    keep_p = np.where(meeting, WON_MEETING_KEEP, POST_CLOSE_KEEP)
    return ~after | (rng.random(len(events)) < keep_p)


def _split_duplicates(leads: _Leads, events: _Events, rng: np.random.Generator) -> None:
    """The person's activities after the second registration land on either record."""
    original = leads.duplicate_of
    dup = np.flatnonzero(original >= 0)
    owner = np.full(len(leads), -1, dtype=np.int64)
    owner[original[dup]] = dup
    second = owner[events.lead]
    move = (second >= 0) & (events.t >= leads.created[np.maximum(second, 0)])
    move &= rng.random(len(events)) < 0.5
    events.lead[move] = second[move]


# ==============================================================================================
# A whole chunk, and its Arrow tables
# ==============================================================================================


@dataclass
class _Chunk:
    ctx: _Context
    first_id: int
    leads: _Leads
    events: _Events
    outcomes: _Outcomes

    def lead_ids(self) -> pa.Array:
        numbers = np.arange(self.first_id + 1, self.first_id + len(self.leads) + 1)
        return pa.array(
            np.char.add("L", np.char.zfill(numbers.astype(str), 7)).astype(object), type=pa.string()
        )

    def tables(self) -> dict[str, pa.Table]:
        ids = self.lead_ids()
        return {
            "leads": self._leads_table(ids),
            "activities": self._activities_table(ids),
            "outcomes": self._outcomes_table(ids),
            "ground_truth_leads": self._truth_table(ids),
        }

    def _leads_table(self, ids: pa.Array) -> pa.Table:
        ld = self.leads
        return pa.table(
            {
                "lead_id": ids,
                "created_at": _timestamps(ld.created),
                "email": _strings(ld.email),
                "first_name": _strings(ld.first_name),
                "last_name": _strings(ld.last_name),
                "phone": _strings(ld.phone),
                "company": _strings(ld.company_name),
                "job_title": _strings(ld.job_title),
                "industry": _decode(ld.industry, INDUSTRIES),
                "employees": pa.array(ld.employees, mask=ld.employees < 0, type=pa.int64()),
                "country": _strings(ld.display_country),
                "city": _strings(ld.display_city),
                "source": _decode(ld.source, SOURCES),
                "team": _strings(ld.team),
                "consent_profiling": pa.array(ld.consent, type=pa.bool_()),
            }
        )

    def _activities_table(self, ids: pa.Array) -> pa.Table:
        ev = self.events
        strings = self.ctx.strings
        return pa.table(
            {
                "lead_id": ids.take(pa.array(ev.lead)),
                "occurred_at": _timestamps(ev.t),
                "activity_type": _decode(ev.typ, ACTIVITY_TYPES),
                "asset": strings.arrow(ev.asset),
                "topic": _decode(ev.topic, TOPICS),
                "channel": _decode(ev.typ, [CHANNEL_OF_TYPE[t] for t in ACTIVITY_TYPES]),
                "campaign": strings.arrow(ev.campaign),
            }
        )

    def _outcomes_table(self, ids: pa.Array) -> pa.Table:
        out = self.outcomes
        rows = np.flatnonzero(out.closed >= 0)
        amount = out.amount[rows]
        return pa.table(
            {
                "lead_id": ids.take(pa.array(rows)),
                "closed_at": _timestamps(out.closed[rows]),
                "won": pa.array(out.won[rows], type=pa.bool_()),
                "amount": pa.array(amount, mask=np.isnan(amount), type=pa.float64()),
            }
        )

    def _truth_table(self, ids: pa.Array) -> pa.Table:
        ld = self.leads
        dup = ld.duplicate_of
        return pa.table(
            {
                "lead_id": ids,
                "is_junk": pa.array(ld.is_junk, type=pa.bool_()),
                "junk_kind": _decode(ld.junk_kind, JUNK_KINDS),
                "duplicate_of": ids.take(pa.array(np.maximum(dup, 0), mask=dup < 0)),
                "intent": pa.array(np.round(ld.intent, 4), type=pa.float64()),
                "fit": pa.array(np.round(ld.fit, 4), type=pa.float64()),
            }
        )


def _decode(ids: np.ndarray, vocabulary: Sequence[str]) -> pa.Array:
    """Small integer codes to an Arrow string column; negative codes are nulls."""
    indices = pa.array(ids.astype(np.int32), mask=ids < 0)
    return pa.DictionaryArray.from_arrays(indices, pa.array(vocabulary)).dictionary_decode()


def _strings(values: np.ndarray) -> pa.Array:
    return pa.array(values, type=pa.string(), from_pandas=True)


def _timestamps(minutes: np.ndarray) -> pa.Array:
    return pa.array(minutes.astype("datetime64[m]").astype("datetime64[ns]"))


def _generate_chunk(
    ctx: _Context, sk: _Skeleton, first_id: int, rng: np.random.Generator
) -> _Chunk:
    """Leads, then their behaviour, then decisions, then what follows from them."""
    leads = _make_leads(ctx, sk, rng)
    behaviour = _Events.concat(
        [
            _web_events(ctx, leads, rng),
            _campaign_events(ctx, leads, rng),
            _email_events(ctx, leads, rng),
            _qualification_calls(ctx, leads, rng),
        ]
    )
    # A duplicate record only owns its registration; the person's behaviour sits on the original.
    behaviour = behaviour.take(np.flatnonzero(leads.duplicate_of[behaviour.lead] < 0))
    events = _Events.concat([_creation_events(ctx, leads, rng), behaviour])
    events = _Events.concat([events, _demo_followups(ctx, events, rng)])
    events = events.take(np.flatnonzero(events.t < ctx.end)).sorted()
    outcomes = _decide(ctx, leads, events, rng)
    events = _Events.concat([events, _sales_events(ctx, outcomes, rng)])
    keep = _after_close_filter(events, outcomes, rng) & (events.t < ctx.end)
    events = events.take(np.flatnonzero(keep))
    _split_duplicates(leads, events, rng)
    return _Chunk(ctx, first_id, leads, events.sorted(), outcomes)


# ==============================================================================================
# Writing: Parquet or CSV, one chunk at a time
# ==============================================================================================


class _Sinks:
    """One streaming writer per table; opened on the first chunk with that chunk's schema."""

    def __init__(self, paths: dict[str, Path], fmt: str) -> None:
        self.paths = paths
        self.fmt = fmt
        self.writers: dict[str, Any] = {}

    def __enter__(self) -> _Sinks:
        return self

    def __exit__(self, *exc: object) -> None:
        for writer in self.writers.values():
            writer.close()

    def write(self, name: str, table: pa.Table) -> None:
        if self.fmt == "csv":
            table = _csv_ready(table)
        if name not in self.writers:
            path = str(self.paths[name])
            if self.fmt == "parquet":
                self.writers[name] = pq.ParquetWriter(path, table.schema, compression="zstd")
            else:
                options = pacsv.WriteOptions(quoting_style="needed")
                self.writers[name] = pacsv.CSVWriter(path, table.schema, write_options=options)
        self.writers[name].write_table(table)


def _csv_ready(table: pa.Table) -> pa.Table:
    """Timestamps as '2025-03-04T10:15:00'; everything else as Arrow writes it."""
    columns = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type):
            values = column.to_numpy().astype("datetime64[s]")
            column = pa.array(np.datetime_as_string(values, unit="s"), type=pa.string())
        columns.append(column)
    return pa.table(columns, names=table.column_names)


# ==============================================================================================
# Ground truth
# ==============================================================================================


@dataclass
class _Tally:
    """Counts over all chunks, for the summary and ground_truth.json."""

    n_leads: int = 0
    n_activities: int = 0
    n_outcomes: int = 0
    n_won: int = 0
    n_junk: int = 0
    n_flawed: int = 0
    n_duplicates: int = 0
    n_objected: int = 0
    n_free_mail: int = 0
    n_dach: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    by_type: dict[str, int] = field(default_factory=dict)

    def add(self, chunk: _Chunk) -> None:
        ld, out = chunk.leads, chunk.outcomes
        self.n_leads += len(ld)
        self.n_activities += len(chunk.events)
        self.n_outcomes += int((out.closed >= 0).sum())
        self.n_won += int(out.won.sum())
        self.n_junk += int(ld.is_junk.sum())
        self.n_flawed += int((ld.junk_kind >= 0).sum())
        self.n_duplicates += int((ld.duplicate_of >= 0).sum())
        self.n_objected += int((~ld.consent).sum())
        free = {m for c in COUNTRIES for m in c.free_mail}
        self.n_free_mail += sum(str(e).rsplit("@", 1)[-1].lower() in free for e in ld.email)
        self.n_dach += int(ld.dach.sum())
        kinds = np.bincount(ld.junk_kind[ld.junk_kind >= 0], minlength=len(JUNK_KINDS))
        types = np.bincount(chunk.events.typ, minlength=len(ACTIVITY_TYPES))
        for name, count in zip(JUNK_KINDS, kinds.tolist(), strict=True):
            self.by_kind[name] = self.by_kind.get(name, 0) + count
        for name, count in zip(ACTIVITY_TYPES, types.tolist(), strict=True):
            self.by_type[name] = self.by_type.get(name, 0) + count

    def shares(self) -> dict[str, float]:
        n = max(self.n_leads, 1)
        return {
            "won_rate": self.n_won / n,
            "open_share": 1 - self.n_outcomes / n,
            "junk_share": self.n_junk / n,
            "flawed_share": self.n_flawed / n,
            "duplicate_share": self.n_duplicates / n,
            "objection_share": self.n_objected / n,
            "free_mail_share": self.n_free_mail / n,
            "dach_share": self.n_dach / n,
            "activities_per_lead": self.n_activities / n,
        }


def _ground_truth(tally: _Tally, n_leads: int, seed: int, end: str, fmt: str) -> dict[str, Any]:
    return {
        "about": (
            "Hidden ground truth of the leadscore demo CRM. After every event whose weight is at "
            f"least {CHECKPOINT_MIN_WEIGHT}, a lead enters a buying decision with probability "
            "sigmoid(decision_intercept + S + fit + month + noise), where S is the sum of "
            "event_weights over its events so far, each halved every half_life_days. The close "
            "follows weeks later (longer for bigger companies), won with probability "
            "sigmoid(won_intercept + won_intent_slope * S + fit + noise). Intent (hidden) raises "
            "the rate of high-intent events; fit (seniority, industry, size, region) acts "
            "directly. Email opens barely matter."
        ),
        "parameters": {
            "n_leads": n_leads,
            "seed": seed,
            "end": end,
            "format": fmt,
            "window_days": WINDOW_DAYS,
        },
        "drivers": {
            "event_weights": EVENT_WEIGHTS,
            "checkpoint_min_weight": CHECKPOINT_MIN_WEIGHT,
            "half_life_days": HALF_LIFE_DAYS,
            "decision_intercept": DECISION_INTERCEPT,
            "won_intercept": WON_INTERCEPT,
            "won_intent_slope": WON_INTENT_SLOPE,
            "lead_noise_sd": LEAD_NOISE_SD,
            "junk_penalty": JUNK_PENALTY,
            "fit": {
                "seniority": SENIORITY_WEIGHTS,
                "industry": INDUSTRY_WEIGHTS,
                "company_size": {
                    "formula": "peak * exp(-((log10(employees) - center_log10) / width_log10)^2)"
                    " + offset",
                    **SIZE_FIT,
                },
                "region": REGION_WEIGHTS,
            },
            "month": dict(zip(GERMAN_MONTHS, MONTH_WEIGHTS, strict=True)),
        },
        "engagement": {
            "interest_half_life_days": INTEREST_HALF_LIFE_DAYS,
            "interest_floor": INTEREST_FLOOR,
            "source_intent": SOURCE_INTENT,
            "junk_intent": JUNK_INTENT,
            "stage_logits": {
                "formula": "intercept + slope * heat, heat = intent + N(0, 0.7) "
                "+ phase_escalation * (min(phase_index, 2) - 1)",
                **dict(zip(STAGES, STAGE_LOGITS, strict=True)),
            },
            "phase_escalation": PHASE_ESCALATION,
            "stage_mix": {
                stage: dict(zip(WEB_TYPES, row.tolist(), strict=True))
                for stage, row in zip(STAGES, STAGE_MIX, strict=True)
            },
            "email_open": "sigmoid(opener + 0.1 * intent), opener ~ N(-1.1, 1) per lead",
        },
        "closes": {
            "sales_cycle_days": {
                "formula": "a + b * log10(employees), Gamma shape 2.5",
                "a": SALES_CYCLE_DAYS[0],
                "b": SALES_CYCLE_DAYS[1],
            },
            "qualification_call_share": {
                **QUALIFICATION_CALL,
                "other sources": QUALIFICATION_CALL_OTHER,
            },
            "stale_close_share": STALE_CLOSE_SHARE,
            "junk_disqualified_share": JUNK_DISQUALIFIED_SHARE,
            "post_close_keep": POST_CLOSE_KEEP,
            "won_meeting_keep": WON_MEETING_KEEP,
        },
        "planted": {
            "junk_kinds": dict(zip(JUNK_KINDS, JUNK_PROBS, strict=True)),
            "fake_person_kinds": list(FAKE_PERSON_KINDS),
            "duplicate_share": DUPLICATE_SHARE,
            "duplicate_gap_days": DUPLICATE_GAP_DAYS,
            "objection_share": OBJECTION_SHARE,
        },
        "generated": {
            **tally.shares(),
            "n_leads": tally.n_leads,
            "n_activities": tally.n_activities,
            "n_outcomes": tally.n_outcomes,
            "n_won": tally.n_won,
            "junk_kinds": tally.by_kind,
            "activity_types": tally.by_type,
        },
        "realism_ranges": {k: list(v) for k, v in REALISM_RANGES.items()},
        "files": {"ground_truth_leads": "lead_id, is_junk, junk_kind, duplicate_of, intent, fit"},
    }
