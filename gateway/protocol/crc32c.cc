#include "gateway/protocol/crc32c.h"
