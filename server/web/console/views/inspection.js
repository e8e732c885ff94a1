// One inspection for review: answers beside the checklist items, photos (thumbnail → display →
// original, fetched with the token and shown as blob: URLs), each flag explained, and by role:
// a reviewer claims it on opening and decides (approve only when the checklist passed, alerts
// acknowledged in place); an admin reads, reopens a recent decision or cancels a stuck
// inspection; a secretary or the inspector reads the decisions. The decision history is shown
// to all of them.

import * as api from '../api.js';
import { h, append, field, nextId } from '../dom.js';
import { t, label, flagName, fmtDateTime, fmtDuration, fmtNumber } from '../i18n.js';
import { title, loading, stars, severityBadge, statusBadge, errorBox, formErrors, percent } from '../ui.js';
import { seen } from './queue.js';
import { starStatusCard } from './villages.js';
import { sketch } from './sketch.js';

/** The other inspection and photo a duplicate flag names (the server's detail says which). */
export function duplicateOf(flag) {
  const m = /photo (\S+) of inspection (\S+?)(?:\s|$)/.exec(flag.detail ?? '');
  return m ? { photoId: m[1], inspectionId: m[2] } : null;
}

async function declarationOf(ins) {
  const items = await api.all('/api/v1/declarations', { village: ins.village_id }).catch(() => []);
  return items.find((d) => d.id === ins.declaration_id) ?? null;
}

function isVisible(item, answers) {
  const cond = item.visible_if;
  if (!cond) return true;
  const v = answers[cond.item];
  return Array.isArray(v) ? v.includes(cond.equals) : v === cond.equals;
}

function formatAnswer(item, value) {
  if (value === undefined || value === null) return h('span', { class: 'muted' }, t('inspection.no_answer'));
  switch (item.kind) {
    case 'yes_no':
      return value ? t('common.yes') : t('common.no');
    case 'choice':
      return label(item.options?.find((o) => o.id === value)?.label) || String(value);
    case 'multi_choice':
      return (
        (Array.isArray(value) ? value : [])
          .map((v) => label(item.options?.find((o) => o.id === v)?.label) || v)
          .join('、') || '—'
      );
    case 'computed':
      return item.source === 'mentoring.coverage' && typeof value === 'number' ? percent(value) : String(value);
    case 'number':
      return fmtNumber(value);
    default:
      return String(value);
  }
}

function passRule(item) {
  const p = item.pass;
  if (!p) return null;
  if ('equals' in p)
    return t('inspection.rule_equals', {
      v: p.equals === true ? t('common.yes') : p.equals === false ? t('common.no') : p.equals,
    });
  if ('in' in p)
    return t('inspection.rule_in', {
      v: p.in.map((id) => label(item.options?.find((o) => o.id === id)?.label) || id).join('、'),
    });
  const fmt = (x) => (item.source === 'mentoring.coverage' ? percent(x) : fmtNumber(x));
  if ('min' in p && 'max' in p) return t('inspection.rule_between', { min: fmt(p.min), max: fmt(p.max) });
  if ('min' in p) return t('inspection.rule_min', { min: fmt(p.min) });
  if ('max' in p) return t('inspection.rule_max', { max: fmt(p.max) });
  return null;
}

/** The photo viewer: a modal dialog showing the display size, with the original on request. */
function photoDialog(ctx) {
  const body = h('div', { class: 'dialog-body viewer' });
  const dialog = h('dialog', { 'aria-label': t('photo.viewer') }, body);
  dialog.addEventListener('close', () => body.replaceChildren());
  document.body.append(dialog);
  const closeButton = () => h('button', { type: 'button', onclick: () => dialog.close() }, t('common.close'));
  const img = (photoId, size, alt) => {
    const el = h('img', { alt });
    api
      .blobUrl(`/api/v1/photos/${encodeURIComponent(photoId)}?size=${size}`)
      .then((url) => {
        el.src = ctx.keepBlob(url);
      })
      .catch((err) => el.replaceWith(errorBox(err)));
    return el;
  };
  return {
    dialog,
    show(photo, itemLabel) {
      const holder = h('div', {}, img(photo.id, 'display', itemLabel));
      const meta = [
        photo.width ? `${photo.width} × ${photo.height}` : null,
        photo.taken_at ? t('photo.taken_at', { time: fmtDateTime(photo.taken_at) }) : t('photo.no_time'),
        photo.lat !== undefined
          ? t('photo.position', { lat: fmtNumber(photo.lat, 5), lon: fmtNumber(photo.lon, 5) })
          : t('photo.no_position'),
        photo.downsized_from ? t('photo.downsized', { size: photo.downsized_from.replace('x', '×') }) : null,
      ]
        .filter(Boolean)
        .join(' · ');
      const original = h(
        'button',
        {
          type: 'button',
          onclick: () => {
            holder.replaceChildren(img(photo.id, 'original', itemLabel));
            original.disabled = true;
          },
        },
        t('photo.original'),
      );
      body.replaceChildren(
        h('div', { class: 'dialog-head' }, h('h2', {}, itemLabel), closeButton()),
        holder,
        h('p', { class: 'muted small' }, meta),
        h('p', {}, original),
      );
      dialog.showModal();
    },
    compare(photo, other, itemLabel) {
      body.replaceChildren(
        h('div', { class: 'dialog-head' }, h('h2', {}, t('photo.compare')), closeButton()),
        h(
          'div',
          { class: 'side-by-side' },
          h('figure', {}, img(photo.id, 'display', itemLabel), h('figcaption', {}, t('photo.this_inspection'))),
          h(
            'figure',
            {},
            img(other.photoId, 'display', t('photo.other_inspection')),
            h(
              'figcaption',
              {},
              t('photo.other_inspection'),
              ' · ',
              h(
                'a',
                { href: `#/inspection/${other.inspectionId}`, onclick: () => dialog.close() },
                t('photo.open_other'),
              ),
            ),
          ),
        ),
      );
      dialog.showModal();
    },
  };
}

/** A message to show once after the page renders again (after a reopening or a cancellation). */
const flashes = new Map();

const DAY_MS = 86_400_000;
/** How long after a decision an admin may reopen it (the server's rule; it has the last word). */
const REOPEN_DAYS = 30;

function backLink(role) {
  if (role === 'secretary') return h('a', { href: '#/village' }, '← ', t('inspection.back_village'));
  if (role === 'inspector') return h('a', { href: '#/villages' }, '← ', t('nav.villages'));
  return h('a', { href: '#/queue' }, '← ', t('nav.queue'));
}

/** The distinct codes of the alert flags (the server's `approval.alerts` when it sends one). */
function alertCodes(ins) {
  if (Array.isArray(ins.approval?.alerts)) return ins.approval.alerts;
  return [...new Set(ins.flags.filter((f) => f.severity === 'alert').map((f) => f.code))];
}

/** The village's view (a secretary): where the inspection stands and, once decided, the
 * decisions and the checklist result; the server sends no evidence to the village. */
async function villageInspection(root, ins) {
  const template = await api
    .get(`/api/v1/checklists/${encodeURIComponent(ins.checklist.code)}/versions/${ins.checklist.version}`)
    .catch(() => null);
  root.querySelector('.loading')?.remove();
  const labels = new Map();
  for (const sec of template?.sections ?? []) for (const it of sec.items) labels.set(it.id, label(it.label));
  const r = ins.result;
  append(root, [
    h(
      'div',
      { class: 'ins-head' },
      title(ins.village_name || t('inspection.title')),
      ins.star_level ? stars(ins.star_level) : null,
      h('span', {}, statusBadge(ins.status)),
    ),
    h(
      'dl',
      { class: 'facts' },
      fact(t('inspection.quarter'), ins.quarter ?? '—'),
      fact(t('inspection.submitted_at'), ins.submitted_at ? fmtDateTime(ins.submitted_at) : '—'),
      fact(t('inspection.revision'), String(ins.revision)),
      fact(
        t('inspection.score'),
        r
          ? [
              fmtNumber(r.score, 1),
              ' ',
              h(
                'span',
                { class: ['badge', r.passed ? 'pass' : 'fail'] },
                r.passed ? t('common.passed') : t('common.failed'),
              ),
            ]
          : h('span', { class: 'muted' }, t('village_ins.pending')),
      ),
    ),
    r
      ? h(
          'section',
          { class: 'card', 'aria-labelledby': 'failing-h' },
          h('h2', { id: 'failing-h' }, t('village_ins.failing')),
          r.failing_items.length
            ? h(
                'ul',
                {},
                r.failing_items.map((id) => h('li', { dataset: { item: id } }, labels.get(id) ?? id)),
              )
            : h('p', { class: 'muted' }, t('village_ins.no_failing')),
        )
      : null,
    h(
      'section',
      { class: 'card decisions', 'aria-labelledby': 'decisions-h' },
      h('h2', { id: 'decisions-h' }, t('decisions.title')),
      decisionList(ins.decisions ?? []),
    ),
    h('p', { class: 'muted small' }, t('village_ins.no_evidence')),
  ]);
}

export async function inspectionView(root, ctx) {
  const id = ctx.params.id;
  root.append(h('p', {}, backLink(ctx.role)), loading());
  const ins = await api.get(`/api/v1/inspections/${encodeURIComponent(id)}`);
  if (ctx.role === 'secretary' || !('answers' in ins)) return villageInspection(root, ins);
  const [template, village, declaration] = await Promise.all([
    api.get(`/api/v1/checklists/${encodeURIComponent(ins.checklist.code)}/versions/${ins.checklist.version}`),
    api.get(`/api/v1/org-units/${encodeURIComponent(ins.village_id)}`).catch(() => null),
    declarationOf(ins),
  ]);
  root.querySelector('.loading')?.remove();
  const entry = seen.get(id);
  const viewer = photoDialog(ctx);
  const answers = ins.answers ?? {};
  const results = new Map((ins.items ?? []).map((r) => [r.id, r]));
  const photosByItem = new Map();
  for (const p of ins.photos) photosByItem.set(p.item, [...(photosByItem.get(p.item) ?? []), p]);
  const flaggedPhotos = new Set(ins.flags.filter((f) => f.photo_id).map((f) => f.photo_id));
  const itemLabels = new Map();
  for (const sec of template.sections) for (const it of sec.items) itemLabels.set(it.id, label(it.label));

  const statusSlot = h('span', {}, statusBadge(ins.status));
  append(root, [
    h(
      'div',
      { class: 'ins-head' },
      title(village?.name ?? ins.village_name ?? entry?.village?.name ?? t('inspection.title')),
      stars(declaration?.star_level ?? entry?.declared_level ?? template.star_level),
      declaration ? h('span', { class: 'badge' }, t(`kind.${declaration.kind}`)) : null,
      statusSlot,
    ),
    h(
      'dl',
      { class: 'facts' },
      fact(t('inspection.village_code'), village?.code ?? '—'),
      fact(t('inspection.quarter'), declaration?.quarter ?? entry?.quarter ?? '—'),
      fact(t('inspection.checklist'), `${label(template.title)} v${template.version}`),
      fact(t('inspection.score'), [
        fmtNumber(ins.score, 1),
        ' ',
        h(
          'span',
          { class: ['badge', ins.passed ? 'pass' : 'fail'] },
          ins.passed ? t('common.passed') : t('common.failed'),
        ),
      ]),
      fact(t('inspection.submitted_at'), ins.submitted_at ? fmtDateTime(ins.submitted_at) : '—'),
      fact(
        t('inspection.visit'),
        t('inspection.visit_span', {
          start: fmtDateTime(ins.started_at),
          minutes: fmtNumber((Date.parse(ins.client_submitted_at) - Date.parse(ins.started_at)) / 60000, 0),
        }),
      ),
      fact(
        t('inspection.location'),
        ins.location
          ? t('inspection.location_value', {
              lat: fmtNumber(ins.location.lat, 5),
              lon: fmtNumber(ins.location.lon, 5),
              acc: fmtNumber(ins.location.accuracy_m, 0),
            })
          : t('inspection.no_location'),
      ),
      fact(t('inspection.revision'), String(ins.revision)),
      ins.inspector_name ? fact(t('inspection.inspector'), ins.inspector_name) : null,
      entry?.waiting_seconds !== undefined && ins.status === 'submitted'
        ? fact(t('queue.waiting'), fmtDuration(entry.waiting_seconds))
        : null,
    ),
    flashes.has(id) ? h('p', { class: 'notice ok', role: 'status' }, flashes.get(id)) : null,
    ins.return_comment && ins.status === 'returned'
      ? h('p', { class: 'notice info' }, t('inspection.return_comment', { comment: ins.return_comment }))
      : null,
  ]);
  flashes.delete(id);
  if (['admin', 'reviewer'].includes(ctx.role) || (ctx.role === 'inspector' && ins.inspector_id === ctx.me.id)) {
    root.append(
      h(
        'p',
        { class: 'ins-tools' },
        recordButton(ins),
        ' ',
        REVIEWABLE.includes(ins.status) && ctx.role === 'reviewer'
          ? h('button', { type: 'button', class: 'link', onclick: () => help.showModal() }, t('keys.help_link'))
          : null,
      ),
    );
  }

  // The checklist with the answers beside each item.
  const checklist = h(
    'section',
    { class: 'card', 'aria-labelledby': 'checklist-h' },
    h('h2', { id: 'checklist-h' }, t('inspection.checklist_answers')),
  );
  for (const sec of template.sections) {
    const list = h('div', { class: 'checklist-section' }, h('h3', {}, label(sec.title)));
    for (const item of sec.items) {
      const visible = isVisible(item, answers);
      const result = results.get(item.id);
      const value = item.kind === 'computed' ? result?.value : answers[item.id];
      const failing = ins.failing_items.includes(item.id);
      let verdict = null;
      if (!visible) verdict = h('span', { class: 'badge' }, t('inspection.not_shown'));
      else if (result?.unavailable) verdict = h('span', { class: 'badge' }, t('inspection.unavailable'));
      else if (failing || result?.pass === false) verdict = h('span', { class: 'badge fail' }, t('common.failed'));
      else if (result?.pass === true) verdict = h('span', { class: 'badge pass' }, t('common.passed'));
      const rule = passRule(item);
      const photos = photosByItem.get(item.id) ?? [];
      const itemLabel = label(item.label);
      list.append(
        h(
          'div',
          { class: ['checklist-item', visible ? '' : 'hidden-item'], dataset: { item: item.id } },
          h(
            'div',
            {},
            h('div', { class: 'label' }, itemLabel),
            h(
              'div',
              { class: 'muted small' },
              [
                item.required ? t('inspection.required') : null,
                rule,
                item.photos_min ? t('inspection.photos_min', { n: item.photos_min }) : null,
                item.weight ? t('inspection.weight', { n: item.weight }) : null,
              ]
                .filter(Boolean)
                .join(' · '),
            ),
          ),
          h(
            'div',
            { class: 'answer' },
            visible
              ? item.kind === 'photo'
                ? t('inspection.photo_count', { n: photos.length })
                : formatAnswer(item, value)
              : '—',
          ),
          h(
            'div',
            {},
            verdict,
            result?.reason
              ? h(
                  'div',
                  { class: 'muted small' },
                  result.reason === 'no mentees registered' ? t('inspection.reason_no_mentees') : result.reason,
                )
              : null,
          ),
          photos.length
            ? h(
                'div',
                { class: 'photos' },
                h(
                  'div',
                  { class: 'thumbs' },
                  photos.map((p, i) => thumb(p, i, itemLabel)),
                ),
              )
            : null,
        ),
      );
    }
    checklist.append(list);
  }

  function thumb(photo, i, itemLabel) {
    const name = t('photo.thumb_label', { item: itemLabel, n: i + 1 });
    const button = h('button', {
      type: 'button',
      class: ['thumb', flaggedPhotos.has(photo.id) ? 'flagged' : ''],
      'aria-label': name,
      dataset: { photo: photo.id },
      onclick: () => viewer.show(photo, itemLabel),
    });
    if (!photo.received) {
      button.append(h('span', { class: 'muted small' }, t('photo.missing')));
      button.disabled = true;
      return button;
    }
    api
      .blobUrl(`/api/v1/photos/${encodeURIComponent(photo.id)}?size=thumb`)
      .then((url) => button.append(h('img', { src: ctx.keepBlob(url), alt: '' })))
      .catch(() => button.append(h('span', { class: 'muted small' }, t('photo.failed'))));
    return button;
  }

  // Flags grouped by code, at the top: how many, why, and the photos they concern.
  const photoNo = new Map(ins.photos.map((p, i) => [p.id, i + 1]));
  const flagsCard = h(
    'section',
    { class: 'card flags-card', 'aria-labelledby': 'flags-h' },
    h('h2', { id: 'flags-h' }, t('inspection.flags', { n: ins.flags.length })),
  );
  if (!ins.flags.length) flagsCard.append(h('p', { class: 'muted' }, t('inspection.no_flags')));
  const flagList = h('ul', { class: 'flag-list flag-groups' });
  for (const group of flagGroups(ins.flags)) {
    const f = group.flags[0];
    const photos = [...new Set(group.flags.map((x) => x.photo_id).filter(Boolean))]
      .map((pid) => ins.photos.find((p) => p.id === pid))
      .filter(Boolean);
    const items = [...new Set(group.flags.map((x) => x.item).filter(Boolean))].map((it) => itemLabels.get(it) ?? it);
    // One link (and one comparison) per other inspection the duplicates come from.
    const dups = [
      ...new Map(
        group.flags
          .map((x) => (x.code === 'photo.duplicate' || x.code === 'photo.near_duplicate' ? [x, duplicateOf(x)] : null))
          .filter((d) => d?.[1])
          .map((d) => [d[1].inspectionId, d]),
      ).values(),
    ];
    flagList.append(
      h(
        'li',
        { dataset: { flag: f.code, count: String(group.flags.length) } },
        h(
          'div',
          {},
          severityBadge(group.severity),
          ' ',
          h('span', { class: 'what' }, flagName(f.code)),
          ' ',
          h('span', { class: 'count' }, `×${group.flags.length}`),
        ),
        h('p', { class: 'small' }, t(`flag.${f.code}.why`)),
        items.length ? h('p', { class: 'small' }, t('inspection.flag_items', { items: items.join('、') })) : null,
        photos.length
          ? h(
              'p',
              { class: 'small flag-photos' },
              t('inspection.flag_photos'),
              ' ',
              photos.map((p) => [
                h(
                  'button',
                  { type: 'button', class: 'link', onclick: () => viewer.show(p, itemLabels.get(p.item) ?? p.item) },
                  t('sketch.photo_short', { n: photoNo.get(p.id) }),
                ),
                ' ',
              ]),
            )
          : null,
        dups.length
          ? h(
              'p',
              { class: 'small' },
              dups.map(([x, dup]) => {
                const photo = x.photo_id ? ins.photos.find((p) => p.id === x.photo_id) : null;
                return [
                  h('a', { href: `#/inspection/${dup.inspectionId}` }, t('inspection.other_inspection')),
                  photo
                    ? [
                        ' · ',
                        h(
                          'button',
                          {
                            type: 'button',
                            class: 'link',
                            onclick: () => viewer.compare(photo, dup, itemLabels.get(photo.item) ?? ''),
                          },
                          t('photo.compare'),
                        ),
                      ]
                    : null,
                  ' ',
                ];
              }),
            )
          : null,
        h(
          'details',
          { class: 'small muted' },
          h('summary', {}, t('inspection.flag_details', { n: group.flags.length })),
          h(
            'ul',
            {},
            group.flags.map((x) =>
              h(
                'li',
                {},
                x.photo_id && photoNo.has(x.photo_id)
                  ? `${t('sketch.photo_short', { n: photoNo.get(x.photo_id) })}: `
                  : '',
                x.message ? h('span', {}, x.message) : h('span', { lang: 'en' }, x.detail),
              ),
            ),
          ),
        ),
      ),
    );
  }
  flagsCard.append(flagList);

  // Where: the sketch of the geofence, the phone and the photos, with the distances.
  const where = h(
    'section',
    { class: 'card where-card', 'aria-labelledby': 'where-h' },
    h('h2', { id: 'where-h' }, t('sketch.heading')),
  );
  const drawn = sketch(
    village ?? {},
    ins.location ?? null,
    ins.photos.map((p, i) => ({ lat: p.lat, lon: p.lon, n: i + 1, label: itemLabels.get(p.item) ?? p.item })),
  );
  where.append(drawn ?? h('p', { class: 'muted' }, t('sketch.no_village_position')));
  if (drawn) where.append(h('p', { class: 'small muted legend' }, t('sketch.legend')));

  // The village: its earlier inspections and its star history.
  const villageCard = h(
    'section',
    { class: 'card village-card', 'aria-labelledby': 'village-h' },
    h('h2', { id: 'village-h' }, t('inspection.village_history')),
  );
  const earlier = h('div', {}, loading());
  villageCard.append(
    h('h3', {}, t('inspection.previous')),
    earlier,
    h(
      'details',
      {
        class: 'star-history',
        ontoggle: async (e) => {
          const d = e.currentTarget;
          if (!d.open || d.dataset.loaded) return;
          d.dataset.loaded = '1';
          d.append(await starStatusCard(ins.village_id));
        },
      },
      h('summary', {}, t('inspection.star_history')),
    ),
  );
  api
    .get(`/api/v1/inspections${api.qs({ village: ins.village_id, limit: 50 })}`)
    .then((page) => {
      const others = page.items
        .filter((x) => x.id !== ins.id)
        .sort((a, b) => (b.submitted_at ?? b.updated_at).localeCompare(a.submitted_at ?? a.updated_at));
      earlier.replaceChildren(
        others.length
          ? h(
              'ul',
              { class: 'previous-list' },
              others.map((x) =>
                h(
                  'li',
                  {},
                  h('a', { href: `#/inspection/${x.id}` }, fmtDateTime(x.submitted_at ?? x.updated_at)),
                  ' ',
                  statusBadge(x.status),
                  ' ',
                  h('span', { class: 'muted small' }, t('inspection.score_short', { n: fmtNumber(x.score, 1) })),
                  x.flags.length ? [' ', groupChips(x.flags)] : null,
                ),
              ),
            )
          : h('p', { class: 'muted small' }, t('inspection.no_previous')),
      );
    })
    .catch((err) => earlier.replaceChildren(errorBox(err)));

  const history = h('section', { class: 'card decisions', 'aria-labelledby': 'decisions-h' });
  const showHistory = (decisions) =>
    history.replaceChildren(h('h2', { id: 'decisions-h' }, t('decisions.title')), decisionList(decisions));
  showHistory(ins.decisions ?? []);
  const refreshHistory = async () => {
    try {
      showHistory((await api.get(`/api/v1/inspections/${encodeURIComponent(id)}`)).decisions ?? []);
    } catch {
      // The history stays as it was; the decision itself is shown above it.
    }
  };
  const rerender = (message) => {
    if (message) flashes.set(id, message);
    ctx.navigate(`inspection/${id}`);
  };
  const page = { statusSlot, itemLabels, refreshHistory, rerender, shortcuts: null };
  const decide = decisionCard(ins, declaration, entry, ctx, page);
  decide.classList.add('decide-card');
  const side = h('aside', { class: 'ins-side', 'aria-label': t('decision.title') }, decide, history);
  root.append(
    h(
      'div',
      { class: 'ins-layout' },
      h('div', { class: 'ins-evidence' }, flagsCard, where, checklist, villageCard),
      side,
    ),
  );

  // The keyboard: photos, the decision, the next inspection, and `?` for the list.
  const help = helpDialog();
  const received = ins.photos.filter((p) => p.received);
  let current = -1;
  const showPhoto = (step) => {
    if (!received.length) return;
    current = (current + step + received.length) % received.length;
    const p = received[current];
    viewer.show(p, `${t('sketch.photo_short', { n: photoNo.get(p.id) })} · ${itemLabels.get(p.item) ?? p.item}`);
  };
  const onKey = (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    const tag = e.target?.tagName;
    if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || e.target?.isContentEditable) return;
    const key = e.key;
    if (key === '?') {
      if (!help.open) help.showModal();
    } else if (key === 'j' || key === 'ArrowRight') {
      showPhoto(1);
    } else if (key === 'k' || key === 'ArrowLeft') {
      showPhoto(-1);
    } else if (key === 'n' && ctx.role === 'reviewer') {
      openNext(ctx, ins.id);
    } else if (['a', 'x', 'r'].includes(key) && page.shortcuts) {
      if (viewer.dialog.open) viewer.dialog.close();
      page.shortcuts.choose({ a: 'approve', x: 'reject', r: 'return' }[key]);
    } else {
      return;
    }
    e.preventDefault();
  };
  document.addEventListener('keydown', onKey);
  ctx.onLeave?.(() => {
    document.removeEventListener('keydown', onKey);
    help.remove();
    viewer.dialog.remove();
  });
}

/** The flags grouped by code, worst first: [{code, severity, flags}]. */
export function flagGroups(flags) {
  const rank = { alert: 3, warning: 2, info: 1 };
  const groups = new Map();
  for (const f of flags) {
    const g = groups.get(f.code) ?? { code: f.code, severity: f.severity, flags: [] };
    if ((rank[f.severity] ?? 0) > (rank[g.severity] ?? 0)) g.severity = f.severity;
    g.flags.push(f);
    groups.set(f.code, g);
  }
  return [...groups.values()].sort(
    (a, b) => (rank[b.severity] ?? 0) - (rank[a.severity] ?? 0) || b.flags.length - a.flags.length,
  );
}

/** One chip per flag code with its count ("重复照片 ×3"). */
export function groupChips(flags, max = 4) {
  const groups = flagGroups(flags);
  // Lists carry flags already counted by code (`{code, severity, count}`); pages, one per flag.
  const total = (g) => g.flags.reduce((n, f) => n + (f.count ?? 1), 0);
  const chips = groups.slice(0, max).map((g) =>
    h(
      'span',
      {
        class: ['chip', `sev-${g.severity}`],
        dataset: { flag: g.code },
        title: g.flags
          .map((f) => f.message ?? f.detail)
          .filter(Boolean)
          .join('\n'),
      },
      flagName(g.code),
      total(g) > 1 ? ` ×${total(g)}` : '',
    ),
  );
  if (groups.length > max)
    chips.push(h('span', { class: 'muted small' }, t('queue.more_kinds', { n: groups.length - max })));
  return h('span', { class: 'chips' }, chips);
}

/** The next queue entry the reviewer may take (not this one, not held by another). */
async function nextEntry(ctx, currentId) {
  const page = await api.get(`/api/v1/review-queue${api.qs({ limit: 50 })}`);
  for (const e of page.items) seen.set(e.id, e);
  return page.items.find((e) => e.id !== currentId && !(e.claimed_by && e.claimed_by.id !== ctx.me.id)) ?? null;
}

async function openNext(ctx, currentId, message) {
  try {
    const next = await nextEntry(ctx, currentId);
    if (next) {
      if (message) flashes.set(next.id, message);
      ctx.navigate(`inspection/${next.id}`);
      return true;
    }
  } catch {
    // The queue is one click away.
  }
  return false;
}

/** The printable record, opened in a new tab (fetched with the token, shown as a blob: page). */
function recordButton(ins) {
  const msg = h('span', { 'aria-live': 'polite' });
  const button = h(
    'button',
    {
      type: 'button',
      class: 'record-button',
      onclick: async () => {
        // Opened before the fetch, so that no popup blocker stops it.
        const w = window.open('', '_blank');
        button.disabled = true;
        try {
          const html = (await api.text(`/api/v1/inspections/${encodeURIComponent(ins.id)}/record`)).replace(
            'href="/app/record.css"',
            `href="${location.origin}/app/record.css"`,
          );
          const url = URL.createObjectURL(new Blob([html], { type: 'text/html' }));
          setTimeout(() => URL.revokeObjectURL(url), 60_000);
          if (w) w.location.href = url;
          else msg.replaceChildren(' ', h('a', { href: url, target: '_blank', rel: 'noopener' }, t('record.open')));
        } catch (err) {
          w?.close();
          msg.replaceChildren(errorBox(err));
        }
        button.disabled = false;
      },
    },
    t('record.print'),
  );
  return [button, msg];
}

const SHORTCUTS = [
  ['j / →', 'keys.next_photo'],
  ['k / ←', 'keys.prev_photo'],
  ['a', 'keys.approve'],
  ['x', 'keys.reject'],
  ['r', 'keys.return'],
  ['Ctrl + Enter', 'keys.submit'],
  ['n', 'keys.next_inspection'],
  ['?', 'keys.help'],
];

function helpDialog() {
  const dialog = h(
    'dialog',
    { class: 'help-dialog', 'aria-labelledby': 'keys-h' },
    h(
      'div',
      { class: 'dialog-body' },
      h(
        'div',
        { class: 'dialog-head' },
        h('h2', { id: 'keys-h' }, t('keys.title')),
        h('button', { type: 'button', onclick: () => dialog.close() }, t('common.close')),
      ),
      h(
        'table',
        { class: 'keys' },
        h(
          'tbody',
          {},
          SHORTCUTS.map(([k, what]) => h('tr', {}, h('th', { scope: 'row' }, h('kbd', {}, k)), h('td', {}, t(what)))),
        ),
      ),
      h('p', { class: 'small muted' }, t('keys.note')),
    ),
  );
  document.body.append(dialog);
  return dialog;
}

function fact(dt, dd) {
  return [h('div', {}, h('dt', {}, dt), h('dd', {}, dd))];
}

function decisionList(decisions) {
  if (!decisions.length) return h('p', { class: 'muted small' }, t('decisions.none'));
  return h(
    'ol',
    { class: 'decision-list' },
    decisions.map((d) =>
      h(
        'li',
        {
          dataset: { decision: d.decision, reopened: d.reopened_at ? '1' : '0' },
          class: d.reopened_at ? 'reopened' : '',
        },
        h(
          'div',
          {},
          h(
            'span',
            {
              class: [
                'badge',
                `status-${d.decision === 'approve' ? 'approved' : d.decision === 'reject' ? 'rejected' : 'returned'}`,
              ],
            },
            t(`decision.${d.decision}`),
          ),
          ' ',
          h(
            'span',
            { class: 'small muted' },
            (d.decided_by_name ?? d.decided_by)
              ? t('decisions.by', { user: d.decided_by_name ?? d.decided_by, time: fmtDateTime(d.decided_at) })
              : fmtDateTime(d.decided_at),
          ),
        ),
        d.consequence
          ? h('p', { class: 'small' }, t('decisions.consequence', { v: t(`decision.${d.consequence}`) }))
          : null,
        d.comment ? h('p', { class: 'small comment' }, t('decisions.comment', { comment: d.comment })) : null,
        d.acknowledged_flags?.length
          ? h(
              'p',
              { class: 'small' },
              t('decisions.acknowledged', { flags: d.acknowledged_flags.map(flagName).join('、') }),
            )
          : null,
        d.reopened_at
          ? h(
              'p',
              { class: 'small notice info' },
              t('decisions.reopened', {
                user: d.reopened_by_name ?? '—',
                time: fmtDateTime(d.reopened_at),
                reason: d.reopen_reason ?? '',
              }),
            )
          : null,
      ),
    ),
  );
}

/** Where "decide and open the next" is remembered. */
const OPEN_NEXT_KEY = 'fieldstar.console.open_next';

/** Statuses in which a reviewer decides. */
const REVIEWABLE = ['submitted', 'awaiting_second_approval'];

/**
 * The verifying bodies' approvals of the present revision, and which is missing: with joint
 * approval the department and the association both approve before the star is granted.
 */
function approvalsPanel(ins) {
  const given = (ins.approvals ?? []).filter((a) => a.revision === ins.revision && !a.withdrawn_at);
  const panel = h('div', { class: 'approvals', dataset: { awaiting: ins.awaiting_body ?? '' } });
  if (!given.length && !ins.awaiting_body) return panel;
  panel.append(
    h(
      'ul',
      { class: 'approval-list small' },
      given.map((a) =>
        h(
          'li',
          { dataset: { body: a.body } },
          h('span', { class: 'badge status-approved' }, t('approval.given', { body: t(`body.${a.body}`) })),
          ' ',
          h(
            'span',
            { class: 'muted' },
            t('decisions.by', { user: a.approved_by_name ?? a.approved_by, time: fmtDateTime(a.approved_at) }),
          ),
          a.comment ? h('p', { class: 'comment' }, t('decisions.comment', { comment: a.comment })) : null,
        ),
      ),
    ),
  );
  if (ins.status === 'awaiting_second_approval' && ins.awaiting_body) {
    panel.append(
      h('p', { class: 'notice info awaiting-body' }, t('approval.awaiting', { body: t(`body.${ins.awaiting_body}`) })),
    );
  }
  return panel;
}

/** The decision that stands (the last one not reopened), if the inspection was decided. */
function standingDecision(ins) {
  const live = (ins.decisions ?? []).filter((d) => !d.reopened_at && d.decision !== 'return');
  return live.length ? live[live.length - 1] : null;
}

function decisionCard(ins, declaration, entry, ctx, page) {
  const card = h(
    'section',
    { class: 'card', 'aria-labelledby': 'decide-h' },
    h('h2', { id: 'decide-h' }, t('decision.title')),
  );
  const result = h('div', { 'aria-live': 'polite' });
  const role = ctx.role;
  const me = ctx.me.id;
  card.append(approvalsPanel(ins));
  if (!REVIEWABLE.includes(ins.status)) {
    card.append(h('p', {}, t('decision.not_open', { status: t(`status.${ins.status}`) })), result);
    if (ins.status === 'approved' || ins.status === 'rejected') {
      starStatusCard(ins.village_id).then((c) => result.append(c));
      if (role === 'admin') card.append(reopenForm(ins, page));
    }
    if (
      (ins.status === 'awaiting_photos' || ins.status === 'returned') &&
      (role === 'admin' || ins.inspector_id === me)
    ) {
      card.append(cancelPanel(ins, page));
    }
    return card;
  }
  if (role === 'admin') {
    card.append(h('p', { class: 'notice info' }, t('decision.admin_reads')));
    return card;
  }
  if (role !== 'reviewer') {
    card.append(h('p', { class: 'muted' }, t('decision.read_only')));
    return card;
  }
  if (ins.inspector_id === me) {
    card.append(h('p', { class: 'notice info' }, t('decision.own_inspection')));
    return card;
  }
  if (!ctx.me.body) {
    card.append(h('p', { class: 'notice error no-body' }, t('decision.no_body')));
    return card;
  }
  if (ins.status === 'awaiting_second_approval' && ins.awaiting_body && ins.awaiting_body !== ctx.me.body) {
    // Her body approved: the other body's reviewers decide now (the server refuses her too).
    card.append(
      h(
        'p',
        { class: 'notice info body-done' },
        t('decision.body_done', { body: t(`body.${ctx.me.body}`), other: t(`body.${ins.awaiting_body}`) }),
      ),
    );
    return card;
  }

  // Opening the inspection claims it; the server answers 409 while another reviewer holds it.
  const claimInfo = h('p', { class: 'small claim-info', role: 'status' }, t('decision.claiming'));
  const claimButton = h('button', { type: 'button', class: 'hidden', onclick: () => takeClaim() }, t('decision.claim'));
  const submit = h('button', { type: 'submit', class: 'primary', disabled: true }, t('decision.submit'));
  async function holderOf() {
    if (entry?.claimed_by && entry.claimed_by.id !== me) return entry.claimed_by;
    try {
      const queue = await api.all('/api/v1/review-queue', {}, 1000);
      return queue.find((e) => e.id === ins.id)?.claimed_by ?? null;
    } catch {
      return null;
    }
  }
  async function takeClaim() {
    claimButton.disabled = true;
    try {
      const c = await api.post(`/api/v1/inspections/${encodeURIComponent(ins.id)}/claim`);
      claimInfo.textContent = t('decision.claimed_by_you', { time: fmtDateTime(c.claim_expires_at) });
      claimInfo.dataset.claim = 'mine';
      claimButton.textContent = t('decision.renew_claim');
      submit.disabled = false;
      result.replaceChildren();
    } catch (err) {
      submit.disabled = true;
      if (err.status === 409 && err.code === 'claimed') {
        const holder = await holderOf();
        claimInfo.dataset.claim = 'other';
        claimInfo.replaceChildren(
          h(
            'strong',
            {},
            holder
              ? t('decision.claimed_by', { user: holder.username, time: fmtDateTime(holder.until) })
              : t('decision.claimed_by_other'),
          ),
          ' ',
          t('decision.claimed_other_note'),
        );
        claimButton.textContent = t('decision.claim');
      } else {
        claimInfo.textContent = '';
        result.replaceChildren(errorBox(err));
      }
    }
    claimButton.classList.remove('hidden');
    claimButton.disabled = false;
  }

  const approval = ins.approval ?? { allowed: ins.passed, failing_items: ins.failing_items };
  const alerts = alertCodes(ins);
  const renewal = declaration?.kind === 'renewal';
  const name = nextId('decision');
  const radio = (value, text, group = name, disabled = false) => {
    const id = nextId('r');
    return h(
      'label',
      { class: ['check', disabled ? 'disabled' : ''], for: id },
      h('input', { type: 'radio', name: group, id, value, disabled }),
      text,
    );
  };
  const blocked = approval.allowed === false;
  const failing = approval.failing_items ?? [];
  const blockedNote = blocked
    ? h(
        'div',
        { class: 'notice error approve-blocked', id: nextId('blocked') },
        h('p', {}, t('decision.approve_blocked')),
        h(
          'ul',
          {},
          failing.map((code) => h('li', { dataset: { item: code } }, page.itemLabels.get(code) ?? code)),
        ),
      )
    : null;
  const consequenceName = nextId('consequence');
  const consequence = h(
    'div',
    { class: 'field consequence hidden', dataset: { field: 'consequence' } },
    h(
      'fieldset',
      {},
      h('legend', {}, t('decision.consequence')),
      h(
        'div',
        { class: 'radio-row' },
        radio('downgrade', t('decision.downgrade'), consequenceName),
        radio('revoke', t('decision.revoke'), consequenceName),
      ),
    ),
    h('span', { class: 'field-error' }),
  );
  // Approving despite alerts: one box per alert code, and a comment (the server checks both).
  const ackBoxes = alerts.map((code) => {
    const id = nextId('ack');
    return h(
      'label',
      { class: 'check', for: id },
      h('input', { type: 'checkbox', id, value: code, dataset: { flag: code } }),
      t('decision.ack', { flag: flagName(code) }),
    );
  });
  const acknowledge = alerts.length
    ? h(
        'div',
        { class: 'field acknowledge hidden', dataset: { field: 'acknowledged_flags' } },
        h('fieldset', {}, h('legend', {}, t('decision.alerts_title')), ackBoxes),
        h('span', { class: 'field-error' }),
      )
    : null;
  const comment = h('textarea', { maxlength: '2000', rows: '4' });
  const approveRadio = radio('approve', t('decision.approve'), name, blocked);
  if (blockedNote) approveRadio.querySelector('input').setAttribute('aria-describedby', blockedNote.id);
  const form = h(
    'form',
    { class: 'decision-form', novalidate: true },
    h(
      'div',
      { class: 'field', dataset: { field: 'decision' } },
      h(
        'fieldset',
        {},
        h('legend', {}, t('decision.choose')),
        h(
          'div',
          { class: 'radio-row' },
          approveRadio,
          radio('reject', t('decision.reject')),
          radio('return', t('decision.return')),
        ),
      ),
      h('span', { class: 'field-error' }),
    ),
    blockedNote,
    consequence,
    acknowledge,
    field(t('decision.comment'), comment, { name: 'comment', hint: t('decision.comment_hint') }),
    submit,
  );
  // Decide and open the next queue entry: her choice, remembered on this computer.
  const nextBox = h('input', {
    type: 'checkbox',
    id: nextId('next'),
    class: 'open-next',
    checked: globalThis.localStorage?.getItem(OPEN_NEXT_KEY) === '1',
  });
  nextBox.addEventListener('change', () =>
    globalThis.localStorage?.setItem(OPEN_NEXT_KEY, nextBox.checked ? '1' : '0'),
  );
  form.insertBefore(
    h('div', { class: 'field' }, h('label', { class: 'check', for: nextBox.id }, nextBox, t('decision.open_next'))),
    submit,
  );
  comment.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  page.shortcuts = {
    choose(value) {
      const input = form.querySelector(`input[name="${name}"][value="${value}"]`);
      if (!input || input.disabled) {
        (blockedNote ?? form).scrollIntoView({ block: 'nearest' });
        blockedNote?.focus?.();
        return;
      }
      input.checked = true;
      form.dispatchEvent(new Event('change'));
      const target =
        value === 'approve' && !alerts.length
          ? submit
          : value === 'approve'
            ? (ackBoxes[0]?.querySelector('input') ?? comment)
            : comment;
      target.focus();
      target.scrollIntoView({ block: 'nearest' });
    },
  };
  const chosen = () => form.querySelector(`input[name="${name}"]:checked`)?.value;
  form.addEventListener('change', () => {
    const d = chosen();
    consequence.classList.toggle('hidden', !(renewal && d === 'reject'));
    acknowledge?.classList.toggle('hidden', d !== 'approve');
    comment.required = d === 'approve' && alerts.length > 0;
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const decision = chosen();
    if (!decision) {
      formErrors(form, {
        detail: t('decision.pick_one'),
        errors: [{ field: 'decision', message: t('decision.pick_one') }],
      });
      return;
    }
    const body = { decision, comment: comment.value.trim() };
    const cons = form.querySelector(`input[name="${consequenceName}"]:checked`)?.value;
    if (renewal && decision === 'reject' && cons) body.consequence = cons;
    if (decision === 'approve' && alerts.length) {
      body.acknowledged_flags = ackBoxes
        .map((l) => l.querySelector('input'))
        .filter((c) => c.checked)
        .map((c) => c.value);
      if (body.acknowledged_flags.length < alerts.length) {
        formErrors(form, {
          detail: t('decision.ack_missing'),
          errors: [{ field: 'acknowledged_flags', message: t('decision.ack_missing') }],
        });
        return;
      }
    }
    submit.disabled = true;
    try {
      const d = await api.post(`/api/v1/inspections/${encodeURIComponent(ins.id)}/decision`, body);
      formErrors(form, null);
      page.statusSlot.replaceChildren(statusBadge(d.inspection_status));
      const done = d.awaiting_body
        ? t('decision.done_first', { other: t(`body.${d.awaiting_body}`) })
        : t(`decision.done_${d.decision}`);
      page.shortcuts = null;
      if (nextBox.checked && (await openNext(ctx, ins.id, t('decision.done_next', { done })))) return;
      form.replaceWith(h('p', { class: 'notice ok', role: 'status' }, done));
      claimButton.remove();
      claimInfo.remove();
      page.refreshHistory();
      if (d.decision !== 'return' && !d.awaiting_body) {
        const status = await starStatusCard(ins.village_id);
        result.append(status);
        status.scrollIntoView({ block: 'nearest' });
      }
    } catch (err) {
      formErrors(form, err);
      submit.disabled = false;
    }
  });
  if (!renewal) card.append(h('p', { class: 'small muted' }, t('decision.upgrade_note')));
  card.append(claimInfo, h('p', {}, claimButton), form, result);
  takeClaim();
  return card;
}

/** The admin's correction: reopen a decision of the last 30 days, with a reason. */
function reopenForm(ins, page) {
  const standing = standingDecision(ins);
  const wrap = h(
    'section',
    { class: 'reopen', 'aria-labelledby': 'reopen-h' },
    h('h3', { id: 'reopen-h' }, t('reopen.title')),
  );
  if (!standing || Date.now() - Date.parse(standing.decided_at) > REOPEN_DAYS * DAY_MS) {
    if (standing) wrap.append(h('p', { class: 'muted small' }, t('reopen.too_late')));
    return standing ? wrap : h('div', {});
  }
  const reason = h('textarea', { maxlength: '2000', rows: '3', required: true });
  const submit = h('button', { type: 'submit', class: 'danger' }, t('reopen.submit'));
  const form = h(
    'form',
    { class: 'reopen-form', novalidate: true },
    h('p', { class: 'small muted' }, t('reopen.intro')),
    field(t('reopen.reason'), reason, { name: 'reason', hint: t('reopen.reason_hint') }),
    submit,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = reason.value.trim();
    if (!text) {
      formErrors(form, {
        detail: t('reopen.reason_required'),
        errors: [{ field: 'reason', message: t('reopen.reason_required') }],
      });
      return;
    }
    submit.disabled = true;
    try {
      await api.post(`/api/v1/inspections/${encodeURIComponent(ins.id)}/reopen`, { reason: text });
      page.rerender(t('reopen.done'));
    } catch (err) {
      formErrors(form, err);
      submit.disabled = false;
    }
  });
  wrap.append(form);
  return wrap;
}

/** Cancelling an inspection that was never fully submitted (a second click confirms). */
function cancelPanel(ins, page) {
  const msg = h('div', { 'aria-live': 'polite' });
  const button = h(
    'button',
    {
      type: 'button',
      class: 'danger cancel-inspection',
      onclick: async () => {
        if (button.dataset.armed !== '1') {
          button.dataset.armed = '1';
          button.textContent = t('inspection.cancel_confirm');
          return;
        }
        button.disabled = true;
        try {
          await api.del(`/api/v1/inspections/${encodeURIComponent(ins.id)}`);
          page.rerender(t('inspection.cancelled'));
        } catch (err) {
          msg.replaceChildren(errorBox(err));
          button.disabled = false;
        }
      },
    },
    t('inspection.cancel'),
  );
  return h(
    'section',
    { class: 'cancel' },
    h('p', { class: 'small muted' }, t('inspection.cancel_hint')),
    h('p', {}, button),
    msg,
  );
}
