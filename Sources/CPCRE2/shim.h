// PCRE2, 8-bit code units. The unsuffixed pcre2_* names are macros over the width-suffixed functions, which
// Swift does not import: call the `_8` names (pcre2_compile_8, pcre2_jit_match_8, ...).
#ifndef FLOWHOUND_CPCRE2_SHIM_H
#define FLOWHOUND_CPCRE2_SHIM_H
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#endif
