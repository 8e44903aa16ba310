#ifndef FLOWHOUND_CLIBPQ_SHIM_H
#define FLOWHOUND_CLIBPQ_SHIM_H
// PostgreSQL's C client library (Debian libpq-dev), for the postgresql:// alert output.
#include <libpq-fe.h>
#endif
