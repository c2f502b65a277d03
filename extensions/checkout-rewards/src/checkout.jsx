// Entry of purchase.checkout.reductions.render-after and purchase.checkout.block.render.
import '@shopify/ui-extensions/preact';
import {render} from 'preact';

import {createBeamClient} from './beam-client.js';
import {CheckoutRewards} from './CheckoutRewards.jsx';
import {APP_URL} from './config.js';

export default async () => {
  const client = createBeamClient({baseUrl: APP_URL, getToken: () => shopify.sessionToken.get()});
  render(<CheckoutRewards api={shopify} client={client} />, document.body);
};
