import { DataError } from '../errors.ts';

// RFC 4180 with the usual leniencies: LF, CRLF or CR line ends, a UTF-8 BOM, blank lines
// skipped. Quoted fields may hold delimiters, doubled quotes and line breaks, which is why records
// carry the physical line they start on: that is the number an editor shows the user. TSV is the
// same grammar with a tab, as Python's csv module and pandas write it.

export interface CsvRecord {
  fields: string[];
  /** 1-based physical line where the record starts. */
  line: number;
}

export function parseCsv(input: string, file: string, delimiter: ',' | '\t' = ','): CsvRecord[] {
  const delimiterCode = delimiter.charCodeAt(0);
  const isBreak = (code: number): boolean => code === delimiterCode || code === 0x0a || code === 0x0d;
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let i = 0;

  const endField = () => {
    fields.push(field);
    field = '';
  };
  const endRecord = () => {
    endField();
    const blank = fields.length === 1 && fields[0] === '';
    if (!blank) records.push({ fields, line: recordLine });
    fields = [];
  };
  const newline = (at: number): number => {
    line++;
    return text[at] === '\r' && text[at + 1] === '\n' ? at + 2 : at + 1;
  };

  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '"' && field === '') {
      const startLine = line;
      i++;
      for (;;) {
        if (i >= text.length) throw new DataError('unterminated quoted field', file, startLine);
        const c = text[i]!;
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (c === '\r' || c === '\n') {
          field += c === '\r' && text[i + 1] === '\n' ? '\r\n' : c;
          i = newline(i);
          continue;
        }
        field += c;
        i++;
      }
      const next = text[i];
      if (next !== undefined && next !== delimiter && next !== '\n' && next !== '\r') {
        throw new DataError(`unexpected character ${JSON.stringify(next)} after a closing quote`, file, line);
      }
      continue;
    }
    if (ch === delimiter) {
      endField();
      i++;
    } else if (ch === '\n' || ch === '\r') {
      endRecord();
      i = newline(i);
      recordLine = line;
    } else {
      // Take the whole unquoted run at once; per-character concatenation is slow on big files.
      let j = i + 1;
      while (j < text.length && !isBreak(text.charCodeAt(j))) j++;
      field += text.slice(i, j);
      i = j;
    }
  }
  if (field !== '' || fields.length > 0) endRecord();
  return records;
}
