/* Constant tables shared by the C reference and the shaders: a header
 * included by both holds
 *     TABLE_BEGIN(name, n)
 *             0x...u, 0x...u, ... (n 32-bit words, no trailing comma)
 *     TABLE_END
 * which is a static const uint32_t array in C and a const uint array in
 * GLSL (glslc defines VULKAN), so the two can never disagree. 64-bit grid
 * entries are stored as two words, low word first. */
#ifndef VKINFER_TABLE_H
#define VKINFER_TABLE_H
#ifdef VULKAN
#define TABLE_BEGIN(name, n) const uint name[n] = uint[](
#define TABLE_END );
#else
#include <stdint.h>
#define TABLE_BEGIN(name, n) static const uint32_t name[n] = {
#define TABLE_END };
#endif
#endif
