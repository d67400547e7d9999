import { DataError } from '../errors.ts';
import { parseCsv, type CsvRecord } from './csv-parse.ts';
import { readText } from './files.ts';
import type { RawExamples } from './raw.ts';

export interface CsvOptions {
  labelColumn: string;
  /** All columns but the label when omitted. */
  featureColumns?: string[];
}

// Plain decimal notation only: Number() would also accept "", "0x1f", "Infinity" and
// whitespace, each of which is far more likely a data bug than an intended feature value.
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;

function columnList(header: string[]): string {
  return header.map((h) => JSON.stringify(h)).join(', ');
}

export function columnIndex(header: string[], name: string, role: string, file: string): number {
  const i = header.indexOf(name);
  if (i < 0) throw new DataError(`${role} column "${name}" not found; available columns: ${columnList(header)}`, file);
  return i;
}

function featureIndices(header: string[], opts: CsvOptions, labelIndex: number, file: string): number[] {
  if (opts.featureColumns !== undefined) {
    return opts.featureColumns.map((name) => {
      if (name === opts.labelColumn) throw new DataError(`column "${name}" is the label column and cannot also be a feature`, file);
      return columnIndex(header, name, 'feature', file);
    });
  }
  const indices = header.map((_, i) => i).filter((i) => i !== labelIndex);
  // An unnamed column is typically a pandas index; training on row numbers would be a silent bug.
  const unnamed = indices.find((i) => header[i] === '');
  if (unnamed !== undefined) {
    throw new DataError(`column ${unnamed + 1} has no header name; name it or list feature_columns explicitly`, file);
  }
  if (indices.length === 0) throw new DataError(`no feature columns besides the label column "${opts.labelColumn}"`, file);
  return indices;
}

/** A header row and data rows of the header's width, from a CSV (or TSV) file's text. */
export function parseTable(text: string, file: string, delimiter: ',' | '\t' = ','): { header: string[]; rows: CsvRecord[] } {
  const records = parseCsv(text, file, delimiter);
  if (records.length === 0) throw new DataError('empty file: a header row is required', file);
  const header = records[0]!.fields.map((h) => h.trim());
  const duplicate = header.find((h, i) => h !== '' && header.indexOf(h) !== i);
  if (duplicate !== undefined) throw new DataError(`duplicate column name "${duplicate}" in the header`, file, records[0]!.line);
  const rows = records.slice(1);
  if (rows.length === 0) throw new DataError('no data rows after the header', file);
  for (const { fields, line } of rows) {
    if (fields.length !== header.length) {
      throw new DataError(`expected ${header.length} fields as in the header, found ${fields.length}`, file, line);
    }
  }
  return { header, rows };
}

/** Integer labels become numbers (so classes sort 2 before 10), any other label set stays strings. */
export function typedLabels(labels: string[]): (string | number)[] {
  return labels.every((l) => INTEGER.test(l)) ? labels.map(Number) : labels;
}

export async function readCsv(file: string, opts: CsvOptions): Promise<RawExamples> {
  const { header, rows } = parseTable(await readText(file), file);
  const labelIndex = columnIndex(header, opts.labelColumn, 'label', file);
  const features = featureIndices(header, opts, labelIndex, file);

  const values = new Float32Array(rows.length * features.length);
  const labels: string[] = [];
  rows.forEach(({ fields, line }, r) => {
    features.forEach((col, f) => {
      const cell = fields[col]!.trim();
      if (!DECIMAL.test(cell)) {
        throw new DataError(`column "${header[col]}": expected a number, found ${JSON.stringify(fields[col])}`, file, line);
      }
      const value = Math.fround(Number(cell));
      if (!Number.isFinite(value)) {
        throw new DataError(`column "${header[col]}": ${cell} is outside the float32 range`, file, line);
      }
      values[r * features.length + f] = value;
    });
    const label = fields[labelIndex]!.trim();
    if (label === '') throw new DataError(`column "${opts.labelColumn}": empty label`, file, line);
    labels.push(label);
  });

  return {
    values,
    exampleShape: [features.length],
    labels: typedLabels(labels),
    source: file,
  };
}
