// "My decisions": what the reviewer decided, approved for her body (one approval of two) or
// returned, with each inspection's present state — a returned inspection no longer just
// disappears from her sight. Paged with the server's cursor.

import * as api from '../api.js';
import { h } from '../dom.js';
import { t, fmtDateTime } from '../i18n.js';
import { title, loading, empty, statusBadge, pager, table } from '../ui.js';
import { groupChips } from './inspection.js';

export async function myDecisionsView(root) {
  root.append(title(t('decided.title')), h('p', { class: 'muted' }, t('decided.intro')));
  const list = table(
    [
      { label: t('queue.village') },
      { label: t('decided.mine') },
      { label: t('decided.when') },
      { label: t('decided.comment') },
      { label: t('decided.now') },
      { label: t('queue.flags') },
    ],
    { caption: t('decided.title') },
  );
  const status = h('div', {}, loading());
  root.append(status, list.el);
  list.el.classList.add('hidden');
  let count = 0;
  const more = pager(async (cursor) => {
    const page = await api.get(`/api/v1/inspections${api.qs({ decided_by: 'me', cursor, limit: 50 })}`);
    const items = [...page.items].sort((a, b) =>
      (b.my_decision?.decided_at ?? '').localeCompare(a.my_decision?.decided_at ?? ''),
    );
    for (const x of items) {
      const d = x.my_decision ?? {};
      count += 1;
      const mine = d.approval_only ? t('decided.approval_only') : t(`decision.${d.decision}`);
      list.body.append(
        list.row(
          [
            [
              h('a', { href: `#/inspection/${x.id}` }, d.village_name || x.village_id),
              h('div', { class: 'muted small' }, d.village_code ?? ''),
            ],
            h(
              'span',
              {
                class: [
                  'badge',
                  `status-${d.decision === 'approve' ? 'approved' : d.decision === 'reject' ? 'rejected' : 'returned'}`,
                ],
              },
              mine,
            ),
            h('span', { class: 'nowrap' }, d.decided_at ? fmtDateTime(d.decided_at) : '—'),
            d.comment ? h('span', { class: 'small' }, d.comment) : h('span', { class: 'muted' }, '—'),
            [
              statusBadge(x.status),
              x.revision > (d.revision ?? x.revision)
                ? h('div', { class: 'muted small' }, t('decided.new_revision', { n: x.revision }))
                : null,
            ],
            x.flags.length ? groupChips(x.flags) : h('span', { class: 'muted' }, t('queue.no_flags')),
          ],
          { dataset: { inspection: x.id } },
        ),
      );
    }
    status.replaceChildren(
      count
        ? h('p', { class: 'muted', role: 'status' }, t('decided.count', { n: count }), page.next_cursor ? '+' : '')
        : empty(t('decided.empty')),
    );
    list.el.classList.toggle('hidden', count === 0);
    return page.next_cursor;
  });
  root.append(more.el);
  await more.start();
  if (status.querySelector('.loading')) status.replaceChildren();
}
