#ifndef FLOWHOUND_CZLIB_SHIM_H
#define FLOWHOUND_CZLIB_SHIM_H
#include <zlib.h>

/// inflateInit2 is a macro in zlib.h, which Swift cannot import; this wraps it.
static inline int flowhound_inflateInit2(z_streamp strm, int windowBits) {
    return inflateInit2(strm, windowBits);
}
#endif
