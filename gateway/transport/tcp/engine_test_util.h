// Helpers for transport tests that run a real Target behind real TcpListeners.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "gateway/runtime/reactor.h"
#include "gateway/transport/tcp/tcp_queue.h"
#include "gateway/transport/tcp/tcp_transport.h"
#include "gateway/nvmf/target.h"

namespace nvmeof::test {

// A Target whose listeners are real TcpListeners on `group`, with one subsystem (any host
// allowed) listening on a free 127.0.0.1 port.
struct ListeningTarget {
  ListeningTarget(ReactorGroup& group, const TargetOptions& o, const char* nqn) : target(o) {
    EXPECT_TRUE(RegisterTcpTransport(transports, &target, group).ok());
    target.SetTransports(&transports);
    SubsystemSpec s;
    s.nqn = nqn;
    s.allow_any_host = true;
    EXPECT_TRUE(target.AddSubsystem(s).ok());
    for (port = static_cast<uint16_t>(24000 + getpid() % 20000);; port++) {
      ListenerSpec l;
      l.traddr = "127.0.0.1";
      l.trsvcid = std::to_string(port);
      if (target.AddListener(nqn, l).ok()) break;
    }
  }
  Target target;
  TransportRegistry transports;  // closes the listener before the target goes
  uint16_t port = 0;
};

// Lets the first reactor of `group` run a few rounds of posted work, so connections the
// host closed are torn down before the group stops (the ASan build checks for leaks).
inline void SettleReactor(ReactorGroup& group) {
  for (int i = 0; i < 3; i++) {
    std::promise<void> turn;
    group.at(0).Post([&] { turn.set_value(); });
    turn.get_future().wait();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace nvmeof::test
