/*
 * The layout of the structs in rustgi.h and the values of its constants, as
 * the C compiler sees them. The unit tests of src/lib.rs compare this table
 * with the Rust mirror, so the two cannot drift apart unnoticed.
 */
#include <stddef.h>
#include <stdint.h>

#include "rustgi.h"

struct rustgi_layout_entry {
    const char *name;
    long long value;
};

#define STRUCT(t)                                      \
    {#t ".size", (long long)sizeof(t)},                \
    {#t ".align", (long long)_Alignof(t)}
#define FIELD(t, f)                                    \
    {#t "." #f ".offset", (long long)offsetof(t, f)},  \
    {#t "." #f ".size", (long long)sizeof(((t *)0)->f)}
#define CONSTANT(c) {#c, (long long)(c)}

__attribute__((visibility("hidden")))
const struct rustgi_layout_entry rustgi_layout_table[] = {
    STRUCT(rustgi_str),
    FIELD(rustgi_str, ptr),
    FIELD(rustgi_str, len),

    STRUCT(rustgi_pair),
    FIELD(rustgi_pair, name),
    FIELD(rustgi_pair, value),

    STRUCT(rustgi_host_api),
    FIELD(rustgi_host_api, struct_size),
    FIELD(rustgi_host_api, abi_version),
    FIELD(rustgi_host_api, read_body),
    FIELD(rustgi_host_api, start_response),
    FIELD(rustgi_host_api, write),
    FIELD(rustgi_host_api, flush),
    FIELD(rustgi_host_api, log),
    FIELD(rustgi_host_api, send_file),

    STRUCT(rustgi_init),
    FIELD(rustgi_init, struct_size),
    FIELD(rustgi_init, abi_version),
    FIELD(rustgi_init, config),
    FIELD(rustgi_init, config_len),
    FIELD(rustgi_init, api),
    FIELD(rustgi_init, ctx),
    FIELD(rustgi_init, error),
    FIELD(rustgi_init, error_cap),

    STRUCT(rustgi_request),
    FIELD(rustgi_request, struct_size),
    FIELD(rustgi_request, abi_version),
    FIELD(rustgi_request, environ),
    FIELD(rustgi_request, environ_len),
    FIELD(rustgi_request, config),
    FIELD(rustgi_request, config_len),
    FIELD(rustgi_request, api),
    FIELD(rustgi_request, ctx),

    STRUCT(rustgi_app),
    FIELD(rustgi_app, struct_size),
    FIELD(rustgi_app, abi_version),
    FIELD(rustgi_app, name),
    FIELD(rustgi_app, init),
    FIELD(rustgi_app, handle),
    FIELD(rustgi_app, shutdown),
    FIELD(rustgi_app, status),

    CONSTANT(RUSTGI_ABI_VERSION),
    CONSTANT(RUSTGI_OK),
    CONSTANT(RUSTGI_ERROR),
    CONSTANT(RUSTGI_LOG_EMERG),
    CONSTANT(RUSTGI_LOG_ALERT),
    CONSTANT(RUSTGI_LOG_CRIT),
    CONSTANT(RUSTGI_LOG_ERR),
    CONSTANT(RUSTGI_LOG_WARNING),
    CONSTANT(RUSTGI_LOG_NOTICE),
    CONSTANT(RUSTGI_LOG_INFO),
    CONSTANT(RUSTGI_LOG_DEBUG),
    CONSTANT(RUSTGI_LOG_TRACE1),
};

__attribute__((visibility("hidden")))
const size_t rustgi_layout_table_len =
    sizeof(rustgi_layout_table) / sizeof(rustgi_layout_table[0]);
