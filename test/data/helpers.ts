/** Paths and small helpers shared by the data tests. */
import * as path from 'path';
import { sharedFiles, sharedPath } from '../helpers/shared';

export const FIX = path.resolve(__dirname, '../fixtures/data');
export const BAD = path.join(FIX, 'bad');
export const fix = (name: string) => path.join(FIX, name);
export const bad = (name: string) => path.join(BAD, name);
export const POLITENESS = sharedPath('data/politeness-dpo.json');
/** The requirement (helpers/gates.ts) that the politeness set is there. */
export const politeness = sharedFiles('data/politeness-dpo.json');
