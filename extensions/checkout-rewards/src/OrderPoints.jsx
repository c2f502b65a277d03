// Thank-you (and, from the customer-account extension, order-status) block: the points
// this order earned — pending or credited —, where it leaves the VIP tier and the new balance.
import {useEffect, useState} from 'preact/hooks';

import {orderPointsMessage, tierProgressMessage} from './beam-client.js';

export function OrderPointsView({state}) {
  if (state.loading) return <s-spinner accessibilityLabel="Loading your points" />;
  if (state.guest) return <s-text>Create an account to earn points on your next order.</s-text>;
  if (!state.result) {
    return state.failed ? <s-text color="subdued">Your points will appear shortly.</s-text> : null;
  }
  const {order, customer} = state.result;
  const tier = tierProgressMessage(state.result.tier);
  return (
    <s-stack gap="small-200">
      <s-heading>Rewards</s-heading>
      <s-text>{orderPointsMessage(order)}</s-text>
      {tier ? <s-text>{tier}</s-text> : null}
      <s-text>
        Your balance: <s-text type="strong">{customer.balance} points</s-text>
        {customer.pending ? ` (+${customer.pending} pending)` : ''}
      </s-text>
    </s-stack>
  );
}

export function OrderPoints({orderId, client}) {
  const [state, setState] = useState({loading: true});
  useEffect(() => {
    if (!orderId) {
      setState({loading: false, failed: true});
      return undefined;
    }
    let live = true;
    client
      .orderPointsEventually(orderId)
      .then((result) => live && setState({loading: false, result}))
      .catch((error) =>
        live &&
        setState({loading: false, guest: error.code === 'customer_login_required', failed: true}),
      );
    return () => {
      live = false;
    };
  }, [orderId, client]);
  return <OrderPointsView state={state} />;
}
