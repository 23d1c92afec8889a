// Command handlers, one place per command family:
//   fabrics_cmds.cc  Connect, Property Get/Set, Disconnect, Authentication Send/Receive (auth.h)
//   admin_cmds.cc    Identify, Get Log Page (the discovery page: discovery.cc; ANA: ana.cc),
//                    Set/Get Features,
//                    Asynchronous Event Request, Keep Alive, Abort
//   io_cmds.cc       Read, Write, Flush, Write Zeroes, Dataset Management, Compare
// Each handler completes the request (qp->Complete) now or when its backend I/O is done.
#pragma once

#include "gateway/nvmf/request.h"

namespace nvmeof {

class Target;

void ExecuteFabrics(Target& t, QueuePair* qp, Request* req);
void ExecuteAdmin(Target& t, QueuePair* qp, Request* req);
void ExecuteIo(Target& t, QueuePair* qp, Request* req);
void AbortThrottled(QueuePair* qp);
// Ends the queue's batch (clears QueuePair::plugged): submits the reads and writes it held, each
// run of adjacent ones (same namespace and direction, each starting where the one before
// ended; at most kMaxMergedIos / kMaxMergedBytes) as one vectored backend I/O.
void UnplugIo(QueuePair* qp);

// Completes with a status (records errors in the controller's error log).
void CompleteWith(QueuePair* qp, Request* req, nvme::Status s);

}  // namespace nvmeof
