// The chat room's socket client (docs/protocol.md, "Chat room socket").
//
// - Reconnects by itself (LiveSocket) with ?after_seq=<the highest seq it has seen>, so the
//   server first replays exactly what was missed (at most CHAT_CATCH_UP_LIMIT frames: beyond
//   that a `chat.gap` frame comes first, and the page offers the rest from the history API).
// - Messages, changes to them (edited, deleted, reaction) and moderation actions (room.member_*,
//   room.slow_mode) share one seq per room. Every numbered frame goes through one gate that
//   drops a seq it already has and advances lastSeq: a replay, a history page and the live
//   stream may overlap without anything applied twice, and a reconnect asks for exactly what
//   comes after the last frame of any kind.
// - One send at a time (text, a GIF's address or an uploaded GIF's id). Its client_msg_id is
//   kept until the server acknowledges it: a send cut off by a drop is sent again on reconnect
//   (the server stores a repeated id once), and a retry after an error reuses the id when what
//   is sent is unchanged.
// - Changes (edit, delete, react, unreact) do not wait for the send or for each other: each is
//   kept by its client_msg_id until acknowledged, and re-sent with the same id on reconnect.
// - Requests (`room.moderate`, `chat.report`) are kept by client_msg_id like changes, re-sent
//   with the same id on reconnect, and answer a promise: {ok: true} or {ok: false, code, ...}.
// - A `closing` frame is the server's reason for the close that follows (4403: "kicked",
//   "banned: <reason>"); the view gets it with the "closed" state.
// - `room.likes` (the room's like count) comes through the channel layer only and is never
//   replayed: after a reconnect the view is told (`reopened`) so it can read the room again.
// - A send waiting when the socket closes for good (4401, 4403, 4404) fails with "closed".
// - `chat.read` (how far the member has read) and `typing` carry no id and get no answer. The
//   highest seq marked read is sent again on reconnect if the last socket never took it; a
//   typing signal while the socket is down is simply dropped.
import { LiveSocket } from "../live.js";

const ACK_TIMEOUT_MS = 10000;
// Recent change frames, kept so a history page read while they arrived can be brought up to
// date (every change carries absolute state, so applying one again is harmless).
const CHANGE_LOG_SIZE = 1000;
const ACTIONS = new Set([
  "room.member_muted",
  "room.member_kicked",
  "room.member_banned",
  "room.slow_mode",
  "room.member_role",
]);

function newClientMsgId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return "w" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class ChatClient {
  // view: {message(frame), refresh(frame), change(frame), action(frame), presence(frame),
  //        typing(frame), gap(frame), state(name, closing|null), waiting(send), sent(send),
  //        failed(send|null, code, detail, error), changeAcked(change),
  //        changeFailed(change, code, detail), likes(frame), reopened()}
  constructor({ wsPath, view }) {
    this.view = view;
    this.lastSeq = 0;
    this.seen = new Set();
    this.outgoing = null; // {clientMsgId, body, gifUrl, gifId, replyTo, timer}
    this.lastFailed = null;
    this.changes = new Map(); // client_msg_id -> {frame, timer}
    this.changeLog = []; // change frames, in seq order
    this.requests = new Map(); // client_msg_id -> {frame, resolve, timer}
    this.closing = null; // the last `closing` frame
    this.readSeq = 0; // the highest seq marked read
    this.readSent = 0; // ... and the highest a socket took
    this.socket = new LiveSocket(wsPath, {
      query: () => `?after_seq=${this.lastSeq}`,
      onFrame: (frame) => this.#receive(frame),
      onState: (state) => this.#state(state),
      onOpen: (again) => {
        this.#flush();
        if (again) this.view.reopened?.();
      },
    });
  }

  start(history) {
    this.add(history);
    this.socket.start();
  }

  // Stored messages in their current state from any source (the page's own history, history
  // pages), oldest first. A message already shown is brought to the page's state; changes that
  // arrived after the page was read (seq > pageSeq, the room's last seq when it was read) are
  // applied again on top.
  add(frames, { pageSeq = null } = {}) {
    const ids = new Set();
    for (const frame of frames) {
      if (typeof frame.seq !== "number") continue;
      ids.add(frame.event_id);
      if (this.#fresh(frame)) this.view.message(frame);
      else this.view.refresh(frame);
    }
    if (pageSeq === null) return;
    for (const change of this.changeLog) {
      if (change.seq > pageSeq && ids.has(change.event_id)) this.view.change(change);
    }
  }

  get busy() {
    return this.outgoing !== null;
  }

  // A message: text, and a GIF by address (gifUrl) or by upload id (gifId), not both.
  send({ body = "", gifUrl = "", gifId = null, replyTo = null }) {
    if (this.outgoing) return false;
    const retry = this.lastFailed;
    const same =
      retry &&
      retry.body === body &&
      retry.gifUrl === gifUrl &&
      retry.gifId === gifId &&
      retry.replyTo === replyTo;
    this.outgoing = {
      clientMsgId: same ? retry.clientMsgId : newClientMsgId(),
      body,
      gifUrl,
      gifId,
      replyTo,
    };
    this.lastFailed = null;
    this.#flush();
    return true;
  }

  // A change to a stored message: {type: "chat.edit"|"chat.delete"|"chat.react"|"chat.unreact",
  // event_id, body?, emoji?}. Returns the frame as sent (with its client_msg_id).
  change(fields) {
    const frame = { ...fields, client_msg_id: newClientMsgId() };
    const change = { frame, timer: null };
    this.changes.set(frame.client_msg_id, change);
    this.#sendChange(change);
    return frame;
  }

  // A request answered by chat.ack or error: {type: "room.moderate", action, user_id?, ...} or
  // {type: "chat.report", event_id, reason}. Resolves to {ok: true} or {ok: false, code,
  // detail, ...the error frame's other fields}.
  request(fields) {
    const frame = { ...fields, client_msg_id: newClientMsgId() };
    return new Promise((resolve) => {
      const request = { frame, resolve, timer: null };
      this.requests.set(frame.client_msg_id, request);
      this.#sendRequest(request);
    });
  }

  // The member has read up to `seq` (the server keeps the highest, written every 2 s at most).
  read(seq) {
    if (seq <= this.readSeq) return;
    this.readSeq = seq;
    this.#sendRead();
  }

  // The member is typing: true when the frame went out.
  typing() {
    return this.socket.send({ type: "typing" });
  }

  #sendRead() {
    if (this.readSeq <= this.readSent) return;
    if (this.socket.send({ type: "chat.read", seq: this.readSeq })) this.readSent = this.readSeq;
  }

  #flush() {
    this.#sendRead();
    const out = this.outgoing;
    if (out) {
      const frame = { type: "chat.send", client_msg_id: out.clientMsgId, body: out.body };
      if (out.gifUrl) frame.gif_url = out.gifUrl;
      else if (out.gifId) frame.gif_id = out.gifId;
      if (out.replyTo) frame.reply_to = out.replyTo;
      clearTimeout(out.timer);
      if (this.socket.send(frame)) {
        out.timer = setTimeout(() => this.#fail(out.clientMsgId, "timeout", ""), ACK_TIMEOUT_MS);
      } else {
        this.view.waiting(out); // goes out when the socket reopens
      }
    }
    for (const change of this.changes.values()) this.#sendChange(change);
    for (const request of this.requests.values()) this.#sendRequest(request);
  }

  #sendRequest(request) {
    clearTimeout(request.timer);
    if (!this.socket.send(request.frame)) return; // goes out, same id, when the socket reopens
    const id = request.frame.client_msg_id;
    request.timer = setTimeout(() => this.#fail(id, "timeout", ""), ACK_TIMEOUT_MS);
  }

  #sendChange(change) {
    clearTimeout(change.timer);
    if (!this.socket.send(change.frame)) return; // goes out, same id, when the socket reopens
    const id = change.frame.client_msg_id;
    change.timer = setTimeout(() => this.#fail(id, "timeout", ""), ACK_TIMEOUT_MS);
  }

  #state(state) {
    if (state !== "open") {
      if (this.outgoing) {
        clearTimeout(this.outgoing.timer);
        this.view.waiting(this.outgoing);
      }
      for (const change of this.changes.values()) clearTimeout(change.timer);
      for (const request of this.requests.values()) clearTimeout(request.timer);
    }
    if (state === "closed") {
      // For good: nothing waiting will be answered.
      for (const id of [...this.requests.keys()]) this.#fail(id, "closed", "");
      if (this.outgoing) this.#fail(this.outgoing.clientMsgId, "closed", "");
    }
    this.view.state(state, state === "closed" ? this.closing : null);
  }

  #receive(frame) {
    switch (frame.type) {
      case "chat.message":
        if (this.#fresh(frame)) this.view.message(frame);
        break;
      case "chat.edited":
      case "chat.deleted":
      case "chat.reaction":
        if (this.#fresh(frame)) {
          this.changeLog.push(frame);
          if (this.changeLog.length > CHANGE_LOG_SIZE) this.changeLog.shift();
          this.view.change(frame);
        }
        break;
      case "chat.ack":
        this.#acked(frame.client_msg_id);
        break;
      case "room.presence":
        this.view.presence(frame);
        break;
      case "closing":
        this.closing = frame;
        break;
      case "room.typing":
        this.view.typing(frame);
        break;
      case "room.likes":
        this.view.likes?.(frame);
        break;
      case "chat.gap":
        this.view.gap(frame);
        break;
      case "error":
        this.#fail(frame.client_msg_id, frame.code, frame.detail, frame);
        break;
      default:
        if (ACTIONS.has(frame.type)) {
          if (this.#fresh(frame)) this.view.action(frame);
        } else if (typeof frame.seq === "number") {
          this.#fresh(frame); // a numbered kind this page does not know: count it, show nothing
        }
        break; // newer server, older page: ignore what we do not know
    }
  }

  // The seen-gate: true the first time a seq comes by, from whatever source.
  #fresh(frame) {
    if (typeof frame.seq !== "number" || this.seen.has(frame.seq)) return false;
    this.seen.add(frame.seq);
    this.lastSeq = Math.max(this.lastSeq, frame.seq);
    return true;
  }

  #acked(clientMsgId) {
    const out = this.outgoing;
    if (out && out.clientMsgId === clientMsgId) {
      clearTimeout(out.timer);
      this.outgoing = null;
      this.view.sent(out);
      return;
    }
    const change = this.changes.get(clientMsgId);
    if (change) {
      clearTimeout(change.timer);
      this.changes.delete(clientMsgId);
      this.view.changeAcked(change.frame);
    }
    const request = this.requests.get(clientMsgId);
    if (request) {
      clearTimeout(request.timer);
      this.requests.delete(clientMsgId);
      request.resolve({ ok: true });
    }
  }

  #fail(clientMsgId, code, detail, error = {}) {
    const out = this.outgoing;
    const change = clientMsgId == null ? null : this.changes.get(clientMsgId);
    const request = clientMsgId == null ? null : this.requests.get(clientMsgId);
    if (request) {
      clearTimeout(request.timer);
      this.requests.delete(clientMsgId);
      request.resolve({ ...error, ok: false, code, detail });
    } else if (change) {
      clearTimeout(change.timer);
      this.changes.delete(clientMsgId);
      this.view.changeFailed(change.frame, code, detail);
    } else if (out && (clientMsgId == null || clientMsgId === out.clientMsgId)) {
      clearTimeout(out.timer);
      this.outgoing = null;
      this.lastFailed = out;
      this.view.failed(out, code, detail, error);
    } else if (clientMsgId == null) {
      this.view.failed(null, code, detail, error);
    }
  }
}
