// The JSON decoders' key table and the Zeek JSON fast path (see byte_scan.h for the contracts).
//
// The fast path mirrors ZeekJSONDecoder.parseObject at depth 0 step for step (same verdict for every line it
// takes, same values, same count of stored values, same early stop); whatever it does not take (a nested
// object, an array or an escaped string that must be decoded) it hands back with -1 and the Swift parser
// decodes the whole line. The tests compare both on random, mutated and corpus lines.

#include "byte_scan.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define FH_SSE2 1
#else
#define FH_SSE2 0
#endif

static inline uint64_t fh_load64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

// The first min(len, 8) bytes of p, zero padded; `avail` = bytes readable from p (>= len).
static inline uint64_t fh_key_head(const uint8_t *p, int64_t len, int64_t avail) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (len >= 8) return fh_load64(p);
    if (avail >= 8) return fh_load64(p) & ((1ull << (8 * len)) - 1);
#else
    (void)avail;
    if (len >= 8) return fh_load64(p);
#endif
    uint64_t v = 0;
    memcpy(&v, p, (size_t)len);
    return v;
}

static inline uint64_t fh_key_tail(const uint8_t *p, int64_t len) { return len > 8 ? fh_load64(p + len - 8) : 0; }

static inline uint64_t fh_key_hash(uint64_t head, uint64_t tail, int64_t len, int32_t shift) {
    uint64_t h = head * 0x9E3779B97F4A7C15ull ^ tail * 0xC2B2AE3D27D4EB4Full ^ (uint64_t)len * 0x165667B19E3779F9ull;
    h ^= h >> 29;
    return (h * 0xBF58476D1CE4E5B9ull) >> shift;
}

// The entry index of the key p[0..len), or -1; `avail` = bytes readable from p (>= len).
static inline int32_t fh_find(const flowhound_json_table *t, const uint8_t *p, int64_t len, int64_t avail) {
    if (len <= 0) return -1;
    uint64_t head = fh_key_head(p, len, avail), tail = fh_key_tail(p, len);
    uint64_t at = fh_key_hash(head, tail, len, t->shift);
    for (;;) {
        const flowhound_json_key *e = &t->entries[at];
        if (e->len == 0) return -1;
        if (e->len == len && e->head == head && e->tail == tail &&
            (len <= 16 || memcmp(e->bytes + 8, p + 8, (size_t)(len - 16)) == 0))
            return (int32_t)at;
        at = (at + 1) & t->mask;
    }
}

static int fh_table_alloc(flowhound_json_table *t, int64_t capacity) {
    int32_t bits = 4;
    while ((1ll << bits) < capacity) bits++;
    t->entries = calloc((size_t)1 << bits, sizeof(flowhound_json_key));
    if (!t->entries) return -1;
    t->capacity = 1ll << bits;
    t->mask = (uint64_t)t->capacity - 1;
    t->shift = 64 - bits;
    t->first = -1;
    t->first2 = -1;
    t->count = 0;
    t->applied_wanted = NULL;
    t->applied_generation = -1;
    return 0;
}

flowhound_json_table *flowhound_json_table_new(int64_t keys) {
    flowhound_json_table *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    if (fh_table_alloc(t, keys * 4 > 16 ? keys * 4 : 16) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

void flowhound_json_table_free(flowhound_json_table *t) {
    if (!t) return;
    for (int64_t k = 0; k < t->capacity; k++) free((void *)t->entries[k].bytes);
    free(t->entries);
    free(t);
}

static void fh_place(flowhound_json_table *t, flowhound_json_key e) {
    uint64_t at = fh_key_hash(e.head, e.tail, e.len, t->shift);
    while (t->entries[at].len != 0) at = (at + 1) & t->mask;
    t->entries[at] = e;
    t->count++;
}

int32_t flowhound_json_table_insert(flowhound_json_table *t, const uint8_t *key, int64_t len, int32_t slot) {
    if (len <= 0 || len > 0x7FFFFFFF) return -1;
    if (fh_find(t, key, len, len) >= 0) return 0;
    if ((t->count + 1) * 4 > t->capacity) {
        flowhound_json_table old = *t;
        if (fh_table_alloc(t, old.capacity * 2) != 0) {
            *t = old;
            return -1;
        }
        for (int64_t k = 0; k < old.capacity; k++)
            if (old.entries[k].len != 0) fh_place(t, old.entries[k]);
        free(old.entries);
        // entry indices moved: forget the predictions
        for (int64_t k = 0; k < t->capacity; k++) t->entries[k].next = t->entries[k].next2 = -1;
        t->first = t->first2 = -1;
        t->applied_generation = -1;
    }
    uint8_t *copy = malloc((size_t)len);
    if (!copy) return -1;
    memcpy(copy, key, (size_t)len);
    flowhound_json_key e;
    memset(&e, 0, sizeof e);
    e.head = fh_key_head(key, len, len);
    e.tail = fh_key_tail(key, len);
    e.len = (int32_t)len;
    e.slot = slot;
    e.use = slot;
    e.bytes = copy;
    e.next = -1;
    e.next2 = -1;
    // A key holding a quote or a backslash is never predicted: in a line those bytes end or escape the key.
    if (len + 3 <= 32 && !memchr(key, '"', (size_t)len) && !memchr(key, '\\', (size_t)len)) {
        e.pattern_len = (int32_t)len + 3;
        e.pattern_mask = len + 3 == 32 ? 0xFFFFFFFFu : (1u << (len + 3)) - 1;
        e.pattern[0] = '"';
        memcpy(e.pattern + 1, key, (size_t)len);
        e.pattern[len + 1] = '"';
        e.pattern[len + 2] = ':';
    }
    fh_place(t, e);
    t->applied_generation = -1;
    return 1;
}

int32_t flowhound_json_table_lookup(const flowhound_json_table *t, const uint8_t *p, int64_t n) {
    int32_t e = fh_find(t, p, n, n);
    return e < 0 ? -1 : t->entries[e].slot;
}

// --- scanning ---------------------------------------------------------------------------------------------

enum { FH_WS = 1, FH_DELIM = 2, FH_NUM = 4 };
// Byte classes: JSON white space; a scalar's delimiter (`,` `}` `]` or white space); + - . 0-9 E e.
static const uint8_t fh_class[256] = {
    [' '] = FH_WS | FH_DELIM, ['\t'] = FH_WS | FH_DELIM, ['\n'] = FH_WS | FH_DELIM, ['\r'] = FH_WS | FH_DELIM,
    [','] = FH_DELIM, ['}'] = FH_DELIM, [']'] = FH_DELIM,
    ['+'] = FH_NUM, ['-'] = FH_NUM, ['.'] = FH_NUM, ['e'] = FH_NUM, ['E'] = FH_NUM,
    ['0'] = FH_NUM, ['1'] = FH_NUM, ['2'] = FH_NUM, ['3'] = FH_NUM, ['4'] = FH_NUM,
    ['5'] = FH_NUM, ['6'] = FH_NUM, ['7'] = FH_NUM, ['8'] = FH_NUM, ['9'] = FH_NUM,
};
static inline int fh_ws(uint8_t c) { return fh_class[c] & FH_WS; }
static inline int fh_delim(uint8_t c) { return fh_class[c] & FH_DELIM; }

// Index of the quote closing a string whose first content byte is p[k], or n when it never closes; sets
// *escaped when a backslash occurs (the byte after a backslash is skipped). As ZeekJSONDecoder.stringEnd.
static inline int64_t fh_string_end(const uint8_t *p, int64_t k, int64_t n, int *escaped) {
#if FH_SSE2
    const __m128i vq = _mm_set1_epi8('"'), vb = _mm_set1_epi8('\\');
    while (k + 16 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + k));
        uint32_t m = (uint32_t)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, vq), _mm_cmpeq_epi8(v, vb)));
        if (m == 0) {
            k += 16;
            continue;
        }
        k += __builtin_ctz(m);
        if (p[k] == '"') return k;
        *escaped = 1;
        k += 2;
    }
#endif
    while (k < n) {
        uint8_t d = p[k];
        if (d == '"') return k;
        if (d == '\\') {
            *escaped = 1;
            k += 2;
        } else {
            k += 1;
        }
    }
    return n;
}

// First index >= k whose byte is not one of + - . 0-9 E e (or n). Sixteen bytes per step skip digits and dots;
// the rarer e E + - are stepped over one at a time.
static inline int64_t fh_number_end(const uint8_t *p, int64_t k, int64_t n) {
#if FH_SSE2
    const __m128i c0 = _mm_set1_epi8('0'), c9 = _mm_set1_epi8(9), dot = _mm_set1_epi8('.');
    const __m128i zero = _mm_setzero_si128();
    while (k + 16 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + k));
        __m128i digit = _mm_cmpeq_epi8(_mm_subs_epu8(_mm_sub_epi8(v, c0), c9), zero);
        uint32_t m = ~(uint32_t)_mm_movemask_epi8(_mm_or_si128(digit, _mm_cmpeq_epi8(v, dot))) & 0xFFFFu;
        if (m == 0) {
            k += 16;
            continue;
        }
        k += __builtin_ctz(m);
        if (!(fh_class[p[k]] & FH_NUM)) return k;
        k++;
    }
#endif
    while (k < n && (fh_class[p[k]] & FH_NUM)) k++;
    return k;
}

// As ZeekJSONDecoder.skipBalanced: skips the object or array starting at p[*io]; 0 if it never closes.
static int fh_skip_balanced(const uint8_t *p, int64_t n, int64_t *io) {
    int64_t i = *io, depth = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c == '"') {
            i++;
            while (i < n && p[i] != '"') i += p[i] == '\\' ? 2 : 1;
            if (i >= n) return 0;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
            if (depth == 0) {
                *io = i + 1;
                return 1;
            }
        }
        i++;
    }
    *io = i;
    return 0;
}

// -1 = invalid token, 0 = null, 1 = true/false/number (as ZeekJSONDecoder.scalarKind).
static int fh_scalar_kind(const uint8_t *p, int64_t n) {
    if (n == 0) return -1;
    uint8_t c = p[0];
    if (c == 'n') return n == 4 && p[1] == 'u' && p[2] == 'l' && p[3] == 'l' ? 0 : -1;
    if (c == 't') return n == 4 && p[1] == 'r' && p[2] == 'u' && p[3] == 'e' ? 1 : -1;
    if (c == 'f') return n == 5 && p[1] == 'a' && p[2] == 'l' && p[3] == 's' && p[4] == 'e' ? 1 : -1;
    if (c != '-' && (uint8_t)(c - '0') > 9) return -1;
    for (int64_t k = 0; k < n; k++)
        if (!(fh_class[p[k]] & FH_NUM)) return -1;
    return 1;
}

static const uint8_t fh_path_key[6] = {'_', 'p', 'a', 't', 'h', '"'};

#if FH_SSE2
// As below, 32 positions per step; n >= 37.
__attribute__((target("avx2"))) static int32_t fh_may_contain_path_avx2(const uint8_t *p, int64_t n) {
    const __m256i hh = _mm256_set1_epi8('h'), q = _mm256_set1_epi8('"');
    for (int64_t k = 4;; k += 32) {
        if (k + 33 > n) k = n - 33;  // the last block overlaps the one before
        __m256i a = _mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)(p + k)), hh);
        __m256i b = _mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)(p + k + 1)), q);
        uint32_t m = (uint32_t)_mm256_movemask_epi8(_mm256_and_si256(a, b));
        while (m != 0) {
            int64_t j = k + __builtin_ctz(m);
            if (memcmp(p + j - 4, fh_path_key, 4) == 0) return 1;
            m &= m - 1;
        }
        if (k + 33 >= n) return 0;
    }
}

static int fh_avx2_state = 0;  // 0 = not checked, 1 = available, 2 = not
#endif

int32_t flowhound_json_may_contain_path(const uint8_t *p, int64_t n) {
    // candidates are the `h"` pairs (the key's last two bytes: rarer in Zeek lines than `_p`, which starts
    // `_pkts` and `_port`), 16 (or with AVX2 32) positions per step, then the four bytes before
    int64_t k = 4;
#if FH_SSE2
    if (n >= 37) {
        int st = __atomic_load_n(&fh_avx2_state, __ATOMIC_RELAXED);
        if (st == 0) {
            __builtin_cpu_init();
            st = __builtin_cpu_supports("avx2") ? 1 : 2;
            __atomic_store_n(&fh_avx2_state, st, __ATOMIC_RELAXED);
        }
        if (st == 1) return fh_may_contain_path_avx2(p, n);
    }
    if (n >= 21) {
        const __m128i hh = _mm_set1_epi8('h'), q = _mm_set1_epi8('"');
        for (;;) {
            if (k + 17 > n) k = n - 17;  // the last block overlaps the one before (a candidate seen twice is harmless)
            __m128i a = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + k)), hh);
            __m128i b = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + k + 1)), q);
            uint32_t m = (uint32_t)_mm_movemask_epi8(_mm_and_si128(a, b));
            while (m != 0) {
                int64_t j = k + __builtin_ctz(m);
                if (memcmp(p + j - 4, fh_path_key, 4) == 0) return 1;
                m &= m - 1;
            }
            if (k + 17 >= n) return 0;
            k += 16;
        }
    }
#endif
    for (; k + 2 <= n; k++)
        if (p[k] == 'h' && p[k + 1] == '"' && memcmp(p + k - 4, fh_path_key, 4) == 0) return 1;
    return 0;
}

// --- Zeek's time format ---------------------------------------------------------------------------------

// The value of eight ASCII digits in a little-endian word (first digit most significant); *ok cleared when a
// byte is not a digit. As Bytes.eightDigits.
static inline uint64_t fh_eight_digits(uint64_t w, int *ok) {
    const uint64_t ascii = 0x3030303030303030ull;
    if ((w & 0xF0F0F0F0F0F0F0F0ull) != ascii || ((w + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) != ascii) {
        *ok = 0;
        return 0;
    }
    uint64_t v = w - ascii;
    v = (v * 10 + (v >> 8)) & 0x00FF00FF00FF00FFull;
    v = (v * 100 + (v >> 16)) & 0x0000FFFF0000FFFFull;
    v = (v * 10000 + (v >> 32)) & 0xFFFFFFFFull;
    return v;
}

// Both halves of the sixteen digits: a = digits 0-7, b = digits 8, 9 and the six after the dot. The value is
// a * 10^11 + b * 1000 nanoseconds: (a * 100 + b / 10^6) seconds and (b % 10^6) microseconds.
static int32_t fh_zeek_time_scalar(const uint8_t *p, int64_t *nanos) {
    uint64_t hi = fh_load64(p);
    // bytes 9-16 = digit 9, '.', six fraction digits: shift digit 9 over the dot, digit 8 into the first byte
    uint64_t lo = fh_load64(p + 9);
    lo = (lo & ~0xFFFFull) | (uint64_t)p[8] | (uint64_t)p[9] << 8;
    int ok = 1;
    uint64_t a = fh_eight_digits(hi, &ok), b = fh_eight_digits(lo, &ok);
    if (!ok) return 0;
    *nanos = (int64_t)(a * 100000000000ull + b * 1000ull);
    return 1;
}

#if FH_SSE2
// The same with SSSE3/SSE4.1: the dot squeezed out by a shuffle, sixteen digits checked and combined at once.
__attribute__((target("ssse3,sse4.1"))) static int32_t fh_zeek_time_sse41(const uint8_t *p, int64_t *nanos) {
    __m128i head = _mm_loadu_si128((const __m128i *)p);  // digits 0-9, '.', digits 11-15
    // bytes 0-9 then 11-15, and byte 15 last (replaced by p[16] below)
    __m128i d = _mm_shuffle_epi8(head, _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 15));
    d = _mm_insert_epi8(d, p[16], 15);
    d = _mm_sub_epi8(d, _mm_set1_epi8('0'));
    // every byte 0-9 (unsigned)
    if (_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_subs_epu8(d, _mm_set1_epi8(9)), _mm_setzero_si128())) != 0xFFFF)
        return 0;
    __m128i two = _mm_maddubs_epi16(d, _mm_setr_epi8(10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1));
    __m128i four = _mm_madd_epi16(two, _mm_setr_epi16(100, 1, 100, 1, 100, 1, 100, 1));
    __m128i packed = _mm_packus_epi32(four, four);
    __m128i eight = _mm_madd_epi16(packed, _mm_setr_epi16(10000, 1, 10000, 1, 10000, 1, 10000, 1));
    uint64_t a = (uint32_t)_mm_cvtsi128_si32(eight), b = (uint32_t)_mm_extract_epi32(eight, 1);
    *nanos = (int64_t)(a * 100000000000ull + b * 1000ull);
    return 1;
}

static int fh_sse41_state = 0;  // 0 = not checked, 1 = available, 2 = not
#endif

int32_t flowhound_zeek_time(const uint8_t *p, int64_t n, int64_t *nanos) {
    if (n != 17 || p[10] != '.') return 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#if FH_SSE2
    int st = __atomic_load_n(&fh_sse41_state, __ATOMIC_RELAXED);
    if (st == 0) {
        __builtin_cpu_init();
        st = __builtin_cpu_supports("ssse3") && __builtin_cpu_supports("sse4.1") ? 1 : 2;
        __atomic_store_n(&fh_sse41_state, st, __ATOMIC_RELAXED);
    }
    if (st == 1) return fh_zeek_time_sse41(p, nanos);
#endif
    return fh_zeek_time_scalar(p, nanos);
#else
    (void)nanos;
    return 0;
#endif
}

// Whether p[i..] starts with the entry's `"key":` (tried only when 16 or 32 bytes can be read there).
static inline int fh_predicted(const uint8_t *p, int64_t i, int64_t n, const flowhound_json_key *e) {
    int32_t len = e->pattern_len;
#if FH_SSE2
    if (len <= 16) {
        if (len == 0 || i + 16 > n) return 0;
        __m128i a = _mm_loadu_si128((const __m128i *)(p + i));
        uint32_t eq = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(a, _mm_loadu_si128((const __m128i *)e->pattern)));
        return (eq & e->pattern_mask) == e->pattern_mask;
    }
    if (i + 32 > n) return 0;
    __m128i a = _mm_loadu_si128((const __m128i *)(p + i));
    __m128i b = _mm_loadu_si128((const __m128i *)(p + i + 16));
    uint32_t lo = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(a, _mm_loadu_si128((const __m128i *)e->pattern)));
    uint32_t hi = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(b, _mm_loadu_si128((const __m128i *)(e->pattern + 16))));
    uint32_t eq = lo | hi << 16;
    return (eq & e->pattern_mask) == e->pattern_mask;
#else
    return len != 0 && i + len <= n && memcmp(p + i, e->pattern, (size_t)len) == 0;
#endif
}

// Sets each entry's `use` for the restriction `wanted` (NULL: every slot).
static void fh_apply(flowhound_json_table *t, const uint8_t *wanted, int64_t generation) {
    for (int64_t k = 0; k < t->capacity; k++) {
        flowhound_json_key *e = &t->entries[k];
        if (e->len != 0) e->use = wanted == NULL || wanted[e->slot] ? e->slot : -1;
    }
    t->applied_wanted = wanted;
    t->applied_generation = generation;
}

// A value the scan took: stored in its slot when the current restriction decodes the key (slot >= 0), and counted.
static inline void fh_store(flowhound_field *restrict values, int32_t slot, const uint8_t *b, int64_t len,
                            int64_t *found) {
    if (slot >= 0) {
        values[slot].base = b;
        values[slot].count = len;
        values[slot].list_separator = 0;
        (*found)++;
    }
}

int64_t flowhound_zeek_json_scan(const uint8_t *restrict p, int64_t n, int64_t i, const flowhound_json_scan_args *a,
                                 flowhound_field *restrict values, int64_t *end, int64_t *found_out) {
    flowhound_json_table *t = a->table;
    flowhound_json_key *restrict entries = t->entries;
    // `use` holds the sparse restriction only: a full decode (wanted == NULL, e.g. a matched line decoded again
    // with every field) reads `slot` instead and leaves it applied, so alternating lines do not rewrite the table.
    const int full = a->wanted == NULL;
    if (!full && (t->applied_wanted != a->wanted || t->applied_generation != a->wanted_generation))
        fh_apply(t, a->wanted, a->wanted_generation);
    for (int64_t k = 0; k < a->clear_count; k++) {
        flowhound_field *v = &values[a->clear[k]];
        v->base = NULL;
        v->count = 0;
        v->list_separator = 0;
    }
    int64_t stop_after = a->stop_after, found = 0, r;
    // The decoder accepts a line only when its last byte is the `}` closing the object (after the object only
    // blanks are allowed, and the decoder trims those), so any other line is malformed whatever comes first.
    // With p[n - 1] == '}' every loop below that stops at a `}` (white space, numbers, literals) needs no
    // bounds check: that byte is its sentinel.
    if (n < 2 || p[n - 1] != '}') {
        *end = i;
        *found_out = 0;
        return 0;
    }
    // Key-order prediction: `pred` is the entry expected at the next key (the last line's first key, then each
    // key's successor); `prev` the entry of the key before (-1: none yet, -2: a key the table does not know).
    int32_t pred = t->first, prev = -1;
    i += 1;  // '{'; now i <= n - 1
    for (;;) {
        // i <= n - 1 here: i follows `{` or a `,` that is not the last byte.
#if FH_SSE2
        // Lean loop: the pairs of the loop below while the line goes on for 80 bytes, so its reads need no bound
        // checks (the key: 32 bytes at i; the value: 32 bytes after its first byte, v < i + 32). Strings and
        // numbers of up to 31 bytes; the rest is left to the loop below, from the same place.
        while (pred >= 0 && i + 80 <= n) {
            const flowhound_json_key *e = &entries[pred];
            __m128i k0 = _mm_loadu_si128((const __m128i *)(p + i));
            uint32_t eq = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(k0, _mm_loadu_si128((const __m128i *)e->pattern)));
            if (e->pattern_len > 16) {
                __m128i k1 = _mm_loadu_si128((const __m128i *)(p + i + 16));
                eq |= (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(k1, _mm_loadu_si128((const __m128i *)(e->pattern + 16))))
                      << 16;
            }
            if ((eq & e->pattern_mask) != e->pattern_mask) break;  // predicted entries always have a pattern
            int64_t v = i + e->pattern_len;
            int64_t vs, ve, next;
            uint8_t c = p[v];
            if (c == '"') {
                const __m128i vq = _mm_set1_epi8('"'), vb = _mm_set1_epi8('\\');
                __m128i w = _mm_loadu_si128((const __m128i *)(p + v + 1));
                uint32_t m = (uint32_t)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(w, vq), _mm_cmpeq_epi8(w, vb)));
                if (m == 0) {
                    w = _mm_loadu_si128((const __m128i *)(p + v + 17));
                    m = (uint32_t)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(w, vq), _mm_cmpeq_epi8(w, vb))) << 16;
                    if (m == 0) break;
                }
                ve = v + 1 + __builtin_ctz(m);
                if (p[ve] != '"') break;  // an escape
                vs = v + 1;
                next = ve + 1;
            } else if ((uint8_t)(c - '0') <= 9 || c == '-') {
                const __m128i c0 = _mm_set1_epi8('0'), c9 = _mm_set1_epi8(9), dot = _mm_set1_epi8('.');
                __m128i w = _mm_loadu_si128((const __m128i *)(p + v + 1));
                __m128i digit = _mm_cmpeq_epi8(_mm_subs_epu8(_mm_sub_epi8(w, c0), c9), _mm_setzero_si128());
                uint32_t m = ~(uint32_t)_mm_movemask_epi8(_mm_or_si128(digit, _mm_cmpeq_epi8(w, dot))) & 0xFFFFu;
                if (m == 0) {
                    w = _mm_loadu_si128((const __m128i *)(p + v + 17));
                    digit = _mm_cmpeq_epi8(_mm_subs_epu8(_mm_sub_epi8(w, c0), c9), _mm_setzero_si128());
                    m = (~(uint32_t)_mm_movemask_epi8(_mm_or_si128(digit, _mm_cmpeq_epi8(w, dot))) & 0xFFFFu) << 16;
                    if (m == 0) break;
                }
                vs = v;
                ve = next = v + 1 + __builtin_ctz(m);
                if (fh_class[p[next]] & FH_NUM) break;  // e E + - go on: the loop below takes it
            } else if (c == 't' && memcmp(p + v, "true", 4) == 0) {
                vs = v;
                ve = next = v + 4;
            } else if (c == 'f' && memcmp(p + v, "false", 5) == 0) {
                vs = v;
                ve = next = v + 5;
            } else {
                break;
            }
            uint8_t d = p[next];
            if (d != ',' && d != '}') break;
            prev = pred;
            pred = e->next;
            fh_store(values, full ? e->slot : e->use, p + vs, ve - vs, &found);
            i = next + 1;
            if (d == '}') {
                r = 1;
                goto done;
            }
            if (found >= stop_after) goto stop_check;
        }
#endif
        // Fast loop for the usual pair: the predicted key, a compact string / number / boolean value, a comma.
        // It leaves at the first pair it does not take whole, before consuming any of it (or at a line end).
        while (pred >= 0) {
            const flowhound_json_key *e = &entries[pred];
            if (!fh_predicted(p, i, n, e)) break;
            int64_t v = i + e->pattern_len;  // <= n - 1: the colon is not the last byte
            int64_t vs, ve, next;
            uint8_t c = p[v];
            if (c == '"') {
                int escaped = 0;
                int64_t k = fh_string_end(p, v + 1, n, &escaped);
                if (k >= n || escaped) break;
                vs = v + 1;
                ve = k;
                next = k + 1;
            } else if ((uint8_t)(c - '0') <= 9 || c == '-') {
                vs = v;
                ve = next = fh_number_end(p, v + 1, n);  // stops at the final `}` at the latest
            } else if (c == 't' && v + 5 <= n && memcmp(p + v, "true", 4) == 0) {
                vs = v;
                ve = next = v + 4;
            } else if (c == 'f' && v + 6 <= n && memcmp(p + v, "false", 5) == 0) {
                vs = v;
                ve = next = v + 5;
            } else {
                break;
            }
            uint8_t d = p[next];
            if (d != ',' && d != '}') break;  // white space or a bad token: the general steps decide
            prev = pred;
            pred = e->next;
            fh_store(values, full ? e->slot : e->use, p + vs, ve - vs, &found);
            if (d == '}') {
                i = next + 1;
                r = 1;
                goto done;
            }
            i = next + 1;  // the comma is not the last byte
            if (found >= stop_after) {
                if (a->wanted_count < 0 || a->path_slot < 0) {
                    r = 2;
                    goto done;
                }
                if (values[a->path_slot].base != NULL) {
                    if (found >= a->wanted_count) {
                        r = 2;
                        goto done;
                    }
                } else if (!flowhound_json_may_contain_path(p + i, n - i)) {
                    r = 2;
                    goto done;
                } else {
                    stop_after = INT64_MAX;
                }
            }
        }
        uint8_t c = p[i];
        if (c != '"') {
            while (fh_ws(c)) c = p[++i];
            if (c == '}') {
                i++;
                r = 1;
                goto done;
            }
            if (c != '"') goto malformed;
        }
        int32_t entry;
        int key_escaped = 0;
        int32_t *learn = prev == -1 ? &t->first : prev >= 0 ? &entries[prev].next : NULL;  // where `pred` came from
        int32_t alt = learn == NULL ? -1 : learn == &t->first ? t->first2 : entries[prev].next2;
        if (pred >= 0 && fh_predicted(p, i, n, &entries[pred])) {
            // exactly the key bytes, closing quote and colon the general steps below would find
            entry = pred;
            i += entries[entry].pattern_len;
        } else if (alt >= 0 && fh_predicted(p, i, n, &entries[alt])) {
            // the key that came here before: it becomes the first guess again
            entry = alt;
            i += entries[entry].pattern_len;
            int32_t *second = learn == &t->first ? &t->first2 : &entries[prev].next2;
            *second = *learn;
            *learn = entry;
        } else {
            int64_t ks = i + 1;
            int64_t j = fh_string_end(p, ks, n, &key_escaped);
            if (j >= n) goto malformed;
            int64_t klen = j - ks;
            i = j + 1;  // j <= n - 2: p[n - 1] is not a quote
            c = p[i];
            while (fh_ws(c)) c = p[++i];
            if (c != ':') goto malformed;
            i++;
            entry = key_escaped ? -1 : fh_find(t, p + ks, klen, n - ks);
            if (entry >= 0 && learn != NULL && *learn != entry && entries[entry].pattern_len != 0) {
                // entries without a pattern are never predicted (the loops above rely on it)
                int32_t *second = learn == &t->first ? &t->first2 : &entries[prev].next2;
                *second = *learn;
                *learn = entry;
            }
        }
        // i <= n - 1: the colon is not the last byte
        int32_t slot = -1;
        if (entry >= 0) {
            slot = full ? entries[entry].slot : entries[entry].use;
            pred = entries[entry].next;
            prev = entry;
        } else {
            pred = -1;
            prev = -2;
        }
        c = p[i];
        while (fh_ws(c)) c = p[++i];
        if (c == '"') {
            int64_t vs = i + 1;
            int escaped = 0;
            int64_t k = fh_string_end(p, vs, n, &escaped);
            if (k >= n) goto malformed;
            i = k + 1;
            if (slot >= 0) {
                if (escaped) goto general;
                values[slot].base = p + vs;
                values[slot].count = k - vs;
                values[slot].list_separator = 0;
                found++;
            }
        } else if ((uint8_t)(c - '0') <= 9 || c == '-') {
            int64_t vs = i;
            i = fh_number_end(p, i + 1, n);  // stops at the final `}` at the latest
            if (!fh_delim(p[i])) goto malformed;
            if (slot >= 0) {
                values[slot].base = p + vs;
                values[slot].count = i - vs;
                values[slot].list_separator = 0;
                found++;
            }
        } else if (c == '{') {
            if (!key_escaped) goto general;
            if (!fh_skip_balanced(p, n, &i)) goto malformed;
        } else if (c == '[') {
            if (slot >= 0) goto general;
            if (!fh_skip_balanced(p, n, &i)) goto malformed;
        } else {
            int64_t vs = i;
            while (!fh_delim(p[i])) i++;  // the final `}` is a delimiter
            int kind = fh_scalar_kind(p + vs, i - vs);
            if (kind < 0) goto malformed;
            if (slot >= 0 && kind != 0) {
                values[slot].base = p + vs;
                values[slot].count = i - vs;
                values[slot].list_separator = 0;
                found++;
            }
        }
        if (i >= n) goto malformed;  // only after a skipped container or string that ended the line
        c = p[i];
        if (c != ',') {
            while (fh_ws(c)) c = p[++i];
            if (c == '}') {
                i++;
                r = 1;
                goto done;
            }
            if (c != ',') goto malformed;
        }
        i++;  // the comma is not the last byte, so i <= n - 1
    stop_check:
        if (found >= stop_after) {
            // Sparse: stop early unless a `_path` key may still follow (it can switch the log type).
            if (a->wanted_count < 0 || a->path_slot < 0) {
                r = 2;
                goto done;
            }
            if (values[a->path_slot].base != NULL) {
                if (found >= a->wanted_count) {
                    r = 2;
                    goto done;
                }
            } else if (!flowhound_json_may_contain_path(p + i, n - i)) {
                r = 2;
                goto done;
            } else {
                stop_after = INT64_MAX;
            }
        }
    }
malformed:
    r = 0;
    goto done;
general:
    r = -1;
done:
    *end = i;
    *found_out = found;
    return r;
}
