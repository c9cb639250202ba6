/**
 * The oracle (src/rewards/oracle.ts) on hand-written completions that are not in the data (sums in words,
 * facts phrased otherwise, instructions obeyed or not, empty, off-topic, padded, repeated), its errors,
 * its reward-source shape, and its agreement with the ground truth of every shipped pair.
 *
 * Answers of content items below come from the world (days in a week) or from a shipped record
 * ("Where is Fay's ladder?" -> the office, "What time is the game on Thursday?" -> 9 pm), not from the tables.
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  FORMAT_IGNORED_LEVEL,
  isOraclePrompt,
  LENGTH_BUDGET,
  OracleError,
  oraclePromptCount,
  oracleReward,
  oracleScore,
  REPETITION_FACTOR,
  TONE_LEVELS,
} from '../../src/rewards/oracle';
import { rewards } from '../../src';

const DATA = path.resolve(__dirname, '../../data');
const readJsonl = <T>(rel: string): T[] => fs.readFileSync(path.join(DATA, rel), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as T);
const score = (prompt: string, completion: string) => oracleScore(prompt, completion).score;

describe('arithmetic: the right number anywhere, as digits or words', () => {
  const q = 'What is 6 + 8?';

  test('right answers in several forms score 1', () => {
    for (const c of ['14', 'Fourteen.', 'six plus eight is fourteen', '6 + 8 = 14, so fourteen (14).', 'The sum of 6 and 8 is 14!',
      'I added them: 8 + 6 = 14.']) {
      expect({ c, ...oracleScore(q, c) }).toMatchObject({ c, score: 1, subset: 'arithmetic', rule: 'arithmetic:add' });
    }
    expect(score('Work out 9 - 2.', '9 take away 2 leaves seven.')).toBe(1);
    // The result equals an operand: the echoed "4 - 2" is the problem, the last 2 is the answer.
    expect(score('What is 4 - 2?', '4 - 2 = 2.')).toBe(1);
    expect(score('What is 4 - 2?', 'Two.')).toBe(1);
  });

  test('wrong numbers score 0; hedging between numbers pays 1/k', () => {
    expect(score(q, 'The answer is 13.')).toBe(0);
    expect(score(q, 'six plus eight is fifteen')).toBe(0);
    expect(oracleScore(q, '6 + 8 = 2.').detail).toBe('wrong: 2 (right: 14)');
    expect(score(q, 'It is 13 or 14.')).toBe(0.5);
    expect(score(q, '12, 13, 14 or 15.')).toBe(0.25);
  });

  test('echoing the problem without a result, empty and off-topic text score 0', () => {
    expect(oracleScore(q, '6 + 8').detail).toBe('no answer found (off-topic)');
    for (const c of ['', '   \n', 'I like turtles.', 'Hope this helps. Have a nice day.']) expect({ c, s: score(q, c) }).toEqual({ c, s: 0 });
    expect(oracleScore(q, '').detail).toBe('empty completion');
  });
});

describe('facts: the right entity or a synonym; other entities of the table are wrong', () => {
  test('phrased otherwise, synonyms and verb forms score 1', () => {
    expect(oracleScore('What colour is an elephant?', 'Elephants are gray.')).toMatchObject({ score: 1, rule: 'facts:colour' });
    expect(score('What sound does a cow make?', 'Cows go moo.')).toBe(1);
    expect(score('What sound does a dog make?', 'Woof! Dogs are barking.')).toBe(1);
    expect(score('What noise does a rooster make?', 'Cock-a-doodle-doo!')).toBe(1);
    // "crows" names the animal here, not the rooster's sound.
    expect(score('What sound does a crow make?', 'Crows caw.')).toBe(1);
    expect(score('What is the opposite of big?', 'Little.')).toBe(1);
    expect(score('What is more than one mouse called?', 'Mice!')).toBe(1);
    expect(score('What is the plural of sheep?', 'Still just sheep.')).toBe(1);
  });

  test('a wrong entity scores 0, right plus wrong pays 1/k', () => {
    expect(score('What colour is the sky?', 'The sky is green.')).toBe(0);
    expect(score('What is the plural of mouse?', 'The plural of mouse is mouses.')).toBe(0);
    // "of sheep" echoes the subject; only "sheeps" answers.
    expect(score('What is the plural of sheep?', 'The plural of sheep is sheeps.')).toBe(0);
    expect(score('What sound does a cow make?', 'It says moo, not woof.')).toBe(0.5);
    expect(oracleScore('What colour is the sky?', 'Blue or green or pink.').detail).toBe('right (blue) among 3 answers (also green, pink)');
  });

  test("the data's filler is not an answer: \"Have a nice day.\" does not answer the opposite of night", () => {
    expect(score('What is the opposite of night?', 'Have a nice day.')).toBe(0);
    expect(score('What is the opposite of early?', 'Late. Have a nice day.')).toBe(1);
  });

  test('empty and off-topic score 0', () => {
    for (const c of ['', 'I like turtles.', 'The answer is 14.']) expect(score('Name the colour of snow.', c)).toBe(0);
  });
});

describe('politeness: the content must be there; tone sets the level', () => {
  const q = 'How many days are in a week?';

  test('polite > neutral > mixed > rude > off-topic, content as digits or words', () => {
    expect(oracleScore(q, 'Sure, a week has seven days.')).toMatchObject({ score: TONE_LEVELS.polite, rule: 'politeness:count' });
    expect(score(q, 'Seven days. Thanks for asking!')).toBe(TONE_LEVELS.polite);
    expect(score(q, 'A week has 7 days.')).toBe(TONE_LEVELS.neutral);
    expect(score(q, 'Thank you for asking! 7. Go away.')).toBe(TONE_LEVELS.mixed);
    expect(score(q, 'Ugh. 7 days, look it up next time.')).toBe(TONE_LEVELS.rude);
    expect(TONE_LEVELS.polite > TONE_LEVELS.neutral && TONE_LEVELS.neutral > TONE_LEVELS.mixed && TONE_LEVELS.mixed > TONE_LEVELS.rude && TONE_LEVELS.rude > 0).toBe(true);
  });

  test('markers alone, or with the wrong content, score 0', () => {
    expect(oracleScore(q, 'Sure! Thank you for asking.').detail).toBe('no answer found (off-topic)');
    expect(score(q, 'Of course! A week has eight days. Thank you!')).toBe(0);
    expect(score(q, '')).toBe(0);
  });

  test('"sure" counts as polite only where a sentence starts: "I am not sure" is not a courtesy', () => {
    expect(score(q, 'I am not sure, but 7.')).toBe(TONE_LEVELS.neutral);
  });

  test('rooms and times: the fixed answer of the item, others are wrong', () => {
    expect(oracleScore("Where is Fay's ladder?", 'Certainly! It is in the office.')).toMatchObject({ score: 1, rule: 'politeness:where' });
    expect(score("Where is Fay's ladder?", 'Certainly! It is in the garage.')).toBe(0);
    expect(score("Where is Fay's ladder?", 'In the office or the garage.')).toBeCloseTo(0.5 * TONE_LEVELS.neutral, 12);
    expect(score('What time is the game on Thursday?', 'Of course: nine pm.')).toBe(1);
  });
});

describe('format: the content must be there; the instruction obeyed or not', () => {
  test('uppercase and lowercase judge every letter', () => {
    expect(oracleScore('In uppercase: How many days are in a week?', 'SEVEN DAYS.')).toMatchObject({ score: 1, rule: 'format:uppercase' });
    expect(score('In uppercase: How many days are in a week?', 'Seven days.')).toBe(FORMAT_IGNORED_LEVEL);
    expect(score('In uppercase: How many days are in a week?', 'SEVEN DAYS. Hope this helps.')).toBe(FORMAT_IGNORED_LEVEL);
    expect(score("Answer in small letters: Where is Fay's ladder?", "fay's ladder is in the office.")).toBe(1);
    expect(oracleScore("Answer in small letters: Where is Fay's ladder?", "Fay's ladder is in the office.").detail)
      .toBe('lowercase not obeyed (has capital letters); content right (office)');
  });

  test('digits and words judge every number', () => {
    expect(score('Use words for numbers: How many days are in a week?', 'Seven.')).toBe(1);
    expect(score('Use words for numbers: How many days are in a week?', 'Seven (7).')).toBe(FORMAT_IGNORED_LEVEL);
    expect(score('Spell out numbers: How many hours are in a day?', 'Twenty four.')).toBe(1);
    expect(score('Write numbers as digits: How many hours are in a day?', '24 hours.')).toBe(1);
    expect(score('Write numbers as digits: How many hours are in a day?', 'twenty-four hours')).toBe(FORMAT_IGNORED_LEVEL);
  });

  test('obeying without the content, empty and off-topic score 0', () => {
    for (const c of ['OK.', '', 'I LIKE TURTLES.', 'EIGHT DAYS.']) expect(score('In uppercase: How many days are in a week?', c)).toBe(0);
  });
});

describe('what a policy over-optimised against a proxy might write', () => {
  const q = 'What is 6 + 8?';

  test("padding with the data's filler neither raises nor lowers the score within the length budget", () => {
    expect(score(q, 'The answer is 14. Hope this helps. Have a nice day. Glad to share it.')).toBe(score(q, 'The answer is 14.'));
  });

  test('over-long text loses score in proportion to its length', () => {
    const long = 'The answer is 14. First I counted the apples on the table, then the pears in the bowl, then the plums by '
      + 'the window, and after that I checked the sum twice with my fingers before writing it down neatly for you.';
    expect(long.length).toBeGreaterThan(LENGTH_BUDGET);
    expect(score(q, long)).toBeCloseTo(LENGTH_BUDGET / long.length, 12);
  });

  test('repetition halves the score: a repeated sentence, or many words with few distinct', () => {
    expect(score(q, '14. 14. 14.')).toBe(REPETITION_FACTOR);
    expect(score('How many days are in a week?', 'Thank you! Seven. Thank you!')).toBe(REPETITION_FACTOR * TONE_LEVELS.polite);
    expect(oracleScore(q, 'fourteen fourteen fourteen fourteen fourteen fourteen fourteen fourteen').detail)
      .toContain('repetitive (8 words, 1 distinct)');
  });

  test('list markers are not answers: "1. It is 14." is right', () => {
    expect(score(q, '1. It is 14.')).toBe(1);
    expect(score('How long is the walk to the park?', '- The walk is short.')).toBe(0);
  });
});

describe('errors and shape', () => {
  test('an unknown prompt is an OracleError that names it (truncated) and the way out', () => {
    expect(() => oracleScore('What is the meaning of life?', '42')).toThrow(OracleError);
    expect(() => oracleScore('What is the meaning of life?', '42')).toThrow(/no rule for the prompt "What is the meaning of life\?".*use another reward/);
    const long = `Tell me a story about ${'a very long road '.repeat(10)}`;
    expect(() => oracleScore(long, 'x')).toThrow(`"${long.slice(0, 60)}..."`);
    // A sum outside the tables is not guessed at.
    expect(isOraclePrompt('What is 12 + 30?')).toBe(false);
    expect(isOraclePrompt('  What is   6 + 8? ')).toBe(true);
  });

  test('the reward source: {name, score(prompts, completions)} -> one score per pair, exported under rewards', async () => {
    expect(rewards.oracleReward).toBe(oracleReward);
    expect(oracleReward.name).toBe('oracle');
    const got = await oracleReward.score(['What is 6 + 8?', 'What is 6 + 8?', 'How many days are in a week?'], ['14', '13', 'Ugh. 7.']);
    expect(got).toEqual([1, 0, TONE_LEVELS.rude]);
    await expect(oracleReward.score(['What is 6 + 8?'], [])).rejects.toThrow('oracle: 1 prompts but 0 completions');
    await expect(oracleReward.score(['Hi?'], ['x'])).rejects.toThrow(OracleError);
  });
});

interface Pair { id: string; prompt: string; chosen: string; rejected: string; subset: string; ground_truth: string }
interface Probe { prompt: string; a: string; b: string }

describe('agreement with the shipped ground truth', () => {
  test('for every pair of data/prefs.jsonl and data/prefs-eval.jsonl the truly better response scores strictly higher', () => {
    const counts: string[] = [];
    for (const file of ['prefs.jsonl', 'prefs-eval.jsonl']) {
      const pairs = readJsonl<Pair>(file);
      expect(pairs.length).toBeGreaterThan(300);
      const misses = pairs.filter((p) => {
        const better = p.ground_truth === 'chosen' ? p.chosen : p.rejected;
        const worse = p.ground_truth === 'chosen' ? p.rejected : p.chosen;
        return !(score(p.prompt, better) > score(p.prompt, worse));
      }).map((p) => `${p.id}: ${JSON.stringify(oracleScore(p.prompt, p.chosen))} vs ${JSON.stringify(oracleScore(p.prompt, p.rejected))}`);
      expect(misses).toEqual([]);
      counts.push(`${file}: ${pairs.length - misses.length}/${pairs.length}`);
    }
    console.log(`oracle agreement with ground truth: ${counts.join(', ')}; ${oraclePromptCount()} prompts known`);
  });

  test('on the probes: correctness beats padding, and padding alone changes nothing', () => {
    const probes = (name: string) => readJsonl<Probe>(`probes/${name}.jsonl`);
    const cvl = probes('correctness-vs-length');
    expect(cvl.filter((p) => !(score(p.prompt, p.a) > score(p.prompt, p.b)))).toEqual([]);
    const verbosity = probes('verbosity');
    expect(verbosity.filter((p) => score(p.prompt, p.a) !== score(p.prompt, p.b))).toEqual([]);
    const polite = probes('politeness');
    expect(polite.filter((p) => !(score(p.prompt, p.a) > score(p.prompt, p.b)))).toEqual([]);
    expect(cvl.length + verbosity.length + polite.length).toBe(144);
  });
});
