/* Beam rewards panel, ways to earn beyond orders: the birthday form (its confirmation says
   when the first gift arrives: a birthday set less than 30 days ahead earns from the next
   year) and the social follow / share links (points on click, said plainly: a click cannot
   be verified). Loaded before
   beam-panel.js, which merges these English texts under the translations and merchant texts. */
(function () {
  var B = window.Beam;
  if (!B) return;
  B.en = Object.assign(B.en || {}, {
    bday: 'Your birthday', bday_on: 'Your birthday: {date}', bday_save: 'Save birthday', bday_saved: 'Birthday saved',
    bday_first: 'Your first birthday gift arrives on {date}.', bday_next: 'Your next birthday gift arrives on {date}.',
    change: 'Change', month: 'Month', day: 'Day', year: 'Year (optional)',
    follow: 'Follow', share: 'Share', earned: 'You earned {n}!', unverified: 'We can’t check this: points are given when you open the link.'
  });
  B.earn = function (e, dn, x) {
    var K = B.kit, S = K.S, t = K.t, h = K.h, m = S.me && S.me.member;
    if (!m) return null;
    var loc = K.c.locale || 'en';
    if (e.kind === 'birthday') {
      var b = m.birthday, kids = [];
      if (b) kids.push(h('p', { cls: 'small', text: t('bday_on', { date: new Date(2000, b.month - 1, b.day).toLocaleDateString(loc, { day: 'numeric', month: 'long' }) }) }));
      if (b && !S.bday) return kids.concat(h('button', { type: 'button', cls: 'btn alt', 'data-k': 'bday-edit', text: t('change'), onclick: function () { S.bday = 1; K.draw('bday-m'); } }));
      var months = [h('option', { value: '', text: t('month') })];
      for (var i = 1; i <= 12; i++) months.push(h('option', { value: i, selected: b && b.month === i, text: new Date(2000, i - 1, 1).toLocaleDateString(loc, { month: 'long' }) }));
      function fld(id, label, ctl) { return h('div', { cls: 'fld' }, [h('label', { for: id, text: label }), ctl]); }
      var f = h('form', { cls: 'bday', 'aria-label': t('bday'), onsubmit: async function (ev) {
        ev.preventDefault();
        var q = function (n) { return f.querySelector('[name=' + n + ']').value; }, body = { month: +q('month'), day: +q('day') };
        if (q('year')) body.year = +q('year');
        try {
          var r = await K.api('/api/birthday', body), g = r.gift_on && r.gift_on.split('-');
          await K.loadMe(); S.bday = 0;
          K.say(t('bday_saved') + (g ? '. ' + t(r.first_gift ? 'bday_first' : 'bday_next', { date: new Date(+g[0], g[1] - 1, +g[2]).toLocaleDateString(loc, { day: 'numeric', month: 'long', year: 'numeric' }) }) : ''));
        } catch (er) { K.say(er.message, 1); }
        K.draw('bday-edit');
      } }, [
        h('div', { cls: 'row' }, [
          fld('beam-bm', t('month'), h('select', { id: 'beam-bm', name: 'month', required: true, 'data-k': 'bday-m' }, months)),
          fld('beam-bd', t('day'), h('input', { id: 'beam-bd', name: 'day', type: 'number', min: 1, max: 31, required: true, value: b ? b.day : null })),
          fld('beam-by', t('year'), h('input', { id: 'beam-by', name: 'year', type: 'number', min: 1900, max: new Date().getFullYear(), value: b && b.year }))
        ]),
        h('button', { type: 'submit', cls: 'btn', text: t('bday_save') })
      ]);
      return kids.concat(f);
    }
    if ((e.kind === 'social_follow' || e.kind === 'social_share') && e.url) {
      return [h('p', { cls: 'small', text: t('unverified') }), dn ? null : h('a', {
        cls: 'btn', href: e.url, target: '_blank', rel: 'noopener noreferrer', 'data-k': 'go-' + e.key,
        text: t(e.kind === 'social_follow' ? 'follow' : 'share'), 'aria-label': t(e.kind === 'social_follow' ? 'follow' : 'share') + ': ' + x.title,
        onclick: async function () {
          try {
            var r = await K.api('/api/actions/click', { kind: e.kind, network: e.network });
            await K.loadMe();
            if (r.status === 'awarded') K.say(t('earned', { n: K.pts(r.points) }));
          } catch (er) { K.say(er.message, 1); }
          K.draw();
        }
      })];
    }
    return null;
  };
})();
