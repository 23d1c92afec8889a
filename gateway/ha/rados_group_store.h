// GroupStore in RADOS (group_store.h). Objects, in the pool of the group state:
//
//   nvmeof[.<group>].ha.members   omap gw_<name> = JSON {name, epoch, home_group, listeners,
//                                 addresses, min_cntlid, max_cntlid}; cls_lock "ha_members"
//                                 (exclusive, short) serialises registrations; cls_lock
//                                 "ha_alive" (shared, one cookie <name>/<epoch> per gateway,
//                                 with a duration) is the membership lease; watched for
//                                 notifies (hand-over, new member).
//   nvmeof[.<group>].ha.ana.<N>   ANA group N's lease: cls_lock "ha_lease" (exclusive,
//                                 cookie <name>/<epoch>, with a duration, renewed with
//                                 LIBRADOS_LOCK_FLAG_MUST_RENEW); omap holder_<name> = JSON
//                                 {name, epoch, addresses[, handover_to]}: written by the
//                                 holder right after taking the lock (and again, with
//                                 handover_to = the taker, as it starts draining for a
//                                 hand-over), removed by it after draining (release) or by
//                                 the gateway that fenced it.
//
// Fencing: `osd blocklist add <addr> <expire>` per address through the monitor, then
// rados_wait_for_latest_osdmap. The client needs mon caps for `osd blocklist`.
// Threads: as GroupStore; the watch callback runs on a librados thread.
#pragma once

#include <memory>
#include <string>

#include "gateway/common/status.h"
#include "gateway/ha/group_store.h"

namespace nvmeof::ha {

struct RadosGroupStoreOptions {
  std::string ceph_conf;            // empty: librados' default search
  std::string client_id = "admin";  // without "client."
  std::string keyring;              // optional
  std::string pool = "rbd";
  std::string group;                // the gateway group ("" = none)
  uint32_t connect_timeout_sec = 10;
  // rados_osd_op_timeout: a lease operation that takes longer fails (the watchdog has
  // self-fenced long before).
  uint32_t op_timeout_sec = 5;
  uint32_t mon_op_timeout_sec = 10;  // blocklisting
  uint32_t notify_timeout_ms = 1000;
};

// The object names (for tests and operators).
std::string HaMembersObject(const std::string& group);
std::string HaLeaseObject(const std::string& group, uint32_t ana_group);

Result<std::unique_ptr<GroupStore>> OpenRadosGroupStore(const RadosGroupStoreOptions& opts);

}  // namespace nvmeof::ha
