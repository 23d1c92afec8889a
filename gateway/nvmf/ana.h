// Asymmetric Namespace Access: the gateway's one table of ANA states (AnaTable, owned by
// the Target) and the ANA log page (Get Log Page 0Ch) built from it.
//
// A state belongs to an ANA group and holds on every path through this gateway (every
// listener of every subsystem). A subsystem may carry its own state for a group: the
// management API's set_ana_state is per subsystem, and keeps what it was told for a
// subsystem not created yet. Unset means the table's unset state: optimized, unless the
// gateway waits for an authority before serving a group (gateway-group HA, the Ceph monitor
// client): inaccessible.
//
// Threads: states change from the management plane (Target::SetAnaState /
// SetAnaGroupState, any thread); readers (Subsystem::BuildTable, the log page on the admin
// queue's reactor) take the table's mutex: control-plane speed. The I/O path reads the
// state from its namespace snapshot (NsTable::ana_state), never from here.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "gateway/common/status.h"
#include "gateway/protocol/nvme.h"
#include "gateway/nvmf/errc.h"
#include "gateway/protocol/nvme.h"

namespace nvmeof {

class Controller;

// ANATT (Identify Controller): how long a group's move between gateways may take as a host
// sees it. Gateway-group HA keeps within it with its default timings: the lease (2 s,
// until the taker may fence the silent owner) plus the drain bound (5 s, the old owner's
// in-flight I/O; gateway/ha/ha_manager.h checks the sum at compile time).
constexpr uint8_t kAnaTransitionTimeSec = 10;

class AnaTable {
 public:
  explicit AnaTable(uint8_t unset = nvme::kAnaOptimized) : unset_(unset) {}
  // The state of group `grpid` for subsystem `nqn`: its own, else the group's, else `unset`.
  uint8_t State(const std::string& nqn, uint32_t grpid) const;
  // Each returns true if the state changed (and then counts one change).
  bool SetGroup(uint32_t grpid, uint8_t state);
  bool SetForSubsystem(const std::string& nqn, uint32_t grpid, uint8_t state);
  // Drops the subsystem's own states (it was deleted).
  void ForgetSubsystem(const std::string& nqn);
  // Changes so far: the ANA log page's Change Count.
  uint64_t change_count() const;

 private:
  const uint8_t unset_;
  mutable std::mutex mu_;
  std::map<uint32_t, uint8_t> groups_;
  std::map<std::string, std::map<uint32_t, uint8_t>> subsystems_;
  uint64_t change_count_ = 0;
};

// InvalidArgument unless `state` is one of the ANA states (NVMe Base 2.0, 8.1.3).
Status CheckAnaState(uint8_t state);
// "optimized", "non-optimized", "inaccessible", "persistent loss", "changing".
const char* AnaStateName(uint8_t state);

// The ANA log page as controller `c` sees it: one descriptor per ANA group that has a
// namespace visible to the host; with `groups_only` (LSP bit 0) without the NSID lists.
std::vector<uint8_t> AnaLogPage(Controller& c, bool groups_only);

}  // namespace nvmeof
