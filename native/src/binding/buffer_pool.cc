// Backend.createBufferPool: one buffer.memory shared by several accumulators (see
// core::MemoryBudget). The JS object is opaque to callers: available() and total(), and a
// type tag by which createAccumulator recognizes it (a look-alike object is a TypeError).
#include <napi.h>

#include "../core/accumulator.h"
#include "bindings.h"

namespace kafka_turbo {
namespace binding {
namespace {

// Marks the objects made here, so that UnwrapBufferPool never takes another wrapped object
// for one of ours.
constexpr napi_type_tag kBufferPoolTag = {0x6b61666b61747562ull, 0x6f62756666706f6cull};

// @thread JS (finalizer of the pool object)
void ReleaseBudget(napi_env /*env*/, void* data, void* /*hint*/) {
  static_cast<core::MemoryBudget*>(data)->Unref();
}

core::MemoryBudget* This(napi_env env, napi_callback_info info, const char* fn) {
  napi_value self = nullptr;
  size_t argc = 0;
  if (napi_get_cb_info(env, info, &argc, nullptr, &self, nullptr) != napi_ok) {
    ThrowTypeError(env, fn, "could not read the call");
    return nullptr;
  }
  return UnwrapBufferPool(env, self, fn);
}

// available(): bytes left under the limit
// @thread JS
napi_value Available(napi_env env, napi_callback_info info) {
  core::MemoryBudget* budget = This(env, info, "available");
  if (budget == nullptr) return nullptr;
  napi_value v = nullptr;
  napi_create_double(env, budget->Available(), &v);
  return v;
}

// total(): the limit it was created with
// @thread JS
napi_value Total(napi_env env, napi_callback_info info) {
  core::MemoryBudget* budget = This(env, info, "total");
  if (budget == nullptr) return nullptr;
  napi_value v = nullptr;
  napi_create_double(env, budget->total(), &v);
  return v;
}

// createBufferPool(totalBytes: number): BufferPool
// @thread JS
napi_value CreateBufferPool(napi_env env, napi_callback_info info) {
  static const char* const kFn = "createBufferPool";
  size_t argc = 1;
  napi_value argv[1] = {nullptr};
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) {
    return ThrowTypeError(env, kFn, "could not read the call");
  }
  double total = 0;
  if (argc < 1 || napi_get_value_double(env, argv[0], &total) != napi_ok) {
    return ThrowTypeError(env, kFn, "totalBytes must be a number");
  }
  if (!(total >= 0)) return ThrowRangeError(env, kFn, "totalBytes must be a number >= 0");
  napi_value object = nullptr;
  napi_value available = nullptr;
  napi_value total_fn = nullptr;
  if (napi_create_object(env, &object) != napi_ok ||
      napi_create_function(env, "available", NAPI_AUTO_LENGTH, Checked<Available>, nullptr, &available) != napi_ok ||
      napi_create_function(env, "total", NAPI_AUTO_LENGTH, Checked<Total>, nullptr, &total_fn) != napi_ok ||
      napi_set_named_property(env, object, "available", available) != napi_ok ||
      napi_set_named_property(env, object, "total", total_fn) != napi_ok ||
      napi_type_tag_object(env, object, &kBufferPoolTag) != napi_ok) {
    return ThrowTypeError(env, kFn, "could not create the pool object");
  }
  auto* budget = new core::MemoryBudget(total);
  if (napi_wrap(env, object, budget, ReleaseBudget, nullptr, nullptr) != napi_ok) {
    budget->Unref();
    return ThrowTypeError(env, kFn, "could not create the pool object");
  }
  return object;
}

}  // namespace

core::MemoryBudget* UnwrapBufferPool(napi_env env, napi_value value, const char* fn) {
  napi_valuetype t = napi_undefined;
  bool tagged = false;
  void* data = nullptr;
  if (napi_typeof(env, value, &t) != napi_ok || t != napi_object ||
      napi_check_object_type_tag(env, value, &kBufferPoolTag, &tagged) != napi_ok || !tagged ||
      napi_unwrap(env, value, &data) != napi_ok || data == nullptr) {
    ThrowTypeError(env, fn, "pool must be a BufferPool from this backend's createBufferPool()");
    return nullptr;
  }
  return static_cast<core::MemoryBudget*>(data);
}

void RegisterBufferPool(Napi::Env env, Napi::Object exports) {
  napi_value fn = nullptr;
  NAPI_THROW_IF_FAILED_VOID(env, napi_create_function(env, "createBufferPool", NAPI_AUTO_LENGTH,
                                                      Checked<CreateBufferPool>, nullptr, &fn));
  exports.Set("createBufferPool", Napi::Value(env, fn));
}

}  // namespace binding
}  // namespace kafka_turbo
