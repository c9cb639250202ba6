/** The data layer's public API (re-exports only). */
export * from './types';
export * from './errors';
export { readPreferences, loadPreferences, newReadStats } from './read';
export type { ReadOptions, ReadStats, ProblemCounts, FileStats } from './read';
export { detectFormat, normalizeRecord, instructionPrompt, splitImplicitStrings, FORMAT_NAMES, FORMAT_SHAPES } from './formats';
export type { FormatName } from './formats';
export { resolveSource, fileKind } from './sources';
export { renderPair, renderPrompt, renderDefaultChat, renderChatTemplate } from './render';
export { readPrompts, promptText } from './prompts';
export type { PromptRecord, PromptReadOptions } from './prompts';
export * from './collate';
export * from './batching';
export * from './split';
export { inspectData, formatInspectReport, convertData, toNormalJson, summarizeLengths, percentile } from './inspect';
export type { InspectOptions, InspectReport, LengthSummary } from './inspect';
export { mulberry32, mixSeed, shuffleInPlace, seededPermutation } from './rng';
