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

/* Moves the buckets of b to the end of a, each set aside first (a transient
 * bucket, as mod_ssl's input gives, is copied to the heap; in-memory heap
 * buckets stay as they are), so that they outlive the next read. */
apr_status_t rustgi_shim_brigade_keep(apr_bucket_brigade *a, apr_bucket_brigade *b, apr_pool_t *p);

/* The data of the brigade's buckets, in order, without copying: fills
 * ptrs[i] and lens[i] for each bucket with data (metadata buckets are
 * skipped) and returns how many; -1 when there are more than max or a
 * bucket cannot be read. The pointers stay valid until the brigade is
 * cleaned up. */
int rustgi_shim_brigade_slices(apr_bucket_brigade *bb, const char **ptrs, apr_size_t *lens,
                               int max);

/* Appends len bytes of the open file fd, from offset, as file buckets
 * (apr_brigade_insert_file: sendfile where EnableSendfile allows). The pool
 * owns fd from the call on: it is closed when p is cleaned up, also when
 * this fails. The buckets never mmap the file: a file cut short while it is
 * sent must end the response with an error, not kill the process with
 * SIGBUS. */
apr_status_t rustgi_shim_brigade_append_file(apr_bucket_brigade *bb, int fd, apr_off_t offset,
                                             apr_off_t len, apr_pool_t *p);

/* The generation Apache's parent runs (the scoreboard's running_generation),
 * or -1 without a scoreboard. A child whose own generation differs belongs
 * to a configuration that a graceful restart is replacing. */
int rustgi_shim_running_generation(void);

#endif
