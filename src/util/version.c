#include "vkinfer/vkinfer.h"

const char *vkinfer_version(void) {
        return VKINFER_VERSION;
}
