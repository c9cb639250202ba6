/**
 * TensorBoard event files, written in plain TypeScript so every backend (tensorflow, wasm, cpu) logs the same way.
 *
 * Format (what TensorBoard reads; tensorflow/core/util/event.proto and TFRecord framing):
 *   file     events.out.tfevents.<unix seconds>.<host>.<pid>.<n>, a sequence of records
 *   record   uint64 LE length | uint32 LE masked CRC32C(length bytes) | data | uint32 LE masked CRC32C(data)
 *   data     an Event proto: wall_time (1, double), step (2, int64), then file_version (3, string: the first
 *            record is "brain.Event:2"), summary (5, Summary) or session_log (7, SessionLog: status (1) START = 1,
 *            which tells TensorBoard that a restarted run continues from this step and that points of the same
 *            folder at this step or later are stale)
 *   Summary  repeated Value (1); Value = tag (1, string) + simple_value (2, float)
 * Only these fields are encoded, by hand (a few lines of protobuf wire format), so nothing is added to the
 * dependencies. tfjs-node's tf.node.summaryFileWriter also writes scalars (it works with the locally built
 * TensorFlow 2.21), but only on the tensorflow backend; this writer is the one used everywhere.
 *
 * Usage: `const w = new EventWriter('runs/x/tb'); w.scalar('train/loss', 0.69, 1); w.close();`
 * Records are buffered and written every `maxQueue` records, on flush() and on close().
 *
 * Does NOT: write histograms, images, text or hparams; start timers (flush yourself, or rely on maxQueue);
 * read event files; decide tag names (trainerTag gives Hugging Face Trainer's spelling).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { IoError } from '../util/errors';

export class TensorBoardError extends IoError {}

export interface EventWriterOptions {
  /** Records buffered before they are written to the file. @default 10 (as TensorFlow's FileWriter) */
  maxQueue?: number;
  /** Appended to the file name (TensorFlow's filename_suffix), e.g. ".eval". @default "" */
  filenameSuffix?: string;
}

/** CRC32C (Castagnoli) lookup table for the reflected polynomial 0x82F63B78. */
const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC32C of `bytes`. Example: crc32c(Buffer.from("123456789")) -> 0xE3069283 (the standard check value). */
export function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC32C_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right by 15 and add a constant, so CRCs of CRCs stay well spread. */
export function maskedCrc32c(bytes: Uint8Array): number {
  const c = crc32c(bytes);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord: length, its masked CRC, the data, the data's masked CRC. */
export function tfRecord(data: Uint8Array): Buffer {
  const head = Buffer.alloc(12);
  head.writeBigUInt64LE(BigInt(data.length), 0);
  head.writeUInt32LE(maskedCrc32c(head.subarray(0, 8)), 8);
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(maskedCrc32c(data), 0);
  return Buffer.concat([head, data, tail]);
}

/** Protobuf varint; negative int64 as its 64-bit two's complement (10 bytes). Example: 300 -> [0xAC, 0x02]. */
function varint(value: bigint): Buffer {
  let v = BigInt.asUintN(64, value);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}

/** Field key: field number and wire type (0 varint, 1 64-bit, 2 length-delimited, 5 32-bit). */
const key = (field: number, wire: number) => varint(BigInt((field << 3) | wire));
const bytesField = (field: number, data: Uint8Array) => Buffer.concat([key(field, 2), varint(BigInt(data.length)), data]);

/** Summary.Value {tag: 1, simple_value: 2 (float)}. */
function summaryValue(tag: string, value: number): Buffer {
  const f = Buffer.alloc(4);
  f.writeFloatLE(value, 0);
  return Buffer.concat([bytesField(1, Buffer.from(tag, 'utf8')), key(2, 5), f]);
}

/** Event {wall_time: 1 (double), step: 2 (int64), file_version: 3 | summary: 5}. */
function event(wallTime: number, step: number, body: { fileVersion: string } | { values: Array<[string, number]> } | { sessionStart: true }): Buffer {
  const wt = Buffer.alloc(8);
  wt.writeDoubleLE(wallTime, 0);
  const parts = [key(1, 1), wt];
  if (step !== 0) parts.push(key(2, 0), varint(BigInt(step)));
  if ('fileVersion' in body) parts.push(bytesField(3, Buffer.from(body.fileVersion, 'utf8')));
  else if ('sessionStart' in body) parts.push(bytesField(7, Buffer.concat([key(1, 0), varint(1n)])));
  else parts.push(bytesField(5, Buffer.concat(body.values.map(([t, v]) => bytesField(1, summaryValue(t, v))))));
  return Buffer.concat(parts);
}

/**
 * Hugging Face Trainer's TensorBoard tag for a metric name (its rewrite_logs): eval_ and test_ prefixes become
 * "eval/" and "test/", everything else goes under "train/".
 * Example: trainerTag("loss") -> "train/loss"; trainerTag("eval_rewards/accuracies") -> "eval/rewards/accuracies".
 */
export function trainerTag(name: string): string {
  for (const prefix of ['eval', 'test']) if (name.startsWith(`${prefix}_`)) return `${prefix}/${name.slice(prefix.length + 1)}`;
  return `train/${name}`;
}

let filesOpened = 0;

/** Appends scalar summaries to one new event file in `dir` (created if missing). */
export class EventWriter {
  /** The event file this writer appends to. */
  readonly file: string;
  private fd: number | null;
  private queue: Buffer[] = [];
  private readonly maxQueue: number;

  constructor(readonly dir: string, o: EventWriterOptions = {}) {
    this.maxQueue = o.maxQueue ?? 10;
    if (!Number.isInteger(this.maxQueue) || this.maxQueue < 1) throw new TensorBoardError(`EventWriter ${dir}: maxQueue must be a positive integer; got ${o.maxQueue}`);
    const suffix = o.filenameSuffix ?? '';
    if (/[/\\]/.test(suffix)) throw new TensorBoardError(`EventWriter ${dir}: filenameSuffix ${JSON.stringify(suffix)} must not contain a path separator`);
    const host = os.hostname().replace(/[^A-Za-z0-9._-]/g, '_') || 'localhost';
    this.file = path.join(dir, `events.out.tfevents.${Math.floor(Date.now() / 1000)}.${host}.${process.pid}.${filesOpened++}${suffix}`);
    try {
      fs.mkdirSync(dir, { recursive: true });
      this.fd = fs.openSync(this.file, 'wx');
    } catch (e) {
      throw new TensorBoardError(`EventWriter ${dir}: cannot create the event file (${(e as Error).message}); choose a writable folder`);
    }
    // The first record names the format version; TensorBoard skips files without it.
    this.queue.push(tfRecord(event(Date.now() / 1000, 0, { fileVersion: 'brain.Event:2' })));
    this.flush();
  }

  /** One scalar at `step` (stored as float32, as TensorBoard's simple_value is). wallTime in seconds, default now. */
  scalar(tag: string, value: number, step: number, wallTime?: number): this {
    return this.scalars({ [tag]: value }, step, wallTime);
  }

  /** Several scalars at one step, in one event. Example: scalars({'train/loss': 0.7, 'train/grad_norm': 3.3}, 10). */
  scalars(values: Record<string, number>, step: number, wallTime = Date.now() / 1000): this {
    if (this.fd === null) throw new TensorBoardError(`EventWriter ${this.file}: already closed; create a new writer`);
    if (!Number.isSafeInteger(step)) throw new TensorBoardError(`EventWriter ${this.file}: step must be an integer; got ${step}`);
    if (!Number.isFinite(wallTime)) throw new TensorBoardError(`EventWriter ${this.file}: wallTime must be a finite number of seconds; got ${wallTime}`);
    const entries = Object.entries(values);
    for (const [tag, v] of entries) {
      if (tag === '') throw new TensorBoardError(`EventWriter ${this.file}: a scalar needs a non-empty tag`);
      if (typeof v !== 'number') throw new TensorBoardError(`EventWriter ${this.file}: scalar "${tag}" is ${typeof v}; expected a number`);
    }
    if (entries.length === 0) return this;
    this.queue.push(tfRecord(event(wallTime, step, { values: entries })));
    if (this.queue.length >= this.maxQueue) this.flush();
    return this;
  }

  /**
   * A SessionLog START at `step`: a run resumed from a checkpoint writes it before its first new point, and
   * TensorBoard then drops the folder's points at `step` and later that the interrupted run had logged.
   */
  sessionStart(step: number, wallTime = Date.now() / 1000): this {
    if (this.fd === null) throw new TensorBoardError(`EventWriter ${this.file}: already closed; create a new writer`);
    if (!Number.isSafeInteger(step)) throw new TensorBoardError(`EventWriter ${this.file}: step must be an integer; got ${step}`);
    this.queue.push(tfRecord(event(wallTime, step, { sessionStart: true })));
    if (this.queue.length >= this.maxQueue) this.flush();
    return this;
  }

  /** Writes the buffered records to the file (TensorBoard sees them on its next reload). */
  flush(): void {
    if (this.fd === null || this.queue.length === 0) return;
    const data = Buffer.concat(this.queue);
    this.queue = [];
    try {
      for (let done = 0; done < data.length; ) done += fs.writeSync(this.fd, data, done);
    } catch (e) {
      throw new TensorBoardError(`EventWriter ${this.file}: write failed (${(e as Error).message})`);
    }
  }

  /** Flushes and closes the file; later scalar() calls are errors, a second close() does nothing. */
  close(): void {
    if (this.fd === null) return;
    this.flush();
    fs.closeSync(this.fd);
    this.fd = null;
  }
}
