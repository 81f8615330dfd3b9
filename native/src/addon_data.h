// Per-environment state of the addon: one instance for each Node.js environment (the main
// thread and every worker thread that loads the addon), created in addon.cc and freed by
// Node when that environment is torn down. Nothing is shared between environments, so
// nothing here needs a lock.
#ifndef KAFKA_TURBO_ADDON_DATA_H_
#define KAFKA_TURBO_ADDON_DATA_H_

#include <napi.h>

namespace kafka_turbo {

struct AddonData {
  // Empty for now: the bindings that need per-environment state (error classes handed in
  // at init, constructors of native objects) keep their references here.
};

}  // namespace kafka_turbo

#endif  // KAFKA_TURBO_ADDON_DATA_H_
