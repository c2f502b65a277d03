// What the devstore's extension stand-ins share: a DOM builder, and Beam's own extension client
// (extensions/checkout-rewards/src/beam-client.js) with the platform's part played by the
// devstore — the session token minted like the platform's for the logged-in customer.

export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

/** The client module and a client for the stand-in `root` (its data-* attributes). */
export async function standInClient(root) {
  const beam = await import(root.dataset.moduleUrl);
  const client = beam.createBeamClient({
    baseUrl: root.dataset.appUrl,
    getToken: async () => {
      const response = await fetch(root.dataset.tokenUrl, {credentials: 'same-origin'});
      return (await response.json()).token;
    },
  });
  return {beam, client};
}
