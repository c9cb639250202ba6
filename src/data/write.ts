/**
 * Writing normal-form records as Parquet or Arrow, with the columns `datasets.load_dataset("parquet" | "arrow",
 * data_files=...)` gives back as they are (and the readers of this folder read again):
 *   prompt, chosen, rejected   string, or a list of {role: string, content: string} structs (chat messages)
 *   margin                     float64, null where a record has none (present when any record has one)
 *   subset                     string, null where none (present when any record has one)
 *   id, source                 string
 *   prompt_input_ids, chosen_input_ids, rejected_input_ids   list<int32> (pre-tokenised records only)
 * A column's type is fixed by the first batch of records (10,000): a later record that does not fit it (text in
 * a column of message lists, say) is an error naming it, with JSONL (which keeps each record as it is) as the way
 * out. Records are written in batches of that size (Parquet row groups, Arrow record batches), so memory
 * follows the batch, not the file. Arrow is written in the IPC stream format, as datasets' own .arrow files.
 *
 * Parquet goes through hyparquet-writer (hyparquet, our Parquet reader, cannot write; the writer is the same
 * author's companion package, pure JavaScript, and writes nested lists of structs); Arrow through apache-arrow.
 * Does NOT: read records (read.ts) or write JSONL (inspect.ts convertData streams that itself).
 */
import * as fs from 'fs';
import { pipeline } from 'stream/promises';
import { Field, Float64, Int32, List, makeData, RecordBatch, RecordBatchStreamWriter, Schema, Struct, Utf8, vectorFromArray, type DataType } from 'apache-arrow';
import { DataError } from './errors';
import type { ChatMessage, PreferenceRecord, Text } from './types';

export const OUTPUT_FORMATS = ['jsonl', 'parquet', 'arrow'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Records per Parquet row group / Arrow record batch. */
export const WRITE_BATCH = 10_000;

/** The format to write: `to` when given, else from the file name. Example: "x.parquet" -> "parquet", "x.jsonl.gz" -> "jsonl". */
export function outputFormat(out: string, to?: string): OutputFormat {
  if (to !== undefined) {
    if (!(OUTPUT_FORMATS as readonly string[]).includes(to)) throw new DataError(out, `--to ${to} is not an output format; expected ${OUTPUT_FORMATS.join(', ')}`, true);
    return to as OutputFormat;
  }
  const base = out.toLowerCase().replace(/\.gz$/, '');
  if (base.endsWith('.parquet')) return 'parquet';
  if (base.endsWith('.arrow') || base.endsWith('.feather') || base.endsWith('.ipc')) return 'arrow';
  return 'jsonl';
}

type ColumnKind = 'text' | 'messages' | 'float' | 'string' | 'ids';
interface Column {
  name: string;
  kind: ColumnKind;
  nullable: boolean;
  get(r: PreferenceRecord): unknown;
}

const isMessages = (t: Text): t is ChatMessage[] => Array.isArray(t);
const TEXT_COLUMNS = ['prompt', 'chosen', 'rejected'] as const;

/** The columns of a batch of records (see the module comment). */
export function planColumns(records: PreferenceRecord[]): Column[] {
  const cols: Column[] = TEXT_COLUMNS.map((name) => ({
    name,
    kind: records.length > 0 && isMessages(records[0][name]) ? 'messages' : 'text',
    nullable: false,
    get: (r: PreferenceRecord) => (isMessages(r[name]) ? (r[name] as ChatMessage[]).map((m) => ({ role: m.role, content: m.content })) : r[name]),
  }));
  if (records.some((r) => r.margin !== undefined)) cols.push({ name: 'margin', kind: 'float', nullable: true, get: (r) => r.margin ?? null });
  if (records.some((r) => r.subset !== undefined)) cols.push({ name: 'subset', kind: 'string', nullable: true, get: (r) => r.subset ?? null });
  cols.push({ name: 'id', kind: 'string', nullable: false, get: (r) => r.id }, { name: 'source', kind: 'string', nullable: false, get: (r) => r.source });
  if (records.some((r) => r.chosenIds)) {
    cols.push(
      { name: 'prompt_input_ids', kind: 'ids', nullable: false, get: (r) => r.promptIds ?? [] },
      { name: 'chosen_input_ids', kind: 'ids', nullable: false, get: (r) => r.chosenIds },
      { name: 'rejected_input_ids', kind: 'ids', nullable: false, get: (r) => r.rejectedIds },
    );
  }
  return cols;
}

/** Checks that `r` fits the planned columns; the error names the record and the way out. */
function checkFits(r: PreferenceRecord, cols: Column[], file: string): void {
  for (const c of cols) {
    const v = c.get(r);
    const fits =
      c.kind === 'text' ? typeof v === 'string'
        : c.kind === 'messages' ? Array.isArray(v)
        : c.kind === 'ids' ? Array.isArray(v)
        : c.kind === 'float' ? v === null || typeof v === 'number'
        : v === null ? c.nullable : typeof v === 'string';
    if (!fits) {
      const had = { messages: 'message lists', text: 'text', ids: 'token id lists', float: 'numbers', string: 'text' }[c.kind];
      throw new DataError(r.source, `column "${c.name}" holds ${had} in the first ${WRITE_BATCH} records but not here (${v === null || v === undefined ? 'missing' : Array.isArray(v) ? 'a message list' : typeof v}); a Parquet/Arrow column has one type: write JSONL (--to jsonl), which keeps each record as it is (writing ${file})`, true);
    }
  }
  if (cols.some((c) => c.name === 'margin') === false && r.margin !== undefined) {
    throw new DataError(r.source, `has a margin, but none of the first ${WRITE_BATCH} records had one, so the file has no margin column; write JSONL (--to jsonl) or put such records first (writing ${file})`, true);
  }
  if (cols.some((c) => c.name === 'subset') === false && r.subset !== undefined) {
    throw new DataError(r.source, `has a subset, but none of the first ${WRITE_BATCH} records had one, so the file has no subset column; write JSONL (--to jsonl) or put such records first (writing ${file})`, true);
  }
}

/** Parquet schema elements of one column (3-level LIST for lists, as pyarrow writes them). */
function parquetSchema(c: Column): Record<string, unknown>[] {
  const rep = c.nullable ? 'OPTIONAL' : 'REQUIRED';
  const utf8 = (name: string, r = rep) => ({ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: r });
  switch (c.kind) {
    case 'text':
    case 'string':
      return [utf8(c.name)];
    case 'float':
      return [{ name: c.name, type: 'DOUBLE', repetition_type: rep }];
    case 'messages':
      return [
        { name: c.name, repetition_type: rep, converted_type: 'LIST', num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        { name: 'element', repetition_type: 'REQUIRED', num_children: 2 },
        utf8('role', 'REQUIRED'),
        utf8('content', 'REQUIRED'),
      ];
    case 'ids':
      return [
        { name: c.name, repetition_type: rep, converted_type: 'LIST', num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        { name: 'element', type: 'INT32', repetition_type: 'REQUIRED' },
      ];
  }
}

function arrowType(c: Column): DataType {
  switch (c.kind) {
    case 'text':
    case 'string':
      return new Utf8();
    case 'float':
      return new Float64();
    case 'messages':
      return new List(new Field('item', new Struct([new Field('role', new Utf8(), false), new Field('content', new Utf8(), false)]), false));
    case 'ids':
      return new List(new Field('item', new Int32(), false));
  }
}

/** A Parquet or Arrow file being written batch by batch; close() finishes it. */
export interface ColumnarSink {
  write(records: PreferenceRecord[]): Promise<void>;
  close(): Promise<void>;
}

/** Opens `file` for `format` (parquet | arrow); the columns come from the first write(). `name` is the file errors name. */
export function openColumnarSink(file: string, format: 'parquet' | 'arrow', name = file): ColumnarSink {
  return format === 'parquet' ? parquetSink(file, name) : arrowSink(file, name);
}

function parquetSink(file: string, name: string): ColumnarSink {
  // hyparquet-writer is ESM-only: loaded here so JSONL users never pay for it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const hw = require('hyparquet-writer') as typeof import('hyparquet-writer') & {
    // Node build only (package.json "exports": default -> src/node.js): a Writer that flushes to the file every MB.
    fileWriter(filename: string): ConstructorParameters<typeof import('hyparquet-writer').ParquetWriter>[0]['writer'];
  };
  let cols: Column[] | null = null;
  let pq: InstanceType<typeof hw.ParquetWriter> | null = null;
  const writer = hw.fileWriter(file);
  return {
    async write(records) {
      if (records.length === 0) return;
      if (!cols) {
        cols = planColumns(records);
        const schema = [{ name: 'schema', num_children: cols.length }, ...cols.flatMap(parquetSchema)];
        pq = new hw.ParquetWriter({ writer, schema: schema as never, createdBy: 'rlhf-tfjs' });
      }
      for (const r of records) checkFits(r, cols, name);
      const c = cols;
      await pq!.write({ columnData: c.map((col) => ({ name: col.name, data: records.map((r) => col.get(r)) as never })), rowGroupSize: records.length });
    },
    async close() {
      if (!pq) {
        // No records: a file with the normal form's three text columns and id/source, and no rows.
        cols = planColumns([]);
        const schema = [{ name: 'schema', num_children: cols.length }, ...cols.flatMap(parquetSchema)];
        pq = new hw.ParquetWriter({ writer, schema: schema as never, createdBy: 'rlhf-tfjs' });
      }
      await pq.finish();
    },
  };
}

function arrowSink(file: string, name: string): ColumnarSink {
  let cols: Column[] | null = null;
  let schema: Schema | null = null;
  const writer = new RecordBatchStreamWriter();
  // The writer's byte stream goes to the file as it is produced (no second copy of the data in memory).
  const written = pipeline(writer.toNodeStream(), fs.createWriteStream(file));
  const open = (records: PreferenceRecord[]) => {
    cols = planColumns(records);
    schema = new Schema(cols.map((c) => new Field(c.name, arrowType(c), c.nullable)));
  };
  return {
    async write(records) {
      if (records.length === 0) return;
      if (!cols) open(records);
      for (const r of records) checkFits(r, cols!, name);
      const data = cols!.map((c) => vectorFromArray(records.map((r) => c.get(r)) as never, arrowType(c)).data[0]);
      const struct = makeData({ type: new Struct(schema!.fields), length: records.length, nullCount: 0, children: data });
      writer.write(new RecordBatch(schema!, struct));
    },
    async close() {
      if (!cols) {
        open([]);
        writer.reset(undefined, schema!); // a stream with the schema and no batches
      }
      writer.finish();
      await written;
    },
  };
}
