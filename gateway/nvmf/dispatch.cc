// Routing of commands to their handlers, queue teardown, and the per-reactor queue counters.
#include <algorithm>

#include "gateway/common/log.h"
#include "gateway/runtime/reactor.h"
#include "gateway/nvmf/auth.h"
#include "gateway/nvmf/commands.h"
#include "gateway/nvmf/controller.h"
#include "gateway/nvmf/target.h"

namespace nvmeof {

using namespace nvme;

void CompleteWith(QueuePair* qp, Request* req, nvme::Status s) {
  req->SetStatus(s);
  if (!s.ok() && qp->controller()) {
    Controller& c = *qp->controller();
    c.RecordError(*req, qp->qid());
    c.target()->probe().Count(c.target()->probe().errors_by_sct[s.sct & 7]);
  }
  qp->Complete(req);
}

void Target::Execute(QueuePair* qp, Request* req) {
  const Sqe& cmd = req->cmd;
  if (cmd.opcode == kAdminFabrics) return ExecuteFabrics(*this, qp, req);
  if (!qp->connected()) {
    // Nothing but Connect is allowed before the queue is connected.
    return CompleteWith(qp, req, Generic(kScCommandSequenceError));
  }
  // A queue that must authenticate runs nothing else until it has.
  if (qp->auth && !qp->auth->allowed()) return CompleteWith(qp, req, CmdSpecific(kScAuthRequired));
  if (cmd.flags & 0x3) {  // fused operations are not supported
    return CompleteWith(qp, req, Generic(kScInvalidField));
  }
  if (qp->qid() == 0) return ExecuteAdmin(*this, qp, req);
  return ExecuteIo(*this, qp, req);
}

void Target::Unplug(QueuePair* qp) { UnplugIo(qp); }

void Target::QueueBound(QueuePair* qp) {
  const int i = qp->reactor().index();
  if (i < 0 || i >= kMaxPollGroups) return;
  PollGroupCounters& pg = poll_groups_[i];
  qp->poll_group = &pg;
  const bool admin = qp->qid() == 0;
  PollGroupCounters::Add(admin ? pg.admin_qpairs : pg.io_qpairs, 1);
  PollGroupCounters::Add(admin ? pg.current_admin_qpairs : pg.current_io_qpairs, 1);
}

std::vector<Target::PollGroupStats> Target::PollGroups(int n) const {
  std::vector<PollGroupStats> v;
  for (int i = 0; i < std::min(n, kMaxPollGroups); i++) {
    const PollGroupCounters& pg = poll_groups_[i];
    auto ld = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    v.push_back({ld(pg.admin_qpairs), ld(pg.io_qpairs), ld(pg.current_admin_qpairs), ld(pg.current_io_qpairs),
                 ld(pg.pending_io), ld(pg.completed_io)});
  }
  return v;
}

void Target::QueueClosed(QueuePair* qp) {
  AbortThrottled(qp);
  UncountQueue(qp);
  std::shared_ptr<Controller> c = qp->controller();
  if (!c) return;
  if (PollGroupCounters* pg = qp->poll_group)
    PollGroupCounters::Sub(qp->qid() == 0 ? pg->current_admin_qpairs : pg->current_io_qpairs, 1);
  if (qp->qid() == 0) {
    c->AbortAers();
    c->RemoveIoQueue(qp);  // clears the admin queue pointer
    c->Shutdown("admin queue closed");
    c->subsystem().ReleaseCntlid(c->cntlid());
    probe_.Count(probe_.controllers_destroyed);
    LOG_INFO("%s: controller destroyed", c->Describe().c_str());
  } else {
    c->RemoveIoQueue(qp);
  }
  qp->Unbind();
  qp->auth.reset();
}

void Target::ReleaseSnapshots(QueuePair* qp) {
  NsSnapshot* s = qp->ns_cache;
  while (s) {
    NsSnapshot* older = s->older;
    delete s;
    s = older;
  }
  qp->ns_cache = nullptr;
}

}  // namespace nvmeof
