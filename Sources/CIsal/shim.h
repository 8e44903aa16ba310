#ifndef FLOWHOUND_CISAL_SHIM_H
#define FLOWHOUND_CISAL_SHIM_H
// Intel ISA-L's streaming inflate (Debian libisal-dev). Only used when Package.swift found the header.
#include <isa-l/igzip_lib.h>
#endif
