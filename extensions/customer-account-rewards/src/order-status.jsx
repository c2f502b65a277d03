// Entry of customer-account.order-status.block.render: the order's points (every plan).
import '@shopify/ui-extensions/preact';
import {render} from 'preact';

import {createBeamClient} from '../../checkout-rewards/src/beam-client.js';
import {APP_URL} from '../../checkout-rewards/src/config.js';
import {OrderPoints} from '../../checkout-rewards/src/OrderPoints.jsx';

export default async () => {
  const client = createBeamClient({baseUrl: APP_URL, getToken: () => shopify.sessionToken.get()});
  render(<OrderPoints orderId={shopify.order?.value?.id} client={client} />, document.body);
};
