/* Beam rewards panel, VIP tiers: a member's tier, its benefits and the progress to the next
   tier exactly as Beam's tier rules computed it (me.member.tier: value, next, remaining; never
   recomputed here), or for a guest the tier table with a call to join. Loaded before
   beam-panel.js, which merges these English texts under the translations and merchant texts. */
(function () {
  var B = window.Beam;
  if (!B) return;
  B.en = {
    vip: 'VIP status', tiers_title: 'VIP tiers', tier_from: 'From {n}', orders: '{n} orders', order: '{n} order',
    tier_x: '{x}× points on orders', tier_entry: '{n} bonus points when you reach it',
    tier_spend: 'Spend {v} more to reach {tier}', tier_points: 'Earn {n} more points to reach {tier}',
    tier_orders: '{n} more orders to reach {tier}', tier_order: '{n} more order to reach {tier}',
    tier_until: '{tier} until {date}', top_tier: 'You reached the top tier!', tier_none: 'No tier yet',
    tier_join: 'Join to start climbing the tiers.', tier_only: '{tier} members'
  };
  B.tiers = function () {
    var K = B.kit, S = K.S, t = K.t, h = K.h, num = K.num, m = S.me && S.me.member;
    var list = S.prog.tiers || [], cur = (S.prog.shop || {}).currency, u = S.prog.urls || {};
    if (!list.length) return null;
    function sec(title, kids) { return h('section', { cls: 'sec' }, [h('h3', { text: title })].concat(kids)); }
    // an amount in the tiers' unit: money spent, points or orders
    function unit(v, metric) {
      if (metric === 'spend') return K.money(v, cur);
      return metric === 'orders' ? t(+v === 1 ? 'order' : 'orders', { n: num(+v) }) : K.pts(+v);
    }
    function perks(x, mult) {
      var p = [].concat(+mult > 1 ? t('tier_x', { x: num(+mult) }) : [], x ? x.perks || [] : []);
      if (x && x.entry_points && !m) p.push(t('tier_entry', { n: num(x.entry_points) }));
      return p.length ? h('ul', { cls: 'perks' }, p.map(function (s) { return h('li', { text: s }); })) : null;
    }
    if (!m) {
      return sec(t('tiers_title'), [h('ol', { cls: 'list tiers' }, list.map(function (x) {
        return h('li', { cls: 'card' }, [
          h('div', { cls: 'row top' }, [h('p', { cls: 'name', text: x.name }), h('p', { cls: 'cost', text: t('tier_from', { n: unit(x.threshold, x.metric) }) })]),
          perks(x, x.multiplier)
        ]);
      })), h('p', { cls: 'small join' }, h('a', { href: K.safe(u.sign_up, K.c.signUp || '/account/register'), text: t('tier_join') }))]);
    }
    var me = m.tier;
    if (!me) return null;
    var mine = list.filter(function (x) { return x.name === me.name; })[0], nx = me.next, kids = [];
    kids.push(h('p', { cls: 'name tier' }, me.name || t('tier_none')));
    // last_day is a calendar day in the shop's zone: read at local noon, any browser shows that day
    if (me.name && me.last_day) kids.push(h('p', { cls: 'small', text: t('tier_until', { tier: me.name, date: K.day(me.last_day + 'T12:00:00') }) }));
    if (me.name) kids.push(perks(mine, me.multiplier));
    if (nx) {
      var r = +nx.remaining, say = me.metric === 'spend' ? t('tier_spend', { v: K.money(r, cur), tier: nx.name })
        : me.metric === 'orders' ? t(r === 1 ? 'tier_order' : 'tier_orders', { n: num(r), tier: nx.name })
          : t('tier_points', { n: num(r), tier: nx.name });
      var top = +nx.threshold, now = Math.max(0, Math.min(top, +me.value)), bar = h('i');
      bar.style.width = (top > 0 ? Math.round(100 * now / top) : 100) + '%';
      kids.push(h('div', { cls: 'bar', role: 'progressbar', 'aria-label': t('vip'), 'aria-valuemin': 0, 'aria-valuemax': top, 'aria-valuenow': now, 'aria-valuetext': say }, bar),
        h('p', { cls: 'small', text: say }));
    } else if (me.name) kids.push(h('p', { cls: 'small', text: t('top_tier') }));
    return sec(t('vip'), h('div', { cls: 'card vip' }, kids));
  };
})();
