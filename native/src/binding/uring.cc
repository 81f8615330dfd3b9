// The io_uring transport's binding: ioUringProbe() and createRing(onEvents), over the core in
// io/ring.cc. Design (b) of issue 15: the ring's eventfd is watched by libuv on the JS thread
// (a uv_poll_t on the environment's own loop), so completions reach JavaScript without a
// thread hop; all of one wake-up's completions go to JavaScript in one call, as a flat list
// of numbers in a Float64Array kept from call to call, the received bytes copied into a slab
// JavaScript reads through views (RecvSlab), never one call per completion,
// and the ring's submissions of that wake-up (re-armed reads, the callback's writes) are held
// until the callback returns and go to the kernel in one io_uring_enter.
//
// The ring asks the kernel for deferred task work (io::TaskRun::kDefer, unless createRing's
// options say otherwise): a socket's completion then signals the eventfd once and is made by
// the io_uring_enter of the wake-up's Process(), instead of interrupting the loop's sleeping
// epoll_wait (EINTR) and signalling the eventfd after. SINGLE_ISSUER holds because a ring
// belongs to one environment and is only touched on its JS thread (a worker's is its own).
//
// Receiving (io::RecvMode, createRing's recv argument: 'ring' when absent; the TypeScript side
// passes 'poll' unless KAFKA_TURBO_IO_RECV says otherwise): 'poll' arms no recv on the ring; each connection gets a uv_poll_t of its own on the same loop watching its socket for
// readability (ConnWatcher), and its callback reads with recv(2) (Ring::ReadReady) and hands
// the bytes to JavaScript exactly as a recv completion's: the same events, the same one call
// per wake-up, the ring held across it so the requests the callback writes go out in one
// io_uring_enter. 'ring' keeps a recv armed on the ring instead. Sends are on the ring in both.
//
// The poll handle holds the event loop open only while the ring has connections, as sockets
// do: an idle producer lets the process exit (the connections' poll handles never hold it).
// destroy(), the object's finalizer and the environment's (async) cleanup hook all end the
// same way: sockets closed at once, every poll handle closed (each freed in its close
// callback), the ring torn down. A connection's poll handle is closed as soon as the
// connection begins closing (Ring calls ConnWatcher::Unwatch before it closes the fd).
#include <napi.h>
#include <uv.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <deque>
#include <memory>
#include <unordered_map>
#include <string>
#include <vector>

#include "../io/ring.h"
#include "bindings.h"
#include "held_batches.h"

namespace kafka_turbo {
namespace binding {
namespace {

// Event kinds in the flat list handed to onEvents: [kind, connection id, a, b] quadruples.
enum EventKind : int {
  kEvConnected = 1,  // a, b: 0
  kEvData = 2,       // a: the bytes' offset in the current receive slab, b: their length
  kEvWritten = 3,    // a: how many of the oldest writes are in the kernel now
  kEvClosed = 4,     // a: errno (0: closed by close()), see kEvEnd
  kEvEnd = 5,        // closed: the peer ended the stream (recv returned 0)
  kEvSlab = 6,       // connection 0, a: the index of the slab the data events after it are in
};
constexpr size_t kEventWidth = 4;

// Received bytes go to JavaScript in slabs: ArrayBuffers of kSlabBytes (or one read's size,
// when larger), each filled from the front, read by JavaScript through views and never
// written again where a view may see; a full one is dropped here (its views keep it alive)
// and a fresh one made. So a response costs a copy into the slab and a view in JavaScript,
// not a Buffer made through Node-API (an allocation, a backing store and a prototype set:
// ~10% of the JS thread's user time per awaited send, bench/RESULTS.md).
constexpr size_t kSlabBytes = 256 * 1024;
struct RecvSlab {
  napi_ref ref = nullptr;  // the current slab, null before the first bytes
  uint8_t* data = nullptr;
  size_t size = 0;
  size_t used = 0;
};

struct RingHandle;

// Per connection, the held batches (held_batches.h) that its writes still read in place: each
// write that named one is kept with its place among the connection's writes, and its
// references go when OnWritten has counted past it, or the connection closes, or the ring is
// torn down (the kernel reads the memory until then).
struct HeldWrites {
  uint64_t submitted = 0;  // Write() calls the ring took
  uint64_t completed = 0;  // of them, reported in the kernel
  std::deque<std::pair<uint64_t, std::vector<HeldBlock*>>> held;  // (write index, blocks)
};
using HeldWritesMap = std::unordered_map<uint32_t, HeldWrites>;

void ReleaseBlocks(napi_env env, std::vector<HeldBlock*>* blocks) {
  for (HeldBlock* b : *blocks) ReleaseHeldBlock(env, b);
  blocks->clear();
}

// The oldest `writes` writes of `conn` are in the kernel. @thread JS
void HeldWritten(napi_env env, HeldWritesMap* map, uint32_t conn, uint32_t writes) {
  auto it = map->find(conn);
  if (it == map->end()) return;
  HeldWrites& w = it->second;
  w.completed += writes;
  while (!w.held.empty() && w.held.front().first < w.completed) {
    ReleaseBlocks(env, &w.held.front().second);
    w.held.pop_front();
  }
}

// `conn` is closed (or the ring gone: every connection): nothing reads its writes' memory.
void HeldClosed(napi_env env, HeldWritesMap* map, uint32_t conn) {
  auto it = map->find(conn);
  if (it == map->end()) return;
  for (auto& entry : it->second.held) ReleaseBlocks(env, &entry.second);
  map->erase(it);
}

void ReleaseAllHeld(napi_env env, HeldWritesMap* map) {
  for (auto& [conn, w] : *map) {
    for (auto& entry : w.held) ReleaseBlocks(env, &entry.second);
  }
  map->clear();
}

// Collects one Process() call's completions: numbers into `events` (kept from call to call,
// so no allocation per wake-up), received bytes into the slab. @thread JS
class JsSink : public io::RingSink {
 public:
  JsSink(napi_env env, std::vector<double>* events, RecvSlab* slab, std::unordered_map<uint32_t, uint32_t>* deferred,
         HeldWritesMap* held = nullptr)
      : env_(env), events_(events), slab_(slab), deferred_(deferred), held_(held) {
    events_->clear();
  }
  void OnConnected(uint32_t conn) override { Push(kEvConnected, conn, 0, 0); }
  void OnData(uint32_t conn, const uint8_t* data, size_t size) override {
    if (status_ != napi_ok) return;
    if (slab_->ref == nullptr || slab_->size - slab_->used < size) {
      if (!NewSlab(size)) return;
    } else if (slabs_ == 0) {
      // This call's first bytes, in the slab an earlier call began.
      napi_value v = nullptr;
      if (!Ok(napi_get_reference_value(env_, slab_->ref, &v))) return;
      AddSlab(v);
    }
    if (size > 0) std::memcpy(slab_->data + slab_->used, data, size);
    Push(kEvData, conn, static_cast<double>(slab_->used), static_cast<double>(size));
    slab_->used += size;
  }
  // Writes nobody waits on (no callback: a request whose response is what counts) are only
  // counted, and told with the next call JavaScript gets anyway: a send completion then costs
  // no JavaScript call of its own.
  void OnWritten(uint32_t conn, uint32_t writes, bool notify) override {
    if (held_ != nullptr) HeldWritten(env_, held_, conn, writes);
    if (!notify) {
      (*deferred_)[conn] += writes;
      return;
    }
    Push(kEvWritten, conn, writes + TakeDeferred(conn), 0);
  }
  void OnClosed(uint32_t conn, int error, bool eof) override {
    if (held_ != nullptr) HeldClosed(env_, held_, conn);
    const uint32_t before = TakeDeferred(conn);
    if (before > 0) Push(kEvWritten, conn, before, 0);
    Push(eof ? kEvEnd : kEvClosed, conn, error, 0);
  }
  // Before handing events to JavaScript: the counted writes go with them.
  void FlushDeferred() {
    for (const auto& [conn, writes] : *deferred_) Push(kEvWritten, conn, writes, 0);
    deferred_->clear();
  }

  bool empty() const { return events_->empty(); }
  // napi_ok, or the first failure making a value.
  napi_status status() const { return status_; }
  // The slabs this call's data events are in, as onEvents takes them: undefined (no data),
  // the one ArrayBuffer, or an array of them (kEvSlab events say which the data after is in).
  napi_status Slabs(napi_value* out) const {
    if (slabs_ == 0) return napi_get_undefined(env_, out);
    if (slabs_ == 1) {
      *out = first_;
      return napi_ok;
    }
    napi_status st = napi_create_array_with_length(env_, slabs_, out);
    for (size_t i = 0; st == napi_ok && i < slabs_; i++) st = napi_set_element(env_, *out, i, i == 0 ? first_ : more_[i - 1]);
    return st;
  }

 private:
  bool Ok(napi_status st) {
    if (st != napi_ok && status_ == napi_ok) status_ = st;
    return st == napi_ok;
  }
  // A fresh slab for at least `size` bytes; the full one is left to the views on it.
  bool NewSlab(size_t size) {
    napi_value ab = nullptr;
    void* mem = nullptr;
    napi_ref ref = nullptr;
    const size_t bytes = size > kSlabBytes ? size : kSlabBytes;
    if (!Ok(napi_create_arraybuffer(env_, bytes, &mem, &ab)) || !Ok(napi_create_reference(env_, ab, 1, &ref))) return false;
    if (slab_->ref != nullptr) napi_delete_reference(env_, slab_->ref);
    *slab_ = RecvSlab{ref, static_cast<uint8_t*>(mem), bytes, 0};
    if (slabs_ > 0) Push(kEvSlab, 0, static_cast<double>(slabs_), 0);
    AddSlab(ab);
    return true;
  }
  void AddSlab(napi_value v) {
    if (slabs_ == 0) {
      first_ = v;
    } else {
      more_.push_back(v);
    }
    slabs_++;
  }
  uint32_t TakeDeferred(uint32_t conn) {
    auto it = deferred_->find(conn);
    if (it == deferred_->end()) return 0;
    const uint32_t n = it->second;
    deferred_->erase(it);
    return n;
  }
  void Push(int kind, uint32_t conn, double a, double b) {
    events_->push_back(kind);
    events_->push_back(conn);
    events_->push_back(a);
    events_->push_back(b);
  }
  napi_env env_;
  std::vector<double>* events_;
  RecvSlab* slab_;
  std::unordered_map<uint32_t, uint32_t>* deferred_;
  HeldWritesMap* held_;
  size_t slabs_ = 0;
  napi_value first_ = nullptr;
  std::vector<napi_value> more_;
  napi_status status_ = napi_ok;
};

// A Node-API call failed because this environment can run no more JavaScript: a worker being
// terminated (its JS thread stops between two of our calls), or the process exiting. What
// the wake-up took is dropped: the environment's cleanup hook tears the ring down next.
bool JsGone(napi_status st) { return st == napi_pending_exception || st == napi_cannot_run_js; }

// The ring's poll handle, and what its close needs after the RingHandle may be gone: the
// environment's async cleanup hook, removed only once the handle is closed, so that Node does
// not unload the addon (a worker_threads environment ending) before libuv has called
// OnPollClosed, which is code in the addon.
struct PollBox {
  uv_poll_t poll;
  RingHandle* h = nullptr;  // null once torn down
  napi_async_cleanup_hook_handle hook = nullptr;
  // Poll handles not closed yet: this one and every connection's (ConnPoll). The hook goes
  // when the last one's close callback has run, whichever order libuv runs them in.
  int handles = 1;
};

// @thread JS
void ReleaseBox(PollBox* box) {
  if (--box->handles > 0) return;
  napi_async_cleanup_hook_handle hook = box->hook;
  delete box;
  if (hook != nullptr) napi_remove_async_cleanup_hook(hook);  // the environment may end now
}

// One connection's readability watch (RecvMode::kPoll): freed in its close callback.
struct ConnPoll {
  uv_poll_t poll;
  PollBox* box = nullptr;
  RingHandle* h = nullptr;  // null once Unwatch closed it
  uint32_t conn = 0;
};

// The ring's ReadWatcher: a uv_poll_t per connected socket on the environment's loop.
// @thread JS
class ConnWatcher : public io::ReadWatcher {
 public:
  explicit ConnWatcher(RingHandle* h) : h_(h) {}
  int Watch(uint32_t conn, int fd) override;
  void Unwatch(uint32_t conn, int fd) override;
  size_t watching() const { return polls_.size(); }

 private:
  RingHandle* h_;
  std::unordered_map<uint32_t, ConnPoll*> polls_;
};

struct RingHandle {
  napi_env env = nullptr;
  uv_loop_t* loop = nullptr;
  // Before `ring`: the ring's destructor ends its connections' watches through it.
  ConnWatcher watcher{this};
  std::unique_ptr<io::Ring> ring{new io::Ring()};
  PollBox* box = nullptr;     // freed in its close callback
  uv_poll_t* poll = nullptr;  // &box->poll
  bool referenced = false;
  napi_ref callback = nullptr;
  napi_async_context async = nullptr;
  bool destroyed = false;
  bool in_callback = false;
  // Per connection, writes completed without notify and not yet told to JavaScript.
  std::unordered_map<uint32_t, uint32_t> deferred_written;
  // Held batches that writes still read (see HeldWrites).
  HeldWritesMap held_writes;
  // One wake-up round's events, then copied into `events_array` (a Float64Array JavaScript
  // reads them from, replaced by a larger one when they do not fit).
  std::vector<double> events;
  napi_ref events_array = nullptr;
  double* events_data = nullptr;
  size_t events_capacity = 0;  // doubles
  RecvSlab slab;
};

// @thread JS
void OnPollClosed(uv_handle_t* handle) { ReleaseBox(static_cast<PollBox*>(handle->data)); }

// @thread JS
void OnConnPollClosed(uv_handle_t* handle) {
  ConnPoll* cp = static_cast<ConnPoll*>(handle->data);
  PollBox* box = cp->box;
  delete cp;
  ReleaseBox(box);
}

void OnConnReadable(uv_poll_t* poll, int status, int events);

int ConnWatcher::Watch(uint32_t conn, int fd) {
  if (h_->box == nullptr) return EBADF;  // torn down (not reached: Process runs before that)
  ConnPoll* cp = new ConnPoll();
  const int rc = uv_poll_init(h_->loop, &cp->poll, fd);
  if (rc != 0) {
    delete cp;
    return -rc;  // libuv's errors are negated errnos on Unix
  }
  cp->box = h_->box;
  cp->h = h_;
  cp->conn = conn;
  cp->poll.data = cp;
  cp->box->handles++;
  uv_poll_start(&cp->poll, UV_READABLE, OnConnReadable);
  // The ring's own poll handle keeps the loop alive while there are connections.
  uv_unref(reinterpret_cast<uv_handle_t*>(&cp->poll));
  polls_[conn] = cp;
  return 0;
}

void ConnWatcher::Unwatch(uint32_t conn, int) {
  auto it = polls_.find(conn);
  if (it == polls_.end()) return;
  ConnPoll* cp = it->second;
  polls_.erase(it);
  cp->h = nullptr;
  // uv_close stops the watch now (epoll_ctl DEL, before the ring closes the fd); the memory
  // goes in the close callback, also when this runs inside the handle's own callback.
  uv_close(reinterpret_cast<uv_handle_t*>(&cp->poll), OnConnPollClosed);
}

// Keeps the loop alive exactly while there are connections. @thread JS
void UpdateRef(RingHandle* h) {
  const bool want = h->ring->connections() > 0;
  if (want == h->referenced || h->poll == nullptr) return;
  h->referenced = want;
  if (want) {
    uv_ref(reinterpret_cast<uv_handle_t*>(h->poll));
  } else {
    uv_unref(reinterpret_cast<uv_handle_t*>(h->poll));
  }
}

// @thread JS
void Teardown(RingHandle* h) {
  if (h->destroyed) return;
  h->destroyed = true;
  if (h->box != nullptr) {
    h->box->h = nullptr;
    uv_poll_stop(h->poll);
    uv_close(reinterpret_cast<uv_handle_t*>(h->poll), OnPollClosed);
    h->box = nullptr;
    h->poll = nullptr;
  }
  // Closes every socket and the ring now; each connection's poll handle is closed first
  // (ConnWatcher::Unwatch from the ring's destructor), and the cleanup hook stays until the
  // last of the close callbacks (ReleaseBox).
  h->ring.reset();
  ReleaseAllHeld(h->env, &h->held_writes);
  if (h->callback != nullptr) {
    napi_delete_reference(h->env, h->callback);
    h->callback = nullptr;
  }
  if (h->events_array != nullptr) {
    napi_delete_reference(h->env, h->events_array);
    h->events_array = nullptr;
    h->events_data = nullptr;
    h->events_capacity = 0;
  }
  if (h->slab.ref != nullptr) {
    napi_delete_reference(h->env, h->slab.ref);
    h->slab = RecvSlab{};
  }
  if (h->async != nullptr) {
    napi_async_destroy(h->env, h->async);
    h->async = nullptr;
  }
}

// The environment is ending (process exit, a worker's end): tear down; the hook is removed in
// OnPollClosed. If destroy() or the finalizer came first, the close is already on its way.
void AsyncCleanup(napi_async_cleanup_hook_handle, void* data) {
  PollBox* box = static_cast<PollBox*>(data);
  if (box->h != nullptr) Teardown(box->h);
}

void Finalize(napi_env, void* data, void*) {
  RingHandle* h = static_cast<RingHandle*>(data);
  Teardown(h);
  delete h;
}

// The events array JavaScript reads, with room for `doubles`. @thread JS
napi_status EventsArray(RingHandle* h, size_t doubles, napi_value* out) {
  napi_env env = h->env;
  if (doubles <= h->events_capacity) return napi_get_reference_value(env, h->events_array, out);
  size_t capacity = h->events_capacity < 64 * kEventWidth ? 64 * kEventWidth : 2 * h->events_capacity;
  if (capacity < doubles) capacity = doubles;
  napi_value ab = nullptr;
  void* mem = nullptr;
  napi_ref ref = nullptr;
  napi_status st = napi_create_arraybuffer(env, capacity * sizeof(double), &mem, &ab);
  if (st == napi_ok) st = napi_create_typedarray(env, napi_float64_array, capacity, ab, 0, out);
  if (st == napi_ok) st = napi_create_reference(env, *out, 1, &ref);
  if (st != napi_ok) return st;
  if (h->events_array != nullptr) napi_delete_reference(env, h->events_array);
  h->events_array = ref;
  h->events_data = static_cast<double*>(mem);
  h->events_capacity = capacity;
  return napi_ok;
}

// Hands one Process() call's completions to JavaScript in one call:
// onEvents(count, events: Float64Array, slabs), the events in its first 4 * count slots.
// @thread JS
void Dispatch(RingHandle* h, JsSink* sink) {
  napi_env env = h->env;
  sink->FlushDeferred();
  napi_value events = nullptr, slabs = nullptr, count = nullptr, fn = nullptr, global = nullptr, result = nullptr;
  const std::vector<double>& ev = h->events;
  napi_status st = sink->status();
  auto step = [&st](napi_status s) {
    if (st == napi_ok) st = s;
  };
  if (st == napi_ok) step(EventsArray(h, ev.size(), &events));
  if (st == napi_ok) std::memcpy(h->events_data, ev.data(), ev.size() * sizeof(double));
  if (st == napi_ok) step(sink->Slabs(&slabs));
  if (st == napi_ok) step(napi_create_uint32(env, static_cast<uint32_t>(ev.size() / kEventWidth), &count));
  if (st == napi_ok) step(napi_get_reference_value(env, h->callback, &fn));
  if (st == napi_ok) step(napi_get_global(env, &global));
  if (JsGone(st)) return;  // the environment is ending (a worker's terminate()): see JsGone
  if (st != napi_ok) {
    // Out of memory making the values: nothing sensible can continue on these sockets.
    napi_fatal_error("kafka-turbo io_uring", NAPI_AUTO_LENGTH, "could not hand completions to JavaScript",
                     NAPI_AUTO_LENGTH);
  }
  napi_value argv[3] = {count, events, slabs};
  h->in_callback = true;
  // make_callback: the microtasks the callback queues (promise settlements) run before
  // control goes back to libuv, as they do after a socket's 'data' event.
  const napi_status called = napi_make_callback(env, h->async, global, fn, 3, argv, &result);
  h->in_callback = false;
  if (called == napi_pending_exception) {
    // The callback threw (a bug: it contains its own errors), or the environment stopped
    // running JavaScript under it (terminate()), which leaves no exception to report.
    napi_value err = nullptr;
    if (napi_get_and_clear_last_exception(env, &err) == napi_ok && err != nullptr) {
      napi_valuetype t = napi_undefined;
      if (napi_typeof(env, err, &t) == napi_ok && t != napi_undefined) napi_fatal_exception(env, err);
    }
  }
}

// Rounds of completions taken in one wake-up before the rest waits for the next loop turn
// (other handles get their turn).
constexpr int kMaxRounds = 8;

// The eventfd is readable (read_from null), or a connection's socket is (read_from: its watch,
// RecvMode::kPoll): hand every completion -- and first that socket's bytes -- to JavaScript,
// all of one round in one call. The ring is held and quiet meanwhile (Ring::Hold): the reads
// re-armed here and whatever the callback writes go to the kernel in one io_uring_enter after
// it (Flush), and what that submission completes at once (a loopback send) is taken in the
// next round here instead of signalling the eventfd for another wake-up. `poll_failed`: libuv
// reported the socket in error and stopped its watch (status < 0: POLLERR, as on a reset);
// ReadReady's recv(2) then says which error, and the watch is started again unless the
// connection is closing. @thread JS
void OnWake(RingHandle* h, ConnPoll* read_from, bool poll_failed) {
  napi_env env = h->env;
  napi_handle_scope scope = nullptr;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  for (int round = 0;; round++) {
    h->ring->Hold();
    JsSink sink(env, &h->events, &h->slab, &h->deferred_written, &h->held_writes);
    if (round == 0 && read_from != nullptr) {
      // At most read_budget bytes; a socket left readable is reported again next loop turn.
      const io::Ring::ReadResult r = h->ring->ReadReady(read_from->conn, &sink);
      if (poll_failed && r != io::Ring::ReadResult::kGone && read_from->h != nullptr) {
        uv_poll_start(&read_from->poll, UV_READABLE, OnConnReadable);
      }
    }
    h->ring->Process(&sink, /*clear_event=*/round == 0 && read_from == nullptr);
    if (!sink.empty()) Dispatch(h, &sink);
    if (h->destroyed) break;  // torn down from the callback (an environment's cleanup)
    h->ring->Flush();
    if (h->ring->HasCompletions()) {
      if (round + 1 < kMaxRounds) continue;
      h->ring->Wake();
      h->ring->Signal();  // the rest at the next loop turn
      break;
    }
    // Completions posted while quiet signalled nothing: look once more after waking.
    h->ring->Wake();
    if (!h->ring->HasCompletions() || round + 1 >= kMaxRounds) {
      if (h->ring->HasCompletions()) h->ring->Signal();
      break;
    }
  }
  if (!h->destroyed) UpdateRef(h);
  napi_close_handle_scope(env, scope);
}

// @thread JS
void OnPoll(uv_poll_t* poll, int status, int) {
  RingHandle* h = static_cast<PollBox*>(poll->data)->h;
  if (h == nullptr || h->destroyed || status < 0) return;
  OnWake(h, nullptr, false);
}

// @thread JS
void OnConnReadable(uv_poll_t* poll, int status, int) {
  ConnPoll* cp = static_cast<ConnPoll*>(poll->data);
  RingHandle* h = cp->h;
  if (h == nullptr || h->destroyed) return;
  OnWake(h, cp, status < 0);
}

// createRing's recv option: 'poll' | 'ring'. False with a TypeError thrown. @thread JS
bool GetRecvMode(napi_env env, napi_value value, const char* fn, io::RecvMode* out) {
  char buf[8];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, value, buf, sizeof buf, &len) == napi_ok) {
    if (std::strcmp(buf, "poll") == 0) {
      *out = io::RecvMode::kPoll;
      return true;
    }
    if (std::strcmp(buf, "ring") == 0) {
      *out = io::RecvMode::kRing;
      return true;
    }
  }
  ThrowTypeError(env, fn, "recv must be 'poll' or 'ring'");
  return false;
}

// The task-work options of createRing / ioUringTaskRun: (mode: 'defer' | 'coop' | 'plain',
// refuseForTest: boolean -- the setup flags of `mode` are treated as refused, as a kernel
// without them would). False with a TypeError thrown. @thread JS
bool GetTaskRun(napi_env env, napi_value mode, napi_value refuse, const char* fn, io::TaskRun* out, bool* refuse_out) {
  char buf[16];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, mode, buf, sizeof buf, &len) != napi_ok) {
    ThrowTypeError(env, fn, "taskRun must be 'defer', 'coop' or 'plain'");
    return false;
  }
  // napi_get_value_string_utf8 NUL-terminates what it copies (a longer value is cut to 15
  // bytes, which matches none of the names).
  if (std::strcmp(buf, "defer") == 0) {
    *out = io::TaskRun::kDefer;
  } else if (std::strcmp(buf, "coop") == 0) {
    *out = io::TaskRun::kCoop;
  } else if (std::strcmp(buf, "plain") == 0) {
    *out = io::TaskRun::kPlain;
  } else {
    ThrowTypeError(env, fn, "taskRun must be 'defer', 'coop' or 'plain'");
    return false;
  }
  bool r = false;
  if (refuse != nullptr && napi_get_value_bool(env, refuse, &r) != napi_ok) {
    ThrowTypeError(env, fn, "refuseForTest must be a boolean");
    return false;
  }
  *refuse_out = r;
  return true;
}

// { mode, fallback }: the mode in use and why it is not the one asked for (null when it is).
napi_value TaskRunObject(napi_env env, io::TaskRun t, const std::string& fallback) {
  napi_value o = nullptr, mode = nullptr, why = nullptr;
  napi_create_object(env, &o);
  napi_create_string_utf8(env, io::TaskRunName(t), NAPI_AUTO_LENGTH, &mode);
  if (fallback.empty()) {
    napi_get_null(env, &why);
  } else {
    napi_create_string_utf8(env, fallback.c_str(), fallback.size(), &why);
  }
  napi_set_named_property(env, o, "mode", mode);
  napi_set_named_property(env, o, "fallback", why);
  return o;
}

RingHandle* Unwrap(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv, const char* fn) {
  napi_value self = nullptr;
  if (napi_get_cb_info(env, info, argc, argv, &self, nullptr) != napi_ok) return nullptr;
  void* data = nullptr;
  if (napi_unwrap(env, self, &data) != napi_ok || data == nullptr) {
    ThrowTypeError(env, fn, "not a ring");
    return nullptr;
  }
  RingHandle* h = static_cast<RingHandle*>(data);
  if (h->destroyed) {
    napi_throw_error(env, "ERR_RING_DESTROYED", "kafka-turbo: the io_uring ring was destroyed");
    return nullptr;
  }
  return h;
}

napi_value ErrnoError(napi_env env, const char* fn, int err) {
  std::string msg = std::string(fn) + ": " + std::strerror(err);
  napi_value m = nullptr, e = nullptr, code = nullptr;
  napi_create_string_utf8(env, msg.c_str(), msg.size(), &m);
  napi_create_error(env, nullptr, m, &e);
  napi_create_int32(env, -err, &code);
  napi_set_named_property(env, e, "errno", code);
  napi_throw(env, e);
  return nullptr;
}

// connect(ip: string, port: number, sendBuffer: number, recvBuffer: number): number
// A numeric IPv4 or IPv6 address (TypeScript resolves names first). @thread JS
napi_value Connect(napi_env env, napi_callback_info info) {
  static const char* const kFn = "connect";
  size_t argc = 4;
  napi_value argv[4];
  RingHandle* h = Unwrap(env, info, &argc, argv, kFn);
  if (h == nullptr) return nullptr;
  if (argc < 4) return ThrowTypeError(env, kFn, "expected (ip, port, sendBuffer, recvBuffer)");
  char ip[64];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], ip, sizeof ip, &len) != napi_ok) {
    return ThrowTypeError(env, kFn, "ip must be a string");
  }
  double port = 0, sndbuf = 0, rcvbuf = 0;
  if (!GetFiniteNumber(env, argv[1], kFn, "port", &port) || !GetFiniteNumber(env, argv[2], kFn, "sendBuffer", &sndbuf) ||
      !GetFiniteNumber(env, argv[3], kFn, "recvBuffer", &rcvbuf)) {
    return nullptr;
  }
  if (!IsIntegerIn(port, 1, 65535)) return ThrowRangeError(env, kFn, "port must be an integer in [1, 65535]");
  if (!IsIntegerIn(sndbuf, 0, 1 << 30) || !IsIntegerIn(rcvbuf, 0, 1 << 30)) {
    return ThrowRangeError(env, kFn, "socket buffer sizes must be integers in [0, 2^30]");
  }
  sockaddr_storage addr{};
  socklen_t alen = 0;
  auto* a4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* a6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(static_cast<uint16_t>(port));
    alen = sizeof *a4;
  } else if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(static_cast<uint16_t>(port));
    alen = sizeof *a6;
  } else {
    return ThrowTypeError(env, kFn, "ip must be a numeric IPv4 or IPv6 address");
  }
  int err = 0;
  const uint32_t id = h->ring->Connect(reinterpret_cast<sockaddr*>(&addr), alen, static_cast<int>(sndbuf),
                                      static_cast<int>(rcvbuf), &err);
  if (id == 0) return ErrnoError(env, kFn, err);
  UpdateRef(h);
  napi_value out = nullptr;
  napi_create_uint32(env, id, &out);
  return out;
}

// write(id: number, chunks: (Uint8Array | number)[], notify: boolean): boolean -- false when
// the connection is closing or gone. A Uint8Array chunk's memory must stay reachable until a
// written or closed event covers it (the TypeScript side keeps them); a number is the ref of a
// held batch (held_batches.h), written from its native memory, which this write keeps alive
// itself until then. notify false: its written event may wait for the next event JavaScript
// gets (see JsSink::OnWritten). @thread JS
napi_value Write(napi_env env, napi_callback_info info) {
  static const char* const kFn = "write";
  size_t argc = 3;
  napi_value argv[3] = {nullptr, nullptr, nullptr};
  RingHandle* h = Unwrap(env, info, &argc, argv, kFn);
  if (h == nullptr) return nullptr;
  double id = 0;
  bool is_array = false;
  bool notify = true;
  if (argc >= 3 && napi_get_value_bool(env, argv[2], &notify) != napi_ok) {
    return ThrowTypeError(env, kFn, "notify must be a boolean");
  }
  if (argc < 2 || !GetFiniteNumber(env, argv[0], kFn, "id", &id) || napi_is_array(env, argv[1], &is_array) != napi_ok ||
      !is_array) {
    return ThrowTypeError(env, kFn, "expected (id, chunks: (Uint8Array | number)[])");
  }
  uint32_t n = 0;
  napi_get_array_length(env, argv[1], &n);
  if (n > io::Ring::kMaxIov) return ThrowRangeError(env, kFn, "at most 1024 chunks per write");
  std::vector<iovec> iov(n);
  std::vector<HeldBlock*> blocks;
  for (uint32_t i = 0; i < n; i++) {
    napi_value c = nullptr;
    napi_valuetype vt = napi_undefined;
    if (napi_get_element(env, argv[1], i, &c) != napi_ok || napi_typeof(env, c, &vt) != napi_ok) {
      ReleaseBlocks(env, &blocks);
      return nullptr;
    }
    if (vt == napi_number) {
      double ref = 0;
      napi_get_value_double(env, c, &ref);
      const uint8_t* bytes = nullptr;
      size_t size = 0;
      HeldBlock* block = AcquireHeldBatch(ref, &bytes, &size);
      if (block == nullptr) {
        ReleaseBlocks(env, &blocks);
        return ThrowRangeError(env, kFn, "a chunk names no held batch (released already?)");
      }
      blocks.push_back(block);
      iov[i] = {const_cast<uint8_t*>(bytes), size};
      continue;
    }
    bool typed = false;
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    if (napi_is_typedarray(env, c, &typed) != napi_ok || !typed ||
        napi_get_typedarray_info(env, c, &type, &length, &data, nullptr, nullptr) != napi_ok || type != napi_uint8_array) {
      ReleaseBlocks(env, &blocks);
      return ThrowTypeError(env, kFn, "chunks must be Uint8Arrays or held batch refs");
    }
    iov[i] = {data, length};
  }
  const bool ok = IsIntegerIn(id, 1, 4294967295.0) && h->ring->Write(static_cast<uint32_t>(id), iov.data(), iov.size(), notify);
  if (ok) {
    HeldWrites& w = h->held_writes[static_cast<uint32_t>(id)];
    if (!blocks.empty()) w.held.emplace_back(w.submitted, std::move(blocks));
    w.submitted++;
  } else {
    ReleaseBlocks(env, &blocks);
  }
  napi_value out = nullptr;
  napi_get_boolean(env, ok, &out);
  return out;
}

// close(id: number): boolean -- a closed event follows when true. @thread JS
napi_value Close(napi_env env, napi_callback_info info) {
  static const char* const kFn = "close";
  size_t argc = 1;
  napi_value argv[1];
  RingHandle* h = Unwrap(env, info, &argc, argv, kFn);
  if (h == nullptr) return nullptr;
  double id = 0;
  if (argc < 1 || !GetFiniteNumber(env, argv[0], kFn, "id", &id)) return nullptr;
  const bool ok = IsIntegerIn(id, 1, 4294967295.0) && h->ring->Close(static_cast<uint32_t>(id));
  napi_value out = nullptr;
  napi_get_boolean(env, ok, &out);
  return out;
}

// connections(): number @thread JS
napi_value Connections(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  RingHandle* h = Unwrap(env, info, &argc, nullptr, "connections");
  if (h == nullptr) return nullptr;
  napi_value out = nullptr;
  napi_create_uint32(env, static_cast<uint32_t>(h->ring->connections()), &out);
  return out;
}

// recvMode(): 'poll' | 'ring' -- how this ring receives (io::RecvMode). @thread JS
napi_value RecvModeOf(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  RingHandle* h = Unwrap(env, info, &argc, nullptr, "recvMode");
  if (h == nullptr) return nullptr;
  napi_value out = nullptr;
  napi_create_string_utf8(env, io::RecvModeName(h->ring->recv_mode()), NAPI_AUTO_LENGTH, &out);
  return out;
}

// pollHandles(): number -- connections' poll handles open now (tests: none left after close).
// @thread JS
napi_value PollHandles(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  RingHandle* h = Unwrap(env, info, &argc, nullptr, "pollHandles");
  if (h == nullptr) return nullptr;
  napi_value out = nullptr;
  napi_create_uint32(env, static_cast<uint32_t>(h->watcher.watching()), &out);
  return out;
}

// taskRun(): { mode, fallback } -- what the kernel runs this ring with. @thread JS
napi_value TaskRunOf(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  RingHandle* h = Unwrap(env, info, &argc, nullptr, "taskRun");
  if (h == nullptr) return nullptr;
  return TaskRunObject(env, h->ring->task_run(), h->ring->fallback());
}

// destroy(): undefined -- every socket closed at once, no events after. @thread JS
napi_value Destroy(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value self = nullptr;
  if (napi_get_cb_info(env, info, &argc, nullptr, &self, nullptr) != napi_ok) return nullptr;
  void* data = nullptr;
  if (napi_unwrap(env, self, &data) == napi_ok && data != nullptr) {
    RingHandle* h = static_cast<RingHandle*>(data);
    if (h->in_callback) {
      napi_throw_error(env, "ERR_RING_BUSY", "kafka-turbo: destroy() from inside the ring's own callback");
      return nullptr;
    }
    Teardown(h);
  }
  return Undefined(env);
}

// createRing(onEvents(count, events: Float64Array, slabs), taskRun = 'defer',
// refuseForTest = false, recv = 'ring'): Ring @thread JS
napi_value CreateRing(napi_env env, napi_callback_info info) {
  static const char* const kFn = "createRing";
  size_t argc = 4;
  napi_value argv[4] = {nullptr, nullptr, nullptr, nullptr};
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  napi_valuetype t = napi_undefined;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) {
    return ThrowTypeError(env, kFn, "expected (onEvents: function, taskRun?, refuseForTest?)");
  }
  io::RingOptions options;
  if (argc >= 2 && napi_typeof(env, argv[1], &t) == napi_ok && t != napi_undefined &&
      !GetTaskRun(env, argv[1], argc >= 3 ? argv[2] : nullptr, kFn, &options.task_run, &options.refuse_task_run)) {
    return nullptr;
  }
  if (argc >= 4 && napi_typeof(env, argv[3], &t) == napi_ok && t != napi_undefined &&
      !GetRecvMode(env, argv[3], kFn, &options.recv)) {
    return nullptr;
  }
  RingHandle* h = new RingHandle();
  h->env = env;
  if (options.recv == io::RecvMode::kPoll) options.watcher = &h->watcher;
  std::string error;
  if (!h->ring->Init(options, &error)) {
    delete h;
    napi_throw_error(env, "ERR_IO_URING", (std::string("kafka-turbo: io_uring ring: ") + error).c_str());
    return nullptr;
  }
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    delete h;
    napi_throw_error(env, "ERR_IO_URING", "kafka-turbo: no libuv loop for this environment");
    return nullptr;
  }
  h->loop = loop;
  PollBox* box = new PollBox();
  int rc = uv_poll_init(loop, &box->poll, h->ring->event_fd());
  if (rc != 0) {
    delete box;
    delete h;
    napi_throw_error(env, "ERR_IO_URING", (std::string("kafka-turbo: uv_poll_init: ") + uv_strerror(rc)).c_str());
    return nullptr;
  }
  box->h = h;
  box->poll.data = box;
  h->box = box;
  h->poll = &box->poll;
  uv_poll_start(h->poll, UV_READABLE, OnPoll);
  uv_unref(reinterpret_cast<uv_handle_t*>(h->poll));
  napi_value name = nullptr;
  napi_create_string_utf8(env, "kafka-turbo:io_uring", NAPI_AUTO_LENGTH, &name);
  napi_value object = nullptr;
  const napi_property_descriptor methods[] = {
      {"connect", nullptr, Checked<Connect>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"write", nullptr, Checked<Write>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"close", nullptr, Checked<Close>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"connections", nullptr, Checked<Connections>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"taskRun", nullptr, Checked<TaskRunOf>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"recvMode", nullptr, Checked<RecvModeOf>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"pollHandles", nullptr, Checked<PollHandles>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"destroy", nullptr, Checked<Destroy>, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  if (napi_create_object(env, &object) != napi_ok ||
      napi_define_properties(env, object, sizeof methods / sizeof methods[0], methods) != napi_ok ||
      napi_create_reference(env, argv[0], 1, &h->callback) != napi_ok ||
      napi_async_init(env, object, name, &h->async) != napi_ok) {
    Teardown(h);
    delete h;
    return nullptr;
  }
  if (napi_wrap(env, object, h, Finalize, nullptr, nullptr) != napi_ok) {
    Teardown(h);
    delete h;
    return nullptr;
  }
  if (napi_add_async_cleanup_hook(env, AsyncCleanup, box, &box->hook) != napi_ok) {
    box->hook = nullptr;
    napi_throw_error(env, "ERR_IO_URING", "kafka-turbo: could not add the ring's cleanup hook");
    return nullptr;  // the object's finalizer tears the ring down
  }
  return object;
}

// ioUringProbe(): null when io_uring works here, else why not (one line). @thread JS
napi_value Probe(napi_env env, napi_callback_info) {
  std::string reason;
  napi_value out = nullptr;
  if (io::ProbeIoUring(&reason)) {
    napi_get_null(env, &out);
  } else {
    napi_create_string_utf8(env, reason.c_str(), reason.size(), &out);
  }
  return out;
}

// ioUringTaskRun(taskRun, refuseForTest = false): { mode, fallback } -- the mode a ring asked
// for `taskRun` gets on this kernel (a small ring is set up with its flags). @thread JS
napi_value ProbeTaskRunJs(napi_env env, napi_callback_info info) {
  static const char* const kFn = "ioUringTaskRun";
  size_t argc = 2;
  napi_value argv[2] = {nullptr, nullptr};
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  if (argc < 1) return ThrowTypeError(env, kFn, "expected (taskRun: 'defer' | 'coop' | 'plain', refuseForTest?)");
  io::TaskRun want = io::TaskRun::kDefer;
  bool refuse = false;
  if (!GetTaskRun(env, argv[0], argc >= 2 ? argv[1] : nullptr, kFn, &want, &refuse)) return nullptr;
  std::string fallback;
  const io::TaskRun got = io::ProbeTaskRun(want, &fallback, refuse);
  return TaskRunObject(env, got, fallback);
}

}  // namespace

void RegisterUring(Napi::Env env, Napi::Object exports) {
  napi_value fn = nullptr;
  napi_create_function(env, "ioUringProbe", NAPI_AUTO_LENGTH, Checked<Probe>, nullptr, &fn);
  exports.Set("ioUringProbe", Napi::Value(env, fn));
  napi_create_function(env, "createRing", NAPI_AUTO_LENGTH, Checked<CreateRing>, nullptr, &fn);
  exports.Set("createRing", Napi::Value(env, fn));
  napi_create_function(env, "ioUringTaskRun", NAPI_AUTO_LENGTH, Checked<ProbeTaskRunJs>, nullptr, &fn);
  exports.Set("ioUringTaskRun", Napi::Value(env, fn));
}

}  // namespace binding
}  // namespace kafka_turbo
