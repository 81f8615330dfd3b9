// Backend.encodeRecordBatch, and what every binding that takes records shares: the
// per-environment property keys and the RecordUnpacker (bindings.h). Unpack, call
// core/record_batch, return the Buffer; argument shapes are checked here (a wrong shape
// would otherwise read garbage), anything further is validated in TypeScript.
#include "../core/record_batch.h"

#include <cstdlib>
#include <string>

#include "../compress/codecs.h"
#include "../core/accumulator.h"

#include <napi.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "../addon_data.h"
#include "bindings.h"

namespace kafka_turbo {
namespace binding {
namespace {

// In PropertyKey order.
constexpr const char* kPropertyKeyNames[kPropertyKeyCount] = {
    "key",
    "value",
    "headers",
    "timestamp",
    "batchSize",
    "lingerMs",
    "bufferMemory",
    "codec",
    "compressionLevel",
    "producerId",
    "producerEpoch",
    "baseSequence",
    "transactional",
    "baseSequences",
    "appended",
    "batches",
    "partitions",
    "nextReadyInMs",
    "batchId",
    "partition",
    "recordCount",
    "bytes",
    "createdMs",
    "errorCode",
    "bufferedBytes",
    "undrainedBatches",
    "recordsCompleted",
    "recordsFailed",
    "pool",
};

using core::IsSafeInteger;

napi_value ThrowError(napi_env env, const char* fn, const char* what,
                      napi_status (*thrower)(napi_env, const char*, const char*)) {
  char message[256];
  std::snprintf(message, sizeof message, "%s: %s", fn, what);
  thrower(env, nullptr, message);
  return nullptr;
}

// Reads a Uint8Array (a Buffer or any view of one) or null. 1: bytes, 0: null, -1: neither.
int ReadNullableBytes(napi_env env, napi_value v, const uint8_t** data, int64_t* size) {
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void* bytes = nullptr;
  if (napi_get_typedarray_info(env, v, &type, &length, &bytes, nullptr, nullptr) == napi_ok) {
    if (type != napi_uint8_array) return -1;
    *data = static_cast<const uint8_t*>(bytes);
    *size = static_cast<int64_t>(length);
    return 1;
  }
  napi_valuetype t = napi_undefined;
  if (napi_typeof(env, v, &t) == napi_ok && t == napi_null) {
    *data = nullptr;
    *size = core::kNullLength;
    return 0;
  }
  return -1;
}

bool IsNullish(napi_env env, napi_value v) {
  napi_valuetype t = napi_undefined;
  return napi_typeof(env, v, &t) == napi_ok && (t == napi_null || t == napi_undefined);
}

// bigs[index] as bytes for core::UnpackPacked: false (Malformed) when it is not a
// Uint8Array, or when reading the element threw (its exception stays pending).
struct BigsContext {
  napi_env env;
  napi_value bigs;
};

bool ResolveBig(void* ctx, uint32_t index, const uint8_t** data, int64_t* size) {
  const BigsContext* b = static_cast<const BigsContext*>(ctx);
  napi_value big = nullptr;
  return napi_get_element(b->env, b->bigs, index, &big) == napi_ok &&
         ReadNullableBytes(b->env, big, data, size) > 0;
}

bool Malformed(napi_env env, const char* fn, size_t i) {
  char what[160];
  std::snprintf(what, sizeof what,
                "records[%zu] is malformed (keys, values and header values must be Buffers "
                "(Uint8Array) or null; header keys strings)",
                i);
  ThrowTypeError(env, fn, what);
  return false;
}

// Reads BatchHeaderInput {producerId: bigint, producerEpoch, baseSequence, transactional,
// codec} after the codec and record-count checks the fallback makes first.
bool ReadBatchInput(napi_env env, napi_value header, const char* fn, core::BatchInput* out) {
  napi_valuetype t = napi_undefined;
  if (napi_typeof(env, header, &t) != napi_ok || t != napi_object) {
    ThrowTypeError(env, fn, "header must be an object");
    return false;
  }
  napi_value v = nullptr;
  bool lossless = false;
  int64_t producer_id = 0;
  if (napi_get_property(env, header, GetPropertyKey(env, kKeyProducerId), &v) != napi_ok) {
    return false;
  }
  if (napi_get_value_bigint_int64(env, v, &producer_id, &lossless) != napi_ok) {
    ThrowTypeError(env, fn, "header.producerId must be a bigint (-1n when not idempotent)");
    return false;
  }
  if (!lossless) {
    ThrowRangeError(env, fn, "header.producerId must fit a signed 64-bit integer");
    return false;
  }
  double epoch = 0;
  double sequence = 0;
  if (napi_get_property(env, header, GetPropertyKey(env, kKeyProducerEpoch), &v) != napi_ok ||
      !GetFiniteNumber(env, v, fn, "header.producerEpoch", &epoch)) {
    return false;
  }
  if (napi_get_property(env, header, GetPropertyKey(env, kKeyBaseSequence), &v) != napi_ok ||
      !GetFiniteNumber(env, v, fn, "header.baseSequence", &sequence)) {
    return false;
  }
  if (!IsIntegerIn(epoch, -32768, 32767)) {
    ThrowRangeError(env, fn, "header.producerEpoch must be an int16");
    return false;
  }
  if (!IsIntegerIn(sequence, -2147483648.0, 2147483647.0)) {
    ThrowRangeError(env, fn, "header.baseSequence must be an int32");
    return false;
  }
  bool transactional = false;
  napi_value coerced = nullptr;
  if (napi_get_property(env, header, GetPropertyKey(env, kKeyTransactional), &v) != napi_ok ||
      napi_coerce_to_bool(env, v, &coerced) != napi_ok ||
      napi_get_value_bool(env, coerced, &transactional) != napi_ok) {
    return false;
  }
  out->producer_id = producer_id;
  out->producer_epoch = static_cast<int16_t>(epoch);
  out->base_sequence = static_cast<int32_t>(sequence);
  out->transactional = transactional;
  out->codec = 0;
  return true;
}

// Reads the header's codec (0..4) and compressionLevel (undefined: the codec's default),
// checking the level as the TypeScript side validated it.
bool ReadCodec(napi_env env, napi_value header, const char* fn, uint16_t* codec, int* level) {
  napi_valuetype t = napi_undefined;
  if (napi_typeof(env, header, &t) != napi_ok || t != napi_object) {
    ThrowTypeError(env, fn, "header must be an object");
    return false;
  }
  napi_value v = nullptr;
  double number = -1;
  if (napi_get_property(env, header, GetPropertyKey(env, kKeyCodec), &v) != napi_ok) return false;
  if (napi_get_value_double(env, v, &number) != napi_ok || !IsIntegerIn(number, 0, 4)) {
    ThrowRangeError(env, fn, "header.codec must be 0 (none), 1 (gzip), 2 (snappy), 3 (lz4) or 4 (zstd)");
    return false;
  }
  *codec = static_cast<uint16_t>(number);
  return ReadCompressionLevel(env, header, fn, *codec, level);
}

// Finalizer of external Buffers over malloc'd bytes. @thread JS (finalizers run there)
void FreeMalloced(napi_env /*env*/, void* data, void* /*hint*/) { std::free(data); }

// Encodes the unpacked records into a new Buffer.
napi_value EncodeUnpacked(napi_env env, const RecordUnpacker& records,
                          const core::BatchInput& input, uint16_t codec, int level, const char* fn) {
  std::vector<uint64_t> body_sizes(records.size());
  uint64_t size = 0;
  switch (core::RecordBatchSize(records.records(), records.size(), body_sizes.data(), &size)) {
    case core::EncodeStatus::kOk:
      break;
    case core::EncodeStatus::kNoRecords:
      return ThrowRangeError(env, fn, "a record batch needs at least one record");
    case core::EncodeStatus::kRecordTooLarge:
      return ThrowRangeError(env, fn, "a record is too large to encode (over 2 GiB)");
    case core::EncodeStatus::kBatchTooLarge:
      return ThrowRangeError(env, fn, "the records are too large for one batch (over 2 GiB)");
  }
  if (codec == 0) {
    void* data = nullptr;
    napi_value buffer = nullptr;
    if (napi_create_buffer(env, static_cast<size_t>(size), &data, &buffer) != napi_ok) {
      return nullptr;
    }
    core::EncodeRecordBatch(records.records(), records.size(), body_sizes.data(), input,
                            static_cast<uint8_t*>(data), static_cast<size_t>(size));
    return buffer;
  }
  // With a codec: encode into scratch memory, compress (kept when smaller, as the
  // accumulator does at drain), and hand whichever form goes out to JS without another copy.
  uint8_t* plain = static_cast<uint8_t*>(std::malloc(static_cast<size_t>(size)));
  if (plain == nullptr) return ThrowRangeError(env, fn, "out of memory");
  core::EncodeRecordBatch(records.records(), records.size(), body_sizes.data(), input, plain,
                          static_cast<size_t>(size));
  size_t out_size = static_cast<size_t>(size);
  uint8_t* out_bytes = plain;
  if (uint8_t* packed = core::CompressBatchRecords(static_cast<compress::CodecId>(codec), level, plain,
                                                   static_cast<size_t>(size), &out_size)) {
    core::ResealCompressed(plain, packed, out_size, codec);
    std::free(plain);
    out_bytes = packed;
  } else {
    out_size = static_cast<size_t>(size);
  }
  napi_value out = nullptr;
  const napi_status status = napi_create_external_buffer(env, out_size, out_bytes, FreeMalloced, nullptr, &out);
  if (status == napi_ok) return out;
  // Runtimes with a V8 sandbox (Electron) refuse external memory: copy instead (this used
  // to return undefined with no exception there).
  void* copy = nullptr;
  if (status != napi_no_external_buffers_allowed ||
      napi_create_buffer_copy(env, out_size, out_bytes, &copy, &out) != napi_ok) {
    out = nullptr;
  }
  std::free(out_bytes);
  return out;
}

// encodeRecordBatch(records: RecordInput[], header: BatchHeaderInput): Buffer
// @thread JS; runs to completion. Getters on the inputs are the only JS it may run.
napi_value EncodeRecordBatchObjects(napi_env env, napi_callback_info info) {
  static const char* const kFn = "encodeRecordBatch";
  size_t argc = 2;
  napi_value argv[2] = {nullptr, nullptr};
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  if (argc < 2) return ThrowTypeError(env, kFn, "expected (records, header)");
  uint16_t codec = 0;
  int level = 0;
  if (!ReadCodec(env, argv[1], kFn, &codec, &level)) return nullptr;
  RecordUnpacker* unpacker = GetRecordUnpacker(env);
  RecordUnpacker::Scope scope(unpacker);
  if (!scope.entered()) return ThrowTypeError(env, kFn, "re-entered while reading records");
  if (!unpacker->FromObjects(env, argv[0], kFn)) return nullptr;
  if (unpacker->size() == 0) {
    return ThrowRangeError(env, kFn, "a record batch needs at least one record");
  }
  core::BatchInput input;
  if (!ReadBatchInput(env, argv[1], kFn, &input)) return nullptr;
  return EncodeUnpacked(env, *unpacker, input, codec, level, kFn);
}

// encodeRecordBatchPacked(count, scratch, metaCapacity, bigs, header): Buffer; records in
// the packed layout (bindings.h).
// @thread JS; runs to completion.
napi_value EncodeRecordBatchPacked(napi_env env, napi_callback_info info) {
  static const char* const kFn = "encodeRecordBatchPacked";
  size_t argc = 5;
  napi_value argv[5] = {nullptr, nullptr, nullptr, nullptr, nullptr};
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  if (argc < 5) {
    return ThrowTypeError(env, kFn, "expected (count, scratch, metaCapacity, bigs, header)");
  }
  uint16_t codec = 0;
  int level = 0;
  if (!ReadCodec(env, argv[4], kFn, &codec, &level)) return nullptr;
  PackedScratch scratch;
  double count_number = -1;
  size_t count = 0;
  if (!ReadPackedScratch(env, argv[1], argv[2], 0, kFn, &scratch)) return nullptr;
  napi_get_value_double(env, argv[0], &count_number);
  if (!ReadCount(count_number, &count)) {
    return ThrowTypeError(env, kFn, "count must be a non-negative integer");
  }
  RecordUnpacker* unpacker = GetRecordUnpacker(env);
  RecordUnpacker::Scope scope(unpacker);
  if (!scope.entered()) return ThrowTypeError(env, kFn, "re-entered while reading records");
  if (!unpacker->FromPacked(env, count, scratch, 0, argv[3], kFn)) return nullptr;
  if (unpacker->size() == 0) {
    return ThrowRangeError(env, kFn, "a record batch needs at least one record");
  }
  core::BatchInput input;
  if (!ReadBatchInput(env, argv[4], kFn, &input)) return nullptr;
  return EncodeUnpacked(env, *unpacker, input, codec, level, kFn);
}

}  // namespace

napi_value ThrowTypeError(napi_env env, const char* fn, const char* what) {
  return ThrowError(env, fn, what, napi_throw_type_error);
}

napi_value ThrowRangeError(napi_env env, const char* fn, const char* what) {
  return ThrowError(env, fn, what, napi_throw_range_error);
}

bool GetFiniteNumber(napi_env env, napi_value v, const char* fn, const char* what, double* out) {
  if (napi_get_value_double(env, v, out) != napi_ok || !std::isfinite(*out)) {
    char message[160];
    std::snprintf(message, sizeof message, "%s must be a finite number", what);
    ThrowTypeError(env, fn, message);
    return false;
  }
  return true;
}

napi_value GetPropertyKey(napi_env env, PropertyKey key) {
  AddonData* data = nullptr;
  napi_value keys = nullptr;
  napi_value result = nullptr;
  if (napi_get_instance_data(env, reinterpret_cast<void**>(&data)) != napi_ok || data == nullptr ||
      data->property_keys.IsEmpty() ||
      napi_get_reference_value(env, data->property_keys, &keys) != napi_ok ||
      napi_get_element(env, keys, key, &result) != napi_ok) {
    return nullptr;
  }
  return result;
}

RecordUnpacker* GetRecordUnpacker(napi_env env) {
  AddonData* data = nullptr;
  napi_get_instance_data(env, reinterpret_cast<void**>(&data));
  return &data->record_unpacker;
}

bool RecordUnpacker::FromObjects(napi_env env, napi_value array, const char* fn) {
  records_.clear();
  headers_.clear();
  key_bytes_.clear();
  key_offsets_.clear();
  first_header_.clear();
  bool is_array = false;
  if (napi_is_array(env, array, &is_array) != napi_ok || !is_array) {
    ThrowTypeError(env, fn, "records must be an array");
    return false;
  }
  uint32_t n = 0;
  if (napi_get_array_length(env, array, &n) != napi_ok) return false;
  napi_value k_key = GetPropertyKey(env, kKeyKey);
  napi_value k_value = GetPropertyKey(env, kKeyValue);
  napi_value k_headers = GetPropertyKey(env, kKeyHeaders);
  napi_value k_timestamp = GetPropertyKey(env, kKeyTimestamp);
  if (!k_key || !k_value || !k_headers || !k_timestamp) return false;
  // Grown record by record, not sized from the length up front: a sparse array can claim
  // four billion elements and fail at the first hole.
  char what[128];
  for (uint32_t i = 0; i < n; ++i) {
    records_.emplace_back();
    first_header_.emplace_back();
    core::RecordView& r = records_.back();
    napi_value rec = nullptr;
    napi_value v = nullptr;
    napi_valuetype t = napi_undefined;
    if (napi_get_element(env, array, i, &rec) != napi_ok) return false;
    if (napi_typeof(env, rec, &t) != napi_ok || t != napi_object) {
      std::snprintf(what, sizeof what, "records[%u] must be an object", i);
      ThrowTypeError(env, fn, what);
      return false;
    }
    if (napi_get_property(env, rec, k_key, &v) != napi_ok) return false;
    if (ReadNullableBytes(env, v, &r.key, &r.key_size) < 0) {
      std::snprintf(what, sizeof what, "records[%u].key must be a Buffer (Uint8Array) or null", i);
      ThrowTypeError(env, fn, what);
      return false;
    }
    if (napi_get_property(env, rec, k_value, &v) != napi_ok) return false;
    if (ReadNullableBytes(env, v, &r.value, &r.value_size) < 0) {
      std::snprintf(what, sizeof what, "records[%u].value must be a Buffer (Uint8Array) or null",
                    i);
      ThrowTypeError(env, fn, what);
      return false;
    }
    double timestamp = 0;
    if (napi_get_property(env, rec, k_timestamp, &v) != napi_ok) return false;
    if (napi_get_value_double(env, v, &timestamp) != napi_ok || !IsSafeInteger(timestamp)) {
      std::snprintf(what, sizeof what,
                    "records[%u].timestamp must be an integer number of ms (a safe integer)", i);
      ThrowTypeError(env, fn, what);
      return false;
    }
    r.timestamp = static_cast<int64_t>(timestamp);
    first_header_[i] = headers_.size();
    r.headers = nullptr;
    r.header_count = 0;
    if (napi_get_property(env, rec, k_headers, &v) != napi_ok) return false;
    if (IsNullish(env, v)) continue;
    bool headers_is_array = false;
    uint32_t hn = 0;
    if (napi_is_array(env, v, &headers_is_array) != napi_ok || !headers_is_array) {
      std::snprintf(what, sizeof what, "records[%u].headers must be an array or null", i);
      ThrowTypeError(env, fn, what);
      return false;
    }
    if (napi_get_array_length(env, v, &hn) != napi_ok) return false;
    for (uint32_t j = 0; j < hn; ++j) {
      napi_value h = nullptr;
      napi_value hv = nullptr;
      if (napi_get_element(env, v, j, &h) != napi_ok) return false;
      if (napi_typeof(env, h, &t) != napi_ok || t != napi_object) {
        std::snprintf(what, sizeof what, "records[%u].headers[%u] must be an object", i, j);
        ThrowTypeError(env, fn, what);
        return false;
      }
      core::HeaderView hdr{nullptr, 0, nullptr, 0};
      size_t key_length = 0;
      if (napi_get_property(env, h, k_key, &hv) != napi_ok) return false;
      if (napi_get_value_string_utf8(env, hv, nullptr, 0, &key_length) != napi_ok) {
        std::snprintf(what, sizeof what, "records[%u].headers[%u].key must be a string", i, j);
        ThrowTypeError(env, fn, what);
        return false;
      }
      // UTF-8 into key_bytes_ (lone surrogates become U+FFFD, as Buffer.byteLength and
      // buf.write count and write them). The API writes a terminating NUL: room for it.
      const size_t at = key_bytes_.size();
      key_bytes_.resize(at + key_length + 1);
      size_t written = 0;
      if (napi_get_value_string_utf8(env, hv, reinterpret_cast<char*>(key_bytes_.data() + at),
                                     key_length + 1, &written) != napi_ok) {
        return false;
      }
      key_bytes_.resize(at + written);
      hdr.key_size = written;
      key_offsets_.push_back(at);
      if (napi_get_property(env, h, k_value, &hv) != napi_ok) return false;
      if (ReadNullableBytes(env, hv, &hdr.value, &hdr.value_size) < 0) {
        std::snprintf(what, sizeof what,
                      "records[%u].headers[%u].value must be a Buffer (Uint8Array) or null", i, j);
        ThrowTypeError(env, fn, what);
        return false;
      }
      headers_.push_back(hdr);
    }
    r.header_count = hn;
  }
  Resolve();
  return true;
}

bool ReadPackedScratch(napi_env env, napi_value scratch, napi_value meta_capacity, size_t min_slots,
                       const char* fn, PackedScratch* out) {
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, scratch, &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_uint8_array) {
    ThrowTypeError(env, fn, "scratch must be a Uint8Array");
    return false;
  }
  double slots = -1;
  if (meta_capacity != nullptr && napi_get_value_double(env, meta_capacity, &slots) != napi_ok) {
    slots = -1;
  }
  if (!core::OpenPackedScratch(static_cast<uint8_t*>(data), length,
                               meta_capacity != nullptr ? &slots : nullptr, min_slots, out)) {
    ThrowTypeError(env, fn,
                   "the scratch's metaCapacity must be an integer, at least the "
                   "call's fixed slots, with 8 * metaCapacity <= scratch.length");
    return false;
  }
  return true;
}

bool RecordUnpacker::FromPacked(napi_env env, size_t n, const PackedScratch& scratch,
                                size_t first_slot, napi_value bigs_value, const char* fn) {
  records_.clear();
  headers_.clear();
  key_bytes_.clear();
  key_offsets_.clear();
  first_header_.clear();
  uint32_t bigs_length = 0;
  if (bigs_value != nullptr && !IsNullish(env, bigs_value)) {
    bool is_array = false;
    if (napi_is_array(env, bigs_value, &is_array) != napi_ok || !is_array ||
        napi_get_array_length(env, bigs_value, &bigs_length) != napi_ok) {
      ThrowTypeError(env, fn, "bigs must be an array of Uint8Array or null");
      return false;
    }
  }
  BigsContext context{env, bigs_value};
  const core::PackedBigs bigs{bigs_length, ResolveBig, &context};
  size_t bad = 0;
  switch (core::UnpackPacked(n, scratch, first_slot, bigs, {&records_, &headers_, &first_header_}, &bad)) {
    case core::UnpackStatus::kOk:
      return true;
    case core::UnpackStatus::kCountTooLarge:
      ThrowTypeError(env, fn, "count is larger than the packed records");
      return false;
    case core::UnpackStatus::kBadTimestamp: {
      char what[128];
      std::snprintf(what, sizeof what,
                    "records[%zu].timestamp must be an integer number of ms (a safe integer)", bad);
      ThrowTypeError(env, fn, what);
      return false;
    }
    case core::UnpackStatus::kMalformed:
      break;
  }
  return Malformed(env, fn, bad);
}

void RecordUnpacker::Resolve() {
  // Header keys read from strings live in key_bytes_, which may have moved while it grew.
  for (size_t j = 0; j < key_offsets_.size(); ++j) {
    headers_[j].key = key_bytes_.data() + key_offsets_[j];
  }
  for (size_t i = 0; i < records_.size(); ++i) {
    if (records_[i].header_count > 0) records_[i].headers = headers_.data() + first_header_[i];
  }
}

void RegisterRecordBatch(Napi::Env env, Napi::Object exports) {
  // Internalized property names: the keys of an object, as V8 keeps them.
  napi_value holder = nullptr;
  napi_value keys = nullptr;
  napi_value undefined = nullptr;
  NAPI_THROW_IF_FAILED_VOID(env, napi_create_object(env, &holder));
  NAPI_THROW_IF_FAILED_VOID(env, napi_get_undefined(env, &undefined));
  for (const char* name : kPropertyKeyNames) {
    NAPI_THROW_IF_FAILED_VOID(env, napi_set_named_property(env, holder, name, undefined));
  }
  NAPI_THROW_IF_FAILED_VOID(
      env, napi_get_all_property_names(env, holder, napi_key_own_only, napi_key_skip_symbols,
                                       napi_key_keep_numbers, &keys));
  uint32_t length = 0;
  NAPI_THROW_IF_FAILED_VOID(env, napi_get_array_length(env, keys, &length));
  if (length != kPropertyKeyCount) {
    Napi::Error::New(env, "kafka_turbo: property key table out of order")
        .ThrowAsJavaScriptException();
    return;
  }
  env.GetInstanceData<AddonData>()->property_keys = Napi::Persistent(Napi::Object(env, keys));

  napi_value fn = nullptr;
  NAPI_THROW_IF_FAILED_VOID(env, napi_create_function(env, "encodeRecordBatch", NAPI_AUTO_LENGTH,
                                                      Checked<EncodeRecordBatchObjects>, nullptr, &fn));
  exports.Set("encodeRecordBatch", Napi::Value(env, fn));
  NAPI_THROW_IF_FAILED_VOID(env,
                            napi_create_function(env, "encodeRecordBatchPacked", NAPI_AUTO_LENGTH,
                                                 Checked<EncodeRecordBatchPacked>, nullptr, &fn));
  exports.Set("encodeRecordBatchPacked", Napi::Value(env, fn));
}

bool ReadCompressionLevel(napi_env env, napi_value object, const char* fn, uint16_t codec,
                          int* level) {
  napi_value v = nullptr;
  if (napi_get_property(env, object, GetPropertyKey(env, kKeyCompressionLevel), &v) != napi_ok) {
    return false;
  }
  napi_valuetype t = napi_undefined;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  int requested = compress::kDefaultLevel;
  if (t != napi_undefined && t != napi_null) {
    double number = 0;
    if (napi_get_value_double(env, v, &number) != napi_ok ||
        !IsIntegerIn(number, -2147483647.0, 2147483647.0)) {
      ThrowTypeError(env, fn, "compressionLevel must be an integer or undefined");
      return false;
    }
    requested = static_cast<int>(number);
  }
  if (codec != 0) {
    int effective = 0;
    std::string err;
    if (!compress::ResolveLevel(static_cast<compress::CodecId>(codec), requested, &effective, &err)) {
      ThrowRangeError(env, fn, err.c_str());
      return false;
    }
  }
  *level = requested;
  return true;
}

}  // namespace binding
}  // namespace kafka_turbo
