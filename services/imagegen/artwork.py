"""Which objects are pictures: a painting, poster or print gets art drawn for it (and an
image of its own per object), not a material. Light on purpose: the cache key of every
image asks, including a build whose images all come from the cache."""

from __future__ import annotations

import re

from shared import catalog
from shared.layout import PlacedObject

# Categories (or words) that are pictures hung on a wall.
ART_WORDS = frozenset("painting paintings poster posters artwork art canvas print mural".split())
_ART_FAMILIES = frozenset({"painting"})
_WORD = re.compile(r"[a-z]+")


def is_artwork(obj: PlacedObject) -> bool:
    """Whether the object is a painting, poster or other picture: it gets art, not a material."""
    if catalog.shape_family(obj.category, obj.size) in _ART_FAMILIES:
        return True
    return bool(set(_WORD.findall(obj.category.lower())) & ART_WORDS)
