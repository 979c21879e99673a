// Drives the Mailchimp fake with @mailchimp/mailchimp_marketing the way a
// user's script does. FAKE_URL, API_KEY, SERVER and LIST come from the Go
// test; any failure throws.
import mailchimp from '@mailchimp/mailchimp_marketing';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

mailchimp.setConfig({ apiKey: process.env.API_KEY, server: process.env.SERVER });
mailchimp.basePath = process.env.FAKE_URL + '/3.0'; // the SDK's only seam for another host
const list = process.env.LIST;
const hash = (email) => createHash('md5').update(email.toLowerCase()).digest('hex');

assert.equal((await mailchimp.ping.get()).health_status, "Everything's Chimpy!");

const first = await mailchimp.lists.batchListMembers(list, {
  members: [
    { email_address: 'zoë@example.com', status: 'subscribed', merge_fields: { FNAME: 'Zoë', LNAME: 'Ångström' } },
    { email_address: 'ann@example.org', status: 'subscribed', merge_fields: { FNAME: 'Ann' }, tags: ['vip'] },
    { email_address: 'not-an-address', status: 'subscribed' },
    { email_address: 'bad@example.com', status: 'subscribed', merge_fields: { NOSUCH: 'x' } },
  ],
});
assert.equal(first.total_created, 2);
assert.equal(first.error_count, 2);
assert.deepEqual(first.errors.map((e) => e.error_code), ['ERROR_GENERIC', 'ERROR_GENERIC']);
assert.equal(first.new_members[0].merge_fields.FNAME, 'Zoë');
assert.deepEqual(first.new_members[1].tags.map((t) => t.name), ['vip']);

const again = await mailchimp.lists.batchListMembers(list, { members: [{ email_address: 'ann@example.org', status: 'unsubscribed' }] });
assert.equal(again.error_count, 1);
assert.equal(again.errors[0].error_code, 'ERROR_CONTACT_EXISTS');
const upd = await mailchimp.lists.batchListMembers(list, { members: [{ email_address: 'ann@example.org', status: 'unsubscribed' }], update_existing: true });
assert.equal(upd.total_updated, 1);
assert.equal(upd.updated_members[0].status, 'unsubscribed');

const exact = await mailchimp.searchMembers.search('Zoë@example.com');
assert.equal(exact.exact_matches.total_items, 1);
assert.equal(exact.exact_matches.members[0].id, hash('zoë@example.com'));
const partial = await mailchimp.searchMembers.search('example', { listId: list, fields: ['full_search.members.email_address'] });
assert.deepEqual(Object.keys(partial), ['full_search']);
assert.deepEqual(partial.full_search.members.map((m) => Object.keys(m)), [['email_address'], ['email_address'], ['email_address']]);

const page = await mailchimp.lists.getListMembersInfo(list, { fields: ['members.email_address', 'total_items'], count: 2 });
assert.deepEqual(Object.keys(page).sort(), ['members', 'total_items']);
assert.equal(page.members.length, 2);
assert.equal(page.total_items, 3);
const slim = await mailchimp.lists.getListMember(list, hash('ann@example.org'), { excludeFields: ['merge_fields', 'tags', '_links'] });
assert.equal(slim.merge_fields, undefined);
assert.equal(slim.email_address, 'ann@example.org');

const added = await mailchimp.lists.addListMember(list, { email_address: 'new@example.net', status: 'pending', merge_fields: { LNAME: 'Neu' } });
assert.equal(added.id, hash('new@example.net'));
await assert.rejects(mailchimp.lists.addListMember(list, { email_address: 'new@example.net', status: 'pending' }),
  (e) => e.status === 400 && e.response.body.title === 'Member Exists');
const patched = await mailchimp.lists.updateListMember(list, added.id, { status: 'subscribed' });
assert.equal(patched.status, 'subscribed');
assert.equal(patched.merge_fields.LNAME, 'Neu');
await assert.rejects(mailchimp.lists.getListMember(list, hash('nobody@example.com')),
  (e) => e.status === 404 && e.response.body.title === 'Resource Not Found');
console.log('mailchimp: ok');
