#!/usr/bin/env node
/**
 * Generates the datasets the project ships under data/ (see data/README.md, the data card):
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

// ---------------------------------------------------------------------------------------------
// Settings (changing any of these changes the shipped files; re-run and commit them together).

const SEEDS = { split: 20240611, train: 1101, eval: 2202, probes: 3303 };
const SUBSETS = ['arithmetic', 'facts', 'politeness', 'format'];
const TRAIN_PER_SUBSET = 600;
const EVAL_PER_SUBSET = 80;
const PROBES_PER_FILE = 48;
const CHOSEN_LONGER_RATE = 0.75;
/** Share of items (problems, fact phrasings, content items) held out for prefs-eval.jsonl and the probes. */
const EVAL_ITEM_SHARE = 0.2;
/** Hard caps in bytes (all text is ASCII, so bytes = characters = byte-tokenizer tokens). */
const MAX_PROMPT = 60;
const MAX_RESPONSE = 80;

const STATS_BEGIN = '<!-- BEGIN GENERATED STATS: scripts/generate-data.js rewrites this block; do not edit by hand -->';
const STATS_END = '<!-- END GENERATED STATS -->';

// ---------------------------------------------------------------------------------------------
// Seeded randomness: mulberry32 (32-bit state, integer maths only, same stream on every platform).

function makeRng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  const pick = (arr) => arr[int(arr.length)];
  /** Fisher-Yates on a copy. */
  const shuffle = (arr) => {
    const out = arr.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = int(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  };
  return { next, int, pick, shuffle };
}

// ---------------------------------------------------------------------------------------------
// Text helpers.

const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);
const article = (noun) => (/^[aeiou]/.test(noun) ? `an ${noun}` : `a ${noun}`);
const upper = (s) => s.toUpperCase();
const lower = (s) => s.toLowerCase();
const sentence = (s) => s;

const NAMES = ['Anna', 'Ben', 'Chen', 'Dara', 'Eli', 'Fay'];
/** "The bank opens." -> "the bank opens."; names keep their capital: "Anna's key" stays. */
function lowerFirst(s) {
  const firstWord = s.split(/[ ']/)[0];
  return NAMES.includes(firstWord) ? s : s.charAt(0).toLowerCase() + s.slice(1);
}

const ONES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven',
  'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen'];
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];
/** 0..99 in words: 7 -> "seven", 45 -> "forty-five", 60 -> "sixty". */
function numberWords(n) {
  if (n < 20) return ONES[n];
  const t = TENS[Math.floor(n / 10)];
  return n % 10 === 0 ? t : `${t}-${ONES[n % 10]}`;
}
const numIn = (style) => (n) => (style === 'words' ? numberWords(n) : String(n));

// ---------------------------------------------------------------------------------------------
// Filler: pleasant, content-free, no digits, and none of the politeness or rudeness markers below, so
// that the only thing filler carries is length.

const FILLER = ['Hope this helps.', 'Have a nice day.', 'I hope that is useful.', 'That should cover it.',
  'All the best to you.', 'Hope that is clear.', 'Good luck with it.', 'Glad to share it.'];

const POLITE_PREFIX = ['Sure!', 'Of course.', 'Certainly.'];
const POLITE_SUFFIX = ['Thank you for asking.', 'Thanks for asking!', 'Thank you!'];
const RUDE_PREFIX = ['Ugh.', 'Duh.', 'Whatever.', 'Seriously?'];
const RUDE_SUFFIX = ['Stop bothering me.', 'Figure it out yourself.', "Don't waste my time.", 'Look it up next time.', 'Go away.'];

// ---------------------------------------------------------------------------------------------
// Arithmetic: sums and differences of 1..9 (differences never negative).

function arithmeticProblems() {
  const out = [];
  for (let a = 1; a <= 9; a++) {
    for (let b = 1; b <= 9; b++) {
      out.push({ kind: 'add', a, b, op: '+', result: a + b, slip: a - b });
      if (a >= b) out.push({ kind: 'sub', a, b, op: '-', result: a - b, slip: a + b });
    }
  }
  return out;
}
const ARITH_PROMPTS = [(e) => `What is ${e}?`, (e) => `Compute ${e}.`, (e) => `How much is ${e}?`, (e) => `Work out ${e}.`];
const ARITH_RESPONSES = [(e, r) => `${e} = ${r}.`, (e, r) => `The answer is ${r}.`, (e, r) => `It is ${r}.`, (e, r) => `That makes ${r}.`];
/** Wrong results: off by one or two, or the other operation (a common slip); never negative, never right. */
function wrongResults(p) {
  const c = [p.result - 2, p.result - 1, p.result + 1, p.result + 2, p.slip];
  return [...new Set(c)].filter((r) => r >= 0 && r !== p.result);
}

// ---------------------------------------------------------------------------------------------
// Facts: a small table written here. Each wrong option is clearly wrong (no tomatoes: some are green).

const COLOURS = [
  ['the sky', 'blue', ['green', 'brown', 'pink']], ['grass', 'green', ['blue', 'pink', 'red']],
  ['snow', 'white', ['green', 'red', 'blue']], ['coal', 'black', ['white', 'pink', 'yellow']],
  ['a banana', 'yellow', ['blue', 'purple', 'pink']], ['a carrot', 'orange', ['blue', 'black', 'pink']],
  ['milk', 'white', ['green', 'blue', 'red']], ['a lemon', 'yellow', ['blue', 'red', 'purple']],
  ['a strawberry', 'red', ['blue', 'black', 'grey']], ['a crow', 'black', ['pink', 'green', 'yellow']],
  ['chocolate', 'brown', ['green', 'blue', 'pink']], ['a pumpkin', 'orange', ['blue', 'pink', 'purple']],
  ['a lime', 'green', ['blue', 'purple', 'pink']], ['a flamingo', 'pink', ['blue', 'green', 'black']],
  ['an elephant', 'grey', ['pink', 'green', 'yellow']], ['the sea', 'blue', ['pink', 'red', 'yellow']],
  ['a cherry', 'red', ['blue', 'white', 'grey']], ['coffee', 'brown', ['green', 'blue', 'pink']],
  ['a polar bear', 'white', ['green', 'blue', 'pink']], ['blood', 'red', ['green', 'white', 'yellow']],
  ['a school bus', 'yellow', ['blue', 'pink', 'purple']], ['a pig', 'pink', ['blue', 'green', 'purple']],
].map(([np, answer, wrongs]) => ({ np, answer, wrongs }));

const SOUNDS = [
  ['dog', 'barks', ['moos', 'quacks', 'oinks', 'hisses']], ['cat', 'meows', ['barks', 'moos', 'quacks', 'neighs']],
  ['cow', 'moos', ['barks', 'quacks', 'hisses', 'meows']], ['duck', 'quacks', ['barks', 'moos', 'roars', 'neighs']],
  ['lion', 'roars', ['quacks', 'moos', 'oinks', 'buzzes']], ['snake', 'hisses', ['barks', 'moos', 'quacks', 'neighs']],
  ['horse', 'neighs', ['quacks', 'barks', 'meows', 'buzzes']], ['pig', 'oinks', ['barks', 'quacks', 'meows', 'roars']],
  ['owl', 'hoots', ['moos', 'barks', 'oinks', 'neighs']], ['bee', 'buzzes', ['barks', 'moos', 'quacks', 'roars']],
  ['frog', 'croaks', ['barks', 'moos', 'meows', 'neighs']], ['sheep', 'bleats', ['barks', 'quacks', 'roars', 'hisses']],
  ['mouse', 'squeaks', ['roars', 'moos', 'barks', 'neighs']], ['wolf', 'howls', ['quacks', 'moos', 'oinks', 'meows']],
  ['donkey', 'brays', ['quacks', 'meows', 'hisses', 'buzzes']], ['rooster', 'crows', ['barks', 'moos', 'hisses', 'oinks']],
  ['hen', 'clucks', ['barks', 'roars', 'moos', 'neighs']], ['crow', 'caws', ['moos', 'barks', 'oinks', 'neighs']],
  ['goat', 'bleats', ['quacks', 'roars', 'buzzes', 'hisses']], ['turkey', 'gobbles', ['barks', 'moos', 'hisses', 'neighs']],
].map(([animal, answer, wrongs]) => ({ animal, answer, wrongs }));

/** Opposite pairs with a meaning group; a wrong answer always comes from another group, so it cannot be right. */
const OPPOSITE_PAIRS = [
  ['hot', 'cold', 'temperature'], ['big', 'small', 'size'], ['thick', 'thin', 'size'], ['up', 'down', 'vertical'],
  ['high', 'low', 'vertical'], ['fast', 'slow', 'speed'], ['day', 'night', 'time'], ['early', 'late', 'time'],
  ['first', 'last', 'time'], ['happy', 'sad', 'mood'], ['wet', 'dry', 'moisture'], ['full', 'empty', 'amount'],
  ['rich', 'poor', 'amount'], ['loud', 'quiet', 'sound'], ['north', 'south', 'compass'], ['east', 'west', 'compass'],
  ['push', 'pull', 'force'], ['strong', 'weak', 'force'], ['buy', 'sell', 'trade'], ['win', 'lose', 'trade'],
  ['true', 'false', 'truth'], ['asleep', 'awake', 'sleep'], ['inside', 'outside', 'place'], ['clean', 'dirty', 'hygiene'],
];
const OPPOSITES = OPPOSITE_PAIRS.flatMap(([x, y, group]) => [{ word: x, answer: y, group }, { word: y, answer: x, group }])
  .map((o, _i, all) => ({ ...o, wrongs: all.filter((p) => p.group !== o.group).map((p) => p.answer) }));

const PLURALS = [
  ['mouse', 'mice', ['mouses', 'meese']], ['child', 'children', ['childs', 'childes']], ['foot', 'feet', ['foots', 'feets']],
  ['tooth', 'teeth', ['tooths', 'teeths']], ['man', 'men', ['mans', 'mens']], ['woman', 'women', ['womans', 'womens']],
  ['goose', 'geese', ['gooses', 'geeses']], ['sheep', 'sheep', ['sheeps', 'sheepes']], ['ox', 'oxen', ['oxes', 'oxs']],
  ['leaf', 'leaves', ['leafs', 'leafes']], ['knife', 'knives', ['knifes', 'knifs']], ['wolf', 'wolves', ['wolfs', 'wolfes']],
  ['box', 'boxes', ['boxs', 'boxies']], ['bus', 'buses', ['bus', 'buss']], ['baby', 'babies', ['babys', 'babyes']],
  ['city', 'cities', ['citys', 'cityes']], ['dish', 'dishes', ['dishs', 'dishies']], ['fox', 'foxes', ['foxs', 'foxen']],
  ['wife', 'wives', ['wifes', 'wifs']], ['lady', 'ladies', ['ladys', 'ladyes']], ['church', 'churches', ['churchs', 'church']],
  ['half', 'halves', ['halfs', 'halfes']], ['shelf', 'shelves', ['shelfs', 'shelfes']], ['deer', 'deer', ['deers', 'deeres']],
  ['berry', 'berries', ['berrys', 'berryes']], ['class', 'classes', ['class', 'classs']],
].map(([word, answer, wrongs]) => ({ word, answer, wrongs }));

/** Per category: the table, prompt templates, response templates (answer-agnostic, so chosen and
 *  rejected differ only in the answer word). */
const FACTS = {
  colour: {
    table: COLOURS,
    prompts: [(f) => `What colour is ${f.np}?`, (f) => `Tell me the colour of ${f.np}.`,
      (f) => `Name the colour of ${f.np}.`, (f) => `Which colour is ${f.np}?`],
    responses: [(f, x) => `${cap(f.np)} is ${x}.`, (f, x) => `It is ${x}.`, (f, x) => `The colour is ${x}.`, (f, x) => `${cap(x)}.`],
  },
  sound: {
    table: SOUNDS,
    prompts: [(f) => `What sound does ${article(f.animal)} make?`, (f) => `What noise does ${article(f.animal)} make?`,
      (f) => `Which sound does ${article(f.animal)} make?`, (f) => `How does ${article(f.animal)} sound?`],
    responses: [(f, x) => `${cap(article(f.animal))} ${x}.`, (f, x) => `The ${f.animal} ${x}.`, (f, x) => `It ${x}.`],
  },
  opposite: {
    table: OPPOSITES,
    prompts: [(f) => `What is the opposite of ${f.word}?`, (f) => `Give the opposite of ${f.word}.`,
      (f) => `Name the opposite of ${f.word}.`, (f) => `Which word is the opposite of ${f.word}?`],
    responses: [(f, x) => `The opposite of ${f.word} is ${x}.`, (f, x) => `It is ${x}.`, (f, x) => `${cap(x)}.`],
  },
  plural: {
    table: PLURALS,
    prompts: [(f) => `What is the plural of ${f.word}?`, (f) => `Give the plural of ${f.word}.`,
      (f) => `Name the plural of ${f.word}.`, (f) => `What is more than one ${f.word} called?`],
    responses: [(f, x) => `The plural of ${f.word} is ${x}.`, (f, x) => `It is ${x}.`, (f, x) => `One ${f.word}, two ${x}.`],
  },
};

// ---------------------------------------------------------------------------------------------
// Content items for the politeness and format subsets: everyday questions with one fixed answer each.
// core(style) renders the answer with numbers as digits or words.

function contentItems(rng) {
  const items = [];
  const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
  const PLACES = ['bank', 'library', 'shop', 'museum', 'bakery', 'gym', 'pool', 'cafe', 'post office', 'market', 'pharmacy', 'zoo'];
  for (const p of PLACES) {
    for (const d of DAYS) {
      const h = 7 + rng.int(5);
      items.push({ kind: 'opens', key: `opens:${p}:${d}`, numeric: true,
        questions: [`When does the ${p} open on ${d}?`, `What time does the ${p} open on ${d}?`],
        core: (s) => `The ${p} opens at ${numIn(s)(h)} am.` });
    }
  }
  const THINGS = ['remote', 'charger', 'umbrella', 'ticket', 'lamp', 'wallet', 'broom', 'ladder', 'laptop', 'kettle'];
  const ROOMS = ['kitchen', 'hall', 'attic', 'garage', 'bedroom', 'office', 'basement', 'garden'];
  for (const n of NAMES) {
    for (const t of THINGS) {
      const room = rng.pick(ROOMS);
      items.push({ kind: 'where', key: `where:${n}:${t}`, numeric: false,
        questions: [`Where is ${n}'s ${t}?`, `Do you know where ${n}'s ${t} is?`],
        core: () => `${n}'s ${t} is in the ${room}.` });
    }
  }
  const EVENTS = ['meeting', 'film', 'match', 'concert', 'class', 'party', 'game', 'lecture'];
  for (const e of EVENTS) {
    for (const d of DAYS) {
      const h = 1 + rng.int(9);
      items.push({ kind: 'starts', key: `starts:${e}:${d}`, numeric: true,
        questions: [`When does the ${e} start on ${d}?`, `What time is the ${e} on ${d}?`],
        core: (s) => `The ${e} starts at ${numIn(s)(h)} pm.` });
    }
  }
  const DESTS = ['park', 'beach', 'station', 'school', 'river', 'farm', 'castle', 'harbour'];
  const MINUTES = [5, 10, 15, 20, 25, 30, 40, 45];
  for (const mode of ['walk', 'drive', 'ride']) {
    for (const dest of DESTS) {
      const m = rng.pick(MINUTES);
      items.push({ kind: 'trip', key: `trip:${mode}:${dest}`, numeric: true,
        questions: [`How long is the ${mode} to the ${dest}?`, `How long does the ${mode} to the ${dest} take?`],
        core: (s) => `The ${mode} takes ${numIn(s)(m)} minutes.` });
    }
  }
  const COUNTS = [
    ['How many days are in a week?', 'A week has # days.', 7], ['How many months are in a year?', 'A year has # months.', 12],
    ['How many legs does a spider have?', 'A spider has # legs.', 8], ['How many legs does a dog have?', 'A dog has # legs.', 4],
    ['How many legs does a bird have?', 'A bird has # legs.', 2], ['How many sides does a triangle have?', 'A triangle has # sides.', 3],
    ['How many sides does a square have?', 'A square has # sides.', 4], ['How many sides does a hexagon have?', 'A hexagon has # sides.', 6],
    ['How many sides does a pentagon have?', 'A pentagon has # sides.', 5], ['How many wheels does a bike have?', 'A bike has # wheels.', 2],
    ['How many wheels does a car have?', 'A car has # wheels.', 4], ['How many wheels does a tricycle have?', 'A tricycle has # wheels.', 3],
    ['How many arms does an octopus have?', 'An octopus has # arms.', 8], ['How many legs does an insect have?', 'An insect has # legs.', 6],
    ['How many seasons are in a year?', 'A year has # seasons.', 4], ['How many hours are in a day?', 'A day has # hours.', 24],
    ['How many minutes are in an hour?', 'An hour has # minutes.', 60], ['How many seconds are in a minute?', 'A minute has # seconds.', 60],
    ['How many eggs are in a dozen?', 'A dozen has # eggs.', 12], ['How many faces does a cube have?', 'A cube has # faces.', 6],
    ['How many strings does a violin have?', 'A violin has # strings.', 4], ['How many days are in a weekend?', 'A weekend has # days.', 2],
    ['How many colours are in a rainbow?', 'A rainbow has # colours.', 7], ['How many letters are in the word cat?', 'The word cat has # letters.', 3],
  ];
  for (const [q, a, n] of COUNTS) {
    items.push({ kind: 'count', key: `count:${q}`, numeric: true, questions: [q], core: (s) => String(a).replace('#', numIn(s)(n)) });
  }
  return items;
}

const FORMAT_PREFIX = {
  uppercase: ['In uppercase:', 'Answer in capitals:'],
  lowercase: ['In lowercase:', 'Answer in small letters:'],
  digits: ['Use digits:', 'Write numbers as digits:'],
  words: ['Use words for numbers:', 'Spell out numbers:'],
};

// ---------------------------------------------------------------------------------------------
// Held-out split: items are partitioned once, so no prompt of prefs-eval.jsonl or of a probe occurs in
// prefs.jsonl. The unit held out differs by subset (see data/README.md): a whole problem (arithmetic),
// a fact under one phrasing (facts: the fact itself is in training under other phrasings, since an
// unseen fact cannot be learned), a whole content item (politeness and format).

function partition(rng, list) {
  const shuffled = rng.shuffle(list);
  const nEval = Math.round(list.length * EVAL_ITEM_SHARE);
  return { eval: shuffled.slice(0, nEval), train: shuffled.slice(nEval) };
}

function buildPools() {
  const rng = makeRng(SEEDS.split);
  /** @typedef {{ arithmetic?: any[], facts: Record<string, any[]>, content: any[] }} Pool */
  /** @type {{ train: Pool, eval: Pool }} */
  const pools = { train: { facts: {}, content: [] }, eval: { facts: {}, content: [] } };
  const arith = partition(rng, arithmeticProblems());
  pools.train.arithmetic = arith.train;
  pools.eval.arithmetic = arith.eval;
  for (const [category, spec] of Object.entries(FACTS)) {
    const combos = spec.table.flatMap((fact) => spec.prompts.map((prompt) => ({ category, fact, prompt })));
    const parts = partition(rng, combos);
    pools.train.facts[category] = parts.train;
    pools.eval.facts[category] = parts.eval;
  }
  const items = contentItems(rng);
  for (const kind of [...new Set(items.map((i) => i.kind))]) {
    const parts = partition(rng, items.filter((i) => i.kind === kind));
    pools.train.content.push(...parts.train);
    pools.eval.content.push(...parts.eval);
  }
  return pools;
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
  for (const f of fs.readdirSync(path.join(args.out, 'probes'))) {
    if (f.endsWith('.jsonl') && !(`probes/${f}` in outputs)) fs.unlinkSync(path.join(args.out, 'probes', f));
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
