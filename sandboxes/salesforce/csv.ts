/** RFC 4180 CSV as Bulk API 2.0 reads and writes it: quoted fields may hold delimiters, quotes ("") and newlines. */

export class CsvFormatError extends Error {
  override name = 'CsvFormatError';
}

export const COLUMN_DELIMITERS: Record<string, string> = {
  COMMA: ',',
  BACKQUOTE: '`',
  CARET: '^',
  PIPE: '|',
  SEMICOLON: ';',
  TAB: '\t',
};

export function parseCsv(text: string, delimiter: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  let cellStarted = false;
  let i = 0;
  const endCell = () => {
    row.push(cell);
    cell = '';
    cellStarted = false;
  };
  const endRow = () => {
    endCell();
    rows.push(row);
    row = [];
  };
  while (i < text.length) {
    const ch = text.charAt(i);
    if (quoted) {
      if (ch === '"') {
        if (text.charAt(i + 1) === '"') {
          cell += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        const next = text.charAt(i);
        if (i < text.length && next !== delimiter && next !== '\n' && next !== '\r') {
          throw new CsvFormatError(`Invalid CSV: unexpected character after closing quote at offset ${i}`);
        }
        continue;
      }
      cell += ch;
      i++;
      continue;
    }
    if (ch === '"' && !cellStarted) {
      quoted = true;
      cellStarted = true;
      i++;
      continue;
    }
    if (ch === delimiter) {
      endCell();
      i++;
      continue;
    }
    if (ch === '\r' && text.charAt(i + 1) === '\n') {
      endRow();
      i += 2;
      continue;
    }
    if (ch === '\n') {
      endRow();
      i++;
      continue;
    }
    cell += ch;
    cellStarted = true;
    i++;
  }
  if (quoted) throw new CsvFormatError('Invalid CSV: unterminated quoted field');
  if (cellStarted || cell !== '' || row.length > 0) endRow();
  return rows;
}

function quote(value: string, delimiter: string): string {
  return value.includes(delimiter) || /["\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function toCsv(header: string[], rows: string[][], delimiter: string, lineEnding: string): string {
  const lines = [header, ...rows].map((r) => r.map((v) => quote(v, delimiter)).join(delimiter));
  return lines.join(lineEnding) + lineEnding;
}
