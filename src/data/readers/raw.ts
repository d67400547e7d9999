// What every reader hands to the dataset builder: values still in the file's own units, labels
// as stored, so class selection and scaling live in one place instead of once per format.
export interface RawExamples {
  /** N * prod(exampleShape) values, row-major (images HWC). */
  values: Uint8Array | Float32Array;
  exampleShape: number[];
  /** Label of each example as stored in the data. */
  labels: (string | number)[];
  /** File or folder the labels came from, for error messages. */
  source: string;
}

/** Lets a reader skip decoding examples that selection would throw away anyway. */
export interface ReadFilter {
  keepLabel?: (label: string) => boolean;
  limitPerClass?: number;
}
