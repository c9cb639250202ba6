/** The data layer's public API (re-exports only). */
export * from './types';
export * from './errors';
export { readPreferences, loadPreferences, newReadStats } from './read';
export type { ReadOptions, ReadStats, ProblemCounts, FileStats } from './read';
export { detectFormat, normalizeRecord, instructionPrompt, splitImplicitStrings, forcedFormat, FORMAT_NAMES, FORMAT_ALIASES, FORMAT_CHOICES, FORMAT_SHAPES } from './formats';
export type { FormatName, FormatChoice } from './formats';
export { resolveSource, fileKind } from './sources';
export { renderPair, renderDefaultChat, renderChatTemplate } from './render';
export * from './collate';
export * from './batching';
export * from './split';
export { inspectData, formatInspectReport, convertData, toNormalJson, summarizeLengths, percentile } from './inspect';
export type { InspectOptions, InspectReport, LengthSummary } from './inspect';
export { mulberry32, mixSeed, shuffleInPlace, seededPermutation } from './rng';
export { ProbeTemplateSchema, PROBE_TEMPLATE_FORMAT, loadProbeTemplate, parseProbeTemplate, slotsIn } from './probe-template';
export type { ProbeTemplate } from './probe-template';
export { buildProbes, buildProbeFile, buildProbeTemplates, probeTemplateFiles, probeJsonl } from './probe-build';
export type { ProbeLine, BuiltProbe, ProbeFileResult } from './probe-build';
