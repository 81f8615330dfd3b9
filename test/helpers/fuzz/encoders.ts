/**
 * Test-side response encoders for the fuzzer, written from the Kafka grammar at the top of
 * each ts/protocol/ file (the project has request encoders only, and a decoder cannot be
 * checked against itself). Each writes exactly what a broker would send for the decoded
 * structure, plus fields the decoders skip (authorized operations, unknown tagged fields), so
 * that decode(encode(x)) == x checks the skipping too.
 */
import type { ApiVersionsResponse } from '../../../ts/protocol/api-versions.js';
import type { MetadataResponse } from '../../../ts/protocol/metadata.js';
import type { ProduceResponse } from '../../../ts/protocol/produce.js';
import { Writer } from '../../../ts/protocol/writer.js';

/** A tagged field the decoder does not know: it must skip `data` whole. */
export interface UnknownTag {
  tag: number;
  data: Uint8Array;
}

/** A TAG_BUFFER: known fields (already encoded) and unknown ones, written in tag order. */
export function writeTags(w: Writer, fields: readonly UnknownTag[]): void {
  const sorted = [...fields].sort((a, b) => a.tag - b.tag);
  w.uvarint(sorted.length);
  for (const f of sorted) w.uvarint(f.tag).uvarint(f.data.length).raw(f.data);
}

/** Unknown tags to sprinkle, with tag numbers that no known field of that struct uses. */
export interface Extras {
  /** One list per TAG_BUFFER the encoder writes, taken in order; missing ones are empty. */
  tags: UnknownTag[][];
  /** topic_authorized_operations / cluster_authorized_operations: skipped by the decoder. */
  authorizedOperations: number;
}

export const NO_EXTRAS: Extras = { tags: [], authorizedOperations: -2147483648 };

function tagSource(extras: Extras): () => UnknownTag[] {
  let i = 0;
  return () => extras.tags[i++ % Math.max(1, extras.tags.length)] ?? [];
}

function arrayOf<T>(w: Writer, flexible: boolean, items: readonly T[], each: (item: T) => void): void {
  if (flexible) w.uvarint(items.length + 1);
  else w.int32(items.length);
  for (const item of items) each(item);
}

export function encodeApiVersionsResponse(version: number, res: ApiVersionsResponse, extras = NO_EXTRAS): Buffer {
  const w = new Writer(64);
  const nextTags = tagSource(extras);
  const flexible = version >= 3;
  w.int16(res.errorCode);
  arrayOf(w, flexible, res.apiKeys, (k) => {
    w.int16(k.apiKey).int16(k.minVersion).int16(k.maxVersion);
    if (flexible) writeTags(w, nextTags());
  });
  if (version >= 1) w.int32(res.throttleTimeMs);
  // Tag 2 of the response is finalized_features, which the decoder reads (transaction.version):
  // unknown tags skip it.
  if (flexible) writeTags(w, nextTags().map((t) => (t.tag >= 2 ? { tag: t.tag + 1, data: t.data } : t)));
  return w.finish();
}

export function encodeMetadataResponse(version: number, res: MetadataResponse, extras = NO_EXTRAS): Buffer {
  const w = new Writer(256);
  const nextTags = tagSource(extras);
  const flexible = version >= 9;
  const str = (s: string | null): void => void (flexible ? w.compactString(s) : w.string(s));
  const end = (): void => {
    if (flexible) writeTags(w, nextTags());
  };
  const int32s = (xs: readonly number[]): void => arrayOf(w, flexible, xs, (x) => w.int32(x));
  if (version >= 3) w.int32(res.throttleTimeMs);
  arrayOf(w, flexible, res.brokers, (b) => {
    w.int32(b.nodeId);
    str(b.host);
    w.int32(b.port);
    str(b.rack);
    end();
  });
  if (version >= 2) str(res.clusterId);
  w.int32(res.controllerId);
  arrayOf(w, flexible, res.topics, (t) => {
    w.int16(t.errorCode);
    str(t.name);
    if (version >= 10) w.uuid(t.topicId as Buffer);
    w.boolean(t.isInternal);
    arrayOf(w, flexible, t.partitions, (p) => {
      w.int16(p.errorCode).int32(p.partitionIndex).int32(p.leaderId);
      if (version >= 7) w.int32(p.leaderEpoch);
      int32s(p.replicaNodes);
      int32s(p.isrNodes);
      if (version >= 5) int32s(p.offlineReplicas);
      end();
    });
    if (version >= 8) w.int32(extras.authorizedOperations);
    end();
  });
  if (version >= 8 && version <= 10) w.int32(extras.authorizedOperations);
  end();
  return w.finish();
}

export function encodeProduceResponse(version: number, res: ProduceResponse, extras = NO_EXTRAS): Buffer {
  const w = new Writer(256);
  const nextTags = tagSource(extras);
  const flexible = version >= 9;
  const str = (s: string | null): void => void (flexible ? w.compactString(s) : w.string(s));
  // Unknown tags must not reuse tag 0, which is current_leader / node_endpoints from v10.
  const unknown = (): UnknownTag[] => nextTags().map((t) => ({ tag: t.tag + 1, data: t.data }));
  arrayOf(w, flexible, res.responses, (t) => {
    str(t.name);
    arrayOf(w, flexible, t.partitionResponses, (p) => {
      w.int32(p.index).int16(p.errorCode).int64(p.baseOffset).int64(p.logAppendTimeMs);
      if (version >= 5) w.int64(p.logStartOffset);
      if (version >= 8) {
        arrayOf(w, flexible, p.recordErrors, (e) => {
          w.int32(e.batchIndex);
          str(e.batchIndexErrorMessage);
          if (flexible) writeTags(w, unknown());
        });
        str(p.errorMessage);
      }
      if (flexible) {
        const tags = unknown();
        if (p.currentLeader !== null) {
          const lw = new Writer(16);
          lw.int32(p.currentLeader.leaderId).int32(p.currentLeader.leaderEpoch);
          writeTags(lw, unknown());
          tags.push({ tag: 0, data: lw.finish() });
        }
        writeTags(w, tags);
      }
    });
    if (flexible) writeTags(w, unknown());
  });
  w.int32(res.throttleTimeMs);
  if (flexible) {
    const tags = unknown();
    if (res.nodeEndpoints.length > 0) {
      const ew = new Writer(64);
      arrayOf(ew, true, res.nodeEndpoints, (e) => {
        ew.int32(e.nodeId).compactString(e.host).int32(e.port).compactString(e.rack);
        writeTags(ew, unknown());
      });
      tags.push({ tag: 0, data: ew.finish() });
    }
    writeTags(w, tags);
  }
  return w.finish();
}

/** Response header v0 (correlation id) or v1 (correlation id + TAG_BUFFER). */
export function encodeResponseHeader(correlationId: number, flexible: boolean, tags: readonly UnknownTag[] = []): Buffer {
  const w = new Writer(16);
  w.int32(correlationId);
  if (flexible) writeTags(w, tags);
  return w.finish();
}
