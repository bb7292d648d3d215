// libjpeg-turbo (Debian libjpeg62-turbo-dev). Only CImageCodecs calls it:
// libjpeg's default error handler calls exit(), so all calls go through the
// shim's setjmp/longjmp error manager.
#include <stdio.h>
#include <jpeglib.h>
