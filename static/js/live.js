// A WebSocket that reopens by itself. After a drop it waits 0.5 s, 1 s, 2 s, ... up to 10 s
// (with jitter, so a restarted server is not hit by every page at once) and tries again;
// `query()` is asked for the URL's query string on every attempt (the chat passes after_seq).
// Close codes 4401 (bad token, or the member logged out), 4403 (kicked or banned from a room)
// and 4404 (no such room) are final: `closeCode` keeps the code for the page to explain; after
// 4429 (too many sockets) the next try waits the longest delay.

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 10000;
const FINAL_CODES = new Set([4401, 4403, 4404]);
const TOO_MANY = 4429;

export class LiveSocket {
  constructor(path, { onFrame, onState = () => {}, onOpen = () => {}, query = () => "" }) {
    this.path = path;
    this.onFrame = onFrame;
    this.onState = onState;
    this.onOpen = onOpen;
    this.query = query;
    this.ws = null;
    this.timer = null;
    this.failures = 0;
    this.opened = 0;
    this.state = "connecting";
    this.closeCode = null; // the code of the last close
  }

  start() {
    this.#connect();
    // Back online (laptop lid, train tunnel): no need to wait out the backoff.
    window.addEventListener("online", () => this.#retryNow());
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this.#retryNow();
    });
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  send(frame) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  #setState(state) {
    if (state !== this.state) {
      this.state = state;
      this.onState(state);
    }
  }

  #connect() {
    this.timer = null;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}${this.path}${this.query()}`);
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.failures = 0;
      this.#setState("open");
      this.onOpen(this.opened++ > 0);
    });
    ws.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onFrame(frame);
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.closeCode = event.code;
      if (FINAL_CODES.has(event.code)) {
        this.#setState("closed");
        return;
      }
      if (event.code === TOO_MANY) this.failures = Math.max(this.failures, 5);
      this.#schedule();
    });
  }

  #schedule() {
    const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.failures);
    this.failures += 1;
    this.#setState("reconnecting");
    this.timer = setTimeout(() => this.#connect(), delay * (0.8 + Math.random() * 0.4));
  }

  #retryNow() {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.#connect();
    }
  }
}
