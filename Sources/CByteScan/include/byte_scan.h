#ifndef FLOWHOUND_BYTE_SCAN_H
#define FLOWHOUND_BYTE_SCAN_H

#include <stdint.h>

/// Field splitting for delimiter-separated lines (Zeek TSV), vectorised where the CPU allows.
///
/// Writes the index of each `sep` byte of p[0..n) to `ends` in order (`ends[k]` = end of field k) until at
/// least `need` positions are stored, then only counts the remaining separators; finally stores n at
/// ends[count]. Entries between the last stored position and ends[count] are unspecified. `ends` must have
/// room for n + 5 entries. Sets *backslash to 1 when p[0..n) contains a backslash (0x5C), else 0.
/// Returns the number of separators, or -1 when this build or CPU has no vector path (the caller then uses
/// its portable splitter). Reads only p[0..n).
int64_t flowhound_split_fields(const uint8_t *p, int64_t n, uint8_t sep, int32_t *ends, int64_t need,
                               int32_t *backslash);

#endif
