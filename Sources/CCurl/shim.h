#ifndef FLOWHOUND_CCURL_SHIM_H
#define FLOWHOUND_CCURL_SHIM_H
#include <curl/curl.h>

/// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call; these fix the argument type.
static inline CURLcode flowhound_curl_setopt_long(CURL *c, CURLoption o, long v) { return curl_easy_setopt(c, o, v); }
static inline CURLcode flowhound_curl_setopt_string(CURL *c, CURLoption o, const char *v) {
    return curl_easy_setopt(c, o, v);
}
static inline CURLcode flowhound_curl_setopt_pointer(CURL *c, CURLoption o, void *v) { return curl_easy_setopt(c, o, v); }
static inline CURLcode flowhound_curl_setopt_slist(CURL *c, CURLoption o, struct curl_slist *v) {
    return curl_easy_setopt(c, o, v);
}

/// Response bodies are not needed: this write callback accepts and discards them.
static inline size_t flowhound_curl_discard(char *ptr, size_t size, size_t nmemb, void *userdata) {
    (void)ptr;
    (void)userdata;
    return size * nmemb;
}
static inline CURLcode flowhound_curl_discard_body(CURL *c) {
    return curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, flowhound_curl_discard);
}
static inline CURLcode flowhound_curl_response_code(CURL *c, long *code) {
    return curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
}
#endif
