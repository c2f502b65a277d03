/* Beam rewards panel, referrals: the member's card (code, link with a copy button, an email
   and the networks' share intents, all plain links: no third-party script) with counts by
   status, and the friend's flow (a visitor who followed a link, ?beam_ref=CODE, sees the
   offer, gives an email and gets a one-time code, kept in localStorage for the next visit).
   Loaded before beam-panel.js, which merges these English texts under the translations. */
(function () {
  var B = window.Beam;
  if (!B) return;
  B.en = Object.assign(B.en || {}, {
    ref_title: 'Refer a friend', ref_body: 'Give friends {offer} and get {reward} when they order.',
    ref_link: 'Your referral link', ref_code: 'Your code: {code}', ref_email: 'Email',
    ref_share: 'Share on {network}', ref_subject: 'A gift for you from {shop}',
    ref_mail: 'Here is {offer} at {shop}:', off_amount: '{v} off your first order',
    off_percent: '{v}% off your first order', off_any: '{v} off', off_any_percent: '{v}% off',
    ref_pending: 'Pending: {n}', ref_completed: 'Completed: {n}', ref_blocked: 'Blocked: {n}',
    ref_cancelled: 'Cancelled: {n}', friend_title: '{name} sent you a gift',
    friend_anon: 'A friend sent you a gift', friend_get: 'Get my code', friend_email: 'Your email',
    friend_code: 'Your discount code', friend_wait: 'Creating your code…',
    friend_refused: 'This offer cannot be given to this email.', friend_first: 'For your first order only.'
  });
  var KEY = 'beam_ref', CLAIM = 'beam_ref_claim';
  function store(k, v) {
    try { if (v == null) localStorage.removeItem(k); else localStorage.setItem(k, JSON.stringify(v)); } catch (e) { /* private mode */ }
  }
  function stored(k) { try { return JSON.parse(localStorage.getItem(k)); } catch (e) { return null; } }
  var m = /[?&]beam_ref=([A-Za-z0-9]{4,16})/.exec(location.search), R = { ref: m ? m[1].toUpperCase() : null };
  if (R.ref) store(KEY, R.ref); else R.ref = stored(KEY);
  R.claim = stored(CLAIM);
  if (R.claim && R.claim.ref !== R.ref) R.claim = null;

  function offerText(K, o, cur) {
    var first = o.first_order_only, v = o.kind === 'percent' ? String(+o.value) : K.money(o.value, cur);
    return K.t(o.kind === 'percent' ? (first ? 'off_percent' : 'off_any_percent') : (first ? 'off_amount' : 'off_any'), { v: v });
  }
  function terms(K, o, cur) {
    var h = K.h, t = K.t;
    return [o.minimum && h('p', { cls: 'small', text: t('min', { v: K.money(o.minimum, cur) }) }),
      o.first_order_only && h('p', { cls: 'small', text: t('friend_first') })];
  }
  function copyRow(K, value, k, label) {
    var b = K.h('button', { type: 'button', cls: 'btn', 'data-k': k, 'aria-label': K.t('copy') + ' ' + label, text: K.t('copy'), onclick: function () { K.copy({ code: value }, b); } });
    return b;
  }

  async function claim(K, email) {
    var t = K.t;
    R.busy = 1; K.draw();
    try {
      var path = '/api/referrals/' + encodeURIComponent(R.ref) + '/claim', doc;
      for (var i = 0; i < 8; i++) {
        doc = (await K.api(path, { email: email })).referral;
        if (doc.status !== 'pending') break;
        if (!i) K.say(t('friend_wait'));
        await new Promise(function (r) { setTimeout(r, 300 * (i + 1)); });
      }
      if (doc.status === 'refused') throw new Error(t('friend_refused'));
      if (!doc.code) throw new Error(t('s_failed'));
      R.claim = { ref: R.ref, email: email, code: doc.code, expires_at: doc.expires_at };
      store(CLAIM, R.claim);
      K.say(t('friend_code') + ': ' + doc.code);
    } catch (e) { K.say(e.message, 1); }
    R.busy = 0; K.draw('ref-copy-code');
  }

  function friend(K) {
    var S = K.S, h = K.h, t = K.t, own = S.me && S.me.referral;
    if (!R.ref || (own && own.code === R.ref)) return null;
    if (R.offer === undefined) {
      R.offer = null;
      K.api('/api/referrals/' + encodeURIComponent(R.ref)).then(function (j) { R.offer = j; K.draw(); }, function () { store(KEY, null); });
      return null;
    }
    if (!R.offer) return null;
    var cur = S.prog.shop && S.prog.shop.currency, o = R.offer.offer, kids = [
      h('h3', { text: R.offer.advocate ? t('friend_title', { name: R.offer.advocate }) : t('friend_anon') }),
      h('p', { cls: 'name', text: offerText(K, o, cur) })].concat(terms(K, o, cur));
    if (R.claim) {
      kids.push(h('p', { cls: 'cv' }, [h('span', { cls: 'sr', text: t('friend_code') + ': ' }), h('code', { text: R.claim.code })]),
        R.claim.expires_at && h('p', { cls: 'small', text: t('expires', { date: K.day(R.claim.expires_at) }) }),
        h('div', { cls: 'row' }, [copyRow(K, R.claim.code, 'ref-copy-code', R.claim.code)]));
    } else {
      var f = h('form', { cls: 'bday', 'aria-label': t('friend_get'), onsubmit: function (ev) { ev.preventDefault(); claim(K, f.querySelector('input').value.trim()); } }, [
        h('div', { cls: 'fld' }, [h('label', { for: 'beam-fe', text: t('friend_email') }),
          h('input', { id: 'beam-fe', name: 'email', type: 'email', required: true, autocomplete: 'email', 'data-k': 'ref-email' })]),
        h('button', { type: 'submit', cls: 'btn', 'data-k': 'ref-get', disabled: !!R.busy, text: R.busy ? t('friend_wait') : t('friend_get') })
      ]);
      kids.push(f);
    }
    return h('section', { cls: 'card code new', 'data-ref': 'friend' }, kids);
  }

  function advocate(K) {
    var S = K.S, h = K.h, t = K.t, r = S.me && S.me.referral, p = S.prog.referrals;
    if (!r || !p || !p.enabled) return null;
    var cur = S.prog.shop.currency, shop = S.prog.shop.name, offer = offerText(K, p.friend_offer, cur), w = p.advocate_reward;
    var reward = w.kind === 'points' ? K.pts(w.points) : w.reward, c = r.counts;
    var mail = 'mailto:?subject=' + encodeURIComponent(t('ref_subject', { shop: shop })) +
      '&body=' + encodeURIComponent(t('ref_mail', { offer: offer, shop: shop }) + ' ' + r.url);
    var nets = { facebook: 'Facebook', x: 'X' };
    return h('section', { cls: 'sec', 'data-ref': 'advocate' }, [h('h3', { text: t('ref_title') }), h('div', { cls: 'card' }, [
      h('p', { cls: 'small', text: t('ref_body', { offer: offer, reward: reward }) }),
      h('label', { for: 'beam-rl', cls: 'lbl', text: t('ref_link') }),
      h('div', { cls: 'row' }, [h('input', { id: 'beam-rl', readonly: true, value: r.url }), copyRow(K, r.url, 'ref-copy', t('ref_link'))]),
      h('p', { cls: 'small', text: t('ref_code', { code: r.code }) }),
      h('div', { cls: 'row' }, [h('a', { cls: 'btn alt', href: mail, text: t('ref_email') })].concat(Object.keys(nets).filter(function (n) { return r.share[n]; }).map(function (n) {
        return h('a', { cls: 'btn alt', href: K.safe(r.share[n], '#'), target: '_blank', rel: 'noopener noreferrer', 'aria-label': t('ref_share', { network: nets[n] }), text: nets[n] });
      }))),
      h('p', { cls: 'small', text: [t('ref_pending', { n: c.pending + c.ordered }), t('ref_completed', { n: c.completed }), t('ref_blocked', { n: c.blocked }), t('ref_cancelled', { n: c.cancelled })].join(' · ') })
    ])]);
  }

  B.referrals = function () {
    var K = B.kit;
    return [friend(K), advocate(K)];
  };
})();
