#include "gateway/protocol/nvme_tcp.h"
