// PNG decoding with libpng's low-level API (so every transform is explicit).
// libpng reports errors by longjmp to the setjmp in `png_run`.
#include "dls_codecs.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t pos;
    char *msg;
    size_t msg_len;
} png_source;

static void read_fn(png_structp png, png_bytep out, size_t n) {
    png_source *s = (png_source *)png_get_io_ptr(png);
    if (n > s->size - s->pos) {
        png_error(png, "truncated PNG data");
    }
    memcpy(out, s->data + s->pos, n);
    s->pos += n;
}

static void error_fn(png_structp png, png_const_charp message) {
    png_source *s = (png_source *)png_get_error_ptr(png);
    if (s->msg && s->msg_len) snprintf(s->msg, s->msg_len, "%s", message);
    png_longjmp(png, 1);
}

static void warning_fn(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;  // ancillary-chunk problems: libpng recovers, so do we
}

static void set_msg(char *msg, size_t msg_len, const char *text) {
    if (msg && msg_len) snprintf(msg, msg_len, "%s", text);
}

// Header only when out == NULL; otherwise a full decode into out.
static int png_run(const uint8_t *data, size_t size, dls_image_info *info, uint8_t *out, size_t out_len,
                   char *msg, size_t msg_len) {
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        set_msg(msg, msg_len, "not a PNG file (bad signature)");
        return DLS_ERR_CORRUPT;
    }
    png_source src = {data, size, 0, msg, msg_len};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, error_fn, warning_fn);
    if (!png) {
        set_msg(msg, msg_len, "libpng: cannot create read struct");
        return DLS_ERR_CORRUPT;
    }
    png_infop pinfo = png_create_info_struct(png);
    if (!pinfo) {
        png_destroy_read_struct(&png, NULL, NULL);
        set_msg(msg, msg_len, "libpng: cannot create info struct");
        return DLS_ERR_CORRUPT;
    }
    // Modified after setjmp and read after longjmp: must be volatile.
    png_bytep *volatile rows = NULL;
    volatile int result = DLS_ERR_CORRUPT;
    if (setjmp(png_jmpbuf(png))) {
        free(rows);
        png_destroy_read_struct(&png, &pinfo, NULL);
        return result;
    }
    png_set_read_fn(png, &src, read_fn);
    png_read_info(png, pinfo);

    png_uint_32 width = png_get_image_width(png, pinfo);
    png_uint_32 height = png_get_image_height(png, pinfo);
    int color_type = png_get_color_type(png, pinfo);
    int bit_depth = png_get_bit_depth(png, pinfo);
    uint32_t channels = (color_type & PNG_COLOR_MASK_COLOR) ? 3 : 1;
    if (info) {
        info->width = width;
        info->height = height;
        info->channels = channels;
    }
    if (!out) {
        png_destroy_read_struct(&png, &pinfo, NULL);
        return DLS_OK;
    }
    if ((size_t)width * height * channels != out_len) {
        set_msg(msg, msg_len, "output buffer does not match the image size");
        result = DLS_ERR_BUFFER;
        png_error(png, "output buffer does not match the image size");
    }
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (bit_depth == 16) png_set_strip_16(png);
    if (color_type & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    // tRNS is not expanded: alpha is dropped anyway.
    png_set_interlace_handling(png);
    png_read_update_info(png, pinfo);
    if (png_get_rowbytes(png, pinfo) != (size_t)width * channels) {
        set_msg(msg, msg_len, "unexpected row size after transforms");
        result = DLS_ERR_UNSUPPORTED;
        png_error(png, "unexpected row size after transforms");
    }
    rows = (png_bytep *)malloc(sizeof(png_bytep) * (height ? height : 1));
    if (!rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < height; y++) rows[y] = out + (size_t)y * width * channels;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    free(rows);
    png_destroy_read_struct(&png, &pinfo, NULL);
    return DLS_OK;
}

int dls_png_info(const uint8_t *data, size_t size, dls_image_info *info, char *msg, size_t msg_len) {
    return png_run(data, size, info, NULL, 0, msg, msg_len);
}

int dls_png_decode(const uint8_t *data, size_t size, uint8_t *out, size_t out_len, char *msg, size_t msg_len) {
    if (!out) {
        set_msg(msg, msg_len, "no output buffer");
        return DLS_ERR_BUFFER;
    }
    return png_run(data, size, NULL, out, out_len, msg, msg_len);
}
