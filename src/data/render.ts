/**
 * Turns a normal-form record into the three texts that get tokenised: prompt, chosen completion,
 * rejected completion. Plain-string records pass through unchanged (the prompt and completion are
 * joined as they are, with no separator, as TRL does). Conversational records are rendered:
 *  - with the tokenizer's Jinja `chatTemplate` (rendered by @huggingface/jinja) when there is one:
 *    prompt = template(prompt messages, add_generation_prompt), completion = template(prompt + completion
 *    messages) minus that prompt prefix. `bos_token`/`eos_token` are passed as '' because collate adds
 *    BOS and EOS as ids itself (so they are never doubled);
 *  - else with the default layout: every message as "<|role|>\n{content}\n", and "<|assistant|>\n" as
 *    the generation prompt. Example: [{user, "Hi"}] + [{assistant, "Hello"}] ->
 *    prompt "<|user|>\nHi\n<|assistant|>\n", completion "Hello\n".
 * The generation prompt is added only when the completion starts with an assistant message.
 * Does NOT tokenise (collate.ts does).
 */
import { Template } from '@huggingface/jinja';
import { DataError } from './errors';
import type { ChatMessage, PreferenceRecord, Text } from './types';

export interface RenderedPair {
  prompt: string;
  chosen: string;
  rejected: string;
}

/** The default chat layout (see the module comment). */
export function renderDefaultChat(messages: ChatMessage[], addGenerationPrompt: boolean): string {
  let s = '';
  for (const m of messages) s += `<|${m.role}|>\n${m.content}\n`;
  return addGenerationPrompt ? `${s}<|assistant|>\n` : s;
}

const compiled = new Map<string, Template>();

/** Renders messages with a Jinja chat template (compiled once per template string). */
export function renderChatTemplate(template: string, messages: ChatMessage[], addGenerationPrompt: boolean): string {
  let t = compiled.get(template);
  if (!t) {
    t = new Template(template);
    compiled.set(template, t);
  }
  return t.render({ messages, add_generation_prompt: addGenerationPrompt, bos_token: '', eos_token: '' });
}

function asMessages(t: Text): ChatMessage[] {
  return typeof t === 'string' ? [{ role: 'assistant', content: t }] : t;
}

/** Renders one side; `where` names the record for errors. */
function renderSide(prompt: ChatMessage[], completion: ChatMessage[], where: string, side: string, chatTemplate?: string): { prompt: string; completion: string } {
  const gen = completion[0]?.role === 'assistant';
  const render = (ms: ChatMessage[], g: boolean) => {
    if (!chatTemplate) return renderDefaultChat(ms, g);
    try {
      return renderChatTemplate(chatTemplate, ms, g);
    } catch (e) {
      throw new DataError(where, `the tokenizer's chat template failed on this conversation (${(e as Error).message}); expected messages the template accepts (roles, order)`);
    }
  };
  const p = prompt.length ? render(prompt, gen) : '';
  const full = render([...prompt, ...completion], false);
  if (!full.startsWith(p)) {
    throw new DataError(where, `the chat template renders prompt + ${side} so that it does not start with the rendered prompt; expected a template whose output for the prompt messages (with add_generation_prompt) is a prefix of the whole conversation's`);
  }
  return { prompt: p, completion: full.slice(p.length) };
}

/**
 * The text of a prompt that a model should continue (batched sampling): a string as it is; messages rendered
 * with the generation prompt, as renderPair renders a prompt before an assistant completion. `where` names the
 * record in errors. Example: [{user, "Hi"}] -> "<|user|>\nHi\n<|assistant|>\n" (default layout).
 */
export function renderPrompt(prompt: Text, where: string, chatTemplate?: string): string {
  if (typeof prompt === 'string') return prompt;
  if (!chatTemplate) return renderDefaultChat(prompt, true);
  try {
    return renderChatTemplate(chatTemplate, prompt, true);
  } catch (e) {
    throw new DataError(where, `the tokenizer's chat template failed on this prompt (${(e as Error).message}); expected messages the template accepts (roles, order)`);
  }
}

/** The texts to tokenise for one record. Example: {prompt:'Q: ', chosen:'yes', rejected:'no'} -> the same strings. */
export function renderPair(r: PreferenceRecord, chatTemplate?: string): RenderedPair {
  if (typeof r.prompt === 'string' && typeof r.chosen === 'string' && typeof r.rejected === 'string') {
    return { prompt: r.prompt, chosen: r.chosen, rejected: r.rejected };
  }
  const prompt = typeof r.prompt === 'string' ? (r.prompt ? [{ role: 'user', content: r.prompt }] : []) : r.prompt;
  const c = renderSide(prompt, asMessages(r.chosen), r.source, 'chosen', chatTemplate);
  const rj = renderSide(prompt, asMessages(r.rejected), r.source, 'rejected', chatTemplate);
  if (c.prompt !== rj.prompt) {
    throw new DataError(r.source, 'chosen and rejected render different prompts (one starts with an assistant message, the other not); expected both completions to start with the same role');
  }
  return { prompt: c.prompt, chosen: c.completion, rejected: rj.completion };
}
