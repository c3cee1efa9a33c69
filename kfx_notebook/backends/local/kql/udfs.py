"""Python UDFs for the KQL functions no DuckDB expression states exactly, one job each.

Each is a plain function of Python values (dynamic arrives as JSON text and leaves as JSON
text), registered on the connection by `register` when the engine opens it, before any lock.
Rule: the UDF computes Kusto's answer or raises; a value it cannot read is null only where
Kusto's own answer is null (documented per function).
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable
from typing import Any

from . import geo, percentiles, sequences, series

# -- IP addresses ---------------------------------------------------------------------------
_IPV4_TEXT = re.compile(r"^\s*(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:/(\d{1,2}))?\s*$")


def _ipv4_prefix(text: str | None) -> tuple[int, int] | None:
    m = _IPV4_TEXT.match(text or "")
    if not m or any(int(p) > 255 for p in m.groups()[:4]):
        return None
    prefix = 32 if m.group(5) is None else int(m.group(5))
    return (int(ipaddress.IPv4Address(".".join(m.groups()[:4]))), prefix) if prefix <= 32 else None


def ipv4_is_match(a: str, b: str, prefix: int | None = None) -> bool | None:
    """Equal under the shortest of the two masks (and the explicit prefix); null if unparsable."""
    pa, pb = _ipv4_prefix(a), _ipv4_prefix(b)
    if pa is None or pb is None:
        return None
    bits = min(pa[1], pb[1], 32 if prefix is None else int(prefix))
    mask = (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF
    return (pa[0] & mask) == (pb[0] & mask)


def ipv4_is_in_any_range(ip: str, ranges: str) -> bool | None:
    if _ipv4_prefix(ip) is None:
        return None
    return any(ipv4_is_match(ip, r) for r in _strings(ranges))


def ipv4_is_private(ip: str) -> bool | None:
    parsed = _ipv4_prefix(ip)
    if parsed is None:
        return None
    return any(ipv4_is_match(ip, r) for r in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


def ipv4_netmask_suffix(ip: str) -> int | None:
    parsed = _ipv4_prefix(ip)
    return None if parsed is None else parsed[1]


def _ipv6(text: str) -> tuple[int, int] | None:
    """An IPv4 or IPv6 text with an optional /prefix -> (128-bit value, prefix bits)."""
    text = (text or "").strip()
    addr, _, prefix = text.partition("/")
    if addr.startswith("::") and _IPV4_TEXT.match(addr[2:]):
        addr = addr[2:]  # Kusto reads ::a.b.c.d as the IPv4 address a.b.c.d (its documented examples)
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv4Address):
        bits = 128 if not prefix else 96 + int(prefix)
        return int(ipaddress.IPv6Address(f"::ffff:{ip}")), bits
    return int(ip), 128 if not prefix else int(prefix)


def ipv6_is_match(a: str, b: str, prefix: int | None = None) -> bool | None:
    pa, pb = _ipv6(a), _ipv6(b)
    if pa is None or pb is None:
        return None
    bits = min(pa[1], pb[1], 128 if prefix is None else int(prefix) + (96 if _is_v4(a) and _is_v4(b) else 0))
    mask = ((1 << 128) - 1) ^ ((1 << (128 - bits)) - 1)
    return (pa[0] & mask) == (pb[0] & mask)


def _is_v4(text: str) -> bool:
    return _IPV4_TEXT.match(text or "") is not None


# An IPv4 address "appears" in text when it is delimited by non-alphanumeric, non-dot characters.
_IPV4_IN_TEXT = re.compile(r"(?<![0-9A-Za-z.])(\d{1,3}(?:\.\d{1,3}){3})(?![0-9A-Za-z.])")


def _ips_in(text: str) -> list[str]:
    return [m for m in _IPV4_IN_TEXT.findall(text or "") if all(int(p) <= 255 for p in m.split("."))]


def has_any_ipv4(text: str, ips: str) -> bool:
    wanted = {ip for ip in _strings(ips) if _ipv4_prefix(ip) is not None}
    return any(ip in wanted for ip in _ips_in(text))


def has_any_ipv4_prefix(text: str, prefixes: str) -> bool:
    wanted = [p for p in _strings(prefixes) if _valid_prefix(p)]
    return any(ip.startswith(p) for ip in _ips_in(text) for p in wanted)


def _valid_prefix(prefix: str) -> bool:
    """Kusto's IPv4 prefix: complete octets, ending in a dot unless it is a whole address."""
    parts = prefix.rstrip(".").split(".")
    if not all(p.isdigit() and int(p) <= 255 for p in parts):
        return False
    return len(parts) == 4 or prefix.endswith(".")


def _strings(json_array: str) -> list[str]:
    """The strings of a JSON value: itself, the items of an array, or of arrays in an array."""
    values = json.loads(json_array)
    values = values if isinstance(values, list) else [values]
    flat = [w for v in values for w in (v if isinstance(v, list) else [v])]
    return [v for v in flat if isinstance(v, str)]


# -- dynamic arrays and bags ----------------------------------------------------------------
def bag_remove_keys(bag: str, keys: str) -> str | None:
    value = json.loads(bag)
    if not isinstance(value, dict):
        return None
    for key in _strings(keys):
        path = key[2:].split(".") if key.startswith("$.") else [key]
        node = value
        for step in path[:-1]:
            node = node.get(step) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return json.dumps(value)


def bag_zip(keys: str, values: str) -> str | None:
    k, v = json.loads(keys), json.loads(values)
    if not isinstance(k, list):
        return None
    v = v if isinstance(v, list) else []
    return json.dumps({key: (v[i] if i < len(v) else None) for i, key in enumerate(k) if isinstance(key, str)})


def bag_has_key(bag: str, key: str) -> bool:
    value = json.loads(bag)
    path = key[2:].split(".") if key.startswith("$.") else [key]
    for step in path:
        if not isinstance(value, dict) or step not in value:
            return False
        value = value[step]
    return True


def bag_set_key(bag: str, key: str, value: str) -> str | None:
    out = json.loads(bag)
    if not isinstance(out, dict):
        return None
    path = key[2:].split(".") if key.startswith("$.") else [key]
    node = out
    for step in path[:-1]:
        node = node.setdefault(step, {}) if isinstance(node.get(step, {}), dict) else None
        if node is None:
            return json.dumps(out)
    node[path[-1]] = json.loads(value)
    return json.dumps(out)


def array_iff(conditions: str, when_true: str, when_false: str) -> str | None:
    c, t, f = (json.loads(x) for x in (conditions, when_true, when_false))
    if not isinstance(c, list):
        return None

    def pick(arr: Any, i: int) -> Any:
        return arr[i] if isinstance(arr, list) and i < len(arr) else (None if isinstance(arr, list) else arr)
    return json.dumps([pick(t, i) if cond is True else (pick(f, i) if cond is False else None)
                       for i, cond in enumerate(c)])


def array_shift(arr: str, shift: int, direction: int, fill: str | None = None) -> str | None:
    values = json.loads(arr)
    if not isinstance(values, list):
        return None
    n, pad = len(values), None if fill is None else json.loads(fill)
    k = max(-n, min(n, int(shift) * direction))
    if k >= 0:
        return json.dumps([pad] * k + values[:n - k])
    return json.dumps(values[-k:] + [pad] * (-k))


def set_difference(first: str, others: str) -> str:
    seen, out = set(), []
    exclude = {json.dumps(v, sort_keys=True) for arr in json.loads(others) for v in _list(arr)}
    for v in _list(json.loads(first)):
        key = json.dumps(v, sort_keys=True)
        if key not in exclude and key not in seen:
            seen.add(key)
            out.append(v)
    return json.dumps(out)


def set_intersect(arrays: str) -> str:
    lists = [_list(a) for a in json.loads(arrays)]
    keep = set.intersection(*({json.dumps(v, sort_keys=True) for v in lst} for lst in lists)) if lists else set()
    seen, out = set(), []
    for v in lists[0] if lists else []:
        key = json.dumps(v, sort_keys=True)
        if key in keep and key not in seen:
            seen.add(key)
            out.append(v)
    return json.dumps(out)


def jaccard_index(a: str, b: str) -> float | None:
    sa = {json.dumps(v, sort_keys=True) for v in _list(json.loads(a))}
    sb = {json.dumps(v, sort_keys=True) for v in _list(json.loads(b))}
    union = sa | sb
    if not union:
        raise ValueError("unsupported: jaccard_index of two empty sets (Kusto's answer is not documented)")
    return len(sa & sb) / len(union)


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


# -- strings --------------------------------------------------------------------------------
def unicode_codepoints_from_string(text: str) -> str:
    return json.dumps([ord(c) for c in text])


def unicode_codepoints_to_string(arguments: str) -> str:
    """*arguments*: a JSON array of the call's arguments, each a code point or an array of them."""
    out = []
    for value in json.loads(arguments):
        out.extend(value if isinstance(value, list) else [value])
    return "".join(chr(int(v)) for v in out if v is not None)


def replace_strings(text: str, lookups: str, replacements: str) -> str:
    """Kusto's simultaneous replace: at each position the longest lookup wins, no re-scanning."""
    keys, values = _list(json.loads(lookups)), _list(json.loads(replacements))
    if len(values) < len(keys):
        raise ValueError("unsupported: replace_strings with fewer replacements than lookups")
    # documented: a lookup whose replacement is not a string matches, and is left as it is
    table = {k: values[i] if isinstance(values[i], str) else k for i, k in enumerate(keys) if isinstance(k, str) and k}
    if not table:
        return text
    pattern = re.compile("|".join(re.escape(k) for k in sorted(table, key=len, reverse=True)))
    return pattern.sub(lambda m: table[m.group(0)], text)


def indexof_regex(text: str, pattern: str, start: int = 0, length: int = -1, occurrence: int = 1) -> int | None:
    if start < 0 or occurrence <= 0:
        return None
    end = len(text) if length < 0 else min(len(text), start + length)
    found = -1
    for n, m in enumerate(re.finditer(pattern, text[:end][start:] if start <= end else ""), 1):
        if n == occurrence:
            found = m.start() + start
            break
    return found


def string_size(text: str) -> int:
    return len(text.encode("utf-8"))


def tohex(value: int, is_int32: bool, minimum_length: int = 0) -> str:
    """Two's complement in the value's own width: 32 bits for an int, 64 for a long."""
    value = int(value)
    text = format(value if value >= 0 else value + (1 << (32 if is_int32 else 64)), "x")
    return text.rjust(int(minimum_length), "0")


def parse_csv(text: str) -> str:
    """The first record's fields (documented: later records are ignored)."""
    import csv
    import io
    rows = list(csv.reader(io.StringIO(text, newline=""), skipinitialspace=False))
    return json.dumps(rows[0] if rows else [""])


def parse_urlquery(query: str) -> str:
    """{"Query Parameters": {...}} by the rules duckdb-kql's parse_url measured on the emulator for a
    URL's query: keys sorted, a repeated key an array of its values, a pair with an empty key or
    value dropped, nothing percent-decoded. A leading `?` or a `#` is refused (not documented)."""
    if query.startswith("?") or "#" in query:
        raise ValueError("unsupported: parse_urlquery of a text with '?' or '#' (pass the query part only)")
    values: dict[str, list[str]] = {}
    for pair in query.split("&"):
        key, equals, value = pair.partition("=")
        if equals and key and value:
            values.setdefault(key, []).append(value)
    params = {k: v[0] if len(v) == 1 else v for k, v in sorted(values.items())}
    return json.dumps({"Query Parameters": params}, ensure_ascii=False, separators=(",", ":"))


def base64_encode_fromguid(guid: str) -> str:
    import base64
    import uuid
    return base64.b64encode(uuid.UUID(str(guid)).bytes_le).decode("ascii")


def base64_decode_tostring(text: str) -> str:
    """Kusto: the decoded bytes as UTF-8, or '' when they are not valid UTF-8."""
    import base64
    import binascii
    if len(text) % 4:
        raise ValueError("unsupported: base64_decode_tostring of unpadded base64 (Kusto's answer is not documented)")
    try:
        raw = base64.b64decode(text, validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ""


def format_bytes(size: float, precision: int = 0, units: str | None = None) -> str:
    names = ["Bytes", "KB", "MB", "GB", "TB", "PB"]
    size = float(size)
    if units:
        if units not in names:
            return ""
        power = names.index(units)
    else:
        power = 0
        while power < len(names) - 1 and abs(size) >= 1024:
            size /= 1024
            power += 1
        size *= 1024 ** power
    scaled = size / (1024 ** power)
    text = f"{round(scaled, int(precision)):.{int(precision)}f}"
    return f"{text} {names[power]}"


def datetime_local_to_utc(local, zone: str):
    """A wall time in *zone* -> UTC. In a spring-forward gap Kusto takes the offset after the
    change (documented example: 02:00 Brussels on 2022-03-27 is 00:00 UTC); a wall time that
    happens twice (autumn) has no documented answer and is refused."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone)
    first, second = local.replace(tzinfo=tz, fold=0), local.replace(tzinfo=tz, fold=1)
    chosen = first
    if first.utcoffset() != second.utcoffset():
        round_trip = first.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None)
        if round_trip == local:
            raise ValueError(f"unsupported: datetime_local_to_utc of {local}, which happens twice in {zone}")
        chosen = second
    return chosen.astimezone(dt.UTC).replace(tzinfo=None)


# -- hashing: xxhash64, written from its public specification -----------------------------
_M64 = (1 << 64) - 1
_P1, _P2, _P3, _P4, _P5 = (11400714785074694791, 14029467366897019727, 1609587929392839161,
                           9650029242287828579, 2870177450012600261)


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _M64


def _round(acc: int, lane: int) -> int:
    return (_rotl((acc + lane * _P2) & _M64, 31) * _P1) & _M64


def xxh64(data: bytes, seed: int = 0) -> int:
    """XXH64 of *data* (unsigned)."""
    n, i = len(data), 0
    lane = lambda at, width=8: int.from_bytes(data[at:at + width], "little")
    if n >= 32:
        v = [(seed + _P1 + _P2) & _M64, (seed + _P2) & _M64, seed & _M64, (seed - _P1) & _M64]
        while i + 32 <= n:
            v = [_round(v[k], lane(i + 8 * k)) for k in range(4)]
            i += 32
        h = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)) & _M64
        for acc in v:
            h = ((h ^ _round(0, acc)) * _P1 + _P4) & _M64
    else:
        h = (seed + _P5) & _M64
    h = (h + n) & _M64
    while i + 8 <= n:
        h = (_rotl(h ^ _round(0, lane(i)), 27) * _P1 + _P4) & _M64
        i += 8
    if i + 4 <= n:
        h = (_rotl(h ^ ((lane(i, 4) * _P1) & _M64), 23) * _P2 + _P3) & _M64
        i += 4
    while i < n:
        h = (_rotl(h ^ ((data[i] * _P5) & _M64), 11) * _P1) & _M64
        i += 1
    h = ((h ^ (h >> 33)) * _P2) & _M64
    h = ((h ^ (h >> 29)) * _P3) & _M64
    return h ^ (h >> 32)


def hash_string(text: str) -> int:
    """Kusto's hash() of a string: XXH64 of its UTF-8 bytes, as a signed long."""
    return _signed(xxh64(text.encode("utf-8")))


def hash_ticks(ticks: int) -> int:
    """Kusto's hash() of a datetime: XXH64 of its 100 ns ticks (since 0001-01-01), 8 bytes little-endian."""
    return _signed(xxh64(int(ticks).to_bytes(8, "little", signed=True)))


def _signed(h: int) -> int:
    return h - (1 << 64) if h >= 1 << 63 else h


# -- units ------------------------------------------------------------------------------------
#: Length units (Kusto's names) in metres; exact by definition.
LENGTH_METRES = {
    "Angstrom": 1e-10, "Nanometer": 1e-9, "Micrometer": 1e-6, "Millimeter": 1e-3, "Centimeter": 1e-2,
    "Decimeter": 0.1, "Meter": 1.0, "DecaMeter": 10.0, "Hectometer": 100.0, "Kilometer": 1000.0,
    "Microinch": 2.54e-8, "Mil": 2.54e-5, "Inch": 0.0254, "Hand": 0.1016, "Foot": 0.3048, "Yard": 0.9144,
    "Fathom": 1.8288, "Chain": 20.1168, "Mile": 1609.344, "NauticalMile": 1852.0, "UsSurveyFoot": 1200 / 3937,
}


def convert_length(value: float, source: str, target: str) -> float:
    for unit in (source, target):
        if unit not in LENGTH_METRES:
            raise ValueError(f"unsupported: convert_length unit {unit!r} (known here: {', '.join(LENGTH_METRES)})")
    return value * LENGTH_METRES[source] / LENGTH_METRES[target]


#: Temperature units: (to kelvin, from kelvin).
TEMPERATURE = {
    "Kelvin": (lambda v: v, lambda k: k),
    "DegreeCelsius": (lambda v: v + 273.15, lambda k: k - 273.15),
    "DegreeFahrenheit": (lambda v: (v + 459.67) * 5 / 9, lambda k: k * 9 / 5 - 459.67),
    "DegreeRankine": (lambda v: v * 5 / 9, lambda k: k * 9 / 5),
}


def convert_temperature(value: float, source: str, target: str) -> float:
    for unit in (source, target):
        if unit not in TEMPERATURE:
            raise ValueError(f"unsupported: convert_temperature unit {unit!r} (known here: {', '.join(TEMPERATURE)})")
    return TEMPERATURE[target][1](TEMPERATURE[source][0](value))


# -- more strings and bytes -----------------------------------------------------------------------
def punycode_domain_from_string(domain: str) -> str:
    labels = []
    for label in domain.split("."):
        labels.append(label[4:].encode("ascii").decode("punycode") if label.lower().startswith("xn--") else label)
    return ".".join(labels)


def parse_ipv6_mask(ip: str, netmask: int) -> str | None:
    parsed = _ipv6(ip)
    if parsed is None or not 0 <= int(netmask) <= 128:
        return None
    bits = min(parsed[1], int(netmask))
    value = parsed[0] & (((1 << 128) - 1) ^ ((1 << (128 - bits)) - 1))
    text = f"{value:032x}"
    return ":".join(text[i:i + 4] for i in range(0, 32, 4))


def gzip_decompress_from_base64_string(text: str) -> str | None:
    import base64
    import gzip
    try:
        return gzip.decompress(base64.b64decode(text, validate=True)).decode("utf-8")
    except (OSError, ValueError, EOFError):
        return None


def base64_decode_toarray(text: str) -> str:
    import base64
    import binascii
    try:  # documented: input that is not padded base64 decodes to an empty array
        return json.dumps(list(base64.b64decode(text, validate=True)))
    except (binascii.Error, ValueError):
        return "[]"


def base64_encode_fromarray(array: str) -> str:
    import base64
    values = _list(json.loads(array))
    if not all(isinstance(v, int) and 0 <= v <= 255 for v in values):
        return ""
    return base64.b64encode(bytes(values)).decode("ascii")


def array_sort(arrays: str, ascending: bool, nulls_last: bool | None = None) -> str | None:
    """Sort the first array; reorder every other array of the same length the same way (an array
    of another length becomes null). A trailing bool in *arrays* is nulls_last (default true)."""
    lists = json.loads(arrays)
    if lists and isinstance(lists[-1], bool):
        nulls_last = lists.pop()
    if not lists or not isinstance(lists[0], list):
        return None
    first = lists[0]
    nulls_last = True if nulls_last is None else nulls_last
    present = [i for i, v in enumerate(first) if v is not None]
    kinds = {type(first[i]) for i in present}
    if len(kinds - {int, float}) > 0 and len(kinds) > 1:
        raise ValueError("unsupported: array_sort of an array mixing types")
    present.sort(key=lambda i: first[i], reverse=not ascending)
    nulls = [i for i, v in enumerate(first) if v is None]
    order = present + nulls if nulls_last else nulls + present
    sorted_lists = [[arr[i] for i in order] if isinstance(arr, list) and len(arr) == len(first) else None
                    for arr in lists]
    return json.dumps(sorted_lists[0] if len(sorted_lists) == 1 else sorted_lists)


def parse_kv(text: str, key: str, pair_delimiter: str, kv_delimiter: str, quote: str, escape: str) -> str | None:
    """The value of *key* among the pairs of *text* (parse-kv with explicit delimiters): pairs split
    at *pair_delimiter* outside quotes, key and value at the first *kv_delimiter*, each trimmed and
    unquoted (any character of *quote* opens a quote; *escape* escapes inside it)."""
    for pair in _split_outside_quotes(text, pair_delimiter, quote, escape):
        name, sep, value = _partition_outside_quotes(pair, kv_delimiter, quote, escape)
        if sep and _unquote(name.strip(), quote, escape) == key:
            return _unquote(value.strip(), quote, escape)
    return None


def _scan_quotes(text: str, quote: str, escape: str):
    """(index, character, inside a quote) for each character of *text*."""
    inside, i = "", 0
    while i < len(text):
        ch = text[i]
        if inside and escape and ch == escape and i + 1 < len(text):
            yield i, ch, True
            yield i + 1, text[i + 1], True
            i += 2
            continue
        if inside and ch == inside:
            inside = ""
        elif not inside and quote and ch in quote:
            inside = ch
        yield i, ch, bool(inside)
        i += 1


def _split_outside_quotes(text: str, delimiter: str, quote: str, escape: str) -> list[str]:
    parts, last, skip = [], 0, -1
    for i, _, inside in _scan_quotes(text, quote, escape):
        if i >= skip and not inside and text.startswith(delimiter, i):
            parts.append(text[last:i])
            last = skip = i + len(delimiter)
    parts.append(text[last:])
    return parts


def _partition_outside_quotes(text: str, delimiter: str, quote: str, escape: str) -> tuple[str, str, str]:
    for i, _, inside in _scan_quotes(text, quote, escape):
        if not inside and text.startswith(delimiter, i):
            return text[:i], delimiter, text[i + len(delimiter):]
    return text, "", ""


def _unquote(text: str, quote: str, escape: str) -> str:
    if len(text) >= 2 and quote and text[0] in quote and text[-1] == text[0]:
        body = text[1:-1]
        return re.sub(re.escape(escape) + "(.)", r"\1", body) if escape else body
    return text


# -- math -----------------------------------------------------------------------------------
def erf(x: float) -> float:
    return math.erf(x)


def loggamma(x: float) -> float | None:
    try:
        return math.lgamma(x)
    except ValueError:
        return float("inf")


def beta_pdf(x: float, alpha: float, beta: float) -> float:
    if not (0 <= x <= 1) or alpha <= 0 or beta <= 0:
        return float("nan")
    log_b = math.lgamma(alpha) + math.lgamma(beta) - math.lgamma(alpha + beta)
    if x in (0.0, 1.0):
        return 0.0
    return math.exp((alpha - 1) * math.log(x) + (beta - 1) * math.log(1 - x) - log_b)


#: SQL name -> (function, DuckDB argument types, return type). Registered on every connection;
#: a null in an argument without a Python default makes the answer null, and a null optional
#: argument means "not given".
UDFS: dict[str, tuple[Callable, list[str], str]] = {
    "kfx_ipv4_is_match": (ipv4_is_match, ["VARCHAR", "VARCHAR", "BIGINT"], "BOOLEAN"),
    "kfx_ipv4_is_in_any_range": (ipv4_is_in_any_range, ["VARCHAR", "VARCHAR"], "BOOLEAN"),
    "kfx_ipv4_is_private": (ipv4_is_private, ["VARCHAR"], "BOOLEAN"),
    "kfx_ipv4_netmask_suffix": (ipv4_netmask_suffix, ["VARCHAR"], "INTEGER"),
    "kfx_ipv6_is_match": (ipv6_is_match, ["VARCHAR", "VARCHAR", "BIGINT"], "BOOLEAN"),
    "kfx_has_any_ipv4": (has_any_ipv4, ["VARCHAR", "VARCHAR"], "BOOLEAN"),
    "kfx_has_any_ipv4_prefix": (has_any_ipv4_prefix, ["VARCHAR", "VARCHAR"], "BOOLEAN"),
    "kfx_bag_remove_keys": (bag_remove_keys, ["VARCHAR", "VARCHAR"], "VARCHAR"),
    "kfx_bag_zip": (bag_zip, ["VARCHAR", "VARCHAR"], "VARCHAR"),
    "kfx_bag_has_key": (bag_has_key, ["VARCHAR", "VARCHAR"], "BOOLEAN"),
    "kfx_bag_set_key": (bag_set_key, ["VARCHAR", "VARCHAR", "VARCHAR"], "VARCHAR"),
    "kfx_array_iff": (array_iff, ["VARCHAR", "VARCHAR", "VARCHAR"], "VARCHAR"),
    "kfx_array_shift": (array_shift, ["VARCHAR", "BIGINT", "INTEGER", "VARCHAR"], "VARCHAR"),
    "kfx_set_difference": (set_difference, ["VARCHAR", "VARCHAR"], "VARCHAR"),
    "kfx_set_intersect": (set_intersect, ["VARCHAR"], "VARCHAR"),
    "kfx_jaccard_index": (jaccard_index, ["VARCHAR", "VARCHAR"], "DOUBLE"),
    "kfx_unicode_codepoints_from_string": (unicode_codepoints_from_string, ["VARCHAR"], "VARCHAR"),
    "kfx_unicode_codepoints_to_string": (unicode_codepoints_to_string, ["VARCHAR"], "VARCHAR"),
    "kfx_replace_strings": (replace_strings, ["VARCHAR", "VARCHAR", "VARCHAR"], "VARCHAR"),
    "kfx_indexof_regex": (indexof_regex, ["VARCHAR", "VARCHAR", "BIGINT", "BIGINT", "BIGINT"], "BIGINT"),
    "kfx_string_size": (string_size, ["VARCHAR"], "BIGINT"),
    "kfx_tohex": (tohex, ["BIGINT", "BOOLEAN", "BIGINT"], "VARCHAR"),
    "kfx_datetime_local_to_utc": (datetime_local_to_utc, ["TIMESTAMP", "VARCHAR"], "TIMESTAMP"),
    "kfx_parse_csv": (parse_csv, ["VARCHAR"], "VARCHAR"),
    "kfx_parse_urlquery": (parse_urlquery, ["VARCHAR"], "VARCHAR"),
    "kfx_base64_encode_fromguid": (base64_encode_fromguid, ["VARCHAR"], "VARCHAR"),
    "kfx_base64_decode_tostring": (base64_decode_tostring, ["VARCHAR"], "VARCHAR"),
    "kfx_format_bytes": (format_bytes, ["DOUBLE", "BIGINT", "VARCHAR"], "VARCHAR"),
    "kfx_hash_string": (hash_string, ["VARCHAR"], "BIGINT"),
    "kfx_hash_ticks": (hash_ticks, ["BIGINT"], "BIGINT"),
    "kfx_convert_length": (convert_length, ["DOUBLE", "VARCHAR", "VARCHAR"], "DOUBLE"),
    "kfx_convert_temperature": (convert_temperature, ["DOUBLE", "VARCHAR", "VARCHAR"], "DOUBLE"),
    "kfx_punycode_domain_from_string": (punycode_domain_from_string, ["VARCHAR"], "VARCHAR"),
    "kfx_parse_ipv6_mask": (parse_ipv6_mask, ["VARCHAR", "BIGINT"], "VARCHAR"),
    "kfx_gzip_decompress_from_base64_string": (gzip_decompress_from_base64_string, ["VARCHAR"], "VARCHAR"),
    "kfx_base64_decode_toarray": (base64_decode_toarray, ["VARCHAR"], "VARCHAR"),
    "kfx_base64_encode_fromarray": (base64_encode_fromarray, ["VARCHAR"], "VARCHAR"),
    "kfx_array_sort": (array_sort, ["VARCHAR", "BOOLEAN", "BOOLEAN"], "VARCHAR"),
    "kfx_series_unary": (series.unary, ["VARCHAR", "VARCHAR"], "VARCHAR"),
    "kfx_series_binary": (series.binary, ["VARCHAR", "VARCHAR", "VARCHAR"], "VARCHAR"),
    "kfx_series_dot_product": (series.dot_product, ["VARCHAR", "VARCHAR"], "DOUBLE"),
    "kfx_series_product": (series.product, ["VARCHAR"], "DOUBLE"),
    "kfx_series_fill_const": (series.fill_const, ["VARCHAR", "VARCHAR"], "VARCHAR"),
    "kfx_series_fill_forward": (series.fill_forward, ["VARCHAR"], "VARCHAR"),
    "kfx_weighted_rank": (percentiles.weighted_rank, ["VARCHAR", "DOUBLE"], "BIGINT"),
    "kfx_series_fill_linear": (series.fill_linear, ["VARCHAR", "BOOLEAN", "VARCHAR"], "VARCHAR"),
    "kfx_series_iir": (series.iir, ["VARCHAR", "VARCHAR", "VARCHAR"], "VARCHAR"),
    "kfx_series_seasonal": (series.seasonal, ["VARCHAR", "BIGINT"], "VARCHAR"),
    "kfx_geo_point_to_h3cell": (geo.point_to_h3cell, ["DOUBLE", "DOUBLE", "BIGINT"], "VARCHAR"),
    "kfx_geo_h3cell_parent": (geo.parent, ["VARCHAR", "BIGINT"], "VARCHAR"),
    "kfx_geo_h3cell_children": (geo.children, ["VARCHAR", "BIGINT"], "VARCHAR"),
    "kfx_geo_h3cell_level": (geo.level, ["VARCHAR"], "INTEGER"),
    "kfx_geo_h3cell_neighbors": (geo.neighbors, ["VARCHAR"], "VARCHAR"),
    "kfx_geo_h3cell_to_central_point": (geo.central_point, ["VARCHAR"], "VARCHAR"),
    "kfx_geo_h3cell_to_polygon": (geo.polygon, ["VARCHAR"], "VARCHAR"),
    "kfx_parse_kv": (parse_kv, ["VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR"], "VARCHAR"),
    "kfx_geo_point_to_geohash": (geo.point_to_geohash, ["DOUBLE", "DOUBLE", "BIGINT"], "VARCHAR"),
    "kfx_geo_geohash_to_central_point": (geo.geohash_to_central_point, ["VARCHAR"], "VARCHAR"),
    "kfx_geo_geohash_to_polygon": (geo.geohash_to_polygon, ["VARCHAR"], "VARCHAR"),
    "kfx_geo_geohash_neighbors": (geo.geohash_neighbors, ["VARCHAR"], "VARCHAR"),
    "kfx_geo_point_to_s2cell": (geo.point_to_s2cell, ["DOUBLE", "DOUBLE", "BIGINT"], "VARCHAR"),
    "kfx_geo_distance_2points": (geo.distance_2points, ["DOUBLE"] * 4, "DOUBLE"),
    "kfx_geo_point_in_circle": (geo.point_in_circle, ["DOUBLE"] * 5, "BOOLEAN"),
    "kfx_geo_azimuth": (geo.azimuth, ["DOUBLE"] * 4, "DOUBLE"),
    "kfx_geo_polygon_perimeter": (geo.polygon_perimeter, ["VARCHAR"], "DOUBLE"),
    "kfx_geo_point_in_polygon": (geo.point_in_polygon, ["DOUBLE", "DOUBLE", "VARCHAR"], "BOOLEAN"),
    "kfx_geo_from_wkt": (geo.from_wkt, ["VARCHAR"], "VARCHAR"),
    "kfx_range_time": (sequences.time_range, ["VARCHAR", "BIGINT", "BIGINT", "BIGINT"], "VARCHAR"),
    "kfx_range_number": (sequences.number_range, ["VARCHAR", "VARCHAR", "VARCHAR"], "VARCHAR"),
    "kfx_erf": (erf, ["DOUBLE"], "DOUBLE"),
    "kfx_loggamma": (loggamma, ["DOUBLE"], "DOUBLE"),
    "kfx_beta_pdf": (beta_pdf, ["DOUBLE", "DOUBLE", "DOUBLE"], "DOUBLE"),
}


def _null_in_null_out(fn: Callable) -> Callable:
    """*fn* answering null when a required argument is null (Kusto's rule); a null optional
    argument takes its Python default ("not given")."""
    import functools
    import inspect

    params = list(inspect.signature(fn).parameters.values())
    defaults = [p.default for p in params]

    @functools.wraps(fn)  # DuckDB reads the arity from the signature
    def call(*args):
        if any(a is None and d is inspect.Parameter.empty for a, d in zip(args, defaults)):
            return None
        return fn(*(d if a is None else a for a, d in zip(args, defaults)))
    return call


def register(con) -> None:
    """Register every UDF on *con* (a DuckDB connection), once, when it is opened."""
    for name, (fn, args, returns) in UDFS.items():
        con.create_function(name, _null_in_null_out(fn), args, returns, null_handling="special",
                            side_effects=False)
