// Drawing the room: messages ordered by seq, removals, presence notices. Text goes in through
// textContent only (dom.el), never as HTML.
import { el, safeHttpUrl, timeLabel } from "../dom.js";

const REMOVED_TEXT = "관리자가 삭제한 메시지예요.";

export class MessageList {
  constructor(list, { meId }) {
    this.list = list;
    this.meId = meId;
    this.items = new Map(); // seq -> <li>
    this.maxSeq = 0;
    this.minSeq = Infinity;
  }

  get size() {
    return this.items.size;
  }

  get oldestSeq() {
    return this.items.size ? this.minSeq : null;
  }

  // Put a message where its seq belongs; one that is already there is only updated.
  add(frame) {
    if (this.items.has(frame.seq)) {
      if (frame.removed) this.remove(frame.seq);
      return null;
    }
    const item = this.#item(frame);
    this.items.set(frame.seq, item);
    if (frame.seq > this.maxSeq) {
      this.list.append(item); // the usual case: newest at the bottom, after any notices
    } else {
      const next = [...this.list.children].find((node) => Number(node.dataset.seq) > frame.seq);
      this.list.insertBefore(item, next || null);
    }
    this.maxSeq = Math.max(this.maxSeq, frame.seq);
    this.minSeq = Math.min(this.minSeq, frame.seq);
    return item;
  }

  remove(seq) {
    const item = this.items.get(seq);
    if (!item || item.classList.contains("msg--removed")) return;
    item.classList.add("msg--removed");
    item.querySelector(".msg__bubble").replaceChildren(el("p", "msg__body", REMOVED_TEXT));
  }

  notice(text) {
    this.list.append(el("li", "notice", text));
  }

  // A marker where messages after `afterSeq` were not replayed (they are filled in before it
  // by add(), which places each message by its seq).
  gap(afterSeq) {
    const item = el("li", "gap");
    item.dataset.seq = String(afterSeq + 0.5);
    const next = [...this.list.children].find((node) => Number(node.dataset.seq) > afterSeq);
    this.list.insertBefore(item, next || null);
    return item;
  }

  #item(frame) {
    const sender = frame.sender || {};
    const mine = this.meId !== null && sender.id === this.meId;
    const item = el("li", mine ? "msg msg--mine" : "msg");
    item.dataset.seq = String(frame.seq);
    item.dataset.senderId = String(sender.id ?? "");

    const meta = el("p", "msg__meta");
    meta.append(el("span", "msg__author", sender.nickname || sender.username || "알 수 없음"));
    if (mine) meta.append(el("span", "msg__you", "나"));
    const time = el("time", "msg__time", timeLabel(frame.sent_at));
    time.dateTime = frame.sent_at;
    meta.append(time);

    const bubble = el("div", "msg__bubble");
    if (frame.removed) {
      item.classList.add("msg--removed");
      bubble.append(el("p", "msg__body", REMOVED_TEXT));
    } else {
      if (frame.body) bubble.append(el("p", "msg__body", frame.body));
      const gif = safeHttpUrl(frame.gif_url);
      if (gif) {
        const img = el("img", "msg__gif");
        img.src = gif;
        img.alt = "GIF";
        img.loading = "lazy";
        img.referrerPolicy = "no-referrer";
        bubble.append(img);
      }
    }
    item.append(meta, bubble);
    return item;
  }
}
