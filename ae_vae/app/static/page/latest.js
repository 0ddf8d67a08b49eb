// "Latest request wins": one task runs at a time, and while it runs a newer request replaces the one waiting, so a
// fast pointer or slider never queues stale work. Every module that answers a stream of requests (the pad's frames,
// the maps under the pointer, the walk, the scrubber) runs it through here.

const warned = new Set();

// Log a problem the page recovers from, once per kind of problem (a blank pad would otherwise say so every frame).
export function warnOnce(what, err) {
  const key = `${what}: ${err && err.message ? err.message : err}`;
  if (warned.has(key)) return;
  warned.add(key);
  console.warn(`ae-vae: ${what}`, err);
}

export function latestWins(task, {name = 'task', dropped = () => {}} = {}) {
  let waiting = null, running = false;
  async function drain() {
    running = true;
    while (waiting) {
      const request = waiting;
      waiting = null;
      try {
        await task(request);
      } catch (err) {
        warnOnce(`${name} failed in the page (the server's answer still comes)`, err);
      }
    }
    running = false;
  }
  return {
    // Ask for `request`: it runs next, replacing (and dropping) any request still waiting.
    request(request) {
      if (waiting) dropped(waiting);
      waiting = request;
      if (!running) drain();
    },
    // Drop the waiting request, if any.
    cancel() {
      if (waiting) dropped(waiting);
      waiting = null;
    },
    idle: () => !running && !waiting,
  };
}
