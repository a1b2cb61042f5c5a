/* VkResult to negative errno: the one place it happens. */
#include "vk/vk.h"

#include <errno.h>

int vk_errno(VkResult r) {
        switch (r) {
        case VK_SUCCESS:
                return 0;
        case VK_NOT_READY:
        case VK_TIMEOUT:
                return -EAGAIN;
        case VK_ERROR_OUT_OF_HOST_MEMORY:
        case VK_ERROR_OUT_OF_DEVICE_MEMORY:
        case VK_ERROR_OUT_OF_POOL_MEMORY:
        case VK_ERROR_FRAGMENTED_POOL:
        case VK_ERROR_FRAGMENTATION:
                return -ENOMEM;
        case VK_ERROR_DEVICE_LOST:
                return -EIO;
        case VK_ERROR_INITIALIZATION_FAILED:
        case VK_ERROR_INCOMPATIBLE_DRIVER:
                return -ENODEV;
        case VK_ERROR_LAYER_NOT_PRESENT:
        case VK_ERROR_EXTENSION_NOT_PRESENT:
                return -ENOENT;
        case VK_ERROR_FEATURE_NOT_PRESENT:
        case VK_ERROR_FORMAT_NOT_SUPPORTED:
                return -ENOTSUP;
        case VK_ERROR_TOO_MANY_OBJECTS:
                return -EMFILE;
        case VK_ERROR_MEMORY_MAP_FAILED:
                return -EFAULT;
        default:
                return r < 0 ? -EIO : 0;
        }
}

const char *vk_result_string(VkResult r) {
        switch (r) {
#define X(c) case c: return #c;
        X(VK_SUCCESS) X(VK_NOT_READY) X(VK_TIMEOUT) X(VK_EVENT_SET) X(VK_EVENT_RESET) X(VK_INCOMPLETE)
        X(VK_ERROR_OUT_OF_HOST_MEMORY) X(VK_ERROR_OUT_OF_DEVICE_MEMORY) X(VK_ERROR_INITIALIZATION_FAILED)
        X(VK_ERROR_DEVICE_LOST) X(VK_ERROR_MEMORY_MAP_FAILED) X(VK_ERROR_LAYER_NOT_PRESENT)
        X(VK_ERROR_EXTENSION_NOT_PRESENT) X(VK_ERROR_FEATURE_NOT_PRESENT) X(VK_ERROR_INCOMPATIBLE_DRIVER)
        X(VK_ERROR_TOO_MANY_OBJECTS) X(VK_ERROR_FORMAT_NOT_SUPPORTED) X(VK_ERROR_FRAGMENTED_POOL)
        X(VK_ERROR_UNKNOWN) X(VK_ERROR_OUT_OF_POOL_MEMORY) X(VK_ERROR_FRAGMENTATION)
        X(VK_PIPELINE_COMPILE_REQUIRED)
#undef X
        default:
                return r < 0 ? "VK_ERROR_(unknown)" : "VK_(unknown status)";
        }
}

int vk_err(struct vkinfer_err *err, VkResult r, const char *what) {
        return err_set(err, vk_errno(r), "%s: %s (%d)", what, vk_result_string(r), (int) r);
}
