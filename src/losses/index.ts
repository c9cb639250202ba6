/** Loss functions: SFT, Bradley-Terry and the DPO family (re-exports only). */
export * from './errors';
export * from './metrics';
export * from './numerics';
export * from './reward';
export * from './dpo-config';
export * from './dpo';
export * from './sft';
export * from './grpo-config';
export * from './grpo';
