"""percentile / percentiles / percentilew / percentilesw: Kusto's nearest-rank definition, its
default column names, nulls, empty input, and the forms that are refused rather than guessed."""

from __future__ import annotations

import pytest

from kfx_notebook.backends.local.kql.percentiles import rewrite_percentiles, weighted_rank
from kfx_notebook.errors import KfxError, UnsupportedError

DB = "PctDB"
LATENCY = "datatable (ReqCount:long, LatencyBucket:long)[8, 10, 6, 20, 3, 30, 1, 40]"


def rows(engine, kql):
    """(column names, rows as tuples) of *kql* on the module's database."""
    types, values = engine.query_rows(DB, kql)
    return [name for name, _ in types], [tuple(row) for row in values]


def test_percentilesw_documentation_example(kql_engine):
    """percentilesw-aggregation-function.md: 50, 75 and 99.9 of the latency buckets."""
    names, got = rows(kql_engine, f"{LATENCY} | summarize percentilesw(LatencyBucket, ReqCount, 50, 75, 99.9)")
    assert names == ["percentile_LatencyBucket_50", "percentile_LatencyBucket_75", "percentile_LatencyBucket_99_9"]
    assert got == [(20, 20, 40)]


@pytest.mark.parametrize("p, want", [(0, 1), (10, 1), (11, 2), (19, 2), (50, 5), (51, 6), (90, 9), (91, 10), (100, 10)])
def test_nearest_rank_is_the_smallest_value_with_p_percent_at_or_below_it(kql_engine, p, want):
    """1..10: the P-th percentile is the value at rank ceil(P/100 * 10); P = 0 is the minimum."""
    _, got = rows(kql_engine, f"range x from 1 to 10 step 1 | summarize percentiles(x, {p}), "
                          f"(w) = percentilesw(x, 1, {p}), v = percentilew(x, 2, {p})")
    assert got == [(want, want, want)]


def test_default_names_tuple_names_and_keys(kql_engine):
    names, got = rows(kql_engine, "range x from 1 to 10 step 1 | summarize percentiles(x, 25.5, 50), "
                              "(lo, hi) = percentiles(x, 0, 100), one = percentile(x, 99.9) by odd = x % 2 "
                              "| order by odd asc")
    assert names == ["odd", "percentile_x_25_5", "percentile_x_50", "lo", "hi", "one"]
    assert got == [(0, 4, 6, 2, 10, 10), (1, 3, 5, 1, 9, 9)]


def test_nulls_are_skipped_and_empty_input_gives_null(kql_engine):
    _, got = rows(kql_engine, "datatable(x:long, w:long)[1, 1, long(null), 5, 3, long(null), 4, 1] "
                          "| summarize percentiles(x, 50), (pw) = percentilesw(x, w, 50)")
    assert got == [(3, 1)]  # 1, 3, 4 unweighted; weighted 1 (w1), 4 (w1): rank ceil(0.5 * 2) = 1
    _, got = rows(kql_engine, "datatable(x:long, w:long)[] | summarize percentiles(x, 50), (pw) = percentilesw(x, w, 50)")
    assert got == [(None, None)]


def test_the_answer_keeps_the_type_of_the_values(kql_engine):
    _, got = rows(kql_engine, "datatable(x:real, w:long)[1.5, 2, 2.5, 1] | summarize percentilesw(x, w, 50, 100)")
    assert got == [(1.5, 2.5)]


@pytest.mark.parametrize("kql, message", [
    ("range x from 1 to 3 step 1 | summarize percentiles(x * 2, 50)", "without a name"),
    ("range x from 1 to 3 step 1 | summarize percentiles(x, 101)", "a number from 0 to 100"),
    ("range x from 1 to 3 step 1 | summarize percentiles(x, -1)", "a number from 0 to 100"),
    ("range x from 1 to 3 step 1 | summarize n = percentiles(x, 5, 6)", "under one name"),
    ("range x from 1 to 3 step 1 | summarize (a, b) = percentiles(x, 5)", r"2 name\(s\) for 1"),
    ("range x from 1 to 3 step 1 | summarize percentiles(x)", "2 or more arguments"),
    ("range x from 1 to 3 step 1 | summarize percentiles(x, 5), percentilesw(x, 1, 5)", "named percentile_x_5 twice"),
])
def test_forms_without_a_known_answer_are_refused_with_their_position(kql_engine, kql, message):
    with pytest.raises(UnsupportedError, match=message) as caught:
        kql_engine.query_rows(DB, kql)
    assert kql[caught.value.column - 1:].startswith(kql.split("summarize ")[1][:5])


def test_a_negative_weight_is_refused(kql_engine):
    with pytest.raises(KfxError, match="weight is negative"):
        kql_engine.query_rows(DB, "datatable(x:long, w:long)[1, -1] | summarize percentilesw(x, w, 50)")


def test_weighted_rank_reaches_p_percent_of_the_total_weight():
    assert weighted_rank("[8, 6, 3, 1]", 50) == 2  # rank 9 of 18 falls in the second bucket
    assert weighted_rank("[8, 6, 3, 1]", 44.4) == 1  # ceil(7.992) = 8: the first bucket still holds it
    assert weighted_rank("[0, 2]", 0) == 2  # rank 1 needs a weight
    assert weighted_rank("[]", 50) is None
    assert weighted_rank("[0, 0]", 50) is None


def test_the_rewrite_touches_only_summarize_aggregates_and_keeps_positions():
    text = "T | extend p = 1 | summarize percentiles(x, 5) by k | where percentile_x_5 > 0"
    rewritten, edits = rewrite_percentiles(text)
    assert rewritten == "T | extend p = 1 | summarize percentile_x_5 = percentile(x, 5) by k | where percentile_x_5 > 0"
    assert edits == [(text.index("percentiles"), len("percentiles(x, 5)"), len("percentile_x_5 = percentile(x, 5)"))]
    inner = "T | join (U | summarize percentiles(x, 5)) on k"
    assert rewrite_percentiles(inner)[0] == "T | join (U | summarize percentile_x_5 = percentile(x, 5)) on k"
