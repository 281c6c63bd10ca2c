// "…님이 입력 중…": who else is typing in the room (room.typing frames, at most one per 2 s per
// socket), shown for 5 s after each one, and the send box's side of it: while the member types,
// a `typing` frame at most every 2 s. A member's own frames (any of their tabs) are left out.

const SHOW_MS = 5000;
const SEND_EVERY_MS = 2000;
const NAMED = 3; // more typists than this: the first two by name, then "외 N명"

export class TypingLine {
  // node: the line under the log; meId: the member reading (null for a guest).
  constructor(node, { meId }) {
    this.node = node;
    this.meId = meId;
    this.typists = new Map(); // user id -> {nickname, timer}
  }

  seen(user) {
    if (!user || typeof user.id !== "number" || user.id === this.meId) return;
    clearTimeout(this.typists.get(user.id)?.timer);
    const timer = setTimeout(() => this.stopped(user.id), SHOW_MS);
    this.typists.set(user.id, { nickname: String(user.nickname || "누군가"), timer });
    this.#paint();
  }

  // Their message arrived: they are done typing it.
  stopped(userId) {
    const typist = this.typists.get(userId);
    if (!typist) return;
    clearTimeout(typist.timer);
    this.typists.delete(userId);
    this.#paint();
  }

  #paint() {
    const names = [...this.typists.values()].map((typist) => typist.nickname);
    let text = "";
    if (names.length > NAMED) {
      text = `${names.slice(0, 2).join(", ")} 님 외 ${names.length - 2}명이 입력 중…`;
    } else if (names.length) {
      text = `${names.join(", ")} 님이 입력 중…`;
    }
    // Only a change of who is typing is news (the line is a polite live region).
    if (this.node.textContent !== text) this.node.textContent = text;
    this.node.classList.toggle("typing--on", Boolean(text));
  }
}

export class TypingSignal {
  // send(): hands one `typing` frame to the socket; false when it is not open.
  constructor(send) {
    this.send = send;
    this.last = -Infinity;
  }

  typed() {
    const now = Date.now();
    if (now - this.last >= SEND_EVERY_MS && this.send()) this.last = now;
  }
}
