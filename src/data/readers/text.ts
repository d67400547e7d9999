import { extname } from 'node:path';
import { DataError } from '../errors.ts';
import { columnIndex, parseTable, typedLabels } from './csv.ts';
import { readText } from './files.ts';

// Labelled texts from a CSV, TSV or JSONL file, chosen by extension: the three shapes text
// datasets come in (pandas, spreadsheets, Hugging Face `datasets.to_json`). Every problem names
// the file and the line an editor would show.

export interface TextColumns {
  text: string;
  /** Second text of each example, for sentence-pair tasks. */
  pair?: string;
  /** Left out to read unlabelled texts (predict): the rows then carry no labels. */
  label?: string;
}

export interface TextRows {
  texts: string[];
  /** Present exactly when a pair column was asked for. */
  pairs: string[] | undefined;
  /** As stored: integers when every label is one, else strings. */
  labels: (string | number)[];
  /** 1-based line each example starts on. */
  lines: number[];
  source: string;
}

const KINDS: Record<string, 'csv' | 'tsv' | 'jsonl'> = { '.csv': 'csv', '.tsv': 'tsv', '.tab': 'tsv', '.jsonl': 'jsonl', '.ndjson': 'jsonl' };

function requireText(value: string, column: string, file: string, line: number): string {
  if (value.trim() === '') throw new DataError(`column "${column}": empty text`, file, line);
  return value;
}

function requireLabel(value: string, column: string, file: string, line: number): string {
  const label = value.trim();
  if (label === '') throw new DataError(`column "${column}": empty label`, file, line);
  return label;
}

function fromTable(content: string, file: string, delimiter: ',' | '\t', columns: TextColumns): TextRows {
  const { header, rows } = parseTable(content, file, delimiter);
  const textAt = columnIndex(header, columns.text, 'text', file);
  const pairAt = columns.pair === undefined ? undefined : columnIndex(header, columns.pair, 'text pair', file);
  const labelAt = columns.label === undefined ? undefined : columnIndex(header, columns.label, 'label', file);
  const out: TextRows = { texts: [], pairs: pairAt === undefined ? undefined : [], labels: [], lines: [], source: file };
  const labels: string[] = [];
  for (const { fields, line } of rows) {
    out.texts.push(requireText(fields[textAt]!, columns.text, file, line));
    if (pairAt !== undefined) out.pairs!.push(requireText(fields[pairAt]!, columns.pair!, file, line));
    if (labelAt !== undefined) labels.push(requireLabel(fields[labelAt]!, columns.label!, file, line));
    out.lines.push(line);
  }
  out.labels = typedLabels(labels);
  return out;
}

function jsonField(record: Record<string, unknown>, column: string, role: string, file: string, line: number): unknown {
  if (!Object.hasOwn(record, column)) {
    throw new DataError(`no ${role} field "${column}"; this line has ${Object.keys(record).map((k) => JSON.stringify(k)).join(', ') || 'no fields'}`, file, line);
  }
  return record[column];
}

function jsonText(record: Record<string, unknown>, column: string, role: string, file: string, line: number): string {
  const value = jsonField(record, column, role, file, line);
  if (typeof value !== 'string') throw new DataError(`"${column}": expected a string, found ${JSON.stringify(value)}`, file, line);
  return requireText(value, column, file, line);
}

function jsonLabel(record: Record<string, unknown>, column: string, file: string, line: number): string {
  const value = jsonField(record, column, 'label', file, line);
  if (typeof value === 'string') return requireLabel(value, column, file, line);
  if ((typeof value === 'number' && Number.isInteger(value)) || typeof value === 'boolean') return String(value);
  throw new DataError(`"${column}": expected a string, an integer or a boolean label, found ${JSON.stringify(value)}`, file, line);
}

function fromJsonl(content: string, file: string, columns: TextColumns): TextRows {
  const out: TextRows = { texts: [], pairs: columns.pair === undefined ? undefined : [], labels: [], lines: [], source: file };
  const labels: string[] = [];
  const text = content.charCodeAt(0) === 0xfeff ? content.slice(1) : content;
  text.split(/\r\n|\n|\r/).forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    let record: unknown;
    try {
      record = JSON.parse(raw);
    } catch (err) {
      throw new DataError(`not a JSON object: ${(err as Error).message}`, file, line);
    }
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      throw new DataError(`expected a JSON object per line, found ${Array.isArray(record) ? 'an array' : JSON.stringify(record)}`, file, line);
    }
    const r = record as Record<string, unknown>;
    out.texts.push(jsonText(r, columns.text, 'text', file, line));
    if (columns.pair !== undefined) out.pairs!.push(jsonText(r, columns.pair, 'text pair', file, line));
    if (columns.label !== undefined) labels.push(jsonLabel(r, columns.label, file, line));
    out.lines.push(line);
  });
  if (out.texts.length === 0) throw new DataError('no examples: the file has no JSON lines', file);
  out.labels = typedLabels(labels);
  return out;
}

/** The format a text data file is read as, from its extension. */
export function textFileKind(file: string): 'csv' | 'tsv' | 'jsonl' {
  const ext = extname(file).toLowerCase();
  const kind = KINDS[ext];
  if (!kind) throw new DataError(`text data must be a .csv, .tsv or .jsonl file (by extension); got ${ext ? `"${ext}"` : 'no extension'}`, file);
  return kind;
}

export async function readTextRows(file: string, columns: TextColumns): Promise<TextRows> {
  const kind = textFileKind(file);
  for (const [role, name] of [['text', columns.text], ['text pair', columns.pair]] as const) {
    if (name !== undefined && name === columns.label) throw new DataError(`column "${name}" is the label column and cannot also be the ${role} column`, file);
  }
  if (columns.pair === columns.text) throw new DataError(`column "${columns.text}" cannot be both the text and the text pair column`, file);
  const content = await readText(file);
  return kind === 'jsonl' ? fromJsonl(content, file, columns) : fromTable(content, file, kind === 'csv' ? ',' : '\t', columns);
}
