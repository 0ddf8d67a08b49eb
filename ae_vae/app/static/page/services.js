// What the page's parts share, once per page (ES modules are loaded once, so every importer gets these same ones):
// the data set and fill switch as the page knows them, and what one part offers the others (the pad starts the
// models and the map data; the live maps, mounted when their tab opens, use them).

let state = null;
const offered = new Map();  // name -> {promise, resolve}

// The data set and the fill switch: their starting values from the config, then each change as a value, dispatched
// by the app's page-only event listeners (app.py, `page_event_js`).
export function pageState(config) {
  if (!state) {
    const now = {dataset: config.dataset, fill: false};
    document.addEventListener(config.events.dataset, (e) => { now.dataset = e.detail; });
    document.addEventListener(config.events.fill, (e) => { now.fill = Boolean(e.detail); });
    state = {dataset: () => now.dataset, fill: () => now.fill};
  }
  return state;
}

function entry(name) {
  if (!offered.has(name)) {
    let resolve = null;
    const promise = new Promise((r) => { resolve = r; });
    offered.set(name, {promise, resolve});
  }
  return offered.get(name);
}

// Offer `value` under `name` to every part that waits for it (`when`).
export function offer(name, value) { entry(name).resolve(value); }

// The value offered under `name`, once it is.
export function when(name) { return entry(name).promise; }

// A failure that trying again cannot mend: the server has no such file, or gave up writing it.
export class NeverComing extends Error {}

// The page's data files (each data set's map data, the β tab's data) are written by the server as it starts
// (ae_vae.app.page.PageData): before fetching one, a part asks the server (`ask`: a component's `data_ready` server
// function), which answers 'ready' once the file is there, 'pending' after waiting a while (asked again) or
// 'missing'. So the page never requests a file that is not there yet. `asks`: how many times (the config's).
async function whenWritten(ask, what, asks) {
  for (let i = 0; i < asks; i++) {
    const answer = await ask();
    if (answer === 'ready') return;
    if (answer !== 'pending') throw new NeverComing(`${what}: the server has none (${answer})`);
  }
  throw new NeverComing(`${what}: the server was still writing it`);
}

// The JSON of the data file at `url` that `request` ({data, dataset}) names to `ask`, once it is written
// (`whenWritten`); a passing failure is tried again (`retried`). `what`: the file, in words, for the messages.
export function writtenData(ask, asks, request, url, what) {
  return retried(() => whenWritten(() => ask(request), what, asks).then(() => fetch(url)).then((r) => {
    if (!r.ok) throw new Error(`${what}: HTTP ${r.status}`);
    return r.json();
  }));
}

const LOAD_TRIES = 15;
const LOAD_PAUSE_MS = 2000;

// `load()` (a function returning a promise), tried again a few times a moment apart where it fails for a passing
// reason (the network, a server restarting) — the one retry of the page's data files; a `NeverComing` ends it.
export async function retried(load) {
  for (let tries = 1; ; tries++) {
    try {
      return await load();
    } catch (err) {
      if (err instanceof NeverComing || tries >= LOAD_TRIES) throw err;
    }
    await new Promise((resolve) => { setTimeout(resolve, LOAD_PAUSE_MS); });
  }
}
