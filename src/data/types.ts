/** The one normal form every reader yields (README.md "Bring your own data"; the layouts: formats.ts). */
export interface ChatMessage {
  role: string;
  content: string;
}
export type Text = string | ChatMessage[];

export interface PreferenceRecord {
  prompt: Text;
  chosen: Text;
  rejected: Text;
  /** Optional per-pair margin for the Bradley-Terry loss (TRL's `margin` column). */
  margin?: number;
  /** Optional subset / category label (reports break results down by it). */
  subset?: string;
  /** Stable id: the record's own id field, else `file:line`. */
  id: string;
  /** Where it came from: `file:line` (JSONL line, JSON array index + 1, or Arrow/Parquet row + 1). */
  source: string;
  /** Pre-tokenised input (TRL's `prompt_input_ids`, `chosen_input_ids`, `rejected_input_ids`). */
  promptIds?: number[];
  chosenIds?: number[];
  rejectedIds?: number[];
}
