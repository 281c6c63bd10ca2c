// Read state on the room page. It opens at a "새 메시지" divider after the last message the
// member had read (their read marker, when others wrote since), and tells the server how far
// the member has read with `chat.read`: the highest seq the page holds, once the member can see
// it (the tab is visible and the newest message is on screen), at most once every 2 s.

const READ_EVERY_MS = 2000;

// The divider after `lastReadSeq` when the page holds newer messages from others; null if not.
export function placeDivider(list, frames, { lastReadSeq, meId }) {
  if (lastReadSeq === null) return null;
  const unread = frames.some(
    (frame) => frame.seq > lastReadSeq && frame.sender?.id !== meId && !frame.deleted,
  );
  return unread ? list.divider(lastReadSeq) : null;
}

export class ReadTracker {
  // client: ChatClient (lastSeq, read(seq)); log: the scrolling log; newest(): the newest
  // message's element; atBottom(): whether the log is scrolled to its end.
  constructor({ client, log, newest, atBottom, lastReadSeq }) {
    this.client = client;
    this.log = log;
    this.newest = newest;
    this.atBottom = atBottom;
    this.sent = lastReadSeq ?? 0;
    this.last = -Infinity;
    this.timer = null;
    this.started = false;
  }

  // From now on (the page has its first scroll position), follow what the member sees.
  start() {
    this.started = true;
    this.log.addEventListener("scroll", () => this.check(), { passive: true });
    document.addEventListener("visibilitychange", () => this.check());
    this.check();
  }

  // Something changed (a frame arrived, the member scrolled, the tab came back): mark read now
  // if allowed, else once the 2 s are up.
  check() {
    if (!this.started || this.timer !== null) return;
    const wait = this.last + READ_EVERY_MS - Date.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.check();
      }, wait);
      return;
    }
    const seq = this.client.lastSeq;
    if (seq <= this.sent || !this.#seeing()) return;
    this.client.read(seq);
    this.sent = seq;
    this.last = Date.now();
  }

  #seeing() {
    if (document.visibilityState !== "visible") return false;
    if (this.atBottom()) return true;
    const newest = this.newest();
    if (!newest) return true;
    const shown = this.log.getBoundingClientRect();
    const item = newest.getBoundingClientRect();
    return item.top < shown.bottom && item.bottom > shown.top;
  }
}
