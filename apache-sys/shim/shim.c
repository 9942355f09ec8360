#include "shim.h"
#include <http_protocol.h>

void *rustgi_shim_get_module_config(const ap_conf_vector_t *cv, const module *m)
{
    return ap_get_module_config(cv, m);
}

void rustgi_shim_set_module_config(ap_conf_vector_t *cv, const module *m, void *val)
{
    ap_set_module_config(cv, m, val);
}

const apr_array_header_t *rustgi_shim_table_elts(const apr_table_t *t)
{
    return apr_table_elts(t);
}

void rustgi_shim_brigade_append_flush(apr_bucket_brigade *bb)
{
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_flush_create(bb->bucket_alloc));
}

void rustgi_shim_brigade_append_eos(apr_bucket_brigade *bb)
{
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(bb->bucket_alloc));
}

void rustgi_shim_brigade_append_error(apr_bucket_brigade *bb, int status, apr_pool_t *p)
{
    APR_BRIGADE_INSERT_TAIL(bb, ap_bucket_error_create(status, NULL, p, bb->bucket_alloc));
}

int rustgi_shim_brigade_has_eos(apr_bucket_brigade *bb)
{
    apr_bucket *e;
    for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb); e = APR_BUCKET_NEXT(e)) {
        if (APR_BUCKET_IS_EOS(e)) {
            return 1;
        }
    }
    return 0;
}
