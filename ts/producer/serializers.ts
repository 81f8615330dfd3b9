/**
 * key.serializer / value.serializer: how a record's key and value become bytes, once per
 * record, in send() (before the interceptors' record reaches the partitioner, as in Java).
 *
 * A serializer is a function `(data, topic, headers) → Buffer | Uint8Array | string | null`
 * (Java's Serializer.serialize(topic, headers, data), arguments in the order an app most often
 * uses them), or one of the built-in names:
 *   'string'  a string, UTF-8 (Java's StringSerializer); anything else is refused
 *   'json'    JSON.stringify of any value, UTF-8; null and undefined stay null (a tombstone)
 *   'buffer'  a Buffer or Uint8Array as it is (Java's ByteArraySerializer)
 * Unset, the producer takes what it always took: a Buffer, a Uint8Array, a string or null.
 * A serializer that throws, or answers something else, fails that send with a
 * non-retriable SERIALIZATION_ERROR naming the topic and whether key or value.
 */
import { ConfigError, KafkaJSNonRetriableError } from '../errors.js';
import { toBytes, type HeadersInput } from './record.js';

export type Serializer<T> = (data: T, topic: string, headers: HeadersInput | undefined) => Buffer | Uint8Array | string | null;
export type SerializerName = 'string' | 'json' | 'buffer';
export type SerializerSpec<T> = Serializer<T> | SerializerName;

/** The resolved form: never throws anything but a SERIALIZATION_ERROR. */
export type ResolvedSerializer = (data: unknown, topic: string, headers: HeadersInput | undefined) => Buffer | null;

const BUILT_IN: Record<SerializerName, Serializer<unknown>> = {
  string: (data) => {
    if (data === null || data === undefined) return null;
    if (typeof data !== 'string') throw new TypeError(`the 'string' serializer takes strings, not ${typeof data}`);
    return data;
  },
  json: (data) => {
    if (data === null || data === undefined) return null;
    const text = JSON.stringify(data);
    // JSON.stringify answers undefined for functions and symbols.
    if (text === undefined) throw new TypeError(`a ${typeof data} has no JSON form`);
    return text;
  },
  buffer: (data) => {
    if (data === null || data === undefined) return null;
    if (!(data instanceof Uint8Array)) throw new TypeError(`the 'buffer' serializer takes a Buffer or Uint8Array, not ${typeof data}`);
    return data;
  },
};

/** Checks a key.serializer / value.serializer setting; null when unset (today's behaviour). */
export function resolveSerializer(key: 'key.serializer' | 'value.serializer', spec: unknown): ResolvedSerializer | null {
  if (spec === undefined || spec === null) return null;
  let fn: Serializer<unknown>;
  if (typeof spec === 'function') fn = spec as Serializer<unknown>;
  else if (typeof spec === 'string' && Object.prototype.hasOwnProperty.call(BUILT_IN, spec)) fn = BUILT_IN[spec as SerializerName];
  else {
    throw new ConfigError(
      `Invalid value ${JSON.stringify(spec)} for configuration ${key}: expected a function (data, topic, headers) => Buffer | string | null, or 'string', 'json' or 'buffer'`,
    );
  }
  const what = key === 'key.serializer' ? 'key' : 'value';
  return (data, topic, headers) => {
    let out: unknown;
    try {
      out = fn(data, topic, headers);
      return toBytes(out, `The ${key} result`);
    } catch (e) {
      throw new KafkaJSNonRetriableError(`Could not serialize the ${what} of a record for topic ${topic}: ${(e as Error)?.message ?? String(e)}`, {
        code: 'SERIALIZATION_ERROR',
        cause: e,
      });
    }
  };
}
