/**
 * The tables the shipped data is made of, in one place: number words, arithmetic problems, the facts
 * tables, the politeness and rudeness markers, the filler, the content items (everyday questions with
 * one fixed answer each), the format instructions, and the held-out split of all of these.
 *
 * Two readers, so that they cannot drift apart:
 *   scripts/generate-data.js   draws the preference pairs and probes of data/ from these tables
 *   src/rewards/oracle.ts      judges free-form completions to the same prompts against the same tables
 *                              (types in data-tables.d.ts, written by hand beside this file)
 *
 * Plain Node CommonJS with no dependencies, so the generator runs on a fresh checkout without a build.
 * Changing a table or the order in which the split draws from its PRNG changes the shipped files: re-run
 * `node scripts/generate-data.js` and commit them together (`--check` says when they are out of date).
 *
 * Does NOT: draw pairs, pad responses, build probes or write files (scripts/generate-data.js does), or
 * judge anything (src/rewards/oracle.ts does). Fields marked "oracle" below are read only by the oracle;
 * they do not change what the generator draws.
 */
'use strict';

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

/** Seed of the held-out split, which also draws the content items' answers (opening hours, rooms, ...). */
const SPLIT_SEED = 20240611;
/** Share of items (problems, fact phrasings, content items) held out for prefs-eval.jsonl and the probes. */
const EVAL_ITEM_SHARE = 0.2;

// ---------------------------------------------------------------------------------------------
// Text helpers the templates use.

const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);
const article = (noun) => (/^[aeiou]/.test(noun) ? `an ${noun}` : `a ${noun}`);

const NAMES = ['Anna', 'Ben', 'Chen', 'Dara', 'Eli', 'Fay'];

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

/**
 * (oracle) Other ways to write a fact's answer that are just as right. The generator never writes them;
 * the oracle accepts them. Sound verbs also count in their bare and -ing forms ("barks", "bark",
 * "barking"), derived in the oracle, so only the words that are not forms of the table's verb are here.
 */
const FACT_SYNONYMS = {
  grey: ['gray'],
  barks: ['woofs', 'woof'],
  meows: ['miaows', 'miaow', 'mews'],
  bleats: ['baas', 'baa'],
  crows: ['cock-a-doodle-doo'],
  brays: ['hee-haw'],
  big: ['large'],
  small: ['little'],
  fast: ['quick'],
  quiet: ['silent'],
};

// ---------------------------------------------------------------------------------------------
// Content items for the politeness and format subsets: everyday questions with one fixed answer each.
// core(style) renders the answer with numbers as digits or words; answer (oracle) is that fixed answer
// as a value: the number for numeric items, the room for "where" items.

const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const PLACES = ['bank', 'library', 'shop', 'museum', 'bakery', 'gym', 'pool', 'cafe', 'post office', 'market', 'pharmacy', 'zoo'];
const THINGS = ['remote', 'charger', 'umbrella', 'ticket', 'lamp', 'wallet', 'broom', 'ladder', 'laptop', 'kettle'];
const ROOMS = ['kitchen', 'hall', 'attic', 'garage', 'bedroom', 'office', 'basement', 'garden'];
const EVENTS = ['meeting', 'film', 'match', 'concert', 'class', 'party', 'game', 'lecture'];
const DESTS = ['park', 'beach', 'station', 'school', 'river', 'farm', 'castle', 'harbour'];
const MINUTES = [5, 10, 15, 20, 25, 30, 40, 45];
/** @type {[string, string, number][]} question, answer with # for the number, the number */
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

function contentItems(rng) {
  const items = [];
  for (const p of PLACES) {
    for (const d of DAYS) {
      const h = 7 + rng.int(5);
      items.push({ kind: 'opens', key: `opens:${p}:${d}`, numeric: true, answer: h,
        questions: [`When does the ${p} open on ${d}?`, `What time does the ${p} open on ${d}?`],
        core: (s) => `The ${p} opens at ${numIn(s)(h)} am.` });
    }
  }
  for (const n of NAMES) {
    for (const t of THINGS) {
      const room = rng.pick(ROOMS);
      items.push({ kind: 'where', key: `where:${n}:${t}`, numeric: false, answer: room,
        questions: [`Where is ${n}'s ${t}?`, `Do you know where ${n}'s ${t} is?`],
        core: () => `${n}'s ${t} is in the ${room}.` });
    }
  }
  for (const e of EVENTS) {
    for (const d of DAYS) {
      const h = 1 + rng.int(9);
      items.push({ kind: 'starts', key: `starts:${e}:${d}`, numeric: true, answer: h,
        questions: [`When does the ${e} start on ${d}?`, `What time is the ${e} on ${d}?`],
        core: (s) => `The ${e} starts at ${numIn(s)(h)} pm.` });
    }
  }
  for (const mode of ['walk', 'drive', 'ride']) {
    for (const dest of DESTS) {
      const m = rng.pick(MINUTES);
      items.push({ kind: 'trip', key: `trip:${mode}:${dest}`, numeric: true, answer: m,
        questions: [`How long is the ${mode} to the ${dest}?`, `How long does the ${mode} to the ${dest} take?`],
        core: (s) => `The ${mode} takes ${numIn(s)(m)} minutes.` });
    }
  }
  for (const [q, a, n] of COUNTS) {
    items.push({ kind: 'count', key: `count:${q}`, numeric: true, answer: n, questions: [q], core: (s) => a.replace('#', numIn(s)(n)) });
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

/** Every item, split once into train and eval pools. The content items' answers are drawn here too,
 *  from the same PRNG stream, so the oracle calls this to learn them. */
function buildPools() {
  const rng = makeRng(SPLIT_SEED);
  /** @type {{train: {facts: Record<string, any[]>, content: any[], arithmetic?: any[]}, eval: {facts: Record<string, any[]>, content: any[], arithmetic?: any[]}}} */
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

module.exports = {
  makeRng, SPLIT_SEED, EVAL_ITEM_SHARE, cap, article, NAMES, ONES, TENS, numberWords, numIn,
  FILLER, POLITE_PREFIX, POLITE_SUFFIX, RUDE_PREFIX, RUDE_SUFFIX,
  arithmeticProblems, ARITH_PROMPTS, ARITH_RESPONSES, wrongResults,
  COLOURS, SOUNDS, OPPOSITE_PAIRS, OPPOSITES, PLURALS, FACTS, FACT_SYNONYMS,
  ROOMS, contentItems, FORMAT_PREFIX, buildPools,
};
