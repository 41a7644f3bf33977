/* The chat page at / and /chat, and its assets under /assets/: files built from web/ by
 * web/build.mjs and embedded at build time (web_assets.inc, generated in the build folder).
 * Assets carry a content hash in their names, so they are cached for good; the page itself
 * is revalidated (ETag) every time. A strict Content-Security-Policy lets the page run only
 * this server's script and talk only to this server. */
#include <stdbool.h>
#include <string.h>

#include "server/server_internal.h"

typedef struct web_asset {
    const char *path, *type, *etag;
    bool immutable;
    const unsigned char *begin, *end;
} web_asset;

#include "web_assets.inc"

/* No inline script or style, no plugins, no framing, no form posts, no base-URL games;
 * fetch() only to this origin. */
static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
                          "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

static void security_headers(struct MHD_Response *r) {
    MHD_add_response_header(r, "Content-Security-Policy", csp);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
}

#if BB_WEB_BUILT
bool web_page_built(void) {
    return true;
}

enum MHD_Result route_web(server *s, struct MHD_Connection *c, const char *url) {
    const char *want = strcmp(url, "/chat") ? url : "/";
    const web_asset *a = NULL;
    for (size_t i = 0; i < sizeof web_assets / sizeof web_assets[0]; i++)
        if (!strcmp(web_assets[i].path, want)) a = &web_assets[i];
    if (!a) {
        oai_error e;
        oai_fail(&e, 404, NULL, "no such file: %.200s", url);
        e.code = "not_found";
        return send_error(s, c, &e);
    }
    const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
    bool fresh = inm && strstr(inm, a->etag);
    struct MHD_Response *r =
        fresh ? MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT)
              : MHD_create_response_from_buffer((size_t)(a->end - a->begin), (void *)a->begin,
                                                MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    if (!fresh) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a->type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, a->etag);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
                            a->immutable ? "public, max-age=31536000, immutable" : "no-cache");
    security_headers(r);
    return send_counted(s, c, fresh ? 304 : 200, r);
}
#else
bool web_page_built(void) {
    return false;
}

/* The build had no npm packages: say so, and how to get the page, instead of a bare 404. */
static const char missing_page[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<title>beanbag: no chat page in this build</title></head><body>\n"
    "<h1>The chat page was not built into this beanbag</h1>\n"
    "<p>Reason: " BB_WEB_MISSING ".</p>\n"
    "<p>The page's libraries come from npm when beanbag is built. Install Node.js and npm "
    "(<code>bash scripts/setup.sh</code> does, on Debian), make sure the npm registry can be "
    "reached, then rebuild: <code>cmake --build build</code>.</p>\n"
    "<p>The API works without it: <code>POST /v1/chat/completions</code>.</p>\n"
    "</body></html>\n";

enum MHD_Result route_web(server *s, struct MHD_Connection *c, const char *url) {
    if (strcmp(url, "/") && strcmp(url, "/chat")) {
        oai_error e;
        oai_fail(&e, 404, NULL, "no such file: %.200s (the chat page is not built)", url);
        e.code = "not_found";
        return send_error(s, c, &e);
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(
        sizeof missing_page - 1, (void *)missing_page, MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    security_headers(r);
    return send_counted(s, c, 503, r);
}
#endif
