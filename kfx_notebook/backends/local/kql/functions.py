"""The KQL functions this project adds to duckdb-kql: one row per function, as data.

Each row says the KQL name, its argument and return types, its arities, how it renders to
DuckDB SQL (a template over the rendered arguments, `{0}`..., or `{*}` for all of them, or
`{rest}` for all after the first) and one documentation-style example with its expected
rows. `tests/test_kql_functions.py` walks every row. Rule: a row renders Kusto's answer
exactly for every input its types admit, or the function has no row.

`{json*}` is every argument as JSON (for a list mixing arrays and flags). SQL helpers: `J(x)` is x as JSON text (any DuckDB value), `S(x)` as VARCHAR; a UDF (udfs.py)
is called by its `kfx_` name; a dynamic result is `CAST(... AS JSON)`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class KqlFunction:
    name: str
    args: str            # Kusto argument types, for readers and the support table
    returns: str         # Kusto result type (checked by the row's test)
    arities: tuple[int, ...]
    sql: str             # template: {0}, {1}, ... ; {*} all arguments; {rest} all after the first
    example: str         # a KQL query whose last column is this function's answer
    expected: tuple      # its rows (Python values; dynamic as Python lists/dicts)
    aggregate: bool = False
    name_prefix: str | None = None   # summarize's default column name: <prefix>_<column>
    name_args: int = 1               # how many arguments' names that default name joins
    defaults: tuple[tuple[int, str], ...] = ()  # (position, SQL) for an optional argument not given

    def render(self, args: list[str]) -> str:
        if self.arities and len(args) not in self.arities:
            raise ValueError(f"{self.name}() takes {self.arities} argument(s), got {len(args)}")
        filled = (self.sql.replace("{*}", ", ".join(args)).replace("{rest}", ", ".join(args[1:]))
                  .replace("{json*}", ", ".join(f"to_json({a})" for a in args)))
        # optional arguments not given render as NULL (the UDF's "not given")
        top = max(self.arities) if self.arities else len(args)
        given = list(args) + ["NULL"] * (top - len(args))
        for position, sql in self.defaults:
            if position >= len(args):
                given[position] = sql
        return filled.format(*given)


def J(x: str) -> str:
    return f"CAST(to_json({x}) AS VARCHAR)"


def S(x: str) -> str:
    return f"CAST({x} AS VARCHAR)"


def _first_occurrences(list_sql: str) -> str:
    """The distinct items of a DuckDB list, each where it first occurs."""
    return f"list_filter({list_sql}, lambda v, i: list_position({list_sql}, v) = i)"


#: range()'s step in microseconds for a datetime or timespan range: one hour when not given.
_STEP_US = "CASE WHEN typeof({2}) = 'VARCHAR' THEN 3600000000 ELSE epoch_us(TRY_CAST({2} AS INTERVAL)) END"


#: make_list/make_set's items: an array's elements, any other non-null value itself, in input order.
_ELEMENTS = ("coalesce(flatten(list(CASE WHEN json_type(TRY_CAST({0} AS JSON)) = 'ARRAY' "
             "THEN CAST(to_json({0}) AS JSON[]) ELSE [to_json({0})] END) FILTER (WHERE {0} IS NOT NULL)), [])")


#: bin_at(value, size, fixed) is fixed + k * size, k = floor((value - fixed) / size), a BIGINT found by
#: the operands' types (DuckDB folds typeof, so one branch runs; each must still bind for every
#: type, so the others are reached through TRY_CAST): whole microseconds for a datetime or a timespan
#: of a timespan size, integer division for integers, a double's floor for reals. The result keeps
#: the operands' types: a datetime or a timespan, or the widest number of the three (a long, exact
#: above 2^53, or a real; an int bins as a long, as bin() does). Kusto.Language types
#: bin_at(number, number, number) as the widest: `value - value`, added to the fixed point, carries a
#: real value into it (for a datetime or timespan `size * 0` stands there, and folds to a constant).
#: DuckDB multiplies an INTERVAL by an INT32 only (beyond it raises; by a DOUBLE it rounds), so a
#: temporal k of 2^30 or more (|d| >= 2^30 sizes) is applied in two pieces, (size * h) * 2^30 +
#: size * (k - h * 2^30), h = k / 2^30 truncated: both INT32 while |k| < 2^61.
#: The size is checked first, so every division is by a positive size.
#: Refused, as Kusto's answers are not documented: a size that is not positive, a real 2^63 bins or
#: more from its fixed point (or infinite), and mixed kinds (a timespan fixed point for a datetime).
#: A NaN value stays NaN.
_INTEGERS = "('TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT')"
_NUMBERS = "('TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'FLOAT', 'DOUBLE')"
_D = "({0} - {2})"
_TEMPORAL = f"typeof({_D}) = 'INTERVAL' AND typeof({{1}}) = 'INTERVAL'"


def _floor_div(a: str, b: str) -> str:
    """floor(a / b) of two BIGINTs, b > 0: DuckDB's // truncates."""
    return f"CASE WHEN {a} >= 0 THEN {a} // {b} ELSE -((-1 - {a}) // {b}) - 1 END"


#: value - fixed in microseconds, as a difference of two epoch_us (cheaper than an INTERVAL's)
_D_US = ("(CASE WHEN typeof({0}) = 'TIMESTAMP' THEN epoch_us(TRY_CAST({0} AS TIMESTAMP)) - epoch_us(TRY_CAST({2} AS TIMESTAMP)) "
         "ELSE epoch_us(TRY_CAST({0} AS INTERVAL)) - epoch_us(TRY_CAST({2} AS INTERVAL)) END)")
_SIZE_US = "epoch_us(TRY_CAST({1} AS INTERVAL))"
_K_TEMPORAL = _floor_div(_D_US, _SIZE_US)
_Q = f"(TRY_CAST({_D} AS DOUBLE) / TRY_CAST({{1}} AS DOUBLE))"
_K = (
    f"CASE WHEN {_TEMPORAL} THEN {_K_TEMPORAL} "
    f"WHEN typeof({_D}) IN {_INTEGERS} AND typeof({{1}}) IN {_INTEGERS} "
    f"THEN {_floor_div(f'TRY_CAST({_D} AS BIGINT)', 'TRY_CAST({1} AS BIGINT)')} "
    f"WHEN typeof({_D}) IN {_NUMBERS} AND typeof({{1}}) IN {_NUMBERS} THEN CASE WHEN isnan({_Q}) THEN 0 "
    f"WHEN NOT isfinite({_Q}) OR abs({_Q}) >= 9223372036854775807 "
    "THEN error('unsupported: bin_at of a real 2^63 bins or more from its fixed point') "
    f"ELSE CAST(floor({_Q}) AS BIGINT) END "
    "ELSE error('unsupported: bin_at of a ' || typeof({0}) || ' by a ' || typeof({1}) || ' from a ' || typeof({2})) END"
)
_K_HIGH = f"(({_K_TEMPORAL}) // 1073741824)"
_AT = f"({{2}} + CASE WHEN {_TEMPORAL} THEN {{1}} * 0 ELSE {{0}} - {{0}} END)"
_BIN_AT = (
    "(CASE WHEN CASE WHEN typeof({1}) = 'INTERVAL' THEN epoch_us(TRY_CAST({1} AS INTERVAL)) <= 0 "
    "ELSE TRY_CAST({1} AS DOUBLE) <= 0 END THEN error('unsupported: bin_at with a bin size that is not positive') "
    f"WHEN {_TEMPORAL} AND (abs({_D_US}) >> 30) >= {_SIZE_US} "
    f"THEN {_AT} + ({{1}} * {_K_HIGH}) * 1073741824 + {{1}} * (({_K_TEMPORAL}) - {_K_HIGH} * 1073741824) "
    f"ELSE {_AT} + {{1}} * ({_K}) END)"
)


def _dyn(call: str) -> str:
    return f"CAST({call} AS JSON)"


_ROWS = [
    # -- IP addresses (udfs.py; Kusto's textual IPv4 rules) ----------------------------------
    KqlFunction("ipv4_is_match", "string, string[, long]", "bool", (2, 3),
                f"kfx_ipv4_is_match({S('{0}')}, {S('{1}')}, {{2}})",
                "print r=ipv4_is_match('192.168.1.1/24', '192.168.1.255')", ((True,),)),
    KqlFunction("ipv4_is_in_any_range", "string, dynamic", "bool", (2,),
                f"kfx_ipv4_is_in_any_range({S('{0}')}, {J('{1}')})",
                "print r=ipv4_is_in_any_range('10.0.0.7', dynamic(['192.168.0.0/16', '10.0.0.0/24']))", ((True,),)),
    KqlFunction("ipv4_is_private", "string", "bool", (1,), f"kfx_ipv4_is_private({S('{0}')})",
                "print r=ipv4_is_private('172.20.1.1')", ((True,),)),
    KqlFunction("ipv4_netmask_suffix", "string", "int", (1,), f"kfx_ipv4_netmask_suffix({S('{0}')})",
                "print r=ipv4_netmask_suffix('127.0.0.1/16')", ((16,),)),
    KqlFunction("ipv6_is_match", "string, string[, long]", "bool", (2, 3),
                f"kfx_ipv6_is_match({S('{0}')}, {S('{1}')}, {{2}})",
                "print r=ipv6_is_match('192.168.1.1/24', '::ffff:c0a8:01ff')", ((True,),)),
    KqlFunction("has_ipv4", "string, string", "bool", (2,),
                f"kfx_has_any_ipv4({S('{0}')}, to_json([{S('{1}')}])::VARCHAR)",
                "print r=has_ipv4('05:04:54 127.0.0.1 GET /favicon.ico 404', '127.0.0.1')", ((True,),)),
    KqlFunction("has_any_ipv4", "string, dynamic|string...", "bool", (),
                f"kfx_has_any_ipv4({S('{0}')}, to_json([{{rest}}])::VARCHAR)",
                "print r=has_any_ipv4('x 10.1.1.1 y', dynamic(['127.0.0.1', '10.1.1.1']))", ((True,),)),
    KqlFunction("has_ipv4_prefix", "string, string", "bool", (2,),
                f"kfx_has_any_ipv4_prefix({S('{0}')}, to_json([{S('{1}')}])::VARCHAR)",
                "print r=has_ipv4_prefix('05:04:54 127.0.0.1 GET', '127.0.')", ((True,),)),
    KqlFunction("has_any_ipv4_prefix", "string, dynamic|string...", "bool", (),
                f"kfx_has_any_ipv4_prefix({S('{0}')}, to_json([{{rest}}])::VARCHAR)",
                "print r=has_any_ipv4_prefix('a 127.0.0.1 b', dynamic(['10.', '127.0.']))", ((True,),)),
    # -- dynamic bags and arrays ---------------------------------------------------------------
    KqlFunction("bag_remove_keys", "dynamic, dynamic", "dynamic", (2,),
                _dyn(f"kfx_bag_remove_keys({J('{0}')}, {J('{1}')})"),
                "print r=bag_remove_keys(dynamic({'a':1,'b':{'c':2,'d':3}}), dynamic(['$.b.c', 'x']))",
                (({"a": 1, "b": {"d": 3}},),)),
    KqlFunction("bag_zip", "dynamic, dynamic", "dynamic", (2,), _dyn(f"kfx_bag_zip({J('{0}')}, {J('{1}')})"),
                "print r=bag_zip(dynamic(['a', 'b', 'c']), dynamic([1, '2']))",
                (({"a": 1, "b": "2", "c": None},),)),
    KqlFunction("bag_has_key", "dynamic, string", "bool", (2,), f"kfx_bag_has_key({J('{0}')}, {S('{1}')})",
                "print r=bag_has_key(dynamic({'a':{'b':1}}), '$.a.b')", ((True,),)),
    KqlFunction("bag_set_key", "dynamic, string, dynamic", "dynamic", (3,),
                _dyn(f"kfx_bag_set_key({J('{0}')}, {S('{1}')}, {J('{2}')})"),
                "print r=bag_set_key(dynamic({'a':1}), 'b', 2)", (({"a": 1, "b": 2},),)),
    KqlFunction("array_iff", "dynamic, dynamic, dynamic", "dynamic", (3,),
                _dyn(f"kfx_array_iff({J('{0}')}, {J('{1}')}, {J('{2}')})"),
                "print r=array_iff(dynamic([true, false, null]), dynamic([1, 2, 3]), dynamic([4, 5, 6]))",
                (([1, 5, None],),)),
    KqlFunction("array_shift_right", "dynamic, long[, value]", "dynamic", (2, 3),
                _dyn(f"kfx_array_shift({J('{0}')}, {{1}}, 1, {J('{2}')})"),
                "print r=array_shift_right(dynamic([1,2,3,4,5]), 2)", (([None, None, 1, 2, 3],),)),
    KqlFunction("array_shift_left", "dynamic, long[, value]", "dynamic", (2, 3),
                _dyn(f"kfx_array_shift({J('{0}')}, {{1}}, -1, {J('{2}')})"),
                "print r=array_shift_left(dynamic([1,2,3,4,5]), 2, -1)", (([3, 4, 5, -1, -1],),)),
    KqlFunction("set_difference", "dynamic, dynamic...", "dynamic", (),
                _dyn(f"kfx_set_difference({J('{0}')}, to_json([{{rest}}])::VARCHAR)"),
                "print r=set_difference(dynamic([1, 2, 3, 2]), dynamic([2]), dynamic([5]))", (([1, 3],),)),
    KqlFunction("set_intersect", "dynamic, dynamic...", "dynamic", (),
                _dyn("kfx_set_intersect(to_json([{*}])::VARCHAR)"),
                "print r=set_intersect(dynamic([1, 2, 3]), dynamic([3, 1, 7]))", (([1, 3],),)),
    KqlFunction("jaccard_index", "dynamic, dynamic", "real", (2,), f"kfx_jaccard_index({J('{0}')}, {J('{1}')})",
                "print r=jaccard_index(dynamic([1, 2, 3]), dynamic([2, 3, 4]))", ((0.5,),)),
    # -- strings ---------------------------------------------------------------------------------
    KqlFunction("unicode_codepoints_from_string", "string", "dynamic", (1,),
                _dyn(f"kfx_unicode_codepoints_from_string({S('{0}')})"),
                "print r=unicode_codepoints_from_string('Kusto é')", (([75, 117, 115, 116, 111, 32, 233],),)),
    KqlFunction("unicode_codepoints_to_string", "dynamic|long...", "string", (),
                "kfx_unicode_codepoints_to_string(to_json([{*}])::VARCHAR)",
                "print r=unicode_codepoints_to_string(75, dynamic([117, 115]), 116, 111)", (("Kusto",),)),
    KqlFunction("replace_strings", "string, dynamic, dynamic", "string", (3,),
                f"kfx_replace_strings({S('{0}')}, {J('{1}')}, {J('{2}')})",
                "print r=replace_strings('ABC', dynamic(['A', 'B', 'C']), dynamic(['B', 'C', 'A']))", (("BCA",),)),
    KqlFunction("indexof_regex", "string, string[, long, long, long]", "long", (2, 3, 4, 5),
                f"kfx_indexof_regex({S('{0}')}, {S('{1}')}, {{2}}, {{3}}, {{4}})",
                "print r=indexof_regex('abcabcdefg', @'a.c', 0, 9, 2)", ((3,),)),
    KqlFunction("string_size", "string", "long", (1,), f"kfx_string_size({S('{0}')})",
                "print r=string_size('Hello é')", ((8,),)),
    KqlFunction("tohex", "long[, long]", "string", (1, 2), "kfx_tohex(CAST({0} AS BIGINT), typeof({0}) = 'INTEGER', {1})",
                "print r=tohex(-546), s=tohex(256, 6)", (("fffffffffffffdde", "000100"),)),
    KqlFunction("parse_csv", "string", "dynamic", (1,), _dyn(f"kfx_parse_csv({S('{0}')})"),
                'print r=parse_csv(\'aa,"b,b",cc\')', ((["aa", "b,b", "cc"],),)),
    KqlFunction("parse_urlquery", "string", "dynamic", (1,), _dyn(f"kfx_parse_urlquery({S('{0}')})"),
                "print r=parse_urlquery('k2=v2&k1=v1&k1=v3&empty=&=x')",
                (({"Query Parameters": {"k1": ["v1", "v3"], "k2": "v2"}},),)),
    KqlFunction("base64_encode_fromguid", "guid", "string", (1,), f"kfx_base64_encode_fromguid({S('{0}')})",
                'print r=base64_encode_fromguid(toguid("ae3133f2-6e22-49ae-b06a-16e6a9b212eb"))',
                (("8jMxriJurkmwahbmqbIS6w==",),)),
    KqlFunction("base64_decode_tostring", "string", "string", (1,), f"kfx_base64_decode_tostring({S('{0}')})",
                'print r=base64_decode_tostring("S3VzdG8="), e=base64_decode_tostring("U3RyaW5n0KHR0tGA0L7Rh9C60LA=")',
                (("Kusto", ""),)),
    KqlFunction("format_bytes", "real[, long, string]", "string", (1, 2, 3),
                "kfx_format_bytes(CAST({0} AS DOUBLE), {1}, {2})",
                "print r=format_bytes(20010332, 2)", (("19.08 MB",),)),
    KqlFunction("convert_length", "real, string, string", "real", (3,),
                "kfx_convert_length(CAST({0} AS DOUBLE), {1}, {2})",
                "print r=convert_length(1.2, 'Meter', 'Foot')", ((3.937007874015748,),)),
    KqlFunction("convert_temperature", "real, string, string", "real", (3,),
                "kfx_convert_temperature(CAST({0} AS DOUBLE), {1}, {2})",
                "print r=convert_temperature(1.2, 'Kelvin', 'DegreeCelsius')", ((-271.95,),)),
    KqlFunction("punycode_domain_from_string", "string", "string", (1,),
                f"kfx_punycode_domain_from_string({S('{0}')})",
                "print r=punycode_domain_from_string('xn--Ge-mia.Bulg.edu')", (("G\u00e1e.Bulg.edu",),)),
    KqlFunction("parse_ipv6_mask", "string, long", "string", (2,), f"kfx_parse_ipv6_mask({S('{0}')}, {{1}})",
                "print r=parse_ipv6_mask('192.168.255.255/24', 124)", (("0000:0000:0000:0000:0000:ffff:c0a8:ff00",),)),
    KqlFunction("gzip_decompress_from_base64_string", "string", "string", (1,),
                f"kfx_gzip_decompress_from_base64_string({S('{0}')})",
                'print r=gzip_decompress_from_base64_string("H4sIAAAAAAAA/wEUAOv/MTIzNDU2Nzg5MHF3ZXJ0eXVpb3A6m7f2FAAAAA==")',
                (("1234567890qwertyuiop",),)),
    KqlFunction("base64_decode_toarray", "string", "dynamic", (1,), _dyn(f"kfx_base64_decode_toarray({S('{0}')})"),
                'print r=base64_decode_toarray("S3VzdG8=")', (([75, 117, 115, 116, 111],),)),
    KqlFunction("base64_encode_fromarray", "dynamic", "string", (1,), f"kfx_base64_encode_fromarray({J('{0}')})",
                "print r=base64_encode_fromarray(dynamic([75, 117, 115, 116, 111]))", (("S3VzdG8=",),)),
    # several arrays sort together by the first; a trailing bool is nulls_last (default true)
    KqlFunction("array_sort_asc", "dynamic...[, bool]", "dynamic", (),
                _dyn("kfx_array_sort(to_json([{json*}])::VARCHAR, true, NULL)"),
                "print r=array_sort_asc(dynamic([2, null, 1]), dynamic(['b', 'x', 'a']))", (([[1, 2, None], ["a", "b", "x"]],),)),
    KqlFunction("array_sort_desc", "dynamic...[, bool]", "dynamic", (),
                _dyn("kfx_array_sort(to_json([{json*}])::VARCHAR, false, NULL)"),
                "print r=array_sort_desc(dynamic([null, 'blue', 'yellow']), false)", (([None, "yellow", "blue"],),)),
    # -- hashing (XXH64; Kusto documents it for hash and hash_xxhash64) ------------------------------
    KqlFunction("hash", "string|datetime", "long", (1,),
                "(CASE typeof({0}) WHEN 'VARCHAR' THEN kfx_hash_string(CAST({0} AS VARCHAR)) "
                "WHEN 'TIMESTAMP' THEN kfx_hash_ticks(epoch_us(CAST({0} AS TIMESTAMP)) * 10 + 621355968000000000) "
                "ELSE error('unsupported: hash() of a ' || typeof({0}) || ' (only string and datetime here)') END)",
                'print s=hash("World"), d=hash(datetime("2015-01-01"))', ((1846988464401551951, 1380966698541616202),)),
    KqlFunction("hash_xxhash64", "string", "long", (1,),
                "(CASE typeof({0}) WHEN 'VARCHAR' THEN kfx_hash_string(CAST({0} AS VARCHAR)) "
                "ELSE error('unsupported: hash_xxhash64() of a ' || typeof({0}) || ' (only string here)') END)",
                'print r=hash_xxhash64("World")', ((1846988464401551951,),)),
    # -- H3 cells (geo.py) ---------------------------------------------------------------------------------
    KqlFunction("geo_point_to_h3cell", "real, real[, int]", "string", (2, 3),
                "kfx_geo_point_to_h3cell(CAST({0} AS DOUBLE), CAST({1} AS DOUBLE), {2})",
                "print a=geo_point_to_h3cell(-73.956683, 40.807907, 5), b=geo_point_to_h3cell(300, 1, 8)",
                (("852a100bfffffff", ""),)),
    KqlFunction("geo_h3cell_parent", "string[, int]", "string", (1, 2), f"kfx_geo_h3cell_parent({S('{0}')}, {{1}})",
                "print a=geo_h3cell_parent('862a1072fffffff'), b=geo_h3cell_parent('862a1072fffffff', 1), "
                "c=geo_h3cell_parent('123')", (("852a1073fffffff", "812a3ffffffffff", ""),)),
    KqlFunction("geo_h3cell_children", "string[, int]", "dynamic", (1, 2),
                _dyn(f"kfx_geo_h3cell_children({S('{0}')}, {{1}})"),
                "print c=geo_h3cell_children('862a1072fffffff')",
                ((["872a10728ffffff", "872a10729ffffff", "872a1072affffff", "872a1072bffffff", "872a1072cffffff",
                   "872a1072dffffff", "872a1072effffff"],),)),
    KqlFunction("geo_h3cell_level", "string", "int", (1,), f"kfx_geo_h3cell_level({S('{0}')})",
                "print a=geo_h3cell_level('abc'), b=geo_h3cell_level('862a1072fffffff')", ((None, 6),)),
    KqlFunction("geo_h3cell_neighbors", "string", "dynamic", (1,), _dyn(f"kfx_geo_h3cell_neighbors({S('{0}')})"),
                "print n=geo_h3cell_neighbors('862a1072fffffff')",
                ((["862a10727ffffff", "862a10707ffffff", "862a1070fffffff", "862a10777ffffff", "862a100dfffffff",
                   "862a100d7ffffff"],),)),
    KqlFunction("geo_h3cell_to_central_point", "string", "dynamic", (1,),
                _dyn(f"kfx_geo_h3cell_to_central_point({S('{0}')})"),
                "print p=geo_h3cell_to_central_point('862a1072fffffff')",
                (({"type": "Point", "coordinates": [-74.01600847979245, 40.704167908350385]},),)),
    KqlFunction("geo_h3cell_to_polygon", "string", "dynamic", (1,), _dyn(f"kfx_geo_h3cell_to_polygon({S('{0}')})"),
                "print p=geo_h3cell_to_polygon('@')", ((None,),)),
    # parse-kv's reader (stages.rewrite_parse_kv writes calls to it; not a Kusto function)
    KqlFunction("__kfx_parse_kv", "string, string, string, string, string, string", "string", (6,),
                "kfx_parse_kv(" + ", ".join(S(f"{{{i}}}") for i in range(6)) + ")",
                "print v=__kfx_parse_kv('a=1 b=\"x y\"', 'b', ' ', '=', '\"', '')", (("x y",),)),
    KqlFunction("geo_point_to_geohash", "real, real[, int]", "string", (2, 3),
                "kfx_geo_point_to_geohash(CAST({0} AS DOUBLE), CAST({1} AS DOUBLE), {2})",
                "print a=geo_point_to_geohash(42.47314453125, 23.70849609375), b=geo_point_to_geohash(10.40744, 57.64911, 11), "
                "c=geo_point_to_geohash(200, 1)", (("sunny", "u4pruydqqvj", ""),)),  # b: the algorithm's reference point
    KqlFunction("geo_geohash_to_central_point", "string", "dynamic", (1,),
                _dyn(f"kfx_geo_geohash_to_central_point({S('{0}')})"),
                "print p=geo_geohash_to_central_point('sunny'), q=geo_geohash_to_central_point('a')",
                (({"type": "Point", "coordinates": [42.47314453125, 23.70849609375]}, None),)),
    KqlFunction("geo_geohash_to_polygon", "string", "dynamic", (1,), _dyn(f"kfx_geo_geohash_to_polygon({S('{0}')})"),
                "print p=geo_geohash_to_polygon('sunny'), q=geo_geohash_to_polygon('a')",
                (({"type": "Polygon", "coordinates": [[[42.451171875, 23.6865234375], [42.4951171875, 23.6865234375],
                   [42.4951171875, 23.73046875], [42.451171875, 23.73046875], [42.451171875, 23.6865234375]]]}, None),)),
    KqlFunction("geo_geohash_neighbors", "string", "dynamic", (1,), _dyn(f"kfx_geo_geohash_neighbors({S('{0}')})"),
                "print n=geo_geohash_neighbors('sunny'), i=geo_geohash_neighbors('a')",
                ((["sunnt", "sunpj", "sunnx", "sunpn", "sunnv", "sunpp", "sunnz", "sunnw"], None),)),
    # -- S2 cells and measurements on the sphere (geo.py) --------------------------------------------
    # a level given as null is invalid (''); a level not given is the default, 11
    KqlFunction("geo_point_to_s2cell", "real, real[, int]", "string", (2, 3),
                "coalesce(kfx_geo_point_to_s2cell(CAST({0} AS DOUBLE), CAST({1} AS DOUBLE), {2}), '')",
                "print a=geo_point_to_s2cell(-0.12433080766874127, 51.51115841361647, 22), "
                "b=geo_point_to_s2cell(300, 1, 8), c=geo_point_to_s2cell(1, 1, int(null)), d=geo_point_to_s2cell(1, 1), "
                "e=geo_point_to_s2cell(1, 1, 11)", (("487604cc6c8b", "", "", "1001444", "1001444"),), defaults=((2, str(11)),)),
    KqlFunction("geo_distance_2points", "real, real, real, real", "real", (4,),
                "kfx_geo_distance_2points(" + ", ".join(f"CAST({{{i}}} AS DOUBLE)" for i in range(4)) + ")",
                "print d=geo_distance_2points(-122.407628, 47.578557, -118.275287, 34.019056), "
                "n=geo_distance_2points(300, 1, 1, 1)", ((1546754.3519738095, None),)),
    KqlFunction("geo_point_in_circle", "real, real, real, real, real", "bool", (5,),
                "kfx_geo_point_in_circle(" + ", ".join(f"CAST({{{i}}} AS DOUBLE)" for i in range(5)) + ")",
                "print a=geo_point_in_circle(-122.3, 47.6, -122.3, 47.601, 112), "
                "b=geo_point_in_circle(-122.3, 47.6, -122.3, 47.601, 111), n=geo_point_in_circle(200, 1, 1, 1, 1)",
                ((True, False, None),)),
    KqlFunction("geo_azimuth", "real, real, real, real", "real", (4,),
                "kfx_geo_azimuth(" + ", ".join(f"CAST({{{i}}} AS DOUBLE)" for i in range(4)) + ")",
                "print a=geo_azimuth(5, 10, 10, -40), s=geo_azimuth(5, 10, 5, 10)", ((3.054599397964492, None),)),
    KqlFunction("geo_polygon_perimeter", "dynamic", "real", (1,), f"kfx_geo_polygon_perimeter({J('{0}')})",
                'print p=geo_polygon_perimeter(dynamic({"type":"Polygon","coordinates":[[[-73.9495,40.7969],'
                '[-73.95807266235352,40.80068603561921],[-73.98201942443848,40.76825672305777],'
                '[-73.97317886352539,40.76455136505513],[-73.9495,40.7969]]]})), n=geo_polygon_perimeter(dynamic({}))',
                ((9930.301496049302, None),)),
    KqlFunction("geo_point_in_polygon", "real, real, dynamic", "bool", (3,),
                f"kfx_geo_point_in_polygon(CAST({{0}} AS DOUBLE), CAST({{1}} AS DOUBLE), {J('{2}')})",
                # a square with a hole: inside, in the hole, outside, an invalid point
                'let p = dynamic({"type":"Polygon","coordinates":[[[0,0],[10,0],[10,10],[0,10],[0,0]],'
                '[[4,4],[4,6],[6,6],[6,4],[4,4]]]}); print a=geo_point_in_polygon(1, 1, p), '
                'h=geo_point_in_polygon(5, 5, p), o=geo_point_in_polygon(11, 5, p), n=geo_point_in_polygon(200, 1, p)',
                ((True, False, False, None),)),
    KqlFunction("geo_from_wkt", "string", "dynamic", (1,), _dyn(f"kfx_geo_from_wkt({S('{0}')})"),
                'print a=geo_from_wkt("MULTIPOINT ((1 2), (3.5 4))"), b=geo_from_wkt("GEOMETRYCOLLECTION (POINT (1 1),'
                'LINESTRING (2 2, 3 3))"), n=geo_from_wkt("POINT (1 2) x")',
                (({"type": "MultiPoint", "coordinates": [[1, 2], [3.5, 4]]},
                  {"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [1, 1]},
                                                                {"type": "LineString", "coordinates": [[2, 2], [3, 3]]}]},
                  None),)),
    # -- math ------------------------------------------------------------------------------------
    KqlFunction("erf", "real", "real", (1,), "kfx_erf(CAST({0} AS DOUBLE))",
                "print r=erf(1)", ((0.8427007929497149,),)),
    KqlFunction("loggamma", "real", "real", (1,), "kfx_loggamma(CAST({0} AS DOUBLE))",
                "print r=loggamma(5)", ((3.1780538303479458,),)),
    KqlFunction("beta_pdf", "real, real, real", "real", (3,),
                # outside the domain Kusto answers NaN, which a Python UDF cannot return (it becomes null)
                "CASE WHEN {0} < 0 OR {0} > 1 OR {1} <= 0 OR {2} <= 0 THEN CAST('NaN' AS DOUBLE) "
                "ELSE kfx_beta_pdf(CAST({0} AS DOUBLE), CAST({1} AS DOUBLE), CAST({2} AS DOUBLE)) END",
                "print r=beta_pdf(0.5, 10.0, 20.0), n=beta_pdf(1.5, 10.0, 20.0)", ((0.746176019310951, float("nan")),)),
    # -- arrays of equally spaced values (sequences.py) ---------------------------------------------
    # a step not given renders as the marker 'kfx:default' (a VARCHAR), so a step given as null stays null
    KqlFunction("range", "long|real|datetime|timespan, same, [step]", "dynamic", (2, 3), _dyn(
                "CASE typeof({0}) WHEN 'TIMESTAMP' THEN kfx_range_time('datetime', epoch_us(TRY_CAST({0} AS TIMESTAMP)), "
                "epoch_us(TRY_CAST({1} AS TIMESTAMP)), " + _STEP_US + ") "
                "WHEN 'INTERVAL' THEN kfx_range_time('timespan', epoch_us(TRY_CAST({0} AS INTERVAL)), "
                "epoch_us(TRY_CAST({1} AS INTERVAL)), " + _STEP_US + ") "
                f"ELSE kfx_range_number({J('{0}')}, {J('{1}')}, "
                f"CASE WHEN typeof({{2}}) = 'VARCHAR' THEN '1' ELSE {J('{2}')} END) END"),
                "print h=array_length(range(1, 2000000)), a=range(1, 8, 3), b=range(1, 3), c=range(1, 2, 0.5), d=range(5, 1), e=range(1, 5, long(null)), "
                "f=range(1h, 3h), g=range(datetime(2007-01-01), datetime(2007-01-03), 1d)",
                ((1048576, [1, 4, 7], [1, 2, 3], [1.0, 1.5, 2.0], [], None, ["01:00:00", "02:00:00", "03:00:00"],
                  ["2007-01-01T00:00:00.0000000Z", "2007-01-02T00:00:00.0000000Z", "2007-01-03T00:00:00.0000000Z"]),),
                defaults=((2, "'kfx:default'"),)),
    # -- datetime ----------------------------------------------------------------------------------
    KqlFunction("bin_at", "long|real|datetime|timespan, long|real|timespan, same as value",
                "widest of the three (long, real); the value's (datetime, timespan)", (3,), _BIN_AT,
                "print a=bin_at(datetime(2017-05-17 10:20:00.0), 7d, datetime(2017-06-04 00:00:00.0)), "
                "b=bin_at(time(1h), 1d, 12h), r=bin_at(6.5, 2.5, 7)",
                (("2017-05-14T00:00:00", dt.timedelta(hours=-12), 4.5),)),
    KqlFunction("datetime_local_to_utc", "datetime, string", "datetime", (2,),
                "kfx_datetime_local_to_utc(CAST({0} AS TIMESTAMP), {1})",
                "print r=datetime_local_to_utc(datetime(2020-02-02 20:02:20), 'Europe/Paris')",
                (("2020-02-02T19:02:20",),)),
    KqlFunction("datetime_utc_to_local", "datetime, string", "datetime", (2,),
                "CAST(timezone({1}, timezone('UTC', {0})) AS TIMESTAMP)",
                "print r=datetime_utc_to_local(datetime(2020-02-02 19:02:20), 'Europe/Paris')",
                (("2020-02-02T20:02:20",),)),
    KqlFunction("unixtime_milliseconds_todatetime", "long|real", "datetime", (1,),
                "make_timestamp(CAST(round({0} * 1000) AS BIGINT))",
                "print r=unixtime_milliseconds_todatetime(1546300800000)", (("2019-01-01T00:00:00",),)),
    KqlFunction("unixtime_seconds_todatetime", "long|real", "datetime", (1,),
                "make_timestamp(CAST(round({0} * 1000000) AS BIGINT))",
                "print r=unixtime_seconds_todatetime(1546300800)", (("2019-01-01T00:00:00",),)),
    KqlFunction("unixtime_microseconds_todatetime", "long|real", "datetime", (1,),
                "make_timestamp(CAST({0} AS BIGINT))",
                "print r=unixtime_microseconds_todatetime(1546300800000000)", (("2019-01-01T00:00:00",),)),
    # -- aggregates ---------------------------------------------------------------------------------
    KqlFunction("variancep", "real", "real", (1,), "coalesce(var_pop({0}), 0.0)",
                # documented: the default column of variancep(x) is variance_x
                "datatable(x:long)[10, 10, 20, 20] | summarize variancep(x) | project variance_x", ((25.0,),),
                aggregate=True, name_prefix="variance"),
    KqlFunction("covariance", "real, real", "real", (2,), "coalesce(covar_samp({0}, {1}), 0.0)",
                "datatable(x:long, y:long)[1, 2, 2, 4, 3, 6] | summarize covariance(x, y) | project covariance_x_y",
                ((2.0,),), aggregate=True, name_args=2),
    KqlFunction("covarianceif", "real, real, bool", "real", (3,),
                "coalesce(covar_samp({0}, {1}) FILTER (WHERE {2}), 0.0)",
                "datatable(x:long, y:long)[1, 2, 2, 4, 3, 6, 9, 0] | summarize covarianceif(x, y, x < 5)"
                " | project covarianceif_x_y", ((2.0,),), aggregate=True, name_args=2),
    KqlFunction("binary_all_and", "long", "long", (1,), "bit_and(CAST({0} AS BIGINT))",
                "datatable(n:long)[0xFFFFFFFF, 0xFFFFF00F, 0xCFFFFFFD, 0xFAFEFFFF] | summarize r=binary_all_and(n)"
                " | project h=tohex(r), r", (("cafef00d", 0xCAFEF00D),), aggregate=True),
    KqlFunction("binary_all_or", "long", "long", (1,), "bit_or(CAST({0} AS BIGINT))",
                "datatable(n:long)[0x88888008, 0x42000000, 0x00767000, 0x00000005] | summarize r=binary_all_or(n)"
                " | project h=tohex(r), r", (("cafef00d", 0xCAFEF00D),), aggregate=True),
    KqlFunction("binary_all_xor", "long", "long", (1,), "bit_xor(CAST({0} AS BIGINT))",
                "datatable(n:long)[1, 3, 4] | summarize binary_all_xor(n)", ((6,),), aggregate=True),
    # make_set and make_list replace duckdb-kql's rows: an array value contributes its elements (one
    # level: what the documented `make_list(pack_array(polygon.coordinates))` -> MultiPolygon relies
    # on); make_set's list_distinct came back in hash order, where the documentation (and a cluster
    # on one extent) lists first occurrences in input order; maxSize cuts the list.
    KqlFunction("make_set", "any[, long]", "dynamic", (1, 2),
                "to_json(list_slice(" + _first_occurrences(_ELEMENTS) + ", 1, {1}))",
                "datatable(x:dynamic)[dynamic(['b', 'a']), dynamic(['c']), dynamic(['a', 'd']), dynamic(['b'])] | summarize make_set(x)",
                ((["b", "a", "c", "d"],),), aggregate=True, name_prefix="set", defaults=((1, "1048576"),)),
    # weighted nearest-rank (percentiles.py names it and splits percentilesw into one call per P)
    KqlFunction("percentilew", "real, long, real", "long", (3,),
                "(list({0} ORDER BY {0}) FILTER (WHERE {0} IS NOT NULL AND {1} IS NOT NULL))"
                "[kfx_weighted_rank(CAST(to_json(list({1} ORDER BY {0}) FILTER (WHERE {0} IS NOT NULL "
                "AND {1} IS NOT NULL)) AS VARCHAR), {2})]",
                "datatable(w:long, v:long)[8, 10, 6, 20, 3, 30, 1, 40] | summarize p = percentilew(v, w, 75)",
                ((20,),), aggregate=True, name_prefix="percentile"),
    KqlFunction("make_list", "any[, long]", "dynamic", (1, 2), "to_json(list_slice(" + _ELEMENTS + ", 1, {1}))",
                "datatable(x:dynamic)[dynamic([[1, 2]]), dynamic(3), dynamic(null), dynamic([[4]])] "
                "| summarize a=make_list(x), b=make_list(x, 2), c=make_set(x, 1)",
                (([[1, 2], 3, [4]], [[1, 2], 3], [[1, 2]]),), aggregate=True, name_prefix="list",
                defaults=((1, "1048576"),)),
    # a slot in several bags takes one of their values: Kusto documents the choice as arbitrary
    KqlFunction("make_bag", "dynamic[, long]", "dynamic", (1, 2),
                "coalesce(list_reduce(list(CAST({0} AS JSON)) FILTER (WHERE json_type(CAST({0} AS JSON)) = 'OBJECT'), "
                "lambda a, b: json_merge_patch(a, b)), CAST('{{}}' AS JSON))",
                "datatable(p:dynamic)[dynamic({'a': 1}), dynamic([1]), dynamic({'b': 2})] | summarize make_bag(p)",
                (({"a": 1, "b": 2},),), aggregate=True, name_prefix="bag"),
    KqlFunction("make_set_if", "any, bool[, long]", "dynamic", (2, 3),
                # first occurrences, in input order (what the documentation shows)
                "to_json(" + _first_occurrences("coalesce(list({0}) FILTER (WHERE {0} IS NOT NULL AND {1}), [])") + ")",
                "datatable(x:long)[3, 1, 2, 2, 3] | summarize make_set_if(x, x > 1) | project set_x",
                (([3, 2],),), aggregate=True, name_prefix="set"),
]

# -- series_* (series.py): element-wise ones from its tables, each with a hand-checked example ----------
_PI = 3.141592653589793
_SERIES_UNARY_EXAMPLES = {
    "series_abs": ("dynamic([-1.5, 2, null])", [1.5, 2, None]),
    "series_acos": ("dynamic([-1, 0, 1, 2])", [_PI, _PI / 2, 0.0, float("nan")]),
    "series_asin": ("dynamic([0, 1])", [0.0, _PI / 2]),
    "series_atan": ("dynamic([-1, 0, 1])", [-_PI / 4, 0.0, _PI / 4]),
    "series_cos": ("dynamic([0, 'x'])", [1.0, None]),
    "series_sin": ("dynamic([0])", [0.0]),
    "series_tan": ("dynamic([0])", [0.0]),
    "series_exp": ("dynamic([0, 1])", [1.0, 2.718281828459045]),
    "series_log": ("dynamic([1, 2])", [0.0, 0.6931471805599453]),
    "series_sign": ("dynamic([-6, 0, 8])", [-1, 0, 1]),
    "series_floor": ("dynamic([1.5, -1.5])", [1, -2]),
    "series_ceiling": ("dynamic([1.5, -1.5])", [2, -1]),
}
_SERIES_BINARY_EXAMPLES = {
    "series_add": ("dynamic([1, 2, 3]), dynamic([4, 5, null])", [5, 7, None]),
    "series_subtract": ("dynamic([1, 2, 4]), dynamic([4, 2, 1])", [-3, 0, 3]),
    "series_multiply": ("dynamic([1, 2, 4]), 2", [2, 4, 8]),
    "series_divide": ("dynamic([1, 2, 4]), dynamic([4, 2, 1])", [0.25, 1.0, 4.0]),
    "series_pow": ("dynamic([1, 2, 3, 4]), dynamic([1, 2, 3, 0.5])", [1.0, 4.0, 27.0, 2.0]),
    "series_greater": ("dynamic([1, 2, 4]), dynamic([4, 2, 1])", [False, False, True]),
    "series_greater_equals": ("dynamic([1, 2, 4]), dynamic([4, 2, 1])", [False, True, True]),
    "series_less": ("dynamic([1, 2, 4]), dynamic([4, 2, 1])", [True, False, False]),
    "series_less_equals": ("dynamic([1, 2, 4]), dynamic([4, 2, 1])", [True, True, False]),
    "series_equals": ("dynamic([1, 2, 4]), dynamic([4, 2, 1])", [False, True, False]),
    "series_not_equals": ("dynamic([1, 2, 4]), dynamic([4, 2, 1])", [True, False, True]),
}
_ROWS += [
    KqlFunction(name, "dynamic", "dynamic", (1,), _dyn(f"kfx_series_unary('{name}', {J('{0}')})"),
                f"print r={name}({arg})", ((want,),)) for name, (arg, want) in _SERIES_UNARY_EXAMPLES.items()
] + [
    KqlFunction(name, "dynamic, dynamic|real", "dynamic", (2,),
                _dyn(f"kfx_series_binary('{name}', {J('{0}')}, {J('{1}')})"),
                f"print r={name}({args})", ((want,),)) for name, (args, want) in _SERIES_BINARY_EXAMPLES.items()
] + [
    KqlFunction("series_dot_product", "dynamic, dynamic|real", "real", (2,),
                f"kfx_series_dot_product({J('{0}')}, {J('{1}')})",
                "print r=series_dot_product(dynamic([1, 2, 4]), dynamic([4, 2, 1]))", ((12.0,),)),
    KqlFunction("series_product", "dynamic", "real", (1,), f"kfx_series_product({J('{0}')})",
                "print r=series_product(dynamic([1, 2, 3, 4]))", ((24.0,),)),
    KqlFunction("series_fill_const", "dynamic, value", "dynamic", (2,),
                _dyn(f"kfx_series_fill_const({J('{0}')}, {J('{1}')})"),
                "print r=series_fill_const(dynamic([1, null, 3]), -1)", (([1, -1, 3],),)),
    KqlFunction("series_fill_forward", "dynamic", "dynamic", (1,), _dyn(f"kfx_series_fill_forward({J('{0}')})"),
                "print r=series_fill_forward(dynamic([null, 36, null, 16, null]))", (([None, 36, 36, 16, 16],),)),
    # only null is supported as the missing-value placeholder; another placeholder is refused
    KqlFunction("series_fill_linear", "dynamic[, real, bool, real]", "dynamic", (1, 2, 3, 4),
                "(CASE WHEN {1} IS NOT NULL THEN CAST(error('unsupported: series_fill_linear with a "
                "non-null missing-value placeholder') AS JSON) ELSE "
                + _dyn(f"kfx_series_fill_linear({J('{0}')}, {{2}}, {J('{3}')})") + " END)",
                "print r=series_fill_linear(dynamic([null, 111, null, 36, null]))", (([111, 111, 73, 36, 36],),),
                # the constant for an all-null series is 0 when not given, null when given as null
                defaults=((3, "0.0"),)),
    KqlFunction("series_iir", "dynamic, dynamic, dynamic", "dynamic", (3,),
                _dyn(f"kfx_series_iir({J('{0}')}, {J('{1}')}, {J('{2}')})"),
                "print r=series_iir(dynamic([0, 1, 2, 3]), dynamic([1]), dynamic([1, -1]))", (([0.0, 1.0, 3.0, 6.0],),)),
    KqlFunction("series_seasonal", "dynamic, long", "dynamic", (2,),
                _dyn(f"kfx_series_seasonal({J('{0}')}, {{1}})"),
                "print r=series_seasonal(dynamic([1, 3, 5, 1, 3, 5, 2, 4, 6]), 3)",
                (([1.0, 3.0, 5.0, 1.0, 3.0, 5.0, 1.0, 3.0, 5.0],),)),
]

FUNCTIONS: dict[str, KqlFunction] = {row.name: row for row in _ROWS}
