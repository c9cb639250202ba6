/** io/: safetensors, llama2.c import, Hugging Face folders, checkpoint folders, model cards, TensorBoard event files, --model sources and model loading. Re-exports only. */
export { IoError } from '../util/errors';
export {
  readSafetensors, readSafetensorsHeader, writeSafetensors, serializeSafetensors, toTfTensors, rawToTensor,
  decodeF16, decodeBF16, SafetensorsError, DTYPE_SIZES, MAX_HEADER_BYTES,
} from './safetensors';
export type { SafetensorsDtype, RawTensor, TensorData, HeaderEntry, SafetensorsHeader, SafetensorsContents, ReadOptions, WriteOptions } from './safetensors';
export { readLlama2c, readLlama2cHeader, loadLlama2c, llama2cConfig, permuteRotaryRows, Llama2cError } from './llama2c';
export type { Llama2cHeader } from './llama2c';
export { loadHfFolder, planHfFolder, HfModelError, SINGLE_FILE, INDEX_FILE } from './hf';
export type { LoadedModel, HfFolderPlan, ModelHead } from './hf';
export {
  saveCheckpoint, loadCheckpoint, loadCheckpointMeta, loadTrainerState, pruneCheckpoints, recoverInterruptedSave,
  checkpointConfigJson, CheckpointError, CHECKPOINT_FORMAT, META_FILE, CONFIG_FILE, WEIGHTS_FILE, TRAINER_STATE_FILE, OPTIMIZER_FILE,
  FINAL_DIR, METRICS_FILE, SUMMARY_FILE, RUN_INPUTS_FILE,
} from './checkpoint';
export type { CheckpointKind, CheckpointMeta, TrainerStateFiles, SaveCheckpointOptions } from './checkpoint';
export { renderModelCard, MODEL_CARD_FILE } from './model-card';
export { EventWriter, TensorBoardError, trainerTag, crc32c, maskedCrc32c, tfRecord } from './tensorboard';
export type { EventWriterOptions } from './tensorboard';
export type { ModelCardInfo, ModelCardContext } from './model-card';
export { resolveModelSource, loadModelWeights, ModelSourceError } from './source';
export type { ModelSource } from './source';
export { loadPolicy, loadRewardModel, resolveModelPath, presetConfig } from './load-model';
export type { LoadedPolicy, LoadModelOptions } from './load-model';
export { lockOutputFolder, withOutputLock, assertNoLiveLocksInside, clearOutputFolder, lockFileFor, INSIDE_LOCK, FolderLockError } from './lock';
export type { FolderLock, LockHolder, LockOptions } from './lock';
export { readJsonFile, readJsonObject, isPlainFileName, describeValue, jsonDepth, JsonFileError, MAX_JSON_BYTES, MAX_JSON_DEPTH } from '../util/json';
