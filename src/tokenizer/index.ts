/** Tokenizers: the interface, the three implementations, the loader, the transformers export. Re-exports only. */
export type { Tokenizer } from './types';
export { ByteTokenizer, BYTE_TOKENIZER_FILE } from './byte';
export { Llama2cTokenizer, LLAMA2C_TOKENIZER_FILE } from './llama2c';
export type { Llama2cLoadOptions } from './llama2c';
export { HfTokenizer, HF_TOKENIZER_FILE, HF_TOKENIZER_CONFIG_FILE, HF_CHAT_TEMPLATE_FILE } from './hf';
export type { HfTokenizerFiles } from './hf';
export { withOwnPad } from './pad';
export { hfTokenizerExport, writeHfTokenizerFiles } from './hf-export';
export type { HfExport, HfExportOptions } from './hf-export';
export { loadTokenizer, tokenizerFingerprint, TOKENIZER_FILES, CHECKPOINT_META_FILE } from './load';
export type { LoadTokenizerOptions } from './load';
export { TokenizerError } from './errors';
