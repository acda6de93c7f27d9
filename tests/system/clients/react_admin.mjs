// Drives react-admin's ra-data-json-server against a hipflask gateway and prints what it got as JSON.
// Usage: node react_admin.mjs <gateway url> <namespace> <store>
import jsonServerProvider from 'ra-data-json-server';
import { fetchUtils } from 'ra-core';

const [gateway, namespace, resource] = process.argv.slice(2);
const httpClient = (url, options = {}) => {
    const headers = new Headers(options.headers || { Accept: 'application/json' });
    headers.set('Uid', namespace);
    return fetchUtils.fetchJson(url, { ...options, headers });
};
const provider = jsonServerProvider(`${gateway}/store`, httpClient);
const list = (params) => provider.getList(resource, { pagination: { page: 1, perPage: 10 },
    sort: { field: 'id', order: 'ASC' }, filter: {}, ...params });

const created = [];
for (const [title, views] of [['first post', 10], ['Second post', 30], ['third', 50], ['fourth', 70]]) {
    created.push((await provider.create(resource, { data: { title, views } })).data);
}
const results = {
    created: created.map((record) => record.id),
    gte: await list({ filter: { views_gte: 30 } }),
    q: await list({ filter: { q: 'SECOND' } }),
    sorted: await list({ sort: { field: 'views', order: 'DESC' } }),
    page2: await list({ pagination: { page: 2, perPage: 3 } }),
    combined: await list({ filter: { views_gte: 20, views_lte: 60 }, sort: { field: 'title', order: 'ASC' },
        pagination: { page: 1, perPage: 1 } }),
    one: (await provider.getOne(resource, { id: created[0].id })).data,
    many: (await provider.getMany(resource, { ids: [created[0].id, created[2].id] })).data,
    updated: (await provider.update(resource, { id: created[1].id, data: { ...created[1], views: 31 },
        previousData: created[1] })).data,
};
await provider.delete(resource, { id: created[3].id, previousData: created[3] });
results.afterDelete = await list({});
console.log(JSON.stringify(results));
