#!/usr/bin/env node
/**
 * Generates the long-prompt preference data of the end-to-end benchmark (bench/e2e.ts, bench/README.md):
 * HH-RLHF-like multi-turn transcripts as explicit-prompt records
 *   {id, prompt, chosen, rejected, kind, topic, turns}
 * where prompt = "\n\nHuman: ...\n\nAssistant: ...\n\nHuman: ...\n\nAssistant:" (the earlier turns, then the last
 * question) and chosen / rejected are the two short answers to that question, each starting with a space as in
 * HH-RLHF ("Assistant: Sure. ..."). Both toolkits read the same files: TRL's trainers take {prompt, chosen,
 * rejected} as its standard preference format, this toolkit as its explicit-prompt format.
 *
 * What decides the preference (known by construction, chosen is always the better answer):
 *   kind "tone"   (half the pairs): both answers carry the same kind of content on the asked topic; chosen is
 *                 polite, rejected rude (an opener and sometimes a closer from fixed lists);
 *   kind "topic"  (the other half): both polite; chosen answers the last question's topic, rejected another
 *                 topic (only the end of the long prompt tells which is right).
 * The number of sentences in each answer is drawn independently (1 or 2), so length carries no signal.
 *
 * Length distribution (by construction, in characters; ASCII only, so bytes = characters):
 *   prompt: a target length is drawn per record, uniform in [340, 816] characters for 70% of records and in
 *           (816, 1700] for 30%; whole turns (a question, then a 2-5 sentence answer) are added while they fit it
 *           (at least one), then the last question. Default files (2,400 + 400 pairs, seed 7): 2-8 turns, prompt
 *           characters min 225, p10 320, median 617, p90 1,350, max 1,719.
 *   completions: an opener, 1 or 2 sentences of 40-90 characters, a closer half the time: 59-200 characters
 *           (median 122).
 *   In stories260K's 512-piece tokenizer (1.67 characters per token on this text; measured with its
 *   tokenizer.json, BOS included): train prompts of 136 to 1,048 tokens (p10 195, median 367, p90 792), eval
 *   prompts of 145 to 1,042 (median 361), completions of 31 to 121 (median 72); 64% of pairs (train and eval)
 *   have both sides within 512 tokens (the e2e benchmark's max_length).
 * The script prints the percentiles of both (characters) and writes them to stats.json beside the files.
 *
 * Deterministic: a fixed-seed PRNG (scripts/data-tables.js makeRng), no clock, no Math.random; the same
 * arguments write the same bytes. Train and eval records come from different seeds (and get distinct ids).
 * Files are written into a cache folder (default .cache/bench/long-prefs, git-ignored) and reused when their
 * settings (and this script's source) match: nothing large is committed.
 *
 * Usage:
 *   node scripts/generate-long-prefs.js [--out DIR] [--train 2400] [--eval 400] [--seed 7] [--force]
 * Writes DIR/train.jsonl, DIR/eval.jsonl and DIR/stats.json; prints the stats JSON on stdout.
 * Does NOT: tokenise, download or read any outside data, or touch anything outside --out.
 */
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { makeRng } = require('./data-tables');

const FORMAT = 'rlhf-long-prefs/v1';
const DEFAULTS = { train: 2400, eval: 400, seed: 7 };
/** Prompt target lengths (characters): SHORT_SHARE of records in SHORT, the rest in LONG. */
const SHORT = [340, 816];
const LONG = [816, 1700];
const SHORT_SHARE = 0.7;

// ---------------------------------------------------------------------------------------------
// Topics: questions a person asks, and sentences an assistant answers with (40-90 characters each).

/** @type {{name: string, questions: string[], answers: string[]}[]} */
const TOPICS = [
  {
    name: 'gardening',
    questions: [
      'What vegetables grow well in a small backyard garden?', 'How often should I water tomato plants in summer?',
      'Why are the leaves on my basil turning yellow?', 'When is the best time to plant garlic?',
      'How do I keep slugs away from my lettuce?', 'Can I grow herbs on a shady balcony?',
    ],
    answers: [
      'Lettuce, radishes and beans grow quickly and forgive small mistakes.', 'Water deeply in the morning so the roots get moisture before the heat.',
      'Yellow leaves often mean too much water or soil that drains poorly.', 'Plant garlic cloves in autumn, a few weeks before the ground freezes.',
      'A ring of crushed eggshells around the plants keeps many slugs away.', 'Mint, parsley and chives tolerate shade better than most herbs.',
      'Mulch keeps the soil moist and stops weeds from taking over the bed.', 'Rotate your crops each year so pests do not build up in the soil.',
      'Compost adds nutrients and helps sandy soil hold on to water.', 'Most fruiting plants need at least six hours of direct sun a day.',
    ],
  },
  {
    name: 'cooking',
    questions: [
      'How do I make rice that is not sticky?', 'What can I cook with leftover chicken?', 'Why does my bread come out dense?',
      'How long should I rest a steak after cooking it?', 'What is a simple sauce for pasta?', 'How do I stop onions from burning?',
    ],
    answers: [
      'Rinse the rice until the water runs clear, then let it steam covered.', 'Leftover chicken works well in soup, fried rice or a quick salad.',
      'Dense bread usually needs a longer rise or a warmer place to proof.', 'Rest a steak for about five minutes so the juices settle inside.',
      'Garlic, olive oil and a little chili make a fast sauce for pasta.', 'Cook onions on medium heat and stir them often with a little oil.',
      'Salt the water well before you add pasta so it has some flavor.', 'A sharp knife is safer than a dull one because it slips less.',
      'Taste as you cook and adjust the salt and acid at the end.', 'Let the pan heat up before adding oil so food does not stick.',
    ],
  },
  {
    name: 'travel',
    questions: [
      'What should I pack for a week in a rainy city?', 'How early should I arrive for an international flight?',
      'Is it better to book trains in advance?', 'How can I avoid jet lag on a long trip?',
      'What is a good way to carry money abroad?', 'How do I find quiet places to stay in a busy town?',
    ],
    answers: [
      'Pack a light rain jacket, quick drying clothes and shoes that grip.', 'Arrive about three hours early for most international flights.',
      'Booking trains early is usually cheaper and gets you a seat.', 'Shift your sleep an hour a day for a few days before you leave.',
      'Carry a card with low foreign fees and a little local cash.', 'Look for rooms a few streets away from the main square.',
      'Keep a copy of your passport apart from the passport itself.', 'Walking tours are a cheap way to learn the layout of a city.',
      'Check the local holidays, since shops and museums may close.', 'A small daypack is easier to carry than a large shoulder bag.',
    ],
  },
  {
    name: 'fitness',
    questions: [
      'How can I start running if I am out of shape?', 'How many days a week should I lift weights?',
      'What should I eat before a morning workout?', 'How do I stop my knees from hurting on stairs?',
      'Is stretching before exercise useful?', 'How do I stay motivated to exercise in winter?',
    ],
    answers: [
      'Start with short runs mixed with walking and add a minute each week.', 'Two or three days of lifting a week is enough for most beginners.',
      'A banana or a slice of toast gives energy without feeling heavy.', 'Strong thigh and hip muscles take pressure off the knees.',
      'A few minutes of easy movement warms the body better than long holds.', 'Plan workouts with a friend so you are less likely to skip them.',
      'Sleep and rest days matter as much as the training itself.', 'Drink water through the day rather than all at once.',
      'Track your progress so you can see the small gains add up.', 'Good shoes that fit well prevent many common running injuries.',
    ],
  },
  {
    name: 'budgeting',
    questions: [
      'How do I make a monthly budget that I can keep?', 'What is a good way to save for an emergency?',
      'Should I pay off debt or save first?', 'How can I spend less on groceries?',
      'How do I stop impulse buying online?', 'What bills should I pay first when money is tight?',
    ],
    answers: [
      'List your fixed costs first, then give every remaining amount a job.', 'Set up an automatic transfer to savings on the day you get paid.',
      'Pay the debt with the highest interest first once you have a small cushion.', 'Plan meals for the week and shop with a list to cut waste.',
      'Wait a day before buying anything that was not on your list.', 'Cover housing, utilities and food before any other bills.',
      'Review your subscriptions and cancel the ones you rarely use.', 'Keep receipts for a month to see where the money really goes.',
      'A small emergency fund stops surprise costs from becoming debt.', 'Round up your savings goals so progress feels easier to track.',
    ],
  },
  {
    name: 'programming',
    questions: [
      'How do I start learning to program?', 'Why does my loop never stop running?', 'What is a good way to name variables?',
      'How do I find the cause of a bug?', 'Should I write tests for small scripts?', 'How do I read an error message?',
    ],
    answers: [
      'Pick one language and build small programs that solve your own problems.', 'A loop that never stops usually has a condition that never changes.',
      'Name variables after what they hold, not after their type.', 'Reproduce the bug with the smallest input you can find first.',
      'A few tests save time even for short scripts you run often.', 'Read the last line of the error first, then the line it points to.',
      'Version control lets you undo a change that broke something.', 'Print the values you expect and compare them with what you get.',
      'Small functions are easier to test and easier to read later.', 'Search for the exact error text, since others have seen it before.',
    ],
  },
  {
    name: 'home repair',
    questions: [
      'How do I fix a dripping kitchen tap?', 'What is the best way to patch a small hole in a wall?',
      'Why does my door stick in summer?', 'How do I unclog a bathroom sink?',
      'How can I stop a draft under the front door?', 'What tools should every home have?',
    ],
    answers: [
      'A dripping tap usually needs a new washer or cartridge inside.', 'Fill a small hole with filler, let it dry, then sand and paint.',
      'Wood swells in humid weather, so a sticking door may need planing.', 'Remove the stopper and clear the hair trapped just below it.',
      'A rubber sweep along the bottom of the door blocks most drafts.', 'A hammer, screwdrivers, pliers and a tape measure cover most jobs.',
      'Turn off the water supply before you take any tap apart.', 'Test a wall for pipes and cables before you drill into it.',
      'Keep spare fuses and bulbs where you can find them in the dark.', 'A level and a pencil make shelves look straight the first time.',
    ],
  },
  {
    name: 'pets',
    questions: [
      'How much exercise does a young dog need?', 'Why does my cat scratch the furniture?', 'What should I feed a pet rabbit?',
      'How do I teach my dog to walk on a loose lead?', 'How often should I take my cat to the vet?', 'How can I help a nervous pet during storms?',
    ],
    answers: [
      'Most young dogs need at least an hour of walks and play each day.', 'Cats scratch to mark territory, so give them a sturdy scratching post.',
      'Rabbits need mostly hay, with fresh greens and a few pellets.', 'Stop walking whenever the lead goes tight and reward a loose lead.',
      'A healthy adult cat should see the vet about once a year.', 'A quiet room with familiar bedding helps a pet feel safe in storms.',
      'Fresh water should always be available, even in cold weather.', 'Short training sessions work better than one long session.',
      'Regular brushing keeps the coat healthy and reduces shedding.', 'Introduce new food slowly to avoid upsetting the stomach.',
    ],
  },
];

const POLITE_OPEN = ['Sure.', 'Of course.', 'Happy to help.', 'Good question.', 'Certainly.'];
const POLITE_CLOSE = ['I hope this helps.', 'Let me know if you have more questions.', 'Good luck with it.'];
const RUDE_OPEN = ['Ugh, fine.', 'Seriously?', 'Whatever.', 'That is a dumb question.'];
const RUDE_CLOSE = ['Stop bothering me.', 'Figure the rest out yourself.', 'Do not ask me again.'];

// ---------------------------------------------------------------------------------------------
// Records.

/**
 * `n` distinct items of `arr`, in random order.
 * @template T
 * @param {ReturnType<typeof makeRng>} rng
 * @param {T[]} arr
 * @param {number} n
 * @returns {T[]}
 */
function sample(rng, arr, n) {
  return rng.shuffle(arr).slice(0, n);
}

/**
 * An answer: opener + 1-2 topic sentences (+ a closer half the time).
 * @param {ReturnType<typeof makeRng>} rng
 * @param {string[]} sentences
 * @param {string[]} open
 * @param {string[]} close
 */
function answer(rng, sentences, open, close) {
  const parts = [rng.pick(open), ...sample(rng, sentences, 1 + rng.int(2))];
  if (rng.int(2) === 1) parts.push(rng.pick(close));
  return ' ' + parts.join(' ');
}

/**
 * One record; `target` is the prompt's target length in characters.
 * @param {ReturnType<typeof makeRng>} rng
 * @param {string} id
 */
function record(rng, id) {
  const target = rng.next() < SHORT_SHARE ? SHORT[0] + rng.next() * (SHORT[1] - SHORT[0]) : LONG[0] + rng.next() * (LONG[1] - LONG[0]);
  let prompt = '';
  let turns = 0;
  let topic = rng.pick(TOPICS);
  // Earlier turns: a question, then a 2-5 sentence answer; the conversation changes topic now and then. At least
  // one turn; then turns are added while they fit the target (the last question comes on top of it).
  for (;;) {
    const next = rng.int(3) === 0 ? rng.pick(TOPICS) : topic;
    const said = sample(rng, next.answers, 2 + rng.int(4)).join(' ');
    const turn = `\n\nHuman: ${rng.pick(next.questions)}\n\nAssistant: ${said}`;
    if (turns > 0 && prompt.length + turn.length > target) break;
    prompt += turn;
    topic = next;
    turns++;
  }
  // The last question, on the current topic half the time, else on a new one.
  if (rng.int(2) === 0) topic = rng.pick(TOPICS);
  prompt += `\n\nHuman: ${rng.pick(topic.questions)}\n\nAssistant:`;
  const kind = rng.int(2) === 0 ? 'tone' : 'topic';
  const chosen = answer(rng, topic.answers, POLITE_OPEN, POLITE_CLOSE);
  let rejected;
  if (kind === 'tone') rejected = answer(rng, topic.answers, RUDE_OPEN, RUDE_CLOSE);
  else {
    const other = rng.pick(TOPICS.filter((t) => t !== topic));
    rejected = answer(rng, other.answers, POLITE_OPEN, POLITE_CLOSE);
  }
  return { id, prompt, chosen, rejected, kind, topic: topic.name, turns: turns + 1 };
}

/**
 * The train and eval records for the given settings.
 * @param {{train: number, eval: number, seed: number}} o
 */
function generate(o) {
  const make = (/** @type {string} */ split, /** @type {number} */ n, /** @type {number} */ seed) => {
    const rng = makeRng(seed);
    return Array.from({ length: n }, (_, i) => record(rng, `${split}-${String(i).padStart(5, '0')}`));
  };
  return { train: make('train', o.train, o.seed), eval: make('eval', o.eval, o.seed + 1000003) };
}

// ---------------------------------------------------------------------------------------------
// Statistics and files.

/**
 * Percentiles of a list. e.g. [1, 2, 3, 4] -> {min: 1, p10: 1, p50: 3, p90: 4, max: 4, mean: 2.5}
 * @param {number[]} xs
 */
function percentiles(xs) {
  const s = xs.slice().sort((a, b) => a - b);
  const at = (/** @type {number} */ q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { min: s[0], p10: at(0.1), p50: at(0.5), p90: at(0.9), max: s[s.length - 1], mean: +(s.reduce((a, b) => a + b, 0) / s.length).toFixed(1) };
}

/** @param {ReturnType<typeof record>[]} recs */
function statsOf(recs) {
  return {
    records: recs.length,
    kinds: { tone: recs.filter((r) => r.kind === 'tone').length, topic: recs.filter((r) => r.kind === 'topic').length },
    prompt_chars: percentiles(recs.map((r) => r.prompt.length)),
    completion_chars: percentiles(recs.flatMap((r) => [r.chosen.length, r.rejected.length])),
    turns: percentiles(recs.map((r) => r.turns)),
    chosen_longer: +(recs.filter((r) => r.chosen.length > r.rejected.length).length / recs.length).toFixed(3),
  };
}

/** @param {ReturnType<typeof record>[]} recs */
const jsonl = (recs) => recs.map((r) => JSON.stringify(r)).join('\n') + '\n';
const sha256 = (/** @type {string} */ s) => crypto.createHash('sha256').update(s).digest('hex');

/**
 * Writes (or reuses, when stats.json records the same settings and the files' hashes match) the data under
 * `dir`; returns the stats object (also written as stats.json).
 * @param {string} dir
 * @param {{train?: number, eval?: number, seed?: number, force?: boolean}} [opts]
 */
function writeLongPrefs(dir, opts = {}) {
  // The generator's own source is part of the settings: an edited generator never reuses old files.
  const settings = { train: opts.train ?? DEFAULTS.train, eval: opts.eval ?? DEFAULTS.eval, seed: opts.seed ?? DEFAULTS.seed, generator: sha256(fs.readFileSync(__filename, 'utf8')).slice(0, 16) };
  const files = { train: path.join(dir, 'train.jsonl'), eval: path.join(dir, 'eval.jsonl'), stats: path.join(dir, 'stats.json') };
  if (!opts.force && fs.existsSync(files.stats)) {
    try {
      const old = JSON.parse(fs.readFileSync(files.stats, 'utf8'));
      const same = old.format === FORMAT && JSON.stringify(old.settings) === JSON.stringify(settings);
      const intact = same && ['train', 'eval'].every((k) => fs.existsSync(files[k]) && sha256(fs.readFileSync(files[k], 'utf8')) === old.sha256[k]);
      if (intact) return { ...old, reused: true };
    } catch {
      // unreadable stats: write afresh
    }
  }
  const { train, eval: ev } = generate(settings);
  const text = { train: jsonl(train), eval: jsonl(ev) };
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(files.train, text.train);
  fs.writeFileSync(files.eval, text.eval);
  const stats = { format: FORMAT, settings, sha256: { train: sha256(text.train), eval: sha256(text.eval) }, train: statsOf(train), eval: statsOf(ev) };
  fs.writeFileSync(files.stats, JSON.stringify(stats, null, 2) + '\n');
  return { ...stats, reused: false };
}

module.exports = { generate, writeLongPrefs, percentiles, FORMAT, DEFAULTS, SHORT, LONG, SHORT_SHARE, TOPICS };

if (require.main === module) {
  const args = process.argv.slice(2);
  /** @param {string} flag */
  const value = (flag) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  /** @param {string} flag */
  const count = (flag) => {
    const v = value(flag);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) {
      process.stderr.write(`generate-long-prefs: ${flag} ${v}: expected an integer >= 1, e.g. ${flag} 2400\n`);
      process.exit(1);
    }
    return n;
  };
  const known = new Set(['--out', '--train', '--eval', '--seed', '--force']);
  const bad = args.filter((a, i) => a.startsWith('--') && !known.has(a) && !(i > 0 && known.has(args[i - 1])));
  if (bad.length) {
    process.stderr.write(`generate-long-prefs: unknown option ${bad[0]}; expected --out DIR, --train N, --eval N, --seed N, --force\n`);
    process.exit(1);
  }
  const out = value('--out') ?? path.resolve(__dirname, '..', '.cache', 'bench', 'long-prefs');
  const seed = value('--seed') === undefined ? undefined : Number(value('--seed'));
  if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0)) {
    process.stderr.write(`generate-long-prefs: --seed ${value('--seed')}: expected an integer >= 0\n`);
    process.exit(1);
  }
  const stats = writeLongPrefs(out, { train: count('--train'), eval: count('--eval'), seed, force: args.includes('--force') });
  process.stderr.write(`${stats.reused ? 'reused' : 'wrote'} ${path.join(out, 'train.jsonl')} (${stats.train.records} pairs) and eval.jsonl (${stats.eval.records} pairs)\n`);
  process.stdout.write(JSON.stringify(stats) + '\n');
}
