"""Understanding a prompt: the room it asks for, the objects it names and how they go.

Plain English read with the word lists of :mod:`services.planner.lexicon` and the
shared catalog. :func:`understand` turns a prompt into a
:class:`~services.planner.spec.SceneSpec` that holds only what the prompt says: the room
type (any room, known to the catalog or not), its size or shape if given, each named
object with its count, colour, material, size and the placement rules the prompt states
("a lamp next to the bed", "chairs around the table", "a plant in the corner").
:func:`services.planner.furnishing.furnish` then completes the room. The solver works
from the spec alone and never looks at the prompt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from services.planner import lexicon
from services.planner.dimensions import (
    ROOM_SIZE_PREDICATE,
    SEATS_FOR,
    Dimensions,
    extract,
    normalise,
    tokens,
)
from services.planner.items import ESTIMATES
from services.planner.room import L_NOTCH
from services.planner.spec import (
    MAX_COUNT,
    MAX_TOTAL,
    Constraint,
    FloorSize,
    ObjectSize,
    ObjectSpec,
    OverLimit,
    RoomSpec,
    SceneSpec,
)
from shared import catalog
from shared.layout import Placement, Vec3

INFER_CORE = 0.6  # towards the room type, a core template piece the prompt names
INFER_EXTRA = 0.3  # and an optional one
MIN_SIDE, MAX_SIDE = 1.5, 40.0  # metres: a room side the prompt writes is kept within

# --------------------------------------------------------------------------- scanning

OF_WORDS = 3  # words of "a cup of tea" read as what a thing holds, not as objects
# Words after an opening noun phrase that make it the room: "a bowling alley with ...".
ROOM_FOLLOWERS = frozenset(("with", ",", "for", "where", "full", "filled", "featuring"))


@dataclass
class _Mention:
    phrase: str
    kind: str  # "object", "context" or "unknown"
    value: str  # category, context phrase, or the unknown noun
    index: int
    end: int = 0
    plural: bool = False
    count: int | None = None
    colors: list[str] = field(default_factory=list)
    materials: list[str] = field(default_factory=list)
    sizes: list[tuple[str, float]] = field(default_factory=list)
    adjectives: list[str] = field(default_factory=list)
    dims: Vec3 | tuple[float, float] | None = None
    definite: bool = False
    negated: bool = False
    mounted: bool = False
    floor: bool = False
    ceiling: bool = False
    # Named as the target of another object's rule ("above the bed"): a reference to an
    # object of the room rather than a request for one more.
    target: bool = False
    # The word written just before a known noun that may make it another thing
    # ("zither" in "a zither table").
    modifier: str | None = None
    # (rule kind, target phrase or None, target kind: "object", "context", "unknown",
    # "opening" or "")
    relations: list[tuple[str, str | None, str]] = field(default_factory=list)


@dataclass
class _Pending:
    count: int | None = None
    colors: list[str] = field(default_factory=list)
    materials: list[str] = field(default_factory=list)
    sizes: list[tuple[str, float]] = field(default_factory=list)
    dims: int | None = None
    definite: bool = False
    mounted: bool = False
    gap: int = 0
    # The last unknown word read since the article, where it was, and the run of
    # unknown words it ends ("open plan" in "an open plan office").
    word: str | None = None
    word_at: int = -1
    run: list[str] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.colors or self.materials or self.sizes or self.mounted)


@dataclass
class _Scan:
    mentions: list[_Mention] = field(default_factory=list)
    rooms: list[str] = field(default_factory=list)
    style: list[str] = field(default_factory=list)
    room_factor: float | None = None
    floor_material: str | None = None
    wall_material: str | None = None
    unused_dims: list[int] = field(default_factory=list)
    shape: str | None = None
    # The room as the prompt names it when that is more than its type ("a sushi
    # restaurant"), and the size written with it ("a 6x8 m computer lab").
    room_name: str | None = None
    room_dims: int | None = None


class _Scanner:
    def __init__(self, tokens: list[str], dims: Dimensions):
        self.tokens = tokens
        self.dims = dims
        self.out = _Scan()
        self.pending = _Pending()
        self.negated = False
        self.leading: str | None = None  # "in the corner, a plant"
        self.shape: str | None = None  # "an L-shaped ..." waiting for its noun
        self.last_end = -1  # where the last object mention (and its rules) ended
        self.targets: set[int] = set()  # token indices where a rule's target starts
        self.room_end: int | None = None  # where the last room's name ended

    def _reset(self) -> None:
        self.pending = _Pending()

    def _cue_before(self, i: int) -> bool:
        if i == 0:
            return True
        previous = self.tokens[i - 1]
        if previous in lexicon.CUES:
            return True
        if previous in ("is", "are", "s") and i >= 2 and self.tokens[i - 2] in ("there", "theres"):
            return True
        return previous == "theres"

    def run(self) -> _Scan:
        tokens = self.tokens
        i = 0
        while i < len(tokens):
            if i != self.last_end:
                rule = lexicon.phrase_at(tokens, i, lexicon.ROOM_RULE_PHRASES)
                if rule is not None and (i == 0 or lexicon.match(tokens, i - 1)[1] == "break"):
                    self.leading = rule[1]
                    i += rule[0]
                    continue
            n, kind, value = lexicon.match(tokens, i)
            handler = getattr(self, f"_on_{kind}")
            i = handler(i, n, value)
        if self.shape is not None:
            self.out.shape = self.shape
        for index in range(len(self.dims.pairs)):
            used = any(m.dims is self.dims.pairs[index] for m in self.out.mentions)
            if not used:
                self.out.unused_dims.append(index)
        return self.out

    # Each handler returns the index of the next token to read.

    def _on_number(self, i: int, n: int, value: object) -> int:
        assert isinstance(value, int)
        if self.tokens[i] == "0":
            return self._on_negate(i, n, None)  # "0 chairs"
        if value > 0:
            self.negated = False
        return self._quantity(i, n, value if value > 0 else None)

    def _on_article(self, i: int, n: int, value: object) -> int:
        return self._quantity(i, n, None)

    def _quantity(self, i: int, n: int, count: int | None) -> int:
        if self.pending.count is None or count is not None:
            self.pending.count = count
        self.pending.gap = 0
        self.pending.definite = False
        if not self.negated and self._cue_before(i):
            end = self._unknown_object(i + n)
            if end is not None:
                return end
        return i + n

    def _on_definite(self, i: int, n: int, value: object) -> int:
        self.pending.definite = True
        self.pending.gap = 0
        return i + n

    def _on_negate(self, i: int, n: int, value: object) -> int:
        self._reset()
        self.negated = True
        return i + n

    def _on_color(self, i: int, n: int, value: object) -> int:
        color = str(value)
        if i > 0 and self.tokens[i - 1] in lexicon.COLOR_PREFIXES:
            color = f"{self.tokens[i - 1]} {color}"
        self.pending.colors.append(color)
        self.pending.gap = 0
        return i + n

    def _on_material(self, i: int, n: int, value: object) -> int:
        self.pending.materials.append(str(value))
        self.pending.gap = 0
        return i + n

    def _on_style(self, i: int, n: int, value: object) -> int:
        if value == "colourful" and self._names_object_at(i + n):
            # "colourful mats": the mats are many-coloured, not the whole room.
            return self._on_color(i, n, "colourful")
        if value not in self.out.style:
            self.out.style.append(str(value))
        return i + n

    def _names_object_at(self, j: int) -> bool:
        """Whether the words from ``j`` on (skipping other describing words) name an object."""
        while j < len(self.tokens) and self.tokens[j] in DESCRIBERS:
            j += 1
        return any(
            catalog.lookup(" ".join(self.tokens[j : j + k])) is not None
            for k in (3, 2, 1)
            if j + k <= len(self.tokens)
        )

    def _on_size(self, i: int, n: int, value: object) -> int:
        assert isinstance(value, float)
        self.pending.sizes.append((" ".join(self.tokens[i : i + n]), value))
        self.pending.gap = 0
        return i + n

    def _on_mount(self, i: int, n: int, value: object) -> int:
        last = self.out.mentions[-1] if self.out.mentions else None
        between = self.tokens[last.end : i] if last is not None else []
        if last is not None and all(t in (",", "is", "are", "and") for t in between):
            last.mounted = True
        else:
            self.pending.mounted = True
        return i + n

    def _on_dims(self, i: int, n: int, value: object) -> int:
        assert isinstance(value, int)
        self.pending.dims = value
        self.pending.gap = 0
        return i + n

    def _on_surface(self, i: int, n: int, value: object) -> int:
        surface = str(value)
        material = self.pending.materials[-1] if self.pending.materials else None
        color = self.pending.colors[-1] if self.pending.colors else None
        if surface == "wall" and (material or color):
            base = material or "painted plaster"
            self.out.wall_material = f"{color} {base}" if color else base
        elif surface == "floor" and (material or color):
            base = material or "painted wood"
            self.out.floor_material = f"{color} {base}" if color else base
        self._reset()
        self.negated = False
        return i + n

    def _on_shape(self, i: int, n: int, value: object) -> int:
        self.shape = str(value)
        return i + n

    def _on_room(self, i: int, n: int, value: object) -> int:
        if self.shape is not None:
            self.out.shape = self.shape
            self.shape = None
        pending = self.pending
        if not self.out.rooms and self.out.room_name is None:
            self._name_room(i, n)  # "a sushi restaurant", "a card room"
        if value is not None:
            follows = self.room_end is not None and (
                i == self.room_end or (i == self.room_end + 1 and self.tokens[i - 1] == "s")
            )
            if follows and self.out.rooms:
                # "a dentist's waiting room", "an office kitchen": the last noun is the room.
                self.out.rooms[-1] = str(value)
            else:
                self.out.rooms.append(str(value))
        self.room_end = i + n
        if pending.dims is not None and self.out.room_dims is None:
            self.out.room_dims = pending.dims  # "a 10 by 12 meter buffet restaurant"
        if pending.sizes:
            factor = 1.0
            for _, f in pending.sizes:
                factor *= f
            self.out.room_factor = factor
        for word in (*pending.colors, *pending.materials):
            if word not in self.out.style:
                self.out.style.append(word)
        self._reset()
        self.negated = False
        return i + n

    def _name_room(self, i: int, n: int) -> None:
        """The words right before a room's name belong to it: "a sushi restaurant", "a
        pet shop", "a tattoo parlour" (a mention read there was no object)."""
        words: list[str] = []
        edge = i
        while self.out.mentions:
            last = self.out.mentions[-1]
            if last.end != edge or last.relations or last.negated:
                break
            self.out.mentions.pop()
            edge = last.index
            words.insert(0, last.phrase)
            if last.sizes:
                factor = self.out.room_factor or 1.0
                for _, f in last.sizes:
                    factor *= f
                self.out.room_factor = factor  # "a small sushi bar"
            if last.dims is not None:
                self.out.room_dims = self.dims.pairs.index(last.dims)
            for word in (*last.colors, *last.materials):
                if word not in self.out.style:
                    self.out.style.append(word)
            self.last_end = -1
        if not words and self.pending.word is not None and self.pending.word_at == edge - 1:
            words.extend(self.pending.run)
        if words:
            self.out.room_name = " ".join([*words, *self.tokens[i : i + n]])

    def _on_break(self, i: int, n: int, value: object) -> int:
        word = self.tokens[i]
        following = self.tokens[i + 1] if i + 1 < len(self.tokens) else ""
        if word in ("and", "or", ",") and (following,) in lexicon.PHRASES:
            kind = lexicon.PHRASES[(following,)][0]
            if kind in ("color", "material", "size") and not self.pending.empty():
                return i + n  # "a red and white sofa"
        if word in ("or", "nor", ","):
            self.pending = _Pending()
            return self._bare_plural(i, n)
        self._reset()
        self.negated = False
        return self._bare_plural(i, n)

    def _bare_plural(self, i: int, n: int) -> int:
        """After "with", "and" or a comma, a plural the catalog does not know names
        objects as "two geese" would: "a kitchen with geese", "pills and bandages"."""
        if self.negated or self.tokens[i] not in lexicon.CUES:
            return i + n
        end = self._unknown_object(i + n, plural_only=True)
        return end if end is not None else i + n

    def _on_word(self, i: int, n: int, value: object) -> int:
        word = self.tokens[i]
        if word in lexicon.COLOR_PREFIXES and i + 1 < len(self.tokens):
            nxt = lexicon.match(self.tokens, i + 1)
            if nxt[1] == "color":
                return i + n
        if word in lexicon.STOP_NOUNS:
            self._reset()
            return i + n
        if word in ("pairs", "sets") and i + 1 < len(self.tokens) and self.tokens[i + 1] == "of":
            return i + 2  # "16 pairs of chopsticks": the count stays with the noun
        gerund = word.endswith("ing") and lexicon.is_adjective(word)  # "a bowling alley"
        if (lexicon.is_noun(word) and not word.endswith("ed")) or gerund:
            pending = self.pending
            pending.run = [*pending.run, word] if pending.word_at == i - 1 else [word]
            pending.word, pending.word_at = word, i
        self.pending.gap += 1
        if self.pending.gap > 2:
            self._reset()
        return i + n

    def _on_object(self, i: int, n: int, value: object) -> int:
        assert isinstance(value, tuple)
        category, plural = value
        words = tuple(self.tokens[i : i + n])
        if n == 1 and words[0] in DESCRIBERS and i + 1 < len(self.tokens):
            following = lexicon.match(self.tokens, i + 1)[1]
            if following in ("object", "context", "word", "material", "color", "size"):
                # "a glass coffee table", "an orange sofa": the word describes the next.
                return DESCRIBERS[words[0]](self, i, n)
        if words in lexicon.ROOM_PHRASES and not self.out.rooms and self._opens_room(i, n):
            # "a cozy bar with ...": the first noun names the room, not a bar counter;
            # so does "a sushi bar with ...", though sushi alone would be food.
            return self._on_room(i, n, catalog.room_phrases().get(" ".join(words)))
        return self._mention(i, n, "object", str(category), bool(plural))

    def _opens_room(self, i: int, n: int) -> bool:
        """Whether the room noun at ``i`` comes first: nothing named before it, or only
        words right before it that name the room with it ("a sushi bar with ...")."""
        mentions = self.out.mentions
        if not mentions:
            return True
        if i + n >= len(self.tokens) or self.tokens[i + n] not in ROOM_FOLLOWERS:
            return False
        edge = i
        for mention in reversed(mentions):
            if mention.end != edge or mention.relations or mention.negated or mention.count:
                return False
            edge = mention.index
        return all(
            t in lexicon.ARTICLES
            or lexicon.match(self.tokens, k)[1] in ("size", "style", "color", "material")
            for k, t in enumerate(self.tokens[:edge])
        )

    def _on_context(self, i: int, n: int, value: object) -> int:
        phrase = str(value)
        return self._mention(i, n, "context", phrase, catalog.singular(phrase) != phrase)

    def _mention(self, i: int, n: int, kind: str, value: str, plural: bool) -> int:
        pending = self.pending
        last = self.out.mentions[-1] if self.out.mentions else None
        if (
            last is not None
            and last.end == i
            and not last.relations
            and not last.negated
            and last.kind in ("object", "context")
        ):
            # Two nouns in a row name one thing: "a pizza oven", "a flower bucket".
            self.out.mentions.pop()
            mention = replace(
                last,
                phrase=" ".join(self.tokens[i : i + n]),
                kind=kind,
                value=value,
                index=i,
                end=i + n,
                plural=plural,
                modifier=last.phrase,
                relations=[],
            )
            return self._finish(mention, i + n)
        mention = _Mention(
            phrase=" ".join(self.tokens[i : i + n]),
            kind=kind,
            value=value,
            index=i,
            end=i + n,
            plural=plural,
            count=pending.count,
            colors=list(pending.colors),
            materials=list(pending.materials),
            sizes=list(pending.sizes),
            definite=pending.definite,
            negated=self.negated,
            mounted=pending.mounted,
            target=i in self.targets,
        )
        if pending.word is not None and pending.word_at == i - 1:
            mention.modifier = pending.word
        if pending.dims is not None:
            mention.dims = self.dims.pairs[pending.dims]
        return self._finish(mention, i + n)

    def _finish(self, mention: _Mention, j: int) -> int:
        if self.leading is not None and not mention.negated:
            mention.relations.append((self.leading, None, ""))
        self.leading = None
        self.shape = None
        end = self._relations(mention, j)
        mention.end = end
        self.last_end = end
        self.out.mentions.append(mention)
        self._reset()
        return end

    def _previous(self) -> _Mention | None:
        for mention in reversed(self.out.mentions):
            if not mention.negated:
                return mention
        return None

    def _relations(self, mention: _Mention, j: int) -> int:
        """Read the placement phrases right after an object: "in the corner", "on the
        wall", "next to the bed", "around it", "by the window". Returns where the
        scanner goes on: at the target's first word, so "the bed" is read as an object
        of its own (or as a second mention of one already named)."""
        tokens = self.tokens
        if j < len(tokens) and tokens[j] == "of":
            # "a cup of tea on the table", "jars of candy on shelves": what it holds.
            t = j + 1
            while (
                t < len(tokens)
                and t - j <= OF_WORDS
                and lexicon.match(tokens, t)[1]
                in (
                    "word",
                    "color",
                    "material",
                )
            ):
                t += 1
            if t > j + 1:
                j = t
        while j < len(tokens):
            k = j
            if tokens[k] in ("and", ",") and k + 1 < len(tokens):
                nxt = lexicon.phrase_at(
                    tokens, k + 1, lexicon.ROOM_RULE_PHRASES
                ) or lexicon.phrase_at(tokens, k + 1, lexicon.RELATION_PHRASES)
                if nxt is None or (nxt[1] == "around" and tokens[k + 1] == "at"):
                    return j
                k += 1
            room_rule = lexicon.phrase_at(tokens, k, lexicon.ROOM_RULE_PHRASES)
            beside_it = lexicon.phrase_at(tokens, k, dict.fromkeys(lexicon.BESIDE_IT, "beside"))
            relation = lexicon.phrase_at(tokens, k, lexicon.RELATION_PHRASES)
            if room_rule is not None and (relation is None or room_rule[0] >= relation[0]):
                mention.relations.append((room_rule[1], None, ""))
                j = k + room_rule[0]
                continue
            if beside_it is not None and (relation is None or beside_it[0] > relation[0]):
                before = self._previous()
                if before is not None:
                    mention.relations.append(("beside", before.value, before.kind))
                j = k + beside_it[0]
                continue
            if relation is None:
                return j
            n, kind = relation
            start = k + n
            t = start
            while t < len(tokens) and tokens[t] in lexicon.TARGET_SKIP:
                t += 1
            while t < len(tokens) and lexicon.match(tokens, t)[1] in ("color", "material", "size"):
                t += lexicon.match(tokens, t)[0]
            if t >= len(tokens):
                return j
            word = tokens[t]
            if word in ("it", "them", "one"):
                before = self._previous()
                if before is None:
                    return j
                mention.relations.append((kind, before.value, before.kind))
                j = t + 1
                continue
            if word in lexicon.OPENING_WORDS:
                mention.relations.append((kind, lexicon.OPENING_WORDS[word], "opening"))
                j = t + 1
                continue
            m, found, value = lexicon.match(tokens, t)
            if found == "surface":
                if value == "wall" and kind in ("on", "above"):
                    mention.mounted = True
                elif value == "floor" and kind == "on":
                    mention.floor = True
                elif value == "ceiling" and kind in ("on", "under"):
                    mention.ceiling = True
                else:
                    return j
                j = t + m
                continue
            if found in ("object", "context"):
                target = str(value[0]) if isinstance(value, tuple) else str(value)
                mention.relations.append((kind, target, found))
                self.targets.add(t)
                return start
            if kind == "around" and tokens[k] == "at":
                return j
            return j
        return j

    def _unknown_object(self, start: int, plural_only: bool = False) -> int | None:
        """After an article or a number: "a harp", "two old harps" (``plural_only``: a
        plural only, "harps"). Returns the index after the noun phrase when it names an
        object the catalog does not know."""
        tokens = self.tokens
        words: list[str] = []
        j = start
        while j < len(tokens) and len(words) < 4:
            n, kind, _ = lexicon.match(tokens, j)
            if kind == "word" or (kind in ("color", "material", "size", "style") and n == 1):
                words.append(tokens[j])
                j += 1
                continue
            break
        if not words:
            return None
        if j < len(tokens):
            _, kind, _ = lexicon.match(tokens, j)
            if kind not in ("break",) or tokens[j] in ("of", "is", "are", "that", "which"):
                return None
        noun = words[-1]
        if not lexicon.is_noun(noun):
            return None
        colors: list[str] = []
        materials: list[str] = []
        sizes: list[tuple[str, float]] = []
        adjectives: list[str] = []
        for w in words[:-1]:
            _, kind, value = lexicon.match([w], 0)
            if kind == "color":
                colors.append(str(value))
            elif kind == "material":
                materials.append(str(value))
            elif kind == "size":
                assert isinstance(value, float)
                sizes.append((w, value))
            elif kind == "style":
                if value not in self.out.style:
                    self.out.style.append(str(value))
            elif not lexicon.is_adjective(w):
                return None
            else:
                adjectives.append(w)
        singular = catalog.singular(noun)
        if plural_only and singular == noun:
            return None
        name = singular
        if adjectives and (lexicon.is_noun(adjectives[-1]) or adjectives[-1].endswith("ing")):
            name = f"{adjectives[-1]} {singular}"  # "a bowling pin"
        if self._names_room(start, j):
            # "a bowling alley with ...": the first unknown noun phrase is the room.
            self.out.room_name = name if singular == noun else f"{' '.join(words[:-1])} {noun}"
            self.out.room_name = " ".join(
                w for w in self.out.room_name.split() if w not in lexicon.VAGUE_ADJECTIVES
            )
            self.out.rooms.clear()
            if sizes or self.pending.sizes:
                factor = 1.0
                for _, f in [*self.pending.sizes, *sizes]:
                    factor *= f
                self.out.room_factor = factor
            if self.pending.dims is not None:
                self.out.room_dims = self.pending.dims
            self._reset()
            return j
        mention = _Mention(
            phrase=" ".join(words),
            kind="unknown",
            value=name,
            index=start,
            plural=singular != noun,
            count=self.pending.count,
            colors=[*self.pending.colors, *colors],
            materials=[*self.pending.materials, *materials],
            sizes=[*self.pending.sizes, *sizes],
            adjectives=adjectives,
        )
        return self._finish(mention, j)

    def _names_room(self, start: int, end: int) -> bool:
        """Whether the unknown noun phrase from ``start`` to ``end`` opens the prompt and
        names the room: "a bowling alley with four lanes"."""
        out = self.out
        if out.rooms or out.room_name is not None or out.mentions or self.pending.count:
            return False
        if any(t not in lexicon.ARTICLES for t in self.tokens[:start]):
            return False
        return end < len(self.tokens) and self.tokens[end] in ROOM_FOLLOWERS


def _describer(kind: str) -> Callable[[_Scanner, int, int], int]:
    def describe(scanner: _Scanner, i: int, n: int) -> int:
        word = scanner.tokens[i]
        value: object
        if kind == "color":
            value = lexicon.COLOR_ALIASES.get(word, word)
            return scanner._on_color(i, n, value)
        if kind == "material":
            return scanner._on_material(i, n, lexicon.MATERIALS[word])
        if kind == "size":
            return scanner._on_size(i, n, lexicon.SIZES[word])
        return scanner._on_style(i, n, lexicon.STYLES[word])

    return describe


# Words that name an object alone but describe the next noun ("a glass table").
DESCRIBERS: dict[str, Callable[[_Scanner, int, int], int]] = {
    **{w: _describer("style") for w in lexicon.STYLES if " " not in w},
    **{w: _describer("size") for w in lexicon.SIZES if " " not in w},
    **{w: _describer("material") for w in lexicon.MATERIALS if " " not in w},
    **{w: _describer("color") for w in lexicon.COLORS},
}

# --------------------------------------------------------------------------- resolving


def _resolve(kind: str, value: str, room_type: str) -> str:
    if kind == "context":
        choices = catalog.context()[value]
        return choices.get(room_type, choices["*"])
    return value


def _resolve_phrase(phrase: str, room_type: str) -> str:
    if phrase in catalog.context():
        return _resolve("context", phrase, room_type)
    return phrase


def _category(mention: _Mention, room_type: str) -> str:
    """The category a mention names in a room of ``room_type``: the catalog's name, a
    compound its modifier makes ("a zither table"), or an unknown noun as written."""
    category = _resolve(mention.kind, mention.value, room_type)
    if mention.modifier is not None:
        match = catalog.resolve(f"{mention.modifier} {mention.phrase}")
        if match is not None and match.category != category:
            return match.category
    return category


def _infer_room_type(mentions: list[_Mention]) -> str | None:
    """The room whose template holds most of the named objects; None when they say too
    little about the room (the generic room), the default room when nothing is named."""
    categories = {
        _resolve(m.kind, m.value, "*")
        for m in mentions
        if m.kind in ("object", "context") and not m.negated
    }
    if not categories:
        return catalog.default_room() if not mentions else None
    named = {catalog.kind(c) for c in categories}
    best, best_score = None, 0.0
    for name, template in catalog.rooms().items():
        weights: dict[str, float] = {}
        for k, item in enumerate(template.items):
            for kind in named & {catalog.kind(c) for c in item.unless}:
                if k == 0 and item.category in categories:
                    weight = 1.0  # the room's own piece: a toilet makes a bathroom
                else:
                    weight = INFER_CORE if item.core else INFER_EXTRA
                weights[kind] = max(weights.get(kind, 0.0), weight)
        score = sum(weights.values())
        if score > best_score:
            best, best_score = name, score
    # A table alone makes no dining room; a bed and nightstands make a bedroom.
    return best if best_score >= 1.0 else None


def _estimated_size(placement: Placement, factor: float) -> Vec3:
    """An unknown object's size from where it goes, scaled by its size words."""
    w, h, d = ESTIMATES.get(placement, ESTIMATES["floor"])
    return (round(w * factor, 3), round(h * factor, 3), round(d * factor, 3))


@dataclass
class _Request:
    """An object the prompt names, on its way to becoming an :class:`ObjectSpec`."""

    category: str
    count: int
    description: str | None
    size: Vec3 | None
    material: str | None
    color: str | None
    placement: Placement | None
    mount_height: float | None = None
    constraints: list[Constraint] = field(default_factory=list)

    def specs(self) -> list[ObjectSpec]:
        """The request as object specs: more than one spec holds is split over several,
        so a count stays exact."""
        size = None
        if self.size is not None:
            size = ObjectSize(width=self.size[0], height=self.size[1], depth=self.size[2])
        out = []
        left = self.count
        while left > 0:
            out.append(
                ObjectSpec(
                    category=self.category,
                    description=self.description,
                    count=min(left, MAX_COUNT),
                    size=size,
                    material=self.material,
                    color=self.color,
                    placement=self.placement,
                    mount_height=self.mount_height,
                    constraints=self.constraints,
                )
            )
            left -= MAX_COUNT
        return out


def _request(mention: _Mention, category: str) -> _Request:
    match = catalog.resolve(category)
    entry = match.entry if match is not None else None
    factor = 1.0
    for _, f in mention.sizes:
        factor *= f
    if mention.count is not None:
        count = mention.count
    elif mention.plural:
        count = entry.plural_count if entry is not None else 2
    else:
        count = 1
    count = max(1, count)  # more than a room holds is trimmed and reported later
    placement: Placement | None = None
    if mention.mounted and (
        entry is None or entry.wall_mountable or entry.placement in ("wall", "surface")
    ):
        placement = "wall"
    elif mention.ceiling and (entry is None or entry.placement != "floor"):
        placement = "ceiling"
    elif mention.floor and entry is not None and entry.placement == "surface":
        placement = "floor"
    size: Vec3 | None = None
    if entry is None:
        # Known to nobody: sized and placed from the phrase ("a small X on the desk").
        shape: Placement = placement or "floor"
        if any(kind == "on" for kind, _, _ in mention.relations):
            shape = "surface"
        if factor != 1.0:
            size = _estimated_size(shape, factor)  # "a small X": the size words scale it
        if shape == "surface":
            placement = "surface"
    elif mention.dims is not None:
        dims = mention.dims
        height = dims[2] if len(dims) == 3 else entry.size[1]
        if min(dims[0], dims[1]) > 0.05 and height > 0.001:
            size = (round(dims[0], 3), round(height, 3), round(dims[1], 3))
    elif factor != 1.0:
        w, h, d = entry.size
        size = (round(w * factor, 3), h, round(d * factor, 3))
    color = mention.colors[0] if mention.colors else None
    if len(mention.colors) > 1:
        color = " and ".join(mention.colors)
    material = " ".join(dict.fromkeys(mention.materials)) or None
    words = [w for w, _ in mention.sizes] + mention.adjectives
    description = None
    if words or color or material:
        name = {"teachers desk": "teacher's desk", "tv": "TV"}.get(category, category)
        description = " ".join(w for w in (*words, color, material, name) if w)
    return _Request(
        category=category,
        count=count,
        description=description,
        size=size,
        material=material,
        color=color,
        placement=placement,
    )


def _referents(resolved: list[tuple[_Mention, str]], named_kinds: set[str]) -> dict[str, str]:
    """Categories the prompt only refers to ("the table", "the shelf") that mean an object
    it names another way: one of the same head noun or drawn the same (a card table, a
    cubby)."""
    named = [c for m, c in resolved if not m.negated and not (m.definite or m.target)]
    alias: dict[str, str] = {}
    for mention, category in resolved:
        if not (mention.definite or mention.target) or catalog.kind(category) in named_kinds:
            continue
        entry = catalog.lookup(category)
        head = category.split()[-1]
        # A bare noun ("the table") may mean a compound of it (the card table).
        same_head = [c for c in named if c.split()[-1] == head] if head == category else []
        same_shape = [
            c
            for c in named
            if entry is not None
            and (found := catalog.lookup(c)) is not None
            and found.shape == entry.shape
        ]
        if same_head or same_shape:
            alias[category] = (same_head or same_shape)[0]
    return alias


def _constraints(
    mention: _Mention, request: _Request, room_type: str, alias: dict[str, str] | None = None
) -> None:
    """The prompt's placement rules for one object, fitted to what the object is."""
    entry = catalog.lookup(request.category)
    usual = request.placement or (entry.placement if entry is not None else "floor")
    for kind, phrase, target_kind in mention.relations:
        if target_kind == "opening":
            assert phrase is not None
            if kind not in ("near", "far", "facing"):
                kind = "near"
            request.constraints.append(Constraint(kind=kind, target=phrase))
            continue
        if phrase is None:
            if usual in ("floor", "surface") or kind == "against_wall":
                request.constraints.append(Constraint(kind=kind))
            continue
        target = _resolve_phrase(phrase, room_type) if target_kind != "unknown" else phrase
        target = (alias or {}).get(target, target)
        if target == request.category and kind not in ("beside", "near", "far", "aligned_with"):
            continue
        held = catalog.lookup(target)
        if kind in ("under", "near", "beside") and held is not None:
            if held.placement in ("wall", "ceiling"):
                continue  # "chairs under a chandelier": the chandelier hangs above them
        if kind == "above":
            if request.category in ("table lamp", "floor lamp"):
                request.category, request.placement, request.size = "ceiling light", None, None
                usual = "ceiling"
            elif usual in ("wall", "ceiling"):
                pass
            elif entry is not None and entry.wall_mountable:
                request.placement = usual = "wall"
            elif entry is None:
                request.placement = usual = "wall"
                request.size = _estimated_size("wall", 1.0)
            elif usual == "surface":
                kind = "on"
            else:
                kind = "near"
        if kind == "on" and usual in ("wall", "ceiling"):
            kind = "above" if usual == "wall" else "near"
        request.constraints.append(Constraint(kind=kind, target=target))


def _room_size(scan: _Scan, dims: Dimensions, room_type: str | None) -> FloorSize | None:
    """The floor the prompt gives the room: a size written with the room ("a 6x8 m
    computer lab"), one written alone, a width or depth, or an area."""
    template = catalog.room_template(room_type)
    aspect = template.size[1] / template.size[0]
    width = depth = None
    pair = None
    if scan.room_dims is not None:
        pair = dims.pairs[scan.room_dims]
    elif dims.width is not None and dims.depth is not None:
        width, depth = dims.width, dims.depth
    elif scan.unused_dims:
        pair = dims.pairs[scan.unused_dims[0]]
    elif dims.area is not None:
        area = dims.area / (1 - L_NOTCH * L_NOTCH) if scan.shape == "l_shape" else dims.area
        width = (area / aspect) ** 0.5
        depth = width * aspect
    elif dims.width is not None:
        width, depth = dims.width, dims.width * aspect
    elif dims.depth is not None:
        width, depth = dims.depth / aspect, dims.depth
    if pair is not None:
        width, depth = pair[0], pair[1]
        if len(pair) == 3 and dims.height is None:
            dims.height = pair[2]
    if width is None or depth is None:
        return None
    width = round(min(max(width, MIN_SIDE), MAX_SIDE), 4)
    depth = round(min(max(depth, MIN_SIDE), MAX_SIDE), 4)
    return FloorSize(width=width, depth=depth)


def understand(prompt: str) -> SceneSpec:
    """The room and the objects ``prompt`` names, without template objects."""
    text, dims = extract(normalise(prompt))
    scan = _Scanner(tokens(text), dims).run()
    size_factor = scan.room_factor or 1.0
    predicate = ROOM_SIZE_PREDICATE.search(text)
    if predicate and predicate.group(1) in lexicon.SIZES:
        size_factor = lexicon.SIZES[predicate.group(1)]
    if scan.room_name is not None:
        known = catalog.room(scan.room_name)  # "a wine bar" is a bar
        room_type: str | None = known.name if known is not None else scan.room_name
    elif scan.rooms:
        room_type = scan.rooms[0]
    else:
        room_type = _infer_room_type(scan.mentions)
        if room_type is None:
            # "a room with a bed": things that say too little about the room get the
            # generic room, not the default room's sofa and tv.
            room_type = catalog.room_template("room").name
    context_room = catalog.room_template(room_type).name

    requests: list[_Request] = []
    excluded: set[str] = set()
    resolved = [(m, _category(m, context_room)) for m in scan.mentions]
    for mention, category in resolved:
        if mention.negated:
            excluded.add(category)
    excluded_kinds = {catalog.kind(c) for c in excluded}
    # Kinds named as objects of their own: "the bed" in "a painting above the bed" then
    # refers to the bed already named rather than asking for a second one.
    named_kinds = {
        catalog.kind(c) for m, c in resolved if not m.negated and not (m.definite or m.target)
    }
    # "chess boards on the table" in a room with a card table: that table.
    alias = _referents(resolved, named_kinds)
    named: dict[str, _Request] = {}
    for mention, category in resolved:
        category = alias.get(category, category)
        kind = catalog.kind(category)
        if mention.negated or category in excluded or kind in excluded_kinds:
            continue
        reference = mention.definite or mention.target
        if reference and kind in named_kinds and kind not in named:
            continue  # named later in the prompt: that mention asks for it
        if reference and kind in named:
            first = named[kind]
            if not first.constraints and mention.relations:
                _constraints(mention, first, context_room, alias)
            continue
        request = _request(mention, category)
        _constraints(mention, request, context_room, alias)
        named.setdefault(kind, request)
        requests.append(request)
    seats = SEATS_FOR.search(text)
    if seats is not None:
        word = seats.group(1) or seats.group(2)
        count = int(word) if word.isdigit() else lexicon.NUMBERS[word]
        seat = "student desk" if context_room == "classroom" else "chair"
        if count > 0 and all(catalog.kind(r.category) != catalog.kind(seat) for r in requests):
            if seat not in excluded:
                requests.append(_Request(seat, count, None, None, None, None, None))

    over = _within_limit(requests)
    size = _room_size(scan, dims, room_type)
    height = None if dims.height is None else round(min(max(dims.height, 2.2), 8.0), 3)
    return SceneSpec(
        room=RoomSpec(
            type=room_type,
            shape="l_shape" if scan.shape == "l_shape" else None,
            size=size,
            height=height,
            scale=round(size_factor, 3) if size_factor != 1.0 else None,
            floor_material=scan.floor_material,
            wall_material=scan.wall_material,
            style=list(scan.style),
        ),
        objects=[spec for r in requests for spec in r.specs()],
        exclude=sorted(excluded),
        over_limit=over,
    )


def _within_limit(requests: list[_Request]) -> list[OverLimit]:
    """Trim the last-named requests so the room holds at most ``MAX_TOTAL`` objects;
    what is trimmed is reported."""
    total = sum(r.count for r in requests)
    excess = total - MAX_TOTAL
    over = []
    for request in reversed(requests):
        if excess <= 0:
            break
        cut = min(excess, request.count - 1)
        if cut <= 0:
            continue
        request.count -= cut
        excess -= cut
        reason = (
            f"the prompt asks for {total} objects; one room is planned with at most {MAX_TOTAL}"
        )
        over.append(OverLimit(category=request.category, count=cut, reason=reason))
    return over[::-1]
