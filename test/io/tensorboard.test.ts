/**
 * TensorBoard event files (src/io/tensorboard.ts): the CRC and framing by hand-worked values, the writer's
 * buffering and errors, and the files read back by TensorBoard's own Python code: its record reader (which
 * checks both masked CRCs of every record), the Event protobuf, and EventAccumulator's scalar view with
 * TRL-style tags. The Python part skips with a printed reason where `tensorboard` is not installed.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { crc32c, maskedCrc32c, tfRecord, trainerTag, EventWriter, TensorBoardError } from '../../src/io/tensorboard';
import { describeIf } from '../helpers/gates';
import { pythonWith, runPython } from '../helpers/python';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'tb-test-'));

/** Splits a file into its records' data, checking lengths and both masked CRCs on the way. */
function readRecords(file: string): Buffer[] {
  const buf = fs.readFileSync(file);
  const out: Buffer[] = [];
  let off = 0;
  while (off < buf.length) {
    const len = Number(buf.readBigUInt64LE(off));
    expect(buf.readUInt32LE(off + 8)).toBe(maskedCrc32c(buf.subarray(off, off + 8)));
    const data = buf.subarray(off + 12, off + 12 + len);
    expect(buf.readUInt32LE(off + 12 + len)).toBe(maskedCrc32c(data));
    out.push(data);
    off += 16 + len;
  }
  expect(off).toBe(buf.length);
  return out;
}

describe('TFRecord framing and CRC32C', () => {
  test('crc32c check values (RFC 3720 / iSCSI)', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa); // 32 zero bytes, RFC 3720 B.4
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
  });

  test('masked CRC: rotate right 15, add 0xa282ead8 (hand-worked for "123456789")', () => {
    // 0xE3069283 rotated right by 15 = 0x2507C60D; + 0xA282EAD8 = 0xC78AB0E5 (mod 2^32).
    expect(maskedCrc32c(Buffer.from('123456789'))).toBe(0xc78ab0e5);
  });

  test('a record is length, masked CRC of the length, data, masked CRC of the data', () => {
    const rec = tfRecord(Buffer.from('abc'));
    expect(rec.length).toBe(8 + 4 + 3 + 4);
    expect(rec.readBigUInt64LE(0)).toBe(3n);
    expect(rec.subarray(12, 15).toString()).toBe('abc');
    expect(rec.readUInt32LE(15)).toBe(maskedCrc32c(Buffer.from('abc')));
  });

  test('trainerTag follows Hugging Face Trainer\'s TensorBoard names', () => {
    expect(['loss', 'rewards/accuracies', 'eval_loss', 'eval_rewards/margins', 'test_accuracy', 'learning_rate'].map(trainerTag)).toEqual([
      'train/loss', 'train/rewards/accuracies', 'eval/loss', 'eval/rewards/margins', 'test/accuracy', 'train/learning_rate',
    ]);
  });
});

describe('EventWriter', () => {
  test('first record is file_version "brain.Event:2"; records are buffered until maxQueue, flush or close', () => {
    const dir = path.join(tmp(), 'tb');
    const w = new EventWriter(dir, { maxQueue: 3 });
    expect(path.basename(w.file)).toMatch(/^events\.out\.tfevents\.\d{10}\.[\w.-]+\.\d+\.\d+$/);
    const first = readRecords(w.file);
    expect(first).toHaveLength(1);
    // Event: field 1 (wall_time, double) first, then field 3 (file_version) = "brain.Event:2".
    expect(first[0][0]).toBe(0x09);
    expect(first[0].subarray(9)).toEqual(Buffer.concat([Buffer.from([0x1a, 13]), Buffer.from('brain.Event:2')]));
    w.scalar('train/loss', 0.5, 1).scalar('train/loss', 0.4, 2);
    expect(readRecords(w.file)).toHaveLength(1);
    w.scalar('train/loss', 0.3, 3); // third queued record: written
    expect(readRecords(w.file)).toHaveLength(4);
    w.scalar('eval/loss', 0.2, 3);
    w.flush();
    expect(readRecords(w.file)).toHaveLength(5);
    w.scalars({}, 4); // nothing to write
    w.close();
    w.close();
    expect(readRecords(w.file)).toHaveLength(5);
  });

  test('errors name the file and the way out', () => {
    const w = new EventWriter(tmp());
    expect(() => w.scalar('x', 1, 1.5)).toThrow(/step must be an integer; got 1.5/);
    expect(() => w.scalar('', 1, 1)).toThrow(/non-empty tag/);
    expect(() => w.scalars({ a: '1' as unknown as number }, 1)).toThrow(/scalar "a" is string; expected a number/);
    w.close();
    expect(() => w.scalar('x', 1, 1)).toThrow(TensorBoardError);
    expect(() => w.scalar('x', 1, 1)).toThrow(/already closed; create a new writer/);
    expect(() => new EventWriter(tmp(), { maxQueue: 0 })).toThrow(/maxQueue must be a positive integer/);
    const file = path.join(tmp(), 'not-a-folder');
    fs.writeFileSync(file, '');
    expect(() => new EventWriter(file)).toThrow(/cannot create the event file .*choose a writable folder/);
  });

  test('two writers in one folder write two files', () => {
    const dir = tmp();
    const a = new EventWriter(dir);
    const b = new EventWriter(dir, { filenameSuffix: '.eval' });
    a.close();
    b.close();
    expect(a.file).not.toBe(b.file);
    expect(b.file.endsWith('.eval')).toBe(true);
    expect(fs.readdirSync(dir)).toHaveLength(2);
  });
});

/** Reads each file with TensorBoard's record reader (CRC-checked) and Event proto, and with EventAccumulator. */
const READER = `
import json, math, sys
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import PyRecordReader_New
from tensorboard.compat.tensorflow_stub import errors
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
req = json.load(sys.stdin)
num = lambda x: x if math.isfinite(x) else str(x)  # JSON has no NaN / Infinity
reader = PyRecordReader_New(req["file"])
events = []
while True:
    try:
        reader.GetNext()
    except errors.OutOfRangeError:
        break
    e = Event.FromString(reader.record())
    events.append({
        "wall_time": e.wall_time, "step": e.step, "what": e.WhichOneof("what"),
        "file_version": e.file_version,
        "values": [[v.tag, num(v.simple_value)] for v in e.summary.value],
    })
acc = EventAccumulator(req["dir"])
acc.Reload()
scalars = {t: [[s.step, num(s.value), s.wall_time] for s in acc.Scalars(t)] for t in acc.Tags()["scalars"]}
print(json.dumps({"events": events, "scalars": scalars}))
`;

interface ReadBack {
  events: Array<{ wall_time: number; step: number; what: string; file_version: string; values: Array<[string, number | string]> }>;
  scalars: Record<string, Array<[number, number | string, number]>>;
}

describeIf(pythonWith(['tensorboard']), 'TensorBoard reads the event files', () => {
  test('TRL-style tags, steps, values (as float32) and wall times come back exactly', () => {
    const dir = tmp();
    const w = new EventWriter(dir);
    const expected: Record<string, Array<[number, number]>> = {};
    const put = (tag: string, value: number, step: number) => {
      (expected[tag] ??= []).push([step, Math.fround(value)]);
    };
    for (let step = 1; step <= 25; step++) {
      const train = { loss: 0.7 / step, 'rewards/accuracies': Math.min(1, 0.5 + step / 50), 'rewards/margins': -0.1 + step * 0.037, grad_norm: 3.3278 / Math.sqrt(step), learning_rate: 1e-3 * (1 - step / 25) };
      const tagged = Object.fromEntries(Object.entries(train).map(([k, v]) => [trainerTag(k), v]));
      w.scalars(tagged, step, 1_700_000_000 + step * 0.25);
      for (const [t, v] of Object.entries(tagged)) put(t, v, step);
      if (step % 10 === 0) {
        w.scalar(trainerTag('eval_loss'), 0.45 + 1 / step, step, 1_700_000_000 + step * 0.25 + 0.1);
        w.scalar(trainerTag('eval_rewards/accuracies'), 0.83125, step, 1_700_000_000 + step * 0.25 + 0.1);
        put('eval/loss', 0.45 + 1 / step, step);
        put('eval/rewards/accuracies', 0.83125, step);
      }
    }
    // Step 0 (a protobuf default, left out on the wire), a large step, and non-finite values.
    w.scalar('edge/zero_step', -1.5, 0, 1_700_000_100);
    w.scalar('edge/big_step', 2.5, 2 ** 40, 1_700_000_100);
    w.scalar('edge/nan', NaN, 1, 1_700_000_100);
    w.scalar('edge/inf', -Infinity, 1, 1_700_000_100);
    put('edge/zero_step', -1.5, 0);
    put('edge/big_step', 2.5, 2 ** 40);
    w.close();

    const r = runPython<ReadBack>(READER, { file: w.file, dir });
    expect(r.events[0]).toMatchObject({ what: 'file_version', file_version: 'brain.Event:2', step: 0 });
    expect(r.events).toHaveLength(1 + 25 + 2 * 2 + 4);
    expect(r.events.slice(1).every((e) => e.what === 'summary')).toBe(true);
    expect(r.events[1]).toMatchObject({ step: 1, wall_time: 1_700_000_000.25 });
    expect(r.events[1].values.map((v) => v[0])).toEqual(['train/loss', 'train/rewards/accuracies', 'train/rewards/margins', 'train/grad_norm', 'train/learning_rate']);
    for (const [tag, points] of Object.entries(expected)) {
      expect({ tag, points: r.scalars[tag].map(([s, v]) => [s, v]) }).toEqual({ tag, points });
    }
    expect(r.scalars['eval/loss'].map((p) => p[2])).toEqual([1_700_000_002.6, 1_700_000_005.1]);
    expect(r.scalars['edge/nan'].map(([s, v]) => [s, v])).toEqual([[1, 'nan']]);
    expect(r.scalars['edge/inf'].map(([s, v]) => [s, v])).toEqual([[1, '-inf']]);
    console.log(`tensorboard: ${r.events.length} events, ${Object.keys(r.scalars).length} scalar tags read back`);
  });
});
