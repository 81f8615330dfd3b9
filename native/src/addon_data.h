// Per-environment state of the addon: one instance for each Node.js environment (the main
// thread and every worker thread that loads the addon), created in addon.cc and freed by
// Node when that environment is torn down. Nothing is shared between environments, so
// nothing here needs a lock.
#ifndef KAFKA_TURBO_ADDON_DATA_H_
#define KAFKA_TURBO_ADDON_DATA_H_

#include <napi.h>

#include "binding/bindings.h"

namespace kafka_turbo {

struct AddonData {
  // The binding::PropertyKey names as internalized strings, in an array (Node-API 8 can
  // only reference objects, not strings). Created by binding::RegisterRecordBatch; the
  // reference is deleted with this object (Node deletes the instance data before it
  // finalizes the environment's remaining references, and never frees userland ones).
  Napi::ObjectReference property_keys;
  // Scratch for turning JS records into core::RecordViews, reused by every call.
  binding::RecordUnpacker record_unpacker;
};

}  // namespace kafka_turbo

#endif  // KAFKA_TURBO_ADDON_DATA_H_
