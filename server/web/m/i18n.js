// The app's words in Chinese (first) and English; templates bring their own labels.

export const WORDS = {
  zh: {
    flag_location_missing: '没有位置',
    flag_location_outside_geofence: '位置在村外',
    flag_location_low_accuracy: '定位精度差',
    flag_location_mock_suspected: '疑似虚拟定位',
    flag_photo_no_exif: '照片无元数据',
    flag_photo_gps_far: '照片位置偏远',
    flag_photo_time_outside_visit: '拍摄时间不符',
    flag_photo_duplicate: '重复照片',
    flag_photo_near_duplicate: '相似照片',
    flag_photo_edited: '照片经过编辑',
    flag_timing_clock_skew: '手机时间不准',
    flag_timing_too_fast: '用时过短',
    flag_other: '疑点',
    app: '星级验收',
    login: '登录',
    username: '用户名',
    password: '密码',
    logout: '退出',
    lang: 'English',
    online: '在线',
    offline: '离线',
    worklist: '待验收',
    none: '暂无',
    outbox: '提交记录',
    returned: '退回修改',
    inspect: '开始验收',
    revise: '修改后重新提交',
    level: (n) => `${n} 星`,
    quarter: '季度',
    renewal: '复核',
    upgrade: '升级申报',
    no_checklist: '该星级尚无发布的验收表',
    back: '返回',
    submit: '提交',
    saved: '已保存在手机上',
    required: '必填',
    yes: '是',
    no: '否',
    computed: '由服务器计算填写',
    photos: '照片',
    take_photo: '拍照',
    photos_min: (n) => `至少 ${n} 张`,
    remove: '删除',
    position: '位置',
    locating: '正在定位…',
    no_position: '无法获取位置',
    accuracy: (m) => `精度 ±${fmtM(m)}`,
    distance: (m) => `距村中心 ${fmtM(m)}`,
    poor_accuracy: (m) => `定位精度差（±${fmtM(m)}，超过 ${fmtM(100)}）`,
    outside_village: (d, r) => `不在村范围内：距村中心 ${fmtM(d)}，范围 ${fmtM(r)}`,
    state_draft: '草稿',
    state_queued: '等待发送',
    state_sending: '正在发送',
    state_sent: '已发送',
    state_error: '出错',
    retry: '重试',
    state_waiting_signal: '等待信号',
    sending_pct: (n) => `正在发送 ${n}%`,
    state_refused: '被拒绝',
    refused: (why) => `被拒绝：${why}`,
    state_retrying: '出错，稍后自动重试',
    insecure_title: '此地址无法使用验收应用',
    insecure_why: (origin) =>
      `应用是通过不加密的 http 地址（${origin}）从另一台机器打开的。浏览器在这种不安全的连接上禁止应用需要的功能：`,
    insecure_sw: '离线工作（Service Worker）：没有信号时无法打开应用、保存和稍后发送验收；',
    insecure_ids: '为验收和照片生成编号（crypto.randomUUID）：重发时服务器无法识别同一份验收；',
    insecure_position: '定位：无法记录验收时的位置。',
    insecure_ask:
      '请管理员为服务器配置 HTTPS（证书，或在前面加反向代理，见 docs/operations.md），然后用以 https 开头的地址打开。',
    insecure_try: '如果服务器已配置 HTTPS，请打开：',
    discard: '放弃',
    edit: '继续填写',
    flags: '疑点',
    status: '状态',
    score: '得分',
    revision: '版本',
    comment: '审核意见',
    fix_errors: '请先改正标出的问题',
    offline_copy: '离线副本',
    login_again: '请重新登录以发送',
    wrong_role: '此应用供验收人员使用',
    login_failed: '用户名或密码错误',
    network: '网络不可用',
    err_required: '必填',
    err_bool: '请选择是或否',
    err_number: '请输入数字',
    err_range: (lo, hi) => `须在 ${lo ?? '-∞'} 到 ${hi ?? '∞'} 之间`,
    err_choice: '请选择一项',
    err_multi: '选项无效',
    err_twice: '重复选择',
    err_multi_required: '至少选择一项',
    err_text_long: (n) => `最多 ${n} 个字`,
    err_string: '请输入文字',
    err_hidden: '该项已隐藏，不应作答',
    err_photos_min: (n, got) => `至少需要 ${n} 张照片（现有 ${got} 张）`,
    err_photo_hidden: '该项已隐藏，照片不会提交',
    not_a_photo: '只能添加 JPEG、PNG 或 WebP 照片',
    chars: (n, max) => `${n}/${max}`,
    status_awaiting_photos: '等待照片',
    status_submitted: '已提交',
    status_approved: '已通过',
    status_rejected: '未通过',
    status_returned: '已退回',
    status_cancelled: '已取消',
    decided: '审核结果',
    decided_by: (who, when) => `${who}，${when}`,
    consequence: '处理',
    consequence_downgrade: '降级',
    consequence_revoke: '取消资格',
    decision_approve: '通过',
    decision_reject: '不通过',
    decision_return: '退回验收员',
    reopened: (who, reason) => `已撤销（${who}）：${reason}`,
    cancel: '取消这次验收',
    cancel_confirm: '确定取消这次验收？申报回到待验收，已上传的照片保留在服务器上。',
    cancel_yes: '确定取消',
    cancel_no: '不取消',
    cancelled: '已取消这次验收。',
    err_outside_window: '不在本季验收期内：这份申报的验收期未开始或已结束，服务器不接收。请联系县审核员。',
    err_checklist_version: '验收表已有新版本，旧版本不再接收。请按新版本重新填写。',
    err_declaration_inspected: '这份申报已有别人正在验收。',
    err_awaiting_township: '这份申报还在等待乡镇初审，转报县里后才能验收。请联系乡镇。',
    use_new_version: '按新版本重新填写',
    progress: (done, total) => `必填项已完成 ${done}/${total}`,
    section_progress: (done, total) => `${done}/${total}`,
    summary_title: '提交前核对',
    summary_missing: '未完成的必填项',
    summary_failing: '不合格的项目',
    summary_fix: '要改正的回答',
    rule_is: (v) => `合格：${v}`,
    rule_between: (lo, hi) => `合格：${lo}–${hi}`,
    rule_min: (n) => `合格：至少 ${n}`,
    rule_max: (n) => `合格：至多 ${n}`,
    summary_no_missing: '必填项都已完成。',
    summary_no_failing: '没有不合格的项目。',
    summary_failing_hint: '这些项目按验收表的规则不合格，会计入得分和验收结果。',
    summary_blocked: '还有未完成的必填项或要改正的问题，服务器不会接收。点项目名称可直接跳过去。',
    missing_answer: '未回答',
    missing_photos: (n) => `照片不够（至少 ${n} 张）`,
    confirm_submit: '确认提交',
    keep_editing: '返回修改',
    remove_confirm: '删除这张照片？',
    remove_yes: '确认删除',
    remove_no: '取消',
    discard_confirm: '放弃这次验收？手机上的回答和照片都会删除，无法恢复。',
    discard_yes: '确认放弃',
    discard_no: '不放弃',
    photo_label: (item, n) => `${item}：第 ${n} 张照片`,
    exif_old: (n, when) => `第 ${n} 张照片的拍摄时间是 ${when}，与现在相差超过一天。是旧照片吗？`,
    exif_far_phone: (n, d) => `第 ${n} 张照片的拍摄位置距手机现在的位置 ${fmtM(d)}（超过 5 公里）。是在别处拍的吗？`,
    exif_far_village: (n, d) => `第 ${n} 张照片的拍摄位置距村中心 ${fmtM(d)}（超过 5 公里）。是在别处拍的吗？`,
  },
  en: {
    flag_location_missing: 'No position',
    flag_location_outside_geofence: 'Outside the village',
    flag_location_low_accuracy: 'Poor position accuracy',
    flag_location_mock_suspected: 'Mock location suspected',
    flag_photo_no_exif: 'Photo without metadata',
    flag_photo_gps_far: 'Photo taken far away',
    flag_photo_time_outside_visit: 'Photo time outside the visit',
    flag_photo_duplicate: 'Duplicate photo',
    flag_photo_near_duplicate: 'Near-duplicate photo',
    flag_photo_edited: 'Edited photo',
    flag_timing_clock_skew: 'Phone clock is off',
    flag_timing_too_fast: 'Implausibly fast',
    flag_other: 'Flag',
    app: 'Star inspections',
    login: 'Log in',
    username: 'Username',
    password: 'Password',
    logout: 'Log out',
    lang: '中文',
    online: 'Online',
    offline: 'Offline',
    worklist: 'To inspect',
    none: 'Nothing here',
    outbox: 'Sent from this phone',
    returned: 'Returned for changes',
    inspect: 'Inspect',
    revise: 'Revise and resubmit',
    level: (n) => `${n} ${n === 1 ? 'star' : 'stars'}`,
    quarter: 'Quarter',
    renewal: 'renewal',
    upgrade: 'upgrade',
    no_checklist: 'No published checklist for this level yet',
    back: 'Back',
    submit: 'Submit',
    saved: 'Saved on this phone',
    required: 'required',
    yes: 'Yes',
    no: 'No',
    computed: 'filled by the server',
    photos: 'Photos',
    take_photo: 'Take photo',
    photos_min: (n) => `at least ${n}`,
    remove: 'Remove',
    position: 'Position',
    locating: 'Finding position…',
    no_position: 'No position available',
    accuracy: (m) => `accuracy ±${fmtM(m)}`,
    distance: (m) => `${fmtM(m)} from the village centre`,
    poor_accuracy: (m) => `Poor accuracy (±${fmtM(m)}, worse than ${fmtM(100)})`,
    outside_village: (d, r) => `Outside the village: ${fmtM(d)} from its centre, radius ${fmtM(r)}`,
    state_draft: 'draft',
    state_queued: 'waiting',
    state_sending: 'sending',
    state_sent: 'sent',
    state_error: 'error',
    retry: 'Retry',
    state_waiting_signal: 'waiting for signal',
    sending_pct: (n) => `sending ${n} %`,
    state_refused: 'refused',
    refused: (why) => `refused: ${why}`,
    state_retrying: 'error; will retry by itself',
    insecure_title: 'The inspection app cannot work at this address',
    insecure_why: (origin) =>
      `The app was opened from another machine over plain, unencrypted http (${origin}). On such an insecure connection the browser withholds what the app needs:`,
    insecure_sw:
      'working offline (service worker): without signal the app could not open, keep inspections or send them later;',
    insecure_ids:
      'making ids for inspections and photos (crypto.randomUUID): the server could not recognise a resent inspection;',
    insecure_position: 'the position: the inspection could not record where it was made.',
    insecure_ask:
      'Ask the administrator to set up HTTPS for the server (a certificate, or a reverse proxy in front; see docs/operations.md), then open the address that starts with https.',
    insecure_try: 'If the server already has HTTPS, open:',
    discard: 'Discard',
    edit: 'Continue',
    flags: 'Flags',
    status: 'Status',
    score: 'Score',
    revision: 'Revision',
    comment: "Reviewer's comment",
    fix_errors: 'Fix the marked problems first',
    offline_copy: 'offline copy',
    login_again: 'Log in again to send',
    wrong_role: 'This app is for inspectors',
    login_failed: 'Wrong username or password',
    network: 'Network unreachable',
    err_required: 'required',
    err_bool: 'choose yes or no',
    err_number: 'enter a number',
    err_range: (lo, hi) => `must be between ${lo ?? '-∞'} and ${hi ?? '∞'}`,
    err_choice: 'choose one option',
    err_multi: 'invalid options',
    err_twice: 'chosen twice',
    err_multi_required: 'choose at least one option',
    err_text_long: (n) => `at most ${n} characters`,
    err_string: 'enter text',
    err_hidden: 'hidden; must not be answered',
    err_photos_min: (n, got) => `needs at least ${n} ${n === 1 ? 'photo' : 'photos'}, has ${got}`,
    err_photo_hidden: 'hidden: its photos are not sent',
    not_a_photo: 'Only JPEG, PNG or WebP photos can be added',
    chars: (n, max) => `${n}/${max}`,
    status_awaiting_photos: 'awaiting photos',
    status_submitted: 'submitted',
    status_approved: 'approved',
    status_rejected: 'rejected',
    status_returned: 'returned',
    status_cancelled: 'cancelled',
    decided: 'Decisions',
    decided_by: (who, when) => `${who}, ${when}`,
    consequence: 'Consequence',
    consequence_downgrade: 'downgrade',
    consequence_revoke: 'revoke',
    decision_approve: 'approved',
    decision_reject: 'rejected',
    decision_return: 'returned to the inspector',
    reopened: (who, reason) => `Reopened by ${who}: ${reason}`,
    cancel: 'Cancel this inspection',
    cancel_confirm:
      'Really cancel this inspection? The declaration goes back to the worklist; photos already uploaded stay on the server.',
    cancel_yes: 'Yes, cancel it',
    cancel_no: 'Keep it',
    cancelled: 'Inspection cancelled.',
    err_outside_window:
      "Outside the quarter's verification window: this declaration's window has not opened or has closed, so the server refuses it. Ask a county reviewer.",
    err_checklist_version:
      'The checklist has a newer version and the old one is no longer accepted. Fill in the new version.',
    err_declaration_inspected: 'Someone else is already inspecting this declaration.',
    err_awaiting_township:
      "This declaration is still awaiting its township's check; it can be inspected once forwarded to the county. Ask the township.",
    use_new_version: 'Fill in the new version',
    progress: (done, total) => `${done} of ${total} required items done`,
    section_progress: (done, total) => `${done}/${total}`,
    summary_title: 'Check before submitting',
    summary_missing: 'Required items not done',
    summary_failing: 'Failing items',
    summary_fix: 'Answers to fix',
    rule_is: (v) => `passes with: ${v}`,
    rule_between: (lo, hi) => `passes with ${lo}–${hi}`,
    rule_min: (n) => `passes with at least ${n}`,
    rule_max: (n) => `passes with at most ${n}`,
    summary_no_missing: 'Every required item is done.',
    summary_no_failing: 'No failing item.',
    summary_failing_hint: "These items fail the checklist's rules; they count against the score and the result.",
    summary_blocked:
      'Required items are not done or answers need fixing: the server would refuse it. Tap an item to go to it.',
    missing_answer: 'not answered',
    missing_photos: (n) => `photos missing (at least ${n})`,
    confirm_submit: 'Submit now',
    keep_editing: 'Keep editing',
    remove_confirm: 'Remove this photo?',
    remove_yes: 'Yes, remove',
    remove_no: 'Cancel',
    discard_confirm: 'Discard this inspection? Its answers and photos on this phone are deleted for good.',
    discard_yes: 'Yes, discard',
    discard_no: 'Keep it',
    photo_label: (item, n) => `${item}: photo ${n}`,
    exif_old: (n, when) => `Photo ${n} was taken ${when}, more than a day from now. Is it an old photo?`,
    exif_far_phone: (n, d) =>
      `Photo ${n} was taken ${fmtM(d)} from where the phone is now (more than 5 km). Was it taken elsewhere?`,
    exif_far_village: (n, d) =>
      `Photo ${n} was taken ${fmtM(d)} from the village centre (more than 5 km). Was it taken elsewhere?`,
  },
};

/** A distance in metres: 米/公里 in Chinese, m/km in English (the glossary's units). */
export function fmtM(m) {
  const zh = lang === 'zh';
  return m >= 1000 ? `${(m / 1000).toFixed(1)} ${zh ? '公里' : 'km'}` : `${Math.round(m)} ${zh ? '米' : 'm'}`;
}

/** A size in bytes: "850 KB", "3.2 MB" (the same units in both languages). */
export function fmtBytes(n) {
  const b = Math.max(0, Number(n) || 0);
  if (b >= 1024 * 1024) return `${(b / (1024 * 1024)).toFixed(1)} MB`;
  return `${Math.round(b / 1024)} KB`;
}

/** A quarter ("2026-Q4") as "2026年第4季度" / "Q4 2026". */
export function fmtQuarter(q) {
  const m = /^(\d{4})-Q([1-4])$/.exec(q ?? '');
  if (!m) return q ?? '';
  return lang === 'zh' ? `${m[1]}年第${m[2]}季度` : `Q${m[2]} ${m[1]}`;
}

/** A duration in seconds: 分钟/小时/天 in Chinese, min/h/d in English. */
export function fmtDuration(seconds) {
  const s = Math.max(0, Math.round(Number(seconds) || 0));
  const [d, h, min] = [Math.floor(s / 86400), Math.floor((s % 86400) / 3600), Math.floor((s % 3600) / 60)];
  const u = lang === 'zh' ? [' 天', ' 小时', ' 分钟'] : [' d', ' h', ' min'];
  if (d) return `${d}${u[0]} ${h}${u[1]}`;
  if (h) return `${h}${u[1]} ${min}${u[2]}`;
  return `${min}${u[2]}`;
}

let lang = (typeof localStorage !== 'undefined' && localStorage.getItem('fieldstar.lang')) || 'zh';

export const language = () => lang;
export function setLanguage(l) {
  lang = l === 'en' ? 'en' : 'zh';
  localStorage.setItem('fieldstar.lang', lang);
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
}

/** A word, or a phrase built from arguments. */
export function t(key, ...args) {
  const w = WORDS[lang][key] ?? WORDS.en[key] ?? key;
  return typeof w === 'function' ? w(...args) : w;
}

/** A flag code's name (never the raw code). */
export function flagName(code) {
  const key = `flag_${String(code).replace(/\./g, '_')}`;
  return key in WORDS[lang] ? WORDS[lang][key] : t('flag_other');
}

/** A template label ({zh, en}) in the current language. */
export const label = (l) => (l ? l[lang] || l.zh || l.en : '');

/** A date and time in the current language. */
export function fmtTime(iso) {
  if (!iso) return '';
  return new Intl.DateTimeFormat(lang === 'zh' ? 'zh-CN' : 'en-GB', {
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
  }).format(new Date(iso));
}

/** A validation error from checklist.js in the current language (English: the server's words). */
export function errorText(e) {
  if (lang === 'en') return e.message;
  switch (e.rule) {
    case 'range':
      return t('err_range', e.min, e.max);
    case 'text_long':
      return t('err_text_long', e.limit);
    case 'photos_min':
      return t('err_photos_min', e.min, e.got);
    default:
      return WORDS.zh[`err_${e.rule}`] ? t(`err_${e.rule}`) : e.message;
  }
}
