/* Beam rewards panel views: header, a friend's offer and the referral card (beam-panel-referrals.js),
   guest invitation, codes, VIP tiers (beam-panel-tiers.js),
   rewards, ways to earn and activity, built with Beam.kit from beam-panel.js. All API text goes in as text nodes. */
(function () {
  var B = window.Beam;
  if (!B) return;
  var K, S, c, t, num, pts, money, day, safe, h;
  function kit() { K = B.kit; S = K.S; c = K.c; t = K.t; num = K.num; pts = K.pts; money = K.money; day = K.day; safe = K.safe; h = K.h; }
  function sec(title, kids) { return h('section', { cls: 'sec' }, [h('h3', { text: title })].concat(kids)); }
  function member() { return S.me && S.me.member; }
  function root() { var r = safe(c.root, '/'); return /\/$/.test(r) ? r : r + '/'; }
  function header() {
    var m = member(), kids = [h('h2', { id: 'beam-title', text: t('title') })];
    if (m) {
      kids.push(h('p', { cls: 'lbl', text: t('balance') }), h('p', { cls: 'bal', text: pts(m.balance) }));
      (m.pending || []).forEach(function (p) { kids.push(h('p', { cls: 'pend', text: t('pending', { n: num(p.points), date: day(p.release_at) }) })); });
    }
    return kids;
  }
  function guest() {
    var u = S.prog.urls || {};
    return h('div', { cls: 'card guest' }, [
      h('h3', { text: t('guest_title') }), h('p', { text: t('guest_body') }),
      h('a', { cls: 'btn', href: safe(u.sign_up, c.signUp || '/account/register'), text: t('sign_up') }),
      h('p', { cls: 'small' }, [t('have_account') + ' ', h('a', { href: safe(u.log_in, c.logIn || '/account/login'), text: t('log_in') })])
    ]);
  }
  function codes() {
    var list = (S.me.redemptions || []).filter(function (r) { return r.status === 'issued' || r.status === 'pending'; });
    list.sort(function (a, b) { return (b.id === S.fresh) - (a.id === S.fresh); });
    if (!list.length) return null;
    return sec(t('your_rewards'), h('ul', { cls: 'list' }, list.map(function (r) {
      var ready = r.status === 'issued' && r.code, cp;
      return h('li', { cls: 'card code' + (r.id === S.fresh ? ' new' : '') }, [
        h('p', { cls: 'name', text: r.reward_title }),
        ready ? h('p', { cls: 'cv' }, [h('span', { cls: 'sr', text: t('code') + ': ' }), h('code', { text: r.code })]) : h('p', { cls: 'small', text: t('s_pending') }),
        r.expires_at && h('p', { cls: 'small', text: t('expires', { date: day(r.expires_at) }) }),
        ready && h('div', { cls: 'row' }, [
          cp = h('button', { type: 'button', cls: 'btn', 'data-k': 'copy-' + r.id, 'aria-label': t('copy') + ' ' + r.code, text: t('copy'), onclick: function () { K.copy(r, cp); } }),
          // Apply to cart: on an empty cart the code is saved for checkout and the shopper told so
          h('a', { cls: 'btn alt', href: root() + 'discount/' + encodeURIComponent(r.code) + '?redirect=' + root() + 'cart', text: t('apply'), onclick: function (e) { K.apply(e, r, root()); } }),
          h('button', { type: 'button', cls: 'btn ghost', 'data-k': 'cancel-' + r.id, disabled: !!S.busy[r.id], text: t('cancel'), onclick: function () { K.cancel(r); } })
        ])
      ]);
    })));
  }
  function reward(rw) {
    var m = member(), bal = m ? m.balance : 0, v = rw.variable, cost = v ? v.min_points : rw.points_cost, ctl = null, sub = [];
    if (v) {
      var step = v.points_per_unit || 1, max = Math.min(v.max_points, Math.floor(bal / step) * step);
      var val = S.vals[rw.id] = Math.max(v.min_points, Math.min(max, S.vals[rw.id] || max));
      var worth = h('p', { cls: 'small', 'aria-live': 'polite', text: t('worth', { v: money(val / step * v.unit_value, rw.currency) }) });
      var set = function (e) { S.vals[rw.id] = +e.target.value; var o = B.root.getElementById('beam-n-' + rw.id), s = B.root.getElementById('beam-s-' + rw.id); o.value = s.value = e.target.value; worth.textContent = t('worth', { v: money(S.vals[rw.id] / step * v.unit_value, rw.currency) }); };
      if (m && max >= v.min_points) {
        ctl = h('div', { cls: 'var' }, [
          h('label', { for: 'beam-n-' + rw.id, text: t('use_points') }),
          h('div', { cls: 'row' }, [
            h('input', { type: 'range', id: 'beam-s-' + rw.id, min: v.min_points, max: max, step: step, value: val, 'aria-label': t('use_points'), oninput: set }),
            h('input', { type: 'number', id: 'beam-n-' + rw.id, min: v.min_points, max: max, step: step, value: val, onchange: set })
          ]), worth]);
      }
    }
    if (rw.min_subtotal && +rw.min_subtotal > 0) sub.push(h('p', { cls: 'small', text: t('min', { v: money(rw.min_subtotal, rw.currency) }) }));
    // Tier-exclusive: locked below its tier (me's tier rank against the reward's).
    var lock = rw.tier && !(m && m.tier && m.tier.rank != null && m.tier.rank >= rw.tier.rank);
    if (rw.tier) sub.push(h('p', { cls: lock ? 'need' : 'small', text: t('tier_only', { tier: rw.tier.name }) }));
    // Points are spent only after a second, explicit step: Redeem asks, Confirm spends.
    var act = !m || lock ? null : bal < cost
      ? h('p', { cls: 'need', text: t('need', { n: num(cost - bal) }) })
      : S.confirm === rw.id
        ? h('div', { cls: 'confirm', role: 'group', 'aria-label': rw.title }, [
            h('p', { cls: 'small', text: t('confirm_q', { n: pts(v ? S.vals[rw.id] : cost) }) }),
            h('button', { type: 'button', cls: 'btn', 'data-k': 'c-' + rw.id, 'aria-label': t('confirm') + ': ' + rw.title, text: t('confirm'), onclick: function () { S.confirm = null; K.redeem(rw); } }),
            h('button', { type: 'button', cls: 'btn alt', 'data-k': 'k-' + rw.id, text: t('keep'), onclick: function () { S.confirm = null; K.draw('r-' + rw.id); } })
          ])
        : h('button', { type: 'button', cls: 'btn', 'data-k': 'r-' + rw.id, disabled: !!S.busy[rw.id], 'aria-label': t('redeem') + ': ' + rw.title, text: S.busy[rw.id] ? t('redeeming') : t('redeem'), onclick: function () { S.confirm = rw.id; K.draw('c-' + rw.id); } });
    return h('li', { cls: 'card rw' }, [h('div', { cls: 'row top' }, [h('div', {}, [h('p', { cls: 'name', text: rw.title }), h('p', { cls: 'cost', text: pts(cost) + (v ? '+' : '') })].concat(sub)), act]), ctl]);
  }
  function earning() {
    var m = member(), got = (m && m.done) || [], lang = (c.locale || 'en').slice(0, 2).toLowerCase();
    return sec(t('earn'), h('ul', { cls: 'list' }, (S.prog.earning || []).map(function (e) {
      var dn = e.done || got.indexOf(e.key) > -1, x = (e.texts || {})[lang] || e;
      return h('li', { cls: 'card row top' + (dn ? ' done' : ''), 'data-way': e.key }, [
        h('div', {}, [h('p', { cls: 'name', text: x.title }), x.description && h('p', { cls: 'small', text: x.description })].concat(B.earn && B.earn(e, dn, x) || [])),
        h('p', { cls: 'cost', text: dn ? '✓ ' + t('done') : e.points != null ? pts(e.points) : e.points_label })
      ]);
    })));
  }
  function activity() {
    if (!member()) return null;
    return sec(t('activity'), [
      S.hist.length ? h('ul', { cls: 'hist' }, S.hist.map(function (x) {
        return h('li', {}, [h('span', {}, [x.label, h('small', { text: day(x.created_at) })]), h('b', { cls: x.amount < 0 ? 'neg' : 'pos', text: (x.amount > 0 ? '+' : '') + num(x.amount) })]);
      })) : h('p', { cls: 'small', text: t('empty') }),
      S.next && h('button', { type: 'button', cls: 'btn alt', 'data-k': 'more', text: t('more'), onclick: K.more })
    ]);
  }

  B.views = {
    header: function () { kit(); return header(); },
    body: function () {
      kit();
      var r = S.prog.rewards || [], e = S.prog.earning || [], rf = B.referrals ? B.referrals() : [];
      return [rf[0], member() ? codes() : guest(), rf[1], B.tiers && B.tiers(),
        r.length && sec(t('redeem_title'), h('ul', { cls: 'list' }, r.map(reward))),
        e.length && earning(), activity()].filter(Boolean);
    }
  };
})();
