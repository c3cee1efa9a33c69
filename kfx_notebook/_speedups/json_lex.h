/* JSON's lexical rules (RFC 8259) exactly as msgspec applies them, for every speedup that reads
 * JSON (v2_rows.c, json_records.c): one place for the rule.
 *
 * The bytes are untrusted. Every function reads only [p, end) and never at or past `end`; each
 * returns NULL when the input is not JSON or is truncated, and the caller then takes its Python
 * path, which words the error. What is refused, as msgspec refuses it: control characters
 * (< 0x20) in strings, escapes other than JSON's eight and \uXXXX, a lone or misordered UTF-16
 * surrogate, raw bytes that are not strict UTF-8 (no overlong forms, no encoded surrogates,
 * nothing above U+10FFFF), numbers outside JSON's grammar (01, 1., .5, -, 1e), trailing commas,
 * non-string keys, whitespace other than space, tab, CR and LF.
 *
 * API (all static inline; no allocation, no Python object):
 *   jl_skip_ws(p, end)                     first byte at or after p that is not JSON whitespace.
 *   jl_string_end(p, end, &flags)          p just after an opening quote: validates the string
 *                                          and returns its closing quote (flags: JL_ESCAPED,
 *                                          JL_NON_ASCII).
 *   jl_unescape(p, close, out)             a validated string's content as UTF-8 into out
 *                                          (writes at most close - p bytes); returns the length.
 *   jl_number_end(p, end, &is_integer)     a number token's end; is_integer: no fraction, no
 *                                          exponent. The caller checks what follows it.
 *   jl_value_end(p, end, max_depth, &kind) p at a value's first byte: validates the whole value
 *                                          (containers nested at most max_depth deep) and returns
 *                                          the pointer just after it; kind is a jl_kind.
 *   jl_copy_minified(p, value_end, out)    a validated value without its insignificant
 *                                          whitespace (strings verbatim); at most
 *                                          value_end - p bytes; returns the length.
 */
#ifndef KFX_JSON_LEX_H
#define KFX_JSON_LEX_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum jl_kind { JL_NULL, JL_FALSE, JL_TRUE, JL_INTEGER, JL_NUMBER, JL_STRING, JL_CONTAINER };

#define JL_ESCAPED 1   /* the string has a backslash escape: its content needs jl_unescape */
#define JL_NON_ASCII 2 /* the string has raw bytes >= 0x80 (valid UTF-8) */

/* Deeper nesting than this is refused whatever max_depth asks (the skip keeps one byte per
 * level on the C stack). */
#define JL_MAX_DEPTH 1024

static inline int jl_is_ws(unsigned char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

static inline const char *jl_skip_ws(const char *p, const char *end) {
    while (p < end && jl_is_ws((unsigned char)*p)) p++;
    return p;
}

/* The value of four hex digits at p (the caller checked four bytes are there), or -1. */
static inline int32_t jl_hex4(const unsigned char *p) {
    int32_t value = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        int32_t digit;
        if (c >= '0' && c <= '9') digit = c - '0';
        else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
        else return -1;
        value = value * 16 + digit;
    }
    return value;
}

/* The length of the strict UTF-8 sequence at p (lead byte >= 0x80), or 0 when it is not one
 * (Unicode's table 3-7: no overlong form, no surrogate, nothing above U+10FFFF). */
static inline int jl_utf8_length(const unsigned char *p, const unsigned char *end) {
    unsigned char c = p[0];
    unsigned char low = 0x80, high = 0xBF;
    int length;
    if (c >= 0xC2 && c <= 0xDF) length = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        length = 3;
        if (c == 0xE0) low = 0xA0;
        else if (c == 0xED) high = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        length = 4;
        if (c == 0xF0) low = 0x90;
        else if (c == 0xF4) high = 0x8F;
    } else return 0;
    if (end - p < length) return 0;
    if (p[1] < low || p[1] > high) return 0;
    for (int i = 2; i < length; i++)
        if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    return length;
}

/* Nonzero when one of the eight bytes of w is < 0x20, '"', '\\' or >= 0x80 (exact as a yes/no;
 * the byte loop then decides). */
static inline int jl_word_is_special(uint64_t w) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');
    uint64_t below_space = (w - ones * 0x20) & ~w;
    uint64_t zero_quote = (quote - ones) & ~quote, zero_backslash = (backslash - ones) & ~backslash;
    return ((w | below_space | zero_quote | zero_backslash) & highs) != 0;
}

static inline const char *jl_string_end(const char *start, const char *end, int *flags) {
    const unsigned char *p = (const unsigned char *)start, *e = (const unsigned char *)end;
    int found = 0;
    for (;;) {
        while (e - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            if (jl_word_is_special(w)) break;
            p += 8;
        }
        if (p >= e) return NULL;
        unsigned char c = *p;
        if (c == '"') {
            if (flags) *flags = found;
            return (const char *)p;
        }
        if (c < 0x20) return NULL;
        if (c < 0x80 && c != '\\') {
            p++;
            continue;
        }
        if (c >= 0x80) {
            int length = jl_utf8_length(p, e);
            if (!length) return NULL;
            p += length;
            found |= JL_NON_ASCII;
            continue;
        }
        /* an escape */
        found |= JL_ESCAPED;
        if (e - p < 2) return NULL;
        switch (p[1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            p += 2;
            continue;
        case 'u':
            break;
        default:
            return NULL;
        }
        if (e - p < 6) return NULL;
        int32_t unit = jl_hex4(p + 2);
        if (unit < 0 || (unit >= 0xDC00 && unit <= 0xDFFF)) return NULL;
        if (unit < 0xD800 || unit > 0xDBFF) {
            p += 6;
            continue;
        }
        /* a high surrogate: a low one must follow at once */
        if (e - p < 12 || p[6] != '\\' || p[7] != 'u') return NULL;
        int32_t low = jl_hex4(p + 8);
        if (low < 0xDC00 || low > 0xDFFF) return NULL;
        p += 12;
    }
}

static inline size_t jl_unescape(const char *start, const char *close, char *out) {
    const unsigned char *p = (const unsigned char *)start, *e = (const unsigned char *)close;
    unsigned char *o = (unsigned char *)out;
    while (p < e) {
        const unsigned char *slash = memchr(p, '\\', (size_t)(e - p));
        size_t run = (size_t)((slash ? slash : e) - p);
        memcpy(o, p, run);
        o += run;
        p += run;
        if (!slash) break;
        unsigned char c = p[1];
        p += 2;
        switch (c) {
        case 'b': *o++ = '\b'; continue;
        case 'f': *o++ = '\f'; continue;
        case 'n': *o++ = '\n'; continue;
        case 'r': *o++ = '\r'; continue;
        case 't': *o++ = '\t'; continue;
        case 'u': break;
        default: *o++ = c; continue; /* '"', '\\', '/' */
        }
        uint32_t code = (uint32_t)jl_hex4(p);
        p += 4;
        if (code >= 0xD800 && code <= 0xDBFF) { /* validated: "\uDC00".."\uDFFF" follows */
            code = 0x10000 + ((code - 0xD800) << 10) + ((uint32_t)jl_hex4(p + 2) - 0xDC00);
            p += 6;
        }
        if (code < 0x80) *o++ = (unsigned char)code;
        else if (code < 0x800) {
            *o++ = (unsigned char)(0xC0 | (code >> 6));
            *o++ = (unsigned char)(0x80 | (code & 0x3F));
        } else if (code < 0x10000) {
            *o++ = (unsigned char)(0xE0 | (code >> 12));
            *o++ = (unsigned char)(0x80 | ((code >> 6) & 0x3F));
            *o++ = (unsigned char)(0x80 | (code & 0x3F));
        } else {
            *o++ = (unsigned char)(0xF0 | (code >> 18));
            *o++ = (unsigned char)(0x80 | ((code >> 12) & 0x3F));
            *o++ = (unsigned char)(0x80 | ((code >> 6) & 0x3F));
            *o++ = (unsigned char)(0x80 | (code & 0x3F));
        }
    }
    return (size_t)(o - (unsigned char *)out);
}

static inline int jl_is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static inline const char *jl_number_end(const char *start, const char *end, int *is_integer) {
    const unsigned char *p = (const unsigned char *)start, *e = (const unsigned char *)end;
    int integer = 1;
    if (p < e && *p == '-') p++;
    if (p >= e || !jl_is_digit(*p)) return NULL;
    if (*p == '0') p++;
    else
        while (p < e && jl_is_digit(*p)) p++;
    if (p < e && *p == '.') {
        integer = 0;
        p++;
        if (p >= e || !jl_is_digit(*p)) return NULL;
        while (p < e && jl_is_digit(*p)) p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        integer = 0;
        p++;
        if (p < e && (*p == '+' || *p == '-')) p++;
        if (p >= e || !jl_is_digit(*p)) return NULL;
        while (p < e && jl_is_digit(*p)) p++;
    }
    if (is_integer) *is_integer = integer;
    return (const char *)p;
}

/* The end of the literal `word` (length n) at p, or NULL. */
static inline const char *jl_literal_end(const char *p, const char *end, const char *word, size_t n) {
    if ((size_t)(end - p) < n || memcmp(p, word, n) != 0) return NULL;
    return p + n;
}

static inline const char *jl_value_end(const char *p, const char *end, int max_depth, int *kind) {
    char open[JL_MAX_DEPTH]; /* '[' or '{' per level */
    int depth = 0, scalar_kind = JL_NULL;
    if (max_depth > JL_MAX_DEPTH) max_depth = JL_MAX_DEPTH;
value: /* p at a value's first byte */
    if (p >= end) return NULL;
    switch (*p) {
    case '"': {
        const char *close = jl_string_end(p + 1, end, NULL);
        if (!close) return NULL;
        p = close + 1;
        scalar_kind = JL_STRING;
        goto after;
    }
    case '[': case '{':
        if (depth >= max_depth) return NULL;
        scalar_kind = JL_CONTAINER;
        open[depth++] = *p;
        p = jl_skip_ws(p + 1, end);
        if (p < end && *p == (open[depth - 1] == '[' ? ']' : '}')) {
            depth--;
            p++;
            goto after;
        }
        if (open[depth - 1] == '{') goto key;
        goto value;
    case 'n':
        p = jl_literal_end(p, end, "null", 4);
        scalar_kind = JL_NULL;
        break;
    case 't':
        p = jl_literal_end(p, end, "true", 4);
        scalar_kind = JL_TRUE;
        break;
    case 'f':
        p = jl_literal_end(p, end, "false", 5);
        scalar_kind = JL_FALSE;
        break;
    default: {
        int integer;
        p = jl_number_end(p, end, &integer);
        scalar_kind = integer ? JL_INTEGER : JL_NUMBER;
    }
    }
    if (!p) return NULL;
after: /* a value ended just before p */
    if (depth == 0) {
        if (kind) *kind = scalar_kind;
        return p;
    }
    scalar_kind = JL_CONTAINER; /* the outermost value is a container from here on */
    p = jl_skip_ws(p, end);
    if (p >= end) return NULL;
    if (*p == ',') {
        p = jl_skip_ws(p + 1, end);
        if (open[depth - 1] == '{') goto key;
        goto value;
    }
    if (*p != (open[depth - 1] == '[' ? ']' : '}')) return NULL;
    depth--;
    p++;
    goto after;
key: /* p at an object key's opening quote */
    if (p >= end || *p != '"') return NULL;
    p = jl_string_end(p + 1, end, NULL);
    if (!p) return NULL;
    p = jl_skip_ws(p + 1, end);
    if (p >= end || *p != ':') return NULL;
    p = jl_skip_ws(p + 1, end);
    goto value;
}

static inline size_t jl_copy_minified(const char *p, const char *value_end, char *out) {
    char *o = out;
    while (p < value_end) {
        char c = *p;
        if (jl_is_ws((unsigned char)c)) {
            p++;
            continue;
        }
        *o++ = c;
        p++;
        if (c != '"') continue;
        /* a validated string: copy it verbatim through its closing quote */
        while (p < value_end) {
            char s = *p++;
            *o++ = s;
            if (s == '"') break;
            if (s == '\\' && p < value_end) *o++ = *p++;
        }
    }
    return (size_t)(o - out);
}

#endif
