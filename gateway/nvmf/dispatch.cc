// Routing of commands to their handlers, and queue teardown.
#include "gateway/common/log.h"
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

void Target::QueueClosed(QueuePair* qp) {
  AbortThrottled(qp);
  UncountQueue(qp);
  std::shared_ptr<Controller> c = qp->controller();
  if (!c) return;
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
