// JPEG decoding with libjpeg-turbo. libjpeg's default error manager prints and
// calls exit(); ours formats the message and longjmps back to `jpeg_run`.
// Corrupt-data warnings (a truncated file makes libjpeg pad with gray and
// warn "Premature end of JPEG file") are errors too.
#include "dls_codecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char *msg;
    size_t msg_len;
} error_mgr;

static void error_exit(j_common_ptr cinfo) {
    error_mgr *err = (error_mgr *)cinfo->err;
    char buffer[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, buffer);
    if (err->msg && err->msg_len) snprintf(err->msg, err->msg_len, "%s", buffer);
    longjmp(err->jump, 1);
}

static void emit_message(j_common_ptr cinfo, int level) {
    if (level >= 0) return;  // trace messages
    // Stray bytes between markers are common in camera files and harmless.
    if (cinfo->err->msg_code == JWRN_EXTRANEOUS_DATA) return;
    error_exit(cinfo);
}

static void set_msg(char *msg, size_t msg_len, const char *text) {
    if (msg && msg_len) snprintf(msg, msg_len, "%s", text);
}

static int jpeg_run(const uint8_t *data, size_t size, dls_image_info *info, uint8_t *out, size_t out_len,
                    char *msg, size_t msg_len) {
    if (size < 3 || data[0] != 0xFF || data[1] != 0xD8 || data[2] != 0xFF) {
        set_msg(msg, msg_len, "not a JPEG file (bad signature)");
        return DLS_ERR_CORRUPT;
    }
    struct jpeg_decompress_struct cinfo;
    error_mgr err;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = error_exit;
    err.pub.emit_message = emit_message;
    err.msg = msg;
    err.msg_len = msg_len;
    volatile int result = DLS_ERR_CORRUPT;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return result;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);

    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    uint32_t channels = cinfo.jpeg_color_space == JCS_GRAYSCALE ? 1 : 3;
    if (cinfo.jpeg_color_space == JCS_UNKNOWN) {
        set_msg(msg, msg_len, "JPEG with an unknown color space");
        jpeg_destroy_decompress(&cinfo);
        return DLS_ERR_UNSUPPORTED;
    }
    if (info) {
        info->width = cinfo.image_width;
        info->height = cinfo.image_height;
        info->channels = channels;
    }
    if (!out) {
        jpeg_destroy_decompress(&cinfo);
        return DLS_OK;
    }
    if ((size_t)cinfo.image_width * cinfo.image_height * channels != out_len) {
        set_msg(msg, msg_len, "output buffer does not match the image size");
        jpeg_destroy_decompress(&cinfo);
        return DLS_ERR_BUFFER;
    }
    cinfo.out_color_space = channels == 1 ? JCS_GRAYSCALE : (cmyk ? JCS_CMYK : JCS_RGB);
    jpeg_start_decompress(&cinfo);
    size_t width = cinfo.output_width;
    JSAMPARRAY cmyk_row = NULL;
    if (cmyk) {
        cmyk_row = (*cinfo.mem->alloc_sarray)((j_common_ptr)&cinfo, JPOOL_IMAGE, (JDIMENSION)(width * 4), 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        uint8_t *row = out + (size_t)cinfo.output_scanline * width * channels;
        if (!cmyk) {
            JSAMPROW rows[1] = {row};
            jpeg_read_scanlines(&cinfo, rows, 1);
            continue;
        }
        jpeg_read_scanlines(&cinfo, cmyk_row, 1);
        const uint8_t *src = cmyk_row[0];
        // Adobe writes inverted CMYK; plain CMYK is inverted here first.
        int inverted = cinfo.saw_Adobe_marker;
        for (size_t x = 0; x < width; x++) {
            unsigned c = src[4 * x], m = src[4 * x + 1], yv = src[4 * x + 2], k = src[4 * x + 3];
            if (!inverted) {
                c = 255 - c;
                m = 255 - m;
                yv = 255 - yv;
                k = 255 - k;
            }
            row[3 * x] = (uint8_t)((c * k + 127) / 255);
            row[3 * x + 1] = (uint8_t)((m * k + 127) / 255);
            row[3 * x + 2] = (uint8_t)((yv * k + 127) / 255);
        }
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    (void)result;
    return DLS_OK;
}

int dls_jpeg_info(const uint8_t *data, size_t size, dls_image_info *info, char *msg, size_t msg_len) {
    return jpeg_run(data, size, info, NULL, 0, msg, msg_len);
}

int dls_jpeg_decode(const uint8_t *data, size_t size, uint8_t *out, size_t out_len, char *msg, size_t msg_len) {
    if (!out) {
        set_msg(msg, msg_len, "no output buffer");
        return DLS_ERR_BUFFER;
    }
    return jpeg_run(data, size, NULL, out, out_len, msg, msg_len);
}
