#include "shim.h"
#include <http_protocol.h>
#include <apr_portable.h>
#include <stdint.h>
#include <unistd.h>
#include <scoreboard.h>

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

apr_status_t rustgi_shim_brigade_keep(apr_bucket_brigade *a, apr_bucket_brigade *b, apr_pool_t *p)
{
    apr_bucket *e;
    for (e = APR_BRIGADE_FIRST(b); e != APR_BRIGADE_SENTINEL(b); e = APR_BUCKET_NEXT(e)) {
        apr_status_t rv = apr_bucket_setaside(e, p);
        if (rv == APR_ENOTIMPL) {
            /* Read it into memory, then set that aside. */
            const char *data;
            apr_size_t len;
            rv = apr_bucket_read(e, &data, &len, APR_BLOCK_READ);
            if (rv == APR_SUCCESS) {
                rv = apr_bucket_setaside(e, p);
            }
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    APR_BRIGADE_CONCAT(a, b);
    return APR_SUCCESS;
}

int rustgi_shim_brigade_slices(apr_bucket_brigade *bb, const char **ptrs, apr_size_t *lens,
                               int max)
{
    apr_bucket *e;
    int n = 0;
    for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb); e = APR_BUCKET_NEXT(e)) {
        const char *data;
        apr_size_t len;
        if (APR_BUCKET_IS_METADATA(e)) {
            continue;
        }
        if (n == max || apr_bucket_read(e, &data, &len, APR_BLOCK_READ) != APR_SUCCESS) {
            return -1;
        }
        if (len > 0) {
            ptrs[n] = data;
            lens[n] = len;
            n++;
        }
    }
    return n;
}

static apr_status_t rustgi_shim_close_fd(void *data)
{
    close((int)(intptr_t)data);
    return APR_SUCCESS;
}

apr_status_t rustgi_shim_brigade_append_file(apr_bucket_brigade *bb, int fd, apr_off_t offset,
                                             apr_off_t len, apr_pool_t *p)
{
    apr_file_t *file = NULL;
    apr_os_file_t os_fd = fd;
    apr_bucket *e;
    apr_status_t rv;

    /* apr_os_file_put registers no cleanup of its own (APR_FOPEN_NOCLEANUP). */
    apr_pool_cleanup_register(p, (void *)(intptr_t)fd, rustgi_shim_close_fd,
                              apr_pool_cleanup_null);
    rv = apr_os_file_put(&file, &os_fd, APR_FOPEN_READ | APR_FOPEN_SENDFILE_ENABLED, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (e = apr_brigade_insert_file(bb, file, offset, len, p); e != APR_BRIGADE_SENTINEL(bb);
         e = APR_BUCKET_NEXT(e)) {
        if (APR_BUCKET_IS_FILE(e)) {
            apr_bucket_file_enable_mmap(e, 0);
        }
    }
    return APR_SUCCESS;
}

int rustgi_shim_running_generation(void)
{
    if (ap_scoreboard_image == NULL || ap_scoreboard_image->global == NULL) {
        return -1;
    }
    return ap_scoreboard_image->global->running_generation;
}
