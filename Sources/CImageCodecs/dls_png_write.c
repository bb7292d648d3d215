// PNG encoding with libpng into a growing memory buffer (8-bit gray or RGB,
// no interlacing). Errors longjmp back to the setjmp here.
#include "dls_codecs.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t *data;
    size_t size;
    size_t capacity;
    char *msg;
    size_t msg_len;
} png_sink;

static void write_fn(png_structp png, png_bytep in, size_t n) {
    png_sink *s = (png_sink *)png_get_io_ptr(png);
    if (n > s->capacity - s->size) {
        size_t cap = s->capacity ? s->capacity : 4096;
        while (cap - s->size < n) {
            if (cap > SIZE_MAX / 2) png_error(png, "PNG too large");
            cap *= 2;
        }
        uint8_t *grown = (uint8_t *)realloc(s->data, cap);
        if (!grown) png_error(png, "out of memory");
        s->data = grown;
        s->capacity = cap;
    }
    memcpy(s->data + s->size, in, n);
    s->size += n;
}

static void flush_fn(png_structp png) { (void)png; }

static void write_error_fn(png_structp png, png_const_charp message) {
    png_sink *s = (png_sink *)png_get_error_ptr(png);
    if (s->msg && s->msg_len) snprintf(s->msg, s->msg_len, "%s", message);
    png_longjmp(png, 1);
}

static void write_warning_fn(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

int dls_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height, uint32_t channels, int level,
                   uint8_t **out, size_t *out_size, char *msg, size_t msg_len) {
    *out = NULL;
    *out_size = 0;
    if (!pixels || width == 0 || height == 0 || (channels != 1 && channels != 3)) {
        if (msg && msg_len) snprintf(msg, msg_len, "PNG encoding needs a non-empty 1- or 3-channel image");
        return DLS_ERR_UNSUPPORTED;
    }
    png_sink sink = {NULL, 0, 0, msg, msg_len};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, write_error_fn, write_warning_fn);
    if (!png) return DLS_ERR_CORRUPT;
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return DLS_ERR_CORRUPT;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(sink.data);
        return DLS_ERR_CORRUPT;
    }
    png_set_write_fn(png, &sink, write_fn, flush_fn);
    png_set_compression_level(png, level < 0 ? 6 : (level > 9 ? 9 : level));
    png_set_IHDR(png, info, width, height, 8, channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (uint32_t y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(pixels + (size_t)y * width * channels));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    *out = sink.data;
    *out_size = sink.size;
    return DLS_OK;
}
