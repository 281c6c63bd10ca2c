// The chat room's socket client (docs/protocol.md, "Chat room socket").
//
// - Reconnects by itself (LiveSocket) with ?after_seq=<the highest seq it has shown>, so the
//   server first replays exactly what was missed (at most CHAT_CATCH_UP_LIMIT messages: beyond
//   that a `chat.gap` frame comes first, and the page offers the rest from the history API).
// - Every message goes through one gate that drops a seq it already has: a replay, a history
//   page and the live stream may overlap without anything being shown twice.
// - One send at a time. Its client_msg_id is kept until the server acknowledges it: a send cut
//   off by a drop is sent again on reconnect (the server stores a repeated id once), and a
//   retry after an error reuses the id when the text is unchanged.
import { LiveSocket } from "../live.js";

const ACK_TIMEOUT_MS = 10000;

function newClientMsgId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return "w" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class ChatClient {
  // view: {message(frame), removed(seq), presence(frame), gap(frame), state(name),
  //        waiting(send), sent(send), failed(send|null, code, detail)}
  constructor({ wsPath, view }) {
    this.view = view;
    this.lastSeq = 0;
    this.seen = new Set();
    this.outgoing = null; // {clientMsgId, body, gifUrl, timer}
    this.lastFailed = null;
    this.socket = new LiveSocket(wsPath, {
      query: () => `?after_seq=${this.lastSeq}`,
      onFrame: (frame) => this.#receive(frame),
      onState: (state) => this.#state(state),
      onOpen: () => this.#flush(),
    });
  }

  start(history) {
    this.add(history);
    this.socket.start();
  }

  // Stored messages from any source (history pages, the socket), oldest first.
  add(frames) {
    for (const frame of frames) this.#message(frame);
  }

  get busy() {
    return this.outgoing !== null;
  }

  send({ body, gifUrl }) {
    if (this.outgoing) return false;
    const retry = this.lastFailed;
    const same = retry && retry.body === body && retry.gifUrl === gifUrl;
    this.outgoing = { clientMsgId: same ? retry.clientMsgId : newClientMsgId(), body, gifUrl };
    this.lastFailed = null;
    this.#flush();
    return true;
  }

  #flush() {
    const out = this.outgoing;
    if (!out) return;
    const frame = { type: "chat.send", client_msg_id: out.clientMsgId, body: out.body };
    if (out.gifUrl) frame.gif_url = out.gifUrl;
    clearTimeout(out.timer);
    if (!this.socket.send(frame)) {
      this.view.waiting(out); // goes out when the socket reopens
      return;
    }
    out.timer = setTimeout(() => this.#fail(out.clientMsgId, "timeout", ""), ACK_TIMEOUT_MS);
  }

  #state(state) {
    if (state !== "open" && this.outgoing) {
      clearTimeout(this.outgoing.timer);
      this.view.waiting(this.outgoing);
    }
    this.view.state(state);
  }

  #receive(frame) {
    switch (frame.type) {
      case "chat.message":
        this.#message(frame);
        break;
      case "chat.ack":
        this.#acked(frame.client_msg_id);
        break;
      case "chat.removed":
        this.view.removed(frame.seq);
        break;
      case "room.presence":
        this.view.presence(frame);
        break;
      case "chat.gap":
        this.view.gap(frame);
        break;
      case "error":
        this.#fail(frame.client_msg_id, frame.code, frame.detail);
        break;
      default:
        break; // newer server, older page: ignore what we do not know
    }
  }

  #message(frame) {
    if (typeof frame.seq !== "number" || this.seen.has(frame.seq)) return;
    this.seen.add(frame.seq);
    this.lastSeq = Math.max(this.lastSeq, frame.seq);
    this.view.message(frame);
  }

  #acked(clientMsgId) {
    const out = this.outgoing;
    if (!out || out.clientMsgId !== clientMsgId) return;
    clearTimeout(out.timer);
    this.outgoing = null;
    this.view.sent(out);
  }

  #fail(clientMsgId, code, detail) {
    const out = this.outgoing;
    if (out && (clientMsgId == null || clientMsgId === out.clientMsgId)) {
      clearTimeout(out.timer);
      this.outgoing = null;
      this.lastFailed = out;
      this.view.failed(out, code, detail);
    } else if (clientMsgId == null) {
      this.view.failed(null, code, detail);
    }
  }
}
