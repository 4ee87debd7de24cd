"""An independent plain-Python computation of the cleaning (docs/data-contracts.md 3.6) and the nine results
(docs/data-contracts.md 3.7).

Written from the rules, not from the notebooks, so the two can be compared on generated source rows.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

PLACEHOLDERS = {
    "No description available Story format",
    "No description available",
    "User Info Error",
    "Image src error.",
    "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e",
    "No Title Data Available",
}
FOLLOWERS = re.compile(r"([0-9]{1,9}(?:\.[0-9]{1,6})?)([kM]?)")


def text(value: Any) -> str | None:
    if value is None:
        return None
    value = str(value)
    return None if value.strip() == "" or value in PLACEHOLDERS else value


def followers(value: Any) -> int | None:
    value = text(value)
    if value is None:
        return None
    match = FOLLOWERS.fullmatch(value.strip(" "))  # Spark's trim removes spaces only
    if not match:
        return None
    number = Decimal(match[1]) * {"k": 1000, "M": 1_000_000, "": 1}[match[2]]
    result = math.floor(number)
    return result if result <= 2**31 - 1 else None


def when(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    value = text(value)
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def _null_first(row: tuple) -> tuple:
    return tuple(
        (0,) if v is None else (1, _null_first(tuple(v)) if isinstance(v, list | tuple) else v) for v in row
    )


def one_per_ind(rows: list[dict]) -> dict[int, dict]:
    """One row per ind: the smallest by column values, nulls first."""
    by_ind: dict[int, dict] = {}
    for row in rows:
        best = by_ind.get(row["ind"])
        key = _null_first(tuple(v for k, v in row.items() if k != "ind"))
        if best is None or key < _null_first(tuple(v for k, v in best.items() if k != "ind")):
            by_ind[row["ind"]] = row
    return by_ind


def clean(tables: dict[str, list[dict]]) -> dict[str, dict[int, dict]]:
    pin = [
        {
            "ind": r["index"],
            "unique_id": text(r["unique_id"]),
            "title": text(r["title"]),
            "description": text(r["description"]),
            "follower_count": followers(r["follower_count"]),
            "poster_name": text(r["poster_name"]),
            "tag_list": text(r["tag_list"]),
            "is_image_or_video": text(r["is_image_or_video"]),
            "image_src": text(r["image_src"]),
            "save_location": None
            if text(r["save_location"]) is None
            else text(r["save_location"]).removeprefix("Local save in "),
            "category": text(r["category"]),
        }
        for r in tables["pinterest_data"]
        if r.get("index") is not None
    ]
    geo = [
        {
            "ind": r["ind"],
            "country": text(r["country"]),
            "coordinates": [r["latitude"], r["longitude"]],
            "timestamp": when(r["timestamp"]),
        }
        for r in tables["geolocation_data"]
        if r.get("ind") is not None
    ]
    user = [
        {
            "ind": r["ind"],
            "user_name": None
            if text(r["first_name"]) is None or text(r["last_name"]) is None
            else f"{r['first_name']} {r['last_name']}",
            "age": r["age"] if r["age"] is not None and -(2**31) <= r["age"] < 2**31 else None,
            "date_joined": when(r["date_joined"]),
        }
        for r in tables["user_data"]
        if r.get("ind") is not None
    ]
    return {"pin": one_per_ind(pin), "geo": one_per_ind(geo), "user": one_per_ind(user)}


def age_group(age: int | None) -> str | None:
    if age is None or age < 18:
        return None
    if age <= 24:
        return "18-24"
    if age <= 35:
        return "25-35"
    if age <= 50:
        return "36-50"
    return "+50"


def median(values: list[int]) -> int:
    """Smallest value with at least half the values <= it."""
    ordered = sorted(values)
    return ordered[math.ceil(len(ordered) / 2) - 1]


def _top(counts: dict[tuple, int]) -> set[tuple]:
    """(group, item, count) rows with the highest count of their group, ties kept."""
    best: dict[Any, int] = defaultdict(int)
    for (group, _), n in counts.items():
        best[group] = max(best[group], n)
    return {(group, item, n) for (group, item), n in counts.items() if n == best[group]}


def results(cleaned: dict[str, dict[int, dict]]) -> dict[str, set[tuple]]:
    """The nine results as sets of tuples (columns in docs/data-contracts.md 3.7 order)."""
    pin, geo, user = cleaned["pin"], cleaned["geo"], cleaned["user"]
    pin_geo = [(p, geo[i]) for i, p in pin.items() if i in geo]
    pin_user = [(p, user[i]) for i, p in pin.items() if i in user]

    by_country = Counter((g["country"], p["category"]) for p, g in pin_geo if g["country"] and p["category"])
    by_year = Counter(
        (g["timestamp"].year, p["category"])
        for p, g in pin_geo
        if g["timestamp"] and 2018 <= g["timestamp"].year <= 2022 and p["category"]
    )
    top_users = {
        (g["country"], p["poster_name"], p["follower_count"])
        for p, g in pin_geo
        if g["country"] and p["poster_name"] and p["follower_count"] is not None
    }
    best_in_country: dict[str, int] = defaultdict(int)
    for country, _, n in top_users:
        best_in_country[country] = max(best_in_country[country], n)
    top_user = {r for r in top_users if r[2] == best_in_country[r[0]]}
    overall = max((n for _, _, n in top_user), default=None)
    top_country = {(c, n) for c, _, n in top_user if n == overall}

    by_age = Counter(
        (age_group(u["age"]), p["category"]) for p, u in pin_user if age_group(u["age"]) and p["category"]
    )
    followers_by_age: dict[str, list[int]] = defaultdict(list)
    followers_by_join: dict[int, list[int]] = defaultdict(list)
    followers_by_both: dict[tuple, list[int]] = defaultdict(list)
    for p, u in pin_user:
        group = age_group(u["age"])
        year = u["date_joined"].year if u["date_joined"] else None
        in_years = year is not None and 2015 <= year <= 2020
        if p["follower_count"] is None:
            continue
        if group:
            followers_by_age[group].append(p["follower_count"])
        if in_years:
            followers_by_join[year].append(p["follower_count"])
        if group and in_years:
            followers_by_both[(group, year)].append(p["follower_count"])
    joined = Counter(
        u["date_joined"].year
        for u in user.values()
        if u["date_joined"] and 2015 <= u["date_joined"].year <= 2020
    )
    return {
        "popular_category_by_country": _top(by_country),
        "popular_category_by_year": _top(by_year),
        "top_user_by_country": top_user,
        "top_country_by_followers": top_country,
        "popular_category_by_age_group": _top(by_age),
        "median_followers_by_age_group": {(g, median(v)) for g, v in followers_by_age.items()},
        "users_joined_by_year": set(joined.items()),
        "median_followers_by_join_year": {(y, median(v)) for y, v in followers_by_join.items()},
        "median_followers_by_join_year_and_age_group": {
            (g, y, median(v)) for (g, y), v in followers_by_both.items()
        },
    }
