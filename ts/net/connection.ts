/**
 * One TCP connection to one broker: framing, pipelining, timeouts, reconnect. The byte stream
 * is a TransportSocket (transport.ts): node:net, node:tls, or the native backend's io_uring
 * ring (transport-uring.ts), chosen once at load; this file is the same for all of them.
 *
 * Kafka answers the requests of one connection in the order it received them, so requests
 * are sent in order, at most `maxInFlight` awaiting an answer at a time (more wait in a FIFO
 * queue), and each response must carry the correlation id of the oldest request in flight;
 * anything else means the byte stream is corrupt and the connection is dropped.
 *
 * Request bodies may be lists of chunks (a Produce request interleaves small framing buffers
 * with the record batches); they are written under cork() so Node hands the whole pipeline to
 * the kernel in one writev, without copying the batches into a request buffer.
 *
 * Timeouts: a request fails with KafkaJSRequestTimeoutError `requestTimeoutMs` after it was
 * created, whether it is still queued, in flight, or (acks=0) still being written. When a
 * request that was sent times out, the connection is dropped, as the Java client's
 * NetworkClient does (handleTimedOutRequests disconnects the node): a peer that stopped
 * answering, or a half-open or black-holed socket, would otherwise keep every slot and make
 * every retry time out on it too. Dropping it fails the other requests in flight and queued
 * with a retriable KafkaJSConnectionError (the caller retries them, on a new connection once
 * it calls connect() again), and the destroyed socket takes any late response with it, so the
 * in-flight bound an idempotent producer relies on still holds: nothing from the old socket
 * can answer a request of the new one. A request that times out while still queued (its
 * in-flight slots were held) fails alone; that never leaves data on the wire.
 * Deadlines grow in creation order, so one timer, armed for the oldest pending request, serves
 * every request.
 *
 * close() is final: it fails what is pending, destroys the socket or the one being opened,
 * and later connect() and request() calls are refused (ECONNCLOSED), so no caller still on
 * its way (a metadata fetch, a handshake) can open a socket after close.
 */

import { Buffer } from 'node:buffer';
import { microtask } from '../microtask.js';
import { EventEmitter } from 'node:events';
import type * as tls from 'node:tls';
import {
  InvalidResponseError,
  KafkaJSConnectionError,
  KafkaJSError,
  KafkaJSRequestTimeoutError,
} from '../errors.js';
import { apiName } from '../protocol/api-keys.js';
import { isHeldRecords, type HeldRecords, type RequestChunk } from '../protocol/produce.js';
import { Reader } from '../protocol/reader.js';
import { writeRequestHeader } from '../protocol/request-header.js';
import { Writer } from '../protocol/writer.js';
import { connectTls, tlsCertificateError } from './tls.js';
import { defaultTransport, type Transport, type TransportSocket } from './transport.js';

export interface BrokerConnectionOptions {
  host: string;
  port: number;
  clientId: string;
  nodeId?: number;
  /** Requests awaiting a response at once; more wait in a queue. */
  maxInFlight: number;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  /** Wait before reconnecting after the first failed attempt; doubles per failure. */
  reconnectBackoffMs: number;
  reconnectBackoffMaxMs: number;
  /** TLS (node:tls) options, or null/undefined for plain TCP (ts/net/tls.ts). */
  tls?: tls.ConnectionOptions | null;
  /** The byte stream for plain TCP (default: the one chosen at load, transport.ts). TLS
   * connections always use node:tls. */
  transport?: Transport;
}

/** What requestWith() calls back: one of the two, once. */
export interface ResponseHandler<T> {
  onResponse(res: T): void;
  onError(err: Error): void;
}

export interface RequestOptions {
  /** false for Produce with acks=0: the broker sends nothing back, so the request resolves
   * (with null) once its bytes are written. Default true. */
  expectResponse?: boolean;
  /** The response uses header v0 even though the request is flexible (ApiVersions). */
  responseHeaderV0?: boolean;
}

/** Payload of the 'request' event, emitted when a request completes. */
export interface RequestEvent {
  broker: string;
  clientId: string;
  correlationId: number;
  /** Response size in bytes (without the 4-byte length prefix); 0 when no response is expected. */
  size: number;
  createdAt: number;
  sentAt: number;
  /** Time spent queued before being written: sentAt - createdAt. */
  pendingDuration: number;
  /** Time from being written to completion. */
  duration: number;
  apiName: string;
  apiKey: number;
  apiVersion: number;
}

/** Payload of the 'request_timeout' event. `sentAt` is 0 when the request never left the queue. */
export interface RequestTimeoutEvent {
  broker: string;
  clientId: string;
  correlationId: number;
  createdAt: number;
  sentAt: number;
  pendingDuration: number;
  apiName: string;
  apiKey: number;
  apiVersion: number;
}

/** Payload of the 'request_queue_size' event: requests waiting for an in-flight slot. */
export interface RequestQueueSizeEvent {
  broker: string;
  clientId: string;
  queueSize: number;
}

/** Decodes a response body. Same parameter order as the `decode` of the API descriptors in
 * ts/protocol (e.g. Produce.decode), so a descriptor's decode can be passed as it is. */
export type Decode<T> = (version: number, r: Reader) => T;

interface PendingRequest {
  correlationId: number;
  apiKey: number;
  apiVersion: number;
  /** Response header v1 (tagged fields after the correlation id) rather than v0. */
  flexibleResponseHeader: boolean;
  expectResponse: boolean;
  /** Length prefix + header, then the body chunks (held batches among them: see send()). */
  chunks: RequestChunk[];
  decode: Decode<unknown> | null;
  /** request()'s promise (its resolving functions), or requestWith()'s caller. */
  handler: ResponseHandler<unknown>;
  /** requestWith(): the handler's onResponse runs in the read callback (a throw in it is
   * reported, not taken for a bad response) and its onError from a microtask. */
  callback: boolean;
  createdAt: number;
  /** 0 until written. */
  sentAt: number;
  deadline: number;
  /** Resolved, rejected or timed out: a late response is dropped. */
  settled: boolean;
}

const notHeld = (b: RequestChunk): boolean => !isHeldRecords(b);

/** Rejects a pending request: at once for request()'s promise (its handlers run later anyway),
 * from a microtask for requestWith()'s handler. */
function failPending(p: PendingRequest, err: Error): void {
  const handler = p.handler;
  if (!p.callback) handler.onError(err);
  else microtask(() => handler.onError(err));
}

/** Hands a response to requestWith()'s handler; its throw is the caller's bug, reported as
 * uncaught (a `then` handler's throw would surface as an unhandled rejection) while the
 * connection reads on. */
function answer(p: PendingRequest, result: unknown): void {
  try {
    p.handler.onResponse(result);
  } catch (err) {
    process.nextTick(() => {
      throw err;
    });
  }
}

/** A FIFO with O(1) shift: an array and a head index, compacted when half of it is dead. */
class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  at(i: number): T | undefined {
    return this.items[this.head + i];
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  drain(): T[] {
    const out = this.items.slice(this.head) as T[];
    this.items = [];
    this.head = 0;
    return out;
  }
}

/** The deadline of the oldest request of `list` still unsettled, or Infinity. */
/** A socket that writes held batches from their native memory (the io_uring transport's). */
interface HeldWriter {
  writeHeld(chunk: HeldRecords, cb?: (err?: Error | null) => void): boolean;
}

/** One request chunk to the socket: a held batch by ref where the socket can (the ring), else
 * as a Buffer made over its native memory (node:net, node:tls). */
function writeChunk(socket: TransportSocket, chunk: RequestChunk, cb?: (err?: Error | null) => void): void {
  if (!isHeldRecords(chunk)) {
    socket.write(chunk, cb);
  } else if (typeof (socket as Partial<HeldWriter>).writeHeld === 'function') {
    (socket as TransportSocket & HeldWriter).writeHeld(chunk, cb);
  } else {
    socket.write(chunk.toBuffer(), cb);
  }
}

function firstUnsettledDeadline(list: Fifo<PendingRequest>): number {
  for (let i = 0; i < list.length; i++) {
    const p = list.at(i) as PendingRequest;
    if (!p.settled) return p.deadline;
  }
  return Infinity;
}

/** Largest response frame accepted: a larger length prefix means the stream is corrupt. */
const MAX_FRAME_SIZE = 0x4000_0000;
const CORRELATION_ID_MAX = 0x7fff_ffff;
/** Requests smaller than this are copied into one Buffer before they are written (see request()). */
const COALESCE_BELOW = 4096;

/** Reconnect backoff is randomized by ±20% so that clients do not reconnect in lockstep. */
const BACKOFF_JITTER = 0.2;

type State = 'disconnected' | 'connecting' | 'connected';

export class BrokerConnection extends EventEmitter {
  readonly host: string;
  readonly port: number;
  readonly clientId: string;
  readonly nodeId: number | undefined;
  /** 'host:port', as KafkaJS names brokers in errors and events. */
  readonly broker: string;
  private readonly opts: BrokerConnectionOptions;

  private state: State = 'disconnected';
  /** Set by close(), never cleared: a closed connection refuses to connect again. */
  private closed = false;
  private socket: TransportSocket | null = null;
  private connecting: Promise<void> | null = null;
  /** Bumped by close(): an attempt that started before a close() must not install its socket. */
  private generation = 0;
  /** The socket being opened, so close() can abort it. */
  private openingSocket: TransportSocket | null = null;
  /** Ends the current reconnect-backoff wait early (close() uses it). */
  private cancelBackoff: (() => void) | null = null;
  private consecutiveFailures = 0;
  /** Earliest time (ms) the next connection attempt may start. */
  private nextAttemptAt = 0;

  private nextCorrelationId = 0;
  private readonly headerWriter = new Writer(128);
  private readonly waiting = new Fifo<PendingRequest>();
  /** Sent and awaiting a response, oldest first. */
  private readonly inFlight = new Fifo<PendingRequest>();
  /** Requests that expect no response (acks=0), written but not yet handed to the kernel:
   * their write callback settles them; a write that never drains times out like a response. */
  private readonly unflushed = new Fifo<PendingRequest>();
  private timeoutTimer: NodeJS.Timeout | null = null;
  /** whenIdle() callers, resolved when the last outstanding request settles. */
  private readonly idleWaiters: (() => void)[] = [];
  /** Last queue size reported by 'request_queue_size', to emit only on changes. */
  private reportedQueueSize = 0;

  // Incoming bytes not yet consumed as frames: a list of chunks, so a frame that arrives in
  // many pieces is copied once, when it is complete, never re-concatenated per chunk.
  private readChunks: Buffer[] = [];
  private readBuffered = 0;
  /** Body size of the frame being read, or -1 while its length prefix is still incomplete. */
  private frameSize = -1;

  constructor(opts: BrokerConnectionOptions) {
    super();
    if (!(opts.maxInFlight >= 1)) throw new RangeError(`maxInFlight must be at least 1, got ${opts.maxInFlight}`);
    this.opts = { ...opts };
    this.host = opts.host;
    this.port = opts.port;
    this.clientId = opts.clientId;
    this.nodeId = opts.nodeId;
    this.broker = `${opts.host}:${opts.port}`;
  }

  /** Requests not yet settled: in flight (acks=0 writes not yet drained included) plus
   * queued. Java's NetworkClient.leastLoadedNode counts the same to pick a node. */
  get outstandingRequests(): number {
    let n = this.inFlight.length + this.waiting.length;
    for (let i = 0; i < this.unflushed.length; i++) if (!(this.unflushed.at(i) as PendingRequest).settled) n++;
    return n;
  }

  /** True once close() was called: the connection will never open again. */
  isClosed(): boolean {
    return this.closed;
  }

  /** An attempt to open the socket is under way (or waiting out its backoff). */
  isConnecting(): boolean {
    return this.state === 'connecting';
  }

  /** Not connected, and the reconnect backoff after a failed attempt has not run out yet:
   * connect() waits (or is waiting) for it. Java's leastLoadedNode skips such nodes. */
  isBackingOff(now = Date.now()): boolean {
    return this.state !== 'connected' && this.nextAttemptAt > now;
  }

  /** Resolves once no request is outstanding (at once when none is). A broker that left the
   * metadata is closed this way, after what was in flight on it has completed. */
  whenIdle(): Promise<void> {
    if (this.outstandingRequests === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private checkIdle(): void {
    if (this.idleWaiters.length === 0 || this.outstandingRequests > 0) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  isConnected(): boolean {
    return this.state === 'connected';
  }

  /**
   * Opens the connection. Resolves at once when connected; concurrent callers share one
   * attempt. After a failed attempt the next one first waits out the reconnect backoff.
   * Rejects with a retriable KafkaJSConnectionError whose `code` is the socket error code
   * (ECONNREFUSED, ETIMEDOUT, ...).
   */
  connect(): Promise<void> {
    if (this.closed) return Promise.reject(this.closedForGood());
    if (this.state === 'connected') return Promise.resolve();
    if (this.connecting !== null) return this.connecting;
    this.state = 'connecting';
    const attempt = this.attemptConnect(this.generation).finally(() => {
      if (this.connecting === attempt) this.connecting = null;
    });
    this.connecting = attempt;
    return attempt;
  }

  private async attemptConnect(generation: number): Promise<void> {
    const wait = this.nextAttemptAt - Date.now();
    if (wait > 0) await this.sleepBackoff(wait);
    if (generation !== this.generation) throw this.closedWhileConnecting();
    let socket: TransportSocket;
    try {
      socket = await this.open();
    } catch (err) {
      if (generation !== this.generation) throw this.closedWhileConnecting();
      this.state = 'disconnected';
      this.consecutiveFailures++;
      this.nextAttemptAt = Date.now() + this.backoffMs(this.consecutiveFailures);
      throw err;
    }
    if (generation !== this.generation) {
      socket.destroy();
      throw this.closedWhileConnecting();
    }
    this.consecutiveFailures = 0;
    this.nextAttemptAt = 0;
    this.install(socket);
  }

  private closedForGood(): KafkaJSConnectionError {
    // Retriable for the request's sake: a broker that left the metadata is closed this way,
    // and what was on its way to it can go to the new leader once metadata is refreshed.
    return new KafkaJSConnectionError(`Connection to ${this.broker} was closed by the client and cannot be reopened`, {
      broker: this.broker,
      code: 'ECONNCLOSED',
    });
  }

  private closedWhileConnecting(): KafkaJSConnectionError {
    return new KafkaJSConnectionError(`Connection to ${this.broker} was closed while connecting`, {
      broker: this.broker,
      code: 'ECONNCLOSED',
    });
  }

  /** Exponential backoff for the n-th consecutive failure, jittered, within [base, max]. */
  private backoffMs(failures: number): number {
    const { reconnectBackoffMs: base, reconnectBackoffMaxMs: max } = this.opts;
    const exp = Math.min(max, base * 2 ** Math.min(failures - 1, 30));
    const jittered = exp * (1 - BACKOFF_JITTER + 2 * BACKOFF_JITTER * Math.random());
    return Math.max(Math.min(base, max), Math.min(max, jittered));
  }

  private sleepBackoff(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.cancelBackoff = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.cancelBackoff = done;
    });
  }

  private open(): Promise<TransportSocket> {
    return new Promise((resolve, reject) => {
      // With TLS the connection is open once the handshake is done (secureConnect).
      const tlsOptions = this.opts.tls ?? null;
      const socket: TransportSocket = tlsOptions
        ? connectTls(this.host, this.port, tlsOptions)
        : (this.opts.transport ?? defaultTransport()).connect(this.host, this.port);
      const connectEvent = tlsOptions ? 'secureConnect' : 'connect';
      this.openingSocket = socket;
      let settled = false;
      const finish = (err: (Error & { code?: string }) | null): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.removeListener(connectEvent, onConnect);
        socket.removeListener('error', onError);
        socket.removeListener('close', onClose);
        if (this.openingSocket === socket) this.openingSocket = null;
        if (err === null) {
          resolve(socket);
        } else {
          // Keep a listener: an 'error' emitted while the socket winds down must not go unhandled.
          socket.on('error', () => undefined);
          socket.destroy();
          reject(
            (tlsOptions && tlsCertificateError(this.broker, err)) ||
              new KafkaJSConnectionError(`Failed to connect to ${this.broker}: ${err.message}`, {
                broker: this.broker,
                code: err.code ?? 'ECONNFAILED',
                cause: err,
              }),
          );
        }
      };
      const onConnect = (): void => finish(null);
      const onError = (err: Error): void => finish(err);
      const onClose = (): void => finish(Object.assign(new Error('socket closed before it connected'), { code: 'ECONNCLOSED' }));
      const timer = setTimeout(
        () =>
          finish(Object.assign(new Error(`connection timed out after ${this.opts.connectTimeoutMs}ms`), { code: 'ETIMEDOUT' })),
        this.opts.connectTimeoutMs,
      );
      socket.once(connectEvent, onConnect);
      socket.once('error', onError);
      socket.once('close', onClose);
    });
  }

  private install(socket: TransportSocket): void {
    socket.setNoDelay(true);
    socket.setKeepAlive(true);
    let lastError: (Error & { code?: string }) | undefined;
    socket.on('data', (chunk: Buffer) => this.onData(socket, chunk));
    socket.on('error', (err) => {
      lastError = err;
    });
    socket.on('close', () => this.onSocketClosed(socket, lastError));
    this.socket = socket;
    this.state = 'connected';
    this.readChunks = [];
    this.readBuffered = 0;
    this.frameSize = -1;
  }

  private onSocketClosed(socket: TransportSocket, err: (Error & { code?: string }) | undefined): void {
    if (this.socket !== socket) return; // already handled by close()
    this.socket = null;
    this.state = 'disconnected';
    const reason = err === undefined ? 'closed by the broker' : `lost: ${err.message}`;
    this.failAll(
      new KafkaJSConnectionError(`Connection to ${this.broker} ${reason}`, {
        broker: this.broker,
        code: err?.code ?? 'ECONNRESET',
        cause: err,
      }),
    );
  }

  /**
   * Closes the connection for good (or aborts an attempt to open it: the socket being opened
   * is destroyed) and fails every pending request with a KafkaJSConnectionError. connect()
   * and request() are refused afterwards.
   */
  close(): Promise<void> {
    this.closed = true;
    this.generation++;
    this.connecting = null;
    this.cancelBackoff?.();
    this.openingSocket?.destroy();
    const socket = this.socket;
    this.socket = null;
    this.state = 'disconnected';
    this.failAll(
      new KafkaJSConnectionError(`Connection to ${this.broker} was closed by the client`, {
        broker: this.broker,
        code: 'ECONNCLOSED',
      }),
    );
    if (socket === null || socket.closed) return Promise.resolve();
    return new Promise((resolve) => {
      socket.once('close', () => resolve());
      socket.destroy();
    });
  }

  private failAll(err: KafkaJSConnectionError): void {
    if (this.timeoutTimer !== null) {
      clearTimeout(this.timeoutTimer);
      this.timeoutTimer = null;
    }
    const pending = [...this.inFlight.drain(), ...this.unflushed.drain(), ...this.waiting.drain()];
    this.emitQueueSize();
    for (const p of pending) {
      if (p.settled) continue;
      p.settled = true;
      failPending(p, err);
    }
    this.checkIdle();
  }

  /**
   * Sends one request: frames it (length prefix + request header v1, or v2 when
   * `flexibleHeader`), queues it behind earlier ones, and resolves with `decode` applied to the
   * response body (null when `decode` is null or no response is expected).
   * Rejects with KafkaJSConnectionError when not connected or when the connection drops, with
   * KafkaJSRequestTimeoutError after requestTimeoutMs (which drops the connection when the
   * request had been sent), with InvalidResponseError when the response does not decode, or
   * with the error the decoder threw on purpose (a KafkaJSError).
   */
  request<T>(
    apiKey: number,
    apiVersion: number,
    flexibleHeader: boolean,
    body: Buffer | readonly RequestChunk[],
    decode: Decode<T> | null,
    opts?: RequestOptions,
  ): Promise<T> {
    const refused = this.refusal();
    if (refused !== null) return Promise.reject(refused);
    return new Promise<T>((resolve, reject) => {
      const handler: ResponseHandler<unknown> = { onResponse: resolve as (res: unknown) => void, onError: reject };
      this.enqueue(apiKey, apiVersion, flexibleHeader, body, decode, opts, handler, false);
    });
  }

  /**
   * request() with a handler instead of a promise, for the produce path (issue 15: the
   * promise, its resolving functions and the `then` hop cost an awaited send about a
   * microsecond). `handler.onResponse` runs as soon as the response is decoded, inside the socket's
   * read callback, before later responses of the same read are looked at; a throw in it is
   * reported as an uncaught exception (as a throw in a `then` handler would surface) and the
   * connection goes on. `handler.onError` gets what request() would reject with, always from a
   * microtask, never inside the call that causes it (close(), a refused request). A throw
   * while framing the request is thrown to the caller, as from request().
   */
  requestWith<T>(
    apiKey: number,
    apiVersion: number,
    flexibleHeader: boolean,
    body: Buffer | readonly RequestChunk[],
    decode: Decode<T> | null,
    handler: ResponseHandler<T>,
    opts?: RequestOptions,
  ): void {
    const refused = this.refusal();
    if (refused !== null) {
      microtask(() => handler.onError(refused));
      return;
    }
    this.enqueue(apiKey, apiVersion, flexibleHeader, body, decode, opts, handler as ResponseHandler<unknown>, true);
  }

  /** Why a request cannot be queued now, or null. */
  private refusal(): Error | null {
    if (this.closed) return this.closedForGood();
    if (this.state !== 'connected') {
      return new KafkaJSConnectionError(`Not connected to ${this.broker}`, { broker: this.broker, code: 'ENOTCONN' });
    }
    return null;
  }

  private enqueue(
    apiKey: number,
    apiVersion: number,
    flexibleHeader: boolean,
    body: Buffer | readonly RequestChunk[],
    decode: Decode<unknown> | null,
    opts: RequestOptions | undefined,
    handler: ResponseHandler<unknown>,
    callback: boolean,
  ): void {
    const correlationId = this.nextCorrelationId;
    this.nextCorrelationId = correlationId === CORRELATION_ID_MAX ? 0 : correlationId + 1;

    const w = this.headerWriter.reset();
    const sizeAt = w.reserve(4);
    writeRequestHeader(w, { apiKey, apiVersion, correlationId, clientId: this.clientId }, flexibleHeader);
    const headerSize = w.length;
    let size = headerSize - 4;
    if (Buffer.isBuffer(body)) size += body.length;
    else for (let i = 0; i < body.length; i++) size += body[i]!.length;
    w.patchInt32(sizeAt, size);
    let chunks: RequestChunk[];
    // A held batch is 4 KiB or more (drainPacked's copy threshold), so a request this small is
    // all Buffers; checked all the same.
    if (size + 4 <= COALESCE_BELOW && (Buffer.isBuffer(body) || body.every(notHeld))) {
      // A small request (an awaited send's, a metadata request) goes out as one Buffer: one
      // socket write instead of one per chunk, for the price of copying a few hundred bytes.
      const one = Buffer.allocUnsafe(size + 4);
      let at = w.copyTo(one, 0);
      if (Buffer.isBuffer(body)) {
        one.set(body, at);
      } else {
        for (let i = 0; i < body.length; i++) {
          const b = body[i] as Buffer;
          one.set(b, at);
          at += b.length;
        }
      }
      chunks = [one];
    } else {
      chunks = [w.finish()];
      if (Buffer.isBuffer(body)) chunks.push(body);
      else for (let i = 0; i < body.length; i++) chunks.push(body[i]!);
    }

    const createdAt = Date.now();
    this.waiting.push({
      correlationId,
      apiKey,
      apiVersion,
      flexibleResponseHeader: flexibleHeader && opts?.responseHeaderV0 !== true,
      expectResponse: opts?.expectResponse !== false,
      chunks,
      decode,
      handler,
      callback,
      createdAt,
      sentAt: 0,
      deadline: createdAt + this.opts.requestTimeoutMs,
      settled: false,
    });
    this.pump(createdAt);
    this.emitQueueSize();
    this.armTimeout();
  }

  /** Writes queued requests while in-flight slots are free, as one corked batch of writes.
   * `nowMs`: the caller's clock reading, when it has one (the requests' sentAt). */
  private pump(nowMs?: number): void {
    const socket = this.socket;
    if (socket === null || this.waiting.length === 0) return;
    const sentAt = nowMs ?? Date.now();
    socket.cork();
    for (;;) {
      const next = this.waiting.peek();
      // A request that expects no response never takes a slot, so it goes whenever it is next.
      if (next === undefined || (next.expectResponse && this.inFlight.length >= this.opts.maxInFlight)) break;
      this.waiting.shift();
      this.send(socket, next, sentAt);
    }
    socket.uncork();
  }

  private send(socket: TransportSocket, p: PendingRequest, nowMs: number): void {
    // socket.write()'s backpressure signal is not waited on: the bytes are record batches the
    // producer already counts against buffer.memory until their request completes, and the
    // in-flight bound caps how many requests sit in the socket's buffer.
    p.sentAt = nowMs;
    const last = p.chunks.length - 1;
    for (let i = 0; i < last; i++) writeChunk(socket, p.chunks[i]!);
    if (p.expectResponse) {
      writeChunk(socket, p.chunks[last]!);
      this.inFlight.push(p);
      return;
    }
    this.unflushed.push(p);
    writeChunk(socket, p.chunks[last]!, (err) => {
      // Write callbacks come in write order: drop the settled head of the list.
      const settledBefore = p.settled;
      p.settled = true;
      while (this.unflushed.peek()?.settled) this.unflushed.shift();
      if (settledBefore) return; // timed out, or failed by a drop or close()
      if (err) {
        failPending(
          p,
          new KafkaJSConnectionError(`Failed to write to ${this.broker}: ${err.message}`, {
            broker: this.broker,
            code: (err as Error & { code?: string }).code ?? 'EPIPE',
            cause: err,
          }),
        );
      } else {
        if (p.callback) answer(p, null);
        else p.handler.onResponse(null);
        this.emitRequest(p, 0);
      }
      this.armTimeout();
      this.checkIdle();
    });
  }

  private onData(socket: TransportSocket, chunk: Buffer): void {
    if (this.socket !== socket) return;
    this.readChunks.push(chunk);
    this.readBuffered += chunk.length;
    while (this.socket === socket) {
      if (this.frameSize < 0) {
        if (this.readBuffered < 4) return;
        const size = this.take(4).readInt32BE(0);
        if (size < 4 || size > MAX_FRAME_SIZE) {
          this.dropCorrupt(socket, `invalid response size ${size}`);
          return;
        }
        this.frameSize = size;
      }
      if (this.readBuffered < this.frameSize) return;
      const frame = this.take(this.frameSize);
      this.frameSize = -1;
      this.onFrame(socket, frame);
    }
  }

  /** Removes the next n buffered bytes: a view when they sit in one chunk, else one copy. */
  private take(n: number): Buffer {
    this.readBuffered -= n;
    const first = this.readChunks[0];
    if (first.length > n) {
      this.readChunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.readChunks.shift();
      return first;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.readChunks[0];
      const want = n - filled;
      if (c.length <= want) {
        c.copy(out, filled);
        filled += c.length;
        this.readChunks.shift();
      } else {
        c.copy(out, filled, 0, want);
        filled += want;
        this.readChunks[0] = c.subarray(want);
      }
    }
    return out;
  }

  private onFrame(socket: TransportSocket, frame: Buffer): void {
    const correlationId = frame.readInt32BE(0);
    const p = this.inFlight.peek();
    if (p === undefined || p.correlationId !== correlationId) {
      this.dropCorrupt(
        socket,
        p === undefined
          ? `response with correlation id ${correlationId} while no request was in flight`
          : `response with correlation id ${correlationId} where ${p.correlationId} was expected`,
      );
      return;
    }
    this.inFlight.shift();
    if (!p.settled) {
      p.settled = true;
      let result: unknown = null;
      let failure: Error | null = null;
      try {
        const r = new Reader(frame, 4);
        if (p.flexibleResponseHeader) r.skipTaggedFields();
        if (p.decode !== null) result = p.decode(p.apiVersion, r);
      } catch (err) {
        // The decoder may throw our own errors on purpose (a broker error code, say); anything
        // else is a malformed response.
        failure =
          err instanceof KafkaJSError
            ? err
            : new InvalidResponseError(
                `Failed to decode ${apiName(p.apiKey)} v${p.apiVersion} response from ${this.broker}: ${(err as Error).message}`,
                { cause: err, broker: this.broker, apiKey: p.apiKey, apiVersion: p.apiVersion },
              );
      }
      if (failure !== null) failPending(p, failure);
      else if (!p.callback) p.handler.onResponse(result);
      else answer(p, result);
      this.emitRequest(p, frame.length);
    }
    this.pump();
    this.emitQueueSize();
    this.armTimeout();
    this.checkIdle();
  }

  /** The stream cannot be trusted any more: fail everything and drop the socket. */
  private dropCorrupt(socket: TransportSocket, what: string): void {
    this.socket = null;
    this.state = 'disconnected';
    socket.destroy();
    this.failAll(
      new KafkaJSConnectionError(`Protocol error from ${this.broker}: ${what}; connection dropped`, {
        broker: this.broker,
        code: 'EPROTO',
      }),
    );
  }

  /** Arms the single timeout timer for the oldest unsettled request, if not already armed. */
  private armTimeout(): void {
    if (this.timeoutTimer !== null) return;
    const deadline = Math.min(
      firstUnsettledDeadline(this.inFlight),
      firstUnsettledDeadline(this.unflushed),
      this.waiting.peek()?.deadline ?? Infinity,
    );
    if (deadline === Infinity) return;
    this.timeoutTimer = setTimeout(() => this.onTimeoutTimer(), Math.max(0, deadline - Date.now()));
    // Pending requests keep the process alive through the socket, not through this timer.
    this.timeoutTimer.unref();
  }

  private onTimeoutTimer(): void {
    this.timeoutTimer = null;
    const now = Date.now();
    // Everything past its deadline times out first (queued ones too, each with its own
    // error); then, if any of them had been sent, the connection is dropped.
    let sentAndTimedOut: PendingRequest | null = null;
    for (const list of [this.inFlight, this.unflushed]) {
      for (let i = 0; i < list.length; i++) {
        const p = list.at(i) as PendingRequest;
        if (p.deadline > now) break;
        if (p.settled) continue;
        this.timeOut(p, now);
        if (sentAndTimedOut === null || p.createdAt < sentAndTimedOut.createdAt) sentAndTimedOut = p;
      }
    }
    for (let p = this.waiting.peek(); p !== undefined && p.deadline <= now; p = this.waiting.peek()) {
      this.waiting.shift();
      this.timeOut(p, now);
    }
    if (sentAndTimedOut !== null && this.socket !== null) {
      this.dropAfterTimeout(this.socket, sentAndTimedOut);
      return;
    }
    this.emitQueueSize();
    this.armTimeout();
    this.checkIdle();
  }

  /** A sent request got no answer in time: the socket cannot be trusted to answer anything
   * (Java: NetworkClient disconnects the node). Fail the rest retriably and destroy it. */
  private dropAfterTimeout(socket: TransportSocket, p: PendingRequest): void {
    this.socket = null;
    this.state = 'disconnected';
    socket.destroy();
    this.failAll(
      new KafkaJSConnectionError(
        `Connection to ${this.broker} dropped after request ${p.correlationId} timed out ` +
          `(${apiName(p.apiKey)} v${p.apiVersion}, no answer in ${this.opts.requestTimeoutMs}ms)`,
        { broker: this.broker, code: 'ETIMEDOUT' },
      ),
    );
  }

  private timeOut(p: PendingRequest, now: number): void {
    p.settled = true;
    const sent = p.sentAt !== 0;
    const pendingDuration = (sent ? p.sentAt : now) - p.createdAt;
    const name = apiName(p.apiKey);
    const err = new KafkaJSRequestTimeoutError(
      `Request ${name}(key: ${p.apiKey}, version: ${p.apiVersion}) to ${this.broker} timed out after ` +
        `${this.opts.requestTimeoutMs}ms${sent ? '' : ' without being sent'}`,
      { broker: this.broker, correlationId: p.correlationId, createdAt: p.createdAt, sentAt: p.sentAt, pendingDuration },
    );
    if (this.listenerCount('request_timeout') > 0) {
      const ev: RequestTimeoutEvent = {
        broker: this.broker,
        clientId: this.clientId,
        correlationId: p.correlationId,
        createdAt: p.createdAt,
        sentAt: p.sentAt,
        pendingDuration,
        apiName: name,
        apiKey: p.apiKey,
        apiVersion: p.apiVersion,
      };
      this.emit('request_timeout', ev);
    }
    failPending(p, err);
  }

  private emitRequest(p: PendingRequest, size: number): void {
    if (this.listenerCount('request') === 0) return;
    const ev: RequestEvent = {
      broker: this.broker,
      clientId: this.clientId,
      correlationId: p.correlationId,
      size,
      createdAt: p.createdAt,
      sentAt: p.sentAt,
      pendingDuration: p.sentAt - p.createdAt,
      duration: Date.now() - p.sentAt,
      apiName: apiName(p.apiKey),
      apiKey: p.apiKey,
      apiVersion: p.apiVersion,
    };
    this.emit('request', ev);
  }

  /** Emits 'request_queue_size' when the number of queued requests changed since the last one. */
  private emitQueueSize(): void {
    if (this.waiting.length === this.reportedQueueSize) return;
    this.reportedQueueSize = this.waiting.length;
    if (this.listenerCount('request_queue_size') === 0) return;
    const ev: RequestQueueSizeEvent = { broker: this.broker, clientId: this.clientId, queueSize: this.waiting.length };
    this.emit('request_queue_size', ev);
  }
}
