// The binding layer: one file per Backend member. Each one unpacks JavaScript arguments,
// calls the plain C++ core, and converts the result or the error back; no logic of its own.
#ifndef KAFKA_TURBO_BINDING_BINDINGS_H_
#define KAFKA_TURBO_BINDING_BINDINGS_H_

#include <napi.h>

namespace kafka_turbo {
namespace binding {

// crc32c(buf: Uint8Array, init?: number): number and crc32cImpl(): string.
// @thread JS (the environment's own thread, at module init)
void RegisterCrc32c(Napi::Env env, Napi::Object exports);

}  // namespace binding
}  // namespace kafka_turbo

#endif  // KAFKA_TURBO_BINDING_BINDINGS_H_
