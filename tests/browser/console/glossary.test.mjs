// The console's and the phone's dictionaries against docs/glossary.md: every term is used, no
// wrong synonym is, units are 米/公里 in Chinese, and English never writes "star(s)".

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const { STRINGS } = await import(join(repo, 'server', 'web', 'console', 'i18n.js'));
const { WORDS } = await import(join(repo, 'server', 'web', 'm', 'i18n.js'));

/** The rows of the table under "## Terms": { zh, en, not: [{ word, severity }] }. */
async function glossary() {
  const text = await readFile(join(repo, 'docs', 'glossary.md'), 'utf8');
  const section = text.split('## Terms')[1].split('\n## ')[0];
  const rows = section.split('\n').filter((l) => l.startsWith('|') && !l.startsWith('|---') && !l.startsWith('| 中文'));
  return rows.map((l) => {
    const [zh, en, not] = l
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    const wrong = not
      ? not
          .split('、')
          .map((w) => ({ word: w.replace('（严重程度除外）', ''), severity: w.includes('（严重程度除外）') }))
      : [];
    return { zh, en, not: wrong };
  });
}

/** Every string of a dictionary, by key; a phrase function is called with sample arguments. */
function strings(dict) {
  return Object.entries(dict).flatMap(([k, v]) =>
    typeof v === 'function' ? [1, 2, 1500].map((n) => [k, String(v(n, n * 2, n))]) : [[k, v]],
  );
}

const zh = [
  ...strings(STRINGS.zh).map(([k, v]) => [`console ${k}`, v]),
  ...strings(WORDS.zh).map(([k, v]) => [`phone ${k}`, v]),
];
const en = [
  ...strings(STRINGS.en).map(([k, v]) => [`console ${k}`, v]),
  ...strings(WORDS.en).map(([k, v]) => [`phone ${k}`, v]),
];

test('every glossary term is used verbatim by a dictionary, in both languages', async () => {
  const terms = await glossary();
  assert.ok(terms.length >= 20, 'the glossary has its terms');
  for (const { zh: word } of terms)
    assert.ok(
      zh.some(([, s]) => s.includes(word)),
      `no Chinese string uses ${word}`,
    );
  for (const { en: word } of terms) {
    assert.ok(
      en.some(([, s]) => s.toLowerCase().includes(word.toLowerCase())),
      `no English string uses "${word}"`,
    );
  }
});

test('no dictionary string uses a word the glossary rules out', async () => {
  const wrong = [];
  for (const term of await glossary()) {
    for (const { word, severity } of term.not) {
      for (const [key, s] of zh) {
        if (!s.includes(word)) continue;
        // A severity's own name: its label, or before 级 ("警告级疑点").
        if (severity && (key.startsWith('console severity.') || !s.replaceAll(`${word}级`, '').includes(word)))
          continue;
        wrong.push(`${key}: "${s}" says ${word}, the glossary's word is ${term.zh}`);
      }
    }
  }
  assert.deepEqual(wrong, []);
});

test('Chinese units are 米 and 公里, and English never writes "star(s)"', () => {
  assert.deepEqual(
    zh.filter(([, s]) => /[\d}]\s?(m|km)\b/.test(s)).map(([k, s]) => `${k}: ${s}`),
    [],
  );
  assert.deepEqual(
    en.filter(([, s]) => /\(s\)/.test(s)).map(([k, s]) => `${k}: ${s}`),
    [],
  );
});

test('the formatting helpers write 米/公里, 分钟/小时/天 and 2026年第4季度', async () => {
  const consoleI18n = await import(join(repo, 'server', 'web', 'console', 'i18n.js'));
  const phone = await import(join(repo, 'server', 'web', 'm', 'i18n.js'));
  assert.equal(consoleI18n.getLang(), 'zh');
  assert.equal(consoleI18n.fmtDistance(52), '52 米');
  assert.equal(consoleI18n.fmtDistance(2500), '2.5 公里');
  assert.equal(consoleI18n.fmtDuration(3 * 86400 + 4 * 3600), '3 天 4 小时');
  assert.equal(consoleI18n.fmtDuration(65 * 60), '1 小时 5 分钟');
  assert.equal(consoleI18n.fmtQuarter('2026-Q4'), '2026年第4季度');
  assert.equal(consoleI18n.t('level.n', { n: 2 }), '2 星');
  assert.equal(phone.language(), 'zh');
  assert.equal(phone.fmtM(35), '35 米');
  assert.equal(phone.fmtM(1500), '1.5 公里');
  assert.equal(phone.fmtDuration(90 * 60), '1 小时 30 分钟');
  assert.equal(phone.fmtQuarter('2026-Q4'), '2026年第4季度');
  assert.equal(phone.t('level', 3), '3 星');
  // English: singular and plural, m/km.
  assert.equal(STRINGS.en['level.n'].replace(/\{n:(\w+)\|(\w+)\}/, (_m, one) => one).replace('{n}', '1'), '1 star');
  assert.equal(WORDS.en.level(1), '1 star');
  assert.equal(WORDS.en.level(2), '2 stars');
});
