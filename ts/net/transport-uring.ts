/**
 * TransportSocket over the native addon's io_uring ring (native/src/io/ring.cc, bound in
 * native/src/binding/uring.cc). The ring's completions arrive on the JS thread, all of one
 * libuv wake-up in one call (onEvents), and are dispatched here to the sockets by id.
 *
 * Writes: chunks written between cork() and uncork() go to the ring as one write (one
 * sendmsg of all their buffers, the batches' Buffers as they are, never copied); outside cork
 * each write() is its own. A write's Buffers stay referenced here until the ring reports it
 * written or the socket closed, because the kernel reads them in place. writeHeld() puts a
 * held batch (the native backend's drained batch, HeldRecords) into the same sendmsg by its
 * ref: the ring resolves it to the batch's native memory and keeps that alive itself. Write callbacks run
 * in write order when the ring says their bytes are in the kernel, or with the close's error.
 *
 * Reads (RecvMode): 'poll' arms no recv on the ring; the addon watches each connected socket
 * with a libuv poll handle of its own and reads it with recv(2) when epoll reports it
 * readable; 'ring' keeps a recv armed on the ring. Either way the bytes arrive here as the
 * same data events, so nothing below depends on the mode.
 *
 * The ring is one per process (per environment), made on first use and shared by every
 * connection; its libuv handle keeps the process alive only while it has connections.
 */
import { Buffer } from 'node:buffer';
import { lookup } from 'node:dns';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { getSystemErrorName } from 'node:util';
import type { HeldRecords } from '../protocol/produce.js';
import type { Transport, TransportSocket } from './transport.js';

/**
 * How the kernel runs the ring's task work (native/src/io/ring.h TaskRun): 'defer'
 * (IORING_SETUP_DEFER_TASKRUN + SINGLE_ISSUER: a socket's completion is made when the ring's
 * wake-up asks for it, and wakes the loop once, through the eventfd), 'coop'
 * (COOP_TASKRUN), 'plain' (no flags: the completion interrupts the loop's sleeping epoll_wait
 * first). A ring asked for 'defer' or 'coop' on a kernel that refuses the flag gets 'plain'.
 */
export type TaskRunMode = 'defer' | 'coop' | 'plain';

/**
 * How the ring receives (native/src/io/ring.h RecvMode): 'poll' (recv(2) when libuv's epoll
 * reports the socket readable, one poll handle per connection; sends stay on the ring) or
 * 'ring' (an io_uring recv always armed, whose completion goes through the kernel's poll
 * wake-up and task work before it signals the ring's eventfd).
 */
export type RecvMode = 'poll' | 'ring';

/** What a ring runs with, and why not what it asked for (null: it got it). */
export interface TaskRunInfo {
  mode: TaskRunMode;
  fallback: string | null;
}

/** The ring object of the addon (createRing). */
export interface NativeRing {
  connect(ip: string, port: number, sendBuffer: number, recvBuffer: number): number;
  /** notify false: no callback waits on it, so its written event may come late (with the
   * next event JavaScript gets). */
  write(id: number, chunks: (Uint8Array | number)[], notify: boolean): boolean;
  close(id: number): boolean;
  connections(): number;
  taskRun(): TaskRunInfo;
  recvMode(): RecvMode;
  /** Connections' poll handles open now (RecvMode 'poll'). */
  pollHandles(): number;
  destroy(): void;
}

/**
 * One wake-up's completions: `count` events in `events` from slot 0, four numbers each
 * ([kind, connection id, a, b], the EV_ kinds below); the received bytes are in `slabs`
 * (undefined: no data; one ArrayBuffer; or several, when an EV_SLAB event says the data
 * after it is in another). `events` is the ring's own array, rewritten by its next wake-up:
 * it is read before the callback returns. The slabs' bytes are never written again once
 * handed over, so views on them may be kept.
 */
export type RingEvents = (count: number, events: Float64Array, slabs: ArrayBuffer | ArrayBuffer[] | undefined) => void;

/** refuseForTest: the mode's setup flags are treated as refused (tests of the fallback). */
export type CreateRing = (
  onEvents: RingEvents,
  taskRun?: TaskRunMode,
  refuseForTest?: boolean,
  recv?: RecvMode,
) => NativeRing;

/** The addon's ioUringTaskRun: the mode a ring asked for `taskRun` gets on this kernel. */
export type ProbeTaskRun = (taskRun: TaskRunMode, refuseForTest?: boolean) => TaskRunInfo;

/** Event kinds of the flat [kind, id, a, b] list (binding/uring.cc EventKind). */
const EV_CONNECTED = 1;
/** a: the bytes' offset in the current slab, b: their length. */
const EV_DATA = 2;
/** a: how many of the socket's oldest writes are in the kernel now. */
const EV_WRITTEN = 3;
/** a: the errno (0: closed by close()). */
const EV_CLOSED = 4;
/** The peer ended the stream. */
const EV_END = 5;
/** id 0, a: the index in `slabs` of the slab the data events after it are in. */
const EV_SLAB = 6;
/** The receive mode when none is asked for (bench/RESULTS.md, "erecv, built"). */
export const DEFAULT_RECV: RecvMode = 'poll';
/** The ring takes at most this many buffers per write. */
const MAX_IOV = 1024;

export interface UringTransportOptions {
  /** SO_SNDBUF / SO_RCVBUF for new sockets (0: the kernel's default). Tests make them tiny to
   * force short sends and reads. */
  sendBuffer?: number;
  recvBuffer?: number;
  /** The ring's task-work mode (default 'defer'; the backend passes what it probed). */
  taskRun?: TaskRunMode;
  /** Tests: the mode's setup flags are refused, as by a kernel older than them. */
  refuseTaskRunForTest?: boolean;
  /** How the ring receives (default 'poll'; the backend passes KAFKA_TURBO_IO_RECV). */
  recv?: RecvMode;
}

interface WriteGroup {
  /** Buffers, and held batches by ref. */
  chunks: (Buffer | number)[];
  callbacks: ((err?: Error | null) => void)[];
}

function systemError(errno: number, syscall: string, address: string): Error & { code: string; errno: number } {
  let code = 'EIO';
  try {
    code = getSystemErrorName(-errno);
  } catch {
    // not a known errno: keep EIO
  }
  return Object.assign(new Error(`${syscall} ${code} ${address}`), { code, errno: -errno, syscall });
}

export class UringTransport implements Transport {
  readonly name = 'uring' as const;
  private ring: NativeRing | null = null;
  private readonly sockets = new Map<number, UringSocket>();

  constructor(
    private readonly createRing: CreateRing,
    readonly options: UringTransportOptions = {},
  ) {}

  connect(host: string, port: number): TransportSocket {
    return new UringSocket(this, host, port);
  }

  /** @internal */
  open(socket: UringSocket, ip: string, port: number): number {
    this.ring ??= this.createRing(
      (count, events, slabs) => this.onEvents(count, events, slabs),
      this.options.taskRun ?? 'defer',
      this.options.refuseTaskRunForTest ?? false,
      this.options.recv ?? DEFAULT_RECV,
    );
    const id = this.ring.connect(ip, port, this.options.sendBuffer ?? 0, this.options.recvBuffer ?? 0);
    this.sockets.set(id, socket);
    return id;
  }

  /** @internal */
  get native(): NativeRing {
    return this.ring!;
  }

  /** @internal */
  forget(id: number): void {
    this.sockets.delete(id);
  }

  /** The ring's task-work mode, once it exists (made on the first connect). */
  taskRun(): TaskRunInfo | null {
    return this.ring === null ? null : this.ring.taskRun();
  }

  /** The ring's receive mode, once it exists. */
  recvMode(): RecvMode | null {
    return this.ring === null ? null : this.ring.recvMode();
  }

  /** Sockets open on the ring (tests: nothing left after close). */
  openSockets(): number {
    return this.ring === null ? 0 : this.ring.connections();
  }

  private onEvents(count: number, events: Float64Array, slabs: ArrayBuffer | ArrayBuffer[] | undefined): void {
    let slab = Array.isArray(slabs) ? slabs[0] : slabs;
    for (let i = 0, end = 4 * count; i < end; i += 4) {
      const kind = events[i]!;
      if (kind === EV_SLAB) {
        slab = (slabs as ArrayBuffer[])[events[i + 2]!];
        continue;
      }
      const id = events[i + 1]!;
      const socket = this.sockets.get(id);
      if (socket === undefined) continue;
      const a = events[i + 2]!;
      if (kind === EV_DATA) socket.onData(Buffer.from(slab!, a, events[i + 3]!));
      else if (kind === EV_WRITTEN) socket.onWritten(a);
      else if (kind === EV_CONNECTED) socket.onConnected();
      else if (kind === EV_CLOSED || kind === EV_END) {
        this.sockets.delete(id);
        socket.onClosed(a);
      }
    }
  }
}

export class UringSocket extends EventEmitter implements TransportSocket {
  closed = false;
  private id = 0;
  private destroyed = false;
  private connected = false;
  private corked = 0;
  private group: WriteGroup | null = null;
  /** Writes handed to the ring, oldest first, until it reports them written. */
  private readonly inRing: WriteGroup[] = [];
  private readonly address: string;

  constructor(
    private readonly transport: UringTransport,
    host: string,
    private readonly port: number,
  ) {
    super();
    this.address = `${host}:${port}`;
    if (isIP(host) !== 0) {
      process.nextTick(() => this.start(host));
    } else {
      lookup(host, (err, ip) => {
        if (this.destroyed) return;
        if (err) this.fail(err);
        else this.start(ip);
      });
    }
  }

  private start(ip: string): void {
    if (this.destroyed) return;
    try {
      this.id = this.transport.open(this, ip, this.port);
    } catch (err) {
      const e = err as Error & { errno?: number };
      this.fail(e.errno !== undefined ? systemError(-e.errno, 'socket', this.address) : e);
      return;
    }
    // Writes made before the socket existed (none from BrokerConnection, which waits for
    // 'connect') go out now, in order.
    const pending = this.inRing.splice(0);
    for (const g of pending) this.submit(g);
  }

  /** Emits 'error' then 'close' for a failure before the ring knew the socket. */
  private fail(err: Error): void {
    this.destroyed = true;
    this.failWrites(err);
    this.emit('error', err);
    this.closed = true;
    this.emit('close', true);
  }

  write(chunk: Buffer, cb?: (err?: Error | null) => void): boolean {
    return this.writeChunk(chunk, cb);
  }

  /** write() of a held batch, written from its native memory by ref. Before the socket is open
   * its bytes are taken as a Buffer instead (the ref might be released before start()). */
  writeHeld(chunk: HeldRecords, cb?: (err?: Error | null) => void): boolean {
    return this.writeChunk(this.id === 0 ? chunk.toBuffer() : chunk.ref, cb);
  }

  private writeChunk(chunk: Buffer | number, cb?: (err?: Error | null) => void): boolean {
    if (this.destroyed) {
      if (cb) process.nextTick(cb, Object.assign(new Error('This socket has been destroyed'), { code: 'ERR_STREAM_DESTROYED' }));
      return false;
    }
    if (this.corked > 0) {
      this.group ??= { chunks: [], callbacks: [] };
      this.group.chunks.push(chunk);
      if (cb) this.group.callbacks.push(cb);
      if (this.group.chunks.length >= MAX_IOV) this.flushGroup();
      return true;
    }
    this.submit({ chunks: [chunk], callbacks: cb ? [cb] : [] });
    return true;
  }

  cork(): void {
    this.corked++;
  }

  uncork(): void {
    if (this.corked === 0) return;
    if (--this.corked === 0) this.flushGroup();
  }

  private flushGroup(): void {
    const g = this.group;
    this.group = null;
    if (g !== null && g.chunks.length > 0) this.submit(g);
  }

  private submit(g: WriteGroup): void {
    if (this.id === 0) {
      this.inRing.push(g); // not open yet: start() submits it
      return;
    }
    this.inRing.push(g);
    if (!this.transport.native.write(this.id, g.chunks, g.callbacks.length > 0)) {
      // Closing already: its close event fails what is in inRing.
    }
  }

  setNoDelay(): this {
    return this; // the ring sets TCP_NODELAY on every socket
  }

  setKeepAlive(): this {
    return this; // and SO_KEEPALIVE
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.id !== 0 && this.transport.native.close(this.id)) return; // 'close' follows from the ring
    if (this.id !== 0) this.transport.forget(this.id);
    // Not open yet (name lookup pending), or already closing on the ring's side.
    process.nextTick(() => {
      if (this.closed) return;
      this.failWrites(Object.assign(new Error('This socket has been destroyed'), { code: 'ERR_STREAM_DESTROYED' }));
      this.closed = true;
      this.emit('close', false);
    });
  }

  /** @internal */
  onConnected(): void {
    this.connected = true;
    if (!this.destroyed) this.emit('connect');
  }

  /** @internal */
  onData(buf: Buffer): void {
    if (!this.destroyed) this.emit('data', buf);
  }

  /** @internal */
  onWritten(count: number): void {
    for (let i = 0; i < count; i++) {
      const g = this.inRing.shift();
      if (g === undefined) break;
      for (const cb of g.callbacks) cb(null);
    }
  }

  /** @internal errno 0: closed by destroy() or ended by the peer. */
  onClosed(errno: number): void {
    if (this.closed) return;
    const err =
      errno !== 0 ? systemError(errno, this.connected ? 'read' : 'connect', this.address) : null;
    this.failWrites(err ?? Object.assign(new Error('socket closed'), { code: this.destroyed ? 'ERR_STREAM_DESTROYED' : 'EPIPE' }));
    this.destroyed = true;
    if (err !== null) this.emit('error', err);
    this.closed = true;
    this.emit('close', err !== null);
  }

  private failWrites(err: Error): void {
    const groups = this.inRing.splice(0);
    if (this.group !== null) groups.push(this.group);
    this.group = null;
    for (const g of groups) for (const cb of g.callbacks) cb(err);
  }
}
