// Backend.crc32c: unpack the bytes and the init value, call the core, return the number.
// Argument shapes are the only thing checked here (a wrong shape would otherwise read
// garbage); TypeScript validates anything further before it calls.
#include <napi.h>

#include <cstddef>
#include <cstdint>

#include "../crc32c/crc32c.h"
#include "bindings.h"

namespace kafka_turbo {
namespace binding {
namespace {

// crc32c(buf: Uint8Array, init = 0): number, an unsigned 32-bit CRC32C of buf continuing
// from init. Any Uint8Array view (a Buffer, a subarray at any offset) is read in place.
// Written against the C Node-API rather than node-addon-api's CallbackInfo, which fetches
// and wraps more than this needs: the call costs tens of nanoseconds either way, and for
// the small buffers Kafka batches often are that overhead is most of the time.
// @thread JS (the calling environment's thread); runs to completion, no JS calls inside.
napi_value Crc32c(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void* data = nullptr;
  // One call both checks that buf is a typed array and fetches its bytes.
  if (argc < 1 ||
      napi_get_typedarray_info(env, argv[0], &type, &length, &data, nullptr, nullptr) !=
          napi_ok ||
      type != napi_uint8_array) {
    napi_throw_type_error(env, nullptr, "crc32c: buf must be a Uint8Array");
    return nullptr;
  }
  uint32_t init = 0;
  if (argc >= 2) {
    napi_valuetype init_type = napi_undefined;
    napi_typeof(env, argv[1], &init_type);
    // ToUint32 semantics, as `init >>> 0` in JavaScript; undefined means 0.
    if (init_type != napi_undefined && napi_get_value_uint32(env, argv[1], &init) != napi_ok) {
      napi_throw_type_error(env, nullptr, "crc32c: init must be a number");
      return nullptr;
    }
  }
  const uint32_t crc = crc32c::Extend(init, static_cast<const uint8_t*>(data), length);
  napi_value result = nullptr;
  napi_create_uint32(env, crc, &result);
  return result;
}

// crc32cImpl(): 'avx512-vpclmul' | 'sse42' | 'table', the level crc32c() runs.
// @thread JS
Napi::Value Crc32cImpl(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), crc32c::LevelName(crc32c::ActiveLevel()));
}

}  // namespace

void RegisterCrc32c(Napi::Env env, Napi::Object exports) {
  napi_value crc32c_fn = nullptr;
  NAPI_THROW_IF_FAILED_VOID(
      env, napi_create_function(env, "crc32c", NAPI_AUTO_LENGTH, Checked<Crc32c>, nullptr, &crc32c_fn));
  exports.Set("crc32c", Napi::Value(env, crc32c_fn));
  exports.Set("crc32cImpl", Napi::Function::New(env, Crc32cImpl, "crc32cImpl"));
}

}  // namespace binding
}  // namespace kafka_turbo
