/* Functions for what Rust cannot call directly: httpd and APR macros. */
#ifndef RUSTGI_SHIM_H
#define RUSTGI_SHIM_H

#include <httpd.h>
#include <http_config.h>
#include <apr_buckets.h>
#include <apr_tables.h>

/* ap_get_module_config / ap_set_module_config (macros unless AP_DEBUG). */
void *rustgi_shim_get_module_config(const ap_conf_vector_t *cv, const module *m);
void rustgi_shim_set_module_config(ap_conf_vector_t *cv, const module *m, void *val);

/* apr_table_elts: the entries of a table. */
const apr_array_header_t *rustgi_shim_table_elts(const apr_table_t *t);

/* Appends a FLUSH or an EOS bucket (APR_BRIGADE_INSERT_TAIL). */
void rustgi_shim_brigade_append_flush(apr_bucket_brigade *bb);
void rustgi_shim_brigade_append_eos(apr_bucket_brigade *bb);
/* Appends an error bucket with status, as mod_proxy does for a broken backend. */
void rustgi_shim_brigade_append_error(apr_bucket_brigade *bb, int status, apr_pool_t *p);

/* 1 when the brigade holds an EOS bucket (APR_BUCKET_IS_EOS over the ring). */
int rustgi_shim_brigade_has_eos(apr_bucket_brigade *bb);

#endif
