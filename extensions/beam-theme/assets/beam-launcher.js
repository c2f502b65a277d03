/* Beam rewards launcher. Reads #beam-root, draws the floating button in a shadow root and
   loads the panel only when asked (click, a[href="#beam-rewards"], the #beam-rewards hash, or a
   followed referral link's ?beam_ref=).
   Otherwise it makes no network request at page load. */
(function () {
  var d = document, w = window, host = d.getElementById('beam-root');
  if (!host || w.Beam || !host.attachShadow) return;
  var c = host.dataset;
  var hex = function (v, f) { return /^#[0-9a-f]{3,8}$/i.test(v || '') ? v : f; };
  var icons = {
    gift: 'M20 12v9H4v-9M2 7h20v5H2zM12 21V7m0 0H7.5a2.5 2.5 0 0 1 0-5C11 2 12 7 12 7zm0 0h4.5a2.5 2.5 0 0 0 0-5C13 2 12 7 12 7z',
    star: 'M12 2.5l2.9 6 6.6.9-4.8 4.6 1.2 6.5L12 17.4l-5.9 3.1 1.2-6.5-4.8-4.6 6.6-.9z',
    crown: 'M3 7l4.5 4.5L12 4l4.5 7.5L21 7l-2 11H5zM5 21h14',
    heart: 'M20.8 4.6a5.5 5.5 0 0 0-7.8 0L12 5.7l-1-1.1a5.5 5.5 0 1 0-7.8 7.8L12 21l8.8-8.6a5.5 5.5 0 0 0 0-7.8z'
  };
  var pill = c.shape !== 'circle', label = c.label || 'Rewards';
  var sr = host.attachShadow({ mode: 'open' });
  var css = ':host{all:initial;--p:' + hex(c.color, '#4f46e5') + ';--t:' + hex(c.textColor, '#fff') + '}' +
    '.l{position:fixed;bottom:20px;right:20px;z-index:2147483000;box-sizing:border-box;display:flex;' +
    'align-items:center;justify-content:center;gap:8px;height:56px;min-width:56px;max-width:240px;' +
    'margin:0;padding:0 20px 0 16px;border:0;border-radius:28px;background:var(--p);color:var(--t);' +
    'font:600 15px/1 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;cursor:pointer;' +
    'box-shadow:0 8px 24px rgba(15,23,42,.22),0 2px 6px rgba(15,23,42,.12)}' +
    '.l.c{width:56px;padding:0}.l.left{right:auto;left:20px}' +
    '.l svg{width:24px;height:24px;flex:none}' +
    '.l span{overflow:hidden;white-space:nowrap;text-overflow:ellipsis}' +
    '.l:focus-visible{outline:3px solid var(--p);outline-offset:3px}' +
    '.l[aria-busy=true]{cursor:progress;opacity:.85}' +
    '@media (prefers-reduced-motion:no-preference){.l{transition:transform .18s ease,box-shadow .18s ease}' +
    '.l:hover{transform:translateY(-2px);box-shadow:0 12px 28px rgba(15,23,42,.26)}}' +
    '@media (max-width:749px){.l{bottom:16px;right:16px}.l.left{left:16px}.l.hm{display:none}}';
  var btn = d.createElement('button');
  btn.type = 'button';
  btn.className = 'l' + (pill ? '' : ' c') + (c.position === 'bottom-left' ? ' left' : '') +
    (c.mobile === 'false' ? ' hm' : '');
  btn.setAttribute('aria-label', label);
  btn.setAttribute('aria-haspopup', 'dialog');
  btn.setAttribute('aria-expanded', 'false');
  btn.innerHTML = '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" ' +
    'stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false"><path d="' +
    (icons[c.icon] || icons.gift) + '"/></svg>';
  if (pill) {
    var sp = d.createElement('span');
    sp.textContent = label;
    btn.appendChild(sp);
  }
  try { // a constructed sheet is not "inline style", so a strict style-src CSP allows it
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    sr.adoptedStyleSheets = [sheet];
  } catch (e) {
    var st = d.createElement('style');
    st.textContent = css;
    sr.appendChild(st);
  }
  sr.appendChild(btn);

  var B = w.Beam = { cfg: c, root: sr, host: host, button: btn, i18n: {} };
  var loading = 0;
  function load() {
    if (loading) return;
    loading = 1;
    btn.setAttribute('aria-busy', 'true');
    var urls = ((c.i18nJs || '') + ' ' + (c.panelJs || '')).split(/\s+/).filter(Boolean), left = urls.length + (c.panelCss ? 1 : 0);
    var fail = function () { loading = 0; btn.removeAttribute('aria-busy'); };
    var done = function () {
      if (--left) return;
      btn.removeAttribute('aria-busy');
      if (B.panel) B.panel.open(); else fail();
    };
    if (c.panelCss) {
      var l = d.createElement('link');
      l.rel = 'stylesheet';
      l.href = c.panelCss;
      l.onload = l.onerror = done;
      sr.appendChild(l);
    }
    urls.forEach(function (u) {
      var s = d.createElement('script');
      s.src = u;
      s.async = false;
      s.onload = done;
      s.onerror = fail;
      d.head.appendChild(s);
    });
  }
  B.open = function () {
    var a = d.activeElement;
    B.opener = a && a !== host && a !== d.body ? a : btn;
    if (B.panel) B.panel.open(); else load();
  };
  btn.addEventListener('click', B.open);
  d.addEventListener('click', function (e) {
    var a = e.target.closest && e.target.closest('a[href="#beam-rewards"]');
    if (a) { e.preventDefault(); B.open(); }
  });
  var hash = function () { if (location.hash === '#beam-rewards') B.open(); };
  w.addEventListener('hashchange', hash);
  // A friend who followed a referral link (?beam_ref=CODE) is shown the offer at once.
  if (/[?&]beam_ref=/.test(location.search)) B.open(); else hash();
})();
