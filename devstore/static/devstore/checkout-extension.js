// Devstore stand-in of Beam's checkout UI extension. It imports the extension's own client
// (extensions/checkout-rewards/src/beam-client.js) and plays the platform's part: the session
// token comes from the devstore (minted like the platform's), `applyDiscountCodeChange` is the
// devstore checkout's code check, and the checkout lines are this cart's.

import {el, standInClient} from './extension-stand-in.js';

const checkoutRoot = document.getElementById('beam-checkout-extension');
const thankYouRoot = document.getElementById('beam-thank-you-extension');
const root = checkoutRoot || thankYouRoot;

function csrfToken() {
  const input = document.querySelector('input[name="csrfmiddlewaretoken"]');
  return input ? input.value : '';
}

function show(...nodes) {
  const label = root.querySelector('.ds-extension-label');
  root.replaceChildren(label, ...nodes.filter(Boolean));
}

async function start() {
  const {beam, client} = await standInClient(root);
  if (checkoutRoot) await checkout(beam, client);
  else await thankYou(beam, client);
}

// --- purchase.checkout.reductions.render-after ---------------------------------------------

async function checkout(beam, client) {
  const cart = JSON.parse(document.getElementById('beam-checkout-cart').textContent);
  const codeInput = document.querySelector('input[name="discount_code"]');
  const state = {
    summary: null,
    applied: root.dataset.appliedCode || '',
    selected: '',
    notice: '',
    info: '',
    busy: false,
  };
  // The checkout's discount codes (the platform's `discountCodes`).
  let codes = state.applied ? [{code: state.applied}] : [];
  let lineDiscounts = {};

  // The platform's lines: totals after line-level discounts, their allocations alongside.
  function checkoutLines() {
    return cart.map((line) => {
      const discount = Number(lineDiscounts[String(line.variant_id)] || 0);
      return {
        quantity: line.quantity,
        merchandise: {product: {id: line.product_id}},
        cost: {totalAmount: {amount: Number(line.total) - discount}},
        discountAllocations: discount ? [{discountedAmount: {amount: discount}}] : [],
      };
    });
  }

  async function refresh() {
    try {
      state.summary = await client.checkoutSummary(
        beam.cartFromCheckout({lines: checkoutLines(), discountAllocations: []}),
      );
    } catch {
      state.summary = null;
    }
    render();
  }

  async function applyDiscountCodeChange(change) {
    const response = await fetch(root.dataset.applyUrl, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', 'X-CSRFToken': csrfToken()},
      body: JSON.stringify(change),
    });
    const result = await response.json();
    if (result.type === 'success') {
      const before = codes;
      lineDiscounts = result.lines || {};
      if (change.type === 'removeDiscountCode') {
        codes = codes.filter((d) => d.code !== change.code);
        if (codeInput) codeInput.value = '';
      } else {
        codes = [{code: change.code}];
        if (codeInput) codeInput.value = change.code;
      }
      await codesChanged(before, codes);
    }
    return result;
  }

  // The extension's reaction to the checkout's codes: a Beam code that left gives its points
  // back at once (the same helpers the real extension uses).
  async function codesChanged(before, after) {
    for (const code of beam.removedBeamCodes(before, after)) {
      const result = await beam.returnRemovedCode({client, code});
      if (state.applied === code) state.applied = '';
      state.info = result.ok ? result.message : '';
      state.notice = result.ok ? '' : result.message;
      await refresh();
    }
  }

  async function choose(value) {
    const reward = (state.summary?.rewards || []).find((r) => String(r.id) === value);
    if (!reward || state.busy) return;
    state.busy = true;
    state.notice = '';
    state.info = '';
    render();
    const result = await beam.redeemAndApply({
      client,
      reward,
      clientKey: beam.newClientKey('checkout'),
      applyCode: (code) => applyDiscountCodeChange({type: 'addDiscountCode', code}),
    });
    state.busy = false;
    state.selected = '';
    if (result.ok) state.applied = result.code;
    else state.notice = result.message;
    await refresh();
  }

  function render() {
    const {summary} = state;
    if (!summary) {
      show(el('p', {'data-role': 'status'}, 'Rewards are unavailable right now.'));
      return;
    }
    const earn = summary.earn?.points || 0;
    if (!summary.customer) {
      show(
        el(
          'p',
          {'data-role': 'guest'},
          earn > 0 ? `Log in to earn ${earn} points with this order.` : 'Log in to earn points.',
        ),
      );
      return;
    }
    const nodes = [
      el(
        'p',
        {'data-role': 'balance'},
        'You have ',
        el('strong', {}, `${summary.customer.balance} points`),
        earn > 0 ? ` · this order earns ${earn} points` : '',
      ),
    ];
    const tier = beam.tierProgressMessage(summary.tier, {afterOrder: true});
    if (tier) nodes.push(el('p', {'data-role': 'tier'}, tier));
    const choices = beam.rewardChoices(summary.rewards);
    if (state.applied) {
      // The platform's own control beside an applied code (not the extension's).
      const remove = el(
        'button',
        {type: 'button', 'data-role': 'remove-code', 'aria-label': `Remove discount code ${state.applied}`},
        'Remove',
      );
      const code = state.applied;
      remove.addEventListener('click', () =>
        applyDiscountCodeChange({type: 'removeDiscountCode', code}),
      );
      nodes.push(
        el(
          'p',
          {class: 'ds-banner ds-banner-success', 'data-role': 'applied'},
          `Reward applied: ${state.applied} `,
          remove,
        ),
      );
    } else if (choices.length) {
      const chosen = choices.find((choice) => choice.value === state.selected);
      const select = el(
        'select',
        {'aria-label': 'Use your points', 'data-role': 'rewards', disabled: state.busy ? '' : null},
        el('option', {value: ''}, 'Choose a reward'),
        ...choices.map((choice) =>
          el(
            'option',
            {value: choice.value, selected: choice === chosen ? '' : null},
            beam.rewardLabel(choice.reward),
          ),
        ),
      );
      // Choosing only selects: nothing is spent until the button is pressed.
      select.addEventListener('change', () => {
        state.selected = select.value;
        state.notice = '';
        state.info = '';
        render();
        root.querySelector('select[data-role=rewards]')?.focus();
      });
      nodes.push(el('label', {}, 'Use your points', select));
      if (chosen) {
        const button = el(
          'button',
          {type: 'button', 'data-role': 'redeem', disabled: state.busy ? '' : null},
          beam.redeemButtonLabel(chosen.reward),
        );
        button.addEventListener('click', () => choose(chosen.value));
        nodes.push(button);
      }
    } else {
      nodes.push(el('p', {}, 'Keep shopping to unlock a reward.'));
    }
    if (state.busy) nodes.push(el('p', {'data-role': 'busy'}, 'Applying your reward…'));
    if (state.info) {
      nodes.push(el('p', {class: 'ds-banner', 'data-role': 'info'}, state.info));
    }
    if (state.notice) {
      nodes.push(el('p', {class: 'ds-banner ds-banner-warning', 'data-role': 'notice'}, state.notice));
    }
    show(...nodes);
  }

  if (state.applied) {
    // Coming back to the page with a code already applied: recompute its allocations.
    await applyDiscountCodeChange({type: 'addDiscountCode', code: state.applied});
  }
  await refresh();
}

// --- purchase.thank-you.block.render ---------------------------------------------------------

async function thankYou(beam, client) {
  try {
    const {order, customer, tier} = await client.orderPointsEventually(root.dataset.orderId, {
      tries: 6,
      delayMs: 500,
    });
    const words = beam.tierProgressMessage(tier);
    show(
      el('p', {'data-role': 'order-points'}, beam.orderPointsMessage(order)),
      words ? el('p', {'data-role': 'tier'}, words) : null,
      el(
        'p',
        {'data-role': 'balance'},
        'Your balance: ',
        el('strong', {}, `${customer.balance} points`),
        customer.pending ? ` (+${customer.pending} pending)` : '',
      ),
    );
  } catch (error) {
    show(
      el(
        'p',
        {'data-role': 'status'},
        error.code === 'customer_login_required'
          ? 'Create an account to earn points on your next order.'
          : 'Your points will appear shortly.',
      ),
    );
  }
}

if (root) start();
