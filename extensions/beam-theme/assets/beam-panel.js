/* Beam rewards panel core: strings, helpers, the app-proxy JSON API, actions and the dialog
   (focus trap, Escape, focus return). Views live in beam-panel-views.js (Beam.views). Loaded on
   demand by beam-launcher.js, which owns window.Beam (config, shadow root, launcher button). */
(function () {
  var B = window.Beam, d = document;
  if (!B || B.panel) return;
  var c = B.cfg, sr = B.root, lang = (c.locale || 'en').slice(0, 2).toLowerCase();
  var EN = {
    title: 'Rewards', close: 'Close', loading: 'Loading…', error: 'Something went wrong. Please try again.',
    guest_title: 'Join our rewards program', guest_body: 'Earn points every time you shop and turn them into rewards.',
    sign_up: 'Join now', have_account: 'Already a member?', log_in: 'Log in',
    balance: 'Your balance', points: '{n} points', point: '{n} point', pending: '{n} pending until {date}',
    earn: 'Ways to earn', redeem_title: 'Ways to redeem', done: 'Done', redeem: 'Redeem', redeeming: 'Redeeming…',
    need: '{n} more points needed', min: 'Orders over {v}', use_points: 'Points to use', worth: 'Worth {v}',
    your_rewards: 'Your rewards', code: 'Code', copy: 'Copy', copied: 'Copied!', apply: 'Apply to cart',
    cancel: 'Cancel', cancelled: 'Reward cancelled, your points are back.', redeemed: 'Your reward is ready: {code}',
    expires: 'Expires {date}', s_pending: 'Processing…', s_failed: 'This reward could not be created.',
    confirm_q: 'Spend {n} on this reward?', confirm: 'Confirm', keep: 'Not now',
    applied_empty: 'Your cart is empty. Code {code} is saved and applies at checkout.',
    activity: 'Activity', empty: 'No activity yet.', more: 'Show more'
  };
  Object.assign(EN, B.en); // the texts of beam-panel-tiers, -earn and -referrals.js
  var T = Object.assign({}, EN, B.i18n[lang]);
  var S = { hist: [], next: null, fresh: null, busy: {}, vals: {} }, open = 0, loadErr = 0;

  function t(k, o) {
    return String(T[k] == null ? k : T[k]).replace(/\{(\w+)\}/g, function (m, x) { return o && o[x] != null ? o[x] : m; });
  }
  function num(n) { return new Intl.NumberFormat(c.locale || 'en').format(n); }
  function pts(n) { return t(n === 1 ? 'point' : 'points', { n: num(n) }); }
  function money(v, cur) {
    try { return new Intl.NumberFormat(c.locale || 'en', { style: 'currency', currency: cur }).format(+v); } catch (e) { return v + ' ' + cur; }
  }
  function day(iso) {
    var x = new Date(iso);
    return isNaN(x) ? '' : x.toLocaleDateString(c.locale || 'en', { day: 'numeric', month: 'short', year: 'numeric' });
  }
  function safe(u, f) { return /^(\/(?!\/)|https:\/\/)/.test(u || '') ? u : f; }
  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    var a = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(a, function (b) { return (b + 256).toString(16).slice(1); }).join('');
  }
  var sleep = function (ms) { return new Promise(function (r) { setTimeout(r, ms); }); };

  function h(tag, p, kids) {
    var el = d.createElement(tag);
    for (var k in p || {}) {
      var v = p[k];
      if (v == null || v === false) continue;
      if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
      else if (k === 'text') el.textContent = v;
      else el.setAttribute(k === 'cls' ? 'class' : k, v === true ? '' : v);
    }
    [].concat(kids == null ? [] : kids).forEach(function (x) { if (x != null && x !== false) el.append(x); });
    return el;
  }
  function icon(p) {
    var s = d.createElementNS('http://www.w3.org/2000/svg', 'svg');
    s.setAttribute('viewBox', '0 0 24 24');
    s.setAttribute('aria-hidden', 'true');
    s.innerHTML = '<path d="' + p + '" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"/>';
    return s;
  }

  async function api(path, body) {
    var o = { credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body) { o.method = 'POST'; o.headers['Content-Type'] = 'application/json'; o.body = JSON.stringify(body); }
    var r = await fetch(c.proxy + path, o), j = null;
    try { j = await r.json(); } catch (e) { /* not JSON */ }
    if (!r.ok) {
      var e = new Error((j && j.error && j.error.message) || t('error'));
      e.status = r.status;
      e.code = j && j.error && j.error.code;
      throw e;
    }
    return j;
  }
  async function retry(f) {
    for (var i = 0; ; i++) {
      try { return await f(); } catch (e) { if ((e.status && e.status < 500) || i > 1) throw e; await sleep(400 * (i + 1)); }
    }
  }
  function say(msg, bad) { live.textContent = ''; live.className = 'live' + (bad ? ' bad' : ''); setTimeout(function () { live.textContent = msg; }, 30); }

  async function loadMe(page) {
    if (!c.customer) { S.me = { member: null }; return; }
    var j = await api('/api/me' + (page ? '?page=' + encodeURIComponent(page) : ''));
    if (!page) { S.me = j; S.hist = []; }
    if (j.history) { S.hist = S.hist.concat(j.history.entries || []); S.next = j.history.next_page; }
  }
  async function refresh() {
    try {
      var p = S.prog ? null : api('/api/program').then(function (j) { S.prog = j; });
      await Promise.all([p, loadMe()]);
      T = Object.assign({}, EN, B.i18n[lang], S.prog.branding && S.prog.branding.panel_title ? { title: S.prog.branding.panel_title } : {}, (S.prog.texts || {})[lang]);
      loadErr = 0;
    } catch (e) { loadErr = 1; say(e.message, 1); }
  }

  async function redeem(rw) {
    if (S.busy[rw.id]) return;
    S.busy[rw.id] = 1;
    draw();
    var body = { reward_id: rw.id, client_key: uuid() };
    if (rw.variable) body.points = S.vals[rw.id];
    try {
      var red = (await retry(function () { return api('/api/redeem', body); })).redemption;
      for (var i = 0; red.status === 'pending' && i < 10; i++) {
        await sleep(250 * (i + 1));
        red = (await api('/api/redemptions/' + encodeURIComponent(red.id))).redemption;
      }
      if (red.status === 'failed') throw new Error(t('s_failed'));
      S.fresh = red.id;
      await loadMe();
      say(red.code ? t('redeemed', { code: red.code }) : t('s_pending'));
    } catch (e) { say(e.message, 1); }
    S.busy[rw.id] = 0;
    draw(S.fresh ? 'copy-' + S.fresh : 'r-' + rw.id);
  }
  async function cancel(rd) {
    S.busy[rd.id] = 1;
    draw();
    try {
      await api('/api/redemptions/' + encodeURIComponent(rd.id) + '/cancel', {});
      await loadMe();
      say(t('cancelled'));
    } catch (e) { say(e.message, 1); }
    S.busy[rd.id] = 0;
    draw('first');
  }
  async function copy(rd, b) {
    try { await navigator.clipboard.writeText(rd.code); b.textContent = t('copied'); say(t('copied')); } catch (e) { say(rd.code); }
  }
  async function apply(e, rd, root) {
    var href = e.currentTarget.href;
    e.preventDefault();
    try {
      var cart = await fetch(root + 'cart.js', { credentials: 'same-origin' }).then(function (r) { return r.ok ? r.json() : null; });
      if (cart && cart.item_count === 0) { await fetch(href, { credentials: 'same-origin' }); return say(t('applied_empty', { code: rd.code })); }
    } catch (err) { /* apply the usual way */ }
    location.href = href;
  }
  async function more() {
    try { await loadMe(S.next); } catch (e) { say(e.message, 1); }
    draw('more');
  }

  /* dialog */
  var X = 'M18 6 6 18M6 6l12 12';
  var back = h('div', { cls: 'bk', hidden: true, onclick: close });
  var head = h('div', { cls: 'hd' });
  var live = h('p', { cls: 'live', role: 'status', 'aria-live': 'polite' });
  var body = h('div', { cls: 'bd' });
  var xb = h('button', { type: 'button', cls: 'x', 'data-k': 'first', 'aria-label': t('close'), onclick: close }, icon(X));
  var pn = h('div', { cls: 'pn' + (c.position === 'bottom-left' ? ' left' : ''), id: 'beam-dialog', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'beam-title', hidden: true, onkeydown: keys }, [xb, head, live, body]);
  sr.append(back, pn);
  B.button.setAttribute('aria-controls', 'beam-dialog');

  function draw(focus) {
    var V = B.views;
    var a = sr.activeElement, k = focus || (a && a.getAttribute('data-k'));
    xb.setAttribute('aria-label', t('close'));
    head.replaceChildren.apply(head, S.prog ? V.header() : [h('h2', { id: 'beam-title', text: t('title') })]);
    pn.setAttribute('aria-busy', S.prog || loadErr ? 'false' : 'true');
    if (!S.prog) { body.replaceChildren(h('p', { cls: 'small pad', text: loadErr ? '' : t('loading') })); return; }
    body.replaceChildren.apply(body, V.body());
    var f = k && sr.querySelector('[data-k="' + k + '"]:not([disabled])');
    if (f) f.focus(); else if (a && !pn.contains(a) && open) xb.focus();
  }
  function focusables() {
    return [].filter.call(pn.querySelectorAll('a[href],button:not([disabled]),input:not([disabled])'), function (x) { return x.getClientRects().length; });
  }
  function keys(e) {
    if (e.key === 'Escape') { e.preventDefault(); close(); return; }
    if (e.key !== 'Tab') return;
    var f = focusables(), a = sr.activeElement, first = f[0], last = f[f.length - 1];
    if (e.shiftKey ? a === first || !pn.contains(a) : a === last) { e.preventDefault(); (e.shiftKey ? last : first).focus(); }
  }
  d.addEventListener('focusin', function (e) { if (open && e.target !== B.host) xb.focus(); });

  async function show() {
    if (open) return;
    open = 1;
    pn.hidden = back.hidden = false;
    B.button.setAttribute('aria-expanded', 'true');
    draw();
    xb.focus();
    await refresh();
    if (open) draw();
  }
  function close() {
    if (!open) return;
    open = 0;
    pn.hidden = back.hidden = true;
    B.button.setAttribute('aria-expanded', 'false');
    var o = B.opener && B.opener.getClientRects().length ? B.opener : B.button;
    o.focus();
  }
  B.panel = { open: show, close: close };
  B.kit = { api: api, loadMe: loadMe, say: say, S: S, c: c, t: t, num: num, pts: pts, money: money, day: day, safe: safe, h: h, redeem: redeem, cancel: cancel, copy: copy, apply: apply, more: more, draw: draw };
})();
