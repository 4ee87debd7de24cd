"""Deterministic synthetic source tables (docs/data-contracts.md 3.1): `pinterest_data`, `geolocation_data`,
`user_data`.

One *event* is a post: one row in each table, joined by `pinterest_data.index = geolocation_data.ind =
user_data.ind`. Values follow realistic distributions (weighted Pinterest categories and countries, heavy-tailed
follower counts written `745`/`12k`/`2M`, posters that keep their follower count, users that keep their age
and join date, timestamps 2017-2022, join dates 2015-2020, ages 18-80) and carry the course data's dirty values
at the rates in `DIRTY_RATES`, plus duplicate events (`DUPLICATE_RATE`): the same index again, with identical
rows in all three tables, right after the original.

`rows` counts source rows per table, duplicates included (what the course's tables hold and what the emulator
reads); the number of distinct events is `rows` minus the duplicates (about 3 % fewer).

Output depends only on `seed` (and `rows`): rows come in blocks of `BLOCK` rows, each drawn from its own
generator seeded with `(seed, block number)`, so `generate_tables(1000)` is a prefix of `generate_tables(11000)`
and `chunk_size` only changes how the rows are grouped. Indexes are unique per event: `block * BLOCK +
position`, so they have small gaps where duplicates sit, like the course's table.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import math
import random
from collections.abc import Iterator
from typing import Any

#: Source tables and their columns, in order (docs/data-contracts.md 3.1).
COLUMNS: dict[str, tuple[str, ...]] = {
    "pinterest_data": (
        "index",
        "unique_id",
        "title",
        "description",
        "poster_name",
        "follower_count",
        "tag_list",
        "is_image_or_video",
        "image_src",
        "downloaded",
        "save_location",
        "category",
    ),
    "geolocation_data": ("ind", "timestamp", "latitude", "longitude", "country"),
    "user_data": ("ind", "first_name", "last_name", "age", "date_joined"),
}
TABLES: tuple[str, ...] = tuple(COLUMNS)

#: Rows per independently seeded block (see module docstring).
BLOCK = 1000
#: Share of rows that repeat an earlier event of the same block (same index, identical rows in all tables).
DUPLICATE_RATE = 0.03

# The placeholders of the course's data, exactly as written there (docs/data-contracts.md 3.1).
NO_DESCRIPTION_STORY = "No description available Story format"
NO_DESCRIPTION = "No description available"
USER_INFO_ERROR = "User Info Error"
IMAGE_SRC_ERROR = "Image src error."
NO_TAGS = "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e"
NO_TITLE = "No Title Data Available"

#: Share of distinct events whose pin row holds each dirty value: (column, value) -> rate. `User Info Error`
#: replaces `follower_count` and `poster_name` together; the story-format description only appears on
#: `multi-video(story page format)` rows.
DIRTY_RATES: dict[tuple[str, str], float] = {
    ("title", NO_TITLE): 0.015,
    ("title", ""): 0.004,
    ("description", NO_DESCRIPTION_STORY): 0.025,
    ("description", NO_DESCRIPTION): 0.012,
    ("description", ""): 0.006,
    ("poster_name", USER_INFO_ERROR): 0.01,
    ("follower_count", USER_INFO_ERROR): 0.01,
    ("tag_list", NO_TAGS): 0.025,
    ("tag_list", ""): 0.005,
    ("image_src", IMAGE_SRC_ERROR): 0.02,
}

MEDIA_TYPES: dict[str, float] = {"image": 0.78, "video": 0.17, "multi-video(story page format)": 0.05}

#: The course's categories with weights close to its data's mix.
CATEGORIES: dict[str, float] = {
    "mens-fashion": 10,
    "beauty": 9.5,
    "diy-and-crafts": 9.5,
    "tattoos": 9,
    "art": 8.5,
    "education": 8,
    "travel": 8,
    "home-decor": 8,
    "christmas": 7.5,
    "event-planning": 7,
    "vehicles": 6,
    "finance": 5.5,
    "quotes": 5,
}

# Per category: subjects (for titles, descriptions and tags) and extra tags.
_VOCAB: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "art": (
        (
            "Watercolor Painting",
            "Abstract Art",
            "Pencil Drawing",
            "Acrylic Pour",
            "Portrait Sketch",
            "Ink Illustration",
            "Oil Painting",
            "Canvas Art",
            "Street Art",
            "Charcoal Study",
        ),
        ("Art Ideas", "Art Inspiration", "Drawing Tips", "Painting Tutorials", "Creative Art", "Art Journal"),
    ),
    "beauty": (
        (
            "Makeup Look",
            "Skincare Routine",
            "Nail Art",
            "Hair Color",
            "Eyeshadow Palette",
            "Bridal Makeup",
            "Braided Hairstyle",
            "Lip Color",
            "Glowing Skin",
            "Eyebrow Shape",
        ),
        ("Beauty Tips", "Makeup Tutorial", "Hair Care", "Skin Care", "Natural Beauty", "Nail Designs"),
    ),
    "christmas": (
        (
            "Christmas Tree",
            "Holiday Wreath",
            "Advent Calendar",
            "Christmas Cookies",
            "Gift Wrapping",
            "Stocking Stuffer",
            "Christmas Ornament",
            "Holiday Table",
            "Gingerbread House",
            "Christmas Card",
        ),
        ("Christmas Decor", "Holiday Crafts", "Xmas Ideas", "Christmas Gifts", "Festive Recipes", "Noel"),
    ),
    "diy-and-crafts": (
        (
            "Mason Jar Craft",
            "Paper Flower",
            "Macrame Wall Hanging",
            "Upcycled Furniture",
            "Felt Ornament",
            "Crochet Blanket",
            "Scrapbook Page",
            "Candle Making",
            "Embroidery Hoop",
            "Pallet Project",
        ),
        ("DIY Projects", "Crafts For Kids", "Easy Crafts", "Handmade Gifts", "Upcycling", "Craft Ideas"),
    ),
    "education": (
        (
            "Classroom Activity",
            "Reading Worksheet",
            "Math Game",
            "Science Experiment",
            "Study Guide",
            "Phonics Lesson",
            "History Timeline",
            "Anchor Chart",
            "Homeschool Plan",
            "Spelling List",
        ),
        ("Teaching Ideas", "Kindergarten", "Learning Activities", "Teacher Resources", "Study Tips", "STEM"),
    ),
    "event-planning": (
        (
            "Wedding Reception",
            "Birthday Party",
            "Baby Shower",
            "Table Centerpiece",
            "Party Favor",
            "Backdrop Design",
            "Bridal Shower",
            "Outdoor Wedding",
            "Balloon Garland",
            "Event Checklist",
        ),
        ("Party Ideas", "Wedding Planning", "Event Decor", "Party Decorations", "Celebration", "Wedding Day"),
    ),
    "finance": (
        (
            "Budget Planner",
            "Savings Challenge",
            "Debt Payoff Plan",
            "Side Hustle",
            "Investing Guide",
            "Money Tracker",
            "Retirement Plan",
            "Frugal Living Tip",
            "Credit Score Fix",
            "Passive Income Idea",
        ),
        (
            "Personal Finance",
            "Money Saving Tips",
            "Budgeting",
            "Financial Freedom",
            "Save Money",
            "Investing",
        ),
    ),
    "home-decor": (
        (
            "Living Room",
            "Bedroom Makeover",
            "Farmhouse Kitchen",
            "Gallery Wall",
            "Bathroom Remodel",
            "Boho Decor",
            "Entryway Table",
            "Cozy Reading Nook",
            "Minimalist Shelf",
            "Accent Wall",
        ),
        ("Home Decor Ideas", "Interior Design", "Home Inspiration", "Decorating Ideas", "Room Decor", "Home"),
    ),
    "mens-fashion": (
        (
            "Casual Outfit",
            "Suit Style",
            "Leather Jacket",
            "Street Style Look",
            "Sneaker Collection",
            "Beard Style",
            "Summer Outfit",
            "Denim Jacket",
            "Formal Look",
            "Watch Collection",
        ),
        ("Mens Fashion", "Mens Style", "Menswear", "Mens Outfits", "Gentleman Style", "Dapper"),
    ),
    "quotes": (
        (
            "Motivational Quote",
            "Love Quote",
            "Life Lesson",
            "Inspirational Saying",
            "Funny Quote",
            "Friendship Quote",
            "Success Mantra",
            "Positive Affirmation",
            "Self Love Quote",
            "Deep Thought",
        ),
        (
            "Quotes To Live By",
            "Words Of Wisdom",
            "Inspirational Quotes",
            "Quotes",
            "Daily Motivation",
            "Truth",
        ),
    ),
    "tattoos": (
        (
            "Small Tattoo",
            "Sleeve Tattoo",
            "Floral Tattoo",
            "Minimalist Tattoo",
            "Script Tattoo",
            "Geometric Tattoo",
            "Back Tattoo",
            "Wrist Tattoo",
            "Mandala Tattoo",
            "Fine Line Tattoo",
        ),
        ("Tattoo Ideas", "Tattoo Designs", "Ink", "Body Art", "Tattoos For Women", "Tattoo Inspiration"),
    ),
    "travel": (
        (
            "Beach Getaway",
            "Road Trip",
            "City Break",
            "Mountain Hike",
            "Island Escape",
            "Packing List",
            "Travel Itinerary",
            "Hidden Gem",
            "Backpacking Route",
            "Weekend Trip",
        ),
        (
            "Travel Tips",
            "Wanderlust",
            "Travel Destinations",
            "Places To Visit",
            "Travel Photography",
            "Vacation",
        ),
    ),
    "vehicles": (
        (
            "Classic Car",
            "Sports Car",
            "Motorcycle Build",
            "Truck Mod",
            "Camper Van",
            "Vintage Bike",
            "Electric Car",
            "Muscle Car",
            "Off Road Jeep",
            "Car Interior",
        ),
        ("Cars", "Dream Cars", "Motorcycles", "Car Restoration", "Auto", "Vehicles"),
    ),
}
_ADJECTIVES = (
    "Easy",
    "Beautiful",
    "Simple",
    "Amazing",
    "Creative",
    "Stunning",
    "Modern",
    "Cute",
    "Unique",
    "Budget-Friendly",
    "Classic",
    "Cozy",
    "Bold",
    "Elegant",
    "Quick",
)
_TITLE_TEMPLATES = (
    "{n} {adj} {subj} Ideas",
    "{adj} {subj} Ideas You Will Love",
    "How to Make a {adj} {subj}",
    "{subj}: {n} {adj} Ideas for {year}",
    "The Best {subj} Ideas",
    "{adj} {subj} Inspiration",
    "{subj} | {adj} and Easy",
)
_DESCRIPTION_TEMPLATES = (
    "{adj} {subj_l} ideas to try this year. Save this pin for later and follow for more {cat} inspiration.",
    "Looking for a {adj_l} {subj_l}? Here are {n} ideas that are easy to copy.",
    "Step by step guide: how to get the perfect {subj_l} on a budget.",
    "{n} {adj_l} {subj_l} ideas. Click through for the full list and photos.",
    "Our favourite {subj_l} of the season. {adj} results with simple tools.",
)

#: Real countries with weights (share of events) and approximate centre (latitude, longitude).
COUNTRIES: dict[str, tuple[float, float, float]] = {
    "United States": (24.0, 39.8, -98.6),
    "India": (8.0, 22.0, 79.0),
    "Brazil": (5.0, -10.3, -53.1),
    "United Kingdom": (5.0, 54.0, -2.0),
    "Germany": (4.0, 51.2, 10.4),
    "Mexico": (3.5, 23.6, -102.6),
    "France": (3.5, 46.6, 2.2),
    "Canada": (3.5, 56.1, -106.3),
    "Japan": (2.5, 36.2, 138.3),
    "Philippines": (2.0, 12.9, 121.8),
    "Indonesia": (2.0, -0.8, 113.9),
    "Italy": (2.0, 41.9, 12.6),
    "Spain": (2.0, 40.5, -3.7),
    "Australia": (2.0, -25.3, 133.8),
    "Turkey": (1.5, 39.0, 35.2),
    "Russia": (1.5, 61.5, 105.3),
    "Argentina": (1.2, -38.4, -63.6),
    "Colombia": (1.2, 4.6, -74.3),
    "Poland": (1.2, 51.9, 19.1),
    "Netherlands": (1.0, 52.1, 5.3),
    "South Africa": (1.0, -30.6, 22.9),
    "Nigeria": (1.0, 9.1, 8.7),
    "Egypt": (0.8, 26.8, 30.8),
    "Vietnam": (0.8, 14.1, 108.3),
    "Thailand": (0.8, 15.9, 101.0),
    "South Korea": (0.8, 35.9, 127.8),
    "Sweden": (0.7, 60.1, 18.6),
    "Chile": (0.7, -35.7, -71.5),
    "Peru": (0.6, -9.2, -75.0),
    "Belgium": (0.6, 50.5, 4.5),
    "Portugal": (0.6, 39.4, -8.2),
    "Romania": (0.5, 45.9, 24.9),
    "Malaysia": (0.5, 4.2, 102.0),
    "Pakistan": (0.5, 30.4, 69.3),
    "Switzerland": (0.5, 46.8, 8.2),
    "Austria": (0.4, 47.5, 14.6),
    "Greece": (0.4, 39.1, 21.8),
    "Ireland": (0.4, 53.4, -8.2),
    "New Zealand": (0.4, -40.9, 174.9),
    "Norway": (0.3, 60.5, 8.5),
    "Denmark": (0.3, 56.3, 9.5),
    "Kenya": (0.3, -0.02, 37.9),
    "Morocco": (0.3, 31.8, -7.1),
    "Saudi Arabia": (0.3, 23.9, 45.1),
    "Ukraine": (0.3, 48.4, 31.2),
    "Israel": (0.2, 31.0, 34.9),
    "Finland": (0.2, 61.9, 25.7),
    "Iceland": (0.1, 64.9, -19.0),
}

_FIRST_NAMES = (
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Christopher",
    "Lisa",
    "Daniel",
    "Nancy",
    "Matthew",
    "Betty",
    "Anthony",
    "Sandra",
    "Mark",
    "Ashley",
    "Priya",
    "Rahul",
    "Ana",
    "Lucas",
    "Sofia",
    "Mateo",
    "Emma",
    "Noah",
    "Olivia",
    "Liam",
    "Yuki",
    "Hiro",
    "Fatima",
    "Omar",
    "Chloe",
    "Leon",
    "Mia",
    "Hugo",
    "Aisha",
    "Diego",
    "Elena",
    "Ivan",
    "Grace",
    "Kofi",
)
_LAST_NAMES = (
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Sharma",
    "Patel",
    "Silva",
    "Santos",
    "Muller",
    "Schmidt",
    "Dubois",
    "Rossi",
    "Tanaka",
    "Sato",
    "Kim",
    "Ivanova",
)
_POSTER_SUFFIXES = (
    "Blog",
    "Studio",
    "Co.",
    "Designs",
    "Daily",
    "Magazine",
    "Life",
    "Ideas",
    "Hub",
    "Diaries",
)

_POSTERS = 300
_TEXTS = 1000
_USERS = 20_000
_GEO_START = dt.datetime(2017, 1, 1)
_GEO_END = dt.datetime(2022, 12, 31, 23, 59, 59)
_JOIN_START = dt.datetime(2015, 1, 1)
_JOIN_SECONDS = int((dt.datetime(2020, 12, 31, 23, 59, 59) - _JOIN_START).total_seconds())
_VARIANT = {h: "89ab"[int(h, 16) % 4] for h in "0123456789abcdef"}


def format_follower_count(count: int) -> str:
    """Follower count as the source writes it: `745`, `12k`, `2M`."""
    if count >= 1_000_000:
        return f"{count // 1_000_000}M"
    if count >= 1000:
        return f"{count // 1000}k"
    return str(count)


def _cumulative(weights: dict[str, float] | dict[str, tuple[float, float, float]]) -> list[float]:
    values = [w[0] if isinstance(w, tuple) else w for w in weights.values()]
    return list(itertools.accumulate(values))


class _Pools:
    """Seed-wide populations every block draws from: per category posters and texts, and users."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"pinterest-pools:{seed}")
        self.posters: dict[str, list[tuple[str, str]]] = {}
        self.titles: dict[str, list[str]] = {}
        self.descriptions: dict[str, list[str]] = {}
        self.tags: dict[str, list[str]] = {}
        for category, (subjects, extra_tags) in _VOCAB.items():
            posters = []
            for _ in range(_POSTERS):
                # Heavy tail: log-normal around ~3k followers, a few in the millions.
                followers = min(int(rng.lognormvariate(8.0, 2.2)), 60_000_000)
                if rng.random() < 0.5:
                    name = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}"
                else:
                    name = f"{rng.choice(subjects).split()[-1]} {rng.choice(_POSTER_SUFFIXES)}"
                    if rng.random() < 0.4:
                        name = f"{rng.choice(_FIRST_NAMES)}'s {name}"
                posters.append((name, format_follower_count(followers)))
            self.posters[category] = posters
            titles, descriptions, tags = [], [], []
            for _ in range(_TEXTS):
                subj, adj, n = rng.choice(subjects), rng.choice(_ADJECTIVES), rng.randint(3, 50)
                titles.append(
                    rng.choice(_TITLE_TEMPLATES).format(n=n, adj=adj, subj=subj, year=rng.randint(2017, 2022))
                )
                descriptions.append(
                    rng.choice(_DESCRIPTION_TEMPLATES).format(
                        adj=adj, adj_l=adj.lower(), subj_l=subj.lower(), cat=category.replace("-", " "), n=n
                    )
                )
                picked = rng.sample(extra_tags, rng.randint(2, 5))
                tags.append(",".join((subj, *picked, f"{adj} {subj.split()[-1]}")))
            self.titles[category], self.descriptions[category], self.tags[category] = (
                titles,
                descriptions,
                tags,
            )
        # Popular accounts post more: Zipf-like weights by rank (same shape in every category).
        self.poster_cum = list(itertools.accumulate(1 / (r + 1) ** 0.8 for r in range(_POSTERS)))
        ages = list(range(18, 81))
        # Most users are 20-40; the tail thins out towards 80.
        age_w = [math.exp(-(((a - 29) / 11) ** 2) / 2) + 0.03 for a in ages]
        user_ages = rng.choices(ages, weights=age_w, k=_USERS)
        # (first name, last name, age, joined, first possible post time, seconds from it to the end of 2022):
        # a user posts after joining, and never before 2017.
        self.users: list[tuple[str, str, int, dt.datetime, dt.datetime, float]] = []
        for age in user_ages:
            joined = _JOIN_START + dt.timedelta(seconds=int(rng.random() * _JOIN_SECONDS))
            start = max(joined, _GEO_START)
            self.users.append(
                (
                    _FIRST_NAMES[int(rng.random() * len(_FIRST_NAMES))],
                    _LAST_NAMES[int(rng.random() * len(_LAST_NAMES))],
                    age,
                    joined,
                    start,
                    (_GEO_END - start).total_seconds(),
                )
            )
        self.user_cum = list(itertools.accumulate(1 / (r + 1) ** 0.5 for r in range(_USERS)))


@functools.lru_cache(maxsize=4)
def _pools(seed: int) -> _Pools:
    """The pools of `seed` (read-only once built, so shared between calls)."""
    return _Pools(seed)


_CATEGORY_NAMES = list(CATEGORIES)
_CATEGORY_CUM = _cumulative(CATEGORIES)
_COUNTRY_CENTRES = [(name, lat, lon) for name, (_w, lat, lon) in COUNTRIES.items()]
_COUNTRY_CUM = _cumulative(COUNTRIES)
_MEDIA_NAMES = list(MEDIA_TYPES)
_MEDIA_CUM = _cumulative(MEDIA_TYPES)
_STORY = "multi-video(story page format)"
_SAVE_LOCATIONS = {c: f"Local save in /data/{c}" for c in CATEGORIES}


def _block(seed: int, block: int, pools: _Pools) -> dict[str, list[dict[str, Any]]]:
    """All rows of one block: `BLOCK` rows per table, duplicates included."""
    rng = random.Random(f"pinterest-block:{seed}:{block}")
    rand = rng.random
    # 64 random hex digits per row (image digest, unique id), drawn at once: one big int is cheaper than 2n.
    hexes = f"{rng.getrandbits(256 * BLOCK):0{64 * BLOCK}x}"
    base = block * BLOCK
    n = BLOCK
    # Which positions repeat an earlier event (never position 0, always a recent original).
    is_dup = [p > 0 and rand() < DUPLICATE_RATE for p in range(n)]
    cats = rng.choices(_CATEGORY_NAMES, cum_weights=_CATEGORY_CUM, k=n)
    countries = rng.choices(_COUNTRY_CENTRES, cum_weights=_COUNTRY_CUM, k=n)
    media = rng.choices(_MEDIA_NAMES, cum_weights=_MEDIA_CUM, k=n)
    users = rng.choices(pools.users, cum_weights=pools.user_cum, k=n)
    poster_pos = rng.choices(range(_POSTERS), cum_weights=pools.poster_cum, k=n)
    story_desc = DIRTY_RATES[("description", NO_DESCRIPTION_STORY)] / MEDIA_TYPES[_STORY]
    r_no_title = DIRTY_RATES[("title", NO_TITLE)]
    r_empty_title = r_no_title + DIRTY_RATES[("title", "")]
    r_no_desc = DIRTY_RATES[("description", NO_DESCRIPTION)] / (1 - MEDIA_TYPES[_STORY])
    r_empty_desc = r_no_desc + DIRTY_RATES[("description", "")] / (1 - MEDIA_TYPES[_STORY])
    r_user_error = DIRTY_RATES[("poster_name", USER_INFO_ERROR)]
    r_no_tags = DIRTY_RATES[("tag_list", NO_TAGS)]
    r_empty_tags = r_no_tags + DIRTY_RATES[("tag_list", "")]
    r_img_error = DIRTY_RATES[("image_src", IMAGE_SRC_ERROR)]
    timedelta = dt.timedelta
    titles, descriptions, tags, posters = pools.titles, pools.descriptions, pools.tags, pools.posters

    pins: list[dict[str, Any]] = []
    geos: list[dict[str, Any]] = []
    user_rows: list[dict[str, Any]] = []
    originals: list[int] = []
    for p in range(n):
        if is_dup[p]:
            q = originals[-1 - int(rand() * min(50, len(originals)))]
            pins.append(pins[q].copy())
            geos.append(geos[q].copy())
            user_rows.append(user_rows[q].copy())
            continue
        originals.append(p)
        index = base + p
        cat = cats[p]
        kind = media[p]
        text = int(rand() * _TEXTS)  # title, description and tags of one pool entry describe the same thing
        r = rand()
        if r < r_no_title:
            title = NO_TITLE
        elif r < r_empty_title:
            title = ""
        else:
            title = titles[cat][text]
        r = rand()
        if kind == _STORY:
            description = NO_DESCRIPTION_STORY if r < story_desc else descriptions[cat][text]
        elif r < r_no_desc:
            description = NO_DESCRIPTION
        elif r < r_empty_desc:
            description = ""
        else:
            description = descriptions[cat][text]
        if rand() < r_user_error:
            poster_name = follower_count = USER_INFO_ERROR
        else:
            poster_name, follower_count = posters[cat][poster_pos[p]]
        r = rand()
        if r < r_no_tags:
            tag_list = NO_TAGS
        elif r < r_empty_tags:
            tag_list = ""
        else:
            tag_list = tags[cat][text]
        if rand() < r_img_error:
            image_src = IMAGE_SRC_ERROR
            downloaded = 0
        else:
            d = hexes[64 * p : 64 * p + 32]
            image_src = f"https://i.pinimg.com/originals/{d[:2]}/{d[2:4]}/{d[4:6]}/{d}.jpg"
            downloaded = int(rand() < 0.97)
        u = hexes[64 * p + 32 : 64 * p + 64]
        pins.append(
            {
                "index": index,
                "unique_id": f"{u[:8]}-{u[8:12]}-4{u[13:16]}-{_VARIANT[u[16]]}{u[17:20]}-{u[20:]}",
                "title": title,
                "description": description,
                "poster_name": poster_name,
                "follower_count": follower_count,
                "tag_list": tag_list,
                "is_image_or_video": kind,
                "image_src": image_src,
                "downloaded": downloaded,
                "save_location": _SAVE_LOCATIONS[cat],
                "category": cat,
            }
        )
        first_name, last_name, age, joined, start, span = users[p]
        timestamp = start + timedelta(seconds=int(rand() * span))
        country, lat0, lon0 = countries[p]
        lat = lat0 + (rand() - 0.5) * 8
        lon = lon0 + (rand() - 0.5) * 10
        geos.append(
            {
                "ind": index,
                "timestamp": timestamp,
                "latitude": lat,
                "longitude": lon - 360 if lon > 180 else lon + 360 if lon < -180 else lon,
                "country": country,
            }
        )
        user_rows.append(
            {
                "ind": index,
                "first_name": first_name,
                "last_name": last_name,
                "age": age,
                "date_joined": joined,
            }
        )
    return {"pinterest_data": pins, "geolocation_data": geos, "user_data": user_rows}


def iter_chunks(rows: int, seed: int = 42, chunk_size: int = 10_000) -> Iterator[dict[str, list[dict]]]:
    """Yield the three tables `chunk_size` rows at a time: `{table name: [row dict, ...]}`.

    `rows` is the number of rows per table, duplicates included. Each row dict has the table's columns in
    order (`COLUMNS`); `timestamp` and `date_joined` are naive `datetime`s.
    """
    if rows < 0:
        raise ValueError(f"rows must be >= 0, got {rows}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    pools = _pools(seed)
    pending: dict[str, list[dict]] = {t: [] for t in TABLES}
    remaining = rows
    block = 0
    while remaining > 0:
        data = _block(seed, block, pools)
        take = min(BLOCK, remaining)
        for table in TABLES:
            pending[table].extend(data[table][:take])
        remaining -= take
        block += 1
        while len(pending["pinterest_data"]) >= chunk_size:
            yield {t: pending[t][:chunk_size] for t in TABLES}
            pending = {t: pending[t][chunk_size:] for t in TABLES}
    if pending["pinterest_data"]:
        yield pending


def generate_tables(rows: int = 11_000, seed: int = 42) -> dict[str, list[dict]]:
    """The three tables in memory (`rows` rows each, duplicates included)."""
    tables: dict[str, list[dict]] = {t: [] for t in TABLES}
    for chunk in iter_chunks(rows, seed):
        for table, table_rows in chunk.items():
            tables[table].extend(table_rows)
    return tables
