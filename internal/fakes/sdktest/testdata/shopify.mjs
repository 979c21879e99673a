// Drives the Shopify fake with @shopify/admin-api-client. The client always
// calls https://{store}/admin/api/{version}/graphql.json; customFetchApi
// sends that to the fake instead, the one thing a real script would not do.
import { createAdminApiClient } from '@shopify/admin-api-client';
import assert from 'node:assert/strict';

const base = process.env.FAKE_URL;
let lastHeaders;
const customFetchApi = async (url, init) => {
  const res = await fetch(base + new URL(url).pathname, init);
  lastHeaders = res.headers;
  return res;
};
const client = createAdminApiClient({ storeDomain: process.env.SHOP, apiVersion: process.env.API_VERSION, accessToken: process.env.TOKEN, customFetchApi });

const shop = await client.request('query { shop { name myshopifyDomain } }');
assert.equal(shop.errors, undefined, JSON.stringify(shop.errors));
assert.equal(shop.data.shop.myshopifyDomain, process.env.SHOP);
assert.equal(lastHeaders.get('x-shopify-api-version'), process.env.API_VERSION);

const search = `query($q: String!) { customers(first: 10, query: $q) { nodes { id firstName defaultEmailAddress { emailAddress } defaultPhoneNumber { phoneNumber } } pageInfo { hasNextPage endCursor } } }`;
const hits = await client.request(search, { variables: { q: 'email:"bob@example.com"' } });
assert.equal(hits.errors, undefined, JSON.stringify(hits.errors));
// Shopify's search is tokenised: the quoted address also finds the longer one.
assert.deepEqual(hits.data.customers.nodes.map((n) => n.defaultEmailAddress.emailAddress).sort(), ['bob@example.com', 'bob@example.com.au']);
assert.equal(hits.extensions.cost.throttleStatus.maximumAvailable, 1000);
assert.equal(lastHeaders.get('x-shopify-api-deprecated-reason'), null, 'no deprecated field asked for');

const phone = await client.request(search, { variables: { q: 'phone:"+16135550100"' } });
assert.equal(phone.data.customers.nodes.length, 1);
assert.equal(phone.data.customers.nodes[0].defaultPhoneNumber.phoneNumber, '+16135550100');

const created = await client.request(`mutation($input: CustomerInput!) { customerCreate(input: $input) { customer { id defaultEmailAddress { emailAddress } } userErrors { field message } } }`,
  { variables: { input: { email: 'zoë@example.com', firstName: 'Zoë', tags: ['sdk'] } } });
assert.deepEqual(created.data.customerCreate.userErrors, []);
const id = created.data.customerCreate.customer.id;
const updated = await client.request(`mutation($input: CustomerInput!) { customerUpdate(input: $input) { customer { id firstName } userErrors { field message } } }`,
  { variables: { input: { id, firstName: 'Zoe' } } });
assert.equal(updated.data.customerUpdate.customer.firstName, 'Zoe');

// The deprecated Customer.email is still served, and named in the header.
await client.request('query { customers(first: 1) { nodes { email } } }');
assert.equal(lastHeaders.get('x-shopify-api-deprecated-reason'), 'Customer.email');

// A retired version falls forward to the oldest supported one.
const old = await client.request('query { shop { name } }', { apiVersion: '2025-01' });
assert.equal(old.data.shop.name, process.env.SHOP.split('.')[0]);
assert.equal(lastHeaders.get('x-shopify-api-version'), process.env.OLDEST);

// Throttled: HTTP 200 with a THROTTLED error and the cost in extensions.
// The fake's control surface shrinks the bucket to 50 points.
await fetch(base + '/_control/cost', { method: 'POST', body: JSON.stringify({ bucket: 50, restore_per_second: 1 }) });
const throttled = await client.request('query { customers(first: 100) { nodes { id } } }');
const e = throttled.errors?.graphQLErrors?.[0];
assert.equal(e?.extensions?.code, 'THROTTLED', JSON.stringify(throttled.errors));
assert.equal(throttled.extensions.cost.requestedQueryCost, 102);
assert.equal(throttled.extensions.cost.throttleStatus.maximumAvailable, 50);
console.log('shopify: ok');
