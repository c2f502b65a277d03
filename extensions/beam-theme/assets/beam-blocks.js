/* Beam theme blocks: the account balance and a product's points, read from Beam through the
   app proxy (the panel's own API), so every surface shows one figure from one rule. A block
   stays hidden until its figure arrives: never a made-up 0. No dependencies. */
(function () {
  var d = document;
  function get(el, path) {
    return fetch(el.getAttribute('data-proxy') + path, {
      credentials: 'same-origin',
      headers: { Accept: 'application/json' }
    }).then(function (r) {
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.json();
    });
  }
  function show(el, n) {
    var text;
    try { text = new Intl.NumberFormat(el.getAttribute('data-locale') || 'en').format(n); } catch (e) { text = String(n); }
    el.textContent = el.getAttribute('data-text').replace('{n}', text);
    el.hidden = false;
  }
  function each(selector, path, pick) {
    d.querySelectorAll(selector + ':not([data-beam-done])').forEach(function (el) {
      el.setAttribute('data-beam-done', '');
      get(el, path(el)).then(function (j) {
        var n = pick(j);
        if (typeof n === 'number' && n >= 0) show(el, n);
      }).catch(function () { /* stays hidden */ });
    });
  }
  function run() {
    each('[data-beam-account-points]', function () { return '/api/me'; }, function (j) {
      return j && j.member ? j.member.balance : null;
    });
    each('[data-beam-product-points]', function (el) {
      // a logged-in shopper asks for their own figure (tier multiplier), a guest for the
      // shop-wide cached one: one request either way
      return '/api/product_points?price=' + encodeURIComponent(el.getAttribute('data-price')) +
        '&product_id=' + encodeURIComponent(el.getAttribute('data-product') || '') +
        (el.hasAttribute('data-member') ? '&member=1' : '');
    }, function (j) {
      return j && j.points > 0 ? j.points : null;
    });
  }
  if (d.readyState === 'loading') d.addEventListener('DOMContentLoaded', run); else run();
})();
