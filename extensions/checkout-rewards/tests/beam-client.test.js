import {describe, expect, it, vi} from 'vitest';

import {
  BeamApiError,
  birthdayBody,
  birthdayGiftMessage,
  cartFromCheckout,
  createBeamClient,
  orderPointsMessage,
  redeemAndApply,
  redeemButtonLabel,
  removedBeamCodes,
  returnRemovedCode,
  rewardChoices,
  rewardLabel,
  tierMultiplierLabel,
  tierNeedMessage,
  tierProgressMessage,
} from '../src/beam-client.js';

function jsonResponse(status, body, headers = {}) {
  return {
    status,
    ok: status >= 200 && status < 300,
    headers: {get: (name) => headers[name] ?? null},
    json: async () => body,
  };
}

function fakeBackend(routes) {
  const calls = [];
  const fetchImpl = vi.fn(async (url, init) => {
    const path = url.replace('https://beam.test/ext/', '');
    calls.push({path, method: init.method, body: init.body && JSON.parse(init.body), init});
    const handler = routes[`${init.method} ${path}`];
    if (!handler) return jsonResponse(404, {error: {code: 'not_found'}});
    return handler(calls.at(-1), calls);
  });
  let n = 0;
  const client = createBeamClient({
    baseUrl: 'https://beam.test/',
    getToken: async () => `token-${(n += 1)}`,
    fetchImpl,
    sleep: async () => {},
  });
  return {client, calls, fetchImpl};
}

describe('createBeamClient', () => {
  it('sends the session token as a bearer and JSON bodies', async () => {
    const {client, calls} = fakeBackend({
      'POST checkout/summary': () => jsonResponse(200, {earn: {points: 3}, customer: null}),
    });
    const summary = await client.checkoutSummary({lines: []});
    expect(summary.earn.points).toBe(3);
    expect(calls[0].init.headers).toEqual({
      Authorization: 'Bearer token-1',
      'Content-Type': 'application/json',
    });
  });

  it('retries once with a fresh token when the backend asks for it', async () => {
    let first = true;
    const {client, calls} = fakeBackend({
      'GET customer': () => {
        if (first) {
          first = false;
          return jsonResponse(401, {error: {code: 'invalid_session_token'}}, {
            'X-Shopify-Retry-Invalid-Session-Request': '1',
          });
        }
        return jsonResponse(200, {customer: {balance: 5}});
      },
    });
    expect((await client.customer()).customer.balance).toBe(5);
    expect(calls.map((c) => c.init.headers.Authorization)).toEqual([
      'Bearer token-1',
      'Bearer token-2',
    ]);
  });

  it('raises the backend error code and message', async () => {
    const {client} = fakeBackend({
      'GET customer': () =>
        jsonResponse(401, {error: {code: 'customer_login_required', message: 'Log in'}}),
    });
    await expect(client.customer()).rejects.toMatchObject({
      status: 401,
      code: 'customer_login_required',
      message: 'Log in',
    });
  });

  it('polls a pending redemption until its code exists', async () => {
    let polls = 0;
    const {client} = fakeBackend({
      'POST redemptions': () =>
        jsonResponse(202, {redemption: {id: 7, status: 'pending', code: null}, balance: 100}),
      'GET redemptions/7': () => {
        polls += 1;
        return jsonResponse(200, {
          redemption: polls < 2 ? {id: 7, status: 'pending'} : {id: 7, status: 'issued', code: 'BEAM-1'},
        });
      },
    });
    const result = await client.redeem({rewardId: 1, clientKey: 'k'});
    expect(result.redemption.code).toBe('BEAM-1');
    expect(result.balance).toBe(100);
    expect(polls).toBe(2);
  });

  it('retries order points while the order webhook has not arrived', async () => {
    let tries = 0;
    const {client} = fakeBackend({
      'GET orders/points?order_id=gid%3A%2F%2Fshopify%2FOrder%2F9': () => {
        tries += 1;
        return tries < 3
          ? jsonResponse(404, {error: {code: 'order_not_found'}})
          : jsonResponse(200, {order: {status: 'credited', points: 40}, customer: {balance: 1}});
      },
    });
    const result = await client.orderPointsEventually('gid://shopify/Order/9');
    expect(result.order.points).toBe(40);
    expect(tries).toBe(3);
  });
});

describe('cartFromCheckout', () => {
  it('turns checkout lines into totals before discounts plus the order-level discount', () => {
    const body = cartFromCheckout({
      lines: [
        {
          quantity: 2,
          merchandise: {product: {id: 'gid://shopify/Product/1'}},
          cost: {totalAmount: {amount: 36.0}},
          discountAllocations: [{discountedAmount: {amount: 4.0}}],
        },
        {
          quantity: 1,
          merchandise: {product: {id: 'gid://shopify/Product/2'}},
          cost: {totalAmount: {amount: 10.1}},
          discountAllocations: [],
        },
      ],
      discountAllocations: [{discountedAmount: {amount: 5}}],
    });
    expect(body).toEqual({
      lines: [
        {product_id: 'gid://shopify/Product/1', quantity: 2, total: '40.00', discount: '4.00'},
        {product_id: 'gid://shopify/Product/2', quantity: 1, total: '10.10', discount: '0.00'},
      ],
      order_discount: '5.00',
    });
  });
});

describe('rewards', () => {
  const rewards = [
    {id: 1, name: '$5 off', kind: 'fixed_amount', points: 500, affordable: true, value: '5.00'},
    {id: 2, name: '$50 off', kind: 'fixed_amount', points: 5000, affordable: false},
    {id: 3, name: 'Slider', kind: 'variable', points: 1000, variable_points: 1000, value: '10.00', affordable: true},
  ];
  it('offers only affordable rewards', () => {
    expect(rewardChoices(rewards).map((c) => c.value)).toEqual(['1', '3']);
  });
  it('labels fixed and variable rewards', () => {
    expect(rewardLabel(rewards[0])).toBe('$5 off (500 points)');
    expect(rewardLabel(rewards[2], (v) => `$${v}`)).toBe('$10.00 off for 1000 points');
  });
});

describe('redeemAndApply', () => {
  const reward = {id: 1, kind: 'fixed_amount', points: 500};
  const issued = {redemption: {id: 4, status: 'issued', code: 'BEAM-AAAA-BBBB', points: 500}, balance: 700};

  it('applies the code when the checkout accepts it', async () => {
    const {client, calls} = fakeBackend({'POST redemptions': () => jsonResponse(201, issued)});
    const applyCode = vi.fn(async () => ({type: 'success'}));
    const result = await redeemAndApply({client, reward, applyCode, clientKey: 'ck'});
    expect(result).toMatchObject({ok: true, code: 'BEAM-AAAA-BBBB', balance: 700});
    expect(applyCode).toHaveBeenCalledWith('BEAM-AAAA-BBBB');
    expect(calls[0].body).toEqual({reward_id: 1, client_key: 'ck', channel: 'checkout'});
  });

  it('releases the redemption and says so when the checkout refuses the code', async () => {
    const {client, calls} = fakeBackend({
      'POST redemptions': () => jsonResponse(201, issued),
      'POST redemptions/4/release': () =>
        jsonResponse(200, {redemption: {id: 4, status: 'cancelled'}, balance: 1200}),
    });
    const result = await redeemAndApply({
      client,
      reward,
      clientKey: 'ck',
      applyCode: async () => ({type: 'error', message: 'not combinable'}),
    });
    expect(result).toMatchObject({ok: false, stage: 'apply', released: true, balance: 1200});
    expect(result.message).toBe(
      "This reward can't be used on this order, so your 500 points were returned.",
    );
    expect(calls.map((c) => c.path)).toEqual(['redemptions', 'redemptions/4/release']);
  });

  it('reports a refused redemption without touching the checkout', async () => {
    const {client} = fakeBackend({
      'POST redemptions': () =>
        jsonResponse(409, {error: {code: 'insufficient_points', message: 'Needs 500 points.'}}),
    });
    const applyCode = vi.fn();
    const result = await redeemAndApply({client, reward, applyCode, clientKey: 'ck'});
    expect(result).toMatchObject({ok: false, stage: 'redeem', message: 'Needs 500 points.'});
    expect(applyCode).not.toHaveBeenCalled();
  });
});

describe('orderPointsMessage', () => {
  it('words each status', () => {
    expect(orderPointsMessage({status: 'credited', points: 40})).toBe(
      'You earned 40 points with this order.',
    );
    expect(orderPointsMessage({status: 'pending', points: 40})).toMatch(/^40 points are pending/);
    expect(orderPointsMessage({status: 'processing'})).toMatch(/on their way/);
  });
  it('is an error class', () => {
    expect(new BeamApiError(404, 'x')).toBeInstanceOf(Error);
  });
});

describe('a reward code removed from the checkout', () => {
  it('finds the Beam codes that left the checkout, not the others', () => {
    const before = [{code: 'SUMMER'}, {code: 'BEAM-AAAA-BBBB'}, {code: 'BEAM-CCCC-DDDD'}];
    expect(removedBeamCodes(before, [{code: 'beam-cccc-dddd'}])).toEqual(['BEAM-AAAA-BBBB']);
    expect(removedBeamCodes(before, before)).toEqual([]);
    expect(removedBeamCodes([], [{code: 'BEAM-AAAA-BBBB'}])).toEqual([]);
    expect(removedBeamCodes(undefined, undefined)).toEqual([]);
  });

  it('cancels the code through Beam and reports the points back', async () => {
    const {client, calls} = fakeBackend({
      'POST redemptions/cancel': () =>
        jsonResponse(200, {redemption: {status: 'cancelled', points: 300}, balance: 366}),
    });
    const result = await returnRemovedCode({client, code: 'BEAM-AAAA-BBBB'});
    expect(calls).toHaveLength(1);
    expect(calls[0].body).toEqual({code: 'BEAM-AAAA-BBBB'});
    expect(result).toEqual({
      ok: true,
      code: 'BEAM-AAAA-BBBB',
      balance: 366,
      message: 'Reward removed: your 300 points are back.',
    });
  });

  it('says so when the code was already used', async () => {
    const {client} = fakeBackend({
      'POST redemptions/cancel': () =>
        jsonResponse(409, {error: {code: 'redemption_not_cancellable'}}),
    });
    const result = await returnRemovedCode({client, code: 'BEAM-AAAA-BBBB'});
    expect(result.ok).toBe(false);
    expect(result.message).toBe('This reward code was already used.');
  });
});

describe('redeemButtonLabel', () => {
  it('names the points the button spends', () => {
    expect(redeemButtonLabel({kind: 'fixed_amount', points: 300})).toBe('Redeem for 300 points');
    expect(redeemButtonLabel({kind: 'variable', points: 100, variable_points: 800})).toBe(
      'Redeem for 800 points',
    );
  });
});

describe('tier messages', () => {
  const next = (remaining) => ({name: 'Gold', threshold: 10, remaining});

  it('words what the next tier needs in the metric of the tiers', () => {
    expect(tierNeedMessage({metric: 'points', next: next(300)})).toBe(
      'Earn 300 more points to reach Gold.',
    );
    expect(tierNeedMessage({metric: 'orders', next: next(2)})).toBe('2 more orders to reach Gold.');
    expect(tierNeedMessage({metric: 'orders', next: next(1)})).toBe('1 more order to reach Gold.');
    expect(tierNeedMessage({metric: 'spend', currency: 'EUR', next: next('40.00')})).toBe(
      'Spend 40.00 EUR more to reach Gold.',
    );
  });

  it('names the top tier, and says nothing without tiers', () => {
    expect(tierNeedMessage({metric: 'points', name: 'Gold', next: null})).toBe(
      'You are in our top tier, Gold.',
    );
    expect(tierNeedMessage({metric: 'points', name: null, next: null})).toBe('');
    expect(tierProgressMessage(null)).toBe('');
  });

  it('puts the order first: the tier it reaches, else the need after it', () => {
    const tier = {metric: 'points', reached: null, next: next(5)};
    expect(tierProgressMessage(tier, {afterOrder: true})).toBe(
      'Earn 5 more points after this order to reach Gold.',
    );
    expect(tierProgressMessage({...tier, reached: 'Silver'})).toBe(
      'This order brings you to Silver.',
    );
  });

  it('words a multiplier above one', () => {
    expect(tierMultiplierLabel({multiplier: '1.5'})).toBe('1.5× points on orders');
    expect(tierMultiplierLabel({multiplier: '1'})).toBe('');
    expect(tierMultiplierLabel(null)).toBe('');
  });
});

describe('the birthday', () => {
  it('posts the form as numbers, the year only when given, and reads the reason of a 400', async () => {
    const {client, calls} = fakeBackend({
      'POST customer/birthday': (call) =>
        call.body.day === 30
          ? jsonResponse(400, {error: {code: 'invalid_birthday', message: 'Choose a day of the month.'}})
          : jsonResponse(200, {birthday: call.body, offered: true, gift_on: '2027-07-14', first_gift: true}),
      'GET customer/birthday': () => jsonResponse(200, {birthday: null, offered: true, gift_on: null}),
    });
    expect((await client.birthday()).birthday).toBe(null);
    const saved = await client.setBirthday({month: '7', day: '14', year: ''});
    expect(calls[1].body).toEqual({month: 7, day: 14});
    expect(saved.gift_on).toBe('2027-07-14');
    await expect(client.setBirthday({month: '2', day: '30'})).rejects.toMatchObject({
      status: 400,
      code: 'invalid_birthday',
      message: 'Choose a day of the month.',
    });
  });

  it('keeps a given year', () => {
    expect(birthdayBody({month: 2, day: 29, year: '2000'})).toEqual({month: 2, day: 29, year: 2000});
  });

  it('says when the first or the next gift arrives, and nothing while not offered', () => {
    expect(birthdayGiftMessage({gift_on: '2027-07-14', first_gift: true})).toBe(
      'Your first birthday gift arrives on 2027-07-14.',
    );
    expect(birthdayGiftMessage({gift_on: '2027-07-14', first_gift: false}, () => '14 Jul')).toBe(
      'Your next birthday gift arrives on 14 Jul.',
    );
    expect(birthdayGiftMessage({gift_on: null, offered: false})).toBe('');
  });
});
