"""Kusto's geo_h3cell_* and geo_point_to_h3cell over the `h3` library (Uber's H3, v4 API).

Cells travel as their hex tokens, shapes as GeoJSON text ([longitude, latitude] order).
Rule, from the documentation: an invalid cell, coordinate or resolution gives an empty
string for functions returning a cell and null for the rest; orders are H3's own
(`grid_disk`), which is the order the documented examples show. `h3` is imported on first use.
"""

from __future__ import annotations

import json


def _h3():
    import h3
    return h3


def _valid(cell: str) -> bool:
    try:
        return bool(cell) and _h3().is_valid_cell(cell)
    except (TypeError, ValueError):
        return False


def point_to_h3cell(longitude: float, latitude: float, resolution: int = 6) -> str:
    if not (-180 <= longitude <= 180 and -90 <= latitude <= 90 and 0 <= int(resolution) <= 15):
        return ""
    return _h3().latlng_to_cell(latitude, longitude, int(resolution))


def parent(cell: str, resolution: int | None = None) -> str:
    if not _valid(cell):
        return ""
    level = _h3().get_resolution(cell)
    resolution = level - 1 if resolution is None else int(resolution)
    if not 0 <= resolution < level:
        return ""
    return _h3().cell_to_parent(cell, resolution)


#: The documented example asks for children 6 levels down and gets null; 5 levels is 16,807 cells.
MAX_CHILD_LEVELS = 5


def children(cell: str, resolution: int | None = None) -> str | None:
    if not _valid(cell):
        return None
    level = _h3().get_resolution(cell)
    resolution = level + 1 if resolution is None else int(resolution)
    if not level < resolution <= min(15, level + MAX_CHILD_LEVELS):
        return None
    return json.dumps(list(_h3().cell_to_children(cell, resolution)))


def level(cell: str) -> int | None:
    return _h3().get_resolution(cell) if _valid(cell) else None


def neighbors(cell: str) -> str | None:
    if not _valid(cell):
        return None
    return json.dumps([c for c in _h3().grid_disk(cell, 1) if c != cell])


def central_point(cell: str) -> str | None:
    if not _valid(cell):
        return None
    lat, lng = _h3().cell_to_latlng(cell)
    return json.dumps({"type": "Point", "coordinates": [lng, lat]})


def polygon(cell: str) -> str | None:
    if not _valid(cell):
        return None
    ring = [[lng, lat] for lat, lng in _h3().cell_to_boundary(cell)]
    return json.dumps({"type": "Polygon", "coordinates": [ring + ring[:1]]})


# -- geohash (the public-domain algorithm: base-32, bits alternate longitude, latitude) --------------
GEOHASH_ALPHABET = "0123456789bcdefghjkmnpqrstuvwxyz"
#: Kusto's geohash accuracy range (characters).
GEOHASH_LENGTHS = range(1, 19)


def point_to_geohash(longitude: float, latitude: float, accuracy: int = 5) -> str:
    """'' for an invalid coordinate or accuracy (documented)."""
    if not (-180 <= longitude <= 180 and -90 <= latitude <= 90 and int(accuracy) in GEOHASH_LENGTHS):
        return ""
    lon, lat, bits, even = [-180.0, 180.0], [-90.0, 90.0], [], True
    while len(bits) < 5 * int(accuracy):
        span, value = (lon, longitude) if even else (lat, latitude)
        middle = (span[0] + span[1]) / 2
        bits.append(1 if value >= middle else 0)
        span[0 if value >= middle else 1] = middle
        even = not even
    return "".join(GEOHASH_ALPHABET[int("".join(map(str, bits[i:i + 5])), 2)] for i in range(0, len(bits), 5))


def geohash_to_central_point(geohash: str) -> str | None:
    """The GeoJSON point at the centre of the cell; null for an invalid geohash (documented)."""
    text = (geohash or "").lower()
    if len(text) not in GEOHASH_LENGTHS or any(c not in GEOHASH_ALPHABET for c in text):
        return None
    lon, lat, even = [-180.0, 180.0], [-90.0, 90.0], True
    for char in text:
        code = GEOHASH_ALPHABET.index(char)
        for shift in range(4, -1, -1):
            span = lon if even else lat
            span[0 if (code >> shift) & 1 else 1] = (span[0] + span[1]) / 2
            even = not even
    return json.dumps({"type": "Point", "coordinates": [(lon[0] + lon[1]) / 2, (lat[0] + lat[1]) / 2]})
