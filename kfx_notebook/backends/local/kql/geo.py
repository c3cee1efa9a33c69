"""Kusto's geo_* functions: H3 and S2 cells, geohashes, and measurements on its sphere.

Cells travel as their hex tokens, shapes as GeoJSON text ([longitude, latitude] order).
Rule, from the documentation: an invalid cell, coordinate or resolution gives an empty
string for functions returning a cell and null for the rest; orders are H3's own
(`grid_disk`), which is the order the documented examples show. `h3` is imported on first use.
"""

from __future__ import annotations

import itertools
import json
import math
import re

from ....errors import UnsupportedError


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
    box = _geohash_box(geohash)
    if box is None:
        return None
    lon, lat = box
    return json.dumps({"type": "Point", "coordinates": [(lon[0] + lon[1]) / 2, (lat[0] + lat[1]) / 2]})


def geohash_to_polygon(geohash: str) -> str | None:
    """The cell's rectangle as a GeoJSON polygon (counterclockwise); null for an invalid geohash."""
    box = _geohash_box(geohash)
    if box is None:
        return None
    (west, east), (south, north) = box
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


def _geohash_box(geohash: str) -> tuple[list[float], list[float]] | None:
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
    return lon, lat


def geohash_neighbors(geohash: str) -> str | None:
    """The eight geohashes around the cell (same length), in the order the documentation shows for
    'sunny'; null for an invalid geohash. A cell at a pole or the antimeridian is refused: which
    cells Kusto lists there is not documented."""
    box = _geohash_box(geohash)
    if box is None:
        return None
    (west, east), (south, north) = box
    width, height = east - west, north - south
    if south - height < -90 or north + height > 90 or west - width < -180 or east + width > 180:
        raise ValueError("unsupported: geo_geohash_neighbors of a cell at a pole or the antimeridian")
    centre_lon, centre_lat = (west + east) / 2, (south + north) / 2
    order = [(-1, -1), (-1, 1), (1, -1), (0, 1), (-1, 0), (1, 1), (1, 0), (0, -1)]  # (east, north) steps
    return json.dumps([point_to_geohash(centre_lon + dx * width, centre_lat + dy * height, len(geohash))
                       for dx, dy in order])


# -- S2 cells (the `s2cell` library: the reference C++ algorithm, cell tokens) ------------------------
S2_DEFAULT_LEVEL = 11


def point_to_s2cell(longitude: float, latitude: float, level: int) -> str:
    """The S2 cell token; '' for an invalid coordinate or level (documented, also for a null level)."""
    if not (_valid_point(longitude, latitude) and 0 <= int(level) <= 30):
        return ""
    import s2cell
    return s2cell.lat_lon_to_token(latitude, longitude, int(level))


# -- measurements on Kusto's sphere: geodesic (great-circle) edges on a sphere of S2's radius -----------
#: The radius (metres) Kusto's geo_* measurements use; the documented distances match it to 1e-9.
EARTH_RADIUS_M = 6371010.0


def _valid_point(longitude, latitude) -> bool:
    return (isinstance(longitude, (int, float)) and isinstance(latitude, (int, float))
            and -180 <= longitude <= 180 and -90 <= latitude <= 90)


def _central_angle(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """The angle (radians) between two points seen from the centre (haversine, stable for short arcs)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dlon, dlat = math.radians(lon2 - lon1), p2 - p1
    h = math.sin(dlat / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlon / 2) ** 2
    return 2 * math.asin(min(1.0, math.sqrt(h)))


def distance_2points(lon1: float, lat1: float, lon2: float, lat2: float) -> float | None:
    """Metres along the great circle; null for an invalid coordinate (documented)."""
    if not (_valid_point(lon1, lat1) and _valid_point(lon2, lat2)):
        return None
    return EARTH_RADIUS_M * _central_angle(lon1, lat1, lon2, lat2)


def point_in_circle(lon: float, lat: float, centre_lon: float, centre_lat: float, radius: float) -> bool | None:
    """Whether the point is within *radius* metres of the centre; null for invalid input (documented)."""
    if not (_valid_point(lon, lat) and _valid_point(centre_lon, centre_lat)) or radius < 0:
        return None
    return distance_2points(lon, lat, centre_lon, centre_lat) <= radius


def azimuth(lon1: float, lat1: float, lon2: float, lat2: float) -> float | None:
    """Radians clockwise from north, in [0, 2pi), of the geodesic from point 1 towards point 2;
    null for an invalid coordinate or two equal points (documented)."""
    if not (_valid_point(lon1, lat1) and _valid_point(lon2, lat2)) or (lon1, lat1) == (lon2, lat2):
        return None
    if _central_angle(lon1, lat1, lon2, lat2) == 0.0:
        return None
    p1, p2, dlon = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    angle = math.atan2(math.sin(dlon) * math.cos(p2),
                       math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dlon))
    return angle % (2 * math.pi)


def _polygons(shape) -> list[list[list[list[float]]]] | None:
    """The rings of each polygon of a GeoJSON Polygon or MultiPolygon, or None if it is not a valid one
    (rings of at least four valid positions, closed)."""
    if not isinstance(shape, dict):
        return None
    kind, coordinates = shape.get("type"), shape.get("coordinates")
    polygons = [coordinates] if kind == "Polygon" else coordinates if kind == "MultiPolygon" else None
    if not isinstance(polygons, list) or not polygons:
        return None
    for rings in polygons:
        if not isinstance(rings, list) or not rings:
            return None
        for ring in rings:
            if (not isinstance(ring, list) or len(ring) < 4 or ring[0] != ring[-1]
                    or not all(isinstance(p, list) and len(p) >= 2 and _valid_point(p[0], p[1]) for p in ring)):
                return None
    return polygons


def polygon_perimeter(shape_json: str) -> float | None:
    """Metres along every ring's geodesic edges; null for an invalid polygon (documented). A multipolygon
    of several polygons is refused: Kusto measures their union's boundary, which this does not compute."""
    polygons = _polygons(_loads(shape_json))
    if polygons is None:
        return None
    if len(polygons) > 1:
        raise ValueError("unsupported: geo_polygon_perimeter of a multipolygon with several polygons")
    return sum(distance_2points(*a[:2], *b[:2]) for ring in polygons[0] for a, b in itertools.pairwise(ring))


def _unit(lon: float, lat: float) -> tuple[float, float, float]:
    la, lo = math.radians(lat), math.radians(lon)
    return (math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la))


def _ring_contains(ring: list[list[float]], lon: float, lat: float) -> bool:
    """Whether the smaller region the ring bounds contains the point, its edges geodesics.

    The ring is projected gnomonically around its mean direction: that projection maps great
    circles to straight lines, so the planar even-odd test is exact. A ring not inside the open
    hemisphere around its mean direction, or a point exactly on an edge, is refused."""
    vertices = [_unit(p[0], p[1]) for p in ring[:-1]]
    centre = [sum(v[i] for v in vertices) for i in range(3)]
    norm = math.sqrt(sum(c * c for c in centre))
    if norm == 0:
        raise ValueError("unsupported: geo_point_in_polygon of a ring around half the sphere")
    centre = [c / norm for c in centre]
    # a tangent basis at the centre
    helper = (0.0, 0.0, 1.0) if abs(centre[2]) < 0.9 else (1.0, 0.0, 0.0)
    east = _normalized(_cross(helper, centre))
    north = _cross(centre, east)

    def project(v):
        depth = _dot(v, centre)
        return None if depth <= 1e-12 else (_dot(v, east) / depth, _dot(v, north) / depth)

    plane = [project(v) for v in vertices]
    if any(p is None for p in plane):
        raise ValueError("unsupported: geo_point_in_polygon of a ring wider than a hemisphere")
    point = project(_unit(lon, lat))
    if point is None:
        return False  # the ring lies in the hemisphere around its centre; the point does not
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in zip(plane, plane[1:] + plane[:1]):
        cross = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)
        if cross == 0 and min(x1, x2) <= x <= max(x1, x2) and min(y1, y2) <= y <= max(y1, y2):
            raise ValueError("unsupported: geo_point_in_polygon of a point exactly on an edge")
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def point_in_polygon(lon: float, lat: float, shape_json: str) -> bool | None:
    """Whether a shell contains the point and none of its holes do; null for an invalid point or polygon."""
    polygons = _polygons(_loads(shape_json))
    if polygons is None or not _valid_point(lon, lat):
        return None
    return any(_ring_contains(rings[0], lon, lat) and not any(_ring_contains(h, lon, lat) for h in rings[1:])
               for rings in polygons)


def _loads(text: str):
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def _dot(a, b) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _cross(a, b) -> tuple[float, float, float]:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _normalized(v) -> tuple[float, float, float]:
    n = math.sqrt(_dot(v, v))
    return (v[0] / n, v[1] / n, v[2] / n)


# -- WKT (OGC simple features text) to GeoJSON ------------------------------------------------------
_WKT_TOKEN = re.compile(r"\s*(?:([A-Za-z]+)|([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|([(),]))")
_WKT_KINDS = {"POINT": "Point", "LINESTRING": "LineString", "POLYGON": "Polygon", "MULTIPOINT": "MultiPoint",
              "MULTILINESTRING": "MultiLineString", "MULTIPOLYGON": "MultiPolygon",
              "GEOMETRYCOLLECTION": "GeometryCollection"}
#: nesting depth of each kind's coordinates (0: one position)
_WKT_DEPTH = {"Point": 0, "LineString": 1, "Polygon": 2, "MultiPoint": 1, "MultiLineString": 2, "MultiPolygon": 3}


def from_wkt(text: str) -> str | None:
    """The GeoJSON of a 2-D WKT geometry; null for text that is not one (documented). Z/M
    coordinates and EMPTY geometries are refused rather than guessed."""
    tokens = []
    pos, source = 0, (text or "").strip()
    while pos < len(source):
        m = _WKT_TOKEN.match(source, pos)
        if not m or m.end() == pos:
            return None
        tokens.append(m.group(0).strip())
        pos = m.end()
    try:
        shape, rest = _wkt_geometry(tokens)
    except (IndexError, ValueError):
        return None
    return json.dumps(shape) if not rest else None


def _wkt_geometry(tokens: list[str]) -> tuple[dict, list[str]]:
    kind = _WKT_KINDS.get(tokens[0].upper())
    if kind is None:
        raise ValueError(tokens[0])
    if tokens[1].upper() in ("Z", "M", "ZM", "EMPTY"):
        raise UnsupportedError(f"unsupported: geo_from_wkt of {tokens[0]} {tokens[1]}")
    rest = tokens[1:]
    if kind == "GeometryCollection":
        geometries, rest = [], _expect(rest, "(")
        while True:
            shape, rest = _wkt_geometry(rest)
            geometries.append(shape)
            if rest[0] == ")":
                return {"type": kind, "geometries": geometries}, rest[1:]
            rest = _expect(rest, ",")
    coordinates, rest = _wkt_list(rest, _WKT_DEPTH[kind] + (kind == "Point"))
    if kind == "Point":
        coordinates = coordinates[0]
    if kind == "MultiPoint":  # MULTIPOINT (1 2, 3 4) and MULTIPOINT ((1 2), (3 4)) both occur
        coordinates = [c[0] if c and isinstance(c[0], list) else c for c in coordinates]
    return {"type": kind, "coordinates": coordinates}, rest


def _wkt_list(tokens: list[str], depth: int) -> tuple[list, list[str]]:
    """A parenthesised, comma-separated list; at depth 1 its items are positions."""
    rest, items = _expect(tokens, "("), []
    while True:
        if depth == 1 and rest[0] != "(":
            numbers = []
            while rest[0] not in (",", ")"):
                numbers.append(_number(rest[0]))
                rest = rest[1:]
            if len(numbers) != 2:
                raise UnsupportedError("unsupported: geo_from_wkt of a position that is not 2-D")
            if not _valid_point(*numbers):
                raise UnsupportedError("unsupported: geo_from_wkt of a position outside longitude/latitude range")
            items.append(numbers)
        else:
            item, rest = _wkt_list(rest, depth - 1 if depth > 1 else 1)
            items.append(item)
        if rest[0] == ")":
            return items, rest[1:]
        rest = _expect(rest, ",")


def _expect(tokens: list[str], token: str) -> list[str]:
    if tokens[0] != token:
        raise ValueError(token)
    return tokens[1:]


def _number(token: str) -> int | float:
    value = float(token)
    return int(value) if re.fullmatch(r"[-+]?\d+", token) else value
