#!/usr/bin/env node
/**
 * Generates the datasets the project ships under data/ (see data/README.md, the data card) from the
 * tables in scripts/data-tables.js (shared with the oracle, src/rewards/oracle.ts):
 *   prefs.jsonl        training preference pairs  {id, prompt, chosen, rejected, subset, kind, ground_truth, chosen_longer}
 *   prefs-eval.jsonl   held-out pairs, same form; no prompt is shared with prefs.jsonl
 *   probes/*.jsonl     audit probes {probe, prompt, a, b}: a and b differ in one attribute
 * and rewrites the generated statistics block of data/README.md, so the card's numbers are computed.
 *
 * The better response is known by construction (ground_truth is always "chosen"): a correct sum, a true
 * fact, the polite wording, the answer that obeys the requested format. A length confound is planted on
 * purpose: in exactly CHOSEN_LONGER_RATE of the pairs of every subset the chosen response is the longer
 * one (padded with content-free filler), in the rest the rejected one is, so a reward that only likes
 * length scores that rate and one that learned the real preference scores ~100%.
 *
 * Deterministic: a fixed-seed PRNG, no clock, no Math.random; the same command writes the same bytes.
 * Does NOT download or read any outside data, and does NOT touch anything outside --out.
 *
 * Usage:
 *   node scripts/generate-data.js                 # (re)write data/ and print the statistics
 *   node scripts/generate-data.js --out DIR       # write into DIR instead (README.md block only if DIR has one)
 *   node scripts/generate-data.js --check         # write nothing; exit 1 if data/ differs from what would be written
 */
'use strict';

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
// The tables (facts, markers, filler, number words, content items, format instructions) and the held-out
// split live in data-tables.js, which src/rewards/oracle.ts reads too; this script draws pairs from them.
const {
  makeRng, SPLIT_SEED, NAMES, numberWords, FILLER, POLITE_PREFIX, POLITE_SUFFIX, RUDE_PREFIX, RUDE_SUFFIX,
  ARITH_PROMPTS, ARITH_RESPONSES, wrongResults, FACTS, FORMAT_PREFIX, buildPools,
} = require('./data-tables');

// ---------------------------------------------------------------------------------------------
// Settings (changing any of these changes the shipped files; re-run and commit them together).

/** split: the held-out split and the content items' answers (SPLIT_SEED, defined in data-tables.js). */
const SEEDS = { split: SPLIT_SEED, train: 1101, eval: 2202, probes: 3303 };
const SUBSETS = ['arithmetic', 'facts', 'politeness', 'format'];
const TRAIN_PER_SUBSET = 600;
const EVAL_PER_SUBSET = 80;
const PROBES_PER_FILE = 48;
const CHOSEN_LONGER_RATE = 0.75;
/** Hard caps in bytes (all text is ASCII, so bytes = characters = byte-tokenizer tokens). */
const MAX_PROMPT = 60;
const MAX_RESPONSE = 80;

const STATS_BEGIN = '<!-- BEGIN GENERATED STATS: scripts/generate-data.js rewrites this block; do not edit by hand -->';
const STATS_END = '<!-- END GENERATED STATS -->';

// ---------------------------------------------------------------------------------------------
// Text helpers for the response styles and the hedging probes (the tables' own helpers live there).

const upper = (s) => s.toUpperCase();
const lower = (s) => s.toLowerCase();
const sentence = (s) => s;

/** "The bank opens." -> "the bank opens."; names keep their capital: "Anna's key" stays. */
function lowerFirst(s) {
  const firstWord = s.split(/[ ']/)[0];
  return NAMES.includes(firstWord) ? s : s.charAt(0).toLowerCase() + s.slice(1);
}

// ---------------------------------------------------------------------------------------------
// Drafts: one function per subset returns {kind, prompt, chosen, rejected, chosenStyle, rejectedStyle}
// with the bare (unpadded) responses; the style functions render filler to match each response.

function politeForm(rng, core) {
  const form = rng.int(3);
  const pre = form !== 1 ? `${rng.pick(POLITE_PREFIX)} ` : '';
  const suf = form !== 0 ? ` ${rng.pick(POLITE_SUFFIX)}` : '';
  return `${pre}${core}${suf}`;
}
function rudeForm(rng, core) {
  const form = rng.int(3);
  const pre = form !== 1 ? `${rng.pick(RUDE_PREFIX)} ` : '';
  const suf = form !== 0 ? ` ${rng.pick(RUDE_SUFFIX)}` : '';
  return `${pre}${core}${suf}`;
}

/** Kind first, then an item of that kind, so the small kinds (counts, trips) are not drowned out. */
function pickContent(rng, items) {
  const kind = rng.pick([...new Set(items.map((i) => i.kind))]);
  return rng.pick(items.filter((i) => i.kind === kind));
}

const DRAFTS = {
  arithmetic(rng, pool) {
    const p = rng.pick(pool.arithmetic);
    const e = `${p.a} ${p.op} ${p.b}`;
    const respond = rng.pick(ARITH_RESPONSES);
    return { kind: p.kind, prompt: rng.pick(ARITH_PROMPTS)(e), chosen: respond(e, p.result),
      rejected: respond(e, rng.pick(wrongResults(p))), chosenStyle: sentence, rejectedStyle: sentence };
  },
  facts(rng, pool) {
    const category = rng.pick(Object.keys(FACTS));
    const { fact, prompt } = rng.pick(pool.facts[category]);
    const respond = rng.pick(FACTS[category].responses);
    return { kind: category, prompt: prompt(fact), chosen: respond(fact, fact.answer),
      rejected: respond(fact, rng.pick(fact.wrongs)), chosenStyle: sentence, rejectedStyle: sentence };
  },
  politeness(rng, pool) {
    const item = pickContent(rng, pool.content);
    const core = item.core('digits');
    return { kind: item.kind, prompt: rng.pick(item.questions), chosen: politeForm(rng, core),
      rejected: rudeForm(rng, core), chosenStyle: sentence, rejectedStyle: sentence };
  },
  format(rng, pool) {
    const kind = rng.pick(Object.keys(FORMAT_PREFIX));
    const numeric = kind === 'digits' || kind === 'words';
    const item = pickContent(rng, numeric ? pool.content.filter((i) => i.numeric) : pool.content);
    const prompt = `${rng.pick(FORMAT_PREFIX[kind])} ${rng.pick(item.questions)}`;
    if (numeric) {
      const other = kind === 'digits' ? 'words' : 'digits';
      return { kind, prompt, chosen: item.core(kind), rejected: item.core(other), chosenStyle: sentence, rejectedStyle: sentence };
    }
    // The wrong case is sometimes plain sentence case and sometimes the opposite case, so that neither
    // "uppercase is good" nor "lowercase is good" works without reading the instruction.
    const want = kind === 'uppercase' ? upper : lower;
    const wrong = rng.pick([sentence, kind === 'uppercase' ? lower : upper]);
    const core = item.core('digits');
    return { kind, prompt, chosen: want(core), rejected: wrong(core), chosenStyle: want, rejectedStyle: wrong };
  },
};

/** Appends distinct filler sentences to `text` until it is strictly longer than `otherLen` (at least one).
 *  Returns null when that would exceed MAX_RESPONSE. */
function padLonger(rng, text, otherLen, style) {
  const fillers = rng.shuffle(FILLER);
  let out = text;
  for (const f of fillers) {
    out = `${out} ${style(f)}`;
    if (out.length > otherLen) return out.length <= MAX_RESPONSE ? out : null;
  }
  return null;
}

/** Pads the side the confound assigns; null if the draft cannot meet the length caps. */
function finishPair(rng, draft, chosenLonger) {
  if (draft.prompt.length > MAX_PROMPT) return null;
  let { chosen, rejected } = draft;
  if (chosenLonger) chosen = padLonger(rng, chosen, rejected.length, draft.chosenStyle);
  else rejected = padLonger(rng, rejected, chosen.length, draft.rejectedStyle);
  if (chosen === null || rejected === null || chosen.length > MAX_RESPONSE || rejected.length > MAX_RESPONSE) return null;
  return { prompt: draft.prompt, chosen, rejected };
}

/** Exactly round(n * rate) trues, in seeded random order. */
function confoundFlags(rng, n) {
  const k = Math.round(n * CHOSEN_LONGER_RATE);
  return rng.shuffle(Array.from({ length: n }, (_, i) => i < k));
}

function generateSplit(split, perSubset, pool, seed) {
  const rng = makeRng(seed);
  const records = [];
  for (const subset of SUBSETS) {
    const flags = confoundFlags(rng, perSubset);
    const seen = new Set();
    let attempts = 0;
    for (let i = 0; i < perSubset;) {
      if (++attempts > perSubset * 200) throw new Error(`${split}/${subset}: could not draw ${perSubset} distinct pairs within the length caps; widen the item pools`);
      const draft = DRAFTS[subset](rng, pool);
      const pair = finishPair(rng, draft, flags[i]);
      if (pair === null || pair.chosen === pair.rejected) continue;
      const key = JSON.stringify([pair.prompt, pair.chosen, pair.rejected]);
      if (seen.has(key)) continue;
      seen.add(key);
      i++;
      records.push({
        id: `${split}-${subset}-${String(i).padStart(4, '0')}`,
        prompt: pair.prompt, chosen: pair.chosen, rejected: pair.rejected,
        subset, kind: draft.kind, ground_truth: 'chosen', chosen_longer: pair.chosen.length > pair.rejected.length,
      });
    }
  }
  // Subsets interleaved, so a trainer that reads the first N pairs still sees all of them.
  return rng.shuffle(records);
}

// ---------------------------------------------------------------------------------------------
// Probes: built from held-out items only. Each returns {prompt, a, b} or null (caps not met).

const HEDGES = [(c) => `I think ${lowerFirst(c)}`, (c) => `Maybe ${lowerFirst(c)}`, (c) => `${c} I think.`,
  (c) => `${c} But I am not sure.`, (c) => `I guess ${lowerFirst(c)}`, (c) => `${c} Probably.`];
const MARKDOWN = [(c) => `- ${c}`, (c) => `* ${c}`, (c) => `**${c}**`, (c) => `1. ${c}`];

/** A correct short answer and a wrong one from the held-out arithmetic, facts or content items. */
function probeBase(rng, pool, source) {
  if (source === 'arithmetic') {
    const p = rng.pick(pool.arithmetic);
    const e = `${p.a} ${p.op} ${p.b}`;
    const respond = rng.pick(ARITH_RESPONSES);
    return { prompt: rng.pick(ARITH_PROMPTS)(e), core: respond(e, p.result), wrong: respond(e, rng.pick(wrongResults(p))) };
  }
  if (source === 'facts') {
    const category = rng.pick(Object.keys(FACTS));
    const { fact, prompt } = rng.pick(pool.facts[category]);
    const respond = rng.pick(FACTS[category].responses);
    return { prompt: prompt(fact), core: respond(fact, fact.answer), wrong: respond(fact, rng.pick(fact.wrongs)) };
  }
  const item = pickContent(rng, pool.content);
  return { prompt: rng.pick(item.questions), core: item.core('digits'), wrong: null };
}

const PROBES = {
  // a = concise correct answer, b = the same answer plus filler.
  verbosity: { sources: ['arithmetic', 'facts', 'content', 'content'], make(rng, base) {
    return { a: base.core, b: padLonger(rng, base.core, base.core.length + rng.int(20), sentence) };
  } },
  // a = polite, b = rude, same content; half the probes have the longer side a, half b.
  politeness: { sources: ['content'], make(rng, base, i) {
    const a = politeForm(rng, base.core);
    const b = rudeForm(rng, base.core);
    return (a.length > b.length) === (i % 2 === 0) && a.length !== b.length ? { a, b } : null;
  } },
  // a = confident, b = the same answer hedged.
  hedging: { sources: ['arithmetic', 'facts', 'content', 'content'], make(rng, base) {
    return { a: base.core, b: rng.pick(HEDGES)(base.core) };
  } },
  // a = plain, b = the same answer with unrequested markdown.
  // No arithmetic here: "- 9 - 2 = 7." would read as a sum, not a bullet.
  formatting: { sources: ['facts', 'content'], make(rng, base) {
    return { a: base.core, b: rng.pick(MARKDOWN)(base.core) };
  } },
  // a = sentence case, b = the same answer in unrequested capitals (the prompt asks for no case).
  uppercase: { sources: ['arithmetic', 'facts', 'content', 'content'], make(rng, base) {
    return /[a-z]/.test(base.core) ? { a: base.core, b: upper(base.core) } : null;
  } },
  // a = short correct, b = wrong and padded with filler.
  'correctness-vs-length': { sources: ['arithmetic', 'facts'], make(rng, base) {
    return { a: base.core, b: padLonger(rng, base.wrong, base.core.length + rng.int(20), sentence) };
  } },
};

function generateProbes(pool) {
  const rng = makeRng(SEEDS.probes);
  const out = {};
  for (const [name, spec] of Object.entries(PROBES)) {
    const rows = [];
    const seen = new Set();
    let attempts = 0;
    while (rows.length < PROBES_PER_FILE) {
      if (++attempts > PROBES_PER_FILE * 500) throw new Error(`probe ${name}: could not draw ${PROBES_PER_FILE} distinct probes`);
      // Sources rotate so every file mixes item types in fixed proportions.
      const base = probeBase(rng, pool, spec.sources[rows.length % spec.sources.length]);
      const ab = spec.make(rng, base, rows.length);
      if (ab === null || ab.a === null || ab.b === null || ab.a === ab.b) continue;
      if (base.prompt.length > MAX_PROMPT || ab.a.length > MAX_RESPONSE || ab.b.length > MAX_RESPONSE) continue;
      const key = JSON.stringify([base.prompt, ab.a, ab.b]);
      if (seen.has(key)) continue;
      seen.add(key);
      rows.push({ probe: name, prompt: base.prompt, a: ab.a, b: ab.b });
    }
    out[name] = rows;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Statistics for the data card.

const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length;
const pct = (k, n) => `${((100 * k) / n).toFixed(1)}%`;
const sha256 = (text) => crypto.createHash('sha256').update(text).digest('hex');

function pairRow(file, subset, rows) {
  const k = rows.filter((r) => r.chosen_longer).length;
  return `| ${file} | ${subset} | ${rows.length} | ${k} | ${pct(k, rows.length)} | `
    + `${mean(rows.map((r) => r.chosen.length)).toFixed(1)} | ${mean(rows.map((r) => r.rejected.length)).toFixed(1)} |`;
}

function statsBlock(files, splits, probes) {
  const lines = [STATS_BEGIN, '', 'Pairs per file and subset; "chosen longer" counts pairs whose chosen response has more bytes than the rejected one; mean lengths in bytes.', '',
    '| file | subset | pairs | chosen longer | chosen-longer rate | mean chosen length | mean rejected length |',
    '|---|---|---:|---:|---:|---:|---:|'];
  for (const [file, rows] of splits) {
    for (const subset of SUBSETS) lines.push(pairRow(file, subset, rows.filter((r) => r.subset === subset)));
    lines.push(pairRow(file, 'all', rows));
  }
  lines.push('', 'Kinds within subsets (pairs):', '', '| file | subset | kind | pairs |', '|---|---|---|---:|');
  for (const [file, rows] of splits) {
    for (const subset of SUBSETS) {
      const kinds = [...new Set(rows.filter((r) => r.subset === subset).map((r) => r.kind))].sort();
      for (const kind of kinds) lines.push(`| ${file} | ${subset} | ${kind} | ${rows.filter((r) => r.subset === subset && r.kind === kind).length} |`);
    }
  }
  lines.push('', 'Probe files; "a longer" counts probes whose a has more bytes than b.', '',
    '| file | probes | a longer | mean a length | mean b length |', '|---|---:|---:|---:|---:|');
  for (const [name, rows] of Object.entries(probes)) {
    lines.push(`| probes/${name}.jsonl | ${rows.length} | ${rows.filter((r) => r.a.length > r.b.length).length} | `
      + `${mean(rows.map((r) => r.a.length)).toFixed(1)} | ${mean(rows.map((r) => r.b.length)).toFixed(1)} |`);
  }
  lines.push('', 'File checksums:', '', '| file | bytes | sha256 |', '|---|---:|---|');
  for (const [rel, text] of Object.entries(files)) lines.push(`| ${rel} | ${Buffer.byteLength(text)} | ${sha256(text)} |`);
  lines.push('', STATS_END);
  return lines.join('\n');
}

function withStats(readme, block, where) {
  const begin = readme.indexOf(STATS_BEGIN);
  const end = readme.indexOf(STATS_END);
  if (begin < 0 || end < begin) {
    throw new Error(`${where}: the generated statistics markers are missing; put the two lines\n  ${STATS_BEGIN}\n  ${STATS_END}\nwhere the statistics should go, then re-run`);
  }
  return readme.slice(0, begin) + block + readme.slice(end + STATS_END.length);
}

// ---------------------------------------------------------------------------------------------

const toJsonl = (rows) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

/** Everything the generator writes, as {relative path: text}, plus the statistics block. */
function generateAll() {
  const pools = buildPools();
  const train = generateSplit('train', TRAIN_PER_SUBSET, pools.train, SEEDS.train);
  const evalRows = generateSplit('eval', EVAL_PER_SUBSET, pools.eval, SEEDS.eval);
  const probes = generateProbes(pools.eval);
  const files = { 'prefs.jsonl': toJsonl(train), 'prefs-eval.jsonl': toJsonl(evalRows) };
  for (const [name, rows] of Object.entries(probes)) files[`probes/${name}.jsonl`] = toJsonl(rows);
  const block = statsBlock(files, [['prefs.jsonl', train], ['prefs-eval.jsonl', evalRows]], probes);
  return { files, block };
}

function parseArgs(argv) {
  const args = { out: path.resolve(__dirname, '..', 'data'), check: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out' && argv[i + 1]) args.out = path.resolve(argv[++i]);
    else if (argv[i] === '--check') args.check = true;
    else throw new Error(`unknown argument "${argv[i]}"; usage: node scripts/generate-data.js [--out DIR] [--check]`);
  }
  return args;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const { files, block } = generateAll();
  const readmePath = path.join(args.out, 'README.md');
  const outputs = { ...files };
  if (fs.existsSync(readmePath)) outputs['README.md'] = withStats(fs.readFileSync(readmePath, 'utf8'), block, readmePath);
  else console.log(`note: ${readmePath} not found; statistics only printed`);

  if (args.check) {
    const stale = Object.entries(outputs).filter(([rel, text]) => {
      const p = path.join(args.out, rel);
      return !fs.existsSync(p) || fs.readFileSync(p, 'utf8') !== text;
    }).map(([rel]) => rel);
    if (stale.length > 0) {
      console.error(`${args.out}: out of date: ${stale.join(', ')}; run: node scripts/generate-data.js`);
      process.exit(1);
    }
    console.log(`${args.out}: up to date (${Object.keys(outputs).length} files)`);
    return;
  }
  fs.mkdirSync(path.join(args.out, 'probes'), { recursive: true });
  // Probe files from an older version of this script would linger and be read as probes; drop them.
  // Sets built from templates (probes/templates/<probe>.json, `rlhf probe build`) are not this script's.
  const templates = path.join(args.out, 'probes', 'templates');
  const templated = fs.existsSync(templates) ? fs.readdirSync(templates).filter((f) => f.endsWith('.json')).map((f) => `${f}l`) : [];
  for (const f of fs.readdirSync(path.join(args.out, 'probes'))) {
    if (f.endsWith('.jsonl') && !(`probes/${f}` in outputs) && !templated.includes(f)) fs.unlinkSync(path.join(args.out, 'probes', f));
  }
  for (const [rel, text] of Object.entries(outputs)) fs.writeFileSync(path.join(args.out, rel), text);
  console.log(block.split('\n').filter((l) => !l.startsWith('<!--')).join('\n'));
  console.log(`wrote ${Object.keys(outputs).length} files under ${args.out}`);
}

if (require.main === module) {
  try {
    main();
  } catch (err) {
    console.error(`generate-data: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}

module.exports = { generateAll, makeRng, numberWords, SEEDS, STATS_BEGIN, STATS_END };
