// Drives the Airtable fake with airtable.js (the official client).
import Airtable from 'airtable';
import assert from 'node:assert/strict';

const base = new Airtable({ apiKey: process.env.TOKEN, endpointUrl: process.env.FAKE_URL, noRetryIfRateLimited: true }).base(process.env.BASE);
const contacts = base('Contacts');

const one = await contacts.create({ Name: 'Zoë Ångström', Phone: '5550100', Notes: 'x'.repeat(5000) });
assert.match(one.id, /^rec/);
assert.equal(one.get('Phone'), '5550100', 'text stays text');
const many = await contacts.create([{ fields: { Name: 'Bob', Segment: 'SMB' } }, { fields: { Name: 'Ann', Segment: 'Enterprise' } }]);
assert.equal(many.length, 2);

const found = await contacts.find(one.id);
assert.equal(found.get('Name'), 'Zoë Ångström');
assert.equal(found.get('Notes').length, 5000);

const updated = await contacts.update(one.id, { Segment: 'VIP' });
assert.equal(updated.get('Segment'), 'VIP');
assert.equal(updated.get('Name'), 'Zoë Ångström', 'update keeps the other fields');
const batch = await contacts.update([{ id: many[0].id, fields: { Segment: 'Mid' } }]);
assert.equal(batch[0].get('Segment'), 'Mid');

const sorted = await contacts.select({ sort: [{ field: 'Name', direction: 'desc' }], maxRecords: 2, fields: ['Name'] }).all();
assert.deepEqual(sorted.map((r) => r.get('Name')), ['Zoë Ångström', 'Bob']);
const paged = await contacts.select({ pageSize: 1, sort: [{ field: 'Name' }] }).all();
assert.deepEqual(paged.map((r) => r.get('Name')), ['Ann', 'Bob', 'Zoë Ångström']);
const first = await contacts.select({ filterByFormula: "FIND('nn', {Name})" }).firstPage();
assert.deepEqual(first.map((r) => r.get('Name')), ['Ann']);

const gone = await contacts.destroy(many[1].id);
assert.equal(gone.id, many[1].id);
const goneMany = await contacts.destroy([many[0].id]);
assert.equal(goneMany.length, 1);
await assert.rejects(contacts.find(many[0].id), (e) => e.statusCode === 404 && e.error === 'NOT_FOUND');
await assert.rejects(contacts.create({ Nope: 1 }), (e) => e.statusCode === 422 && e.error === 'UNKNOWN_FIELD_NAME');
console.log('airtable: ok');
