/**
 * The floor row of the latency benches: a plain node:net socket that writes one pre-encoded
 * ProduceRequest (v3: the oldest version Kafka 4 still takes, no flexible fields) and waits for
 * its response before writing the next. No client library, no batching, no metadata: what is
 * left is loopback, the event loop and the broker, so every client's awaited-send latency reads
 * against the least this machine can do.
 *
 * The request is encoded here by hand from the protocol's published layout (record batch v2,
 * CRC32C by @node-rs/crc32), not with kafka-turbo's encoder, so the floor does not lean on the
 * code it is compared with. The broker checks the CRC and every length: a wrong byte shows as
 * an error response or a closed socket, never as a fast fake.
 */
import { crc32c } from '@node-rs/crc32';
import * as net from 'node:net';

function int16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
}
function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}
function int64(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(n);
  return b;
}
function str16(s: string): Buffer {
  const body = Buffer.from(s, 'utf8');
  return Buffer.concat([int16(body.length), body]);
}
/** Zig-zag varint, as record fields use. */
function varint(n: number): Buffer {
  let z = (n << 1) ^ (n >> 31);
  const out: number[] = [];
  z >>>= 0;
  while (z >= 0x80) {
    out.push((z & 0x7f) | 0x80);
    z >>>= 7;
  }
  out.push(z);
  return Buffer.from(out);
}

/** A record batch v2 holding one record (no key, no headers) with `value`. */
export function encodeOneRecordBatch(value: Buffer, timestamp: bigint): Buffer {
  const recordBody = Buffer.concat([
    Buffer.from([0]), // attributes
    varint(0), // timestamp delta
    varint(0), // offset delta
    varint(-1), // key: null
    varint(value.length),
    value,
    varint(0), // headers
  ]);
  const record = Buffer.concat([varint(recordBody.length), recordBody]);
  // From attributes to the end: what the CRC covers.
  const crcPart = Buffer.concat([
    int16(0), // attributes: no codec, CreateTime, not transactional
    int32(0), // last offset delta
    int64(timestamp), // base timestamp
    int64(timestamp), // max timestamp
    int64(-1n), // producer id
    int16(-1), // producer epoch
    int32(-1), // base sequence
    int32(1), // record count
    record,
  ]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32c(crcPart) >>> 0);
  const afterLength = Buffer.concat([int32(-1) /* partition leader epoch */, Buffer.from([2]) /* magic */, crc, crcPart]);
  return Buffer.concat([int64(0n), int32(afterLength.length), afterLength]);
}

/** A whole framed ProduceRequest v3 (size prefix included) for one record to topic/partition. */
export function encodeProduceV3(opts: { topic: string; partition: number; value: Buffer; acks: number; correlationId: number; clientId: string }): Buffer {
  const batch = encodeOneRecordBatch(opts.value, BigInt(Date.now()));
  const body = Buffer.concat([
    int16(0), // api key: Produce
    int16(3), // api version
    int32(opts.correlationId),
    str16(opts.clientId),
    int16(-1), // transactional id: null
    int16(opts.acks),
    int32(30_000), // timeout ms
    int32(1), // topics
    str16(opts.topic),
    int32(1), // partitions
    int32(opts.partition),
    int32(batch.length),
    batch,
  ]);
  return Buffer.concat([int32(body.length), body]);
}

/**
 * Checks a ProduceResponse v3 body (after the size prefix): the correlation id, then one topic
 * with one partition whose error code is 0. Returns the base offset the broker gave.
 */
export function checkProduceV3Response(body: Buffer, correlationId: number): bigint {
  let at = 0;
  const corr = body.readInt32BE(at);
  at += 4;
  if (corr !== correlationId) throw new Error(`raw produce: correlation id ${corr}, expected ${correlationId}`);
  const topics = body.readInt32BE(at);
  at += 4;
  if (topics !== 1) throw new Error(`raw produce: ${topics} topics in the response`);
  at += 2 + body.readInt16BE(at); // topic name
  const partitions = body.readInt32BE(at);
  at += 4;
  if (partitions !== 1) throw new Error(`raw produce: ${partitions} partitions in the response`);
  at += 4; // partition index
  const error = body.readInt16BE(at);
  at += 2;
  if (error !== 0) throw new Error(`raw produce: error code ${error}`);
  return body.readBigInt64BE(at);
}

/** One connection that sends the same pre-encoded request again and again, one at a time. */
export class RawProducer {
  private buf: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (offset: bigint) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;

  private constructor(
    private readonly socket: net.Socket,
    private readonly request: Buffer,
    private readonly correlationId: number,
  ) {
    socket.on('data', (d: Buffer) => this.onData(d));
    const fail = (e: Error) => {
      this.failure ??= e;
      const w = this.waiting;
      this.waiting = null;
      w?.reject(this.failure);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('raw produce: the broker closed the connection')));
  }

  static connect(host: string, port: number, opts: { topic: string; partition: number; value: Buffer; acks: number }): Promise<RawProducer> {
    const correlationId = 7;
    const request = encodeProduceV3({ ...opts, correlationId, clientId: 'raw-floor' });
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port, noDelay: true });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawProducer(socket, request, correlationId));
      });
    });
  }

  /** Writes the request and resolves with the base offset the broker assigned. */
  send(): Promise<bigint> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiting) return Promise.reject(new Error('raw produce: one request at a time'));
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(this.request);
    });
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    while (this.buf.length >= 4) {
      const size = this.buf.readInt32BE(0);
      if (this.buf.length < 4 + size) return;
      const body = this.buf.subarray(4, 4 + size);
      this.buf = this.buf.subarray(4 + size);
      const w = this.waiting;
      this.waiting = null;
      if (!w) {
        this.failure ??= new Error('raw produce: a response nobody asked for');
        continue;
      }
      try {
        w.resolve(checkProduceV3Response(body, this.correlationId));
      } catch (e) {
        this.failure ??= e as Error;
        w.reject(e as Error);
      }
    }
  }

  /** Ends the connection; resolves once the socket is closed. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.failure ??= new Error('raw produce: closed');
      this.socket.once('close', () => resolve());
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 1000).unref();
    });
  }
}
