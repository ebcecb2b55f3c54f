// The runner's outbox: every point not yet acknowledged lives in IndexedDB, so a
// tunnel, a reload or a closed tab loses nothing. The seq counter lives there too,
// so seqs stay unique and increasing across reloads.
//
// One database per browser; each join-link token ("owner") has its own points and
// counter, so two runners sharing a phone in turn never mix their tracks.

const DB_NAME = "pace-runner";
const DB_VERSION = 1;

function promisify(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
  });
}

function open() {
  const request = indexedDB.open(DB_NAME, DB_VERSION);
  request.onupgradeneeded = () => {
    const db = request.result;
    db.createObjectStore("points", { keyPath: ["owner", "seq"] });
    db.createObjectStore("meta", { keyPath: "owner" });
  };
  return promisify(request);
}

export class Outbox {
  static async open(owner) {
    const box = new Outbox(await open(), owner);
    await box.loadMeta();
    return box;
  }

  constructor(db, owner) {
    this.db = db;
    this.owner = owner;
    this.meta = { owner, lastSeq: 0, recording: false };
  }

  range(fromSeq = 0, toSeq = Number.MAX_SAFE_INTEGER) {
    return IDBKeyRange.bound([this.owner, fromSeq], [this.owner, toSeq]);
  }

  async loadMeta() {
    const tx = this.db.transaction("meta", "readonly");
    const stored = await promisify(tx.objectStore("meta").get(this.owner));
    if (stored) this.meta = { ...this.meta, ...stored };
  }

  async saveMeta(changes) {
    this.meta = { ...this.meta, ...changes };
    const tx = this.db.transaction("meta", "readwrite");
    tx.objectStore("meta").put(this.meta);
    await done(tx);
  }

  // Stores a fix under the next seq, in the same transaction as the counter, so a
  // crash between the two can neither reuse a seq nor lose the point.
  async add(fix) {
    const tx = this.db.transaction(["points", "meta"], "readwrite");
    const seq = this.meta.lastSeq + 1;
    const point = { owner: this.owner, seq, ...fix };
    this.meta = { ...this.meta, lastSeq: seq };
    tx.objectStore("meta").put(this.meta);
    tx.objectStore("points").put(point);
    await done(tx);
    return point;
  }

  // The server may hold seqs this device forgot (storage cleared): never reuse them.
  async raiseSeqTo(seq) {
    if (seq > this.meta.lastSeq) await this.saveMeta({ lastSeq: seq });
  }

  async pending(afterSeq = 0) {
    const tx = this.db.transaction("points", "readonly");
    return promisify(tx.objectStore("points").getAll(this.range(afterSeq + 1)));
  }

  async count() {
    const tx = this.db.transaction("points", "readonly");
    return promisify(tx.objectStore("points").count(this.range()));
  }

  // Acknowledged (committed or refused for good): no longer ours to keep.
  async drop(upToSeq) {
    const tx = this.db.transaction("points", "readwrite");
    tx.objectStore("points").delete(this.range(0, upToSeq));
    await done(tx);
  }
}
