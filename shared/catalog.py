"""The catalog: every kind of object and room the pipeline knows, read from one data file.

``shared/catalog.yaml`` is loaded once (on first use) and validated by the models below;
the planner's understanding and solver and the mesh stage read the same entries through
one lookup.

API:

- ``lookup(name) -> CatalogEntry | None``: the entry a name means. Case, hyphens and
  spaces do not matter ("Coffee-Table", "coffee table", "coffeetable"); synonyms and
  plurals are known ("couches" → sofa, "knives" → knife, singulars from ``inflect``);
  a compound wins over its head noun ("pool table" is not "table", "table lamp" is not
  "table"); an unknown compound falls back on its head noun ("gaming chair" → chair).
- ``resolve(name) -> Match | None``: the same, saying how: ``Match.entry``,
  ``Match.category`` (the catalog's name, or for a head-noun fallback the name as
  written, singular), ``Match.estimated`` (True when only the head noun is known).
- ``shape_family(category, size) -> str``: the shape family that draws a category
  (a name of ``services.meshgen.families.FAMILY_NAMES``); for a category the catalog
  does not know, one of the generic families chosen by the size's proportions.
- ``entry(name)``: the entry named exactly so, or None. ``entries()``: all of them.
- ``room(name) -> RoomTemplate | None``, ``rooms()``: room types and their templates;
  ``room_template(name)`` the template any room name is furnished from (a known type,
  the type its head noun borrows, or the generic room); ``room_phrases()`` every name
  and synonym of a room type. ``kind(name)``: the kind a room counts an object as.
- ``singular(word)`` / ``plural(word)``: English number of a noun.

A :class:`CatalogEntry` holds a category's typical size ``(width x, height y, depth z)``
in metres with its front facing +Z, the range real ones span (``size_min`` to
``size_max``), where it goes (``spot``: floor, wall at ``mount`` height, surface, shelf
= on the boards inside a shelving unit, ceiling), what it stands on (``parents``, best
first),
how many of it group (``group``: single, row, stack, set = one per seat at a table,
around, pair) and its shape family (``shape``). A shelving unit's ``boards`` are the
heights of its shelf boards' upper faces as fractions of its height: the planner stands
books there and the mesh draws the boards there.

Reading the data file and building its index of phrases takes a tenth of a second or
more (YAML, validation, ``inflect``'s plurals); the built index is kept as JSON in the
user's cache directory (``$XDG_CACHE_HOME/holodeck``, else ``~/.cache/holodeck``) under
the digest of the data file and of this module, and read back with one validation. A
copy that cannot be read or written is rebuilt; the data file stays the only source.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Vec3 = tuple[float, float, float]
Spot = Literal["floor", "wall", "surface", "shelf", "ceiling"]
Group = Literal["single", "row", "stack", "set", "around", "pair"]
Access = Literal["front", "any", "none"]

DATA = Path(__file__).with_name("catalog.yaml")
GENERIC_SHAPES = ("generic cabinet", "generic table", "generic block")
# A range the data does not give spans this much either side of the typical size.
DEFAULT_SPREAD = (0.7, 1.4)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class CatalogEntry(_Model):
    """One category of object (see the module docstring for the fields' meaning)."""

    name: str = Field(min_length=1, max_length=64)
    syn: tuple[str, ...] = ()
    plural: tuple[str, ...] = ()
    size: Vec3
    size_min: Vec3 | None = Field(default=None, alias="min")
    size_max: Vec3 | None = Field(default=None, alias="max")
    spot: Spot = "floor"
    mount: float | None = Field(default=None, ge=0.0, le=5.0)
    parents: tuple[str, ...] = ()
    wall: bool = False
    top: bool = False
    boards: tuple[float, ...] = ()
    seats: bool = False
    needs_seat: bool = False
    mountable: bool = False
    open_below: bool = False
    kind: str | None = None
    group: Group = "single"
    shape: str
    material: str = "wood"
    color: str = "brown"
    count: int = Field(default=2, ge=1, le=100)
    rules: str = ""
    access: Access | None = None

    @field_validator("name", "syn", "plural", "parents", "kind", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        if isinstance(value, str):
            return normalise(value)
        if isinstance(value, list | tuple):
            return tuple(normalise(v) for v in value)
        return value

    @field_validator("size", "size_min", "size_max")
    @classmethod
    def _positive(cls, value: Vec3 | None) -> Vec3 | None:
        if value is not None and min(value) <= 0:
            raise ValueError("every size component must be positive")
        return value

    @field_validator("boards")
    @classmethod
    def _fractions(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0.0 <= b < 1.0 for b in value) or list(value) != sorted(value):
            raise ValueError("boards are rising fractions of the height in [0, 1)")
        return value

    @model_validator(mode="after")
    def _ranges(self) -> CatalogEntry:
        lo = self.size_min or tuple(round(v * DEFAULT_SPREAD[0], 3) for v in self.size)
        hi = self.size_max or tuple(round(v * DEFAULT_SPREAD[1], 3) for v in self.size)
        if any(a > s or s > b for a, s, b in zip(lo, self.size, hi, strict=True)):
            raise ValueError(f"{self.name}: the typical size lies outside min..max")
        object.__setattr__(self, "size_min", lo)
        object.__setattr__(self, "size_max", hi)
        if self.spot == "wall" and self.mount is None:
            object.__setattr__(self, "mount", 1.2)
        return self

    @property
    def category(self) -> str:
        return self.name

    @property
    def placement(self) -> Literal["floor", "wall", "surface", "ceiling"]:
        """Where it goes in the layout's terms: a shelf object stands on a surface."""
        return "surface" if self.spot == "shelf" else self.spot

    @property
    def family(self) -> str:
        """The kind a room counts it as: a single bed and a king bed are both a bed."""
        return self.kind or self.name

    @property
    def has_top(self) -> bool:
        return self.top

    @property
    def against_wall(self) -> bool:
        return self.wall

    @property
    def wall_mountable(self) -> bool:
        return self.mountable

    @property
    def mount_height(self) -> float | None:
        return self.mount

    @property
    def plural_count(self) -> int:
        return self.count

    @property
    def footprint(self) -> float:
        return self.size[0] * self.size[2]

    def reach(self) -> Access:
        """How a person reaches it standing on the floor: its front, any side, or not
        at all (it is walked on)."""
        if self.access is not None:
            return self.access
        if self.size[1] <= 0.05:
            return "none"
        return "front" if self.wall else "any"


class TemplateItem(_Model):
    """A typical object of a room. ``core`` ones furnish even a prompt that names many
    objects; ``per`` makes the count follow another category (a chair per desk);
    ``unless`` lists kinds whose presence makes this one unneeded (student desks are
    not added when the prompt names tables)."""

    category: str
    count: int = 1
    core: bool = False
    per: str | None = None
    unless: tuple[str, ...] = ()


class RoomTemplate(_Model):
    """A room type: its names, usual floor size (width, depth), height, finishes and the
    objects it usually holds."""

    name: str
    syn: tuple[str, ...] = ()
    size: tuple[float, float] = (5.0, 5.0)
    height: float = Field(default=2.8, ge=2.0, le=10.0)
    floor: str = "oak"
    walls: str = "plaster"
    items: tuple[TemplateItem, ...] = ()

    @field_validator("items", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        return parse_items(value) if isinstance(value, str) else value

    @property
    def room_type(self) -> str:
        return self.name

    @property
    def floor_material(self) -> str:
        return self.floor

    @property
    def wall_material(self) -> str:
        return self.walls


class CatalogData(_Model):
    """The whole data file."""

    objects: tuple[CatalogEntry, ...]
    rooms: tuple[RoomTemplate, ...]
    generic_room: RoomTemplate
    default_room: str
    room_heads: dict[str, str | None] = Field(default_factory=dict)
    context: dict[str, dict[str, str]] = Field(default_factory=dict)
    target_groups: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    modifiers: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> CatalogData:
        names = [e.name for e in self.objects]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"objects named twice: {', '.join(dupes)}")
        known = set(names)
        problems = []
        owner: dict[str, str] = {}
        for e in self.objects:
            for s in e.syn:
                if s in known or owner.setdefault(s, e.name) != e.name:
                    problems.append(f"{e.name}.syn: '{s}' already names {owner.get(s, s)}")
        for e in self.objects:
            problems += [
                f"unknown category: {e.name}.parents: {p}" for p in e.parents if p not in known
            ]
        for room_template in (*self.rooms, self.generic_room):
            for item in room_template.items:
                for name in (item.category, *([item.per] if item.per else [])):
                    if name not in known:
                        problems.append(f"unknown category: room {room_template.name}: {name}")
        for phrase, choices in self.context.items():
            problems += [
                f"unknown category: context {phrase}: {c}"
                for c in choices.values()
                if c not in known
            ]
        if self.default_room not in {r.name for r in self.rooms}:
            problems.append(f"default_room: {self.default_room}")
        if problems:
            raise ValueError("; ".join(problems[:10]))
        return self


def parse_items(text: str) -> tuple[TemplateItem, ...]:
    """``"*double bed|bed x1, nightstand x2, chair per desk"``: ``*`` marks a core item,
    ``|`` the kinds that make it unneeded, ``xN`` its count."""
    items = []
    for part in text.split(","):
        spec = part.strip()
        if not spec:
            continue
        core = spec.startswith("*")
        spec = spec.lstrip("*").strip()
        per = None
        count = 1
        if " per " in spec:
            spec, per = (s.strip() for s in spec.split(" per ", 1))
        names = []
        for name in spec.split("|"):
            match = re.fullmatch(r"(.+?) x(\d+)", name.strip())
            if match:
                name, count = match.group(1), int(match.group(2))
            names.append(normalise(name))
        items.append(
            TemplateItem(category=names[0], count=count, core=core, per=per, unless=tuple(names))
        )
    return tuple(items)


# --------------------------------------------------------------------------- words


@functools.lru_cache(maxsize=1)
def _engine() -> Any:
    import inflect  # loads with the first unknown word, not with the catalog

    return inflect.engine()


# Singular nouns that end like plurals; inflect would cut their last letter.
_LOOKS_PLURAL = ("ss", "us", "is", "as", "ics")


def normalise(text: str) -> str:
    """Lower case, words split at anything but letters and digits, single spaces."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower().replace("'", "")).split())


@functools.lru_cache(maxsize=8192)
def singular(word: str) -> str:
    """The singular of an English noun ("knives" → "knife", "shelves" → "shelf");
    a word that is not a plural comes back unchanged."""
    if not word.isalpha() or len(word) < 3:
        return word
    if word.endswith(_LOOKS_PLURAL) and not word.endswith(("sses", "uses", "ases")):
        return word
    found = _engine().singular_noun(word)
    return found if isinstance(found, str) and found else word


@functools.lru_cache(maxsize=8192)
def plural(word: str) -> str:
    """The plural of an English noun ("knife" → "knives")."""
    if not word:
        return word
    return str(_engine().plural_noun(word))


def _plural_phrase(phrase: str) -> str:
    words = phrase.split()
    return " ".join([*words[:-1], plural(words[-1])])


# --------------------------------------------------------------------------- the index


@dataclass(frozen=True)
class Match:
    """What a name means: ``entry``; ``category``, the name the layout uses; ``plural``,
    whether it was written in the plural; ``estimated``, True when only its head noun is
    known (``category`` then keeps the name as written) and ``how`` it was found."""

    entry: CatalogEntry
    category: str
    plural: bool
    estimated: bool
    how: str


@dataclass(frozen=True)
class _Catalog:
    data: CatalogData
    by_name: dict[str, CatalogEntry]
    phrases: dict[str, tuple[str, bool]]  # phrase -> (category, plural)
    joined: dict[str, str]  # "coffeetable" -> "coffee table"
    rooms: dict[str, RoomTemplate]
    room_phrases: dict[str, str]
    modifiers: frozenset[str]


def _build(data: CatalogData) -> _Catalog:
    by_name = {e.name: e for e in data.objects}
    phrases: dict[str, tuple[str, bool]] = {}
    # Names first, then synonyms, then plurals: a name always means its own entry.
    for e in data.objects:
        phrases.setdefault(e.name, (e.name, False))
    for e in data.objects:
        for s in e.syn:
            phrases.setdefault(s, (e.name, False))
    for e in data.objects:
        for name in (e.name, *e.syn):
            if plural(name.split()[-1]) != name.split()[-1]:
                phrases.setdefault(_plural_phrase(name), (e.name, True))
            if " of " in name:  # "loaf of bread" -> "loaves of bread"
                head, rest = name.split(" of ", 1)
                phrases.setdefault(f"{_plural_phrase(head)} of {rest}", (e.name, True))
        for p in e.plural:
            phrases.setdefault(p, (e.name, True))
    # A synonym written in the plural ("cubbies", "lockers") asks for several.
    for phrase, (category, _) in list(phrases.items()):
        head, of, rest = phrase.partition(" of ")
        words = head.split()
        one = " ".join([*words[:-1], singular(words[-1])]) + (of + rest if of else "")
        if one != phrase and phrases.get(one, ("", False))[0] == category:
            phrases[phrase] = (category, True)
    joined: dict[str, str] = {}
    for phrase in phrases:
        if " " in phrase:
            joined.setdefault(phrase.replace(" ", ""), phrase)
    rooms = {r.name: r for r in data.rooms}
    room_phrases: dict[str, str] = {}
    for r in data.rooms:
        for name in (r.name, *r.syn):
            room_phrases.setdefault(normalise(name), r.name)
    return _Catalog(
        data=data,
        by_name=by_name,
        phrases=phrases,
        joined=joined,
        rooms=rooms,
        room_phrases=room_phrases,
        modifiers=frozenset(data.modifiers),
    )


def load(path: Path = DATA) -> CatalogData:
    """Read and validate a catalog file; a bad file fails with the field it breaks."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read the catalog {path}: {exc}") from None
    try:
        return CatalogData.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ValueError(f"invalid catalog {path}: {where}: {first.get('msg')}") from None


_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.lru_cache(maxsize=1)
def _catalog() -> _Catalog:
    source = DATA.read_bytes()
    digest = hashlib.sha256(source + Path(__file__).read_bytes()).hexdigest()[:24]
    compiled = _cache_dir() / f"catalog-{digest}.json"
    try:
        return _compiled(json.loads(compiled.read_bytes()))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    built = _build(load())
    try:
        compiled.parent.mkdir(parents=True, exist_ok=True)
        partial = compiled.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(_compile(built)), encoding="utf-8")
        partial.replace(compiled)
    except OSError:
        pass  # a read-only home: built again next time
    return built


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "holodeck"


def _compile(built: _Catalog) -> dict[str, Any]:
    return {
        "data": built.data.model_dump(mode="json"),
        "phrases": built.phrases,
        "joined": built.joined,
        "room_phrases": built.room_phrases,
    }


def _compiled(saved: dict[str, Any]) -> _Catalog:
    data = CatalogData.model_validate(saved["data"])
    return _Catalog(
        data=data,
        by_name={e.name: e for e in data.objects},
        phrases={k: (v[0], bool(v[1])) for k, v in saved["phrases"].items()},
        joined=dict(saved["joined"]),
        rooms={r.name: r for r in data.rooms},
        room_phrases=dict(saved["room_phrases"]),
        modifiers=frozenset(data.modifiers),
    )


# --------------------------------------------------------------------------- lookups


def entries() -> tuple[CatalogEntry, ...]:
    """Every entry, in the data file's order."""
    return _catalog().data.objects


def entry(name: str) -> CatalogEntry | None:
    """The entry named exactly ``name`` (its catalog name), or None."""
    return _catalog().by_name.get(name)


def _exact(text: str) -> tuple[str, bool, str] | None:
    """(category, plural, how) for a phrase the index holds as written or singular."""
    cat = _catalog()
    hit = cat.phrases.get(text)
    if hit is not None:
        how = "name" if hit[0] == text else ("plural" if hit[1] else "synonym")
        return hit[0], hit[1], how
    squeezed = text.replace(" ", "")
    if squeezed in cat.joined:
        hit = cat.phrases[cat.joined[squeezed]]
        return hit[0], hit[1], "joined"
    if squeezed != text and squeezed in cat.phrases:
        hit = cat.phrases[squeezed]
        return hit[0], hit[1], "joined"
    words = text.split()
    if words:
        one = singular(words[-1])
        if one != words[-1]:
            hit = cat.phrases.get(" ".join([*words[:-1], one]))
            if hit is not None:
                return hit[0], True, "plural"
    return None


@functools.lru_cache(maxsize=4096)
def resolve(name: str) -> Match | None:
    """What ``name`` means to the catalog (see :class:`Match`), or None."""
    cat = _catalog()
    text = normalise(name)
    if not text:
        return None
    found = _exact(text)
    if found is not None:
        return Match(cat.by_name[found[0]], found[0], found[1], False, found[2])
    choices = cat.data.context.get(text)
    if choices is not None:  # "lamp": a table lamp unless the room says otherwise
        category = choices["*"]
        return Match(cat.by_name[category], category, singular(text) != text, False, "context")
    words = text.split()
    # The longest known tail: "wooden pool table" -> "pool table"; "gaming chair" -> chair.
    for start in range(1, len(words)):
        tail = " ".join(words[start:])
        found = _exact(tail)
        if found is None:
            continue
        category, is_plural, _ = found
        extra = words[:start]
        if all(w in cat.modifiers for w in extra):
            return Match(cat.by_name[category], category, is_plural, False, "compound")
        written = " ".join(
            [*[w for w in extra if w not in cat.modifiers], *words[start:-1], singular(words[-1])]
        )
        return Match(cat.by_name[category], written, is_plural, True, "head")
    return None


def lookup(name: str) -> CatalogEntry | None:
    """The entry ``name`` means (synonyms, plurals, compounds, head nouns), or None."""
    match = resolve(name)
    return match.entry if match is not None else None


def generic_shape(size: tuple[float, float, float]) -> str:
    """The fallback family for a thing the catalog does not know, by its proportions."""
    w, h, d = size
    largest = max(w, h, d)
    footprint = max(w, d)
    if largest <= 0.45:
        return GENERIC_SHAPES[2]
    if h < 0.75 * footprint and min(w, d) >= 0.25 * footprint:
        return GENERIC_SHAPES[1]
    return GENERIC_SHAPES[0]


def shape_family(category: str, size: tuple[float, float, float] | None = None) -> str:
    """The shape family that draws ``category`` (see the module docstring)."""
    found = lookup(category)
    if found is not None:
        return found.shape
    return generic_shape(size or (0.6, 0.9, 0.6))


def rooms() -> dict[str, RoomTemplate]:
    """Every room type the catalog has a template for, by name."""
    return _catalog().rooms


def room(name: str) -> RoomTemplate | None:
    """The template of a room type by name or synonym, or None."""
    cat = _catalog()
    key = cat.room_phrases.get(normalise(name))
    return cat.rooms.get(key) if key is not None else None


def room_template(name: str | None) -> RoomTemplate:
    """The template a room named ``name`` is furnished from: its own when the catalog
    knows the name; else the one its head noun borrows ("a pet shop" → shop, "a
    dental clinic" → clinic); else the generic room, which holds nothing a bedroom,
    kitchen or living room would bring. ``None`` is the default room."""
    if name is None:
        return _catalog().rooms[_catalog().data.default_room]
    found = room(name)
    if found is not None:
        return found
    words = normalise(name).split()
    heads = _catalog().data.room_heads
    for word in reversed(words):
        if word in heads:
            borrowed = heads[word]
            return _catalog().rooms[borrowed] if borrowed else _catalog().data.generic_room
    return _catalog().data.generic_room


def kind(name: str) -> str:
    """The kind a room counts an object as: every bed is a "bed", every chair a "chair";
    a name the catalog knows only by its head noun is its own kind."""
    match = resolve(name)
    if match is None or match.estimated:
        return normalise(name)
    return match.entry.family


def room_phrases() -> dict[str, str]:
    """Every name and synonym of a room type → the room type."""
    return _catalog().room_phrases


def room_heads() -> dict[str, str | None]:
    """Nouns that make a phrase a room ("a tattoo parlour", "a pet shop") → the room
    type whose template such a room borrows, or None for none."""
    return _catalog().data.room_heads


def default_room() -> str:
    return _catalog().data.default_room


def context() -> dict[str, dict[str, str]]:
    """Words whose category depends on the room: {word: {room type or "*": category}}."""
    return _catalog().data.context


def target_groups() -> dict[str, tuple[str, ...]]:
    """Names a placement rule may target that stand for any of several categories."""
    return _catalog().data.target_groups


def phrases() -> dict[str, tuple[str, bool]]:
    """Every name, synonym and plural → (category, written in the plural)."""
    return _catalog().phrases


def slug(category: str) -> str:
    """The id stem of a category: ``"coffee table"`` → ``"coffee-table"``."""
    text = re.sub(r"[^a-z0-9]+", "-", category.lower()).strip("-")
    return text[:55] or "object"


def board_heights(item: CatalogEntry, height: float) -> tuple[float, ...]:
    """The heights (metres above its base) of a shelving unit's board tops."""
    return tuple(round(f * height, 4) for f in item.boards)
