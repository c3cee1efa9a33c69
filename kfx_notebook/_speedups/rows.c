/* rows: one loop writing rows of JSON text from per-column pieces (kfx_notebook/row_join.py).

join(count, literals, columns, separator, head, tail) -> bytes, or None when not handled.
Row i is literals[0] columns[0][i] literals[1] ... columns[n-1][i] literals[n]; the rows are
written between head and tail, separator between two rows. A column is a 7-tuple
(kind, width, offset, values, data, validity, validity_offset) of buffers read in place:
  TEXTS     Arrow string texts written as they are: values = offsets (width 4 or 8), data = bytes
  STRINGS   Arrow strings written as JSON strings, escaped as json.dumps(ensure_ascii=False) does
  INTS      signed integers of `width` bytes as decimal digits
  BOOLS     an Arrow bit-packed boolean buffer as true/false
  DATETIMES int64 microseconds since 1970 as "YYYY-MM-DDTHH:MM:SS.ffffff0Z" (year 1 to 9999)
  TIMESPANS int64 100-ns ticks as "[-][d.]hh:mm:ss[.fffffff]" (the fraction only when not zero)
  INTERVALS Arrow month_day_nano intervals (width 16: int32 months, int32 days, int64 nanoseconds)
            as TIMESPANS, a month counted as 30 days as DuckDB counts it, the nanoseconds floored
            to ticks; beyond 10,000,000 days or 100 days of nanoseconds: not handled
  DYNAMIC   Arrow string texts of JSON written minified, when each is already json.dumps' compact
            text of json.loads of it (the per-value encoder's, server/wire.py): UTF-8, strings
            with only the escapes json writes, integers not -0 and at most 4000 digits, reals
            finite and float.__repr__ of themselves, no key twice in an object, at most 64 keys
            an object and 128 levels (beyond them, not handled); anything else: not handled.
            Checked with the GIL held before the loop (a real is read by PyOS_string_to_double).
  NS_DATETIMES  int64 nanoseconds since 1970 (UTC; numpy's range, years 1677-2262) as the payload's
            "YYYY-MM-DDTHH:MM:SS.fffffffZ": the ticks floored (codec.datetime_text_array)
  NS_TIMESPANS  int64 nanoseconds as the payload's "[-][d.]hh:mm:ss.fffffff": '-' when negative, the
            magnitude's ticks truncated, the fraction always (codec.timespan_text_array)
  REALS     doubles (width 8) or floats (width 4) as float.__repr__ writes them, NaN and
            +-Infinity as the REST wire's texts "NaN", "Infinity", "-Infinity". A value whose
            shortest digits are at most 15 in fixed notation is written here; every other one
            by PyOS_double_to_string (repr's own function), called with the GIL before the loop.
The rows may be cut into parts (at most MAX_PARTS, by default one a CPU for every MIN_PART_ROWS
rows; `parts`, the optional 7th argument, asks for that many) sized and written each on its own
thread, the GIL released: each part its own copy of the columns (its day cache, its escape flag),
its own range of the reply, checked against its own end.
`offset` is the array's first value, validity an Arrow bitmap (None: no nulls; a null is
written null; TEXTS ignore it, their texts are whole). Every buffer is bounds-checked before the
loop and every offset as it is read; a bad offset, a datetime outside years 1-9999 or a size
beyond Py_ssize_t returns None and the caller takes its Python path. Reals and dynamic texts are
read first with the GIL held (they call Python's float functions); the GIL is then released
around both passes (sizes, then writing), which touch no Python object. The sizes are exact, so
the reply's bytes are allocated at the size they end at (an upper bound allocated and shrunk came
from fresh pages on every answer, glibc mapping it anew: about 2,800 page faults, 4-5 ms for 11 MB),
and every write is checked against that end: a mismeasured value declines instead of overflowing.
*/
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#include <unistd.h>
#define HAVE_THREADS 1
#endif
#include <stdint.h>
#include <string.h>

/* A reply is cut into at most this many parts, each written on its own thread: no more than a
   small machine's cores, and each part long enough that a thread costs little against it. */
#define MAX_PARTS 4
#define MIN_PART_ROWS 16384

enum { TEXTS = 0, STRINGS = 1, INTS = 2, BOOLS = 3, DATETIMES = 4, TIMESPANS = 5, REALS = 6, INTERVALS = 7, DYNAMIC = 8,
       NS_DATETIMES = 9, NS_TIMESPANS = 10 };

typedef struct {
    int kind, width;
    Py_ssize_t offset, validity_offset;
    Py_buffer values, data, validity;
    int has_data, has_validity;
    int escapes;          /* STRINGS: some value needs an escape (else each is copied as it is) */
    int64_t day;          /* DATETIMES: the day whose "YYYY-MM-DDT" day_text holds (INT64_MIN: none) */
    char day_text[11];
    char **reprs;         /* REALS: repr's text of each value the fast path does not write, or NULL */
    size_t measured[MAX_PARTS];   /* DYNAMIC, REALS: the bytes of each part's values (nulls included),
                                     measured with the GIL before the loop */
    Py_ssize_t count;
} column_t;

typedef struct {
    const char *text;
    Py_ssize_t size;
} literal_t;

/* Bytes a JSON string adds to a UTF-8 byte: 1 for \" \\ \b \f \n \r \t, 5 for \u00XX, else 0. */
static unsigned char escape_extra[256];

/* The letter after the backslash of a byte's short escape (\" \\ \b \f \n \r \t), or 0. */
static char short_escape[256];

static void init_escapes(void) {
    static const char shorts[][2] = {{'"', '"'}, {'\\', '\\'}, {'\b', 'b'}, {'\f', 'f'}, {'\n', 'n'},
                                     {'\r', 'r'}, {'\t', 't'}};
    for (int c = 0; c < 0x20; c++) escape_extra[c] = 5;
    for (size_t k = 0; k < sizeof shorts / sizeof shorts[0]; k++) {
        short_escape[(unsigned char)shorts[k][0]] = shorts[k][1];
        escape_extra[(unsigned char)shorts[k][0]] = 1;
    }
}

/* 0001-01-01T00:00:00 and 9999-12-31T23:59:59.999999 in microseconds since 1970. */
#define MIN_MICROS (-62135596800LL * 1000000LL)
#define MAX_MICROS (253402300800LL * 1000000LL - 1)
#define MICROS_PER_DAY 86400000000LL
#define TICKS_PER_DAY 864000000000LL
#define TICKS_PER_SECOND 10000000LL

static int64_t read_int(const char *base, int width, Py_ssize_t i) {
    switch (width) {
    case 1: { int8_t v; memcpy(&v, base + i, 1); return v; }
    case 2: { int16_t v; memcpy(&v, base + 2 * i, 2); return v; }
    case 4: { int32_t v; memcpy(&v, base + 4 * i, 4); return v; }
    default: { int64_t v; memcpy(&v, base + 8 * i, 8); return v; }
    }
}

static int bit(const Py_buffer *buffer, Py_ssize_t i) {
    return (((const unsigned char *)buffer->buf)[i >> 3] >> (i & 7)) & 1;
}

static int is_null(const column_t *c, Py_ssize_t i) {
    return c->has_validity && !bit(&c->validity, c->validity_offset + i);
}

/* Adds b to *total; 0 when the sum would pass PY_SSIZE_T_MAX. */
static int add_size(size_t *total, size_t b) {
    if (b > (size_t)PY_SSIZE_T_MAX - *total) return 0;
    *total += b;
    return 1;
}

/* count values of `width` bytes from `offset` fit in a buffer of `size` bytes. */
static int fits(Py_ssize_t offset, Py_ssize_t count, Py_ssize_t width, Py_ssize_t size) {
    if (offset < 0 || count < 0 || offset > PY_SSIZE_T_MAX - count) return 0;
    return offset + count <= size / width;
}

static const char PAIRS[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* The decimal digits of v (what write_digits writes). */
static int digit_count(uint64_t v) {
    int n = 1;   /* halving steps: a few comparisons instead of one a digit */
    if (v >= 10000000000000000ULL) { n += 16; v /= 10000000000000000ULL; }
    if (v >= 100000000) { n += 8; v /= 100000000; }
    if (v >= 10000) { n += 4; v /= 10000; }
    if (v >= 100) { n += 2; v /= 100; }
    return n + (v >= 10);
}

/* v's decimal digits, written from the last one back (two a step): no copy through a scratch buffer. */
static char *write_digits(char *out, uint64_t v) {
    int n = digit_count(v);
    char *at = out + n;
    while (v >= 100) { at -= 2; memcpy(at, PAIRS + 2 * (v % 100), 2); v /= 100; }
    if (v >= 10) { at -= 2; memcpy(at, PAIRS + 2 * v, 2); }
    else *--at = (char)('0' + v);
    return out + n;
}

static char *write_padded(char *out, uint64_t v, int width) {
    int k = width;
    while (k >= 2) { k -= 2; memcpy(out + k, PAIRS + 2 * (v % 100), 2); v /= 100; }
    if (k) out[0] = (char)('0' + v % 10);
    return out + width;
}

static char *write_int(char *out, int64_t v) {
    if (v < 0) { *out++ = '-'; return write_digits(out, (uint64_t)0 - (uint64_t)v); }
    return write_digits(out, (uint64_t)v);
}

/* "HH:MM:SS" of a time of day or a timespan's seconds within its day. */
static char *write_clock(char *out, uint64_t seconds) {
    out = write_padded(out, seconds / 3600, 2); *out++ = ':';
    out = write_padded(out, seconds / 60 % 60, 2); *out++ = ':';
    return write_padded(out, seconds % 60, 2);
}

/* Howard Hinnant's civil_from_days: days since 1970-01-01 -> year, month, day. */
static void civil(int64_t z, int64_t *year, int *month, int *day) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2);
}

/* "YYYY-MM-DDT" of the day into c's day cache, unless it holds it already. */
static void cache_day(column_t *c, int64_t days) {
    if (days == c->day) return;   /* rows near each other in time share their day's text */
    int64_t year;
    int month, day;
    civil(days, &year, &month, &day);
    char *text = c->day_text;
    text = write_padded(text, (uint64_t)year, 4); *text++ = '-';
    text = write_padded(text, (uint64_t)month, 2); *text++ = '-';
    text = write_padded(text, (uint64_t)day, 2); *text = 'T';
    c->day = days;
}

static char *write_datetime(char *out, column_t *c, int64_t micros) {
    int64_t days = micros / MICROS_PER_DAY, rest = micros % MICROS_PER_DAY;
    if (rest < 0) { rest += MICROS_PER_DAY; days -= 1; }
    cache_day(c, days);
    int64_t seconds = rest / 1000000;
    *out++ = '"';
    memcpy(out, c->day_text, 11);
    out += 11;
    out = write_clock(out, (uint64_t)seconds);
    *out++ = '.';
    out = write_padded(out, (uint64_t)(rest % 1000000), 6);
    memcpy(out, "0Z\"", 3);
    return out + 3;
}

#define MAX_INTERVAL_DAYS 10000000LL
#define MAX_INTERVAL_NANOS (86400000000000LL * 100)

/* Interval i's 100-ns ticks into *ticks; 0 when it is beyond the days or nanoseconds it may hold. */
static int interval_ticks(const column_t *c, Py_ssize_t i, int64_t *ticks) {
    const char *at = (const char *)c->values.buf + 16 * (c->offset + i);
    int32_t months, days;
    int64_t nanos;
    memcpy(&months, at, 4);
    memcpy(&days, at + 4, 4);
    memcpy(&nanos, at + 8, 8);
    int64_t all_days = (int64_t)months * 30 + days;
    if (all_days > MAX_INTERVAL_DAYS || all_days < -MAX_INTERVAL_DAYS
        || nanos > MAX_INTERVAL_NANOS || nanos < -MAX_INTERVAL_NANOS)
        return 0;
    int64_t whole = nanos / 100 - (nanos % 100 < 0);   /* floored, as numpy's // */
    *ticks = all_days * TICKS_PER_DAY + whole;
    return 1;
}

/* A timespan as written: its sign, its magnitude in ticks, and whether a zero fraction is written. */
typedef struct {
    int negative, fraction_always;
    uint64_t ticks;
} timespan_t;

/* The REST wire's: signed 100-ns ticks, the fraction only when not zero. */
static timespan_t wire_span(int64_t ticks) {
    return (timespan_t){.negative = ticks < 0, .fraction_always = 0,
                    .ticks = ticks < 0 ? (uint64_t)0 - (uint64_t)ticks : (uint64_t)ticks};
}

/* The payload's: nanoseconds, '-' when negative, the magnitude's ticks truncated, the fraction always. */
static timespan_t payload_span(int64_t ns) {
    return (timespan_t){.negative = ns < 0, .fraction_always = 1,
                    .ticks = (ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns) / 100};
}

/* "[-][d.]hh:mm:ss[.fffffff]", quoted. */
static char *write_span(char *out, timespan_t span) {
    uint64_t days = span.ticks / TICKS_PER_DAY, fraction = span.ticks % TICKS_PER_SECOND;
    *out++ = '"';
    if (span.negative) *out++ = '-';
    if (days) { out = write_digits(out, days); *out++ = '.'; }
    out = write_clock(out, span.ticks % TICKS_PER_DAY / TICKS_PER_SECOND);
    if (fraction || span.fraction_always) { *out++ = '.'; out = write_padded(out, fraction, 7); }
    *out++ = '"';
    return out;
}

#define NS_PER_DAY 86400000000000LL
#define NS_PER_SECOND 1000000000LL

static char *write_ns_datetime(char *out, column_t *c, int64_t ns) {
    int64_t days = ns / NS_PER_DAY, rest = ns % NS_PER_DAY;
    if (rest < 0) { rest += NS_PER_DAY; days -= 1; }
    cache_day(c, days);
    int64_t seconds = rest / NS_PER_SECOND;
    *out++ = '"';
    memcpy(out, c->day_text, 11);
    out += 11;
    out = write_clock(out, (uint64_t)seconds);
    *out++ = '.';
    out = write_padded(out, (uint64_t)(rest % NS_PER_SECOND / 100), 7);
    memcpy(out, "Z\"", 2);
    return out + 2;
}

static const double POWERS[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13,
                                 1e14, 1e15, 1e16, 1e17, 1e18, 1e19};

/* |x| as digits * 10**-places when those are its shortest round-trip digits, at most 15 of them,
   and float.__repr__ writes them in fixed notation (x is 0 or 1e-4 <= |x| < 1e15); else 0.
   At most 15 digits, one decimal of them rounds to x (DBL_DIG), and x * 10**places is within
   0.4 of it (each of x's and the product's roundings is below 2**-52 * 10**15), so the first
   `places` whose rounded product divides back to x exactly (both operands exact doubles, IEEE
   division correctly rounded, as strtod reads a decimal) gives repr's shortest digits. */
static int short_decimal(double x, uint64_t *digits, int *places) {
    double a = x < 0 ? -x : x;
    if (a == 0) { *digits = 0; *places = 0; return 1; }
    if (!(a >= 1e-4)) return 0;   /* repr writes an exponent below it (and NaN fails here) */
    for (int k = 0; k < 20; k++) {
        double scaled = a * POWERS[k];
        if (scaled >= 1e15) return 0;   /* 16 digits or more (and +-inf, |x| >= 1e15 at once) */
        uint64_t n = (uint64_t)(scaled + 0.5);
        if ((double)n / POWERS[k] == a) { *digits = n; *places = k; return 1; }
    }
    return 0;
}

static double read_real(const column_t *c, Py_ssize_t i) {
    if (c->width == 4) { float f; memcpy(&f, (const char *)c->values.buf + 4 * (c->offset + i), 4); return f; }
    double d;
    memcpy(&d, (const char *)c->values.buf + 8 * (c->offset + i), 8);
    return d;
}

static const uint64_t TENS[] = {1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
                                100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL,
                                1000000000000ULL, 10000000000000ULL, 100000000000000ULL,
                                1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
                                1000000000000000000ULL, 10000000000000000000ULL};

static char *write_real(char *out, const column_t *c, Py_ssize_t i) {
    double x = read_real(c, i);
    uint64_t digits;
    int places;
    if (c->reprs && c->reprs[i]) {
        size_t n = strlen(c->reprs[i]);
        memcpy(out, c->reprs[i], n);
        return out + n;
    }
    if (isnan(x)) { memcpy(out, "\"NaN\"", 5); return out + 5; }
    if (isinf(x) && x > 0) { memcpy(out, "\"Infinity\"", 10); return out + 10; }
    if (isinf(x)) { memcpy(out, "\"-Infinity\"", 11); return out + 11; }
    short_decimal(x, &digits, &places);   /* prepare_reals kept a repr for every other value */
    if (signbit(x)) *out++ = '-';
    out = write_digits(out, digits / TENS[places]);
    *out++ = '.';
    if (!places) { *out++ = '0'; return out; }
    return write_padded(out, digits % TENS[places], places);
}

static int text_range(const column_t *c, Py_ssize_t i, Py_ssize_t *start, Py_ssize_t *stop);

/* -- DYNAMIC: JSON texts checked to be in the wire's form ------------------------------------- */
#define MAX_DEPTH 128
#define MAX_KEYS 64
#define MAX_INT_DIGITS 4000

static int is_space(unsigned char b) { return b == ' ' || b == '\t' || b == '\n' || b == '\r'; }

/* The length of the valid UTF-8 sequence at s[0..n) (no overlong form, surrogate or beyond
   U+10FFFF), or 0. */
static Py_ssize_t utf8_length(const unsigned char *s, Py_ssize_t n) {
    unsigned char b = s[0];
    if (b < 0x80) return 1;
    Py_ssize_t size = b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3 : b >= 0xF0 && b <= 0xF4 ? 4 : 0;
    if (!size || size > n) return 0;
    for (Py_ssize_t k = 1; k < size; k++)
        if ((s[k] & 0xC0) != 0x80) return 0;
    if (b == 0xE0 && s[1] < 0xA0) return 0;   /* overlong */
    if (b == 0xED && s[1] > 0x9F) return 0;   /* a surrogate */
    if (b == 0xF0 && s[1] < 0x90) return 0;   /* overlong */
    if (b == 0xF4 && s[1] > 0x8F) return 0;   /* beyond U+10FFFF */
    return size;
}

/* The end of the string whose opening quote is s[i], when every escape in it is one json writes
   and every byte is UTF-8 text json.loads accepts (no raw control character); else -1. */
static Py_ssize_t string_end(const unsigned char *s, Py_ssize_t n, Py_ssize_t i) {
    for (i++; i < n;) {
        unsigned char b = s[i];
        if (b == '"') return i + 1;
        if (b < 0x20) return -1;
        if (b == '\\') {
            if (i + 1 >= n) return -1;
            unsigned char e = s[i + 1];
            if (e == '"' || e == '\\' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') { i += 2; continue; }
            /* \u00XX, lowercase, only for the control characters json has no short escape for */
            if (e != 'u' || i + 5 >= n || s[i + 2] != '0' || s[i + 3] != '0' || (s[i + 4] != '0' && s[i + 4] != '1'))
                return -1;
            unsigned char h = s[i + 5];
            int low = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : -1;
            int code = low < 0 ? -1 : (s[i + 4] - '0') * 16 + low;
            if (code < 0 || code == '\b' || code == '\f' || code == '\n' || code == '\r' || code == '\t') return -1;
            i += 6;
            continue;
        }
        Py_ssize_t size = utf8_length(s + i, n - i);
        if (!size) return -1;
        i += size;
    }
    return -1;
}

static int is_digit(unsigned char b) { return b >= '0' && b <= '9'; }

/* The end of the number at s[i] when it is JSON's grammar and json.dumps' own spelling of what
   json.loads reads (an integer not -0, at most MAX_INT_DIGITS digits; a real finite and
   float.__repr__ of itself); else -1. The GIL is held (PyOS_string_to_double). */
static Py_ssize_t number_end(const unsigned char *s, Py_ssize_t n, Py_ssize_t i) {
    Py_ssize_t start = i, digits;
    int real = 0;
    if (s[i] == '-') i++;
    if (i >= n || !is_digit(s[i])) return -1;
    if (s[i] == '0') i++;
    else while (i < n && is_digit(s[i])) i++;
    digits = i - start;
    if (i < n && s[i] == '.') {
        real = 1;
        if (++i >= n || !is_digit(s[i])) return -1;
        while (i < n && is_digit(s[i])) i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        real = 1;
        if (++i < n && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= n || !is_digit(s[i])) return -1;
        while (i < n && is_digit(s[i])) i++;
    }
    if (!real) {
        if (digits > MAX_INT_DIGITS || (digits == 2 && s[start] == '-' && s[start + 1] == '0')) return -1;
        return i;
    }
    char token[40];   /* repr writes at most 24 characters: a longer token is not one */
    if (i - start >= (Py_ssize_t)sizeof token) return -1;
    memcpy(token, s + start, (size_t)(i - start));
    token[i - start] = 0;
    char *end;
    double x = PyOS_string_to_double(token, &end, NULL);
    if (x == -1.0 && PyErr_Occurred()) { PyErr_Clear(); return -1; }
    if (*end || isinf(x) || isnan(x)) return -1;
    char *spelled = PyOS_double_to_string(x, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (!spelled) { PyErr_Clear(); return -1; }
    int same = strcmp(spelled, token) == 0;
    PyMem_Free(spelled);
    return same ? i : -1;
}

typedef struct { Py_ssize_t start, stop; } span_t;

/* The bytes of text s[0..n) minified when it is one JSON value in the wire's form; else -1. */
static Py_ssize_t wire_json_size(const unsigned char *s, Py_ssize_t n) {
    char open[MAX_DEPTH];             /* the containers around: '{' or '[' */
    Py_ssize_t first_key[MAX_DEPTH];  /* each object's first key in keys[] */
    span_t keys[MAX_DEPTH + MAX_KEYS];
    Py_ssize_t n_keys = 0, size = 0, i = 0, end;
    int depth = 0;
value:
    while (i < n && is_space(s[i])) i++;
    if (i >= n) return -1;
    switch (s[i]) {
    case '{': case '[':
        if (depth == MAX_DEPTH) return -1;
        open[depth] = (char)s[i];
        first_key[depth++] = n_keys;
        size++;
        i++;
        while (i < n && is_space(s[i])) i++;
        if (i < n && s[i] == (open[depth - 1] == '{' ? '}' : ']')) { depth--; size++; i++; goto after; }
        if (open[depth - 1] == '{') goto key;
        goto value;
    case '"':
        if ((end = string_end(s, n, i)) < 0) return -1;
        break;
    case 't': end = n - i >= 4 && !memcmp(s + i, "true", 4) ? i + 4 : -1; break;
    case 'f': end = n - i >= 5 && !memcmp(s + i, "false", 5) ? i + 5 : -1; break;
    case 'n': end = n - i >= 4 && !memcmp(s + i, "null", 4) ? i + 4 : -1; break;
    default: end = number_end(s, n, i);
    }
    if (end < 0) return -1;
    size += end - i;
    i = end;
after:
    while (i < n && is_space(s[i])) i++;
    if (!depth) return i == n ? size : -1;
    if (i >= n) return -1;
    if (s[i] == ',') { size++; i++; if (open[depth - 1] == '{') goto key; goto value; }
    if (s[i] != (open[depth - 1] == '{' ? '}' : ']')) return -1;
    n_keys = first_key[--depth];   /* its keys are done with */
    size++;
    i++;
    goto after;
key:
    while (i < n && is_space(s[i])) i++;
    if (i >= n || s[i] != '"' || (end = string_end(s, n, i)) < 0) return -1;
    /* json keeps one value of a repeated key: the text is not its own form. Escapes are
       canonical here (string_end), so equal keys are equal bytes. */
    if (n_keys - first_key[depth - 1] >= MAX_KEYS || n_keys >= MAX_DEPTH + MAX_KEYS) return -1;
    for (Py_ssize_t k = first_key[depth - 1]; k < n_keys; k++)
        if (keys[k].stop - keys[k].start == end - i && !memcmp(s + keys[k].start, s + i, (size_t)(end - i)))
            return -1;
    keys[n_keys].start = i;
    keys[n_keys++].stop = end;
    size += end - i + 1;
    i = end;
    while (i < n && is_space(s[i])) i++;
    if (i >= n || s[i] != ':') return -1;
    i++;
    goto value;
}

/* Each text of a DYNAMIC column checked (wire_json_size) and its minified bytes summed into
   c->measured of its part (rows bounds[p] to bounds[p + 1]); 0 when one is not in the wire's
   form or its offsets are bad. GIL held. */
static int check_dynamic(column_t *c, const Py_ssize_t *bounds, int n_parts) {
    Py_ssize_t start, stop;
    for (int p = 0; p < n_parts; p++) {
        for (Py_ssize_t i = bounds[p]; i < bounds[p + 1]; i++) {
            Py_ssize_t size = 4;   /* null */
            if (!is_null(c, i)) {
                if (!text_range(c, i, &start, &stop)) return 0;
                size = wire_json_size((const unsigned char *)c->data.buf + start, stop - start);
                if (size < 0) return 0;
            }
            if (!add_size(&c->measured[p], (size_t)size)) return 0;
        }
    }
    return 1;
}

/* A checked JSON text without the whitespace between its tokens. */
static char *write_minified(char *out, const unsigned char *s, Py_ssize_t n) {
    int in_string = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char b = s[i];
        if (in_string) {
            *out++ = (char)b;
            if (b == '\\') *out++ = (char)s[++i];   /* checked: an escape has its next byte */
            else if (b == '"') in_string = 0;
        } else if (!is_space(b)) {
            *out++ = (char)b;
            in_string = b == '"';
        }
    }
    return out;
}

/* repr's text (PyOS_double_to_string, the GIL held) of each finite value short_decimal does not
   write, and the bytes of each part's values (rows bounds[p] to bounds[p + 1]) in c->measured;
   -1 with an exception when memory runs out. */
static int prepare_reals(column_t *c, Py_ssize_t count, const Py_ssize_t *bounds, int n_parts) {
    /* at most 48 bytes a value: no overflow for count <= PY_SSIZE_T_MAX / 2 / 48 */
    if ((size_t)count > (size_t)PY_SSIZE_T_MAX / 96) { PyErr_NoMemory(); return -1; }
    for (int p = 0; p < n_parts; p++)
    for (Py_ssize_t i = bounds[p]; i < bounds[p + 1]; i++) {
        size_t *total = &c->measured[p];
        double x = read_real(c, i);
        uint64_t digits;
        int places;
        if (is_null(c, i)) { *total += 4; continue; }
        if (isnan(x)) { *total += 5; continue; }
        if (isinf(x)) { *total += x > 0 ? 10 : 11; continue; }
        if (short_decimal(x, &digits, &places)) {   /* what write_real writes for it */
            *total += (size_t)(signbit(x) != 0) + (size_t)digit_count(digits / TENS[places]) + 1
                     + (size_t)(places ? places : 1);
            continue;
        }
        if (!c->reprs) {
            c->reprs = PyMem_Calloc((size_t)count, sizeof(char *));
            if (!c->reprs) { PyErr_NoMemory(); return -1; }
            c->count = count;
        }
        c->reprs[i] = PyOS_double_to_string(x, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
        if (!c->reprs[i]) return -1;
        *total += strlen(c->reprs[i]);
    }
    return 0;
}

static const char HEX[] = "0123456789abcdef";

/* The 8 bytes of w hold one a JSON string escapes (below 0x20, '"' or '\\'). Exact as a yes or
   no: a byte flags only when it, or one below it in the word, is such a byte. */
static int word_escapes(uint64_t w) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t quote = w ^ (ones * '"'), slash = w ^ (ones * '\\');
    return ((((w - ones * 0x20) & ~w) | ((quote - ones) & ~quote) | ((slash - ones) & ~slash)) & highs) != 0;
}

/* The first byte from s[k] on that a JSON string escapes, or n: eight bytes a step where none is. */
static Py_ssize_t next_escape(const unsigned char *s, Py_ssize_t k, Py_ssize_t n) {
    for (uint64_t w; k + 8 <= n; k += 8) {
        memcpy(&w, s + k, 8);
        if (word_escapes(w)) break;
    }
    while (k < n && !escape_extra[s[k]]) k++;
    return k;
}

/* The bytes escapes add to the string s[0..n). */
static size_t escapes_extra(const unsigned char *s, Py_ssize_t n) {
    size_t extra = 0;
    for (Py_ssize_t k = next_escape(s, 0, n); k < n; k = next_escape(s, k + 1, n)) extra += escape_extra[s[k]];
    return extra;
}

static char *write_string(char *out, const unsigned char *s, Py_ssize_t n) {
    *out++ = '"';
    for (Py_ssize_t k = 0; k < n; k++) {
        Py_ssize_t run = next_escape(s, k, n);
        memcpy(out, s + k, (size_t)(run - k));   /* the bytes up to the next escape, as they are */
        out += run - k;
        if ((k = run) == n) break;
        unsigned char b = s[k];
        *out++ = '\\';
        if (short_escape[b]) { *out++ = short_escape[b]; continue; }
        memcpy(out, "u00", 3);
        out[3] = HEX[b >> 4];
        out[4] = HEX[b & 15];
        out += 5;
    }
    *out++ = '"';
    return out;
}

/* The [start, stop) byte range of text i of a TEXTS/STRINGS column; 0 when its offsets are bad. */
static int text_range(const column_t *c, Py_ssize_t i, Py_ssize_t *start, Py_ssize_t *stop) {
    int64_t a = read_int(c->values.buf, c->width, c->offset + i);
    int64_t b = read_int(c->values.buf, c->width, c->offset + i + 1);
    if (a < 0 || b < a || b > (int64_t)c->data.len) return 0;
    *start = (Py_ssize_t)a;
    *stop = (Py_ssize_t)b;
    return 1;
}

/* Bytes enough for each value of a kind written at most this wide (0: measured value by value). */
/* The most bytes one value of a kind measured by value_size is written in: write_value's guard. */
#define WIDEST 48

/* The bytes write_span writes for the timespan. */
static size_t span_size(timespan_t span) {
    uint64_t days = span.ticks / TICKS_PER_DAY;
    return 2 + (size_t)span.negative + (days ? (size_t)digit_count(days) + 1 : 0) + 8
           + (span.ticks % TICKS_PER_SECOND || span.fraction_always ? 8 : 0);
}

/* The bytes column c writes for its values of rows first to last - 1 (part `part`), exactly (so
   the reply's bytes are allocated at the size they end at), or 0 with *ok = 0 when it cannot write
   them: an offset outside its data, a datetime outside years 1-9999, an interval beyond its
   limits, a size too large. */
static size_t column_size(column_t *c, Py_ssize_t first, Py_ssize_t last, int part, int *ok) {
    size_t total = 0;
    Py_ssize_t start, stop;
    if (c->kind == DYNAMIC || c->kind == REALS) return c->measured[part];   /* measured with the GIL */
    const unsigned char *s = (const unsigned char *)c->data.buf;
    for (Py_ssize_t i = first; i < last; i++) {
        size_t size;
        int64_t v;
        if (c->kind != TEXTS && is_null(c, i)) { size = 4; }
        else switch (c->kind) {
        case INTS:
            v = read_int(c->values.buf, c->width, c->offset + i);
            size = v < 0 ? 1 + (size_t)digit_count((uint64_t)0 - (uint64_t)v) : (size_t)digit_count((uint64_t)v);
            break;
        case BOOLS: size = bit(&c->values, c->offset + i) ? 4 : 5; break;
        case DATETIMES:
            v = read_int(c->values.buf, 8, c->offset + i);
            if (v < MIN_MICROS || v > MAX_MICROS) { *ok = 0; return 0; }
            size = 30;
            break;
        case TIMESPANS: size = span_size(wire_span(read_int(c->values.buf, 8, c->offset + i))); break;
        case NS_DATETIMES: size = 30; break;   /* any int64: years 1677-2262 */
        case NS_TIMESPANS: size = span_size(payload_span(read_int(c->values.buf, 8, c->offset + i))); break;
        case INTERVALS:
            if (!interval_ticks(c, i, &v)) { *ok = 0; return 0; }
            size = span_size(wire_span(v));
            break;
        default:   /* TEXTS, STRINGS */
            if (!text_range(c, i, &start, &stop)) { *ok = 0; return 0; }
            size = (size_t)(stop - start);
            if (c->kind == STRINGS) {
                size_t extra = escapes_extra(s + start, stop - start);
                c->escapes |= extra != 0;
                size += 2 + extra;
            }
        }
        if (!add_size(&total, size)) { *ok = 0; return 0; }
    }
    return total;
}

static char *write_value(char *out, column_t *c, Py_ssize_t i) {
    Py_ssize_t start = 0, stop = 0;
    if (c->kind != TEXTS && is_null(c, i)) { memcpy(out, "null", 4); return out + 4; }
    switch (c->kind) {
    case TEXTS:
        text_range(c, i, &start, &stop);   /* checked by column_size */
        memcpy(out, (const char *)c->data.buf + start, (size_t)(stop - start));
        return out + (stop - start);
    case STRINGS:
        text_range(c, i, &start, &stop);
        if (c->escapes) return write_string(out, (const unsigned char *)c->data.buf + start, stop - start);
        *out++ = '"';
        memcpy(out, (const char *)c->data.buf + start, (size_t)(stop - start));
        out += stop - start;
        *out++ = '"';
        return out;
    case INTS: return write_int(out, read_int(c->values.buf, c->width, c->offset + i));
    case BOOLS:
        if (bit(&c->values, c->offset + i)) { memcpy(out, "true", 4); return out + 4; }
        memcpy(out, "false", 5);
        return out + 5;
    case DATETIMES: return write_datetime(out, c, read_int(c->values.buf, 8, c->offset + i));
    case REALS: return write_real(out, c, i);
    case DYNAMIC:
        text_range(c, i, &start, &stop);
        return write_minified(out, (const unsigned char *)c->data.buf + start, stop - start);
    case NS_DATETIMES: return write_ns_datetime(out, c, read_int(c->values.buf, 8, c->offset + i));
    case NS_TIMESPANS: return write_span(out, payload_span(read_int(c->values.buf, 8, c->offset + i)));
    case INTERVALS: {
        int64_t ticks = 0;
        interval_ticks(c, i, &ticks);   /* checked by column_size */
        return write_span(out, wire_span(ticks));
    }
    default: return write_span(out, wire_span(read_int(c->values.buf, 8, c->offset + i)));
    }
}

/* memcpy, without its call for the one-byte literals between most values. */
static inline char *put(char *out, const void *text, size_t size) {
    if (size == 1) *out = *(const char *)text;
    else memcpy(out, text, size);
    return out + size;
}

/* The bytes the string s[0..n) takes escaped and quoted (what write_string writes). */
static size_t escaped_size(const unsigned char *s, Py_ssize_t n) {
    return 2 + (size_t)n + escapes_extra(s, n);
}

/* The bytes of a checked JSON text without its whitespace (what write_minified writes). */
static size_t minified_size(const unsigned char *s, Py_ssize_t n) {
    size_t size = 0;
    int in_string = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char b = s[i];
        if (in_string) {
            size++;
            if (b == '\\') { size++; i++; }
            else if (b == '"') in_string = 0;
        } else if (!is_space(b)) {
            size++;
            in_string = b == '"';
        }
    }
    return size;
}

/* write_value, or NULL when the value would pass `end`: the buffer is allocated at the size the
   sizing pass measured, and every write is checked against it, so a mismeasured value declines
   the join instead of writing past the buffer. Far from the end one comparison a value. */
static char *write_checked(char *out, char *end, column_t *c, Py_ssize_t i) {
    size_t room = (size_t)(end - out), size;
    Py_ssize_t start, stop;
    if (c->kind == TEXTS || ((c->kind == STRINGS || c->kind == DYNAMIC) && !is_null(c, i))) {
        text_range(c, i, &start, &stop);   /* checked by column_size or check_dynamic */
        const unsigned char *s = (const unsigned char *)c->data.buf + start;
        Py_ssize_t n = stop - start;
        size = c->kind == TEXTS ? (size_t)n
             : c->kind == STRINGS ? ((size_t)n * 6 + 2 <= room ? 0 : escaped_size(s, n))
             : ((size_t)n <= room ? 0 : minified_size(s, n));   /* 0: it fits whatever it is */
        return size > room ? NULL : write_value(out, c, i);
    }
    if (room >= WIDEST) return write_value(out, c, i);
    char value[WIDEST];   /* near the end: written aside, then copied if it fits */
    size = (size_t)(write_value(value, c, i) - value);
    if (size > room) return NULL;
    memcpy(out, value, size);
    return out + size;
}

/* put, or NULL when the text would pass `end`. */
static char *put_checked(char *out, char *end, const void *text, size_t size) {
    return size > (size_t)(end - out) ? NULL : put(out, text, size);
}

static void release_columns(column_t *columns, Py_ssize_t n) {
    for (Py_ssize_t k = 0; k < n; k++) {
        PyBuffer_Release(&columns[k].values);
        if (columns[k].has_data) PyBuffer_Release(&columns[k].data);
        if (columns[k].has_validity) PyBuffer_Release(&columns[k].validity);
        if (columns[k].reprs) {
            for (Py_ssize_t i = 0; i < columns[k].count; i++) PyMem_Free(columns[k].reprs[i]);
            PyMem_Free(columns[k].reprs);
        }
    }
}

/* Reads one column tuple into *c (its buffers held; reals and dynamic texts measured part by part,
   rows bounds[p] to bounds[p + 1]); -1 with an exception, 0 when its buffers do not hold `count`
   values (nothing held), 1 when read. */
static int read_column(PyObject *spec, Py_ssize_t count, const Py_ssize_t *bounds, int n_parts, column_t *c) {
    PyObject *values, *data, *validity;
    memset(c, 0, sizeof *c);
    c->day = INT64_MIN;
    if (!PyTuple_Check(spec)) { PyErr_SetString(PyExc_TypeError, "a column is a 7-tuple"); return -1; }
    if (!PyArg_ParseTuple(spec, "iinOOOn", &c->kind, &c->width, &c->offset, &values, &data, &validity,
                          &c->validity_offset))
        return -1;
    if (c->kind < TEXTS || c->kind > NS_TIMESPANS) { PyErr_SetString(PyExc_ValueError, "unknown column kind"); return -1; }
    int texts = c->kind == TEXTS || c->kind == STRINGS || c->kind == DYNAMIC;
    int width_ok = texts ? (c->width == 4 || c->width == 8)
                 : c->kind == INTS ? (c->width == 1 || c->width == 2 || c->width == 4 || c->width == 8)
                 : c->kind == BOOLS ? c->width == 1
                 : c->kind == REALS ? (c->width == 4 || c->width == 8)
                 : c->kind == INTERVALS ? c->width == 16 : c->width == 8;
    if (!width_ok) { PyErr_SetString(PyExc_ValueError, "unexpected width for the column kind"); return -1; }
    if (texts && data == Py_None) { PyErr_SetString(PyExc_ValueError, "a text column needs its data"); return -1; }
    if (PyObject_GetBuffer(values, &c->values, PyBUF_SIMPLE) < 0) return -1;
    if (texts) {
        if (PyObject_GetBuffer(data, &c->data, PyBUF_SIMPLE) < 0) { PyBuffer_Release(&c->values); return -1; }
        c->has_data = 1;
    }
    if (validity != Py_None && c->kind != TEXTS) {
        if (PyObject_GetBuffer(validity, &c->validity, PyBUF_SIMPLE) < 0) { release_columns(c, 1); return -1; }
        c->has_validity = 1;
    }
    int held;
    if (c->kind == BOOLS)
        held = c->offset >= 0 && c->offset <= PY_SSIZE_T_MAX - count - 7
               && (c->offset + count + 7) / 8 <= c->values.len;
    else
        held = fits(c->offset, count + (texts ? 1 : 0), c->width, c->values.len);
    if (c->has_validity)
        held = held && c->validity_offset >= 0 && c->validity_offset <= PY_SSIZE_T_MAX - count - 7
               && (c->validity_offset + count + 7) / 8 <= c->validity.len;
    if (!held) { release_columns(c, 1); return 0; }
    if (c->kind == REALS && prepare_reals(c, count, bounds, n_parts) < 0) { release_columns(c, 1); return -1; }
    if (c->kind == DYNAMIC && !check_dynamic(c, bounds, n_parts)) { release_columns(c, 1); return 0; }
    return 1;
}

/* One part of the rows: sized, then written, on its own thread (no Python object touched). */
typedef struct {
    column_t *columns;          /* this part's copies of the columns: its own day cache, escape flag */
    Py_ssize_t n_columns, first, last;   /* rows first to last - 1 */
    int index;
    const literal_t *literals;
    const Py_buffer *separator;
    size_t row;                 /* the literals' bytes in a row */
    size_t size;                /* sizing: the part's bytes (a separator before each row but the reply's first) */
    int ok;                     /* sizing: 0 when a value cannot be written */
    char *out, *end;            /* writing: the part's range; out is then where it ended (NULL: mismeasured) */
} part_t;

static void size_part(part_t *p) {
    size_t rows = (size_t)(p->last - p->first), separators = rows - (rows && !p->first), total = 0;
    int ok = rows <= (size_t)PY_SSIZE_T_MAX / (p->row + (size_t)p->separator->len + 1)
             && add_size(&total, rows * p->row + separators * (size_t)p->separator->len);
    for (Py_ssize_t k = 0; ok && k < p->n_columns; k++) {
        size_t size = column_size(&p->columns[k], p->first, p->last, p->index, &ok);
        ok = ok && add_size(&total, size);
    }
    p->size = total;
    p->ok = ok;
}

static void write_part(part_t *p) {
    char *out = p->out, *end = p->end;
    const literal_t *literals = p->literals;
    for (Py_ssize_t i = p->first; out && i < p->last; i++) {
        if (i) out = put_checked(out, end, p->separator->buf, (size_t)p->separator->len);
        for (Py_ssize_t k = 0; out && k < p->n_columns; k++) {
            out = put_checked(out, end, literals[k].text, (size_t)literals[k].size);
            out = out ? write_checked(out, end, &p->columns[k], i) : NULL;
        }
        out = out ? put_checked(out, end, literals[p->n_columns].text, (size_t)literals[p->n_columns].size) : NULL;
    }
    p->out = out;
}

typedef void (*task_t)(part_t *);

#ifdef HAVE_THREADS
typedef struct { task_t task; part_t *part; } job_t;

static void *run_job(void *arg) {
    job_t *job = arg;
    job->task(job->part);
    return NULL;
}
#endif

/* The task on every part: part 0 on this thread, the others each on a thread of its own (here,
   one after another, where a thread cannot start). Called with the GIL released. */
static void run_parts(task_t task, part_t *parts, int n_parts) {
#ifdef HAVE_THREADS
    pthread_t threads[MAX_PARTS];
    job_t jobs[MAX_PARTS];
    int started[MAX_PARTS] = {0};
    for (int p = 1; p < n_parts; p++) {
        jobs[p].task = task;
        jobs[p].part = &parts[p];
        started[p] = pthread_create(&threads[p], NULL, run_job, &jobs[p]) == 0;
    }
    task(&parts[0]);
    for (int p = 1; p < n_parts; p++) {
        if (started[p]) pthread_join(threads[p], NULL);
        else task(&parts[p]);
    }
#else
    for (int p = 0; p < n_parts; p++) task(&parts[p]);
#endif
}

/* How many parts `count` rows are cut into: `asked` when it is given (at most MAX_PARTS, and no
   more than the rows), else one a CPU for every MIN_PART_ROWS rows. */
static int parts_for(Py_ssize_t count, Py_ssize_t asked) {
    Py_ssize_t n = asked;
    if (n <= 0) {
        n = 1;
#ifdef HAVE_THREADS
        if (count / MIN_PART_ROWS > 1) {   /* asks the system only for a reply worth cutting */
            long cpus = sysconf(_SC_NPROCESSORS_ONLN);
            n = cpus > 1 ? (Py_ssize_t)cpus : 1;
            if (n > count / MIN_PART_ROWS) n = count / MIN_PART_ROWS;
        }
#endif
    }
    if (n > MAX_PARTS) n = MAX_PARTS;
    if (n > count) n = count;
    return n < 1 ? 1 : (int)n;
}

static PyObject *join(PyObject *self, PyObject *args) {
    (void)self;
    Py_ssize_t count, n_columns, held = 0, asked_parts = 0;
    PyObject *literal_list, *column_list, *result = NULL, *literal_tuple = NULL, *column_tuple = NULL;
    Py_buffer separator, head, tail;
    literal_t *literals = NULL;
    column_t *columns = NULL, *copies = NULL;
    if (!PyArg_ParseTuple(args, "nOOy*y*y*|n", &count, &literal_list, &column_list, &separator, &head, &tail,
                          &asked_parts))
        return NULL;
    if (count < 0 || !PyList_Check(literal_list) || !PyList_Check(column_list)
        || PyList_GET_SIZE(literal_list) != PyList_GET_SIZE(column_list) + 1) {
        PyErr_SetString(PyExc_ValueError, "join(count, literals, columns, ...): one more literal than columns");
        goto done;
    }
    /* tuples of them: their items stay referenced and in place, whatever runs while they are read */
    literal_tuple = PyList_AsTuple(literal_list);
    column_tuple = PyList_AsTuple(column_list);
    if (!literal_tuple || !column_tuple) goto done;
    n_columns = PyTuple_GET_SIZE(column_tuple);
    if (PyTuple_GET_SIZE(literal_tuple) != n_columns + 1) {
        PyErr_SetString(PyExc_ValueError, "join(count, literals, columns, ...): one more literal than columns");
        goto done;
    }
    if (count > PY_SSIZE_T_MAX / 2) goto not_handled;   /* no reply is that long; count + 1 cannot overflow */
    int n_parts = parts_for(count, asked_parts);
    Py_ssize_t bounds[MAX_PARTS + 1];
    for (int p = 0; p < n_parts; p++) bounds[p] = count / n_parts * p;
    bounds[n_parts] = count;
    literals = PyMem_Malloc(sizeof(literal_t) * (size_t)(n_columns + 1));
    columns = PyMem_Malloc(sizeof(column_t) * (size_t)(n_columns ? n_columns : 1));
    copies = PyMem_Malloc(sizeof(column_t) * (size_t)(n_columns ? n_columns : 1) * (size_t)n_parts);
    if (!literals || !columns || !copies) { PyErr_NoMemory(); goto done; }
    size_t row = 0;
    for (Py_ssize_t k = 0; k <= n_columns; k++) {   /* bytes: held by the tuple for the call */
        PyObject *text = PyTuple_GET_ITEM(literal_tuple, k);
        if (!PyBytes_Check(text)) { PyErr_SetString(PyExc_TypeError, "literals are bytes"); goto done; }
        literals[k].text = PyBytes_AS_STRING(text);
        literals[k].size = PyBytes_GET_SIZE(text);
        if (!add_size(&row, (size_t)literals[k].size)) goto not_handled;
    }
    for (; held < n_columns; held++) {
        int read = read_column(PyTuple_GET_ITEM(column_tuple, held), count, bounds, n_parts, &columns[held]);
        if (read < 0) goto done;
        if (read == 0) goto not_handled;
    }
    part_t parts[MAX_PARTS];
    for (int p = 0; p < n_parts; p++) {   /* copies share the buffers: only `columns` releases them */
        memcpy(copies + p * n_columns, columns, sizeof(column_t) * (size_t)n_columns);
        parts[p] = (part_t){.columns = copies + p * n_columns, .n_columns = n_columns, .first = bounds[p],
                            .last = bounds[p + 1], .index = p, .literals = literals, .separator = &separator,
                            .row = row};
    }
    size_t total = 0;
    int ok = add_size(&total, (size_t)head.len) && add_size(&total, (size_t)tail.len);
    Py_BEGIN_ALLOW_THREADS
    run_parts(size_part, parts, n_parts);
    Py_END_ALLOW_THREADS
    for (int p = 0; ok && p < n_parts; p++) ok = parts[p].ok && add_size(&total, parts[p].size);
    if (!ok) goto not_handled;
    result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)total);
    if (!result) goto done;
    char *out = PyBytes_AS_STRING(result), *end = out + total;
    out = put(out, head.buf, (size_t)head.len);   /* measured: head, parts and tail are the total */
    for (int p = 0; p < n_parts; p++) {
        parts[p].out = out;
        out = parts[p].end = out + parts[p].size;
    }
    Py_BEGIN_ALLOW_THREADS
    run_parts(write_part, parts, n_parts);
    Py_END_ALLOW_THREADS
    for (int p = 0; p < n_parts; p++) ok = ok && parts[p].out == parts[p].end;
    out = ok ? put_checked(out, end, tail.buf, (size_t)tail.len) : NULL;
    if (out != end) {   /* mismeasured (never, by the tests): decline rather than answer wrong */
        Py_CLEAR(result);
        goto not_handled;
    }
    goto done;
not_handled:
    result = Py_NewRef(Py_None);
done:
    if (columns) release_columns(columns, held);
    Py_XDECREF(literal_tuple);
    Py_XDECREF(column_tuple);
    PyMem_Free(copies);
    PyMem_Free(columns);
    PyMem_Free(literals);
    Py_buffer *texts[] = {&separator, &head, &tail};   /* held since the arguments were parsed */
    for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) PyBuffer_Release(texts[k]);
    return result;
}

static PyMethodDef methods[] = {
    {"join", join, METH_VARARGS,
     "join(count, literals, columns, separator, head, tail[, parts]) -> the rows' bytes, or None when not handled."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT, .m_name = "rows", .m_size = -1, .m_methods = methods,
};

PyMODINIT_FUNC PyInit_rows(void) {
    init_escapes();
    return PyModule_Create(&module);
}
