/*
 * rustgi.h - the mod_rustgi application ABI, version 1.
 *
 * An app is a shared library that exports two symbols:
 *
 *   const uint32_t rustgi_abi_version;          the ABI version it was built for
 *   const rustgi_app *rustgi_app_entry(void);   its descriptor
 *
 * RUSTGI_DECLARE_APP(descriptor) defines both. The host (mod_rustgi, embedded
 * in an Apache child or in a daemon process) reads rustgi_abi_version from the
 * file before it runs any of the app's code, loads the library, calls init once
 * per app instance, handle once per request (from many threads at once) and
 * shutdown when the process stops.
 *
 * Growth: every struct starts with struct_size and abi_version. A side that
 * reads a struct made by the other side only touches fields that lie within
 * struct_size, so fields appended in later revisions of version 1 are invisible
 * to older apps and hosts. An incompatible change gets a new abi_version.
 *
 * Strings: a rustgi_str is a pointer and a length; it is not required to be
 * UTF-8. Every string the host hands to the app is also followed by a NUL
 * byte that is not counted in len, so C code may use ptr as a C string.
 *
 * Threads: handle is called concurrently from several threads. The request
 * callbacks (read_body, start_response, write, flush, and log with a request
 * ctx) may only be called by the thread that is running handle, before handle
 * returns. log with ctx == NULL may be called from any thread between init
 * and shutdown.
 *
 * The full description is docs/abi.md.
 */
#ifndef RUSTGI_H
#define RUSTGI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RUSTGI_ABI_VERSION 1u

/* Return codes of the host callbacks and of the app's init and handle. */
#define RUSTGI_OK 0
#define RUSTGI_ERROR (-1)

/* Log levels, numbered as Apache's APLOG_* levels. */
#define RUSTGI_LOG_EMERG 0
#define RUSTGI_LOG_ALERT 1
#define RUSTGI_LOG_CRIT 2
#define RUSTGI_LOG_ERR 3
#define RUSTGI_LOG_WARNING 4
#define RUSTGI_LOG_NOTICE 5
#define RUSTGI_LOG_INFO 6
#define RUSTGI_LOG_DEBUG 7
#define RUSTGI_LOG_TRACE1 8

typedef struct rustgi_str {
    const char *ptr;
    size_t len;
} rustgi_str;

typedef struct rustgi_pair {
    rustgi_str name;
    rustgi_str value;
} rustgi_pair;

/* Services the host offers to the app. ctx is the ctx field of the
 * rustgi_init or rustgi_request the app was given (or NULL for log, see the
 * threading rules above). The host fills in every callback; none is NULL. */
typedef struct rustgi_host_api {
    uint32_t struct_size;
    uint32_t abi_version;

    /* Reads up to len bytes of the request body, de-chunked. Returns the
     * number of bytes read (> 0), 0 at the end of the body, or RUSTGI_ERROR
     * when the body cannot be read (client gone, malformed chunking, body over
     * LimitRequestBody); the host then answers with the matching 4xx status
     * if the response has not started. */
    intptr_t (*read_body)(void *ctx, uint8_t *buf, size_t len);

    /* Sets the status and the headers. May be called again to replace them
     * until the first byte of the body has been written or flushed. Refuses
     * (RUSTGI_ERROR, and a line in error_log) a status outside 200..599, a
     * header name that is not an HTTP token, and a value holding CR, LF, NUL
     * or another control character but TAB. Hop-by-hop headers
     * (Connection, Transfer-Encoding, ...) are dropped: framing is Apache's. */
    int32_t (*start_response)(void *ctx, uint16_t status,
                              const rustgi_pair *headers, size_t headers_len);

    /* Writes body bytes. The host buffers small writes; RUSTGI_ERROR means
     * the client is gone or start_response was not called: stop writing. */
    int32_t (*write)(void *ctx, const uint8_t *buf, size_t len);

    /* Sends everything written so far to the client now. */
    int32_t (*flush)(void *ctx);

    /* Writes msg to Apache's error_log at level (RUSTGI_LOG_*). */
    void (*log)(void *ctx, int32_t level, const char *msg, size_t len);

    /* Revision 1.2, optional: NULL in a host that does not offer it, and
     * beyond the struct_size of an older host (read it only when struct_size
     * covers it). Sends len bytes of the regular file open at fd, from
     * offset, as body bytes after those written before. The host does not
     * take fd: it keeps its own reference, so the app may close fd as soon
     * as the call returns, but must not change the file's bytes in that
     * range until the response is over. Embedded, the range goes to
     * Apache's output filters as a file bucket (sendfile where
     * EnableSendfile allows); in daemon mode the descriptor itself goes to
     * the Apache child over the group's socket, so the daemon process never
     * reads the file. RUSTGI_ERROR (and a line in error_log) when fd is not
     * a regular file, the range passes its end, start_response was not
     * called, or the client is gone. */
    int32_t (*send_file)(void *ctx, int32_t fd, uint64_t offset, uint64_t len);
} rustgi_host_api;

/* What init gets: the configuration (RustgiAppConfig pairs of the virtual
 * host the app is mounted in). On failure init returns RUSTGI_ERROR and
 * writes a message, NUL-terminated and truncated to error_cap, into error.
 * config is valid during the call; api stays valid until shutdown returns. */
typedef struct rustgi_init {
    uint32_t struct_size;
    uint32_t abi_version;
    const rustgi_pair *config;
    size_t config_len;
    const rustgi_host_api *api;
    void *ctx;
    char *error;
    size_t error_cap;
} rustgi_init;

/* One request. environ holds the CGI/WSGI variables; config the
 * RustgiAppConfig pairs in effect for this request's URL. */
typedef struct rustgi_request {
    uint32_t struct_size;
    uint32_t abi_version;
    const rustgi_pair *environ;
    size_t environ_len;
    const rustgi_pair *config;
    size_t config_len;
    const rustgi_host_api *api;
    void *ctx;
} rustgi_request;

/* The app's descriptor. handle returns RUSTGI_OK, or RUSTGI_ERROR when it
 * failed: before the response started the host answers 500, after it the
 * host cuts the response short so the client cannot take it as complete.
 * init, handle and shutdown must not be NULL; name may be. shutdown is called
 * once per instance, after every handle call on it has returned. */
typedef struct rustgi_app {
    uint32_t struct_size;
    uint32_t abi_version;
    const char *name;
    int32_t (*init)(const rustgi_init *init, void **instance);
    int32_t (*handle)(void *instance, const rustgi_request *request);
    void (*shutdown)(void *instance);
    /* Revision 1.1, optional (NULL, or beyond an older app's struct_size):
     * writes what the instance says about itself, a JSON object, into buf
     * (at most cap bytes, NUL-terminated) and returns the length of the
     * whole text. Called from any thread, also while requests run; the
     * status page shows it. */
    size_t (*status)(void *instance, char *buf, size_t cap);
} rustgi_app;

#define RUSTGI_EXPORT __attribute__((visibility("default")))

/* Exports rustgi_abi_version and rustgi_app_entry for a descriptor. */
#define RUSTGI_DECLARE_APP(descriptor)                                       \
    RUSTGI_EXPORT const uint32_t rustgi_abi_version = RUSTGI_ABI_VERSION;    \
    RUSTGI_EXPORT const rustgi_app *rustgi_app_entry(void) { return &(descriptor); }

#ifdef __cplusplus
}
#endif

#endif /* RUSTGI_H */
