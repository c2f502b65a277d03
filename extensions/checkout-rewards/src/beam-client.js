// Beam's extension API client and the checkout flows, with no framework and no platform
// globals: the checkout / customer-account extensions and the devstore's stand-in of the
// checkout import this very file, so the stand-in exercises the same calls.

export const DEFAULT_TIMEOUT_MS = 8000;
/** Rows a "Show more" of the customer account's histories asks for (Beam allows 50). */
export const HISTORY_PAGE = 20;

export class BeamApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.name = 'BeamApiError';
    this.status = status;
    this.code = code || 'error';
  }
}

/**
 * A client for `${baseUrl}/ext/…`. `getToken` returns a fresh session token (the platform's
 * `shopify.sessionToken.get()`); a 401 asking for a retry is retried once with a new token.
 */
export function createBeamClient({baseUrl, getToken, fetchImpl, sleep}) {
  const doFetch = fetchImpl || ((...args) => globalThis.fetch(...args));
  const wait = sleep || ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  const root = String(baseUrl || '').replace(/\/+$/, '');

  async function request(method, path, body, retried = false) {
    const token = await getToken();
    const headers = {Authorization: `Bearer ${token}`};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await doFetch(`${root}/ext/${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let payload;
    try {
      payload = await response.json();
    } catch {
      payload = null;
    }
    if (
      response.status === 401 &&
      !retried &&
      response.headers?.get?.('X-Shopify-Retry-Invalid-Session-Request') === '1'
    ) {
      return request(method, path, body, true);
    }
    if (!response.ok && response.status !== 202) {
      const error = payload?.error || {};
      throw new BeamApiError(response.status, error.code, error.message);
    }
    return {status: response.status, ...payload};
  }

  return {
    checkoutSummary: (cart) => request('POST', 'checkout/summary', cart),
    customer: () => request('GET', 'customer'),
    history: () => request('GET', 'customer/history'),
    /** "Show more": the older `entries` or `tier-changes` before the cursor `before` (the
     * history's `entries_next` / `tier_changes_next`, then each page's `next`). */
    historyPage: (part, before, limit = HISTORY_PAGE) =>
      request(
        'GET',
        `customer/history/${part}?before=${encodeURIComponent(before)}&limit=${limit}`,
      ),
    /** The saved birthday and the day its gift comes (`gift_on`, null while not offered). */
    birthday: () => request('GET', 'customer/birthday'),
    setBirthday: (fields) => request('POST', 'customer/birthday', birthdayBody(fields)),
    redemption: (id) => request('GET', `redemptions/${id}`),
    release: (id) => request('POST', `redemptions/${id}/release`, {}),
    /** The buyer removed this reward code from the checkout: return its points now. */
    cancelCode: (code) => request('POST', 'redemptions/cancel', {code}),
    orderPoints: (orderId) =>
      request('GET', `orders/points?order_id=${encodeURIComponent(orderId)}`),

    /** Redeem and wait (briefly) until the code exists; the same key is safe to resend. */
    async redeem({rewardId, points, clientKey, channel}, {polls = 10, delayMs = 600} = {}) {
      const body = {reward_id: rewardId, client_key: clientKey, channel: channel || 'checkout'};
      if (points) body.points = points;
      let result = await request('POST', 'redemptions', body);
      for (let i = 0; result.redemption?.status === 'pending' && i < polls; i += 1) {
        await wait(delayMs);
        result = {...result, ...(await request('GET', `redemptions/${result.redemption.id}`))};
      }
      return result;
    },

    /** The order's points; the order webhook may lag the thank-you page, so retry a 404. */
    async orderPointsEventually(orderId, {tries = 5, delayMs = 1500} = {}) {
      for (let i = 0; ; i += 1) {
        try {
          return await request(
            'GET',
            `orders/points?order_id=${encodeURIComponent(orderId)}`,
          );
        } catch (error) {
          if (!(error instanceof BeamApiError) || error.status !== 404 || i >= tries - 1) {
            throw error;
          }
          await wait(delayMs * (i + 1));
        }
      }
    },
  };
}

function cents(value) {
  return Math.round(Number(value || 0) * 100);
}

function money(centsValue) {
  return (centsValue / 100).toFixed(2);
}

/**
 * The checkout's lines as the summary endpoint reads them. `lines` are the platform's
 * CartLine objects (`cost.totalAmount` is after line-level discounts, before order-level
 * ones); `discountAllocations` are the cart-level ones, which Beam spreads like the store.
 */
export function cartFromCheckout({lines, discountAllocations, shippingAmount}) {
  const body = {
    lines: (lines || []).map((line) => {
      const lineDiscount = (line.discountAllocations || []).reduce(
        (sum, a) => sum + cents(a.discountedAmount?.amount),
        0,
      );
      const after = cents(line.cost?.totalAmount?.amount);
      return {
        product_id: line.merchandise?.product?.id || '',
        quantity: line.quantity,
        total: money(after + lineDiscount),
        discount: money(lineDiscount),
      };
    }),
    order_discount: money(
      (discountAllocations || []).reduce((sum, a) => sum + cents(a.discountedAmount?.amount), 0),
    ),
  };
  if (shippingAmount != null) body.shipping = money(cents(shippingAmount));
  return body;
}

/** The rewards the buyer can pick now, as dropdown options. */
export function rewardChoices(rewards) {
  return (rewards || [])
    .filter((reward) => reward.affordable)
    .map((reward) => ({
      value: String(reward.id),
      reward,
      points: reward.variable_points || reward.points,
    }));
}

/** What the explicit redeem button says: what pressing it spends. */
export function redeemButtonLabel(reward) {
  const points = reward.variable_points || reward.points;
  return `Redeem for ${points} points`;
}

export function isBeamCode(code) {
  return /^BEAM-/i.test(code || '');
}

/** The Beam reward codes that were on the checkout (`before`) and are gone (`after`). */
export function removedBeamCodes(before, after) {
  const now = new Set((after || []).map((d) => String(d.code || '').toUpperCase()));
  return (before || [])
    .map((d) => d.code)
    .filter((code) => isBeamCode(code) && !now.has(String(code).toUpperCase()));
}

/**
 * A reward code left the checkout (the buyer removed it): cancel its redemption so the points
 * come back at once instead of when the code expires. Never throws.
 */
export async function returnRemovedCode({client, code}) {
  try {
    const back = await client.cancelCode(code);
    const points = back.redemption?.points;
    return {
      ok: true,
      code,
      balance: back.balance,
      message: points
        ? `Reward removed: your ${points} points are back.`
        : 'Reward removed: your points are back.',
    };
  } catch (error) {
    return {
      ok: false,
      code,
      message:
        error?.code === 'redemption_not_cancellable'
          ? 'This reward code was already used.'
          : `Your code ${code} stays valid for a day; its points come back if it is not used.`,
    };
  }
}

export function rewardLabel(reward, formatMoney = (v) => v) {
  const points = reward.variable_points || reward.points;
  if (reward.kind === 'variable') {
    return `${formatMoney(reward.value)} off for ${points} points`;
  }
  return `${reward.name} (${points} points)`;
}

export function newClientKey(prefix = 'checkout') {
  const random =
    globalThis.crypto?.randomUUID?.() ||
    `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  return `${prefix}-${random}`.slice(0, 100);
}

/**
 * The checkout flow for one choice: redeem, apply the code to the checkout, and when the
 * checkout refuses it, release the redemption so the points come straight back.
 * `applyCode(code)` is the platform's `applyDiscountCodeChange` (answers `{type: 'success'}`
 * or `{type: 'error', message}`).
 */
export async function redeemAndApply({client, reward, applyCode, clientKey, channel}) {
  let redeemed;
  try {
    redeemed = await client.redeem({
      rewardId: reward.id,
      points: reward.kind === 'variable' ? reward.variable_points : undefined,
      clientKey,
      channel: channel || 'checkout',
    });
  } catch (error) {
    return {ok: false, stage: 'redeem', message: error.message, code: null};
  }
  const redemption = redeemed.redemption || {};
  if (redemption.status !== 'issued' || !redemption.code) {
    return {
      ok: false,
      stage: 'redeem',
      message: redemption.error || 'Your reward is still being prepared. Try again in a moment.',
      code: null,
      balance: redeemed.balance,
    };
  }
  let applied;
  try {
    applied = await applyCode(redemption.code);
  } catch (error) {
    applied = {type: 'error', message: error?.message || 'The code could not be applied.'};
  }
  if (applied?.type === 'success') {
    return {ok: true, code: redemption.code, redemption, balance: redeemed.balance};
  }
  let balance = redeemed.balance;
  let released = false;
  try {
    const back = await client.release(redemption.id);
    balance = back.balance;
    released = true;
  } catch {
    // The code stays valid for a day; expiry returns the points if it is never used.
  }
  return {
    ok: false,
    stage: 'apply',
    code: redemption.code,
    released,
    balance,
    message: released
      ? `This reward can't be used on this order, so your ${redemption.points} points were returned.`
      : `This reward can't be used on this order. Your code ${redemption.code} stays valid for a day.`,
    detail: applied?.message || '',
  };
}

/** What the thank-you / order-status block says about an order's points. */
export function orderPointsMessage(order) {
  if (!order) return '';
  switch (order.status) {
    case 'credited':
      return `You earned ${order.points} points with this order.`;
    case 'pending':
      return `${order.points} points are pending and become available after the return period.`;
    case 'processing':
      return 'Your points for this order are on their way.';
    case 'cancelled':
      return 'This order was cancelled, so it earns no points.';
    default:
      return 'This order earns no points.';
  }
}

/**
 * Where an order leaves the buyer's VIP tier, in words, from Beam's tier block (`tier` of the
 * checkout summary or of the order points; Beam's tier rules computed it, nothing is worked
 * out here): the tier this order brings them to, else what the next tier still needs.
 * `afterOrder` adds "after this order" to a need (the checkout, before the order exists).
 */
export function tierProgressMessage(tier, {afterOrder = false} = {}) {
  if (!tier) return '';
  if (tier.reached) return `This order brings you to ${tier.reached}.`;
  return tierNeedMessage(tier, afterOrder ? ' after this order' : '');
}

/**
 * What the member's next tier needs ("Spend 40.00 USD more to reach Gold."; amounts in the
 * shop's currency, as thresholds are), or the top tier.
 */
export function tierNeedMessage(tier, suffix = '') {
  if (!tier) return '';
  const next = tier.next;
  if (!next) return tier.name ? `You are in our top tier, ${tier.name}.` : '';
  const remaining = Number(next.remaining);
  if (tier.metric === 'spend') {
    return `Spend ${next.remaining} ${tier.currency || ''} more${suffix} to reach ${next.name}.`
      .replace(/ {2}/g, ' ');
  }
  if (tier.metric === 'orders') {
    const orders = remaining === 1 ? 'order' : 'orders';
    return `${remaining} more ${orders}${suffix} to reach ${next.name}.`;
  }
  return `Earn ${remaining} more points${suffix} to reach ${next.name}.`;
}

/** The tier's earning multiplier in words ("1.5× points on orders"), or ''. */
export function tierMultiplierLabel(tier) {
  return tier && Number(tier.multiplier) > 1 ? `${tier.multiplier}× points on orders` : '';
}

/** The birthday form's fields (strings, the year optional) as the API takes them. */
export function birthdayBody({month, day, year}) {
  const body = {month: Number(month), day: Number(day)};
  if (year !== undefined && year !== null && String(year).trim() !== '') body.year = Number(year);
  return body;
}

/** "Your first birthday gift arrives on …" (the 30-day notice may put it a year later);
 * '' while the birthday way to earn is off or no birthday is saved. */
export function birthdayGiftMessage(doc, formatDate = (iso) => iso) {
  if (!doc || !doc.gift_on) return '';
  const which = doc.first_gift ? 'first' : 'next';
  return `Your ${which} birthday gift arrives on ${formatDate(doc.gift_on)}.`;
}
