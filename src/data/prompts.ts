/**
 * Prompts for sampling (`rlhf generate --prompts`, and later GRPO / online DPO), from any file the preference
 * readers accept (sources.ts): rows with a `prompt` column and no completions (a string or a list of
 * {role, content} messages; `prompt_input_ids` beside it is used as given), or preference records of any format
 * (formats.ts), whose prompts are taken as the data layer reads them. Recognised per file from its first row.
 *
 * Each prompt keeps its `file:line`, so later errors (too long for the model, say) can name it.
 * Does NOT: render or tokenise (render.ts renderPrompt and the caller do), or deduplicate.
 */
import { DataError, describeType } from './errors';
import { detectFormat, normalizeRecord, unrecognised } from './formats';
import { renderPair, renderPrompt } from './render';
import { resolveSource, readFileRows } from './sources';
import type { ChatMessage, PreferenceRecord, Text } from './types';

export interface PromptRecord {
  prompt: Text;
  /** The record's own id, else `file:line`. */
  id: string;
  /** `file:line`. */
  source: string;
  /** Token ids given in the file (`prompt_input_ids`): used as they are, no BOS added. */
  promptIds?: number[];
  /** For preference records: the whole record (renderPair renders its prompt as training would). */
  record?: PreferenceRecord;
}

export interface PromptReadOptions {
  /** Split of a DatasetDict folder (also `folder:split`). */
  split?: string;
  /** Stop after this many prompts. */
  limit?: number;
  maxLineBytes?: number;
}

const PROMPT_SHAPE = '{prompt} (a string or a list of {role, content} messages, optional prompt_input_ids) or a preference record';

/** Whether a row is a bare prompt (a prompt column and no completions). */
function isPromptRow(v: unknown): boolean {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  const hasPrompt = 'prompt' in o || 'prompt_input_ids' in o;
  return hasPrompt && !['chosen', 'rejected', 'chosen_input_ids', 'rejected_input_ids'].some((k) => k in o);
}

/** A bare prompt row -> PromptRecord, or a DataError naming the field. */
function promptRow(v: Record<string, unknown>, where: string): PromptRecord {
  const fail = (what: string, expected: string): never => {
    throw new DataError(where, `${what}; expected ${expected} (a prompts file: ${PROMPT_SHAPE})`);
  };
  let prompt: Text = '';
  if (v.prompt !== undefined && v.prompt !== null) {
    if (typeof v.prompt === 'string') prompt = v.prompt;
    else if (Array.isArray(v.prompt)) {
      prompt = v.prompt.map((m, i): ChatMessage => {
        const o = m as Record<string, unknown>;
        if (o === null || typeof o !== 'object' || Array.isArray(o)) fail(`field "prompt[${i}]" is ${describeType(m)}`, 'a message {role, content}');
        for (const k of ['role', 'content']) if (typeof o[k] !== 'string') fail(`field "prompt[${i}].${k}" is ${describeType(o[k])}`, 'a string');
        return { role: o.role as string, content: o.content as string };
      });
    } else fail(`field "prompt" is ${describeType(v.prompt)}`, 'a string or a list of {role, content} messages');
  }
  const out: PromptRecord = { prompt, id: typeof v.id === 'string' || typeof v.id === 'number' ? String(v.id) : where, source: where };
  if (v.prompt_input_ids !== undefined && v.prompt_input_ids !== null) {
    const ids = v.prompt_input_ids;
    if (!Array.isArray(ids) || ids.some((x) => typeof x !== 'number' || !Number.isInteger(x) || x < 0)) {
      fail(`field "prompt_input_ids" is ${Array.isArray(ids) ? 'a list with a value that is not a token id' : describeType(ids)}`, 'a list of token ids (integers >= 0)');
    }
    out.promptIds = ids as number[];
  }
  return out;
}

/** The prompts of one or more path specs, in file order. Example: for await (const p of readPrompts('prompts.jsonl')) ... */
export async function* readPrompts(specs: string | string[], opts: PromptReadOptions = {}): AsyncGenerator<PromptRecord> {
  let n = 0;
  for (const spec of Array.isArray(specs) ? specs : [specs]) {
    for (const src of resolveSource(spec, opts.split)) {
      let kind: 'prompts' | ReturnType<typeof detectFormat> = null;
      let from = '';
      for await (const row of readFileRows(src, opts.maxLineBytes)) {
        if (opts.limit !== undefined && n >= opts.limit) return;
        if (row.error) throw row.error;
        if (kind === null) {
          kind = isPromptRow(row.value) ? 'prompts' : detectFormat(row.value);
          if (kind === null) throw unrecognised(row.where, row.value);
          from = `, recognised from ${row.where}`;
        }
        if (kind === 'prompts') {
          if (!isPromptRow(row.value)) throw new DataError(row.where, `this row has completions or no prompt; expected ${PROMPT_SHAPE} like the file's first row${from}`);
          yield promptRow(row.value as Record<string, unknown>, row.where);
        } else {
          const { record } = normalizeRecord(row.value, kind, row.where, from);
          yield { prompt: record.prompt, id: record.id, source: record.source, record, ...(record.promptIds ? { promptIds: record.promptIds } : {}) };
        }
        n++;
      }
    }
  }
}

/**
 * The text a model continues for one prompt, rendered as the data layer renders prompts: a preference record's
 * as renderPair gives it (what training tokenises), a bare prompt by renderPrompt.
 */
export function promptText(p: PromptRecord, chatTemplate?: string): string {
  return p.record ? renderPair(p.record, chatTemplate).prompt : renderPrompt(p.prompt, p.source, chatTemplate);
}
