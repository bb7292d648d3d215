#ifndef DLS_CODECS_H
#define DLS_CODECS_H

// A small C shim over libpng and libjpeg-turbo. Both libraries report errors
// by longjmp (libjpeg's default even calls exit()), which must never cross a
// Swift frame, so every library call happens here, between a setjmp and the
// return. Decoding is two-pass: `*_info` parses the header only, so the
// caller can refuse a decompression bomb before allocating; `*_decode` then
// fills a caller-owned buffer of exactly width * height * channels bytes.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Result codes.
enum {
    DLS_OK = 0,
    /// The data is not a valid image of that format, or is truncated.
    DLS_ERR_CORRUPT = 1,
    /// A valid file with a feature the shim does not decode.
    DLS_ERR_UNSUPPORTED = 2,
    /// The image's size does not match the caller's buffer.
    DLS_ERR_BUFFER = 3,
};

/// Declared size of an image; `channels` is what `*_decode` writes:
/// 1 (gray) or 3 (RGB), interleaved, row-major, 8 bits per channel.
typedef struct {
    uint32_t width;
    uint32_t height;
    uint32_t channels;
} dls_image_info;

/// Parses a PNG header. Writes a NUL-terminated message into `msg` on error.
int dls_png_info(const uint8_t *data, size_t size, dls_image_info *info, char *msg, size_t msg_len);

/// Decodes a PNG into `out` (`out_len` must equal width*height*channels from
/// `dls_png_info`). Palette, low bit depths and tRNS are expanded, 16-bit
/// samples keep their high byte, alpha is dropped (as Pillow's convert does),
/// interlacing is handled; gamma chunks are ignored (values are used as
/// stored, as Pillow and torchvision do).
int dls_png_decode(const uint8_t *data, size_t size, uint8_t *out, size_t out_len, char *msg, size_t msg_len);

/// Encodes 8-bit gray (1 channel) or interleaved RGB (3) pixels as a PNG
/// (zlib `level` 0-9, -1 for 6). On success `*out` is a malloc'd buffer of
/// `*out_size` bytes the caller frees.
int dls_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height, uint32_t channels, int level,
                   uint8_t **out, size_t *out_size, char *msg, size_t msg_len);

/// Parses a JPEG header.
int dls_jpeg_info(const uint8_t *data, size_t size, dls_image_info *info, char *msg, size_t msg_len);

/// Decodes a JPEG into `out` (gray stays gray, YCbCr/RGB/CMYK become RGB).
/// A truncated or corrupt stream is an error, not a gray-filled image.
int dls_jpeg_decode(const uint8_t *data, size_t size, uint8_t *out, size_t out_len, char *msg, size_t msg_len);

#ifdef __cplusplus
}
#endif

#endif
