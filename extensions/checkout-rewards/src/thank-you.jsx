// Entry of purchase.thank-you.block.render (every plan).
import '@shopify/ui-extensions/preact';
import {render} from 'preact';

import {createBeamClient} from './beam-client.js';
import {APP_URL} from './config.js';
import {OrderPoints} from './OrderPoints.jsx';

export default async () => {
  const client = createBeamClient({baseUrl: APP_URL, getToken: () => shopify.sessionToken.get()});
  const orderId = shopify.orderConfirmation?.value?.order?.id;
  render(<OrderPoints orderId={orderId} client={client} />, document.body);
};
