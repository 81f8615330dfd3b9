/**
 * A second, independently produced vector: the Produce v3 request body that KafkaJS 2.x checks
 * its own encoder against (src/protocol/requests/produce/fixtures/v3_request.json in the
 * KafkaJS repository), rewritten here as annotated hex. Its record batch CRC was computed by
 * KafkaJS's CRC32C code, not ours.
 *
 * KafkaJS writes partitionLeaderEpoch 0 and producerEpoch 0 where our encodeRecordBatch writes
 * -1 / the caller's epoch, so tests rebuild this batch with encodeRecord + writeBatchHeader and
 * KafkaJS's header values.
 */

export const KAFKAJS_TOPIC = 'test-topic-ebba68879c6f5081d8c2';
export const KAFKAJS_TIMESTAMP = 1509928155660;

/** The three records KafkaJS encoded (headers in KafkaJS order: c has two values). */
export const KAFKAJS_RECORDS = [
  {
    key: 'key-9d0f348cb2e730e1edc4',
    value: 'some-value-a17b4c81f9ecd1e896e3',
    headers: [['a', 'b'], ['c', 'd'], ['c', 'e']] as [string, string][],
  },
  { key: 'key-c7073e965c34b4cc6442', value: 'some-value-65df422070d7ad73914f', headers: [['a', 'b']] as [string, string][] },
  { key: 'key-1693b184a9b52dbe03bc', value: 'some-value-3fcb65ffca087cba20ad', headers: [['a', 'b']] as [string, string][] },
];

export const KAFKAJS_BATCH_HEX = [
  '0000000000000000', // baseOffset 0
  '00000102', // batchLength 258
  '00000000', // partitionLeaderEpoch 0 (KafkaJS's choice)
  '02', // magic
  'd20a45ed', // crc
  '0000', // attributes: no codec, create time
  '00000002', // lastOffsetDelta 2
  '0000015f8ebb3a0c', // baseTimestamp 1509928155660
  '0000015f8ebb3a0c', // maxTimestamp
  'ffffffffffffffff', // producerId -1
  '0000', // producerEpoch 0 (KafkaJS's choice)
  '0000000a', // baseSequence 10
  '00000003', // recordCount 3
  // record 0: length 73, attrs 0, tsDelta 0, offsetDelta 0, key (24), value (31), 3 headers
  '9201' + '00' + '00' + '00' + '30' + Buffer.from('key-9d0f348cb2e730e1edc4').toString('hex') +
    '3e' + Buffer.from('some-value-a17b4c81f9ecd1e896e3').toString('hex') +
    '06' + '0261' + '0262' + '0263' + '0264' + '0263' + '0265',
  // record 1: length 65, offsetDelta 1, 1 header a=b
  '8201' + '00' + '00' + '02' + '30' + Buffer.from('key-c7073e965c34b4cc6442').toString('hex') +
    '3e' + Buffer.from('some-value-65df422070d7ad73914f').toString('hex') + '02' + '0261' + '0262',
  // record 2: length 65, offsetDelta 2, 1 header a=b
  '8201' + '00' + '00' + '04' + '30' + Buffer.from('key-1693b184a9b52dbe03bc').toString('hex') +
    '3e' + Buffer.from('some-value-3fcb65ffca087cba20ad').toString('hex') + '02' + '0261' + '0262',
].join('');

/** The whole Produce v3 request body around that batch. */
export const KAFKAJS_PRODUCE_V3_BODY_HEX = [
  'ffff', // transactional_id null
  'ffff', // acks -1
  '00007530', // timeout_ms 30000
  '00000001', // 1 topic
  '001f' + Buffer.from(KAFKAJS_TOPIC).toString('hex'), // name
  '00000001', // 1 partition
  '00000000', // index 0
  '0000010e', // records: 270 bytes
  KAFKAJS_BATCH_HEX,
].join('');
