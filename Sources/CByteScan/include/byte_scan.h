#ifndef FLOWHOUND_BYTE_SCAN_H
#define FLOWHOUND_BYTE_SCAN_H

#include <stdint.h>

/// Field splitting for delimiter-separated lines (Zeek TSV), vectorised where the CPU allows.
///
/// Writes the index of each `sep` byte of p[0..n) to `ends` in order (`ends[k]` = end of field k) until at
/// least `need` positions are stored, then only counts the remaining separators; finally stores n at
/// ends[count]. Entries between the last stored position and ends[count] are unspecified. `ends` must have
/// room for n + 9 entries. Sets *backslash to 1 when p[0..n) contains a backslash (0x5C), else 0.
/// Returns the number of separators, or -1 when this build or CPU has no vector path (the caller then uses
/// its portable splitter). Reads only p[0..n).
int64_t flowhound_split_fields(const uint8_t *p, int64_t n, uint8_t sep, int32_t *ends, int64_t need,
                               int32_t *backslash);

/// Dotted-quad IPv4 text p[0..n): four decimal octets of one to three digits (leading zeros allowed), each at
/// most 255, separated by single dots, nothing else. Stores the address (first octet in the high byte) in *out
/// and returns 1; returns 0 for anything else. Reads only p[0..n); no data-dependent branch in the usual case.
int flowhound_parse_ipv4(const uint8_t *p, int64_t n, uint32_t *out);

/// One field as the Swift decoders lay it out (`FieldValue`: base, count, list separator; stride 24).
typedef struct {
    const uint8_t *base;
    int64_t count;
    uint8_t list_separator;
} flowhound_field;

/// Sparse extraction after `flowhound_split_fields`, for fields of the plain kind (not lists, not bools): for each
/// w < wanted_count, field k = wanted[w] spans [ends[k - 1] + sep_len, ends[k]), where the caller keeps
/// ends[-1] == -sep_len. A field ending at or before plain_before (no backslash) and not equal to the unset or the
/// empty marker is stored in values[k] with list separator 0; the index w of every other field is appended to
/// `slow`. Returns the number of slow fields.
int64_t flowhound_extract_fields(const uint8_t *line, const int32_t *ends, const int32_t *wanted,
                                 int64_t wanted_count, int64_t sep_len, int64_t plain_before, const uint8_t *unset,
                                 int64_t unset_len, const uint8_t *empty, int64_t empty_len, flowhound_field *values,
                                 int32_t *slow);

/// JSON key → slot table (open addressing), shared by the JSON decoders. Keys are compared by length, their
/// first and last eight bytes and, past 16 bytes, the rest. The first insertion of a key wins.
typedef struct flowhound_json_key {
    uint64_t head;        // bytes [0, min(len, 8)), zero padded
    uint64_t tail;        // bytes [len - 8, len) when len > 8, else 0
    int32_t len;          // 0 = empty entry
    int32_t slot;
    int32_t use;          // `slot` when the sparse restriction (`applied_wanted`) decodes it, else -1
    const uint8_t *bytes; // copy of the key (owned by the table)
    int32_t next;         // the entry that followed this key on the last line (-1: none); the scan's prediction
    int32_t next2;        // the entry that followed it before, when that differs (-1: none); tried second
    int32_t pattern_len;  // len + 3 when that is <= 32, else 0 (never predicted)
    uint32_t pattern_mask; // (1 << pattern_len) - 1
    uint8_t pattern[32];  // `"key":` as it appears in a compact line
} flowhound_json_key;

typedef struct flowhound_json_table {
    flowhound_json_key *entries;
    uint64_t mask;
    int32_t shift;
    int32_t first;        // the entry of the last line's first key (-1: none)
    int32_t first2;       // the first key before that, when it differs (-1: none)
    int64_t count;
    int64_t capacity;
    const uint8_t *applied_wanted;  // the sparse restriction `use` reflects (a full scan reads `slot`)
    int64_t applied_generation;     // -1: none applied yet
} flowhound_json_table;

/// A table with room for `keys` keys (it grows when more are inserted). NULL when out of memory.
flowhound_json_table *flowhound_json_table_new(int64_t keys);
void flowhound_json_table_free(flowhound_json_table *t);
/// 1 = inserted, 0 = the key was already present (unchanged), -1 = empty key or out of memory.
int32_t flowhound_json_table_insert(flowhound_json_table *t, const uint8_t *key, int64_t len, int32_t slot);
/// The slot of the key p[0..n), or -1.
int32_t flowhound_json_table_lookup(const flowhound_json_table *t, const uint8_t *p, int64_t n);

/// Arguments of `flowhound_zeek_json_scan` that stay the same from line to line.
typedef struct flowhound_json_scan_args {
    flowhound_json_table *table;  // the scan updates its key-order predictions (one thread per table)
    const uint8_t *wanted;  // per slot: nonzero = decode it; NULL = every slot (then wanted_count is -1)
    int64_t wanted_count;   // number of wanted slots, -1 without restriction
    int64_t stop_after;     // stop once this many values are stored (see the Zeek JSON decoder)
    int64_t path_slot;      // slot of `_path`, -1 if none
    int64_t wanted_generation;  // changes whenever the contents of `wanted` change (entries are updated then)
    const int64_t *clear;   // slots the scan sets absent before it starts (the previous line's wanted values)
    int64_t clear_count;
} flowhound_json_scan_args;

/// The top-level object of a Zeek JSON line whose `{` is p[i], with exactly the verdicts and values of the
/// Zeek JSON decoder's general parser, for the lines it can take: keys without nesting, values that are
/// strings, numbers, true/false/null, or arrays / escaped strings under keys that are not decoded.
/// Returns 0 = malformed, 1 = object closed (*end = index after `}`), 2 = stopped early (every wanted value
/// found and no `_path` key can follow), -1 = the line needs the general parser (a nested object, a decoded
/// array, a decoded string with a backslash escape); values may then hold partial results.
/// Strings point into p. *found = number of values stored. Reads only p[0..n).
/// Keys usually come in the same order line after line: each key remembers the key that followed it, and when
/// the bytes at the next key are exactly that key's `"key":` the hash lookup is skipped (same slot either way);
/// the key that followed before that is tried second (lines that alternate between two key sets).
int64_t flowhound_zeek_json_scan(const uint8_t *p, int64_t n, int64_t i, const flowhound_json_scan_args *a,
                                 flowhound_field *values, int64_t *end, int64_t *found);

/// Whether `_path"` occurs in p[0..n).
int32_t flowhound_json_may_contain_path(const uint8_t *p, int64_t n);

/// 1 when p[0..n) is Zeek's time `ssssssssss.uuuuuu` (exactly 17 bytes: ten ASCII digits, a dot, six digits),
/// with *nanos its value in nanoseconds since the epoch (computed with wrapping 64-bit arithmetic, as the
/// Swift decoders' parseZeekTime); else 0 (*nanos unchanged). SSE4.1 when the CPU has it (checked once).
int32_t flowhound_zeek_time(const uint8_t *p, int64_t n, int64_t *nanos);

#endif
