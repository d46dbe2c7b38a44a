"""Interest field (qualification phase 2): which topic a lead cares about, and where it is.

The topic decides the nurture track, the location the nearest local workshop or office. Topics
come from the assets the lead touched, weighted by recency, so a lead whose interest moved on is
routed by what it reads now.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from features.behaviour import Events, event_arrays, value_codes


@dataclass(frozen=True)
class Location:
    name: str
    lat: float
    lon: float


DEFAULT_LOCATIONS = (
    Location("Hamburg", 53.55, 9.99),
    Location("Berlin", 52.52, 13.40),
    Location("Köln", 50.94, 6.96),
    Location("Frankfurt", 50.11, 8.68),
    Location("München", 48.14, 11.58),
    Location("Wien", 48.21, 16.37),
    Location("Zürich", 47.37, 8.54),
)


def interest_field(
    activities: pd.DataFrame,
    snapshots: pd.DataFrame,
    half_life_days: float = 30.0,
    events: pd.DataFrame | Events | None = None,
) -> pd.Series:
    """The topic with the highest recency-weighted count before ``as_of`` (ties: alphabetical)."""
    ev = event_arrays(activities, snapshots) if events is None else Events.of(events)
    if "topic" in activities:
        codes, topics = value_codes(activities["topic"])
    else:
        codes, topics = np.full(len(activities), -1, dtype=np.intp), []
    values = interest_values(ev, len(snapshots), codes, topics, half_life_days)
    return pd.Series(values, index=snapshots.index, dtype=object)


def interest_values(
    ev: Events, n: int, topic_codes: np.ndarray, topics: list, half_life_days: float = 30.0
) -> np.ndarray:
    """:func:`interest_field` as an object array (None: no topic yet), from the events and the
    :func:`value_codes` of the activities' topics."""
    out = np.full(n, None, dtype=object)
    codes = topic_codes[ev.row]
    keep = codes >= 0
    if not keep.any():
        return out
    alphabetical = sorted(range(len(topics)), key=topics.__getitem__)
    rank = np.empty(len(topics), dtype=np.int64)
    rank[alphabetical] = np.arange(len(topics))
    snap = ev.snap[keep].astype(np.int64)
    pairs, pair_of = np.unique(snap * len(topics) + rank[codes[keep]], return_inverse=True)
    weight = np.bincount(pair_of, weights=np.power(0.5, ev.age_days[keep] / half_life_days))
    pair_snap, pair_rank = pairs // len(topics), pairs % len(topics)
    # Per snapshot: the highest weight, ties to the alphabetically first topic.
    order = np.lexsort((pair_rank, -weight, pair_snap))
    first = order[np.r_[True, pair_snap[order][1:] != pair_snap[order][:-1]]]
    by_rank = np.empty(len(topics), dtype=object)
    by_rank[:] = [topics[i] for i in alphabetical]
    out[pair_snap[first]] = by_rank[pair_rank[first]]
    return out


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("ß", "ss")


@lru_cache(maxsize=1)
def _city_coordinates() -> dict[tuple[str, str], tuple[float, float]]:
    from features.quality import geonames_cities

    coords: dict[tuple[str, str], tuple[float, float]] = {}
    cities = sorted(
        geonames_cities().values(),
        key=lambda c: -int(c.get("population", 0)),
    )
    for city in cities:
        point = (float(city["latitude"]), float(city["longitude"]))
        names = [city["name"]]
        if int(city.get("population", 0)) >= 100_000:  # "Munich", "Wien": exonyms of big cities
            names += [n for n in city.get("alternatenames", []) if n.isascii() or n.isalpha()]
        for name in names:
            if name:
                coords.setdefault((_fold(name), city["countrycode"]), point)
    return coords


def _distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 6371.0 * 2 * math.asin(math.sqrt(h))


@lru_cache(maxsize=50_000)
def nearest_location(
    city: str | None, country_code: str | None, locations: tuple[Location, ...] = DEFAULT_LOCATIONS
) -> str | None:
    """The closest configured location, or None when the city is unknown to geonames."""
    if not isinstance(city, str) or not isinstance(country_code, str):
        return None
    point = _city_coordinates().get((_fold(city), country_code))
    if point is None:
        return None
    return min(locations, key=lambda loc: _distance_km(point, (loc.lat, loc.lon))).name
