/** Paths and small helpers shared by the data tests. */
import * as path from 'path';
import * as fs from 'fs';

export const FIX = path.resolve(__dirname, '../fixtures/data');
export const BAD = path.join(FIX, 'bad');
export const fix = (name: string) => path.join(FIX, name);
export const bad = (name: string) => path.join(BAD, name);
export const POLITENESS = path.resolve(__dirname, '../../../shared/data/politeness-dpo.json');
export const havePoliteness = fs.existsSync(POLITENESS);
if (!havePoliteness) console.log(`skipping politeness-set tests: ${POLITENESS} is absent (it lives in ../shared)`);
