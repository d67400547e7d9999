/** The files a completed generation variant leaves in its run store folder, besides the common ones. */

/** The merged model, as a Hugging Face folder. */
export const MERGED_FOLDER = 'merged';
/** The LoRA adapter alone, in PEFT's layout (when the spec has `lora`). */
export const ADAPTER_FOLDER = 'adapter';
/** The eval prompts and their greedy completions, in MLflow's table-artifact JSON. */
export const COMPLETIONS_FILE = 'completions.json';
