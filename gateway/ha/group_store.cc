// The rules shared by every GroupStore: see group_store.h.
#include "gateway/ha/group_store.h"

#include <algorithm>

namespace nvmeof::ha {

void CntlidRangeFor(uint32_t group, uint16_t* min_cntlid, uint16_t* max_cntlid) {
  uint32_t lo = (group - 1) * kCntlidBlock + 1;
  uint32_t hi = std::min<uint32_t>(group * kCntlidBlock, 0xFFEF);
  *min_cntlid = static_cast<uint16_t>(lo);
  *max_cntlid = static_cast<uint16_t>(hi);
}

bool IsBlocklisted(const Status& s) { return s.Is(errc::kBlocklisted); }

uint32_t LowestFreeHomeGroup(const std::vector<MemberInfo>& members) {
  std::vector<bool> used(kMaxHomeGroups + 1, false);
  for (const auto& m : members)
    if (m.home_group >= 1 && m.home_group <= kMaxHomeGroups) used[m.home_group] = true;
  for (uint32_t g = 1; g <= kMaxHomeGroups; ++g)
    if (!used[g]) return g;
  return 0;
}

}  // namespace nvmeof::ha
