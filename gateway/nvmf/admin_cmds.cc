// Admin commands: Identify, Get Log Page, Set/Get Features, Asynchronous Event Request,
// Keep Alive, Abort. Discovery controllers use the same handlers (Identify, Get Log Page
// 70h, features, AER, keep alive).
#include <algorithm>
#include <cstring>
#include <vector>

#include "gateway/common/log.h"
#include "gateway/nvmf/ana.h"
#include "gateway/nvmf/commands.h"
#include "gateway/nvmf/controller.h"
#include "gateway/nvmf/target.h"

namespace nvmeof {

using namespace nvme;

namespace {

// Copies a built structure into the host buffer: at most the transfer length; the rest of
// the buffer is zero.
void Reply(Request* req, const void* src, size_t len, size_t offset = 0) {
  uint32_t n = req->length;
  if (!req->data || n == 0) {
    req->c2h_len = 0;
    return;
  }
  memset(req->data, 0, n);
  if (offset < len) memcpy(req->data, static_cast<const uint8_t*>(src) + offset, std::min<size_t>(n, len - offset));
  req->c2h_len = n;
}

bool AnyVolatileCache(Subsystem& s) {
  for (auto& ns : s.Namespaces())
    if (ns->dev().info().volatile_write_cache) return true;
  return false;
}

// ----------------------------------------------------------------------------- Identify

void IdentifyController(Target& t, Controller& c, Request* req) {
  const auto& o = t.options();
  Subsystem& s = c.subsystem();
  auto id = std::make_unique<nvme::IdentifyController>();
  memset(id.get(), 0, sizeof(*id));
  CopyPadded(id->sn, sizeof(id->sn), s.spec().serial.c_str());
  CopyPadded(id->mn, sizeof(id->mn), s.spec().model.c_str());
  CopyPadded(id->fr, sizeof(id->fr), o.firmware_revision.c_str());
  id->rab = 6;
  id->mdts = o.mdts;
  id->cntlid = c.cntlid();
  id->ver = Version(1, 4);
  id->ctratt = 1u << 0;  // 128-bit host identifier
  id->acl = 3;
  id->aerl = Controller::kAerLimit - 1;
  id->frmw = 0x03;       // one slot, slot 1 read-only
  id->kas = 10;          // 1 s granularity
  id->sqes = 0x66;
  id->cqes = 0x44;
  id->maxcmd = static_cast<uint16_t>(o.max_queue_depth);
  id->sgls = (1u << 0) | (1u << 20);  // SGLs; offsets in SGL data block descriptors (in-capsule)
  CopyZeroPadded(id->subnqn, sizeof(id->subnqn), s.nqn().c_str());
  id->ioccsz = (sizeof(Sqe) + o.in_capsule_data_size) / 16;
  id->iorcsz = sizeof(Cqe) / 16;
  id->icdoff = 0;
  id->fcatt = 0;  // dynamic controller model
  id->msdbd = 1;
  id->ofcs = 1;  // Disconnect supported
  if (c.is_discovery()) {
    // Only the discovery log page: no error log, no commands supported and effects log.
    id->cntrltype = kCntrlTypeDiscovery;
    id->oaes = kOaesDiscoveryLogChange;
    id->lpa = 0x04;  // extended data for Get Log Page
  } else {
    id->lpa = 0x06;  // commands supported and effects log; extended data for Get Log Page
    id->elpe = 63;
    id->cntrltype = kCntrlTypeIo;
    id->cmic = kCmicMultiCtrl | kCmicAna;
    id->oaes = kOaesNsAttr | kOaesAnaChange;
    id->anatt = kAnaTransitionTimeSec;
    id->anacap = 0x1F;  // optimized, non-optimized, inaccessible, persistent loss, change
    id->anagrpmax = o.anagrpmax;
    id->nanagrpid = o.anagrpmax;
    id->nn = s.spec().max_namespaces;
    id->mnan = s.spec().max_namespaces;
    id->oncs = kOncsCompare | kOncsDsm | kOncsWriteZeroes;
    // Volatile write cache present when a backend caches (librbd with rbd_cache); a Flush
    // with the broadcast NSID is not supported (bits 2:1 = 10b).
    id->vwc = static_cast<uint8_t>((AnyVolatileCache(s) ? 1 : 0) | (0x2 << 1));
    id->awun = 0;
    id->awupf = 0;
  }
  Reply(req, id.get(), sizeof(*id));
}

void IdentifyNamespace(Namespace& ns, uint8_t ana_state, Request* req) {
  auto id = std::make_unique<nvme::IdentifyNamespace>();
  memset(id.get(), 0, sizeof(*id));
  uint64_t blocks = ns.num_blocks();
  id->nsze = id->ncap = id->nuse = blocks;
  id->nsfeat = 0x01;  // thin provisioned
  id->nlbaf = 0;
  id->flbas = 0;
  id->nmic = 0x01;  // may be shared by several controllers (multipath)
  id->dlfeat = ns.dev().info().discard_zeroes ? 0x09 : 0x00;
  uint32_t iob = ns.dev().info().optimal_io_boundary / ns.block_size();
  if (iob > 0 && iob <= 0xFFFF) id->noiob = static_cast<uint16_t>(iob);
  id->anagrpid = ns.anagrpid();
  id->nsattr = ns.spec().read_only ? 0x01 : 0x00;  // bit 0: write protected
  if (ana_state == kAnaInaccessible || ana_state == kAnaPersistentLoss) {
    // Still identify it: the host needs the ANA group to know where to go.
  }
  memcpy(id->nguid, ns.nguid().data(), 16);
  memcpy(id->eui64, ns.eui64().data(), 8);
  id->lbaf[0].lbads = ns.lbads();
  Reply(req, id.get(), sizeof(*id));
}

void Identify(Target& t, QueuePair* qp, Request* req) {
  Controller& c = *qp->controller();
  uint8_t cns = req->cmd.cdw10 & 0xFF;
  uint8_t csi = static_cast<uint8_t>(req->cmd.cdw11 >> 24);
  uint32_t nsid = req->cmd.nsid;
  // Every Identify data structure is 4 KiB; a shorter buffer cannot hold it.
  if (!req->data || req->length < 4096) return CompleteWith(qp, req, Generic(kScDataSglLengthInvalid));
  if (cns == kCnsController) {
    IdentifyController(t, c, req);
    return CompleteWith(qp, req, kSuccess);
  }
  if (c.is_discovery()) return CompleteWith(qp, req, Generic(kScInvalidField));
  Subsystem& s = c.subsystem();
  auto table = s.BuildTable(c.hostnqn());
  switch (cns) {
    case kCnsNamespace:
    case kCnsNsIdDescriptors:
    case kCnsIoCsNamespace: {
      // NSID FFFFFFFFh (capabilities common to all namespaces) exists only with Namespace
      // Management, which is not offered (OACS bit 3 clear).
      if (nsid == 0 || nsid > s.spec().max_namespaces) return CompleteWith(qp, req, Generic(kScInvalidNamespaceOrFormat));
      Namespace* ns = nsid < table->by_nsid.size() ? table->by_nsid[nsid].get() : nullptr;
      if (cns == kCnsIoCsNamespace) {
        if (csi != 0) return CompleteWith(qp, req, Generic(kScInvalidField));
        // NVM command set specific namespace data: nothing beyond the defaults.
        Reply(req, nullptr, 0);
        return CompleteWith(qp, req, ns ? kSuccess : Generic(kScInvalidNamespaceOrFormat));
      }
      if (cns == kCnsNamespace) {
        if (!ns) {
          // An allocated-but-inactive NSID reads as zeroes.
          Reply(req, nullptr, 0);
          return CompleteWith(qp, req, kSuccess);
        }
        IdentifyNamespace(*ns, table->ana_state[nsid], req);
        return CompleteWith(qp, req, kSuccess);
      }
      if (!ns) return CompleteWith(qp, req, Generic(kScInvalidNamespaceOrFormat));
      uint8_t buf[4096] = {};
      size_t off = 0;
      auto add = [&](uint8_t type, const uint8_t* v, uint8_t len) {
        NsIdDescriptorHeader h{type, len, 0};
        memcpy(buf + off, &h, sizeof(h));
        memcpy(buf + off + sizeof(h), v, len);
        off += sizeof(h) + len;
      };
      add(kNidEui64, ns->eui64().data(), 8);
      add(kNidNguid, ns->nguid().data(), 16);
      add(kNidUuid, ns->uuid().data(), 16);
      uint8_t csi_nvm = 0;
      add(kNidCsi, &csi_nvm, 1);
      Reply(req, buf, sizeof(buf));
      return CompleteWith(qp, req, kSuccess);
    }
    case kCnsActiveNsList:
    case kCnsIoCsActiveNsList: {
      if (nsid >= 0xFFFFFFFE) return CompleteWith(qp, req, Generic(kScInvalidNamespaceOrFormat));
      if (cns == kCnsIoCsActiveNsList && csi != 0) return CompleteWith(qp, req, Generic(kScInvalidField));
      uint32_t list[1024] = {};
      size_t n = 0;
      for (uint32_t id : table->active) {
        if (id > nsid && n < 1024) list[n++] = id;
      }
      Reply(req, list, sizeof(list));
      return CompleteWith(qp, req, kSuccess);
    }
    case kCnsIoCsController:
      if (csi != 0) return CompleteWith(qp, req, Generic(kScInvalidField));
      Reply(req, nullptr, 0);  // no NVM command set specific limits
      return CompleteWith(qp, req, kSuccess);
    default:
      return CompleteWith(qp, req, Generic(kScInvalidField));
  }
}

// ----------------------------------------------------------------------------- Log pages

void PutU128(uint8_t* dst, uint64_t v) {
  memset(dst, 0, 16);
  memcpy(dst, &v, 8);
}

void GetLogPage(Target& t, QueuePair* qp, Request* req) {
  Controller& c = *qp->controller();
  uint32_t cdw10 = req->cmd.cdw10;
  uint8_t lid = cdw10 & 0xFF;
  uint8_t lsp = (cdw10 >> 8) & 0x7F;
  bool rae = (cdw10 >> 15) & 1;
  uint64_t numd = ((static_cast<uint64_t>(req->cmd.cdw11 & 0xFFFF) << 16) | (cdw10 >> 16)) + 1;
  uint64_t offset = req->cmd.cdw12 | (static_cast<uint64_t>(req->cmd.cdw13) << 32);
  if (numd * 4 > req->length) return CompleteWith(qp, req, Generic(kScDataSglLengthInvalid));
  if (offset & 3) return CompleteWith(qp, req, Generic(kScInvalidField));
  std::vector<uint8_t> page;
  if (c.is_discovery()) {
    if (lid != kLogDiscovery) return CompleteWith(qp, req, CmdSpecific(kScInvalidLogPage));
    page = t.DiscoveryLogPage(c.hostnqn(), qp->port());
  } else {
    switch (lid) {
      case kLogErrorInfo: {
        auto errs = c.ErrorLog();
        page.resize(64 * sizeof(ErrorInfoEntry));
        if (!errs.empty())
          memcpy(page.data(), errs.data(), std::min(errs.size(), size_t{64}) * sizeof(ErrorInfoEntry));
        break;
      }
      case kLogSmartHealth: {
        if (req->cmd.nsid != 0 && req->cmd.nsid != 0xFFFFFFFF)
          return CompleteWith(qp, req, Generic(kScInvalidField));  // no per-namespace SMART
        SmartHealthLog sl{};
        sl.composite_temperature = 273 + 25;
        sl.available_spare = 100;
        sl.available_spare_threshold = 10;
        uint64_t rb = 0, wb = 0, rc = 0, wc = 0;
        for (auto& ns : c.subsystem().Namespaces()) {
          rb += ns->stats().read_bytes.load();
          wb += ns->stats().write_bytes.load();
          rc += ns->stats().ReadOps();
          wc += ns->stats().WriteOps();
        }
        // Data units are thousands of 512-byte units, rounded up.
        PutU128(sl.data_units_read, (rb / 512 + 999) / 1000);
        PutU128(sl.data_units_written, (wb / 512 + 999) / 1000);
        PutU128(sl.host_read_commands, rc);
        PutU128(sl.host_write_commands, wc);
        page.assign(reinterpret_cast<uint8_t*>(&sl), reinterpret_cast<uint8_t*>(&sl) + sizeof(sl));
        break;
      }
      case kLogFirmwareSlot: {
        page.assign(512, 0);
        page[0] = 1;  // active slot 1
        CopyPadded(reinterpret_cast<char*>(page.data() + 8), 8, t.options().firmware_revision.c_str());
        break;
      }
      case kLogChangedNsList: {
        // Checked before the list is taken: a failed read must not lose the changes.
        if (offset > sizeof(ChangedNsList)) return CompleteWith(qp, req, Generic(kScInvalidField));
        auto list = c.TakeChangedNs(!rae);
        page.assign(sizeof(ChangedNsList), 0);
        if (!list.empty()) memcpy(page.data(), list.data(), std::min(list.size(), size_t{1024}) * 4);
        break;
      }
      case kLogCommandsSupported: {
        CommandsEffectsLog l{};
        for (uint8_t op : {kAdminGetLogPage, kAdminIdentify, kAdminAbort, kAdminSetFeatures, kAdminGetFeatures,
                           kAdminAsyncEventRequest, kAdminKeepAlive})
          l.acs[op] = kCseCsupp;
        l.iocs[kIoFlush] = kCseCsupp;
        l.iocs[kIoWrite] = kCseCsupp | kCseLbcc;
        l.iocs[kIoRead] = kCseCsupp;
        l.iocs[kIoCompare] = kCseCsupp;
        l.iocs[kIoWriteZeroes] = kCseCsupp | kCseLbcc;
        l.iocs[kIoDatasetManagement] = kCseCsupp | kCseLbcc;
        page.assign(reinterpret_cast<uint8_t*>(&l), reinterpret_cast<uint8_t*>(&l) + sizeof(l));
        break;
      }
      case kLogAna:
        page = AnaLogPage(c, lsp & 1);
        LOG_DEBUG("%s: ANA log page read (offset %llu, RAE %d)", c.Describe().c_str(),
                  static_cast<unsigned long long>(offset), rae ? 1 : 0);
        break;
      default:
        return CompleteWith(qp, req, CmdSpecific(kScInvalidLogPage));
    }
  }
  // An offset beyond a fixed-size page is an invalid field. The ANA and discovery pages
  // vary in size: hosts size those reads for the largest page possible and fetch it in
  // chunks (nvme-cli's ana-log reads 4 KiB pieces of the maximum ANA log size), so past
  // their current end they read as zeroes.
  bool variable = lid == kLogAna || lid == kLogDiscovery;
  if (!variable && offset > page.size()) return CompleteWith(qp, req, Generic(kScInvalidField));
  // A read with RAE clear ends the masking of the page's notices (Controller::RaiseEvent).
  if (!rae && (lid == kLogDiscovery || lid == kLogChangedNsList || lid == kLogAna)) c.ClearEventMask(lid);
  Reply(req, page.data(), page.size(), offset);
  req->c2h_len = static_cast<uint32_t>(numd * 4);
  CompleteWith(qp, req, kSuccess);
}

// ----------------------------------------------------------------------------- Features

// Whether feature `fid` exists on this controller: a discovery controller has only the
// event, keep alive and host identifier features; Volatile Write Cache needs a cache.
bool FeatureExists(Controller& c, uint8_t fid) {
  switch (fid) {
    case kFeatAsyncEventConfig:
    case kFeatKeepAliveTimer:
    case kFeatHostIdentifier:
      return true;
    case kFeatVolatileWriteCache:
      return !c.is_discovery() && AnyVolatileCache(c.subsystem());
    case kFeatNumberOfQueues:
    case kFeatArbitration:
    case kFeatPowerManagement:
    case kFeatTemperatureThreshold:
    case kFeatErrorRecovery:
    case kFeatInterruptCoalescing:
    case kFeatWriteAtomicityNormal:
      return !c.is_discovery();
    default:
      return false;
  }
}

void SetFeatures(QueuePair* qp, Request* req) {
  Controller& c = *qp->controller();
  uint8_t fid = req->cmd.cdw10 & 0xFF;
  bool save = req->cmd.cdw10 >> 31;
  uint32_t v = req->cmd.cdw11;
  if (!FeatureExists(c, fid)) return CompleteWith(qp, req, Generic(kScInvalidField));
  if (save) return CompleteWith(qp, req, CmdSpecific(kScFeatureIdNotSaveable));  // nothing is saveable
  switch (fid) {
    case kFeatNumberOfQueues: {
      uint32_t nsqr = v & 0xFFFF, ncqr = v >> 16;
      if (nsqr == 0xFFFF || ncqr == 0xFFFF) return CompleteWith(qp, req, Generic(kScInvalidField));
      uint32_t n = std::min(std::min(nsqr, ncqr) + 1, qp->controller()->target()->options().max_io_queues);
      if (!c.SetNumIoQueues(n)) return CompleteWith(qp, req, Generic(kScCommandSequenceError));
      req->rsp.dw0 = (n - 1) | ((n - 1) << 16);
      return CompleteWith(qp, req, kSuccess);
    }
    case kFeatAsyncEventConfig:
      c.async_event_config.store(v);
      return CompleteWith(qp, req, kSuccess);
    case kFeatKeepAliveTimer:
      c.set_kato_ms(v);
      c.Touch();
      c.StartKeepAliveTimer();
      return CompleteWith(qp, req, kSuccess);
    case kFeatVolatileWriteCache:
      c.volatile_write_cache.store(v & 1);
      return CompleteWith(qp, req, kSuccess);
    case kFeatHostIdentifier:
      // On fabrics the host identifier comes with Connect and cannot be changed.
      return CompleteWith(qp, req, Generic(kScCommandSequenceError));
    default:
      return CompleteWith(qp, req, CmdSpecific(kScFeatureNotChangeable));
  }
}

void GetFeatures(QueuePair* qp, Request* req) {
  Controller& c = *qp->controller();
  uint8_t fid = req->cmd.cdw10 & 0xFF;
  uint8_t sel = (req->cmd.cdw10 >> 8) & 0x7;
  if (sel > 3) return CompleteWith(qp, req, Generic(kScInvalidField));
  if (sel == 2) sel = 1;  // saved: nothing is saveable, so the saved value is the default
  if (!FeatureExists(c, fid)) return CompleteWith(qp, req, Generic(kScInvalidField));
  uint32_t dw0 = 0;
  bool changeable = false;
  switch (fid) {
    case kFeatNumberOfQueues: {
      uint32_t n = sel == 1 ? c.target()->options().max_io_queues : c.num_io_queues_allowed();
      dw0 = (n - 1) | ((n - 1) << 16);
      changeable = true;  // Set Features before the first I/O queue
      break;
    }
    case kFeatAsyncEventConfig:
      dw0 = sel == 1 ? Controller::kDefaultAec : c.async_event_config.load();
      changeable = true;
      break;
    case kFeatKeepAliveTimer:
      dw0 = sel == 1 ? 0 : c.kato_ms();
      changeable = true;
      break;
    case kFeatVolatileWriteCache:
      dw0 = sel == 1 || c.volatile_write_cache.load() ? 1 : 0;  // enabled by default
      changeable = true;
      break;
    case kFeatHostIdentifier:
      if (!(req->cmd.cdw11 & 1)) return CompleteWith(qp, req, Generic(kScInvalidField));  // only 128-bit
      if (sel == 3) break;
      if (req->length < 16) return CompleteWith(qp, req, Generic(kScDataSglLengthInvalid));
      Reply(req, c.hostid().data(), 16);
      req->c2h_len = 16;
      break;
    case kFeatArbitration:
    case kFeatPowerManagement:
    case kFeatErrorRecovery:
    case kFeatInterruptCoalescing:
    case kFeatWriteAtomicityNormal:
      dw0 = 0;
      break;
    case kFeatTemperatureThreshold:
      dw0 = 273 + 70;
      break;
    default:
      return CompleteWith(qp, req, Generic(kScInvalidField));
  }
  if (sel == 3) dw0 = changeable ? 0x4 : 0x0;  // capabilities: changeable, not saveable
  req->rsp.dw0 = dw0;
  CompleteWith(qp, req, kSuccess);
}

}  // namespace

void ExecuteAdmin(Target& t, QueuePair* qp, Request* req) {
  Controller& c = *qp->controller();
  uint8_t op = req->cmd.opcode;
  if (!c.enabled() && op != kAdminKeepAlive) {
    // Only Fabrics commands are allowed while CC.EN is 0.
    return CompleteWith(qp, req, Generic(kScCommandSequenceError));
  }
  switch (op) {
    case kAdminIdentify:
      return Identify(t, qp, req);
    case kAdminGetLogPage:
      return GetLogPage(t, qp, req);
    case kAdminSetFeatures:
      return SetFeatures(qp, req);
    case kAdminGetFeatures:
      return GetFeatures(qp, req);
    case kAdminAsyncEventRequest:
      if (!c.AddAer(req)) return CompleteWith(qp, req, CmdSpecific(kScAsyncEventRequestLimitExceeded));
      return;  // completes when an event occurs
    case kAdminKeepAlive:
      c.Touch();
      return CompleteWith(qp, req, kSuccess);
    case kAdminAbort:
      if (c.is_discovery()) return CompleteWith(qp, req, Generic(kScInvalidOpcode));
      req->rsp.dw0 = 1;  // command not aborted
      return CompleteWith(qp, req, kSuccess);
    default:
      return CompleteWith(qp, req, Generic(kScInvalidOpcode));
  }
}

}  // namespace nvmeof
