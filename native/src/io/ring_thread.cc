// Design (a): the I/O thread owning the ring (see ring_thread.h for why and the hand-offs).
#include "ring_thread.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>
#include <unordered_map>
#include <utility>

namespace kafka_turbo {
namespace io {

// Gathers one turn's completions on the I/O thread. Writes nobody waits on (notify false)
// are only counted and go out with the next batch that is published anyway, as design (b)
// does: a send completion then costs no wake-up of the JS thread. @thread io
class RingThread::Sink : public RingSink {
 public:
  void OnConnected(uint32_t conn) override { Push(kRingConnected, conn, 0, true); }
  void OnData(uint32_t conn, const uint8_t* data, size_t size) override {
    Push(kRingData, conn, static_cast<double>(batch.data.size()), true);
    batch.data.emplace_back(data, data + size);
  }
  void OnWritten(uint32_t conn, uint32_t writes, bool notify) override {
    if (!notify) {
      deferred[conn] += writes;
      return;
    }
    Push(kRingWritten, conn, writes + TakeDeferred(conn), true);
  }
  void OnClosed(uint32_t conn, int error, bool eof) override {
    const uint32_t before = TakeDeferred(conn);
    if (before > 0) Push(kRingWritten, conn, before, false);
    Push(eof ? kRingEnd : kRingClosed, conn, error, true);
  }
  void OnWatch(int) override { woke = true; }
  // A connect the ring refused at once (ConnectFd's error): told as a close.
  void Refused(uint32_t conn, int error) { Push(kRingClosed, conn, error, true); }
  void FlushDeferred() {
    for (const auto& [conn, writes] : deferred) Push(kRingWritten, conn, writes, false);
    deferred.clear();
  }

  RingBatch batch;
  bool urgent = false;
  bool woke = false;

 private:
  uint32_t TakeDeferred(uint32_t conn) {
    auto it = deferred.find(conn);
    if (it == deferred.end()) return 0;
    const uint32_t n = it->second;
    deferred.erase(it);
    return n;
  }
  void Push(int kind, uint32_t conn, double value, bool wakes) {
    batch.events.push_back(kind);
    batch.events.push_back(conn);
    batch.events.push_back(value);
    urgent = urgent || wakes;
  }
  std::unordered_map<uint32_t, uint32_t> deferred;
};

RingThread::RingThread(Ready ready, void* arg) : ready_(ready), ready_arg_(arg) {}

RingThread::~RingThread() { Stop(); }

bool RingThread::Start(const RingOptions& options, std::string* error) {
  RingOptions o = options;
  o.event_fd = false;  // the thread waits in io_uring_enter, nobody polls an eventfd
  ring_.reset(new Ring());
  if (!ring_->Init(o, error)) {
    ring_.reset();
    return false;
  }
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    *error = std::string("eventfd: ") + std::strerror(errno);
    ring_.reset();
    return false;
  }
  // Armed before the thread starts (the ring is handed over by pthread_create, a
  // synchronisation point), so a command queued right after Start() already wakes it.
  if (!ring_->Watch(wake_fd_, &wake_buf_, sizeof wake_buf_)) {
    *error = "io_uring: could not arm the wake-up read";
    ring_.reset();
    return false;
  }
  const int rc = pthread_create(&thread_, nullptr, Main, this);
  if (rc != 0) {
    *error = std::string("pthread_create: ") + std::strerror(rc);
    ring_.reset();
    return false;
  }
  started_ = true;
  return true;
}

void RingThread::Push(Cmd&& cmd) {
  {
    core::MutexLock lock(mutex_);
    commands_.push_back(std::move(cmd));
  }
  // One eventfd write per burst: the thread clears the flag before it takes the queue, so
  // a command queued after that takes writes again (see RunCommands).
  if (!wake_pending_.exchange(true)) ::eventfd_write(wake_fd_, 1);
}

void RingThread::Connect(uint32_t id, int fd, const sockaddr* addr, socklen_t len) {
  Cmd c(kCmdConnect);
  c.id = id;
  c.fd = fd;
  if (len > sizeof c.addr) len = 0;  // ConnectFd refuses it (EINVAL) on the thread
  std::memcpy(&c.addr, addr, len);
  c.addr_len = len;
  Push(std::move(c));
}

void RingThread::Write(uint32_t id, const iovec* iov, size_t count, bool notify) {
  Cmd c(kCmdWrite);
  c.id = id;
  c.notify = notify;
  c.iov.assign(iov, iov + count);
  Push(std::move(c));
}

void RingThread::Close(uint32_t id) {
  Cmd c(kCmdClose);
  c.id = id;
  Push(std::move(c));
}

void RingThread::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (started_) {
    Push(Cmd(kCmdStop));
    pthread_join(thread_, nullptr);
    started_ = false;
  }
  ring_.reset();
  {
    core::MutexLock lock(mutex_);
    // Commands queued after the stop: their sockets were never handed to the ring.
    for (Cmd& c : commands_) {
      if (c.kind == kCmdConnect && c.fd >= 0) ::close(c.fd);
    }
    commands_.clear();
    published_.clear();
  }
  if (wake_fd_ >= 0) ::close(wake_fd_);
  wake_fd_ = -1;
}

void RingThread::Take(RingBatch* out) {
  out->clear();
  core::MutexLock lock(mutex_);
  std::swap(*out, published_);
}

void* RingThread::Main(void* self) {
  static_cast<RingThread*>(self)->Run();
  return nullptr;
}

bool RingThread::RunCommands(Sink* sink) {
  wake_pending_.store(false);
  std::vector<Cmd> cmds;
  {
    core::MutexLock lock(mutex_);
    cmds.swap(commands_);
  }
  bool stop = false;
  for (size_t i = 0; i < cmds.size(); i++) {
    Cmd& c = cmds[i];
    switch (c.kind) {
      case kCmdConnect: {
        int err = 0;
        const int fd = c.fd;
        c.fd = -1;  // ConnectFd owns it now, even when it fails
        if (ring_->ConnectFd(fd, reinterpret_cast<const sockaddr*>(&c.addr), c.addr_len, c.id, &err) == 0) {
          sink->Refused(c.id, err);
        }
        break;
      }
      case kCmdWrite:
        // false: closing or gone; the close event fails the write on the client's side.
        ring_->Write(c.id, c.iov.data(), c.iov.size(), c.notify);
        break;
      case kCmdClose:
        ring_->Close(c.id);
        break;
      case kCmdStop:
        stop = true;
        break;
    }
    if (stop) {
      for (size_t j = i + 1; j < cmds.size(); j++) {
        if (cmds[j].kind == kCmdConnect && cmds[j].fd >= 0) ::close(cmds[j].fd);
      }
      break;
    }
  }
  return stop;
}

void RingThread::Run() {
  Sink sink;
  bool stopping = false;
  for (;;) {
    // Held: the re-armed reads and the commands' sends of this turn enter the kernel
    // together, in the SubmitAndWait at the end of it.
    ring_->Hold();
    ring_->Process(&sink, /*clear_event=*/false);
    if (sink.woke) {
      sink.woke = false;
      if (!stopping) ring_->Watch(wake_fd_, &wake_buf_, sizeof wake_buf_);
    }
    if (!stopping && RunCommands(&sink)) {
      stopping = true;
      ring_->CloseAll();
      ring_->Unwatch();
    }
    if (sink.urgent && !stopping) {
      sink.FlushDeferred();
      bool was_empty = false;
      {
        core::MutexLock lock(mutex_);
        was_empty = published_.empty();
        if (was_empty) {
          std::swap(published_, sink.batch);
        } else {
          // Appended behind what the client has not taken yet: data indices shift.
          const double base = static_cast<double>(published_.data.size());
          for (size_t i = 0; i < sink.batch.events.size(); i += 3) {
            published_.events.push_back(sink.batch.events[i]);
            published_.events.push_back(sink.batch.events[i + 1]);
            published_.events.push_back(sink.batch.events[i] == kRingData ? sink.batch.events[i + 2] + base
                                                                          : sink.batch.events[i + 2]);
          }
          for (auto& d : sink.batch.data) published_.data.push_back(std::move(d));
        }
      }
      sink.batch.clear();
      sink.urgent = false;
      if (was_empty) ready_(ready_arg_);
    }
    if (stopping) {
      sink.batch.clear();  // nobody takes events after Stop()
      sink.urgent = false;
      if (ring_->connections() == 0 && !ring_->watching()) break;
    }
    ring_->SubmitAndWait();
  }
  // Every operation is back from the kernel: free the ring here, on its own thread.
  ring_.reset();
}

}  // namespace io
}  // namespace kafka_turbo
