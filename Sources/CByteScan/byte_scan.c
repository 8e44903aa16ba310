#include "byte_scan.h"

#include <string.h>

// Whether the n bytes at b are the marker m (an empty marker matches an empty field): the first byte decides most
// fields of a marker's length (a one-digit number against `-`) without the call and the spills around memcmp.
static inline int fh_is_marker(const uint8_t *b, const uint8_t *m, int64_t n) {
    return n == 0 || (b[0] == m[0] && (n == 1 || memcmp(b + 1, m + 1, (size_t)(n - 1)) == 0));
}

int64_t flowhound_extract_fields(const uint8_t *line, const int32_t *ends, const int32_t *wanted,
                                 int64_t wanted_count, int64_t sep_len, int64_t plain_before, const uint8_t *unset,
                                 int64_t unset_len, const uint8_t *empty, int64_t empty_len, flowhound_field *values,
                                 int32_t *slow) {
    int64_t nslow = 0;
    for (int64_t w = 0; w < wanted_count; w++) {
        int32_t k = wanted[w];
        int64_t start = (int64_t)ends[k - 1] + sep_len;  // ends[-1] == -sep_len
        int64_t end = ends[k];
        int64_t len = end - start;
        const uint8_t *b = line + start;
        // One test for the common field: before any backslash and not of a marker's length. A field of a
        // marker's length is a marker only if its bytes are the marker's.
        if (__builtin_expect((end <= plain_before) & (len != unset_len) & (len != empty_len), 1) ||
            (end <= plain_before && !(len == unset_len && fh_is_marker(b, unset, unset_len)) &&
             !(len == empty_len && fh_is_marker(b, empty, empty_len)))) {
            values[k].base = b;
            values[k].count = len;
            values[k].list_separator = 0;
        } else {
            slow[nslow++] = (int32_t)w;
        }
    }
    return nslow;
}

#if defined(__SSE2__)
#include <emmintrin.h>

int flowhound_parse_ipv4(const uint8_t *p, int64_t n, uint32_t *out) {
    if (n < 7 || n > 15) return 0;
    // The bytes in a zero-padded 16-byte value, from two overlapping loads inside p[0..n).
    uint64_t lo, hi = 0;
    if (n >= 8) {
        uint64_t h;
        memcpy(&lo, p, 8);
        memcpy(&h, p + n - 8, 8);
        hi = n == 8 ? 0 : h >> (8 * (16 - n));
    } else {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + 3, 4);
        lo = (uint64_t)a | (uint64_t)b << 24;
    }
    __m128i v = _mm_set_epi64x((long long)hi, (long long)lo);
    __m128i t = _mm_sub_epi8(v, _mm_set1_epi8('0'));  // digit values (other bytes: anything above 9)
    uint32_t dots = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('.')));
    uint32_t digits = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(t, _mm_set1_epi8(9)), t));
    // three dots exactly, and every byte of p[0..n) a dot or a digit (the zero padding is neither)
    uint32_t r1 = dots & (dots - 1), r2 = r1 & (r1 - 1);
    if (r2 == 0 || (r2 & (r2 - 1)) != 0 || (dots | digits) != (1u << n) - 1) return 0;
    int p1 = __builtin_ctz(dots), p2 = __builtin_ctz(r1), p3 = __builtin_ctz(r2);
    int l1 = p1, l2 = p2 - p1 - 1, l3 = p3 - p2 - 1, l4 = (int)n - p3 - 1;
    if ((l1 | l2 | l3 | l4) >= 4 || ((l1 - 1) | (l2 - 1) | (l3 - 1) | (l4 - 1)) < 0) return 0;
    // Digit values widened to 16-bit lanes: an octet is one 64-bit load of four lanes, masked to its length and
    // multiplied by its weights so that lane 2 of the product holds the value (no lane exceeds 999: no carries).
    uint16_t e[24];
    _mm_storeu_si128((__m128i *)e, _mm_unpacklo_epi8(t, _mm_setzero_si128()));
    _mm_storeu_si128((__m128i *)(e + 8), _mm_unpackhi_epi8(t, _mm_setzero_si128()));
    _mm_storeu_si128((__m128i *)(e + 16), _mm_setzero_si128());
    static const uint64_t mask[4] = {0, 0xFFull, 0xFF00FFull, 0xFF00FF00FFull};
    static const uint64_t weight[4] = {0, 1ull << 32, (10ull << 32) | (1ull << 16), (100ull << 32) | (10ull << 16) | 1};
    uint64_t x1, x2, x3, x4;
    memcpy(&x1, e, 8);
    memcpy(&x2, e + p1 + 1, 8);
    memcpy(&x3, e + p2 + 1, 8);
    memcpy(&x4, e + p3 + 1, 8);
    uint32_t a = (uint32_t)(((x1 & mask[l1]) * weight[l1]) >> 32) & 0xFFFF;
    uint32_t b = (uint32_t)(((x2 & mask[l2]) * weight[l2]) >> 32) & 0xFFFF;
    uint32_t c = (uint32_t)(((x3 & mask[l3]) * weight[l3]) >> 32) & 0xFFFF;
    uint32_t d = (uint32_t)(((x4 & mask[l4]) * weight[l4]) >> 32) & 0xFFFF;
    if ((a | b | c | d) > 255) return 0;
    *out = a << 24 | b << 16 | c << 8 | d;
    return 1;
}

#else

int flowhound_parse_ipv4(const uint8_t *p, int64_t n, uint32_t *out) {
    if (n < 7 || n > 15) return 0;
    uint32_t ip = 0;
    int64_t i = 0;
    for (int part = 0; part < 4; part++) {
        uint32_t v = 0;
        int digits = 0;
        while (i < n && p[i] >= '0' && p[i] <= '9' && digits < 4) {
            v = v * 10 + (uint32_t)(p[i] - '0');
            i++;
            digits++;
        }
        if (digits == 0 || digits > 3 || v > 255) return 0;
        ip = ip << 8 | v;
        if (part < 3) {
            if (i >= n || p[i] != '.') return 0;
            i++;
        }
    }
    if (i != n) return 0;
    *out = ip;
    return 1;
}

#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define FH_TARGET __attribute__((target("sse4.2,popcnt,bmi")))

// Stores the positions of the set bits of m (a 16-bit mask of block `base`) at ends[nt...]; returns their count.
// The first four stores are unconditional (a cleared mask stores base + 16, overwritten later or past the
// fields), so typical blocks with at most four separators take no data-dependent branch.
FH_TARGET static inline int64_t fh_store_bits(uint32_t m, int32_t base, int32_t *ends, int64_t nt) {
    int64_t c = _mm_popcnt_u32(m);
    uint32_t x = m | 0x10000u;
    ends[nt] = base + (int32_t)_tzcnt_u32(x);
    x &= x - 1;
    ends[nt + 1] = base + (int32_t)_tzcnt_u32(x);
    x &= x - 1;
    ends[nt + 2] = base + (int32_t)_tzcnt_u32(x);
    x &= x - 1;
    ends[nt + 3] = base + (int32_t)_tzcnt_u32(x);
    if (c > 4) {
        x &= x - 1;
        int64_t j = nt + 4;
        while ((x & 0xFFFFu) != 0) {
            ends[j++] = base + (int32_t)_tzcnt_u32(x);
            x &= x - 1;
        }
    }
    return c;
}

FH_TARGET static int64_t fh_split_sse(const uint8_t *p, int64_t n, uint8_t sep, int32_t *ends, int64_t need,
                                      int32_t *backslash) {
    const __m128i vs = _mm_set1_epi8((char)sep);
    const __m128i vb = _mm_set1_epi8('\\');
    uint32_t slash = 0;
    int64_t nt = 0;
    int64_t k = 0;
    for (; k + 16 <= n; k += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + k));
        uint32_t m = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vs));
        slash |= (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vb));
        if (nt < need) {
            nt += fh_store_bits(m, (int32_t)k, ends, nt);
        } else {
            nt += _mm_popcnt_u32(m);
        }
    }
    if (k < n) {
        if (n >= 16) {
            // The last 16 bytes, overlapping the block before; drop the bits of bytes already scanned.
            int64_t start = n - 16;
            unsigned shift = (unsigned)(k - start);
            __m128i v = _mm_loadu_si128((const __m128i *)(p + start));
            uint32_t m = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vs)) >> shift;
            slash |= (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vb)) >> shift;
            nt += fh_store_bits(m, (int32_t)k, ends, nt);
        } else {
            for (; k < n; k++) {
                uint8_t c = p[k];
                ends[nt] = (int32_t)k;
                nt += c == sep;
                slash |= c == '\\';
            }
        }
    }
    ends[nt] = (int32_t)n;
    *backslash = slash != 0;
    return nt;
}

#define FH_TARGET_AVX2 __attribute__((target("avx2,popcnt,bmi")))

// fh_bit_offsets[b] lists the positions of the set bits of byte b in ascending order (the rest zero), so one
// 8-byte load, widened to eight int32 and offset, stores the separator positions of eight input bytes at once.
static uint8_t fh_bit_offsets[256][8];

// Filled once when the library loads (before any thread can call the splitter).
__attribute__((constructor)) static void fh_build_bit_offsets(void) {
    for (int b = 0; b < 256; b++) {
        int k = 0;
        for (int i = 0; i < 8; i++) {
            if (b & (1 << i)) fh_bit_offsets[b][k++] = (uint8_t)i;
        }
        while (k < 8) fh_bit_offsets[b][k++] = 0;
    }
}

// Stores the positions of the set bits of the 64-bit mask m of the block at `base`: eight table stores of eight
// entries each, no data-dependent branch. Entries past the last set bit are overwritten later or lie beyond the
// fields (at most ends[nt + popcount(m) + 7] is written).
FH_TARGET_AVX2 static inline int64_t fh_store_mask64(uint64_t m, int32_t base, int32_t *ends, int64_t nt) {
    __m256i vbase = _mm256_set1_epi32(base);
    const __m256i eight = _mm256_set1_epi32(8);
    for (int j = 0; j < 8; j++) {
        unsigned idx = (unsigned)(m >> (8 * j)) & 0xFFu;
        __m256i off = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)fh_bit_offsets[idx]));
        _mm256_storeu_si256((__m256i *)(ends + nt), _mm256_add_epi32(off, vbase));
        nt += _mm_popcnt_u32(idx);
        vbase = _mm256_add_epi32(vbase, eight);
    }
    return nt;
}

FH_TARGET_AVX2 static inline uint64_t fh_mask64(const uint8_t *p, __m256i v) {
    uint64_t lo = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)p), v));
    uint64_t hi = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)(p + 32)), v));
    return lo | hi << 32;
}

FH_TARGET_AVX2 static int64_t fh_split_avx2(const uint8_t *p, int64_t n, uint8_t sep, int32_t *ends, int64_t need,
                                            int32_t *backslash) {
    if (n < 64) return fh_split_sse(p, n, sep, ends, need, backslash);
    const __m256i vs = _mm256_set1_epi8((char)sep);
    const __m256i vb = _mm256_set1_epi8('\\');
    uint64_t slash = 0;
    int64_t nt = 0;
    int64_t k = 0;
    for (; k + 64 <= n; k += 64) {
        uint64_t m = fh_mask64(p + k, vs);
        slash |= fh_mask64(p + k, vb);
        if (nt < need) {
            nt = fh_store_mask64(m, (int32_t)k, ends, nt);
        } else {
            nt += (int64_t)_mm_popcnt_u64(m);
        }
    }
    if (k < n) {
        // The last 64 bytes, overlapping the block before; drop the bits of bytes already scanned.
        int64_t start = n - 64;
        unsigned shift = (unsigned)(k - start);
        uint64_t m = fh_mask64(p + start, vs) >> shift;
        slash |= fh_mask64(p + start, vb) >> shift;
        if (nt < need) {
            nt = fh_store_mask64(m, (int32_t)k, ends, nt);
        } else {
            nt += (int64_t)_mm_popcnt_u64(m);
        }
    }
    ends[nt] = (int32_t)n;
    *backslash = slash != 0;
    return nt;
}

// 0: no vector path, 1: SSE4.2, 2: AVX2; -1: not yet checked.
static int fh_vector_ok = -1;

// The CPU check, out of line so that the splitter's dispatch stays a load, a compare and a jump.
__attribute__((noinline, cold)) static int fh_check_vector(void) {
    __builtin_cpu_init();
    int ok = __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("popcnt") && __builtin_cpu_supports("bmi");
    if (ok && __builtin_cpu_supports("avx2")) ok = 2;
    __atomic_store_n(&fh_vector_ok, ok, __ATOMIC_RELAXED);
    return ok;
}

int64_t flowhound_split_fields(const uint8_t *p, int64_t n, uint8_t sep, int32_t *ends, int64_t need,
                               int32_t *backslash) {
    int ok = __atomic_load_n(&fh_vector_ok, __ATOMIC_RELAXED);
    if (__builtin_expect(ok < 0, 0)) ok = fh_check_vector();
    if (ok == 2) return fh_split_avx2(p, n, sep, ends, need, backslash);
    if (ok == 1) return fh_split_sse(p, n, sep, ends, need, backslash);
    return -1;
}

#else

int64_t flowhound_split_fields(const uint8_t *p, int64_t n, uint8_t sep, int32_t *ends, int64_t need,
                               int32_t *backslash) {
    (void)p; (void)n; (void)sep; (void)ends; (void)need; (void)backslash;
    return -1;
}

#endif
