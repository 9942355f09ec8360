/*
 * mod_bench_limit: the benchmark's "limit" case. For `SetHandler bench-limit`
 * it answers the same bytes as the hello apps (`Hello, World!`, text/plain)
 * straight from Apache's handler hook, with no app behind it: what serving
 * that answer costs Apache itself, and so the most any module can do.
 *
 * rustgi-bench builds it with
 *   cc -shared -fPIC -O2 $(apr-1-config --cppflags) \
 *      -I$(apxs -q INCLUDEDIR) -I$(apr-1-config --includedir) \
 *      -o mod_bench_limit.so mod_bench_limit.c
 */
#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "ap_config.h"

#include <string.h>

static const char body[] = "Hello, World!";

static int bench_limit_handler(request_rec *r)
{
    if (!r->handler || strcmp(r->handler, "bench-limit") != 0) {
        return DECLINED;
    }
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    ap_set_content_type(r, "text/plain; charset=utf-8");
    ap_set_content_length(r, sizeof(body) - 1);
    if (!r->header_only) {
        ap_rwrite(body, sizeof(body) - 1, r);
    }
    /* Out now, before the handler returns, as the static file's answer goes:
     * by the time the worker looks for the connection's next request it has
     * often arrived, and the worker serves it at once instead of handing the
     * connection back to the event MPM's listener (at 1 connection, twice
     * the requests/s of an answer flushed only at the end of the request). */
    ap_rflush(r);
    return OK;
}

static void bench_limit_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_handler(bench_limit_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

module AP_MODULE_DECLARE_DATA bench_limit_module = {
    STANDARD20_MODULE_STUFF,
    NULL, /* per-directory config creator */
    NULL, /* per-directory config merger */
    NULL, /* per-server config creator */
    NULL, /* per-server config merger */
    NULL, /* command table */
    bench_limit_register_hooks
#ifdef AP_MODULE_FLAG_NONE
    , AP_MODULE_FLAG_NONE
#endif
};
