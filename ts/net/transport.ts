/**
 * The byte stream under a BrokerConnection, behind one small interface so that a connection
 * can run over node:net (and node:tls) or over the native backend's io_uring ring
 * (transport-uring.ts) with the same framing, pipelining and timeout code.
 *
 * The interface is the part of node:net's Socket that BrokerConnection uses, so a net.Socket
 * or tls.TLSSocket is a TransportSocket as it is: events 'connect', 'data', 'error' (at most
 * once, before 'close'), 'close' (exactly once, after destroy() or a loss); write() callbacks
 * in write order; cork()/uncork() group the writes between them into one submission.
 *
 * Which transport plain-TCP connections use is decided once, at load, by the backend loader
 * (ts/backend/load.ts registers the chosen one here); TLS connections stay on node:tls.
 */
import type { EventEmitter } from 'node:events';
import * as net from 'node:net';

export interface TransportSocket extends EventEmitter {
  /** True once 'close' was emitted. */
  readonly closed: boolean;
  write(chunk: Buffer, cb?: (err?: Error | null) => void): boolean;
  cork(): void;
  uncork(): void;
  destroy(): void;
  setNoDelay(noDelay?: boolean): unknown;
  setKeepAlive(enable?: boolean): unknown;
}

export interface Transport {
  /** 'net' (node:net) or 'uring' (the native backend's io_uring ring). */
  readonly name: 'net' | 'uring';
  /** Starts opening a TCP connection; 'connect' or 'error' + 'close' follow. */
  connect(host: string, port: number): TransportSocket;
}

export const netTransport: Transport = {
  name: 'net',
  connect: (host, port) => net.connect({ host, port }),
};

let resolveDefault: (() => Transport) | null = null;

/** The backend loader registers how to find the transport it chose (at most once per load). */
export function registerDefaultTransport(resolve: (() => Transport) | null): void {
  resolveDefault = resolve;
}

/** The transport plain-TCP connections use when their options name none. */
export function defaultTransport(): Transport {
  return resolveDefault?.() ?? netTransport;
}
