/** Public API of src/rewards (re-exports only): one shape (types.ts), the sources, the spec parser and combine. */
export * from './types';
export * from './oracle';
export { rewardModelSource, type ModelRewardOptions } from './explicit';
export { implicitSource, type ImplicitRewardOptions, type ImplicitVariant } from './implicit';
export { fnSource, FN_TIMEOUT_MS, type FnRewardOptions } from './fn';
export { parseRewardSpec, parseRewardSpecs, registerRewardKind, acceptedSpecs, type RewardKind, type RewardSpecContext, type SpecOptions } from './spec';
export { combineRewards, meanStd, parseWeights, rewardStats } from './combine';
export * from './judge';
