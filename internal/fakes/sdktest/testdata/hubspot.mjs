// Drives the HubSpot fake with @hubspot/api-client the way a user's script
// does. FAKE_URL and TOKEN come from the Go test; any failure throws.
import { Client } from '@hubspot/api-client';
import assert from 'node:assert/strict';

const hubspot = new Client({ accessToken: process.env.TOKEN, basePath: process.env.FAKE_URL, numberOfApiCallRetries: 0 });
const contacts = hubspot.crm.contacts;

const created = await contacts.basicApi.create({ properties: { email: 'zoë@example.com', firstname: 'Zoë', lastname: 'Ångström' }, associations: [] });
assert.ok(created.id, 'create returns an id');
assert.equal(created.properties.firstname, 'Zoë');

const got = await contacts.basicApi.getById(created.id, ['email', 'firstname']);
assert.equal(got.properties.email, 'zoë@example.com');

const byEmail = await contacts.basicApi.getById('zoë@example.com', ['firstname'], undefined, undefined, false, 'email');
assert.equal(byEmail.id, created.id);

const updated = await contacts.basicApi.update(created.id, { properties: { lastname: 'Angstrom', phone: '5550100' } });
assert.equal(updated.properties.lastname, 'Angstrom');
assert.equal(updated.properties.phone, '5550100', 'text stays text');

const batch = await contacts.batchApi.create({ inputs: [1, 2, 3].map((i) => ({ properties: { email: `b${i}@example.com`, firstname: `B${i}` }, associations: [] })) });
assert.equal(batch.results.length, 3);
const read = await contacts.batchApi.read({ inputs: batch.results.map((r) => ({ id: r.id })), properties: ['email'], propertiesWithHistory: [] });
assert.equal(read.results.length, 3);

const found = await contacts.searchApi.doSearch({
  filterGroups: [{ filters: [{ propertyName: 'email', operator: 'EQ', value: 'b2@example.com' }] }],
  properties: ['email'], sorts: [], limit: 10, after: '0',
});
assert.equal(found.total, 1);
assert.equal(found.results[0].properties.email, 'b2@example.com');

const page = await contacts.basicApi.getPage(2, undefined, ['email']);
assert.equal(page.results.length, 2);
assert.ok(page.paging?.next?.after, 'a next page');
const everyone = await contacts.getAll(2, undefined, ['email']);
assert.equal(everyone.length, 4 + Number(process.env.SEEDED));

await contacts.basicApi.archive(created.id);
await contacts.batchApi.archive({ inputs: [{ id: batch.results[0].id }] });
await assert.rejects(contacts.basicApi.getById(created.id), (e) => e.code === 404 && e.body?.category === 'OBJECT_NOT_FOUND');

await assert.rejects(contacts.basicApi.update('999999999', { properties: { lastname: 'x' } }), (e) => e.code === 404);
await assert.rejects(contacts.basicApi.create({ properties: { nosuch: 'x' }, associations: [] }), (e) => e.code === 400 && e.body?.category === 'VALIDATION_ERROR');
console.log('hubspot: ok');
