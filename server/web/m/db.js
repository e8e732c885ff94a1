// The phone's own storage (IndexedDB "fieldstar"): the session's refresh token, inspections
// (drafts and the outbox) and their photos' bytes, so that nothing is lost when the app closes.

const NAME = 'fieldstar';
const VERSION = 1;
export const META = 'meta';
export const INSPECTIONS = 'inspections';
export const PHOTOS = 'photos';

let opened = null;

function promised(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

export function open() {
  if (!opened) {
    const request = indexedDB.open(NAME, VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains(META)) db.createObjectStore(META);
      if (!db.objectStoreNames.contains(INSPECTIONS)) db.createObjectStore(INSPECTIONS, { keyPath: 'id' });
      if (!db.objectStoreNames.contains(PHOTOS)) db.createObjectStore(PHOTOS, { keyPath: 'id' });
    };
    opened = promised(request);
  }
  return opened;
}

async function run(store, mode, fn) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(store, mode);
    let result;
    Promise.resolve(fn(tx.objectStore(store))).then((r) => {
      result = r;
    }, reject);
    tx.oncomplete = () => resolve(result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

export const get = (store, key) => run(store, 'readonly', (s) => promised(s.get(key)));
export const all = (store) => run(store, 'readonly', (s) => promised(s.getAll()));
export const put = (store, value, key) =>
  run(store, 'readwrite', (s) => {
    s.put(value, key);
  });
export const del = (store, key) =>
  run(store, 'readwrite', (s) => {
    s.delete(key);
  });
