"""Every feature declared once: what it is, which group it belongs to, and how sales reads it.

The reason templates live here, beside the definitions, so that a feature cannot be added without
saying in English and German what it means for a lead. Templates are ``str.format`` strings over a
context built from the lead's feature value and the concrete events behind it (see
:func:`reason_context`): ``{n}`` a count, ``{days}`` a number of days, ``{last}`` a date,
``{assets}`` the named assets, ``{value}`` the value itself.

Templates are written for many ("{n} webinars", "an {n} Webinaren"). When the number a template
writes reads "1", its singular form is used instead (``Feature.template(..., one=True)``): derived
from the template itself, with the German singulars declared below in :data:`SINGULAR_DE`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import pandas as pd

# 2: emails we send are not the lead's activity; 3: a sales call is ours, not a buying signal
REGISTRY_VERSION = "3"
WINDOWS = (7, 30, 90)

Group = Literal["behaviour", "fit", "quality", "interest"]
Direction = Literal["up", "down", "missing", "neutral"]
DIRECTIONS: tuple[Direction, ...] = ("up", "down", "missing")
Kind = Literal["numeric", "category", "flag"]


@dataclass(frozen=True)
class Feature:
    """A model input. ``up_*`` texts explain a push towards buying, ``down_*`` a push away."""

    name: str
    group: Group
    kind: Kind
    description: str
    up_en: str
    up_de: str
    down_en: str
    down_de: str
    activity_type: str | None = None
    missing_en: str = "No data on this yet"
    missing_de: str = "Dazu liegen noch keine Daten vor"
    # A count: ``up`` says what the lead did and ``down`` that it did none of it, chosen by the
    # value, not by the model's sign (a model may weigh 8 blog reads down; they were still read).
    by_value: bool = False
    # Features that speak as one reason for sales, their contributions summed (the counts of one
    # activity type over its windows are grouped by that type already).
    reason_group: str | None = None
    # Values the feature could not read (a job title without a recognisable level): either way
    # the model weighs them, "fits" or "fits less well" would judge what was not understood.
    neutral_values: frozenset[str] = frozenset()
    # ... or a lead whose quality flag (this column) says the value is doubtful
    neutral_when: str | None = None
    neutral_en: str = ""
    neutral_de: str = ""

    def template(self, lang: str, direction: Direction, one: bool = False) -> str:
        """The template; with ``one``, its form for a number written as "1"."""
        template = getattr(self, f"{direction}_{lang}")
        return singular_template(template, lang) if one else template

    def directions(self) -> tuple[Direction, ...]:
        """The templates this feature has: up, down, missing, and neutral where it has one."""
        neutral = self.neutral_values or self.neutral_when
        return (*DIRECTIONS, "neutral") if neutral else DIRECTIONS


UNKNOWN = frozenset({"unknown"})  # category values that mean "not given"


@dataclass(frozen=True)
class ActivityWords:
    """How to say that a lead did something, n times in a window, or not at all."""

    done_en: str
    done_de: str
    none_en: str
    none_de: str


# Per activity type: "{n} times in the last {window} days", plus what is cited.
ACTIVITY_WORDS: dict[str, ActivityWords] = {
    "page_view": ActivityWords(
        "Viewed web pages {n} times in the last {window} days, last on {last}",
        "Hat in den letzten {window} Tagen {n}-mal eine Webseite aufgerufen, zuletzt am {last}",
        "Viewed no web pages in the last {window} days",
        "Hat in den letzten {window} Tagen keine Webseiten aufgerufen",
    ),
    "pricing_page_view": ActivityWords(
        "Visited the pricing page {n} times in the last {window} days, last on {last}",
        "Hat die Preisseite in den letzten {window} Tagen {n}-mal besucht, zuletzt am {last}",
        "Has not visited the pricing page in the last {window} days",
        "Hat die Preisseite in den letzten {window} Tagen nicht besucht",
    ),
    "blog_read": ActivityWords(
        "Read blog articles {n} times in the last {window} days ({assets})",
        "Hat in den letzten {window} Tagen {n}-mal einen Blogartikel gelesen ({assets})",
        "Read no blog article in the last {window} days",
        "Hat in den letzten {window} Tagen keinen Blogartikel gelesen",
    ),
    "whitepaper_download": ActivityWords(
        "Downloaded whitepapers {n} times in the last {window} days ({assets}), last on {last}",
        "Hat in den letzten {window} Tagen {n}-mal ein Whitepaper heruntergeladen ({assets}), "
        "zuletzt am {last}",
        "Downloaded no whitepaper in the last {window} days",
        "Hat in den letzten {window} Tagen kein Whitepaper heruntergeladen",
    ),
    "webinar_registration": ActivityWords(
        "Registered for {n} webinars in the last {window} days ({assets})",
        "Hat sich in den letzten {window} Tagen für {n} Webinare angemeldet ({assets})",
        "Registered for no webinar in the last {window} days",
        "Hat sich in den letzten {window} Tagen für kein Webinar angemeldet",
    ),
    "webinar_attended": ActivityWords(
        "Attended {n} webinars in the last {window} days ({assets}), last on {last}",
        "Hat in den letzten {window} Tagen an {n} Webinaren teilgenommen ({assets}), "
        "zuletzt am {last}",
        "Attended no webinar in the last {window} days",
        "Hat in den letzten {window} Tagen an keinem Webinar teilgenommen",
    ),
    "email_sent": ActivityWords(
        "Was sent {n} emails in the last {window} days",
        "Hat in den letzten {window} Tagen {n} E-Mails erhalten",
        "Was sent no email in the last {window} days",
        "Hat in den letzten {window} Tagen keine E-Mail erhalten",
    ),
    "email_open": ActivityWords(
        "Opened emails {n} times in the last {window} days ({assets})",
        "Hat in den letzten {window} Tagen {n}-mal eine E-Mail geöffnet ({assets})",
        "Opened no email in the last {window} days",
        "Hat in den letzten {window} Tagen keine E-Mail geöffnet",
    ),
    "email_click": ActivityWords(
        "Clicked in emails {n} times in the last {window} days ({assets}), last on {last}",
        "Hat in den letzten {window} Tagen {n}-mal in einer E-Mail geklickt ({assets}), "
        "zuletzt am {last}",
        "Clicked in no email in the last {window} days",
        "Hat in den letzten {window} Tagen in keiner E-Mail geklickt",
    ),
    "form_submit": ActivityWords(
        "Submitted {n} forms in the last {window} days ({assets}), last on {last}",
        "Hat in den letzten {window} Tagen {n}-mal ein Formular abgeschickt ({assets}), "
        "zuletzt am {last}",
        "Submitted no form in the last {window} days",
        "Hat in den letzten {window} Tagen kein Formular abgeschickt",
    ),
    "demo_request": ActivityWords(
        "Requested a demo {n} times in the last {window} days, last on {last}",
        "Hat in den letzten {window} Tagen {n}-mal eine Demo angefragt, zuletzt am {last}",
        "Requested no demo in the last {window} days",
        "Hat in den letzten {window} Tagen keine Demo angefragt",
    ),
    "trade_fair_visit": ActivityWords(
        "Visited our trade fair stand {n} times in the last {window} days ({assets})",
        "Hat uns in den letzten {window} Tagen {n}-mal auf einer Messe besucht ({assets})",
        "Met us at no trade fair in the last {window} days",
        "Hat uns in den letzten {window} Tagen auf keiner Messe besucht",
    ),
    "qr_code_scan": ActivityWords(
        "Scanned mailing QR codes {n} times in the last {window} days ({assets})",
        "Hat in den letzten {window} Tagen {n}-mal einen Mailing-QR-Code gescannt ({assets})",
        "Scanned no mailing QR code in the last {window} days",
        "Hat in den letzten {window} Tagen keinen Mailing-QR-Code gescannt",
    ),
    "workshop_registration": ActivityWords(
        "Registered for local workshops {n} times in the last {window} days ({assets})",
        "Hat sich in den letzten {window} Tagen {n}-mal für einen Workshop angemeldet ({assets})",
        "Registered for no workshop in the last {window} days",
        "Hat sich in den letzten {window} Tagen für keinen Workshop angemeldet",
    ),
    "sales_call": ActivityWords(
        "Had {n} sales calls in the last {window} days, last on {last}",
        "Hatte in den letzten {window} Tagen {n} Vertriebstelefonate, zuletzt am {last}",
        "Had no sales call in the last {window} days",
        "Hatte in den letzten {window} Tagen kein Vertriebstelefonat",
    ),
    "meeting": ActivityWords(
        "Had {n} meetings with us in the last {window} days, last on {last}",
        "Hatte in den letzten {window} Tagen {n} Termine mit uns, zuletzt am {last}",
        "Had no meeting with us in the last {window} days",
        "Hatte in den letzten {window} Tagen keinen Termin mit uns",
    ),
}

# The placeholders that write a number ("3", "2.5", "1"); a template holds at most one of them.
NUMBER_FIELDS = ("n", "days", "value")

# The singular of every German noun the templates count, nouns that stay the same included
# ("an {n} Webinaren" -> "an 1 Webinar", "{n} Blogartikel" -> "1 Blogartikel"). A template that
# counts a noun missing here keeps its plural for one (tests/features/test_registry.py checks).
SINGULAR_DE: dict[str, str] = {
    "Webseiten": "Webseite",
    "Blogartikel": "Blogartikel",
    "Whitepaper": "Whitepaper",
    "Webinare": "Webinar",
    "Webinaren": "Webinar",
    "Nurture-E-Mails": "Nurture-E-Mail",
    "E-Mails": "E-Mail",
    "Formulare": "Formular",
    "Messen": "Messe",
    "Mailings": "Mailing",
    "Workshops": "Workshop",
    "Vertriebstelefonate": "Vertriebstelefonat",
    "Termine": "Termin",
    "Aktionen": "Aktion",
    "Marketing-Aktionen": "Marketing-Aktion",
    "Offline-Kontakte": "Offline-Kontakt",
    "Inhalten": "Inhalt",
    "Themen": "Thema",
    "Tagen": "Tag",
    "Mitarbeitende": "Person",  # "1 Person": one employee, without a gender
}
# Words between the number and the noun: "{n} verschiedenen Inhalten" -> "1 einzigen Inhalt".
SINGULAR_DE_BEFORE: dict[str, str] = {"verschiedenen": "einzigen"}

_NUMBER = r"\{(?:" + "|".join(NUMBER_FIELDS) + r")\}"
_EN_TIMES = re.compile(_NUMBER + r" times\b")
_EN_PLURAL = re.compile("(" + _NUMBER + r" (?:\w+ )?\w+?)s\b")
_DE_TIMES = re.compile(_NUMBER + r"-mal\b")
_DE_COUNTED = re.compile("(" + _NUMBER + " )(?:(" + "|".join(SINGULAR_DE_BEFORE) + r") )?([\w-]+)")


@lru_cache(maxsize=1024)
def singular_template(template: str, lang: str) -> str:
    """``template`` for a number written as "1": "{n} times" -> "once", "{days} days" ->
    "{days} day", "an {n} Webinaren" -> "an {n} Webinar", "{n}-mal" -> "einmal".

    Only the template's own words change, never the names and dates filled into it.
    """
    if lang == "en":
        return _EN_PLURAL.sub(r"\1", _EN_TIMES.sub("once", template))

    def one(match: re.Match[str]) -> str:
        number, before, noun = match.groups()
        if noun not in SINGULAR_DE:
            return match.group(0)
        return number + (f"{SINGULAR_DE_BEFORE[before]} " if before else "") + SINGULAR_DE[noun]

    return _DE_COUNTED.sub(one, _DE_TIMES.sub("einmal", template))


# How one event is named in a sentence ("whitepaper 'Marketing Automation Guide'").
EVENT_NAMES: dict[str, tuple[str, str]] = {
    "page_view": ("page '{asset}'", "Seite „{asset}“"),
    "pricing_page_view": ("the pricing page", "die Preisseite"),
    "blog_read": ("blog article '{asset}'", "Blogartikel „{asset}“"),
    "whitepaper_download": ("whitepaper '{asset}'", "Whitepaper „{asset}“"),
    "webinar_registration": (
        "registration for webinar '{asset}'",
        "Anmeldung zum Webinar „{asset}“",
    ),
    "webinar_attended": ("webinar '{asset}'", "Webinar „{asset}“"),
    "email_sent": ("email '{asset}' sent", "E-Mail „{asset}“ gesendet"),
    "email_open": ("opened email '{asset}'", "E-Mail „{asset}“ geöffnet"),
    "email_click": ("click in email '{asset}'", "Klick in E-Mail „{asset}“"),
    "form_submit": ("form '{asset}'", "Formular „{asset}“"),
    "demo_request": ("a demo request", "eine Demo-Anfrage"),
    "trade_fair_visit": ("visit at {asset}", "Messebesuch „{asset}“"),
    "qr_code_scan": ("QR code on mailing '{asset}'", "QR-Code im Mailing „{asset}“"),
    "workshop_registration": ("registration for {asset}", "Workshop-Anmeldung „{asset}“"),
    "sales_call": ("a sales call", "ein Vertriebstelefonat"),
    "meeting": ("a meeting", "ein Termin"),
}
# The same event when the CRM names no asset ("a form", not "form '?'").
EVENT_NAMES_BARE: dict[str, tuple[str, str]] = {
    "page_view": ("a page", "eine Seite"),
    "blog_read": ("a blog article", "ein Blogartikel"),
    "whitepaper_download": ("a whitepaper", "ein Whitepaper"),
    "webinar_registration": ("registration for a webinar", "Anmeldung zu einem Webinar"),
    "webinar_attended": ("a webinar", "ein Webinar"),
    "email_sent": ("an email sent", "eine E-Mail gesendet"),
    "email_open": ("opened an email", "eine E-Mail geöffnet"),
    "email_click": ("click in an email", "Klick in einer E-Mail"),
    "form_submit": ("a form", "ein Formular"),
    "trade_fair_visit": ("a trade fair visit", "ein Messebesuch"),
    "qr_code_scan": ("QR code on a mailing", "QR-Code in einem Mailing"),
    "workshop_registration": ("registration for a workshop", "eine Workshop-Anmeldung"),
}

# How the codes of a category read in a sentence, in English and German; other values (an
# industry, a city, a CRM's own source names) are the data's own words and shown as they are.
_TOPIC_WORDS = {
    "lead_management": ("lead management", "Lead-Management"),
    "marketing_automation": ("marketing automation", "Marketing-Automation"),
    "crm_integration": ("CRM integration", "CRM-Integration"),
    "email_marketing": ("email marketing", "E-Mail-Marketing"),
    "analytics": ("analytics", "Analytics"),
}
# Countries a reason names (the feature holds ISO codes): "Land passt: Deutschland", not "DE".
COUNTRY_NAMES: dict[str, tuple[str, str]] = {
    "DE": ("Germany", "Deutschland"), "AT": ("Austria", "Österreich"),
    "CH": ("Switzerland", "Schweiz"), "LI": ("Liechtenstein", "Liechtenstein"),
    "LU": ("Luxembourg", "Luxemburg"), "NL": ("the Netherlands", "Niederlande"),
    "BE": ("Belgium", "Belgien"), "FR": ("France", "Frankreich"), "IT": ("Italy", "Italien"),
    "ES": ("Spain", "Spanien"), "PT": ("Portugal", "Portugal"),
    "GB": ("the United Kingdom", "Vereinigtes Königreich"), "IE": ("Ireland", "Irland"),
    "DK": ("Denmark", "Dänemark"), "SE": ("Sweden", "Schweden"), "NO": ("Norway", "Norwegen"),
    "FI": ("Finland", "Finnland"), "PL": ("Poland", "Polen"), "CZ": ("Czechia", "Tschechien"),
    "SK": ("Slovakia", "Slowakei"), "HU": ("Hungary", "Ungarn"), "SI": ("Slovenia", "Slowenien"),
    "HR": ("Croatia", "Kroatien"), "RO": ("Romania", "Rumänien"), "BG": ("Bulgaria", "Bulgarien"),
    "GR": ("Greece", "Griechenland"), "TR": ("Turkey", "Türkei"), "EE": ("Estonia", "Estland"),
    "LV": ("Latvia", "Lettland"), "LT": ("Lithuania", "Litauen"), "UA": ("Ukraine", "Ukraine"),
    "US": ("the United States", "USA"), "CA": ("Canada", "Kanada"), "MX": ("Mexico", "Mexiko"),
    "BR": ("Brazil", "Brasilien"), "IN": ("India", "Indien"), "CN": ("China", "China"),
    "JP": ("Japan", "Japan"), "AU": ("Australia", "Australien"), "SG": ("Singapore", "Singapur"),
    "AE": ("the United Arab Emirates", "Vereinigte Arabische Emirate"), "IL": ("Israel", "Israel"),
    "ZA": ("South Africa", "Südafrika"), "AF": ("Afghanistan", "Afghanistan"),
    "EG": ("Egypt", "Ägypten"), "AX": ("Åland", "Åland"), "AL": ("Albania", "Albanien"),
    "DZ": ("Algeria", "Algerien"),
}  # fmt: skip

VALUE_WORDS: dict[str, dict[str, tuple[str, str]]] = {
    "country_code": COUNTRY_NAMES,
    "seniority": {
        "c_level": ("C-level", "Geschäftsleitung"),
        "head": ("head of department", "Bereichsleitung"),
        "manager": ("manager", "Management"),
        "specialist": ("specialist", "Fachkraft"),
        "junior": ("junior", "Nachwuchs"),
        "other": ("no level recognised", "keine Stufe erkannt"),
    },
    "job_function": {
        "marketing": ("marketing", "Marketing"),
        "sales": ("sales", "Vertrieb"),
        "it": ("IT", "IT"),
        "management": ("management", "Geschäftsführung"),
        "finance": ("finance", "Finanzen"),
        "other": ("no function recognised", "kein Bereich erkannt"),
    },
    "source": {
        "web_form": ("a web form", "ein Webformular"),
        "organic_search": ("organic search", "die organische Suche"),
        "linkedin": ("LinkedIn", "LinkedIn"),
        "paid_search": ("paid search", "bezahlte Suche"),
        "trade_fair": ("a trade fair", "eine Messe"),
        "webinar": ("a webinar", "ein Webinar"),
        "qr_code_mailing": ("the QR code of a mailing", "den QR-Code eines Mailings"),
        "referral": ("a referral", "eine Empfehlung"),
        "local_workshop": ("a local workshop", "einen Workshop vor Ort"),
    },
    "region": {"Europe": ("Europe", "Europa"), "other": ("other", "sonstige")},
    "interest_field": _TOPIC_WORDS,
    "topic": _TOPIC_WORDS,
}

# What we did to a lead, not what the lead did: no sign of its activity or interest.
OUTBOUND = ("email_sent",)
# Not content a lead engaged with: emails we sent, and conversations with sales (whose "asset"
# names the call, not something the lead read).
NOT_CONTENT = (*OUTBOUND, "sales_call", "meeting")

# The lead's own actions that show buying intent; recency of the last one is a feature of its
# own. A sales call is ours (the rep rang), a meeting is one the lead agreed to.
HIGH_INTENT = (
    "pricing_page_view",
    "demo_request",
    "webinar_attended",
    "workshop_registration",
    "meeting",
)
# The marketing actions the handover note counts ("its third marketing action").
MARKETING_ACTIONS = (
    "blog_read",
    "whitepaper_download",
    "webinar_registration",
    "webinar_attended",
    "form_submit",
    "demo_request",
    "pricing_page_view",
    "trade_fair_visit",
    "qr_code_scan",
    "workshop_registration",
    "email_click",
)
PHYSICAL = ("trade_fair_visit", "qr_code_scan", "workshop_registration")

# Weight of each activity in the time-decayed engagement score.
ENGAGEMENT_WEIGHTS: dict[str, float] = {
    "page_view": 1.0,
    "pricing_page_view": 5.0,
    "blog_read": 2.0,
    "whitepaper_download": 4.0,
    "webinar_registration": 3.0,
    "webinar_attended": 6.0,
    "email_sent": 0.0,
    "email_open": 0.5,
    "email_click": 2.0,
    "form_submit": 4.0,
    "demo_request": 10.0,
    "trade_fair_visit": 5.0,
    "qr_code_scan": 3.0,
    "workshop_registration": 6.0,
    "sales_call": 6.0,
    "meeting": 8.0,
}


def count_name(activity_type: str, window: int) -> str:
    return f"n_{activity_type}_{window}d"


def _count_features() -> list[Feature]:
    out = []
    for activity_type, words in ACTIVITY_WORDS.items():
        for window in WINDOWS:
            fill = {"window": window}
            out.append(
                Feature(
                    name=count_name(activity_type, window),
                    group="behaviour",
                    kind="numeric",
                    description=f"How often '{activity_type}' happened in the {window} days "
                    "before the scoring moment.",
                    up_en=_partial(words.done_en, fill),
                    up_de=_partial(words.done_de, fill),
                    down_en=_partial(words.none_en, fill),
                    down_de=_partial(words.none_de, fill),
                    activity_type=activity_type,
                    by_value=True,
                )
            )
    return out


def _partial(template: str, fill: Mapping[str, object]) -> str:
    for key, value in fill.items():
        template = template.replace("{" + key + "}", str(value))
    return template


_OTHER_FEATURES = [
    Feature(
        "n_activities_30d",
        "behaviour",
        "numeric",
        "The lead's own actions in the last 30 days (not the emails we sent): overall activity.",
        "Took {n} actions in the last 30 days, most recently {recent}",
        "Hat in den letzten 30 Tagen {n} Aktionen ausgeführt, zuletzt {recent}",
        "Took no action in the last 30 days",
        "Hat in den letzten 30 Tagen keine Aktion ausgeführt",
        by_value=True,
    ),
    Feature(
        "days_since_last_activity",
        "behaviour",
        "numeric",
        "Recency of the lead's own last action: interest fades, and a silent lead is rarely "
        "ready to buy.",
        "Last action {days} days ago ({recent})",
        "Letzte Aktion vor {days} Tagen ({recent})",
        "No activity for {days} days",
        "Seit {days} Tagen keine Aktivität",
        missing_en="No activity recorded yet",
        missing_de="Noch keine Aktivität erfasst",
    ),
    Feature(
        "days_since_high_intent",
        "behaviour",
        "numeric",
        "Recency of the lead's last buying signal (pricing page, demo, webinar, meeting).",
        "Showed buying intent {days} days ago ({intent})",
        "Hat vor {days} Tagen Kaufinteresse gezeigt ({intent})",
        "No buying signal for {days} days (last: {intent})",
        "Seit {days} Tagen kein Kaufsignal (zuletzt: {intent})",
        missing_en="No buying signal yet (no pricing page, demo, webinar or meeting)",
        missing_de="Noch kein Kaufsignal (keine Preisseite, Demo, Webinar oder Termin)",
    ),
    Feature(
        "engagement_decayed",
        "behaviour",
        "numeric",
        "Weighted sum of all actions, each fading with the configured half-life.",
        "Engagement index {value} (recent actions weigh more), latest: {recent}",
        "Engagement-Index {value} (jüngere Aktionen zählen mehr), zuletzt: {recent}",
        "Engagement index {value} (recent actions weigh more)",
        "Engagement-Index {value} (jüngere Aktionen zählen mehr)",
    ),
    Feature(
        "distinct_assets",
        "behaviour",
        "numeric",
        "Breadth of interest: how many different assets the lead touched (emails we sent "
        "count once opened or clicked; calls and meetings are not content).",
        "Engaged with {n} different pieces of content, e.g. {assets}",
        "Hat sich mit {n} verschiedenen Inhalten beschäftigt, z. B. {assets}",
        "Has not engaged with any content yet",
        "Hat sich noch mit keinem Inhalt beschäftigt",
        by_value=True,
    ),
    Feature(
        "distinct_topics",
        "behaviour",
        "numeric",
        "How many interest fields the lead's content covers.",
        "Looked into {n} topics, e.g. {topics}",
        "Hat sich über {n} Themen informiert, z. B. {topics}",
        "Has not looked into any topic yet",
        "Hat sich noch über kein Thema informiert",
        by_value=True,
    ),
    Feature(
        "email_open_rate",
        "behaviour",
        "numeric",
        "Share of the emails we sent (nurture and newsletter) that the lead opened; empty when "
        "none were sent.",
        # the share as it is, either way: "most" or "few" would be the model's sign, not a fact
        "Opened {pct} of the emails we sent",
        "Hat {pct} der gesendeten E-Mails geöffnet",
        "Opened {pct} of the emails we sent",
        "Hat {pct} der gesendeten E-Mails geöffnet",
        # what the data holds: a CRM that logs opens but not sends has opens beside this
        missing_en="No email we sent is on record",
        missing_de="Keine gesendete E-Mail erfasst",
        reason_group="email_engagement",
    ),
    Feature(
        "email_click_rate",
        "behaviour",
        "numeric",
        "Share of the emails we sent that the lead clicked in; empty when none were sent.",
        "Clicked in {pct} of the emails we sent",
        "Hat in {pct} der gesendeten E-Mails geklickt",
        "Clicked in {pct} of the emails we sent",
        "Hat in {pct} der gesendeten E-Mails geklickt",
        # what the data holds: a CRM that logs opens but not sends has opens beside this
        missing_en="No email we sent is on record",
        missing_de="Keine gesendete E-Mail erfasst",
        reason_group="email_engagement",
    ),
    Feature(
        "velocity_14d",
        "behaviour",
        "numeric",
        "Actions in the last 14 days against the 14 before (ratio, smoothed): heating up or "
        "cooling down.",
        # the value is a smoothed ratio, not a count; {trend} says which way it points, so the
        # text stays true whichever way the model weighs it
        "Pace of activity: {trend}",
        "Aktivitätstempo: {trend}",
        "Pace of activity: {trend}",
        "Aktivitätstempo: {trend}",
    ),
    Feature(
        "marketing_actions",
        "behaviour",
        "numeric",
        "Which marketing action this is (first, second, third ...), as the handover note says.",
        "Has taken {n} marketing actions, the latest: {actions}",
        "Hat {n} Marketing-Aktionen ausgeführt, zuletzt: {actions}",
        "Has not taken any marketing action yet",
        "Hat noch keine Marketing-Aktion ausgeführt",
        by_value=True,
    ),
    Feature(
        "physical_touches",
        "behaviour",
        "numeric",
        "Offline channels: trade fairs, QR codes on printed mailings, local workshops.",
        "Had {n} offline contacts with us ({assets})",
        "Hatte {n} Offline-Kontakte mit uns ({assets})",
        "No offline contact yet",
        "Noch kein Offline-Kontakt",
        by_value=True,
    ),
    Feature(
        "lead_age_days",
        "behaviour",
        "numeric",
        "Days since the lead entered the CRM.",
        "Lead for {days} days (created {created})",
        "Lead seit {days} Tagen (angelegt am {created})",
        "Lead for {days} days (created {created})",
        "Lead seit {days} Tagen (angelegt am {created})",
    ),
    # ---- fit
    Feature(
        "industry",
        "fit",
        "category",
        "Industry as given in the CRM.",
        "Industry fits: {value}",
        "Branche passt: {value}",
        "Industry fits less well: {value}",
        "Branche passt weniger: {value}",
        missing_en="Industry not given",
        missing_de="Branche nicht angegeben",
    ),
    Feature(
        "employees",
        "fit",
        "numeric",
        "Company size in employees.",
        "Company size fits: {value} employees",
        "Unternehmensgröße passt: {value} Mitarbeitende",
        "Company size fits less well: {value} employees",
        "Unternehmensgröße passt weniger: {value} Mitarbeitende",
        missing_en="Company size not given",
        missing_de="Unternehmensgröße nicht angegeben",
        reason_group="company_size",
    ),
    Feature(
        "size_band",
        "fit",
        "category",
        "Company size band (1-9, 10-49, 50-249, 250-999, 1000+).",
        "Company size fits: {value} employees",
        "Unternehmensgröße passt: {value} Mitarbeitende",
        "Company size fits less well: {value} employees",
        "Unternehmensgröße passt weniger: {value} Mitarbeitende",
        missing_en="Company size not given",
        missing_de="Unternehmensgröße nicht angegeben",
        reason_group="company_size",
    ),
    Feature(
        "country_code",
        "fit",
        "category",
        "Country (ISO code), normalised from names in English or German.",
        # "core market" would be the model's sign, not a fact about the country
        "Country fits: {value}",
        "Land passt: {value}",
        "Country fits less well: {value}",
        "Land passt weniger: {value}",
        missing_en="Country not given or not recognised",
        missing_de="Land fehlt oder ist unbekannt",
        # "Country fits: Afghanistan" beside the flag saying it is the drop-down's first entry
        neutral_when="flag_country_first_in_list",
        neutral_en="Country as entered: {value} (doubtful, see the quality flags)",
        neutral_de="Land laut Eingabe: {value} (zweifelhaft, siehe Qualitätshinweise)",
    ),
    Feature(
        "region",
        "fit",
        "category",
        "Sales region derived from the country (DACH, Europe, other).",
        "Region fits: {value}",
        "Region passt: {value}",
        "Region fits less well: {value}",
        "Region passt weniger: {value}",
        missing_en="Region unknown",
        missing_de="Region unbekannt",
    ),
    Feature(
        "seniority",
        "fit",
        "category",
        "Seniority parsed from the free-text job title (English and German).",
        # the level as parsed, either way: whether it is a decision maker's is the model's view
        "Seniority fits: {title} ({value})",
        "Hierarchiestufe passt: {title} ({value})",
        "Seniority fits less well: {title} ({value})",
        "Hierarchiestufe passt weniger: {title} ({value})",
        missing_en="No job title given",
        missing_de="Keine Berufsbezeichnung angegeben",
        reason_group="job_title",
        neutral_values=frozenset({"other"}),
        neutral_en="Job title without a recognisable level: {title}",
        neutral_de="Berufsbezeichnung ohne erkennbare Hierarchiestufe: {title}",
    ),
    Feature(
        "job_function",
        "fit",
        "category",
        "Function parsed from the job title: marketing, sales, IT, management, other.",
        "Function fits: {title} ({value})",
        "Bereich passt: {title} ({value})",
        "Function fits less well: {title} ({value})",
        "Bereich passt weniger: {title} ({value})",
        missing_en="No job title given",
        missing_de="Keine Berufsbezeichnung angegeben",
        reason_group="job_title",
    ),
    Feature(
        "freemail",
        "fit",
        "flag",
        "Private free-mail address instead of a company domain.",
        "Uses a company email address",
        "Nutzt eine Firmen-E-Mail-Adresse",
        "Uses a private free-mail address ({email_domain})",
        "Nutzt eine private Freemail-Adresse ({email_domain})",
        missing_en="No email address given",
        missing_de="Keine E-Mail-Adresse angegeben",
    ),
    Feature(
        "source",
        "fit",
        "category",
        "The channel the lead came through.",
        "Came in through {value}",
        "Kam über {value}",
        "Came in through {value}",
        "Kam über {value}",
        missing_en="Source not recorded",
        missing_de="Quelle nicht erfasst",
    ),
    # ---- interest
    Feature(
        "interest_field",
        "interest",
        "category",
        "Primary topic of interest from the topics of the assets the lead touched.",
        "Main interest: {value}",
        "Hauptinteresse: {value}",
        "Main interest: {value}",
        "Hauptinteresse: {value}",
        missing_en="No topic of interest yet",
        missing_de="Noch kein Interessengebiet erkennbar",
    ),
    # ---- quality
    Feature(
        "quality_issue_count",
        "quality",
        "numeric",
        "Number of plausibility flags raised (phase 1 of qualification).",
        "Contact data looks plausible",
        "Kontaktdaten wirken plausibel",
        "Contact data looks doubtful: {flags}",
        "Kontaktdaten wirken zweifelhaft: {flags}",
    ),
]

FEATURES: dict[str, Feature] = {f.name: f for f in [*_count_features(), *_OTHER_FEATURES]}


def feature_names(groups: tuple[Group, ...] | None = None) -> list[str]:
    return [f.name for f in FEATURES.values() if groups is None or f.group in groups]


def registry_frame() -> pd.DataFrame:
    """The registry as a table, for ``leadscore features --list`` and the docs."""
    return pd.DataFrame(
        [
            {
                "name": f.name,
                "group": f.group,
                "kind": f.kind,
                "description": f.description,
                "reason_en": f.up_en,
                "reason_de": f.up_de,
            }
            for f in FEATURES.values()
        ]
    )
