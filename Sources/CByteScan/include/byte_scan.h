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

/// One field as the Swift decoders lay it out (`FieldValue`: base, count, list separator; stride 24).
typedef struct {
    const uint8_t *base;
    int64_t count;
    uint8_t list_separator;
} flowhound_field;

/// Sparse extraction after `flowhound_split_fields`: for each w < wanted_count, field k = wanted[w] spans
/// [k == 0 ? 0 : ends[k - 1] + sep_len, ends[k]). A plain field (kinds[k] == 0, ending at or before
/// plain_before, and not equal to the unset or the empty marker) is stored in values[k] with list separator 0;
/// the index w of every other field is appended to `slow`. Returns the number of slow fields.
int64_t flowhound_extract_fields(const uint8_t *line, const int32_t *ends, const int32_t *wanted,
                                 int64_t wanted_count, int64_t sep_len, const uint8_t *kinds, int64_t plain_before,
                                 const uint8_t *unset, int64_t unset_len, const uint8_t *empty, int64_t empty_len,
                                 flowhound_field *values, int32_t *slow);

#endif
