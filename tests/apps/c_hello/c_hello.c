/*
 * c_hello: a mod_rustgi app in plain C, written against rustgi.h only.
 *
 * init keeps the `greeting` config value (default "Hello from C"); handle
 * reads and discards the request body, then answers 200 text/plain with
 * "<greeting>: <PATH_INFO>\n".
 *
 * The root build.rs compiles it into $OUT_DIR/libc_hello.so for the tests.
 */
#include <stdlib.h>
#include <string.h>

#include "rustgi.h"

#define DEFAULT_GREETING "Hello from C"

typedef struct instance {
    char *greeting;
    size_t greeting_len;
} instance;

static int str_equals(rustgi_str s, const char *c) {
    size_t len = strlen(c);
    return s.len == len && (len == 0 || memcmp(s.ptr, c, len) == 0);
}

static const rustgi_str *find(const rustgi_pair *pairs, size_t len, const char *name) {
    for (size_t i = 0; i < len; i++) {
        if (str_equals(pairs[i].name, name)) {
            return &pairs[i].value;
        }
    }
    return NULL;
}

static void set_error(const rustgi_init *init, const char *msg) {
    if (init->error != NULL && init->error_cap > 0) {
        size_t len = strlen(msg);
        if (len > init->error_cap - 1) {
            len = init->error_cap - 1;
        }
        memcpy(init->error, msg, len);
        init->error[len] = '\0';
    }
}

static int32_t c_hello_init(const rustgi_init *init, void **out) {
    /* Only touch the fields that the host's struct holds. */
    if (init->abi_version != RUSTGI_ABI_VERSION || init->struct_size < sizeof(rustgi_init)) {
        return RUSTGI_ERROR;
    }
    const char *greeting = DEFAULT_GREETING;
    size_t greeting_len = strlen(DEFAULT_GREETING);
    const rustgi_str *configured = find(init->config, init->config_len, "greeting");
    if (configured != NULL) {
        greeting = configured->ptr;
        greeting_len = configured->len;
    }
    instance *self = malloc(sizeof *self);
    char *copy = malloc(greeting_len + 1);
    if (self == NULL || copy == NULL) {
        free(self);
        free(copy);
        set_error(init, "c_hello: out of memory");
        return RUSTGI_ERROR;
    }
    if (greeting_len > 0) {
        memcpy(copy, greeting, greeting_len);
    }
    copy[greeting_len] = '\0';
    self->greeting = copy;
    self->greeting_len = greeting_len;
    *out = self;

    static const char msg[] = "c_hello: initialized";
    init->api->log(init->ctx, RUSTGI_LOG_DEBUG, msg, sizeof msg - 1);
    return RUSTGI_OK;
}

static int32_t c_hello_handle(void *inst, const rustgi_request *req) {
    const instance *self = inst;
    if (req->abi_version != RUSTGI_ABI_VERSION || req->struct_size < sizeof(rustgi_request)) {
        return RUSTGI_ERROR;
    }
    const rustgi_host_api *api = req->api;

    /* Read and discard the request body. */
    uint8_t buf[16384];
    for (;;) {
        intptr_t n = api->read_body(req->ctx, buf, sizeof buf);
        if (n == 0) {
            break;
        }
        if (n < 0) {
            /* The host answers with the matching 4xx. */
            return RUSTGI_ERROR;
        }
    }

    const rustgi_str *path_info = find(req->environ, req->environ_len, "PATH_INFO");
    static const char content_type[] = "content-type";
    static const char text_plain[] = "text/plain; charset=utf-8";
    const rustgi_pair headers[] = {
        {{content_type, sizeof content_type - 1}, {text_plain, sizeof text_plain - 1}},
    };
    if (api->start_response(req->ctx, 200, headers, sizeof headers / sizeof headers[0]) != RUSTGI_OK) {
        return RUSTGI_ERROR;
    }
    if (api->write(req->ctx, (const uint8_t *)self->greeting, self->greeting_len) != RUSTGI_OK ||
        api->write(req->ctx, (const uint8_t *)": ", 2) != RUSTGI_OK ||
        (path_info != NULL && path_info->len > 0 &&
         api->write(req->ctx, (const uint8_t *)path_info->ptr, path_info->len) != RUSTGI_OK) ||
        api->write(req->ctx, (const uint8_t *)"\n", 1) != RUSTGI_OK) {
        return RUSTGI_ERROR;
    }
    return RUSTGI_OK;
}

static void c_hello_shutdown(void *inst) {
    instance *self = inst;
    if (self != NULL) {
        free(self->greeting);
        free(self);
    }
}

static const rustgi_app c_hello_app = {
    .struct_size = sizeof(rustgi_app),
    .abi_version = RUSTGI_ABI_VERSION,
    .name = "c_hello",
    .init = c_hello_init,
    .handle = c_hello_handle,
    .shutdown = c_hello_shutdown,
};

RUSTGI_DECLARE_APP(c_hello_app)
