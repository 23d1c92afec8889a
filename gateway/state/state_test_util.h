// NullStateTarget: a StateTarget that accepts every change and does nothing (tests only).
// Tests derive from it and override the calls they watch.
#pragma once

#include <cstdint>
#include <string>

#include "gateway/state/state_applier.h"

namespace nvmeof::test {

class NullStateTarget : public StateTarget {
 public:
  Status AddSubsystem(const std::string&) override { return Status::OK(); }
  Status ChangeSubsystem(const std::string&, const std::string&) override { return Status::OK(); }
  Status RemoveSubsystem(const std::string&) override { return Status::OK(); }
  Status AddNamespace(const std::string&) override { return Status::OK(); }
  Status ChangeNamespace(const std::string&, const std::string&) override { return Status::OK(); }
  Status RemoveNamespace(const std::string&, uint32_t) override { return Status::OK(); }
  Status AddHost(const std::string&) override { return Status::OK(); }
  Status ChangeHost(const std::string&, const std::string&) override { return Status::OK(); }
  Status RemoveHost(const std::string&, const std::string&) override { return Status::OK(); }
  Status SetQos(const std::string&) override { return Status::OK(); }
  Status ClearQos(const std::string&, uint32_t) override { return Status::OK(); }
  Status AddNamespaceHost(const std::string&) override { return Status::OK(); }
  Status RemoveNamespaceHost(const std::string&, uint32_t, const std::string&) override { return Status::OK(); }
  Status AddListener(const std::string&) override { return Status::OK(); }
  Status RemoveListener(const std::string&) override { return Status::OK(); }
};

}  // namespace nvmeof::test
