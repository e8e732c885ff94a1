// One inspection for review: answers beside the checklist items, photos (thumbnail → display →
// original, fetched with the token and shown as blob: URLs), each flag explained, claim and decide.

import * as api from '../api.js';
import { h, append, field, nextId } from '../dom.js';
import { t, label, flagName, fmtDateTime, fmtDuration, fmtNumber } from '../i18n.js';
import { title, loading, stars, severityBadge, statusBadge, errorBox, formErrors, percent } from '../ui.js';
import { seen } from './queue.js';
import { starStatusCard } from './villages.js';

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
      return (Array.isArray(value) ? value : []).map((v) => label(item.options?.find((o) => o.id === v)?.label) || v).join('、') || '—';
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
  if ('equals' in p) return t('inspection.rule_equals', { v: p.equals === true ? t('common.yes') : p.equals === false ? t('common.no') : p.equals });
  if ('in' in p) return t('inspection.rule_in', { v: p.in.map((id) => label(item.options?.find((o) => o.id === id)?.label) || id).join('、') });
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
    api.blobUrl(`/api/v1/photos/${encodeURIComponent(photoId)}?size=${size}`)
      .then((url) => { el.src = ctx.keepBlob(url); })
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
        photo.lat !== undefined ? t('photo.position', { lat: fmtNumber(photo.lat, 5), lon: fmtNumber(photo.lon, 5) }) : t('photo.no_position'),
      ].filter(Boolean).join(' · ');
      const original = h('button', { type: 'button', onclick: () => {
        holder.replaceChildren(img(photo.id, 'original', itemLabel));
        original.disabled = true;
      } }, t('photo.original'));
      body.replaceChildren(
        h('div', { class: 'dialog-head' }, h('h2', {}, itemLabel), closeButton()),
        holder, h('p', { class: 'muted small' }, meta), h('p', {}, original));
      dialog.showModal();
    },
    compare(photo, other, itemLabel) {
      body.replaceChildren(
        h('div', { class: 'dialog-head' }, h('h2', {}, t('photo.compare')), closeButton()),
        h('div', { class: 'side-by-side' },
          h('figure', {}, img(photo.id, 'display', itemLabel), h('figcaption', {}, t('photo.this_inspection'))),
          h('figure', {}, img(other.photoId, 'display', t('photo.other_inspection')), h('figcaption', {},
            t('photo.other_inspection'), ' · ', h('a', { href: `#/inspection/${other.inspectionId}`, onclick: () => dialog.close() }, t('photo.open_other'))))));
      dialog.showModal();
    },
  };
}

export async function inspectionView(root, ctx) {
  const id = ctx.params.id;
  root.append(h('p', {}, h('a', { href: '#/queue' }, '← ', t('nav.queue'))), loading());
  const ins = await api.get(`/api/v1/inspections/${encodeURIComponent(id)}`);
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
    h('div', { class: 'ins-head' },
      title(village?.name ?? entry?.village?.name ?? t('inspection.title')),
      stars(declaration?.star_level ?? entry?.declared_level ?? template.star_level),
      declaration ? h('span', { class: 'badge' }, t(`kind.${declaration.kind}`)) : null,
      statusSlot),
    h('dl', { class: 'facts' },
      fact(t('inspection.village_code'), village?.code ?? '—'),
      fact(t('inspection.quarter'), declaration?.quarter ?? entry?.quarter ?? '—'),
      fact(t('inspection.checklist'), `${label(template.title)} v${template.version}`),
      fact(t('inspection.score'), [fmtNumber(ins.score, 1), ' ', h('span', { class: ['badge', ins.passed ? 'pass' : 'fail'] }, ins.passed ? t('common.passed') : t('common.failed'))]),
      fact(t('inspection.submitted_at'), ins.submitted_at ? fmtDateTime(ins.submitted_at) : '—'),
      fact(t('inspection.visit'), t('inspection.visit_span', { start: fmtDateTime(ins.started_at), minutes: fmtNumber((Date.parse(ins.client_submitted_at) - Date.parse(ins.started_at)) / 60000, 0) })),
      fact(t('inspection.location'), ins.location ? t('inspection.location_value', { lat: fmtNumber(ins.location.lat, 5), lon: fmtNumber(ins.location.lon, 5), acc: fmtNumber(ins.location.accuracy_m, 0) }) : t('inspection.no_location')),
      fact(t('inspection.revision'), String(ins.revision)),
      entry?.waiting_seconds !== undefined && ins.status === 'submitted' ? fact(t('queue.waiting'), fmtDuration(entry.waiting_seconds)) : null),
    ins.return_comment ? h('p', { class: 'notice info' }, t('inspection.return_comment', { comment: ins.return_comment })) : null]);

  // The checklist with the answers beside each item.
  const checklist = h('section', { class: 'card', 'aria-labelledby': 'checklist-h' }, h('h2', { id: 'checklist-h' }, t('inspection.checklist_answers')));
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
      list.append(h('div', { class: ['checklist-item', visible ? '' : 'hidden-item'], dataset: { item: item.id } },
        h('div', {}, h('div', { class: 'label' }, itemLabel),
          h('div', { class: 'muted small' }, [
            item.required ? t('inspection.required') : null,
            rule,
            item.photos_min ? t('inspection.photos_min', { n: item.photos_min }) : null,
            item.weight ? t('inspection.weight', { n: item.weight }) : null,
          ].filter(Boolean).join(' · '))),
        h('div', { class: 'answer' }, visible ? (item.kind === 'photo' ? t('inspection.photo_count', { n: photos.length }) : formatAnswer(item, value)) : '—'),
        h('div', {}, verdict),
        photos.length ? h('div', { class: 'photos' }, h('div', { class: 'thumbs' }, photos.map((p, i) => thumb(p, i, itemLabel)))) : null));
    }
    checklist.append(list);
  }

  function thumb(photo, i, itemLabel) {
    const name = t('photo.thumb_label', { item: itemLabel, n: i + 1 });
    const button = h('button', { type: 'button', class: ['thumb', flaggedPhotos.has(photo.id) ? 'flagged' : ''], 'aria-label': name, dataset: { photo: photo.id }, onclick: () => viewer.show(photo, itemLabel) });
    if (!photo.received) {
      button.append(h('span', { class: 'muted small' }, t('photo.missing')));
      button.disabled = true;
      return button;
    }
    api.blobUrl(`/api/v1/photos/${encodeURIComponent(photo.id)}?size=thumb`)
      .then((url) => button.append(h('img', { src: ctx.keepBlob(url), alt: '' })))
      .catch(() => button.append(h('span', { class: 'muted small' }, t('photo.failed'))));
    return button;
  }

  // Flags, each explained, with the photo or the other inspection one click away.
  const flagsCard = h('section', { class: 'card', 'aria-labelledby': 'flags-h' }, h('h2', { id: 'flags-h' }, t('inspection.flags', { n: ins.flags.length })));
  if (!ins.flags.length) flagsCard.append(h('p', { class: 'muted' }, t('inspection.no_flags')));
  const flagList = h('ul', { class: 'flag-list' });
  for (const f of ins.flags) {
    const photo = f.photo_id ? ins.photos.find((p) => p.id === f.photo_id) : null;
    const dup = f.code === 'photo.duplicate' || f.code === 'photo.near_duplicate' ? duplicateOf(f) : null;
    const itemLabel = f.item ? itemLabels.get(f.item) ?? f.item : null;
    flagList.append(h('li', { dataset: { flag: f.code } },
      h('div', {}, severityBadge(f.severity), ' ', h('span', { class: 'what' }, flagName(f.code))),
      h('p', { class: 'small' }, t(`flag.${f.code}.why`)),
      h('p', { class: 'small muted' }, t('inspection.flag_detail'), ' ', h('span', { lang: 'en' }, f.detail)),
      itemLabel ? h('p', { class: 'small' }, t('inspection.flag_item', { item: itemLabel })) : null,
      h('p', { class: 'small' },
        photo ? h('button', { type: 'button', class: 'link', onclick: () => viewer.show(photo, itemLabel ?? '') }, t('inspection.view_photo')) : null,
        dup ? [' · ', h('a', { href: `#/inspection/${dup.inspectionId}` }, t('inspection.other_inspection')),
          photo ? [' · ', h('button', { type: 'button', class: 'link', onclick: () => viewer.compare(photo, dup, itemLabel ?? '') }, t('photo.compare'))] : null] : null)));
  }
  flagsCard.append(flagList);

  const side = h('div', { class: 'ins-side' }, decisionCard(ins, declaration, entry, ctx, statusSlot), flagsCard);
  root.append(h('div', { class: 'ins-layout' }, checklist, side));
}

function fact(dt, dd) {
  return [h('div', {}, h('dt', {}, dt), h('dd', {}, dd))];
}

function decisionCard(ins, declaration, entry, ctx, statusSlot) {
  const card = h('section', { class: 'card', 'aria-labelledby': 'decide-h' }, h('h2', { id: 'decide-h' }, t('decision.title')));
  const result = h('div', { 'aria-live': 'polite' });
  if (ins.status !== 'submitted') {
    card.append(h('p', {}, t('decision.not_open', { status: t(`status.${ins.status}`) })), result);
    if (ins.status === 'approved' || ins.status === 'rejected') {
      starStatusCard(ins.village_id).then((c) => result.append(c));
    }
    return card;
  }
  const me = ctx.me.id;
  const holder = entry?.claimed_by;
  const claimInfo = h('p', { class: 'small', role: 'status' },
    holder ? t(holder.id === me ? 'decision.claimed_by_you' : 'decision.claimed_by', { user: holder.username, time: fmtDateTime(holder.until) })
      : t(entry ? 'decision.unclaimed' : 'decision.claim_hint'));
  const claimButton = h('button', { type: 'button', onclick: async () => {
    claimButton.disabled = true;
    try {
      const c = await api.post(`/api/v1/inspections/${encodeURIComponent(ins.id)}/claim`);
      claimInfo.textContent = t('decision.claimed_by_you', { time: fmtDateTime(c.claim_expires_at) });
      claimButton.textContent = t('decision.renew_claim');
      result.replaceChildren();
    } catch (err) {
      result.replaceChildren(errorBox(err));
    }
    claimButton.disabled = false;
  } }, holder?.id === me ? t('decision.renew_claim') : t('decision.claim'));

  const renewal = declaration?.kind === 'renewal';
  const name = nextId('decision');
  const radio = (value, text, group = name) => {
    const id = nextId('r');
    return h('label', { class: 'check', for: id }, h('input', { type: 'radio', name: group, id, value }), text);
  };
  const consequenceName = nextId('consequence');
  const consequence = h('div', { class: 'field consequence hidden', dataset: { field: 'consequence' } },
    h('fieldset', {}, h('legend', {}, t('decision.consequence')),
      h('div', { class: 'radio-row' }, radio('downgrade', t('decision.downgrade'), consequenceName), radio('revoke', t('decision.revoke'), consequenceName))),
    h('span', { class: 'field-error' }));
  const comment = h('textarea', { maxlength: '2000', rows: '4' });
  const submit = h('button', { type: 'submit', class: 'primary' }, t('decision.submit'));
  const form = h('form', { class: 'decision-form', novalidate: true },
    h('div', { class: 'field', dataset: { field: 'decision' } },
      h('fieldset', {}, h('legend', {}, t('decision.choose')),
        h('div', { class: 'radio-row' }, radio('approve', t('decision.approve')), radio('reject', t('decision.reject')), radio('return', t('decision.return')))),
      h('span', { class: 'field-error' })),
    consequence,
    field(t('decision.comment'), comment, { name: 'comment', hint: t('decision.comment_hint') }),
    submit);
  form.addEventListener('change', () => {
    const d = form.querySelector(`input[name="${name}"]:checked`)?.value;
    consequence.classList.toggle('hidden', !(renewal && d === 'reject'));
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const decision = form.querySelector(`input[name="${name}"]:checked`)?.value;
    if (!decision) {
      formErrors(form, { detail: t('decision.pick_one'), errors: [{ field: 'decision', message: t('decision.pick_one') }] });
      return;
    }
    const body = { decision, comment: comment.value.trim() };
    const cons = form.querySelector(`input[name="${consequenceName}"]:checked`)?.value;
    if (renewal && decision === 'reject' && cons) body.consequence = cons;
    submit.disabled = true;
    try {
      const d = await api.post(`/api/v1/inspections/${encodeURIComponent(ins.id)}/decision`, body);
      formErrors(form, null);
      statusSlot.replaceChildren(statusBadge(d.inspection_status));
      form.replaceWith(h('p', { class: 'notice ok', role: 'status' }, t(`decision.done_${d.decision}`)));
      claimButton.remove();
      claimInfo.remove();
      if (d.decision !== 'return') {
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
  return card;
}
