#include "vk-test.h"
int main(void) { return TEST_SKIP; }
