/**
 * ggml tensor types tunespec reads, with their block layout (values per block, bytes per block),
 * and the names of the others so a refusal says what the file holds.
 */
export interface GgmlType {
  code: number;
  name: string;
  blockSize: number;
  blockBytes: number;
}

export const READABLE: GgmlType[] = [
  { code: 0, name: 'F32', blockSize: 1, blockBytes: 4 },
  { code: 1, name: 'F16', blockSize: 1, blockBytes: 2 },
  { code: 2, name: 'Q4_0', blockSize: 32, blockBytes: 18 },
  { code: 3, name: 'Q4_1', blockSize: 32, blockBytes: 20 },
  { code: 8, name: 'Q8_0', blockSize: 32, blockBytes: 34 },
  { code: 30, name: 'BF16', blockSize: 1, blockBytes: 2 },
];

/** ggml's other type names (ggml.h), for messages only. */
const OTHER_NAMES: Record<number, string> = {
  6: 'Q5_0', 7: 'Q5_1', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K', 12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS',
  18: 'IQ3_XXS', 19: 'IQ1_S', 20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M',
};

export const GGML_TYPES: Record<number, GgmlType> = Object.fromEntries(READABLE.map((t) => [t.code, t]));

export const typeName = (code: number): string => GGML_TYPES[code]?.name ?? OTHER_NAMES[code] ?? `type ${code}`;
