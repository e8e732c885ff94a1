// A small RFC 4180 CSV reader for the org-unit import: quoted fields, doubled quotes, CRLF,
// a UTF-8 BOM; each record keeps the line it started on for error messages.

export function parseCsv(text) {
  const src = text.replace(/^\uFEFF/, '');
  const records = [];
  let fields = [];
  let cur = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  let i = 0;
  let any = false;
  const endField = () => {
    fields.push(cur);
    cur = '';
  };
  const endRecord = () => {
    endField();
    if (fields.length > 1 || fields[0].trim() !== '') records.push({ line: start, fields });
    fields = [];
    any = false;
  };
  while (i < src.length) {
    const c = src[i];
    if (quoted) {
      if (c === '"' && src[i + 1] === '"') {
        cur += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else {
        if (c === '\n') line += 1;
        cur += c;
      }
      i += 1;
      continue;
    }
    if (!any) {
      start = line;
      any = true;
    }
    if (c === '"' && cur.trim() === '') {
      quoted = true;
      cur = '';
    } else if (c === ',') endField();
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && src[i + 1] === '\n') i += 1;
      endRecord();
      line += 1;
    } else cur += c;
    i += 1;
  }
  if (quoted) throw new Error(`line ${start}: a quoted field is not closed`);
  if (any || cur !== '' || fields.length) endRecord();
  return records.map((r) => ({ line: r.line, fields: r.fields.map((f) => f.trim()) }));
}

export const ORG_HEADER = ['code', 'name', 'level', 'parent_code', 'lat', 'lon', 'radius_m'];

/** Rows of an org-unit CSV as objects; throws on a wrong header. Numbers stay strings here. */
export function orgRows(text) {
  const records = parseCsv(text);
  if (!records.length) throw new Error('empty');
  const header = records[0].fields.map((f) => f.toLowerCase());
  if (header.join(',') !== ORG_HEADER.join(',')) {
    const err = new Error('header');
    err.header = true;
    throw err;
  }
  return records.slice(1).map((r) => {
    const o = { line: r.line };
    ORG_HEADER.forEach((k, i) => {
      o[k] = r.fields[i] ?? '';
    });
    o.extra = r.fields.length !== ORG_HEADER.length;
    return o;
  });
}
