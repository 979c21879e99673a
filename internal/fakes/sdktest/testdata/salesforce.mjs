// Drives the Salesforce fake with jsforce the way a user's script does.
// FAKE_URL, TOKEN and VERSION come from the Go test; any failure throws.
import jsforce from 'jsforce';
import assert from 'node:assert/strict';

const conn = new jsforce.Connection({ instanceUrl: process.env.FAKE_URL, accessToken: process.env.TOKEN, version: process.env.VERSION });
const contacts = conn.sobject('Contact');

const made = await contacts.create({ FirstName: 'Zoë', LastName: 'Ångström', Email: 'zoe@example.com', Phone: '5550100' });
assert.equal(made.success, true);
assert.match(made.id, /^003[0-9A-Za-z]{15}$/);
assert.deepEqual(made.errors, []);

const got = await contacts.retrieve(made.id);
assert.equal(got.Id, made.id);
assert.equal(got.LastName, 'Ångström');
assert.equal(got.Phone, '5550100', 'text stays text');
assert.equal(got.Title, null);
assert.equal(got.attributes.type, 'Contact');

const upd = await contacts.update({ Id: made.id, Title: 'CTO', Phone: null });
assert.equal(upd.success, true);
const after = await contacts.retrieve(made.id);
assert.equal(after.Title, 'CTO');
assert.equal(after.Phone, null);

const batch = await contacts.create([{ LastName: 'B1', Email: 'b1@example.com' }, { LastName: 'B2', Email: 'b2@example.org' }, { FirstName: 'no last name' }]);
assert.deepEqual(batch.map((r) => r.success), [true, true, false]);
assert.equal(batch[2].errors[0].statusCode, 'REQUIRED_FIELD_MISSING');

const or = await conn.query("SELECT Id, Email FROM Contact WHERE Email = 'b1@example.com' OR Email = 'zoe@example.com' ORDER BY Email");
assert.equal(or.totalSize, 2);
assert.deepEqual(or.records.map((r) => r.Email), ['b1@example.com', 'zoe@example.com']);
const found = await contacts.find({ $or: [{ Email: 'b2@example.org' }, { LastName: { $like: 'Å%' } }] }, ['Id', 'LastName']).sort({ LastName: 1 });
assert.deepEqual(found.map((r) => r.LastName), ['B2', 'Ångström']);

assert.equal(await contacts.count({ Email: { $like: '%@example.com' } }), 2 + Number(process.env.SEEDED));
const counted = await conn.query('SELECT COUNT() FROM Contact');
assert.equal(counted.totalSize, 3 + Number(process.env.SEEDED));
assert.deepEqual(counted.records, []);

await assert.rejects(contacts.create({ FirstName: 'x' }), (e) => e.errorCode === 'REQUIRED_FIELD_MISSING' && /LastName/.test(e.message));
await assert.rejects(contacts.create({ LastName: 'x', Shoe: 'y' }), (e) => e.errorCode === 'INVALID_FIELD');
await assert.rejects(conn.query('SELECT Id FROM Contact WHERE Email = \'a\' AND Email = \'b\' OR Email = \'c\''), (e) => e.errorCode === 'MALFORMED_QUERY');

const gone = await contacts.destroy(made.id);
assert.equal(gone.success, true);
await assert.rejects(contacts.retrieve(made.id), (e) => e.errorCode === 'NOT_FOUND');
await assert.rejects(contacts.update({ Id: made.id, Title: 'x' }), (e) => e.errorCode === 'NOT_FOUND');
await assert.rejects(conn.sobject('Widget').create({ Name: 'x' }), (e) => e.errorCode === 'NOT_FOUND');
console.log('salesforce: ok');
