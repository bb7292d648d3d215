// libpng 1.6 (Debian libpng-dev). Only CImageCodecs calls it; Swift code goes
// through that shim because libpng reports errors with longjmp.
#include <png.h>
