// Module init and per-environment state of the kafka_turbo addon, nothing else: the
// functions it exports live in binding/, the work they do in the plain C++ core.
//
// Init runs once per environment (main thread, each worker thread) on that environment's
// JS thread. It refuses to load, with the core's own message, when KAFKA_TURBO_CRC32C
// forces a CRC32C level this CPU cannot run: the loader reports that reason instead of
// silently measuring or testing another level.
#include <napi.h>

#include "addon_data.h"
#include "binding/bindings.h"
#include "crc32c/crc32c.h"

namespace kafka_turbo {
namespace {

// @thread JS (the environment being initialized)
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  if (const char* error = crc32c::DispatchError()) {
    Napi::Error e = Napi::Error::New(env, error);
    e.Set("code", Napi::String::New(env, "ERR_KAFKA_TURBO_CRC32C_LEVEL"));
    e.ThrowAsJavaScriptException();
    return exports;
  }
  env.SetInstanceData<AddonData>(new AddonData());
  binding::RegisterCrc32c(env, exports);
  binding::RegisterRecordBatch(env, exports);  // first: it creates the property keys
  binding::RegisterAccumulator(env, exports);
  binding::RegisterBufferPool(env, exports);
  binding::RegisterMemoryStats(env, exports);
#if defined(KAFKA_TURBO_IO_URING)
  binding::RegisterUring(env, exports);
#endif
  return exports;
}

}  // namespace
}  // namespace kafka_turbo

// NODE_API_MODULE pastes the name into an identifier, so it needs one without "::".
static Napi::Object InitKafkaTurbo(Napi::Env env, Napi::Object exports) {
  return kafka_turbo::Init(env, exports);
}

NODE_API_MODULE(kafka_turbo, InitKafkaTurbo)
